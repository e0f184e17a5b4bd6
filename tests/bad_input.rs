//! Bad input: every rejected create exits non-zero and leaves nothing
//! behind (no state dir, no process, no mount). keel also names the file,
//! the JSON path and the offending value in one line; that part is checked
//! for keel only. Cases runc accepts are keel-only altogether.

mod common;

use common::{is_keel, Sandbox};
use serde_json::json;
use std::fs;
use std::path::Path;

/// A sandbox for `test` whose container `configure` sets up; its create
/// must fail on config.json's `path` naming each of `what`, and leave nothing.
fn rejected(test: &str, path: &str, what: &[&str], configure: impl FnOnce(&mut Sandbox)) {
    let mut sb = Sandbox::new(test);
    configure(&mut sb);
    let id = sb.id.clone();
    sb.create_fails_with_config_error(&id, path, what);
}

#[test]
fn missing_bundle_directory() {
    let mut sb = Sandbox::new("missing_bundle");
    let id = sb.id.clone();
    sb.prepare(&id);
    let missing = sb.dir.join("no-such-bundle");
    let missing = missing.to_str().unwrap();
    let out = sb.rt.run(&["create", "--bundle", missing, &id]);
    sb.assert_failed_cleanly(&id, &out, &[missing]);
}

/// Create the sandbox's container after `damage` replaced or removed its
/// saved config.json; it must fail as `rejected` says. `path` is given the
/// file's path.
fn rejected_file(
    test: &str,
    path: impl FnOnce(&Path) -> String,
    what: &[&str],
    damage: impl FnOnce(&Path),
) {
    let mut sb = Sandbox::new(test);
    let id = sb.id.clone();
    sb.prepare(&id);
    let config = sb.bundle.config_path();
    damage(&config);
    sb.create_as_is_fails_with_config_error(&id, &path(&config), what);
}

#[test]
fn missing_config_json() {
    // No JSON path to name: where it failed is opening the file.
    let open = |config: &Path| format!("open {config:?}");
    rejected_file("missing_config", open, &["No such file"], |config| {
        fs::remove_file(config).unwrap()
    });
}

#[test]
fn invalid_json() {
    let path = |_: &Path| "ociVersion".to_string();
    rejected_file("invalid_json", path, &["EOF"], |config| {
        fs::write(config, "{\"ociVersion\": ").unwrap()
    });
}

#[test]
fn unknown_namespace_type() {
    rejected(
        "unknown_namespace",
        "linux.namespaces[2].type",
        &["\"pdi\""],
        |sb| {
            sb.bundle.set("/linux/namespaces/2/type", json!("pdi"));
        },
    );
}

#[test]
fn unknown_mount_option() {
    // runc passes unknown options on as mount data, which a bind mount ignores.
    keel_only!();
    let mut sb = Sandbox::new("unknown_mount_option");
    let index = sb.bundle.config["mounts"].as_array().unwrap().len();
    let mount = json!({"destination": "/mnt", "type": "bind",
                       "source": "/tmp", "options": ["rbind", "bogusopt"]});
    sb.bundle.push("/mounts", mount);
    let id = sb.id.clone();
    let path = format!("mounts[{index}].options[1]");
    sb.create_fails_with_config_error(&id, &path, &["bogusopt"]);
}

#[test]
fn a_bind_source_that_is_missing_is_named_with_its_mount() {
    // Found by the container init, and reported as a config error all the
    // same: the line starts with the file and the mount's JSON path.
    let mut sb = Sandbox::new("missing_bind_source");
    sb.bundle
        .bind(Path::new("/nonexistent/keel-test"), "/mnt", &[]);
    let index = sb.bundle.config["mounts"].as_array().unwrap().len() - 1;
    let id = sb.id.clone();
    let path = format!("mounts[{index}]");
    let out = sb.create_fails_with_config_error(&id, &path, &["/nonexistent/keel-test"]);
    // What failed comes first (keel only, as the helper's message checks);
    // with --log, stderr is the bare message.
    let what = format!("config.json: {path}: stat bind source ");
    assert!(!is_keel() || out.stderr.starts_with(&what), "{out}");
}

#[test]
fn a_device_over_an_existing_file_is_named_with_its_entry() {
    // Found by the container init when it makes the node: runtime-spec
    // wants an error unless the file there is already that device.
    keel_only!();
    let mut sb = Sandbox::new("device_over_file");
    let dev = json!({"path": "/etc/passwd", "type": "c", "major": 1, "minor": 3});
    sb.bundle.set("/linux/devices", json!([dev]));
    let id = sb.id.clone();
    let path = "linux.devices[0]";
    let out = sb.create_fails_with_config_error(&id, path, &["/etc/passwd"]);
    let want = format!(
        "config.json: {path}: \"/etc/passwd\": an existing file does not match the requested \
         device (type 100000, device 0:0)"
    );
    assert_eq!(out.stderr.trim_end(), want, "{out}");
}

