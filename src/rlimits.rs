//! process.rlimits: checked against what the caller may set, then applied.

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

#[derive(Debug, thiserror::Error)]
#[error("process.rlimits[{index}]: setrlimit {name} soft {soft} hard {hard}: {source}")]
pub struct RlimitError {
    index: usize,
    name: &'static str,
    soft: u64,
    hard: u64,
    source: std::io::Error,
}

pub fn resource(typ: PosixRlimitType) -> libc::__rlimit_resource_t {
    use PosixRlimitType::*;
    match typ {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

pub fn name(typ: PosixRlimitType) -> &'static str {
    use PosixRlimitType::*;
    match typ {
        RlimitCpu => "RLIMIT_CPU",
        RlimitFsize => "RLIMIT_FSIZE",
        RlimitData => "RLIMIT_DATA",
        RlimitStack => "RLIMIT_STACK",
        RlimitCore => "RLIMIT_CORE",
        RlimitRss => "RLIMIT_RSS",
        RlimitNproc => "RLIMIT_NPROC",
        RlimitNofile => "RLIMIT_NOFILE",
        RlimitMemlock => "RLIMIT_MEMLOCK",
        RlimitAs => "RLIMIT_AS",
        RlimitLocks => "RLIMIT_LOCKS",
        RlimitSigpending => "RLIMIT_SIGPENDING",
        RlimitMsgqueue => "RLIMIT_MSGQUEUE",
        RlimitNice => "RLIMIT_NICE",
        RlimitRtprio => "RLIMIT_RTPRIO",
        RlimitRttime => "RLIMIT_RTTIME",
    }
}

fn get(typ: PosixRlimitType) -> libc::rlimit {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid resource and a valid out-pointer.
    unsafe { libc::getrlimit(resource(typ), &mut rl) };
    rl
}

/// The caller's current hard limit for `typ`.
pub fn current_hard(typ: PosixRlimitType) -> u64 {
    get(typ).rlim_max
}

/// Raising a hard limit needs CAP_SYS_RESOURCE in the effective set.
pub fn can_raise_hard_limits() -> bool {
    caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false)
}

/// Apply every configured limit to the calling process.
pub fn apply(rlimits: &[PosixRlimit]) -> Result<(), RlimitError> {
    for (index, rl) in rlimits.iter().enumerate() {
        let value = libc::rlimit {
            rlim_cur: rl.soft(),
            rlim_max: rl.hard(),
        };
        // SAFETY: valid resource and pointer.
        if unsafe { libc::setrlimit(resource(rl.typ()), &value) } != 0 {
            return Err(RlimitError {
                index,
                name: name(rl.typ()),
                soft: rl.soft(),
                hard: rl.hard(),
                source: std::io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}
