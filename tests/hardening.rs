//! Regression tests for the hardened-setup CVE classes that tests/security.rs
//! does not cover: masked paths that are symlinks, a hostile /dev/console,
//! procfs writes redirected by a planted /proc, and the session keyring.
//! Each is written as the attack, against decoy files the test made, and
//! checks that the decoy (standing in for a host file) is untouched.

mod common;

use common::tty::create_with_console;
use common::{is_keel, Sandbox};
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

const UNTOUCHED: &str = "decoy: untouched\n";

/// A host file the attack tries to reach; its content must survive.
fn decoy(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    let path = sb.dir.join(name);
    fs::write(&path, UNTOUCHED).unwrap();
    path
}

fn assert_untouched(path: &Path) {
    let now = fs::read_to_string(path).unwrap();
    assert_eq!(now, UNTOUCHED, "{} was written to", path.display());
}

#[test]
fn a_planted_proc_cannot_redirect_sysctl_or_oom_score_adj_writes() {
    // CVE-2025-52881 class. Something sharing the rootfs (here a
    // createRuntime hook standing in for a second, running container that
    // can write to this one's rootfs) renames the real procfs mount point
    // away while the init waits, and plants a /proc whose files are links
    // to a file the container can reach. A runtime writing through the
    // path "/proc" then writes its sysctl value (config-controlled) there;
    // with a link to a host-global procfs file instead of this decoy, that
    // is a host escape.
    let mut sb = Sandbox::new("planted_proc");
    let sysctl_decoy = decoy(&sb, "sysctl-decoy");
    let oom_decoy = decoy(&sb, "oom-decoy");
    let rootfs = sb.bundle.rootfs();
    let r = rootfs.display();
    let plant = format!(
        "set -e; mv {r}/proc {r}/realproc; \
         mkdir -p {r}/proc/sys/net/ipv4 {r}/proc/self {r}/proc/1; \
         ln -s /sysctl-decoy {r}/proc/sys/net/ipv4/ip_forward; \
         ln -s /oom-decoy {r}/proc/self/oom_score_adj; \
         ln -s /oom-decoy {r}/proc/1/oom_score_adj"
    );
    sb.bundle
        .bind(&sysctl_decoy, "/sysctl-decoy", &[])
        .bind(&oom_decoy, "/oom-decoy", &[])
        .set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}))
        .set("/process/oomScoreAdj", json!(123))
        .sh_hook("createRuntime", &plant)
        .sh("cat /realproc/self/mountinfo");
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    assert_untouched(&sysctl_decoy);
    assert_untouched(&oom_decoy);
    if out.success() {
        // Then at least the real procfs's /sys must have been made
        // read-only, not the planted directory.
        let ro = out.stdout.lines().any(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.get(4) == Some(&"/realproc/sys") && f.get(5).is_some_and(|o| o.starts_with("ro"))
        });
        assert!(ro, "the real /proc/sys was left writable: {out}");
    }
    if is_keel() {
        // keel writes its sysctls to a procfs of its own whatever "/proc"
        // has become, then refuses to go on with a /proc that is not one.
        out.assert_failed();
        assert!(out.stderr.contains("not the root of a procfs"), "{out}");
    }
}

#[test]
fn a_masked_path_that_is_a_symlink_neither_unmasks_nor_redirects() {
    // CVE-2025-31133 class: the image makes a masked path a link to a file
    // the container should keep seeing (absolute, and climbing out with ..).
    // Following it would hide the wrong file and leave the link's target,
    // which is what the path names from now on, readable.
    for (name, target) in [
        ("secret-abs", "/etc/passwd"),
        ("secret-rel", "../../../../../etc/passwd"),
    ] {
        let mut sb = Sandbox::new(name);
        let rootfs = sb.bundle.rootfs();
        symlink(target, rootfs.join("etc").join(name)).unwrap();
        let masked = format!("/etc/{name}");
        sb.bundle.set("/linux/maskedPaths", json!([masked])).sh(
            "head -c 5 /etc/passwd; echo; grep -c ' /etc/passwd ' /proc/self/mountinfo || true",
        );
        let id = sb.id.clone();
        if is_keel() {
            // Refused as the entry's problem, at create.
            let field = "linux.maskedPaths[0]";
            let out = sb.create_fails_with_config_error(&id, field, &["symlink"]);
            let want = format!(
                "config.json: {field}: {masked:?}: a symlink is on the path; refusing to mount \
                 through it"
            );
            assert_eq!(out.stderr.trim_end(), want, "{out}");
            continue;
        }
        let out = sb.run(&id, &[]);
        if out.success() {
            // However a runtime handles it, the link's target is never masked.
            assert_eq!(out.stdout, "root:\n0\n", "{out}");
        }
        sb.assert_nothing_left(&id);
    }
}

