//! The rootfs bind of a container without a mount namespace, in a forked
//! child's private namespace standing in for the runtime's.

use std::path::Path;

use nix::sched::CloneFlags;

use super::harness::{busybox_rootfs, ensure, in_child, is_root, mount_at, TempDir};
use crate::rootfs::{bind_in_runtime_ns, release_runtime_ns_bind, sys};

fn mount_table() -> Result<String, String> {
    std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| format!("mountinfo: {e}"))
}

fn tmpfs(at: &Path) -> Result<(), String> {
    sys::mount(Some(Path::new("tmpfs")), at, Some("tmpfs"), 0, None)
        .map_err(|e| format!("mount tmpfs on {at:?}: {e}"))
}

#[test]
fn the_bind_is_recorded_first_and_release_detaches_it_with_what_is_below() {
    if !is_root() {
        return;
    }
    let tmp = TempDir::new("sharedns");
    let rootfs = busybox_rootfs(&tmp.path);
    let spec = serde_json::from_str(r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"}}"#).unwrap();
    let state_root = tmp.path.join("state");
    in_child(CloneFlags::empty(), || {
        let before = mount_table()?;
        let state = crate::state::create_dir(&state_root, "c").map_err(|e| e.to_string())?;
        bind_in_runtime_ns(&spec, &rootfs, &state).map_err(|e| e.to_string())?;
        let bind = mount_at(rootfs.to_str().unwrap_or_default())?;
        ensure(bind.optional.is_empty(), || {
            format!("the bind propagates: {:?}", bind.optional)
        })?;
        ensure(state.dir.join("rootfs-mount.json").is_file(), || {
            "no record in the state dir".into()
        })?;
        // Someone else's mount over it: release refuses to remove that.
        tmpfs(&rootfs)?;
        let err = release_runtime_ns_bind(&state).err().map(|e| e.to_string());
        ensure(
            err.as_deref().is_some_and(|e| e.contains("covered")),
            || format!("release over a foreign mount: {err:?}"),
        )?;
        sys::umount_detach(&rootfs).map_err(|e| format!("umount: {e}"))?;
        // A mount below it (the container's) goes with it.
        tmpfs(&rootfs.join("tmp"))?;
        release_runtime_ns_bind(&state).map_err(|e| e.to_string())?;
        ensure(mount_table()? == before, || {
            "the mount table changed".into()
        })?;
        // Released again (a retried delete): nothing to do.
        release_runtime_ns_bind(&state).map_err(|e| e.to_string())
    })
    .unwrap();
}
