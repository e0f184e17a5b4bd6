//! Giving a test container a new user namespace: the mappings and a rootfs
//! the mapped root owns, as an engine prepares an image for one.

use super::Sandbox;
use serde_json::json;
use std::fs;
use std::path::Path;

/// Host ids the containers' ids 0..SIZE map to (root runs the tests, so
/// no /etc/subuid delegation is involved).
pub const HOST: u32 = 100_000;
pub const SIZE: u32 = 65_536;

/// Give the sandbox's container a new user namespace mapping 0..SIZE to
/// HOST.., with its rootfs owned by the mapped root.
pub fn map_user(sb: &mut Sandbox) {
    sb.bundle.push("/linux/namespaces", json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": HOST, "size": SIZE}]);
    sb.bundle.set("/linux/uidMappings", map.clone());
    sb.bundle.set("/linux/gidMappings", map);
    chown_tree(&sb.bundle.rootfs(), HOST);
    let rootfs = sb.bundle.rootfs();
    reachable_by_others(&rootfs);
}

/// The mapped root is "other" to the host's directories: it must be able
/// to walk to its rootfs (as with runc). Adds o+x to every ancestor.
pub fn reachable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for dir in path.ancestors().skip(1) {
        let mode = fs::metadata(dir).unwrap().permissions().mode();
        if mode & 0o001 == 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o001)).unwrap();
        }
    }
}

pub fn chown_tree(path: &Path, id: u32) {
    let status = std::process::Command::new("chown")
        .args(["-R", "-h", &format!("{id}:{id}")])
        .arg(path)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown -R {id} {}", path.display());
}
