//! Root-only tests: each builds a busybox rootfs in a temp dir and runs the
//! phases in a forked child with a private mount namespace, checking the
//! result from inside. Skipped (with a note) when not run as root.

mod harness;
mod shared_ns;

use std::os::unix::fs::symlink;
use std::path::Path;

use nix::sched::CloneFlags;
use oci_spec::runtime::Spec;

use harness::{busybox_rootfs, ensure, in_child, is_ro, is_root, lstat, mount_at, TempDir};

/// The spec in `json`, in a mount namespace of its own (the tests run in a
/// forked child that has one) unless it names its namespaces itself.
fn spec(json: &str) -> Spec {
    let mut value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad test spec: {e}\n{json}"));
    if value.pointer("/linux/namespaces").is_none() {
        // serde_json makes a missing "linux" an object on the way.
        value["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
    }
    serde_json::from_value(value).unwrap_or_else(|e| panic!("bad test spec: {e}\n{json}"))
}

/// The mount phases as the init runs them, for configs without idmapped
/// mounts (their trees need the parent).
fn prepare(
    s: &Spec,
    rootfs: &Path,
    before_cgroup: &mut dyn FnMut() -> Result<Option<String>, String>,
) -> Result<(), super::RootfsError> {
    let prepared = super::prepare_root(s, rootfs)?;
    super::mount(s, &prepared, super::Trees::default(), before_cgroup)
}

fn skip_unless_root() -> bool {
    if !is_root() {
        eprintln!("skipping: needs root");
    }
    !is_root()
}

/// The usual mounts of a `runc spec` config, plus test-specific extras.
fn base_mounts(extra: &str) -> String {
    format!(
        r#"[
        {{"destination":"/proc","type":"proc","source":"proc"}},
        {{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}},
        {{"destination":"/dev/pts","type":"devpts","source":"devpts",
          "options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]}},
        {{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]}},
        {{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]}},
        {{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}},
        {{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}}
        {extra}]"#
    )
}

fn check_fs(path: &str, fstype: &str, ro: bool) -> Result<(), String> {
    let m = mount_at(path)?;
    ensure(m.fstype == fstype, || {
        format!("{path}: fstype {} != {fstype}", m.fstype)
    })?;
    ensure(is_ro(&m) == ro, || {
        format!("{path}: ro={} (opts {})", is_ro(&m), m.mount_opts)
    })
}

fn check_node(
    path: &str,
    kind: u32,
    major: u32,
    minor: u32,
    mode: u32,
    uid: u32,
) -> Result<(), String> {
    let st = lstat(path)?;
    let got = (
        st.st_mode & libc::S_IFMT,
        libc::major(st.st_rdev),
        libc::minor(st.st_rdev),
    );
    ensure(got == (kind, major, minor), || {
        format!("{path}: type/dev {got:?}")
    })?;
    ensure(st.st_mode & 0o7777 == mode, || {
        format!("{path}: mode {:o} != {mode:o}", st.st_mode & 0o7777)
    })?;
    ensure(st.st_uid == uid, || format!("{path}: uid {}", st.st_uid))
}

fn check_link(path: &str, target: &str) -> Result<(), String> {
    let t = std::fs::read_link(path).map_err(|e| format!("readlink {path}: {e}"))?;
    ensure(t == Path::new(target), || {
        format!("{path} -> {t:?}, want {target}")
    })
}

fn write_fails_erofs(path: &str) -> Result<(), String> {
    match std::fs::write(path, b"x") {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => Ok(()),
        other => Err(format!("write {path}: expected EROFS, got {other:?}")),
    }
}

