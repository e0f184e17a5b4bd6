//! The less common config.json fields, observed from inside the container
//! (or from outside on its processes): process scheduler, I/O priority,
//! execCPUAffinity, consoleSize, linux.personality, linux.memoryPolicy,
//! linux.intelRdt, mount attributes, tmpcopyup, and file and socket binds.
//! (netDevices: netdev.rs; a profile older than keel's calls: seccomp.rs.)

mod common;

use common::tty::{create_with_pty, read_until};
use common::Sandbox;
use serde_json::json;
use std::fs;
use std::io::Write;
use std::os::unix::net::UnixListener;

/// Run the sandbox's container in the foreground and return its stdout.
fn run_ok(sb: &mut Sandbox) -> String {
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    out.stdout
}

/// Fields of a /proc/PID/stat line after the command name, numbered as
/// proc(5) numbers them (state is field 3).
fn stat_field(stat: &str, n: usize) -> i64 {
    let rest = stat.rsplit_once(')').expect("stat has a command").1;
    let word = rest.split_whitespace().nth(n - 3).expect("stat field");
    word.parse().expect("numeric stat field")
}

/// A container that runs `args` directly (no shell: SCHED_DEADLINE tasks
/// may not fork) with `process.scheduler` set to `sched`.
fn sched_stat(test: &str, sched: serde_json::Value) -> String {
    let mut sb = Sandbox::new(test);
    sb.bundle
        .args(&["cat", "/proc/self/stat"])
        .set("/process/scheduler", sched);
    run_ok(&mut sb)
}

#[test]
fn scheduler_batch_policy_and_nice() {
    let stat = sched_stat(
        "sched_batch",
        json!({"policy": "SCHED_BATCH", "nice": 7, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}),
    );
    // field 19 is nice, field 41 the policy (SCHED_BATCH = 3; the
    // reset-on-fork flag is not shown there).
    assert_eq!(stat_field(&stat, 19), 7, "{stat}");
    assert_eq!(stat_field(&stat, 41), 3, "{stat}");
}

#[test]
fn scheduler_idle_policy() {
    let stat = sched_stat("sched_idle", json!({"policy": "SCHED_IDLE"}));
    assert_eq!(stat_field(&stat, 41), 5, "{stat}");
}

#[test]
fn scheduler_deadline_policy() {
    let mut sb = Sandbox::new("sched_deadline");
    let sched = json!({"policy": "SCHED_DEADLINE", "runtime": 2_000_000u64,
                       "deadline": 10_000_000u64, "period": 100_000_000u64});
    sb.bundle
        .args(&["cat", "/proc/self/sched"])
        .set("/process/scheduler", sched);
    let out = run_ok(&mut sb);
    let field = |key: &str| -> String {
        let line = out.lines().find(|l| l.starts_with(key));
        let line = line.unwrap_or_else(|| panic!("no {key} in\n{out}"));
        line.rsplit(':').next().unwrap().trim().to_string()
    };
    // SCHED_DEADLINE is policy 6; dl.runtime is what is left of this
    // period's budget, so at most the configured runtime.
    assert_eq!(field("policy"), "6");
    let left: i64 = field("dl.runtime").parse().unwrap();
    assert!(
        left <= 2_000_000,
        "dl.runtime {left} above the budget:\n{out}"
    );
}

#[test]
fn scheduler_iso_is_refused_with_its_path() {
    keel_only!();
    let mut sb = Sandbox::new("sched_iso");
    sb.bundle
        .set("/process/scheduler", json!({"policy": "SCHED_ISO"}));
    let id = sb.id.clone();
    sb.create_fails_with_config_error(&id, "process.scheduler.policy", &["SCHED_ISO"]);
}

#[test]
fn io_priority_is_applied() {
    // busybox ionice without arguments prints the calling process's class.
    let mut sb = Sandbox::new("ioprio");
    sb.bundle.args(&["ionice"]).set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_BE", "priority": 6}),
    );
    assert_eq!(run_ok(&mut sb), "best-effort: prio 6\n");
    let mut sb = Sandbox::new("ioprio_idle");
    sb.bundle.args(&["ionice"]).set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0}),
    );
    assert_eq!(run_ok(&mut sb), "idle\n");
}

