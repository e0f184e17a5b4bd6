//! The eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) that enforces
//! `linux.resources.devices` on cgroup2, built instruction by instruction.
//!
//! Semantics, the same as v1's devices cgroup for the rules keel writes:
//! rules apply in order and a later rule overrides an earlier one, so each
//! access bit a request asks for (m, r, w) is decided by the *last* rule
//! that matches the device and names that bit; a bit no rule decides is
//! denied. A request is allowed only if all its bits are. A rule of type
//! "a" resets everything (as v1's kernel does): every earlier rule is
//! moot, and its allow/deny becomes the default.
//!
//! The program walks the remaining rules from last to first, keeping the
//! still-undecided bits in w3: a deny rule that matches one of them denies
//! at once; an allow rule clears the bits it grants, and allows once none
//! is left. Falling off the end gives the default.

use crate::cgroups::device_rules::{self, DeviceKind, DeviceRule as Rule};

/// The kernel's struct bpf_insn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u8,
    /// dst in the low nibble, src in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes (linux/bpf_common.h, linux/bpf.h).
pub const LDX_MEM_W: u8 = 0x61;
pub const ALU32_AND_K: u8 = 0x54;
pub const ALU32_RSH_K: u8 = 0x74;
pub const ALU32_MOV_X: u8 = 0xbc;
pub const ALU64_MOV_K: u8 = 0xb7;
pub const JMP32_JNE_K: u8 = 0x56;
pub const JMP32_JEQ_K: u8 = 0x16;
pub const EXIT: u8 = 0x95;

// struct bpf_cgroup_dev_ctx: access_type = (access << 16) | type.
pub const DEV_BLOCK: i32 = 1;
pub const DEV_CHAR: i32 = 2;
pub const ACC_MKNOD: i32 = device_rules::MKNOD as i32;
pub const ACC_READ: i32 = device_rules::READ as i32;
pub const ACC_WRITE: i32 = device_rules::WRITE as i32;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Rules beyond this make a program the verifier may refuse; no real
/// configuration comes near it.
pub const MAX_RULES: usize = 4096;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

fn ret(v: i32) -> [Insn; 2] {
    [insn(ALU64_MOV_K, 0, 0, 0, v), insn(EXIT, 0, 0, 0, 0)]
}

fn dev_type(kind: DeviceKind) -> i32 {
    match kind {
        DeviceKind::Block => DEV_BLOCK,
        DeviceKind::Char => DEV_CHAR,
    }
}

/// The program for `rules` (in config order).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let reset = rules.iter().rposition(|r| r.kind.is_none());
    let default = reset.is_some_and(|i| rules[i].allow);
    let live = &rules[reset.map_or(0, |i| i + 1)..];
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0), // w2 = access_type
        insn(ALU32_MOV_X, 3, 2, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff), // w2 = type
        insn(ALU32_RSH_K, 3, 0, 0, 16),     // w3 = requested access
        insn(LDX_MEM_W, 4, 1, 4, 0),        // w4 = major
        insn(LDX_MEM_W, 5, 1, 8, 0),        // w5 = minor
    ];
    for r in live.iter().rev() {
        p.extend(block(r));
    }
    p.extend(ret(default as i32));
    p
}

/// One rule: checks that jump past the block on a mismatch, then the
/// verdict for the bits it decides.
fn block(r: &Rule) -> Vec<Insn> {
    const NEXT: i16 = i16::MAX; // patched below
    let mut b = vec![insn(JMP32_JNE_K, 2, 0, NEXT, r.kind.map_or(0, dev_type))];
    if let Some(major) = r.major {
        b.push(insn(JMP32_JNE_K, 4, 0, NEXT, major as i32));
    }
    if let Some(minor) = r.minor {
        b.push(insn(JMP32_JNE_K, 5, 0, NEXT, minor as i32));
    }
    let access = i32::from(r.access);
    match (r.allow, access == ACC_ALL) {
        (true, true) => b.extend(ret(1)),
        (true, false) => {
            b.push(insn(ALU32_AND_K, 3, 0, 0, !access));
            b.push(insn(JMP32_JNE_K, 3, 0, NEXT, 0));
            b.extend(ret(1));
        }
        (false, _) => {
            b.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            b.push(insn(ALU32_AND_K, 1, 0, 0, access));
            b.push(insn(JMP32_JEQ_K, 1, 0, NEXT, 0));
            b.extend(ret(0));
        }
    }
    let len = b.len();
    for (i, ins) in b.iter_mut().enumerate() {
        if ins.off == NEXT {
            ins.off = (len - i - 1) as i16;
        }
    }
    b
}

#[cfg(test)]
#[path = "device_prog_tests.rs"]
mod tests;
