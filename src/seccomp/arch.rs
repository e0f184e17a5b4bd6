//! The system call ABIs a filter covers: which `seccomp_data.arch` value
//! each one arrives with, where its numbers sit, and how wide its arguments
//! are.

use super::tables;
use oci_spec::runtime::Arch;

/// `AUDIT_ARCH_*` values from <linux/audit.h>: what the kernel puts in
/// `seccomp_data.arch`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;

/// x32 shares AUDIT_ARCH_X86_64 and marks its calls with this bit.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A system call ABI keel has numbers for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Abi {
    X86_64,
    X86,
    X32,
    Aarch64,
}

/// The ABI keel itself runs as; libseccomp always includes it in a filter,
/// whatever `architectures` lists.
#[cfg(target_arch = "x86_64")]
pub const NATIVE: Abi = Abi::X86_64;
#[cfg(target_arch = "aarch64")]
pub const NATIVE: Abi = Abi::Aarch64;

impl Abi {
    /// The name error messages use.
    pub fn name(self) -> &'static str {
        match self {
            Abi::X86_64 => "x86_64",
            Abi::X86 => "x86",
            Abi::X32 => "x32",
            Abi::Aarch64 => "aarch64",
        }
    }

    pub fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::X86 => AUDIT_ARCH_I386,
            Abi::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// The span of `seccomp_data.nr` this ABI owns within its audit arch:
    /// x86_64 and x32 split AUDIT_ARCH_X86_64 at the x32 bit, as libseccomp
    /// does with an unsigned >= test.
    pub fn nr_span(self) -> (u32, u32) {
        match self {
            Abi::X86_64 => (0, X32_SYSCALL_BIT - 1),
            Abi::X32 => (X32_SYSCALL_BIT, u32::MAX),
            Abi::X86 | Abi::Aarch64 => (0, u32::MAX),
        }
    }

    /// libseccomp treats x86 and x32 as 32-bit: only the low half of each
    /// argument is compared there.
    pub fn wide_args(self) -> bool {
        matches!(self, Abi::X86_64 | Abi::Aarch64)
    }

    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Abi::X86_64 => tables::X86_64,
            Abi::X86 => tables::X86,
            Abi::X32 => tables::X32,
            Abi::Aarch64 => tables::AARCH64,
        }
    }

    /// The number of `name` on this ABI, if the call exists there.
    pub fn number(self, name: &str) -> Option<u32> {
        let table = self.table();
        table
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| table[i].1)
    }
}

/// The calls i386 also reaches through socketcall(2), numbered as its
/// first argument (SYS_SOCKET = 1 ... SYS_SENDMMSG = 20, <linux/net.h>).
const SOCKET_CALLS: [&str; 20] = [
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "socketpair",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "recvmsg",
    "accept4",
    "recvmmsg",
    "sendmmsg",
];

/// The calls i386 also reaches through ipc(2), with their call numbers
/// (<linux/ipc.h>).
const IPC_CALLS: [(&str, u64); 12] = [
    ("semop", 1),
    ("semget", 2),
    ("semctl", 3),
    ("semtimedop", 4),
    ("msgsnd", 11),
    ("msgrcv", 12),
    ("msgget", 13),
    ("msgctl", 14),
    ("shmat", 21),
    ("shmdt", 22),
    ("shmget", 23),
    ("shmctl", 24),
];

impl Abi {
    /// For a call this ABI can also make through a multiplexer: the
    /// multiplexer's number and the value of its first argument that
    /// selects the call. libseccomp filters both ways in; only x86 has
    /// multiplexers among keel's ABIs.
    pub fn multiplexed(self, name: &str) -> Option<(u32, u64)> {
        if self != Abi::X86 {
            return None;
        }
        if let Some(i) = SOCKET_CALLS.iter().position(|&n| n == name) {
            return Some((self.number("socketcall")?, i as u64 + 1));
        }
        let (_, call) = IPC_CALLS.iter().find(|(n, _)| *n == name)?;
        Some((self.number("ipc")?, *call))
    }
}

/// The ABI an `architectures` entry means on this machine, if a process
/// here can make calls with it. Other architectures are accepted (their
/// sections could never run here) but get no code.
pub fn runnable(arch: Arch) -> Option<Abi> {
    match arch {
        Arch::ScmpArchNative => Some(NATIVE),
        #[cfg(target_arch = "x86_64")]
        Arch::ScmpArchX86_64 => Some(Abi::X86_64),
        #[cfg(target_arch = "x86_64")]
        Arch::ScmpArchX86 => Some(Abi::X86),
        #[cfg(target_arch = "x86_64")]
        Arch::ScmpArchX32 => Some(Abi::X32),
        #[cfg(target_arch = "aarch64")]
        Arch::ScmpArchAarch64 => Some(Abi::Aarch64),
        _ => None,
    }
}

/// Whether `name` is a system call on any architecture libseccomp knows.
/// libseccomp resolves every such name (a pseudo number where the call does
/// not exist) and skips it per architecture; only a name it cannot resolve
/// at all is an error.
pub fn known_anywhere(name: &str) -> bool {
    [Abi::X86_64, Abi::X86, Abi::X32, Abi::Aarch64]
        .iter()
        .any(|abi| abi.number(name).is_some())
        || tables::OTHER.binary_search(&name).is_ok()
}