#[test]
fn personality_linux32_shows_a_32_bit_machine() {
    let mut sb = Sandbox::new("personality");
    sb.bundle
        .args(&["uname", "-m"])
        .set("/linux/personality", json!({"domain": "LINUX32"}));
    let machine = run_ok(&mut sb);
    assert!(
        ["i686\n", "armv8l\n"].contains(&machine.as_str()),
        "uname -m under LINUX32: {machine:?}"
    );
}

#[test]
fn memory_policy_is_the_processes_policy() {
    // numa_maps shows each mapping's policy; mappings without their own
    // show the task's.
    let mut sb = Sandbox::new("mempolicy");
    sb.bundle.args(&["cat", "/proc/self/numa_maps"]).set(
        "/linux/memoryPolicy",
        json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
    );
    let maps = run_ok(&mut sb);
    let first = maps.lines().next().unwrap_or_default();
    assert!(
        first.split(' ').nth(1) == Some("interleave=static:0"),
        "{maps}"
    );
}

#[test]
fn intel_rdt_without_resctrl_is_an_error_naming_the_field() {
    let mut sb = Sandbox::new("intel_rdt");
    sb.bundle.set(
        "/linux/intelRdt",
        json!({"closID": "keel-test", "l3CacheSchema": "L3:0=f"}),
    );
    let id = sb.id.clone();
    sb.create_fails_with_config_error(&id, "linux.intelRdt", &["resctrl"]);
}

#[test]
fn console_size_is_the_ptys_size() {
    let mut sb = Sandbox::new("console_size");
    sb.bundle
        .set("/process/terminal", json!(true))
        .set("/process/consoleSize", json!({"height": 31, "width": 97}))
        .args(&["sh"]);
    let id = sb.id.clone();
    let mut master = create_with_pty(&mut sb, &id);
    sb.rt.ok(&["start", &id]);
    // The typed line never contains the answer; the echo adds a marker.
    master
        .write_all(b"echo \"size=$(stty size)=\"; exit 0\n")
        .unwrap();
    let seen = read_until(&mut master, "=\r\n");
    assert!(seen.contains("size=31 97="), "stty size: {seen:?}");
    sb.reap_init(&id);
}

#[test]
fn exec_cpu_affinity_final_pins_the_exec_process() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (sb, id) = Sandbox::with_running_container("exec_affinity");
    let last = (cpus - 1).to_string();
    let doc = json!({"cwd": "/", "user": {"uid": 0, "gid": 0},
        "args": ["grep", "Cpus_allowed_list", "/proc/self/status"],
        "env": ["PATH=/bin:/usr/bin"],
        "execCPUAffinity": {"initial": "0", "final": last}});
    let path = sb.dir.join("process.json");
    fs::write(&path, doc.to_string()).unwrap();
    let out = sb
        .rt
        .ok(&["exec", "--process", path.to_str().unwrap(), &id]);
    assert_eq!(
        out.stdout.split_whitespace().last(),
        Some(last.as_str()),
        "{out}"
    );
}

/// The per-mount flags of the mount at `point` in mountinfo `text`.
fn flags_at<'a>(text: &'a str, point: &str) -> Vec<&'a str> {
    let line = text
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(point))
        .unwrap_or_else(|| panic!("no mount at {point} in\n{text}"));
    line.split(' ').nth(5).unwrap().split(',').collect()
}

#[test]
fn recursive_attributes_reach_submounts() {
    // /outer holds a submount; /view binds it with the recursive options,
    // /plain with the ordinary ones, which only change the top mount.
    let mut sb = Sandbox::new("recursive_attrs");
    let outer = sb.bundle.rootfs().join("outer");
    for dir in ["outer", "view", "plain"] {
        fs::create_dir_all(sb.bundle.rootfs().join(dir)).unwrap();
    }
    sb.bundle
        .push("/mounts", json!({"destination": "/outer", "type": "tmpfs", "source": "tmpfs"}))
        .push("/mounts", json!({"destination": "/outer/sub", "type": "tmpfs", "source": "tmpfs"}))
        .push("/mounts", json!({"destination": "/view", "type": "bind", "source": outer,
            "options": ["rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime", "rnosymfollow"]}))
        .push("/mounts", json!({"destination": "/plain", "type": "bind", "source": outer,
            "options": ["rbind", "ro", "nosuid"]}))
        .sh("cat /proc/self/mountinfo");
    let info = run_ok(&mut sb);
    for point in ["/view", "/view/sub"] {
        let flags = flags_at(&info, point);
        for want in ["ro", "nosuid", "nodev", "noexec", "noatime", "nosymfollow"] {
            assert!(flags.contains(&want), "{point} lacks {want}: {flags:?}");
        }
    }
    assert!(flags_at(&info, "/plain").contains(&"ro"));
    let sub = flags_at(&info, "/plain/sub");
    assert!(sub.contains(&"rw") && !sub.contains(&"nosuid"), "{sub:?}");
    // The source itself is untouched.
    assert!(flags_at(&info, "/outer/sub").contains(&"rw"));
}

