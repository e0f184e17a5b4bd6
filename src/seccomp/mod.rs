//! seccomp: `linux.seccomp` translated into one classic-BPF program and
//! loaded with seccomp(2), with libseccomp's meaning (what runc gets) but
//! without libseccomp.
//!
//! * `validate` lists every problem before create; `compile` refuses the
//!   first and builds the program (in the parent, so a bad profile fails
//!   create cleanly); `load` runs in the container's init just before exec.
//! * The program covers the native ABI and every listed ABI a process here
//!   can switch to (x86 and x32 on x86_64); calls from any other
//!   architecture are killed, as libseccomp's are.
//! * A name that is not a call on some ABI is skipped there; only a name
//!   no architecture has is an error. On x86, socket and SysV IPC calls
//!   are also filtered where they arrive through socketcall(2) and ipc(2).
//! * runc's -ENOSYS stub is kept: calls numbered above the profile's
//!   highest get ENOSYS rather than a restrictive default action.
//!
//! seccompiler supplies the BPF types and the action encoding; its rule
//! compiler covers one architecture and lacks NOTIFY, so the program is
//! generated here (codegen.rs).

mod arch;
mod bpf;
mod codegen;
mod error;
mod load;
mod notify;
mod profile;
mod tables;
#[cfg(test)]
mod tests;

pub use error::SeccompError;
pub use load::load;
pub use notify::{process_state, send_listener};

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompFilterFlag as Flag};
use seccompiler::BpfProgram;

/// The kernel's limit on a filter's length (BPF_MAXINSNS).
const BPF_MAXINSNS: usize = 4096;

/// A compiled profile, ready for `load`.
#[derive(Debug, Clone)]
pub struct Filter {
    /// One program for every covered ABI: it dispatches on
    /// `seccomp_data.arch` first.
    program: BpfProgram,
    /// seccomp(2) flags from linux.seccomp.flags.
    flags: u64,
    /// Whether the program can return SCMP_ACT_NOTIFY.
    notify: bool,
    /// Each action the program returns, data bits cleared, to check the
    /// kernel supports it before loading.
    actions: Vec<u32>,
}

impl Filter {
    /// Whether `load` will return a listener fd for the seccomp agent.
    pub fn has_notify(&self) -> bool {
        self.notify
    }

    /// The program's length in instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Whether the program has no instructions (never true of a compiled
    /// profile, which at least returns its default action).
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// The flags `load` passes to seccomp(2).
    fn load_flags(&self) -> u64 {
        let mut flags = self.flags;
        if self.notify {
            flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
            // The kernel refuses TSYNC with a listener unless a failed sync
            // is reported as ESRCH (the return value is the fd).
            if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
                flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
            }
        } else {
            // Only meaningful with a listener, and refused without one.
            flags &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        }
        flags
    }
}

/// Problems detectable before create: (json_path, message).
pub fn validate(seccomp: &LinuxSeccomp) -> Vec<(String, String)> {
    profile::problems(seccomp)
        .into_iter()
        .map(|e| match e {
            SeccompError::Profile { path, problem } => (path, problem.to_string()),
            other => ("linux.seccomp".to_string(), other.to_string()),
        })
        .collect()
}

/// Translate linux.seccomp into BPF. Done in the parent/early init so a bad
/// profile fails create cleanly.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    if let Some(first) = profile::problems(seccomp).into_iter().next() {
        return Err(first);
    }
    let program = codegen::generate(&profile::plan(seccomp));
    if program.len() > BPF_MAXINSNS {
        return Err(SeccompError::TooLong {
            len: program.len(),
            max: BPF_MAXINSNS,
        });
    }
    let mut actions: Vec<u32> = program
        .iter()
        .filter(|insn| insn.code == bpf::RET_K)
        .map(|insn| insn.k & libc::SECCOMP_RET_ACTION_FULL)
        .collect();
    actions.sort_unstable();
    actions.dedup();
    let notify = actions.contains(&libc::SECCOMP_RET_USER_NOTIF);
    let flags = match seccomp.flags() {
        // Like runc: with no `flags` at all (not even []), spare the
        // container the speculative-store-bypass mitigation seccomp would
        // otherwise force on it.
        None => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        Some(list) => list.iter().fold(0, |acc, flag| acc | flag_bit(*flag)),
    };
    Ok(Filter {
        program,
        flags,
        notify,
        actions,
    })
}

fn flag_bit(flag: Flag) -> u64 {
    match flag {
        Flag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
        Flag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
        Flag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        Flag::SeccompFilterFlagWaitKillableRecv => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    }
}