#[test]
fn a_read_only_path_that_is_a_symlink_is_refused() {
    // As a masked path: binding through the link would make its target
    // read-only instead, and leave what the path names writable.
    keel_only!();
    let mut sb = Sandbox::new("ro_symlink");
    symlink("/tmp", sb.bundle.rootfs().join("etc").join("ro-link")).unwrap();
    sb.bundle
        .set("/linux/readonlyPaths", json!(["/proc/bus", "/etc/ro-link"]));
    let id = sb.id.clone();
    let field = "linux.readonlyPaths[1]";
    let out = sb.create_fails_with_config_error(&id, field, &["symlink"]);
    let want = format!(
        "config.json: {field}: \"/etc/ro-link\": a symlink is on the path; refusing to mount \
         through it"
    );
    assert_eq!(out.stderr.trim_end(), want, "{out}");
}

/// A bundle whose /dev is a directory the image controls (bound over the
/// container's /dev), with a working ptmx link and the given `console`.
fn image_dev(sb: &mut Sandbox, console: impl FnOnce(&Path)) {
    let dev = sb.dir.join("image-dev");
    fs::create_dir_all(dev.join("pts")).unwrap();
    symlink("pts/ptmx", dev.join("ptmx")).unwrap();
    fs::write(dev.join("null"), "").unwrap();
    console(&dev);
    let mounts = sb.bundle.config["mounts"].as_array().unwrap();
    let at = mounts
        .iter()
        .position(|m| m["destination"] == "/dev")
        .unwrap();
    sb.bundle.set(
        &format!("/mounts/{at}"),
        json!({"destination": "/dev", "type": "bind", "source": dev, "options": ["rbind"]}),
    );
    sb.bundle
        .set("/linux/maskedPaths", json!([]))
        .set("/process/terminal", json!(true))
        .args(&["cat", "/decoy"]);
}

/// What a hostile image puts at /dev/console, in its /dev directory.
type PlantConsole = fn(&Path);

#[test]
fn a_dev_console_symlink_or_directory_in_the_image_is_refused() {
    // CVE-2025-52565 class: binding the pty over /dev/console by path would
    // follow a link the image put there, covering (in the container) a host
    // file mounted elsewhere, here /decoy, with a terminal the container
    // controls; a directory there must not end up mounted on either.
    let cases: [(&str, PlantConsole); 3] = [
        ("console_abs", |d| {
            symlink("/decoy", d.join("console")).unwrap()
        }),
        ("console_rel", |d| {
            symlink("../../../../../decoy", d.join("console")).unwrap()
        }),
        ("console_dir", |d| {
            fs::create_dir(d.join("console")).unwrap()
        }),
    ];
    for (name, console) in cases {
        let mut sb = Sandbox::new(name);
        let host = decoy(&sb, "decoy");
        image_dev(&mut sb, console);
        sb.bundle.bind(&host, "/decoy", &[]);
        let id = sb.id.clone();
        // Only whether the runtime accepted the rootfs matters: the pty
        // master, if one was sent, is dropped.
        let (out, _) = create_with_console(&mut sb, &id);
        if out.success() {
            // Whatever a runtime does, /decoy must not have become the pty.
            let pid = sb.init_pid(&id);
            let info = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
            let pty_on_decoy = info
                .lines()
                .any(|l| l.split(' ').nth(4) == Some("/decoy") && l.contains(" devpts "));
            assert!(!pty_on_decoy, "the pty was bound over /decoy: {info}");
        } else if is_keel() {
            assert!(out.stderr.contains("/dev/console"), "{out}");
        }
        assert_untouched(&host);
        if is_keel() {
            out.assert_failed();
        }
    }
}

/// The keyrings the container's process can see, from /proc/keys.
fn container_keyrings(sb: &mut Sandbox, extra: &[&str]) -> String {
    // /proc/keys is masked by default; this test needs to read it.
    sb.bundle
        .set("/linux/maskedPaths", json!([]))
        .sh("grep keyring /proc/keys || true");
    let id = sb.id.clone();
    let out = sb.run(&id, extra);
    out.assert_ok();
    out.stdout
}