fn check_full_container() -> Result<(), String> {
    ensure(is_ro(&mount_at("/")?), || "/ is not read-only".into())?;
    ensure(Path::new("/bin/busybox").exists(), || {
        "no /bin/busybox after pivot".into()
    })?;
    check_fs("/proc", "proc", false)?;
    check_fs("/dev", "tmpfs", false)?;
    check_fs("/dev/pts", "devpts", false)?;
    check_fs("/dev/shm", "tmpfs", false)?;
    check_fs("/dev/mqueue", "mqueue", false)?;
    check_fs("/sys", "sysfs", true)?;
    check_fs("/sys/fs/cgroup", "tmpfs", true)?;
    check_fs("/sys/fs/cgroup/memory", "cgroup", true)?;
    check_fs("/sys/fs/cgroup/unified", "cgroup2", true)?;
    check_fs("/ro-tmp", "tmpfs", true)?;
    check_node("/dev/null", libc::S_IFCHR, 1, 3, 0o666, 0)?;
    check_node("/dev/tty", libc::S_IFCHR, 5, 0, 0o666, 0)?;
    check_node("/dev/urandom", libc::S_IFCHR, 1, 9, 0o666, 0)?;
    check_node("/dev/fuse", libc::S_IFCHR, 10, 229, 0o600, 1000)?;
    check_node("/dev/fifo", libc::S_IFIFO, 0, 0, 0o644, 0)?;
    check_link("/dev/ptmx", "pts/ptmx")?;
    check_link("/dev/fd", "/proc/self/fd")?;
    check_link("/dev/stderr", "/proc/self/fd/2")?;
    let data =
        std::fs::read_to_string("/data/hello").map_err(|e| format!("read /data/hello: {e}"))?;
    ensure(data == "hi", || format!("/data/hello: {data:?}"))?;
    write_fails_erofs("/data/new")?;
    let file =
        std::fs::read_to_string("/etc/hostfile").map_err(|e| format!("read /etc/hostfile: {e}"))?;
    ensure(file == "file", || format!("/etc/hostfile: {file:?}"))?;
    check_fs("/etc/sub", "tmpfs", false)?;
    write_fails_erofs("/rdata/new")?;
    let rdata = mount_at("/rdata")?;
    let shared = rdata.optional.iter().any(|o| o.starts_with("shared:"));
    ensure(shared, || {
        format!("/rdata is not shared: {:?}", rdata.optional)
    })?;
    check_fs("/proc/sys", "proc", true)?;
    check_fs("/sys/firmware", "tmpfs", true)?;
    let masked = std::fs::read_to_string("/proc/timer_list")
        .map_err(|e| format!("read /proc/timer_list: {e}"))?;
    ensure(masked.is_empty(), || {
        "/proc/timer_list is not masked".into()
    })?;
    let cwd = std::env::current_dir().map_err(|e| format!("getcwd: {e}"))?;
    ensure(cwd == Path::new("/"), || format!("cwd {cwd:?}"))
}

#[test]
fn full_config_with_pivot_root() {
    if skip_unless_root() {
        return;
    }
    let tmp = TempDir::new("full");
    let rootfs = busybox_rootfs(&tmp.path);
    let host = tmp.path.join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("hello"), "hi").unwrap();
    std::fs::write(tmp.path.join("hostfile"), "file").unwrap();
    // An absolute symlink to /etc: mounts through it must land in the
    // rootfs's /etc, never the host's.
    symlink("/etc", rootfs.join("evil")).unwrap();
    let extra = format!(
        r#",{{"destination":"/data","type":"bind","source":"{}","options":["rbind","ro"]}},
        {{"destination":"/etc/hostfile","type":"none","source":"{}","options":["bind","ro","nosuid"]}},
        {{"destination":"/evil/sub","type":"tmpfs","source":"tmpfs"}},
        {{"destination":"/ro-tmp","type":"tmpfs","source":"tmpfs","options":["ro"]}},
        {{"destination":"/rdata","type":"bind","source":"{}","options":["rbind","rro","rshared"]}}"#,
        host.display(),
        tmp.path.join("hostfile").display(),
        host.display()
    );
    let s = spec(&format!(
        r#"{{"ociVersion":"1.2.0","root":{{"path":"rootfs","readonly":true}},"mounts":{},
        "linux":{{"namespaces":[{{"type":"mount"}}],
          "devices":[{{"path":"/dev/null","type":"c","major":1,"minor":3}},
            {{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":384,"uid":1000,"gid":1000}},
            {{"path":"/dev/fifo","type":"p","fileMode":420}}],
          "maskedPaths":["/proc/kcore","/proc/timer_list","/sys/firmware","/does/not/exist"],
          "readonlyPaths":["/proc/sys","/proc/sysrq-trigger"]}}}}"#,
        base_mounts(&extra)
    ));
    assert_eq!(super::validate(&s), Vec::new());
    let res = in_child(CloneFlags::empty(), || {
        prepare(&s, &rootfs, &mut || Ok(None)).map_err(|e| format!("prepare: {e}"))?;
        super::pivot(&s, &rootfs, false).map_err(|e| format!("pivot: {e}"))?;
        super::finalize(&s).map_err(|e| format!("finalize: {e}"))?;
        check_full_container()
    });
    res.unwrap();
    assert!(
        !Path::new("/etc/sub").exists(),
        "a mount point was created on the host"
    );
    assert!(
        rootfs.join("etc/sub").is_dir(),
        "mount point not created inside the rootfs"
    );
    assert!(
        rootfs.join("etc/hostfile").is_file(),
        "file mount point not created"
    );
}

