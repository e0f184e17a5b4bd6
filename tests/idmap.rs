//! Idmapped bind mounts (`idmap`, `ridmap`, `mounts[].uidMappings` and
//! `gidMappings`): the owners a container sees through one and the owners
//! its writes get on the host, with and without a user namespace of the
//! container's own; ridmap against idmap on a submount; bad requests.
//!
//! A mount's mappings convert the ids of the source filesystem
//! (`containerID`) into the ids the mount shows (`hostID`), as config.md
//! says and runc and the kernel read them: `{"containerID": 1000,
//! "hostID": 0}` shows the host's user 1000 as root, and root's writes
//! land as 1000 on the host.

mod common;

use common::userns::{map_user, reachable_by_others, HOST, SIZE};
use common::Sandbox;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{chown, MetadataExt};
use std::path::{Path, PathBuf};

/// The host user a container's root stands for in the tests without a
/// user namespace.
const USER: u32 = 1000;

fn map(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

/// A bind mount of `source` at `dest`, with `maps` as both its uid and gid
/// mappings if given.
fn mount(sb: &mut Sandbox, source: &Path, dest: &str, options: &[&str], maps: Option<Value>) {
    fs::create_dir_all(sb.bundle.rootfs().join(dest.trim_start_matches('/'))).unwrap();
    let mut m = json!({"destination": dest, "type": "bind", "source": source, "options": options});
    if let Some(maps) = maps {
        m["uidMappings"] = maps.clone();
        m["gidMappings"] = maps;
    }
    sb.bundle.push("/mounts", m);
}

/// A directory of the sandbox (on the root filesystem, ext4 here, which
/// supports idmapped mounts), owned by `owner`.
fn dir(sb: &Sandbox, name: &str, owner: u32) -> PathBuf {
    let path = sb.dir.join(name);
    fs::create_dir(&path).unwrap();
    chown(&path, Some(owner), Some(owner)).unwrap();
    path
}

fn file(path: &Path, owner: u32) {
    fs::write(path, "x").unwrap();
    chown(path, Some(owner), Some(owner)).unwrap();
}

fn owner(path: &Path) -> (u32, u32) {
    let meta = fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid())
}

fn run_ok(sb: &mut Sandbox) -> Vec<String> {
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    out.stdout.lines().map(str::to_string).collect()
}

/// A host bind mount, undone on drop (before the sandbox's own check for
/// mounts left behind, when declared after it).
struct HostMount(PathBuf);

impl HostMount {
    fn bind(source: &Path, target: &Path) -> HostMount {
        let status = std::process::Command::new("mount")
            .arg("--bind")
            .arg(source)
            .arg(target)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount --bind {source:?} {target:?}");
        HostMount(target.to_path_buf())
    }

