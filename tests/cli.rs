//! The command line itself: `--version`, `spec`, logging flags, `--help`.

mod common;

use common::{is_keel, is_rfc3339_utc, runtime_path, Sandbox};
use serde_json::{json, Value};
use std::fs;
use std::process::Command;

const SUBCOMMANDS: [&str; 8] = [
    "create", "start", "run", "state", "kill", "delete", "list", "spec",
];

/// `RUNTIME ARGS...` without `--root`, to completion.
fn bare(args: &[&str]) -> std::process::Output {
    Command::new(runtime_path())
        .args(args)
        .output()
        .expect("run the runtime")
}

/// The `spec: X` line of `--version`: the runtime-spec version it writes.
fn spec_version() -> String {
    let out = bare(&["--version"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find_map(|l| l.strip_prefix("spec: "));
    line.unwrap_or_else(|| panic!("no spec: line in --version output:\n{text}"))
        .to_string()
}

#[test]
fn version_prints_version_commit_and_spec() {
    keel_only!();
    for flag in ["--version", "-v"] {
        let out = bare(&[flag]);
        assert!(out.status.success(), "{flag}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{flag}:\n{text}");
        assert_eq!(
            lines[0],
            format!("keel version {}", env!("CARGO_PKG_VERSION"))
        );
        assert!(
            lines[1]
                .strip_prefix("commit: ")
                .is_some_and(|c| !c.is_empty()),
            "{text}"
        );
        let spec = lines[2]
            .strip_prefix("spec: 1.")
            .unwrap_or_else(|| panic!("{text}"));
        let parts: Vec<&str> = spec.split('.').collect();
        assert!(
            parts.len() == 2 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
            "{text}"
        );
    }
}

#[test]
fn version_to_a_closed_pipe_is_not_a_panic() {
    // `keel --version | head -n 1`: the reader may be gone before keel writes.
    // runc then ends quietly; keel must not panic (status 101, a backtrace).
    keel_only!();
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    let out = Command::new(runtime_path())
        .arg("--version")
        .stdout(write)
        .output()
        .expect("run the runtime");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A fixture (written by runc 1.1's `spec`) with our spec version in it.
fn expected_spec(fixture: &str) -> Value {
    let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let mut spec: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    spec["ociVersion"] = json!(spec_version());
    if is_keel() {
        // keel names itself, and writes no ambient set, as runc does since
        // 1.2 (an ambient set leaks capabilities into every exec).
        spec["hostname"] = json!("keel");
        spec["process"]["capabilities"]
            .as_object_mut()
            .unwrap()
            .remove("ambient");
    }
    spec
}

/// Run `spec EXTRA... --bundle DIR` in a fresh dir; return the parsed result.
fn written_spec(sb: &Sandbox, extra: &[&str]) -> Value {
    let dir = sb.dir.join("spec");
    fs::create_dir(&dir).unwrap();
    let mut args = vec!["spec"];
    args.extend_from_slice(extra);
    args.extend(["--bundle", dir.to_str().unwrap()]);
    sb.rt.ok(&args);
    let text = fs::read_to_string(dir.join("config.json")).expect("spec wrote config.json");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("spec wrote invalid JSON ({e}):\n{text}"))
}

#[test]
fn spec_writes_runc_default_config() {
    // Drop-in: the same starter config as runc 1.1, apart from the version.
    let sb = Sandbox::new("spec_default");
    assert_eq!(written_spec(&sb, &[]), expected_spec("runc-spec.json"));
}

#[test]
fn spec_rootless_writes_runc_rootless_config() {
    let sb = Sandbox::new("spec_rootless");
    let mut expected = expected_spec("runc-spec-rootless.json");
    // The mappings name the calling user (root for the fixture).
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    expected["linux"]["uidMappings"][0]["hostID"] = json!(uid);
    expected["linux"]["gidMappings"][0]["hostID"] = json!(gid);
    assert_eq!(written_spec(&sb, &["--rootless"]), expected);
}

#[test]
fn spec_without_bundle_writes_into_the_working_directory() {
    let sb = Sandbox::new("spec_cwd");
    let dir = sb.dir.join("here");
    fs::create_dir(&dir).unwrap();
    let mut spec = sb.rt.command(&["spec"]);
    spec.cmd.current_dir(&dir);
    spec.spawn().wait().assert_ok();
    assert!(dir.join("config.json").is_file());
}

#[test]
fn spec_refuses_to_overwrite_config_json() {
    let sb = Sandbox::new("spec_exists");
    let config = sb.bundle.config_path();
    let before = fs::read_to_string(&config).unwrap();
    sb.rt
        .fails(&["spec", "--bundle", sb.bundle.dir.to_str().unwrap()]);
    assert_eq!(
        fs::read_to_string(&config).unwrap(),
        before,
        "config.json was changed"
    );
}

#[test]
fn spec_config_runs_after_setting_args() {
    let mut sb = Sandbox::new("spec_runs");
    fs::remove_file(sb.bundle.config_path()).unwrap();
    sb.rt
        .ok(&["spec", "--bundle", sb.bundle.dir.to_str().unwrap()]);
    let text = fs::read_to_string(sb.bundle.config_path()).unwrap();
    // Everything else as `spec` wrote it, cgroup mount and resources included.
    sb.bundle.config = serde_json::from_str(&text).unwrap();
    sb.bundle
        .set("/process/terminal", json!(false))
        .sh("echo spec config runs");
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    assert_eq!(out.stdout, "spec config runs\n");
}

/// Check one line of `--log-format json` output; returns its message.
fn json_error_line(line: &str) -> String {
    let entry: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    let keys: Vec<&String> = entry.as_object().expect("a JSON object").keys().collect();
    assert_eq!(keys, ["level", "msg", "time"], "{line}");
    assert_eq!(entry["level"], "error", "{line}");
    assert!(
        is_rfc3339_utc(entry["time"].as_str().unwrap_or_default()),
        "{line}"
    );
    let msg = entry["msg"].as_str().expect("msg is a string").to_string();
    assert!(!msg.is_empty(), "{line}");
    msg
}

#[test]
fn json_log_file_ends_with_the_error() {
    // containerd reports the msg of the log file's last line as the error.
    let sb = Sandbox::new("log_json_file");
    let log = sb.dir.join("runtime.log");
    let out = sb.rt.fails(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nope",
    ]);
    let text = fs::read_to_string(&log).expect("log file written");
    let msg = json_error_line(text.lines().last().expect("a log line"));
    assert!(
        out.stderr.contains(&msg),
        "stderr lacks the error {msg:?}: {out}"
    );
}

#[test]
fn json_log_format_without_a_file_goes_to_stderr() {
    let sb = Sandbox::new("log_json_stderr");
    let out = sb.rt.fails(&["--log-format", "json", "state", "nope"]);
    json_error_line(out.stderr.lines().last().expect("an error line"));
}

#[test]
fn text_log_format_is_logrus_style() {
    let sb = Sandbox::new("log_text");
    let out = sb.rt.fails(&["state", "nope"]);
    let line = out.stderr.lines().last().expect("an error line");
    assert!(
        line.starts_with("time=\"") && line.contains(" level=error msg=\""),
        "{out}"
    );
}

#[test]
fn help_works_for_every_subcommand() {
    let out = bare(&["--help"]);
    assert!(out.status.success(), "--help: {out:?}");
    let top = String::from_utf8_lossy(&out.stdout).into_owned();
    for sub in SUBCOMMANDS {
        assert!(top.contains(sub), "--help does not list {sub}:\n{top}");
        let out = bare(&[sub, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && text.contains(sub),
            "{sub} --help: {out:?}"
        );
    }
}
