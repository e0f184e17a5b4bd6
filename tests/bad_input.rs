//! Bad input: every rejected create exits non-zero and leaves nothing
//! behind (no state dir, no process, no mount). keel also names the file,
//! the JSON path and the offending value in one line; that part is checked
//! for keel only. Cases runc accepts are keel-only altogether.

mod common;

use common::{assert_keel_config_error, is_keel, Output, Sandbox};
use serde_json::json;
use std::fs;
use std::path::Path;

/// Create the sandbox's container after `configure`; it must fail and leave
/// nothing. Returns the failed call for message checks.
fn rejected(test: &str, configure: impl FnOnce(&mut Sandbox)) -> Output {
    let mut sb = Sandbox::new(test);
    configure(&mut sb);
    let id = sb.id.clone();
    sb.create_fails_cleanly(&id, &[])
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

/// Create the sandbox's container from a config.json that `damage` replaced
/// or removed after saving; it must fail and leave nothing.
fn rejected_file(test: &str, damage: impl FnOnce(&std::path::Path)) -> Output {
    let mut sb = Sandbox::new(test);
    let id = sb.id.clone();
    sb.prepare(&id);
    damage(&sb.bundle.config_path());
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let out = sb.rt.run(&["create", "--bundle", &bundle, &id]);
    sb.assert_failed_cleanly(&id, &out, &[]);
    out
}

#[test]
fn missing_config_json() {
    let out = rejected_file("missing_config", |config| fs::remove_file(config).unwrap());
    if is_keel() {
        assert!(out.stderr.contains("config.json"), "{out}");
    }
}

#[test]
fn invalid_json() {
    let out = rejected_file("invalid_json", |config| {
        fs::write(config, "{\"ociVersion\": ").unwrap()
    });
    if is_keel() {
        assert!(out.stderr.contains("config.json"), "{out}");
    }
}

#[test]
fn unknown_namespace_type() {
    let out = rejected("unknown_namespace", |sb| {
        sb.bundle.set("/linux/namespaces/2/type", json!("pdi"));
    });
    assert_keel_config_error(&out, "linux.namespaces[2].type", "pdi");
}

#[test]
fn unknown_mount_option() {
    // runc passes unknown options on as mount data, which a bind mount ignores.
    keel_only!();
    let mut index = 0;
    let out = rejected("unknown_mount_option", |sb| {
        sb.bundle.push(
            "/mounts",
            json!({"destination": "/mnt", "type": "bind",
                                         "source": "/tmp", "options": ["rbind", "bogusopt"]}),
        );
        index = sb.bundle.config["mounts"].as_array().unwrap().len() - 1;
    });
    assert_keel_config_error(&out, &format!("mounts[{index}].options[1]"), "bogusopt");
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
    let out = sb.create_fails_cleanly(&id, &["/nonexistent/keel-test"]);
    let prefix = format!("config.json: mounts[{index}]: stat bind source ");
    common::assert_keel_error_starts_with(&out, &prefix);
}

#[test]
fn unknown_capability() {
    // runc 1.1 only warns ("ignoring unknown or unavailable capabilities").
    keel_only!();
    let out = rejected("unknown_capability", |sb| {
        sb.bundle
            .set("/process/capabilities/bounding", json!(["CAP_BOGUS"]));
    });
    assert_keel_config_error(&out, "process.capabilities.bounding[0]", "CAP_BOGUS");
}

#[test]
fn unknown_rlimit_type() {
    let out = rejected("unknown_rlimit", |sb| {
        sb.bundle.set(
            "/process/rlimits",
            json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
        );
    });
    assert_keel_config_error(&out, "process.rlimits[0].type", "RLIMIT_BOGUS");
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
    let out = rejected("rlimit_too_high", |sb| {
        sb.bundle.set(
            "/process/rlimits",
            json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": hard}]),
        );
    });
    assert_keel_config_error(&out, "process.rlimits[0]", &hard.to_string());
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
    let out = rejected("missing_root_path", |sb| {
        sb.bundle.remove("/root/path");
    });
    assert_keel_config_error(&out, "root", "path");
}

#[test]
fn root_directory_that_does_not_exist() {
    let out = rejected("root_missing_dir", |sb| {
        sb.bundle.set("/root/path", json!("no-such-rootfs"));
    });
    assert_keel_config_error(&out, "root.path", "no-such-rootfs");
}

#[test]
fn process_without_args() {
    for (test, args) in [("args_missing", None), ("args_empty", Some(json!([])))] {
        let out = rejected(test, |sb| {
            match args {
                Some(a) => sb.bundle.set("/process/args", a),
                None => sb.bundle.remove("/process/args"),
            };
        });
        assert_keel_config_error(&out, "process", "args");
    }
}

#[test]
fn relative_cwd() {
    let out = rejected("relative_cwd", |sb| {
        sb.bundle.set("/process/cwd", json!("tmp"));
    });
    assert_keel_config_error(&out, "process.cwd", "tmp");
}

#[test]
fn cwd_that_does_not_exist() {
    // runc creates a missing cwd; keel refuses it.
    keel_only!();
    let out = rejected("missing_cwd", |sb| {
        sb.bundle.set("/process/cwd", json!("/no/such/dir"));
    });
    assert_keel_config_error(&out, "process.cwd", "/no/such/dir");
}

#[test]
fn executable_that_does_not_exist() {
    // Both runtimes fail at create (runc: "exec: ... no such file or
    // directory"), not with exit 127 at start.
    for (test, program) in [
        ("missing_abs_exe", "/no/such/program"),
        ("missing_path_exe", "no-such-program"),
    ] {
        let out = rejected(test, |sb| {
            sb.bundle.args(&[program, "arg"]);
        });
        assert_keel_config_error(&out, "process.args[0]", program);
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
    let out = rejected("use_hierarchy_off", |sb| {
        sb.bundle
            .set("/linux/resources/memory", json!({"useHierarchy": false}));
    });
    assert_keel_config_error(&out, "linux.resources.memory.useHierarchy", "false");
    if is_keel() {
        assert!(out.stderr.contains("config.json: linux."), "{out}");
    }
}
