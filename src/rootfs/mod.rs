//! Root filesystem setup inside the container's mount namespace.
//!
//! INTERFACE CONTRACT (filled in by the rootfs work). Everything here runs in
//! the container init process, as root (no user namespace yet), after it has
//! entered its new mount namespace (and pid/uts/ipc/net/cgroup namespaces),
//! while `/` is still the host's root. The caller sequence is:
//!
//! 1. `prepare(spec, rootfs)` — before the createRuntime/createContainer hooks.
//! 2. (hooks run; console socket connected)
//! 3. `pivot(spec, rootfs, no_pivot)` — switch `/` to the rootfs.
//! 4. (console set up: /dev/console bound by the console module)
//! 5. `finalize(spec)` — masked/readonly paths, read-only root.

use oci_spec::runtime::Spec;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("rootfs: not implemented yet")]
    NotImplemented,
}

/// Make the mount tree private/slave as configured, bind the rootfs onto
/// itself, perform `mounts` in config order (destinations resolved inside the
/// rootfs without following symlinks out of it), create default devices,
/// `linux.devices` and the /dev symlinks. Does not pivot.
pub fn prepare(_spec: &Spec, _rootfs: &Path) -> Result<(), RootfsError> {
    Err(RootfsError::NotImplemented)
}

/// Make `rootfs` the new `/` (pivot_root, or MS_MOVE + chroot with
/// `no_pivot`), chdir to `/`, and apply `linux.rootfsPropagation`.
pub fn pivot(_spec: &Spec, _rootfs: &Path, _no_pivot: bool) -> Result<(), RootfsError> {
    Err(RootfsError::NotImplemented)
}

/// After pivot: `linux.maskedPaths`, `linux.readonlyPaths`, `root.readonly`.
pub fn finalize(_spec: &Spec) -> Result<(), RootfsError> {
    Err(RootfsError::NotImplemented)
}

pub fn validate(_spec: &Spec) -> Vec<(String, String)> {
    Vec::new()
}
