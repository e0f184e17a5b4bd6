//! `linux.personality` (personality(2)) and `linux.memoryPolicy`
//! (set_mempolicy(2)): per-task settings the container's process inherits
//! through execve, set by the init just before it execs.

use oci_spec::runtime::{
    Linux, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain as Domain,
    MemoryPolicyFlagType as MFlag, MemoryPolicyModeType as Mode,
};

#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}: {source}")]
pub struct LinuxAttrError {
    path: &'static str,
    what: String,
    source: std::io::Error,
}

/// Every execution domain keel sets, with its personality(2) value.
pub const DOMAINS: [(Domain, libc::c_ulong); 2] =
    [(Domain::PerLinux, 0x0000), (Domain::PerLinux32, 0x0008)];

fn domain_value(domain: Domain) -> libc::c_ulong {
    match domain {
        Domain::PerLinux => DOMAINS[0].1,
        Domain::PerLinux32 => DOMAINS[1].1,
    }
}

/// MPOL_* modes (<linux/mempolicy.h>), every one the spec names.
pub const MODES: [(Mode, i32); 7] = [
    (Mode::MpolDefault, 0),
    (Mode::MpolPreferred, 1),
    (Mode::MpolBind, 2),
    (Mode::MpolInterleave, 3),
    (Mode::MpolLocal, 4),
    (Mode::MpolPreferredMany, 5),
    (Mode::MpolWeightedInterleave, 6),
];

/// MPOL_F_* mode flags, every one the spec names.
pub const FLAGS: [(MFlag, i32); 3] = [
    (MFlag::MpolFNumaBalancing, 1 << 13),
    (MFlag::MpolFRelativeNodes, 1 << 14),
    (MFlag::MpolFStaticNodes, 1 << 15),
];

fn mode_value(mode: Mode) -> i32 {
    MODES
        .iter()
        .find(|(m, _)| *m == mode)
        .map(|(_, v)| *v)
        .expect("every mode is listed")
}

fn flag_value(flag: MFlag) -> i32 {
    FLAGS
        .iter()
        .find(|(f, _)| *f == flag)
        .map(|(_, v)| *v)
        .expect("every flag is listed")
}

/// The highest node number a nodemask may name (MAX_NUMNODES on the
/// largest configurations).
const MAX_NODE: usize = 1023;

/// Node list `0-3,7` as a bitmask of 64-bit words.
fn node_mask(list: &str) -> Result<Vec<u64>, String> {
    let bad = || format!("{list:?} is not a node list like \"0-3,7\"");
    let parts = crate::cpulist::ranges(list).map_err(|_| bad())?;
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let mut mask = vec![0u64; (MAX_NODE + 1) / 64];
    for (lo, hi) in parts {
        if hi as usize > MAX_NODE {
            return Err(bad());
        }
        for node in lo as usize..=hi as usize {
            mask[node / 64] |= 1 << (node % 64);
        }
    }
    Ok(mask)
}

/// Problems with `linux.personality` and `linux.memoryPolicy`.
pub fn validate(linux: &Linux) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(p) = linux.personality() {
        for (i, flag) in p.flags().iter().flatten().enumerate() {
            let msg = format!("unknown flag {flag:?}: the spec defines no personality flags");
            out.push((format!("linux.personality.flags[{i}]"), msg));
        }
    }
    if let Some(m) = linux.memory_policy() {
        check_memory_policy(m, &mut out);
    }
    out
}

fn check_memory_policy(m: &LinuxMemoryPolicy, out: &mut Vec<(String, String)>) {
    let at = "linux.memoryPolicy";
    let nodes = m.nodes().as_deref().unwrap_or("");
    match node_mask(nodes) {
        Err(msg) => out.push((format!("{at}.nodes"), msg)),
        Ok(mask) => {
            let empty = mask.iter().all(|w| *w == 0);
            let mode = m.mode();
            let wants_none = matches!(mode, Mode::MpolDefault | Mode::MpolLocal);
            let wants_some = !wants_none && mode != Mode::MpolPreferred;
            if wants_none && !empty {
                out.push((format!("{at}.nodes"), format!("must be empty for {mode}")));
            } else if wants_some && empty {
                out.push((
                    format!("{at}.nodes"),
                    format!("{mode} needs at least one node"),
                ));
            }
        }
    }
    let flags = m.flags().as_deref().unwrap_or_default();
    if flags.contains(&MFlag::MpolFStaticNodes) && flags.contains(&MFlag::MpolFRelativeNodes) {
        let msg = "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other";
        out.push((format!("{at}.flags"), msg.to_string()));
    }
}

