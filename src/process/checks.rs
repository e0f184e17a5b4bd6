//! What `create` refuses or warns about before it makes anything.

use super::parent::{CreateError, CreateOptions};
use crate::capabilities::{self, CapsHashSet};
use crate::namespaces;
use oci_spec::runtime::LinuxCapabilities;

/// What can be refused before anything exists.
pub(super) fn check_request(opts: &CreateOptions) -> Result<(), CreateError> {
    check_preserved_fds(opts.preserve_fds)?;
    let process = opts.bundle.spec.process().as_ref();
    let terminal = process.and_then(|p| p.terminal()).unwrap_or(false);
    if terminal && opts.console_socket.is_none() && opts.console_fd.is_none() {
        return Err(CreateError::NeedConsoleSocket);
    }
    check_idmap_caller(&opts.bundle.spec)
}

/// Idmapped mounts take CAP_SYS_ADMIN over the source's filesystem, which
/// only root in the host's user namespace has (runc refuses them rootless
/// too). A matter of the caller, not of the config: `features` claims them.
fn check_idmap_caller(spec: &oci_spec::runtime::Spec) -> Result<(), CreateError> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    match crate::rootfs::idmapped(spec).first() {
        Some(m) => Err(CreateError::IdmapNeedsRoot { index: m.index }),
        None => Ok(()),
    }
}

/// What the init can grant (`capabilities::grantable`; empty without
/// process.capabilities, which then leaves the sets alone). config.md: a
/// capability that cannot be granted is logged as a warning, not an error;
/// the init leaves it out. In a user namespace the init holds the full set
/// there, so only the host's limits matter outside one.
/// What the kernel would refuse of the sets is refused here, before the
/// init exists.
pub(super) fn grantable(
    spec: &oci_spec::runtime::Spec,
    plan: &namespaces::Plan,
) -> Result<CapsHashSet, CreateError> {
    let caps = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref());
    let grantable = capabilities::grantable_for(caps, plan.user_ns());
    let Some(caps) = caps else {
        return Ok(grantable);
    };
    if !plan.user_ns() {
        warn_ungrantable(caps, &grantable);
    }
    capabilities::check(caps, &grantable).map_err(CreateError::Capabilities)?;
    Ok(grantable)
}

fn warn_ungrantable(caps: &LinuxCapabilities, grantable: &CapsHashSet) {
    let missing = capabilities::ungrantable(caps, grantable);
    if !missing.is_empty() {
        crate::logging::warn(&format!(
            "process.capabilities: {} cannot be granted on this host (not in the runtime's \
             bounding set): left out",
            missing.join(", ")
        ));
    }
}

fn check_preserved_fds(count: u32) -> Result<(), CreateError> {
    for fd in 3..3 + count {
        // SAFETY: F_GETFD only queries flags.
        if unsafe { libc::fcntl(fd as i32, libc::F_GETFD) } < 0 {
            return Err(CreateError::PreservedFd { count, fd });
        }
    }
    Ok(())
}
