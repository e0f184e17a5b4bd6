//! process.capabilities: the five sets, applied with the caps crate.

pub use caps::CapsHashSet;
use caps::{CapSet, Capability};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum CapError {
    #[error("process.capabilities.{set}: unknown capability {name:?}")]
    Unknown { set: &'static str, name: String },
    #[error("process.capabilities.{set}: {source}")]
    Apply {
        set: &'static str,
        source: caps::errors::CapsError,
    },
    #[error("process.capabilities.{set}: {cap} is not in process.capabilities.permitted")]
    NotPermitted { set: &'static str, cap: Capability },
    #[error("process.capabilities: capset: {source}")]
    Set { source: std::io::Error },
}

/// The kernel names of a spec capability set, e.g. "CAP_KILL", without those
/// outside `grantable`: config.md (since 1.1.0) says a capability that
/// cannot be granted is a warning, and a runtime SHOULD NOT fail for it.
fn convert(
    set: &'static str,
    caps: &Option<Capabilities>,
    grantable: &CapsHashSet,
) -> Result<CapsHashSet, CapError> {
    let mut out = CapsHashSet::new();
    for cap in caps.iter().flatten() {
        let name = format!("CAP_{cap}");
        let parsed = Capability::from_str(&name).map_err(|_| CapError::Unknown { set, name })?;
        if grantable.contains(&parsed) {
            out.insert(parsed);
        }
    }
    Ok(out)
}

/// What the init (or an exec'd process) can hand on: the bounding set it
/// will hold, which capset and execve never go beyond. Read by the parent
/// before the fork, once, rather than probed again capability by
/// capability in the child. Outside a user namespace that is the runtime's
/// own bounding set (a host that withholds one, as this project's machines
/// withhold CAP_SYS_RESOURCE, makes it ungrantable to every container).
/// Entering a user namespace, new or joined, resets the bounding set to
/// every capability the kernel knows.
pub fn grantable(in_user_ns: bool) -> CapsHashSet {
    if in_user_ns {
        return caps::runtime::procfs_all_supported(None)
            .unwrap_or_else(|_| caps::runtime::thread_all_supported());
    }
    // One read of /proc/self/status instead of a prctl per capability.
    let status = crate::procfs::read::text("/proc/self/status").unwrap_or_default();
    match crate::procfs::status_mask(&status, "CapBnd:") {
        Some(mask) => caps::all()
            .into_iter()
            .filter(|c| mask & c.bitmask() != 0)
            .collect(),
        None => caps::read(None, CapSet::Bounding).unwrap_or_else(|_| caps::all()),
    }
}

/// `grantable` for a process whose process.capabilities are `caps`:
/// nothing to read without them (the sets are then left as they are).
pub fn grantable_for(caps: Option<&LinuxCapabilities>, in_user_ns: bool) -> CapsHashSet {
    caps.map_or_else(CapsHashSet::new, |_| grantable(in_user_ns))
}

/// What the kernel would refuse of `spec` at capset: an effective
/// capability outside the permitted set. Checked by the parent before it
/// makes the process, so the error names the field instead of a capset
/// failure in the child.
pub fn check(spec: &LinuxCapabilities, grantable: &CapsHashSet) -> Result<(), CapError> {
    let permitted = convert("permitted", spec.permitted(), grantable)?;
    let effective = convert("effective", spec.effective(), grantable)?;
    match effective.iter().find(|c| !permitted.contains(c)) {
        Some(cap) => Err(CapError::NotPermitted {
            set: "effective",
            cap: *cap,
        }),
        None => Ok(()),
    }
}

/// The capabilities `spec` asks for, in any set, that `grantable` lacks,
/// sorted, for the warning config.md requires.
pub fn ungrantable(spec: &LinuxCapabilities, grantable: &CapsHashSet) -> Vec<String> {
    let sets = [
        spec.bounding(),
        spec.effective(),
        spec.inheritable(),
        spec.permitted(),
        spec.ambient(),
    ];
    let mut out: Vec<String> = sets
        .into_iter()
        .flatten()
        .flatten()
        .map(|cap| format!("CAP_{cap}"))
        .filter(|name| Capability::from_str(name).is_ok_and(|c| !grantable.contains(&c)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Drop the bounding set to what is configured. Needs CAP_SETPCAP, so it
/// runs before the uid change. What the set already lacks (or the kernel
/// does not know) needs no drop.
pub fn drop_bounding(spec: &LinuxCapabilities, grantable: &CapsHashSet) -> Result<(), CapError> {
    let keep = convert("bounding", spec.bounding(), grantable)?;
    for cap in grantable.iter().filter(|c| !keep.contains(c)) {
        caps::drop(None, CapSet::Bounding, *cap).map_err(|source| CapError::Apply {
            set: "bounding",
            source,
        })?;
    }
    Ok(())
}

/// Set the effective, permitted, inheritable and ambient sets. Runs after
/// the uid change (with PR_SET_KEEPCAPS held across it).
///
/// One capset sets the first three: the kernel checks the new sets against
/// the old permitted set as a whole, so no order among them is needed (the
/// caps crate's per-set calls cost a capget and a capset each). Ambient
/// capabilities are cleared with one call and raised one by one, rather
/// than each of the kernel's capabilities set or lowered in turn.
pub fn apply(spec: &LinuxCapabilities, grantable: &CapsHashSet) -> Result<(), CapError> {
    let permitted = convert("permitted", spec.permitted(), grantable)?;
    let effective = convert("effective", spec.effective(), grantable)?;
    let inheritable = convert("inheritable", spec.inheritable(), grantable)?;
    let ambient = convert("ambient", spec.ambient(), grantable)?;
    // `check` refused an effective set outside the permitted one before
    // the fork; the kernel's EPERM stays the backstop.
    crate::syscall::capset(mask(&effective), mask(&permitted), mask(&inheritable))
        .map_err(|source| CapError::Set { source })?;
    let apply_err = |source| CapError::Apply {
        set: "ambient",
        source,
    };
    caps::clear(None, CapSet::Ambient).map_err(apply_err)?;
    for cap in &ambient {
        caps::raise(None, CapSet::Ambient, *cap).map_err(apply_err)?;
    }
    Ok(())
}

/// The kernel's bit mask of `set`.
fn mask(set: &CapsHashSet) -> u64 {
    set.iter().fold(0, |m, c| m | c.bitmask())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounding_set_is_read_from_status() {
        let status = "Name:\tkeel\nCapEff:\t0000000000000001\nCapBnd:\t000001fffeffffff\n";
        let mask = crate::procfs::status_mask;
        assert_eq!(mask(status, "CapBnd:"), Some(0x1fffeffffff));
        assert_eq!(mask(status, "CapAmb:"), None);
        assert_eq!(mask("CapBnd:\tzz\n", "CapBnd:"), None);
        // This process's own reading agrees with the kernel's, bit by bit.
        let read = grantable(false);
        let probed = caps::read(None, CapSet::Bounding).unwrap();
        assert_eq!(read, probed);
    }

    #[test]
    fn spec_names_map_to_kernel_names() {
        let caps: Capabilities = [oci_spec::runtime::Capability::NetBindService]
            .into_iter()
            .collect();
        let set = convert("bounding", &Some(caps), &caps::all()).unwrap();
        assert!(set.contains(&Capability::CAP_NET_BIND_SERVICE));
    }

    #[test]
    fn capabilities_outside_the_grantable_set_are_left_out_and_named() {
        use oci_spec::runtime::Capability as Spec;
        let caps: Capabilities = [Spec::Kill, Spec::SysResource].into_iter().collect();
        let grantable: CapsHashSet = [Capability::CAP_KILL].into_iter().collect();
        let set = convert("permitted", &Some(caps.clone()), &grantable).unwrap();
        assert_eq!(set, grantable);
        // The builder's defaults fill the other sets; every set is given.
        let spec = oci_spec::runtime::LinuxCapabilitiesBuilder::default()
            .bounding(caps.clone())
            .effective(caps.clone())
            .inheritable(caps.clone())
            .permitted(caps.clone())
            .ambient(caps)
            .build()
            .unwrap();
        assert_eq!(ungrantable(&spec, &grantable), ["CAP_SYS_RESOURCE"]);
    }
}