    /// A read-only bind of `dir` onto itself.
    fn read_only(dir: &Path) -> HostMount {
        let mount = HostMount::bind(dir, dir);
        let status = std::process::Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "remount {dir:?} read-only");
        mount
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let c = std::ffi::CString::new(self.0.to_str().unwrap()).unwrap();
        // SAFETY: umount2 with a valid C string; MNT_DETACH never blocks.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
fn idmap_shows_the_mapped_owner_and_writes_the_source_owner() {
    let mut sb = Sandbox::new("idmap_basic");
    let src = dir(&sb, "src", USER);
    file(&src.join("users"), USER);
    file(&src.join("roots"), 0);
    let maps = map(USER, 0, 1);
    mount(
        &mut sb,
        &src,
        "/idm",
        &["bind", "idmap"],
        Some(maps.clone()),
    );
    // Mappings alone ask for the same (the options SHOULD name one).
    mount(&mut sb, &src, "/plain", &["bind"], Some(maps));
    sb.bundle.sh(
        "stat -c '%u %g' /idm /idm/users /idm/roots /plain/users && \
         touch /idm/made && mkdir /plain/dir && \
         grep -c ' /idm [^ ]*idmapped' /proc/self/mountinfo",
    );
    let lines = run_ok(&mut sb);
    // The host's root is outside the mapping: the overflow id.
    assert_eq!(
        lines,
        ["0 0", "0 0", "65534 65534", "0 0", "1"],
        "stat inside"
    );
    assert_eq!(owner(&src.join("made")), (USER, USER));
    assert_eq!(owner(&src.join("dir")), (USER, USER));
}

#[test]
fn ridmap_maps_the_mounts_below_and_idmap_only_the_top() {
    let mut sb = Sandbox::new("idmap_ridmap");
    let src = dir(&sb, "src", USER);
    let below = dir(&sb, "below", USER);
    file(&below.join("f"), USER);
    let sub = dir(&sb, "src/sub", USER);
    let _sub = HostMount::bind(&below, &sub);
    let maps = || Some(map(USER, 0, 1));
    mount(&mut sb, &src, "/top", &["rbind", "idmap"], maps());
    mount(&mut sb, &src, "/all", &["rbind", "ridmap"], maps());
    sb.bundle
        .sh("stat -c %u /top /top/sub/f /all /all/sub/f; grep -c idmapped /proc/self/mountinfo");
    let lines = run_ok(&mut sb);
    // /top/sub is not idmapped: it shows the disk's id. /top, /all and
    // /all/sub are.
    assert_eq!(lines, ["0", "1000", "0", "0", "3"], "stat inside");
}

#[test]
fn idmap_in_a_container_with_its_own_user_namespace() {
    let mut sb = Sandbox::new("idmap_userns");
    map_user(&mut sb);
    let src = dir(&sb, "src", 0);
    file(&src.join("roots"), 0);
    reachable_by_others(&src);
    // The mount's mappings are host ids, whatever the container's own
    // namespace maps: the host's root is shown as HOST, the container's root.
    mount(
        &mut sb,
        &src,
        "/own",
        &["bind", "idmap"],
        Some(map(0, HOST, SIZE)),
    );
    // Without mappings the container's user namespace supplies them.
    mount(&mut sb, &src, "/inherit", &["bind", "idmap"], None);
    sb.bundle
        .sh("stat -c '%u %g' /own/roots /inherit/roots /shared && \
         touch /own/made && mkdir /inherit/dir");
    let lines = run_ok(&mut sb);
    // /shared, a plain bind of a root-owned host directory, is the control:
    // the host's root is nobody in the container.
    assert_eq!(lines, ["0 0", "0 0", "65534 65534"], "stat inside");
    assert_eq!(owner(&src.join("made")), (0, 0));
    assert_eq!(owner(&src.join("dir")), (0, 0));
}

#[test]
fn a_read_only_host_mount_stays_read_only_in_a_user_namespace() {
    let mut sb = Sandbox::new("idmap_locked");
    map_user(&mut sb);
    let ro = dir(&sb, "ro", 0);
    let rw = dir(&sb, "rw", 0);
    reachable_by_others(&ro);
    let _ro = HostMount::read_only(&ro);
    let maps = Some(map(0, HOST, SIZE));
    mount(&mut sb, &ro, "/ro", &["bind", "idmap"], maps);
    mount(&mut sb, &rw, "/rw", &["bind", "idmap"], None);
    for set in ["bounding", "effective", "permitted"] {
        sb.bundle.push(
            &format!("/process/capabilities/{set}"),
            json!("CAP_SYS_ADMIN"),
        );
    }
    // The container's root may remount what it mounted (/rw), but the
    // host's read-only flag is locked on the copy of /ro, which the init
    // cloned in the container's mount namespace.
    sb.bundle.sh("mount -o remount,bind,ro /rw; echo $?; \
         mount -o remount,bind,rw /ro 2>/dev/null; echo $?; \
         touch /ro/new 2>/dev/null; echo $?");
    let lines = run_ok(&mut sb);
    assert_eq!(lines[0], "0", "remount of /rw: {lines:?}");
    assert_ne!(lines[1], "0", "/ro was remounted read-write");
    assert_ne!(lines[2], "0", "wrote through /ro");
    assert!(!ro.join("new").exists());
}

#[test]
fn bad_idmapped_mounts_are_refused_with_their_json_path() {
    let mut sb = Sandbox::new("idmap_bad");
    let src = dir(&sb, "src", 0);
    let n = sb.bundle.config["mounts"].as_array().unwrap().len();
    let overlapping = json!([{"containerID": 0, "hostID": HOST, "size": 10},
                             {"containerID": 5, "hostID": 2 * HOST, "size": 10}]);
    let cases = [
        (
            json!({"destination": "/t", "type": "tmpfs", "options": ["idmap"],
                   "uidMappings": map(0, HOST, 1), "gidMappings": map(0, HOST, 1)}),
            format!("mounts[{n}].options[0]"),
            "bind mount",
        ),
        (
            json!({"destination": "/b", "source": src, "options": ["rbind", "ridmap"],
                   "uidMappings": map(0, HOST, 1)}),
            format!("mounts[{n}].gidMappings"),
            "required",
        ),
        (
            json!({"destination": "/b", "source": src, "options": ["bind", "idmap"],
                   "uidMappings": overlapping, "gidMappings": map(0, HOST, 1)}),
            format!("mounts[{n}].uidMappings[1]"),
            "overlap",
        ),
        (
            json!({"destination": "/b", "source": src, "options": ["bind", "idmap"]}),
            format!("mounts[{n}].options[1]"),
            "no user namespace",
        ),
        (
            json!({"destination": "/b", "source": src, "options": ["bind", "idmap"],
                   "uidMappings": [], "gidMappings": map(0, HOST, 1)}),
            format!("mounts[{n}].uidMappings"),
            "at least one",
        ),
    ];
    for (i, (m, path, what)) in cases.into_iter().enumerate() {
        sb.bundle.push("/mounts", m);
        let id = format!("{}-{i}", sb.id);
        sb.create_fails_with_config_error(&id, &path, &[what]);
        sb.bundle.remove(&format!("/mounts/{n}"));
    }
}

#[test]
fn a_filesystem_without_idmapped_mounts_is_named() {
    let mut sb = Sandbox::new("idmap_unsupported");
    let n = sb.bundle.config["mounts"].as_array().unwrap().len();
    // sysfs does not support idmapped mounts.
    mount(
        &mut sb,
        Path::new("/sys/kernel"),
        "/k",
        &["bind", "idmap"],
        Some(map(0, HOST, 1)),
    );
    let id = sb.id.clone();
    // A config error like the others: file, JSON path, value, reason.
    let what = ["/sys/kernel", "does not support idmapped mounts"];
    sb.create_fails_with_config_error(&id, &format!("mounts[{n}].source"), &what);
}
