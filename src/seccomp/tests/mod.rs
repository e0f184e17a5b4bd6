//! Tests. `unit` and `codegen` run the generated programs in a small cBPF
//! interpreter (no kernel, no root); `kernel` loads filters, only ever in
//! forked children.

mod codegen;
mod kernel;
mod notify;
mod unit;

use super::bpf;
use super::Filter;
use oci_spec::runtime::LinuxSeccomp;
use seccompiler::sock_filter;

/// linux.seccomp of the config.json podman 4 writes for `podman create`
/// (the default profile after podman's own filtering by arch and caps).
pub const PODMAN: &str = include_str!("podman-seccomp.json");

pub fn profile(json: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(json).expect("test profile parses")
}

pub fn podman() -> LinuxSeccomp {
    serde_json::from_str(PODMAN).expect("podman profile parses")
}

/// What the program returns for one call.
pub fn run(filter: &Filter, audit: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&audit.to_le_bytes());
    for (i, arg) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
    }
    interpret(&filter.program, &data)
}

/// The subset of classic BPF the generator emits, with the kernel's
/// checks: forward jumps only, and every path ends in a return.
pub fn interpret(program: &[sock_filter], data: &[u8; 64]) -> u32 {
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    loop {
        let insn = &program[pc];
        pc += 1;
        let k = insn.k;
        let taken = match insn.code {
            bpf::LD_W_ABS => {
                let at = k as usize;
                acc = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
                continue;
            }
            bpf::ALU_AND_K => {
                acc &= k;
                continue;
            }
            bpf::RET_K => return k,
            bpf::JA => {
                pc += k as usize;
                continue;
            }
            bpf::JEQ => acc == k,
            bpf::JGT => acc > k,
            bpf::JGE => acc >= k,
            other => panic!("unexpected opcode {other:#x} at {}", pc - 1),
        };
        pc += usize::from(if taken { insn.jt } else { insn.jf });
    }
}

pub const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
pub const KILL_THREAD: u32 = libc::SECCOMP_RET_KILL_THREAD;

pub fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e as u32
}
