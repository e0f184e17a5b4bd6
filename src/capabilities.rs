//! process.capabilities: the five sets, applied with the caps crate.

use caps::{CapSet, Capability, CapsHashSet};
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

/// What this process can hand on: its bounding set, which is also what
/// this kernel knows (capset and execve never raise a capability outside
/// it). A host that withholds one, as this project's machines withhold
/// CAP_SYS_RESOURCE, makes it ungrantable to every container.
pub fn grantable() -> CapsHashSet {
    caps::read(None, CapSet::Bounding).unwrap_or_else(|_| caps::all())
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
/// runs before the uid change.
pub fn drop_bounding(spec: &LinuxCapabilities, grantable: &CapsHashSet) -> Result<(), CapError> {
    let keep = convert("bounding", spec.bounding(), grantable)?;
    for cap in caps::all() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|source| CapError::Apply {
                set: "bounding",
                source,
            })?;
        }
    }
    Ok(())
}

/// Set the effective, permitted, inheritable and ambient sets. Runs after
/// the uid change (with PR_SET_KEEPCAPS held across it).
pub fn apply(spec: &LinuxCapabilities, grantable: &CapsHashSet) -> Result<(), CapError> {
    let permitted = convert("permitted", spec.permitted(), grantable)?;
    let effective = convert("effective", spec.effective(), grantable)?;
    let inheritable = convert("inheritable", spec.inheritable(), grantable)?;
    let ambient = convert("ambient", spec.ambient(), grantable)?;
    let set = |name, which, value: &CapsHashSet| {
        caps::set(None, which, value).map_err(|source| CapError::Apply { set: name, source })
    };
    // The kernel lets inheritable grow only within the old permitted set,
    // so it goes first while permitted is still full; effective must shrink
    // before permitted can; ambient needs its caps in permitted and
    // inheritable both.
    set("inheritable", CapSet::Inheritable, &inheritable)?;
    let kept: CapsHashSet = effective.intersection(&permitted).copied().collect();
    set("effective", CapSet::Effective, &kept)?;
    set("permitted", CapSet::Permitted, &permitted)?;
    set("effective", CapSet::Effective, &effective)?;
    set("ambient", CapSet::Ambient, &ambient)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