#[test]
fn no_pivot_moves_root_and_hides_host_proc() {
    if skip_unless_root() {
        return;
    }
    let tmp = TempDir::new("nopivot");
    let rootfs = busybox_rootfs(&tmp.path);
    let s = spec(&format!(
        r#"{{"ociVersion":"1.2.0","root":{{"path":"rootfs"}},"mounts":{},
        "linux":{{"maskedPaths":["/proc/timer_list"],"readonlyPaths":["/proc/sys"]}}}}"#,
        base_mounts("")
    ));
    assert!(super::validate_no_pivot(&s).is_empty());
    in_child(CloneFlags::empty(), || {
        prepare(&s, &rootfs, &mut || Ok(None)).map_err(|e| format!("prepare: {e}"))?;
        super::pivot(&s, &rootfs, true).map_err(|e| format!("pivot: {e}"))?;
        super::finalize(&s).map_err(|e| format!("finalize: {e}"))?;
        ensure(Path::new("/bin/busybox").exists(), || {
            "no /bin/busybox after chroot".into()
        })?;
        check_fs("/proc", "proc", false)?;
        check_fs("/proc/sys", "proc", true)?;
        check_node("/dev/zero", libc::S_IFCHR, 1, 5, 0o666, 0)?;
        // Only the container's procfs and sysfs may remain in the namespace.
        let mounts = super::mountinfo::read_self().map_err(|e| e.to_string())?;
        let stray = mounts
            .iter()
            .filter(|m| m.fstype == "proc" && m.root == Path::new("/"))
            .count();
        ensure(stray == 1, || format!("{stray} full procfs mounts visible"))
    })
    .unwrap();
}

