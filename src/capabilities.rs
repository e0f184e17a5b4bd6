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

/// The kernel names of a spec capability set, e.g. "CAP_KILL".
fn convert(set: &'static str, caps: &Option<Capabilities>) -> Result<CapsHashSet, CapError> {
    let mut out = CapsHashSet::new();
    for cap in caps.iter().flatten() {
        let name = format!("CAP_{cap}");
        let parsed = Capability::from_str(&name).map_err(|_| CapError::Unknown { set, name })?;
        // Capabilities newer than this kernel cannot be held; runc skips them too.
        if caps::all().contains(&parsed) {
            out.insert(parsed);
        }
    }
    Ok(out)
}

/// Drop the bounding set to what is configured. Needs CAP_SETPCAP, so it
/// runs before the uid change.
pub fn drop_bounding(spec: &LinuxCapabilities) -> Result<(), CapError> {
    let keep = convert("bounding", spec.bounding())?;
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
pub fn apply(spec: &LinuxCapabilities) -> Result<(), CapError> {
    let permitted = convert("permitted", spec.permitted())?;
    let effective = convert("effective", spec.effective())?;
    let inheritable = convert("inheritable", spec.inheritable())?;
    let ambient = convert("ambient", spec.ambient())?;
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
        let set = convert("bounding", &Some(caps)).unwrap();
        assert!(set.contains(&Capability::CAP_NET_BIND_SERVICE));
    }
}
