//! `process.apparmorProfile` applied for real: the container's init and a
//! process added with `exec` run confined by the profile, whose deny rule
//! holds, and a profile that is not loaded is refused with one line.
//!
//! It needs a kernel with AppArmor enabled and, for the tests that load a
//! profile, securityfs mounted and `apparmor_parser` (apt package
//! `apparmor`); this project's hosts have no AppArmor, so it is skipped
//! there, saying why, and runs in the test VM:
//! `hack/vm/test-cgroups.sh --suites apparmor`.
//! Each profile it loads is removed again when the test ends.

mod common;

use common::{Output, Sandbox};
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why AppArmor does not confine processes here, if it does not: all
/// keel itself needs (it switches profiles through /proc, without
/// securityfs or apparmor_parser).
fn disabled() -> Option<String> {
    let enabled = fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    (!enabled).then(|| "AppArmor is not enabled in this kernel".into())
}

/// Why a test profile cannot be loaded here, if it cannot: AppArmor on,
/// securityfs mounted and apparmor_parser installed.
fn unavailable() -> Option<String> {
    if let Some(why) = disabled() {
        return Some(why);
    }
    if !Path::new("/sys/kernel/security/apparmor/.replace").exists() {
        return Some("securityfs is not mounted at /sys/kernel/security".into());
    }
    if parser().is_none() {
        return Some("apparmor_parser is not installed (apt package apparmor)".into());
    }
    None
}

/// Return early from a test, saying why, when `$why` (`disabled()` or
/// `unavailable()`) names something missing.
macro_rules! skip_for {
    ($why:expr) => {
        if let Some(why) = $why {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

fn parser() -> Option<PathBuf> {
    ["/usr/sbin", "/sbin", "/usr/bin"]
        .iter()
        .map(|dir| Path::new(dir).join("apparmor_parser"))
        .find(|p| p.exists())
}

/// A profile loaded into the kernel for one test, unloaded on drop. It
/// allows everything a container's process does, except reading files
/// named `denied` in the shared directory.
struct Profile {
    name: String,
    file: PathBuf,
}

impl Profile {
    fn load(sb: &Sandbox) -> Profile {
        let name = format!("keel-test-{}", sb.name);
        let text = format!(
            "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  \
             file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n  \
             mount,\n  umount,\n  pivot_root,\n  deny /shared/denied rw,\n}}\n"
        );
        let file = sb.dir.join("profile");
        fs::write(&file, text).unwrap();
        parse(&["--replace", "--skip-cache"], &file);
        Profile { name, file }
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let out = Command::new(parser().unwrap())
            .arg("--remove")
            .arg(&self.file)
            .output();
        if !std::thread::panicking() {
            let out = out.expect("run apparmor_parser --remove");
            assert!(out.status.success(), "unload {}: {out:?}", self.name);
        }
    }
}

fn parse(args: &[&str], file: &Path) {
    let out = Command::new(parser().unwrap())
        .args(args)
        .arg(file)
        .output()
        .expect("run apparmor_parser");
    assert!(
        out.status.success(),
        "apparmor_parser {args:?} {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a process shows about its confinement, one line each: its label,
/// an allowed read, and the denied read (which must fail).
const PROBE: &str = "cat /proc/self/attr/current; cat /shared/allowed; \
                     cat /shared/denied 2>&1 || echo refused";

fn assert_confined(out: &Output, profile: &Profile) {
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    let label = lines[0].trim_end_matches('\0');
    assert_eq!(label, format!("{} (enforce)", profile.name), "{out}");
    assert_eq!(lines[1], "allowed", "{out}");
    assert!(lines[2].contains("Permission denied"), "{out}");
    assert_eq!(lines[3], "refused", "{out}");
}

fn sandbox(test: &str) -> Sandbox {
    let sb = Sandbox::new(test);
    fs::write(sb.shared.join("allowed"), "allowed\n").unwrap();
    fs::write(sb.shared.join("denied"), "secret\n").unwrap();
    sb
}

fn label_of(pid: i32) -> String {
    let raw = fs::read_to_string(format!("/proc/{pid}/attr/current")).unwrap();
    raw.trim_end_matches(['\0', '\n']).to_string()
}

#[test]
fn init_and_exec_run_under_the_profile() {
    skip_for!(unavailable());
    let mut sb = sandbox("apparmor_confined");
    let profile = Profile::load(&sb);
    sb.bundle
        .set("/process/apparmorProfile", json!(profile.name))
        .args(&["sleep", "1000"]);
    let id = sb.id.clone();
    sb.create(&id);
    // Until it execs the process at `start`, the init is keel, unconfined.
    let init = sb.init_pid(&id);
    assert_eq!(label_of(init), "unconfined");
    sb.rt.ok(&["start", &id]);
    assert_eq!(label_of(init), format!("{} (enforce)", profile.name));

    let exec = sb.rt.ok(&["exec", &id, "sh", "-c", PROBE]);
    assert_confined(&exec, &profile);
    // A process document that names no profile gets the container's.
    let doc = json!({"args": ["sh", "-c", PROBE], "cwd": "/", "user": {"uid": 0, "gid": 0}});
    let path = sb.dir.join("process.json");
    fs::write(&path, doc.to_string()).unwrap();
    let exec = sb
        .rt
        .ok(&["exec", "--process", path.to_str().unwrap(), &id]);
    assert_confined(&exec, &profile);
}

#[test]
fn a_foreground_run_is_confined() {
    skip_for!(unavailable());
    let mut sb = sandbox("apparmor_run");
    let profile = Profile::load(&sb);
    sb.bundle
        .set("/process/apparmorProfile", json!(profile.name))
        .sh(PROBE);
    let id = sb.id.clone();
    assert_confined(&sb.run(&id, &[]), &profile);
}

#[test]
fn a_profile_that_is_not_loaded_is_refused() {
    // Loads nothing: AppArmor itself refuses the unknown name.
    skip_for!(disabled());
    keel_only!();
    let mut sb = Sandbox::new("apparmor_missing");
    let name = format!("keel-test-{}-not-loaded", sb.name);
    sb.bundle.set("/process/apparmorProfile", json!(name));
    let id = sb.id.clone();
    sb.create_fails_cleanly(&id, &["process.apparmorProfile", &name, "is loaded"]);
}