#[test]
fn each_container_gets_its_own_session_keyring_unless_told_not_to() {
    // As runc: a new session keyring named after the container, so a
    // container cannot read or add to the keys of whoever started it (or of
    // other containers); --no-new-keyring keeps the caller's.
    let mut sb = Sandbox::new("keyring");
    let id = sb.id.clone();
    let own = |text: &str| {
        text.lines()
            .any(|l| l.contains(&format!(" keyring   {id}: ")))
    };
    let fresh = container_keyrings(&mut sb, &[]);
    assert!(own(&fresh), "no session keyring named {id}: {fresh}");
    let mut sb2 = Sandbox::new("no_keyring");
    let id2 = sb2.id.clone();
    let kept = container_keyrings(&mut sb2, &["--no-new-keyring"]);
    assert!(
        !kept.contains(&format!(" {id2}: ")),
        "--no-new-keyring still made a keyring: {kept}"
    );
}

#[test]
fn a_planted_proc_cannot_redirect_the_oom_score_adj_of_an_exec() {
    // The same attack on `exec`: while the container runs, whatever shares
    // its rootfs (here the test) renames /proc away and plants links; the
    // joining process's oom_score_adj must still go to its own procfs file.
    let mut sb = Sandbox::new("planted_proc_exec");
    let oom_decoy = decoy(&sb, "oom-decoy");
    sb.bundle
        .bind(&oom_decoy, "/oom-decoy", &[])
        .args(&["sleep", "1000"]);
    let id = sb.id.clone();
    sb.create_and_start(&id);
    let rootfs = sb.bundle.rootfs();
    fs::rename(rootfs.join("proc"), rootfs.join("realproc")).unwrap();
    for dir in ["self", "thread-self", "1", "2", "3", "4", "5"] {
        fs::create_dir_all(rootfs.join("proc").join(dir)).unwrap();
        symlink(
            "/oom-decoy",
            rootfs.join("proc").join(dir).join("oom_score_adj"),
        )
        .unwrap();
    }
    let process = sb.dir.join("process.json");
    let doc = json!({"args": ["cat", "/realproc/self/oom_score_adj"], "cwd": "/",
        "env": ["PATH=/bin:/usr/bin"], "user": {"uid": 0, "gid": 0}, "oomScoreAdj": 77});
    fs::write(&process, doc.to_string()).unwrap();
    let out = sb
        .rt
        .run(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert_untouched(&oom_decoy);
    if is_keel() {
        out.assert_ok();
        assert_eq!(out.stdout, "77\n", "{out}");
    }
}

#[test]
fn a_planted_proc_in_a_joined_mount_namespace_cannot_redirect_time_offsets() {
    // A container that joins another's mount namespace writes its time
    // offsets while in it, before it has a rootfs of its own: the "/proc"
    // it would write through is the other container's, which something
    // sharing that rootfs (here the test) has renamed away and replaced
    // by a link. The offsets (config-controlled) must not land there.
    let mut sb = Sandbox::new("planted_proc_timens");
    let timens_decoy = decoy(&sb, "timens-decoy");
    sb.bundle
        .bind(&timens_decoy, "/timens-decoy", &[])
        .args(&["sleep", "1000"]);
    let a = sb.other_id("a");
    sb.create(&a);
    let rootfs = sb.bundle.rootfs();
    fs::rename(rootfs.join("proc"), rootfs.join("realproc")).unwrap();
    fs::create_dir_all(rootfs.join("proc/self")).unwrap();
    symlink("/timens-decoy", rootfs.join("proc/self/timens_offsets")).unwrap();
    let mount = sb.bundle.namespace_index("mount");
    let path = format!("/proc/{}/ns/mnt", sb.init_pid(&a));
    sb.bundle
        .set(
            &format!("/linux/namespaces/{mount}"),
            json!({"type": "mount", "path": path}),
        )
        .push("/linux/namespaces", json!({"type": "time"}))
        .set("/linux/timeOffsets", json!({"boottime": {"secs": 86400}}));
    let b = sb.other_id("b");
    let out = sb.try_create(&b, &[]);
    assert_untouched(&timens_decoy);
    // B's rootfs is a host path, not there in A's mount namespace: B may
    // fail for that, never for its own time offsets.
    assert!(!out.stderr.contains("timens_offsets"), "{out}");
}
