//! Rootless: an unprivileged user runs keel on a bundle from
//! `keel spec --rootless`, end to end, with its own uid mapped to root and
//! no cgroup (it may write none); limits it cannot have are an error.

mod common;

use common::sys::{self, PidFd};
use common::{Output, Runtime, TIMEOUT};
use serde_json::Value;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A throwaway user and a directory it owns with the runtime's --root and
/// a bundle; removed with every container of it on drop.
struct Rootless {
    name: String,
    uid: u32,
    gid: u32,
    dir: PathBuf,
    rt: Runtime,
    inits: Vec<PidFd>,
    ids: Vec<String>,
    /// Held for the test's life, and dropped last: useradd and userdel
    /// rewrite /etc/subuid and /etc/subgid whole, so a test adding its
    /// range while another test's user comes or goes could lose it.
    _users: std::sync::MutexGuard<'static, ()>,
}

static USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Rootless {
    fn new(test: &str) -> Rootless {
        let users = USERS.lock().unwrap_or_else(|e| e.into_inner());
        sys::become_subreaper();
        let template = common::bundle::template();
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("keelrl{}x{n}", std::process::id());
        let add = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", &name])
            .status()
            .expect("run useradd");
        assert!(add.success(), "useradd {name}");
        let dir = Path::new(common::sandbox::BASE).join(format!("{test}-{}", std::process::id()));
        // The user runs a copy in its own directory: the build's may sit
        // under a directory only root can walk (a checkout in /root).
        fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("keel");
        fs::copy(common::runtime_path(), &bin).expect("copy keel for the user");
        let me = Rootless {
            uid: id_of(&name, "-u"),
            gid: id_of(&name, "-g"),
            name,
            rt: Runtime::new(bin, dir.join("root"), dir.join("out")),
            dir,
            inits: Vec::new(),
            ids: Vec::new(),
            _users: users,
        };
        common::bundle::copy_tree(&template.join("rootfs"), &me.bundle().join("rootfs"));
        me.reachable();
        let owner = format!("{}:{}", me.uid, me.gid);
        let chown = Command::new("chown")
            .args(["-R", "-h", &owner])
            .arg(&me.dir)
            .status();
        assert!(chown.expect("run chown").success());
        me
    }

    fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }

    /// The user needs to walk to its directory (its copy of keel is there).
    fn reachable(&self) {
        use std::os::unix::fs::PermissionsExt;
        for dir in self.dir.ancestors().skip(1) {
            let mode = fs::metadata(dir).unwrap().permissions().mode();
            if mode & 0o001 == 0 {
                fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o001)).unwrap();
            }
        }
    }

    /// `keel ARGS` as the user, in the bundle directory.
    fn keel(&self, args: &[&str]) -> Output {
        let mut call = self.rt.command(args);
        call.cmd
            .uid(self.uid)
            .gid(self.gid)
            .current_dir(self.bundle())
            .env("HOME", &self.dir)
            .env("XDG_RUNTIME_DIR", &self.dir);
        call.spawn().wait()
    }

    fn config(&self) -> Value {
        let text = fs::read_to_string(self.bundle().join("config.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn save(&self, config: &Value) {
        let text = serde_json::to_string_pretty(config).unwrap();
        fs::write(self.bundle().join("config.json"), text).unwrap();
    }

    fn track(&mut self, id: &str) {
        self.ids.push(id.to_string());
    }

    fn note_init(&mut self, pid: i32) {
        self.inits.extend(PidFd::open(pid));
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        for id in std::mem::take(&mut self.ids) {
            let _ = self
                .rt
                .command(&["delete", "--force", &id])
                .spawn()
                .finish();
        }
        for init in self.inits.drain(..) {
            if !init.wait_exit(TIMEOUT) {
                init.kill(libc::SIGKILL);
                init.wait_exit(TIMEOUT);
            }
            if sys::is_our_child(init.pid) {
                sys::reap(init.pid);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
        for file in SUBID_FILES {
            remove_subids(file, &self.name);
        }
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

const SUBID_FILES: [&str; 2] = ["/etc/subuid", "/etc/subgid"];

/// Delegate ids START..START+COUNT to `name` in /etc/subuid and subgid,
/// as an administrator would for newuidmap/newgidmap.
fn delegate(name: &str, start: u32, count: u32) {
    use std::io::Write;
    for file in SUBID_FILES {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .unwrap();
        writeln!(f, "{name}:{start}:{count}").unwrap();
    }
}

fn remove_subids(file: &str, name: &str) {
    let Ok(text) = fs::read_to_string(file) else {
        return;
    };
    let prefix = format!("{name}:");
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(|l| format!("{l}\n"))
        .collect();
    if kept != text {
        let _ = fs::write(file, kept);
    }
}

fn id_of(name: &str, flag: &str) -> u32 {
    let out = Command::new("id").args([flag, name]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// `keel spec --rootless` as the user, then a process without a terminal.
fn rootless_bundle(rl: &Rootless, script: &str) -> Value {
    rl.keel(&["spec", "--rootless"]).assert_ok();
    let mut config = rl.config();
    config["process"]["terminal"] = Value::Bool(false);
    config["process"]["args"] = serde_json::json!(["sh", "-c", script]);
    config
}

#[test]
fn an_unprivileged_user_runs_a_container_end_to_end() {
    let mut rl = Rootless::new("rootless_e2e");
    let config = rootless_bundle(&rl, "id -u > /tmp/id; exec sleep 1000");
    rl.save(&config);
    let id = "rl1";
    rl.track(id);
    rl.keel(&["create", id]).assert_ok();
    let state: Value = serde_json::from_str(&rl.keel(&["state", id]).stdout).unwrap();
    assert_eq!(state["status"], "created");
    let pid = i32::try_from(state["pid"].as_i64().unwrap()).unwrap();
    rl.note_init(pid);
    rl.keel(&["start", id]).assert_ok();
    let state: Value = serde_json::from_str(&rl.keel(&["state", id]).stdout).unwrap();
    assert_eq!(state["status"], "running");
    // Root inside, the user outside; and no cgroup of keel's making.
    let uid_line = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = uid_line.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let uids: Vec<u32> = uid_line
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(uids, [rl.uid; 4]);
    let map = fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    let map: Vec<&str> = map.split_whitespace().collect();
    assert_eq!(map, ["0", &rl.uid.to_string(), "1"]);
    rl.keel(&["kill", id, "KILL"]).assert_ok();
    assert!(rl.inits[0].wait_exit(TIMEOUT), "the init survived kill");
    let state: Value = serde_json::from_str(&rl.keel(&["state", id]).stdout).unwrap();
    assert_eq!(state["status"], "stopped");
    rl.keel(&["delete", id]).assert_ok();
    assert!(!rl.dir.join("root").join(id).exists());
}

#[test]
fn limits_a_rootless_container_cannot_have_are_an_error() {
    let mut rl = Rootless::new("rootless_limits");
    let mut config = rootless_bundle(&rl, "true");
    config["linux"]["resources"] = serde_json::json!({"pids": {"limit": 10}});
    config["linux"]["cgroupsPath"] = Value::String(format!("/keel-test/{}", rl.name));
    rl.save(&config);
    rl.track("rl2");
    let out = rl.keel(&["run", "rl2"]);
    out.assert_failed();
    common::assert_config_error(&out, None, "linux.resources", &["rootless: "]);
    assert!(!rl.dir.join("root").join("rl2").exists());
}

#[test]
fn a_delegated_range_is_mapped_with_newuidmap_and_more_is_refused() {
    let mut rl = Rootless::new("rootless_subids");
    let start = 300_000 + 65_536 * (std::process::id() % 100);
    delegate(&rl.name, start, 65_536);
    let mut config = rootless_bundle(&rl, "cat /proc/self/uid_map /proc/self/setgroups");
    let own = rl.uid;
    let map = |size: u32| {
        serde_json::json!([{"containerID": 0, "hostID": own, "size": 1},
                           {"containerID": 1, "hostID": start, "size": size}])
    };
    config["linux"]["uidMappings"] = map(65_536);
    config["linux"]["gidMappings"] = map(65_536);
    rl.save(&config);
    rl.track("rl3");
    let out = rl.keel(&["run", "rl3"]);
    out.assert_ok();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    let (uid, start) = (rl.uid.to_string(), start.to_string());
    // Through newuidmap/newgidmap, setgroups stays allowed.
    assert_eq!(
        words,
        ["0", &uid, "1", "1", &start, "65536", "allow"],
        "{out}"
    );
    config["linux"]["uidMappings"] = map(65_537);
    rl.save(&config);
    rl.track("rl4");
    let out = rl.keel(&["run", "rl4"]);
    out.assert_failed();
    common::assert_config_error(&out, None, "linux.uidMappings[1]", &["not delegated"]);
}

#[test]
fn idmapped_mounts_are_refused() {
    let mut rl = Rootless::new("rootless_idmap");
    let mut config = rootless_bundle(&rl, "true");
    let mounts = config["mounts"].as_array_mut().unwrap();
    let index = mounts.len();
    // Without mappings of its own, the container's user namespace would
    // supply them; the kernel still wants root over the filesystem.
    mounts.push(serde_json::json!({"destination": "/idm", "type": "bind",
        "source": rl.dir, "options": ["rbind", "idmap"]}));
    rl.save(&config);
    rl.track("rl5");
    let out = rl.keel(&["run", "rl5"]);
    out.assert_failed();
    let path = format!("mounts[{index}]");
    let msg = common::assert_config_error(&out, None, &path, &[]);
    let want = format!("config.json: {path}: idmapped mounts need keel to run as root");
    assert!(msg.is_none_or(|m| m.starts_with(&want)), "{out}");
    assert!(!rl.dir.join("root").join("rl5").exists());
}