pub fn apply_personality(p: &LinuxPersonality) -> Result<(), LinuxAttrError> {
    let value = domain_value(p.domain());
    // SAFETY: personality(2) takes a plain integer.
    if unsafe { libc::personality(value) } < 0 {
        return Err(LinuxAttrError {
            path: "linux.personality",
            what: format!("personality {}", p.domain()),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Whether this kernel takes `mode` (with `flags`): MPOL_WEIGHTED_INTERLEAVE
/// arrived in 6.9 and MPOL_PREFERRED_MANY in 5.15, so `features` must ask
/// rather than list every mode the spec names. It sets the caller's own
/// policy and puts the default back; only `features` calls it.
pub fn kernel_takes(mode: Mode, flags: i32) -> bool {
    let node0 = [1u64];
    let (ptr, maxnode) = match mode {
        Mode::MpolDefault | Mode::MpolLocal => (std::ptr::null(), 0),
        _ => (node0.as_ptr(), 64),
    };
    let value = mode_value(mode) | flags;
    // SAFETY: the mask holds `maxnode` bits and outlives the calls.
    unsafe {
        let ok = libc::syscall(libc::SYS_set_mempolicy, value, ptr, maxnode) == 0;
        libc::syscall(libc::SYS_set_mempolicy, 0, std::ptr::null::<u64>(), 0);
        ok
    }
}

pub fn apply_memory_policy(m: &LinuxMemoryPolicy) -> Result<(), LinuxAttrError> {
    let path = "linux.memoryPolicy";
    let nodes = m.nodes().as_deref().unwrap_or("");
    let mask = node_mask(nodes).map_err(|e| LinuxAttrError {
        path,
        what: "nodes".into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    })?;
    let flags = m
        .flags()
        .iter()
        .flatten()
        .fold(0, |acc, f| acc | flag_value(*f));
    let mode = mode_value(m.mode()) | flags;
    let (ptr, maxnode) = if mask.is_empty() {
        (std::ptr::null(), 0)
    } else {
        (mask.as_ptr(), mask.len() * 64)
    };
    // SAFETY: the mask holds `maxnode` bits and outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    if rc < 0 {
        return Err(LinuxAttrError {
            path,
            what: format!("set_mempolicy {} nodes {nodes:?}", m.mode()),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Both, for the init just before it execs.
pub fn apply(linux: Option<&Linux>) -> Result<(), LinuxAttrError> {
    let Some(linux) = linux else { return Ok(()) };
    apply_each(linux.personality().as_ref(), linux.memory_policy().as_ref())
}

/// Both, as recorded for the container, for a process `exec` starts in
/// it: it is forked from `keel exec`, not from the init, so it inherits
/// neither (runc's setns init sets them too).
pub fn apply_each(
    personality: Option<&LinuxPersonality>,
    memory_policy: Option<&LinuxMemoryPolicy>,
) -> Result<(), LinuxAttrError> {
    if let Some(m) = memory_policy {
        apply_memory_policy(m)?;
    }
    if let Some(p) = personality {
        apply_personality(p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(json: &str) -> Linux {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn node_masks() {
        let m = node_mask("0-2,65").unwrap();
        assert_eq!(m[0], 0b111);
        assert_eq!(m[1], 0b10);
        assert!(node_mask("").unwrap().is_empty());
        assert!(node_mask("2-1").is_err());
        assert!(node_mask("x").is_err());
    }

    #[test]
    fn problems_are_located() {
        let l = linux(
            r#"{"personality":{"domain":"LINUX32","flags":["X"]},
            "memoryPolicy":{"mode":"MPOL_BIND","flags":["MPOL_F_STATIC_NODES","MPOL_F_RELATIVE_NODES"]}}"#,
        );
        let paths: Vec<String> = validate(&l).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "linux.personality.flags[0]",
                "linux.memoryPolicy.nodes",
                "linux.memoryPolicy.flags"
            ]
        );
        let l = linux(r#"{"memoryPolicy":{"mode":"MPOL_LOCAL","nodes":"0"}}"#);
        assert_eq!(validate(&l).len(), 1);
        let l = linux(r#"{"memoryPolicy":{"mode":"MPOL_INTERLEAVE","nodes":"0"}}"#);
        assert!(validate(&l).is_empty());
    }
}
