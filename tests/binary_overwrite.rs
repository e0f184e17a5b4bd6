//! CVE-2019-5736 class: a container process that may ptrace (root with
//! CAP_SYS_PTRACE, no user namespace: non-dumpable keel processes do not
//! stop it) takes a handle on keel's binary through /proc/PID/exe of a
//! keel process in its pid namespace: the init of a container joining its
//! pid namespace, held in a createRuntime hook, and `exec`'d processes
//! before they exec (best effort: their window is short). Every handle it
//! gets must be read-only, no open for writing may succeed, and the binary
//! must be unchanged.

mod common;

use common::Sandbox;
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

const ATTACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/exe_attack.c");

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Compile the attacker statically into the rootfs as /attack.
fn build_attacker(sb: &Sandbox) {
    let out = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(sb.bundle.rootfs().join("attack"))
        .arg(ATTACK)
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn grant(sb: &mut Sandbox, caps: &[&str]) {
    for set in ["bounding", "effective", "permitted"] {
        for cap in caps {
            sb.bundle
                .push(&format!("/process/capabilities/{set}"), json!(cap));
        }
    }
}

#[test]
fn a_container_cannot_open_keels_binary_for_writing() {
    keel_only!();
    let keel = common::runtime_path();
    let before = sha256(&keel);
    let meta = fs::metadata(&keel).unwrap();
    let mut sb = Sandbox::new("exe_overwrite");
    build_attacker(&sb);
    grant(&mut sb, &["CAP_SYS_PTRACE", "CAP_SYS_ADMIN"]);
    let mut events = sb.fifo("events");
    let (dev, ino) = (meta.dev().to_string(), meta.ino().to_string());
    sb.bundle.args(&["/attack", &dev, &ino]);
    let a = sb.id.clone();
    sb.create_and_start(&a);
    assert_eq!(events.read_line("the attacker to start"), "ready");
    let a_pid = sb.init_pid(&a);

    // Create: B's init joins A's pid namespace and waits in a hook until
    // the attacker has seen it. B has a sandbox of its own, declared
    // later so it is removed first: A's init cannot finish exiting while
    // B's init, in its pid namespace, is an unreaped zombie.
    let mut sb_b = Sandbox::new("exe_overwrite_b");
    let mut go = sb_b.fifo("go");
    let ns = sb_b.bundle.namespace_index("pid");
    let path = format!("/proc/{a_pid}/ns/pid");
    sb_b.bundle
        .set(
            &format!("/linux/namespaces/{ns}"),
            json!({"type": "pid", "path": path}),
        )
        .args(&["true"])
        .sh_hook("createRuntime", &format!("read x < {}", go.path.display()));
    let b = sb_b.id.clone();
    sb_b.prepare(&b);
    let bundle = sb_b.bundle.dir.to_str().unwrap().to_string();
    let creating = sb_b.rt.spawn(&["create", "--bundle", &bundle, &b]);
    let seen = events.read_line("the attacker to see B's init");
    go.write_line("go");
    let created = creating.wait();
    assert!(seen.starts_with("seen "), "{seen}: {created}");
    created.assert_ok();
    sb_b.note_init(&b);

    // Exec: each joining process is keel until it execs.
    for _ in 0..10 {
        sb.rt.ok(&["exec", &a, "true"]);
    }
    fs::write(sb.shared.join("stop"), "").unwrap();
    loop {
        if events.read_line("the attacker's report") == "done" {
            break;
        }
    }
    let report = fs::read_to_string(sb.shared.join("report")).unwrap();
    eprintln!("attacker's report:\n{report}");
    assert!(report.starts_with("direct 0\n"), "{report}");
    let handles: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("handle "))
        .collect();
    // B's init is always seen (its hook waits for that); an exec'd
    // process may finish before a busy machine schedules the attacker, so
    // those handles add coverage but are not required.
    assert!(
        !handles.is_empty(),
        "the attacker saw no keel process, which proves nothing: {report}"
    );
    for h in handles {
        let f: Vec<&str> = h.splitn(4, ' ').collect();
        assert_eq!(f[2], "ro", "a writable handle on keel's binary: {report}");
        assert_ne!(
            f[3], "opened",
            "keel's binary was opened for writing: {report}"
        );
    }
    assert_eq!(sha256(&keel), before, "keel's binary changed");
}