#[test]
fn cgroup_namespace_gets_fresh_hierarchies() {
    if skip_unless_root() {
        return;
    }
    let tmp = TempDir::new("cgns");
    let rootfs = busybox_rootfs(&tmp.path);
    let s = spec(&format!(
        r#"{{"ociVersion":"1.2.0","root":{{"path":"rootfs"}},"mounts":{},
        "linux":{{"namespaces":[{{"type":"mount"}},{{"type":"cgroup"}}]}}}}"#,
        base_mounts("")
    ));
    in_child(CloneFlags::CLONE_NEWCGROUP, || {
        prepare(&s, &rootfs, &mut || Ok(None)).map_err(|e| format!("prepare: {e}"))?;
        super::pivot(&s, &rootfs, false).map_err(|e| format!("pivot: {e}"))?;
        super::finalize(&s).map_err(|e| format!("finalize: {e}"))?;
        check_fs("/sys/fs/cgroup", "tmpfs", true)?;
        for (dir, fstype) in [
            ("memory", "cgroup"),
            ("systemd", "cgroup"),
            ("unified", "cgroup2"),
        ] {
            let path = format!("/sys/fs/cgroup/{dir}");
            check_fs(&path, fstype, true)?;
            let m = mount_at(&path)?;
            ensure(m.root == Path::new("/"), || {
                format!("{path}: root {:?}, want the namespace root", m.root)
            })?;
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn symlinks_cannot_lead_mounts_or_devices_out() {
    if skip_unless_root() {
        return;
    }
    let tmp = TempDir::new("escape");
    let rootfs = busybox_rootfs(&tmp.path);
    symlink("/etc", rootfs.join("abs")).unwrap();
    symlink("../../../../../../etc", rootfs.join("rel")).unwrap();
    // /dev itself is a symlink out, and no tmpfs covers it.
    std::fs::remove_dir(rootfs.join("dev")).unwrap();
    symlink("/etc", rootfs.join("dev")).unwrap();
    let s = spec(
        r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},"mounts":[
        {"destination":"/abs/keel-a","type":"tmpfs","source":"tmpfs"},
        {"destination":"/rel/keel-b","type":"tmpfs","source":"tmpfs"},
        {"destination":"/abs","type":"tmpfs","source":"tmpfs"}],
        "linux":{"devices":[{"path":"/dev/keel-null","type":"c","major":1,"minor":3}]}}"#,
    );
    let root = rootfs.clone();
    in_child(CloneFlags::empty(), || {
        prepare(&s, &root, &mut || Ok(None)).map_err(|e| format!("prepare: {e}"))?;
        for dest in ["etc/keel-a", "etc/keel-b", "etc"] {
            let path = root.join(dest);
            let m = mount_at(path.to_str().unwrap_or_default())?;
            ensure(m.fstype == "tmpfs", || format!("{path:?}: {}", m.fstype))?;
        }
        let mounts = super::mountinfo::read_self().map_err(|e| e.to_string())?;
        let escaped = mounts.iter().find(|m| m.mount_point.starts_with("/etc"));
        ensure(escaped.is_none(), || {
            format!("mount escaped the rootfs: {escaped:?}")
        })?;
        // /dev resolved to the rootfs's /etc (now the tmpfs mounted there).
        let node = root.join("etc/keel-null");
        check_node(
            node.to_str().unwrap_or_default(),
            libc::S_IFCHR,
            1,
            3,
            0o666,
            0,
        )?;
        check_link(
            root.join("etc/ptmx").to_str().unwrap_or_default(),
            "pts/ptmx",
        )
    })
    .unwrap();
    for name in ["keel-a", "keel-b", "keel-null", "null", "fd", "ptmx"] {
        assert!(
            !Path::new("/etc").join(name).exists(),
            "/etc/{name} was created on the host"
        );
    }
}

#[test]
fn proc_through_symlink_and_bad_options_are_refused() {
    if skip_unless_root() {
        return;
    }
    let tmp = TempDir::new("refuse");
    let rootfs = busybox_rootfs(&tmp.path);
    std::fs::remove_dir(rootfs.join("proc")).unwrap();
    symlink("/tmp", rootfs.join("proc")).unwrap();
    let s = spec(
        r#"{"ociVersion":"1.2.0","mounts":[{"destination":"/proc","type":"proc","source":"proc"}]}"#,
    );
    let err = in_child(CloneFlags::empty(), || {
        match prepare(&s, &rootfs, &mut || Ok(None)) {
            Ok(()) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    })
    .unwrap_err();
    assert!(
        err.contains("config.json: mounts[0]: \"/proc\" contains a symlink"),
        "{err}"
    );

    let s = spec(&format!(
        r#"{{"ociVersion":"1.2.0","mounts":[{{"destination":"/x","type":"bind","source":"{}","options":["bind","foo"]}}]}}"#,
        tmp.path.display()
    ));
    let err = in_child(CloneFlags::empty(), || {
        prepare(&s, &rootfs, &mut || Ok(None)).map_err(|e| e.to_string())
    })
    .unwrap_err();
    assert!(
        err.contains(
            "config.json: mounts[0].options[1]: unknown mount option \"foo\" for a bind mount"
        ),
        "{err}"
    );
    let s = spec(
        r#"{"ociVersion":"1.2.0","mounts":[{"destination":"/x","type":"bind","source":"/nonexistent/keel"}]}"#,
    );
    let err = in_child(CloneFlags::empty(), || {
        prepare(&s, &rootfs, &mut || Ok(None)).map_err(|e| e.to_string())
    })
    .unwrap_err();
    assert!(
        err.contains(
            "config.json: mounts[0]: stat bind source \"/nonexistent/keel\": No such file"
        ),
        "{err}"
    );
}

#[test]
fn root_propagation_is_applied_after_pivot() {
    if skip_unless_root() {
        return;
    }
    let cases = [
        ("shared", Some("shared:")),
        ("rshared", Some("shared:")),
        ("slave", None),
        ("rprivate", None),
        ("unbindable", Some("unbindable")),
    ];
    for (value, marker) in cases {
        let tmp = TempDir::new("prop");
        let rootfs = busybox_rootfs(&tmp.path);
        let s = spec(&format!(
            r#"{{"ociVersion":"1.2.0","mounts":[{{"destination":"/proc","type":"proc","source":"proc"}}],
            "linux":{{"rootfsPropagation":"{value}"}}}}"#
        ));
        in_child(CloneFlags::empty(), || {
            prepare(&s, &rootfs, &mut || Ok(None)).map_err(|e| format!("prepare: {e}"))?;
            super::pivot(&s, &rootfs, false).map_err(|e| format!("pivot: {e}"))?;
            let root = mount_at("/")?;
            let found = |m: &str| root.optional.iter().any(|o| o.starts_with(m));
            match marker {
                Some(m) => ensure(found(m), || format!("{value}: / has {:?}", root.optional)),
                None => ensure(!found("shared:"), || {
                    format!("{value}: / is shared: {:?}", root.optional)
                }),
            }
        })
        .unwrap_or_else(|e| panic!("rootfsPropagation {value}: {e}"));
    }
}