#[test]
fn rrw_makes_a_read_only_subtree_writable() {
    let mut sb = Sandbox::new("rrw");
    let outer = sb.bundle.rootfs().join("outer");
    for dir in ["outer", "view"] {
        fs::create_dir_all(sb.bundle.rootfs().join(dir)).unwrap();
    }
    sb.bundle
        .push(
            "/mounts",
            json!({"destination": "/outer", "type": "tmpfs", "source": "tmpfs"}),
        )
        .push(
            "/mounts",
            json!({"destination": "/outer/sub", "type": "tmpfs", "source": "tmpfs",
            "options": ["ro"]}),
        )
        .push(
            "/mounts",
            json!({"destination": "/view", "type": "bind", "source": outer,
            "options": ["rbind", "rrw"]}),
        )
        .sh("touch /view/sub/x && echo written");
    assert_eq!(run_ok(&mut sb), "written\n");
}

#[test]
fn nosymfollow_refuses_to_follow_symlinks() {
    let mut sb = Sandbox::new("nosymfollow");
    fs::create_dir_all(sb.bundle.rootfs().join("nosym")).unwrap();
    sb.bundle
        .push(
            "/mounts",
            json!({"destination": "/nosym", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosymfollow"]}),
        )
        .sh("ln -s /etc/passwd /nosym/link; readlink /nosym/link; \
             cat /nosym/link >/dev/null 2>&1 && echo followed || echo refused");
    assert_eq!(run_ok(&mut sb), "/etc/passwd\nrefused\n");
}

#[test]
fn tmpcopyup_starts_with_the_directory_contents() {
    let mut sb = Sandbox::new("tmpcopyup");
    let dir = sb.bundle.rootfs().join("seed");
    fs::create_dir_all(dir.join("nested")).unwrap();
    fs::write(dir.join("nested/file"), "from the image\n").unwrap();
    std::os::unix::fs::symlink("nested/file", dir.join("link")).unwrap();
    std::os::unix::fs::chown(dir.join("nested"), Some(1000), Some(1000)).unwrap();
    sb.bundle
        .push(
            "/mounts",
            json!({"destination": "/seed", "type": "tmpfs", "source": "tmpfs",
            "options": ["tmpcopyup", "nosuid"]}),
        )
        .sh(
            "cat /seed/link; stat -c %u:%g /seed/nested; echo new > /seed/new; \
             grep ' /seed ' /proc/self/mountinfo | grep -c tmpfs",
        );
    assert_eq!(run_ok(&mut sb), "from the image\n1000:1000\n1\n");
    // The copy is the container's: the image is unchanged.
    assert!(!dir.join("new").exists());
}

#[test]
fn bind_mounts_of_a_file_and_a_socket() {
    let mut sb = Sandbox::new("bind_file_socket");
    let file = sb.dir.join("note");
    fs::write(&file, "a single file\n").unwrap();
    let socket = sb.dir.join("host.sock");
    let listener = UnixListener::bind(&socket).expect("bind socket");
    sb.bundle
        .push(
            "/mounts",
            json!({"destination": "/etc/note", "type": "bind", "source": file,
            "options": ["bind", "ro"]}),
        )
        .push(
            "/mounts",
            json!({"destination": "/run/host.sock", "type": "bind",
            "source": socket, "options": ["bind"]}),
        )
        .sh("cat /etc/note; test -S /run/host.sock && echo socket; \
             echo x >> /etc/note 2>/dev/null || echo read-only");
    assert_eq!(run_ok(&mut sb), "a single file\nsocket\nread-only\n");
    drop(listener);
}
