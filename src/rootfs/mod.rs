//! Root filesystem setup inside the container's mount namespace.
//!
//! Everything here runs in the container init process, as root (of the
//! container's user namespace, if it has one), after it has entered its new
//! mount namespace (and pid/uts/ipc/net/cgroup namespaces), while `/` is
//! still the host's root.
//! A container without a mount namespace shares the runtime's instead:
//! see `shared_ns` for how its mounts stay apart and are removed. The
//! caller sequence is:
//!
//! 0. `validate(spec)` — before anything is created; a non-empty result
//!    means the config cannot be run (also `validate_no_pivot` with
//!    `--no-pivot`). Without a mount namespace, `keel create` then calls
//!    `bind_in_runtime_ns` before the init exists.
//! 1. `prepare_root(spec, rootfs)`, then `clone_idmapped(spec)` (the
//!    caller has the parent map the trees, see idmap.rs), then
//!    `mount(spec, &prepared, trees, before_cgroup)` — before the
//!    createRuntime/createContainer hooks; `before_cgroup` runs just
//!    before the first cgroup mount.
//! 2. (hooks run; console socket connected)
//! 3. `pivot(spec, rootfs, no_pivot)` — switch `/` to the rootfs.
//! 4. (console set up: /dev/console bound by the console module)
//! 5. `finalize(spec)` — read-only remounts, readonly/masked paths.

mod bind;
mod cgroup_mount;
mod copyup;
mod devices;
mod error;
mod idmap;
mod mountinfo;
mod mounts;
mod options;
mod paths;
mod pivot;
mod resolve;
mod shared_ns;
mod sys;
mod validate;

#[cfg(test)]
mod tests;

use oci_spec::runtime::Spec;
use std::path::Path;

pub use error::{RootfsError, StepError};
pub use idmap::{idmapped, Idmapped, Trees};
pub use shared_ns::shares_runtime_ns;

/// Config problems `prepare`/`pivot`/`finalize` would fail on, found without
/// side effects, as (JSON path, message), e.g. `("mounts[3].options[1]",
/// "unknown mount option \"foo\" for a bind mount")`.
pub fn validate(spec: &Spec) -> Vec<(String, String)> {
    validate::validate(spec)
}

/// Every mount option name keel recognises, for `features`.
pub fn mount_options() -> Vec<&'static str> {
    options::recognised()
}

/// Additional problems when the container is to run with `--no-pivot`.
pub fn validate_no_pivot(spec: &Spec) -> Vec<(String, String)> {
    validate::validate_no_pivot(spec)
}

/// Without a mount namespace: bind the rootfs onto itself in the runtime's
/// mount namespace, once `state` records where (see `shared_ns`).
pub fn bind_in_runtime_ns(
    spec: &Spec,
    rootfs: &Path,
    state: &crate::state::Container,
) -> Result<(), RootfsError> {
    shared_ns::bind(spec, rootfs, state)
}

/// Detach the mount `bind_in_runtime_ns` recorded in `state`, and every
/// mount below it; nothing to do for a container that made none.
pub fn release_runtime_ns_bind(state: &crate::state::Container) -> Result<(), RootfsError> {
    shared_ns::release_recorded(state)
}

/// The rootfs while its mounts are made.
pub struct Prepared {
    root: resolve::Root,
}

/// Make the mount tree slave (or as `linux.rootfsPropagation` says), make
/// the rootfs's parent mount unshared and bind the rootfs onto itself
/// (without a mount namespace, none of this: `bind_in_runtime_ns` did it).
/// `rootfs` must be absolute and canonical.
pub fn prepare_root(spec: &Spec, rootfs: &Path) -> Result<Prepared, RootfsError> {
    if !shared_ns::shares_runtime_ns(spec) {
        pivot::prepare_root(spec, rootfs)?;
    }
    let root = resolve::Root::open(rootfs).map_err(|e| RootfsError::Root {
        rootfs: rootfs.to_path_buf(),
        err: StepError::sys("open", e),
    })?;
    Ok(Prepared { root })
}

/// Detached copies of the sources of the idmapped mounts, cloned in the
/// caller's mount namespace, for the parent to give their mappings
/// before `mount` attaches them. Empty without idmapped mounts.
pub fn clone_idmapped(spec: &Spec) -> Result<Trees, RootfsError> {
    idmap::clone_trees(spec)
}

/// Perform `mounts` in config order (destinations resolved inside the
/// rootfs without following symlinks out of it; idmapped ones from
/// `trees`); create the default devices, `linux.devices` and the /dev
/// symlinks (unless /dev is a bind mount). Does not pivot. A relative
/// bind-mount source is taken relative to the current directory (the
/// bundle, as with runc). Runs while the host's /proc is still mounted,
/// since mount points are addressed through /proc/self/fd.
///
/// `before_cgroup` runs once, just before the first cgroup mount: the
/// caller enters its cgroup namespace there, as late as it can, so that
/// the mounts before it overlap the parent's placing of the init; or it
/// returns the /proc/self/cgroup text the init will have once placed, for
/// the cgroup mounts to bind without waiting for the placement.
pub fn mount(
    spec: &Spec,
    prepared: &Prepared,
    trees: Trees,
    before_cgroup: &mut dyn FnMut() -> Result<Option<String>, String>,
) -> Result<(), RootfsError> {
    mounts::mount_all(spec, &prepared.root, trees, before_cgroup)?;
    devices::setup(spec, &prepared.root)
}

/// Make `rootfs` the new `/` (pivot_root, or MS_MOVE + chroot with
/// `no_pivot`, or only chroot without a mount namespace), chdir to `/`,
/// and apply `linux.rootfsPropagation`. Standard
/// descriptors that pointed at the host's /dev/null are re-pointed at the
/// container's.
pub fn pivot(spec: &Spec, rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    pivot::pivot(spec, rootfs, no_pivot)?;
    if devices::needs_setup(spec) {
        pivot::reopen_dev_null()?;
    }
    Ok(())
}

/// After pivot: read-only remount of tmpfs mounts (and /dev) that asked for
/// "ro", `root.readonly`, `linux.readonlyPaths`, `linux.maskedPaths`.
pub fn finalize(spec: &Spec) -> Result<(), RootfsError> {
    paths::finalize(spec)
}
