//! A small classic-BPF assembler with labels. Conditional jumps in cBPF
//! reach at most 255 instructions ahead; a jump whose target is further is
//! routed through an unconditional `ja` (32-bit offset) placed right after
//! it, so code generation never has to count.

use seccompiler::{sock_filter, BpfProgram};

pub const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
pub const ALU_AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
pub const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
pub const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
pub const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
pub const JGT: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
pub const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;

/// `struct seccomp_data` offsets.
pub const DATA_NR: u32 = 0;
pub const DATA_ARCH: u32 = 4;
const DATA_ARGS: u32 = 16;

/// The offsets of the low and high 32 bits of argument `index`.
#[cfg(target_endian = "little")]
pub fn arg_halves(index: u8) -> (u32, u32) {
    let at = DATA_ARGS + 8 * u32::from(index);
    (at, at + 4)
}
#[cfg(target_endian = "big")]
pub fn arg_halves(index: u8) -> (u32, u32) {
    let at = DATA_ARGS + 8 * u32::from(index);
    (at + 4, at)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

#[derive(Clone, Copy, Debug)]
enum Item {
    Stmt {
        code: u16,
        k: u32,
    },
    /// A conditional jump; both targets lie ahead.
    Jump {
        code: u16,
        k: u32,
        jt: Label,
        jf: Label,
    },
    Ja(Label),
    Here(Label),
}

#[derive(Default)]
pub struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Place `label` at the next instruction.
    pub fn bind(&mut self, label: Label) {
        self.items.push(Item::Here(label));
    }

    pub fn stmt(&mut self, code: u16, k: u32) {
        self.items.push(Item::Stmt { code, k });
    }

    pub fn ret(&mut self, value: u32) {
        self.stmt(RET_K, value);
    }

    pub fn ja(&mut self, to: Label) {
        self.items.push(Item::Ja(to));
    }

    /// Jump to `jt` when the test holds, else to `jf`; `None` is the next
    /// instruction.
    pub fn jump(&mut self, code: u16, k: u32, jt: Option<Label>, jf: Option<Label>) {
        let next = self.label();
        self.items.push(Item::Jump {
            code,
            k,
            jt: jt.unwrap_or(next),
            jf: jf.unwrap_or(next),
        });
        self.bind(next);
    }

    /// Resolve labels into offsets.
    pub fn finish(mut self) -> BpfProgram {
        while self.add_trampolines() {}
        let at = self.positions();
        let mut program = Vec::with_capacity(at.len());
        let mut pc = 0;
        for item in &self.items {
            let insn = match *item {
                Item::Here(_) => continue,
                Item::Stmt { code, k } => sock_filter {
                    code,
                    jt: 0,
                    jf: 0,
                    k,
                },
                Item::Ja(to) => sock_filter {
                    code: JA,
                    jt: 0,
                    jf: 0,
                    k: (at[to.0] - pc - 1) as u32,
                },
                Item::Jump { code, k, jt, jf } => sock_filter {
                    code,
                    jt: short(at[jt.0] - pc - 1),
                    jf: short(at[jf.0] - pc - 1),
                    k,
                },
            };
            program.push(insn);
            pc += 1;
        }
        program
    }

    /// Where each label points, in instructions.
    fn positions(&self) -> Vec<usize> {
        let mut at = vec![usize::MAX; self.labels];
        let mut pc = 0;
        for item in &self.items {
            match item {
                Item::Here(label) => at[label.0] = pc,
                _ => pc += 1,
            }
        }
        at
    }

    /// Give every conditional jump that cannot reach its target a `ja`
    /// stepping stone right after it. Inserting moves code, so the caller
    /// repeats until nothing changes.
    fn add_trampolines(&mut self) -> bool {
        let at = self.positions();
        let mut items = Vec::with_capacity(self.items.len());
        let mut pc = 0;
        let mut changed = false;
        for item in std::mem::take(&mut self.items) {
            let Item::Jump { code, k, jt, jf } = item else {
                pc += usize::from(!matches!(item, Item::Here(_)));
                items.push(item);
                continue;
            };
            let far = |to: Label| at[to.0] - pc - 1 > usize::from(u8::MAX);
            let (mut jt2, mut jf2, mut stones) = (jt, jf, Vec::new());
            for (target, slot) in [(jt, &mut jt2), (jf, &mut jf2)] {
                if far(target) {
                    let stone = Label(self.labels);
                    self.labels += 1;
                    stones.push((stone, target));
                    *slot = stone;
                }
            }
            changed |= !stones.is_empty();
            items.push(Item::Jump {
                code,
                k,
                jt: jt2,
                jf: jf2,
            });
            pc += 1;
            for (stone, target) in stones {
                items.push(Item::Here(stone));
                items.push(Item::Ja(target));
            }
        }
        self.items = items;
        changed
    }
}

fn short(offset: usize) -> u8 {
    u8::try_from(offset).expect("trampolines keep conditional jumps within 255")
}