#[test]
fn finalize_without_proc_mounts_by_path() {
    if skip_unless_root() {
        return;
    }
    let tmp = TempDir::new("noproc");
    let rootfs = busybox_rootfs(&tmp.path);
    let s = spec(
        r#"{"ociVersion":"1.2.0","root":{"path":"rootfs","readonly":true},"mounts":[
        {"destination":"/dev","type":"tmpfs","source":"tmpfs"},
        {"destination":"/sys","type":"sysfs","source":"sysfs"}],
        "linux":{"maskedPaths":["/sys/firmware","/sys/kernel/notes","/proc/kcore"],"readonlyPaths":["/sys/kernel"]}}"#,
    );
    in_child(CloneFlags::empty(), || {
        prepare(&s, &rootfs, &mut || Ok(None)).map_err(|e| format!("prepare: {e}"))?;
        super::pivot(&s, &rootfs, false).map_err(|e| format!("pivot: {e}"))?;
        super::finalize(&s).map_err(|e| format!("finalize: {e}"))?;
        let ro = |p: &str| {
            super::sys::mount_flags(Path::new(p))
                .map(|f| f & libc::MS_RDONLY != 0)
                .map_err(|e| e.to_string())
        };
        for p in ["/", "/sys/kernel", "/sys/firmware"] {
            ensure(ro(p) == Ok(true), || {
                format!("{p} is not read-only: {:?}", ro(p))
            })?;
        }
        ensure(ro("/sys/class") == Ok(false), || {
            "/sys/class became read-only".into()
        })?;
        let fw = super::sys::statfs(Path::new("/sys/firmware")).map_err(|e| e.to_string())?;
        ensure(fw.f_type == libc::TMPFS_MAGIC, || {
            "/sys/firmware is not masked by a tmpfs".into()
        })?;
        let notes = std::fs::read("/sys/kernel/notes").map_err(|e| format!("read notes: {e}"))?;
        ensure(notes.is_empty(), || {
            "/sys/kernel/notes is not masked".into()
        })
    })
    .unwrap();
}