#[test]
fn unknown_capability() {
    // runc 1.1 only warns ("ignoring unknown or unavailable capabilities").
    keel_only!();
    let path = "process.capabilities.bounding[0]";
    rejected("unknown_capability", path, &["CAP_BOGUS"], |sb| {
        sb.bundle
            .set("/process/capabilities/bounding", json!(["CAP_BOGUS"]));
    });
}

#[test]
fn unknown_rlimit_type() {
    let path = "process.rlimits[0].type";
    rejected("unknown_rlimit", path, &["RLIMIT_BOGUS"], |sb| {
        sb.bundle.set(
            "/process/rlimits",
            json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
        );
    });
}

#[test]
fn rlimit_above_the_hard_limit() {
    // Raising a hard limit needs CAP_SYS_RESOURCE, which the test machine
    // lacks: one above our own hard limit must fail.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we pass.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    if limit.rlim_max == libc::RLIM_INFINITY || has_sys_resource() {
        eprintln!("skipped: this process may raise RLIMIT_NOFILE");
        return;
    }
    let hard = limit.rlim_max + 1;
    let path = "process.rlimits[0].hard";
    rejected("rlimit_too_high", path, &[&hard.to_string()], |sb| {
        sb.bundle.set(
            "/process/rlimits",
            json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": hard}]),
        );
    });
}

/// Whether CAP_SYS_RESOURCE (24) is in our effective set.
fn has_sys_resource() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap();
    u64::from_str_radix(eff.trim(), 16).unwrap() & (1 << 24) != 0
}

#[test]
fn missing_root_path() {
    rejected("missing_root_path", "root.path", &["missing"], |sb| {
        sb.bundle.remove("/root/path");
    });
}

#[test]
fn root_directory_that_does_not_exist() {
    rejected("root_missing_dir", "root.path", &["no-such-rootfs"], |sb| {
        sb.bundle.set("/root/path", json!("no-such-rootfs"));
    });
}

#[test]
fn process_without_args() {
    for (test, args) in [("args_missing", None), ("args_empty", Some(json!([])))] {
        rejected(test, "process.args", &[], |sb| {
            match args {
                Some(a) => sb.bundle.set("/process/args", a),
                None => sb.bundle.remove("/process/args"),
            };
        });
    }
}

#[test]
fn relative_cwd() {
    rejected("relative_cwd", "process.cwd", &["\"tmp\""], |sb| {
        sb.bundle.set("/process/cwd", json!("tmp"));
    });
}

#[test]
fn cwd_that_does_not_exist() {
    // runc creates a missing cwd; keel refuses it.
    keel_only!();
    rejected("missing_cwd", "process.cwd", &["/no/such/dir"], |sb| {
        sb.bundle.set("/process/cwd", json!("/no/such/dir"));
    });
}

#[test]
fn executable_that_does_not_exist() {
    // Both runtimes fail at create (runc: "exec: ... no such file or
    // directory"), not with exit 127 at start.
    for (test, program) in [
        ("missing_abs_exe", "/no/such/program"),
        ("missing_path_exe", "no-such-program"),
    ] {
        rejected(test, "process.args[0]", &[program], |sb| {
            sb.bundle.args(&[program, "arg"]);
        });
    }
}

#[test]
fn unknown_container_id() {
    let sb = Sandbox::new("unknown_id");
    for args in [
        ["state", "nope"],
        ["start", "nope"],
        ["kill", "nope"],
        ["delete", "nope"],
    ] {
        let out = sb.rt.fails(&args);
        assert!(!out.stderr.trim().is_empty(), "no error message: {out}");
    }
}

/// A value the kernel refuses only when keel writes it (modern kernels
/// always account memory hierarchically) is still a config error: named
/// like those found before anything is made.
#[test]
fn memory_use_hierarchy_off() {
    let path = "linux.resources.memory.useHierarchy";
    rejected("use_hierarchy_off", path, &["false"], |sb| {
        sb.bundle
            .set("/linux/resources/memory", json!({"useHierarchy": false}));
    });
}

#[test]
fn an_effective_capability_outside_the_permitted_set() {
    // The kernel's capset refuses it; keel refuses it before the init
    // exists, naming the field.
    let path = "process.capabilities.effective";
    rejected("bad_effective", path, &["CAP_KILL", "permitted"], |sb| {
        sb.bundle
            .set("/process/capabilities/effective", json!(["CAP_KILL"]))
            .set("/process/capabilities/permitted", json!(["CAP_CHOWN"]));
    });
}
