//! From a plan to a BPF program.
//!
//! Layout:
//! 1. load `seccomp_data.arch` and jump to the section of that audit arch;
//!    any other arch gets libseccomp's bad-arch action (kill);
//! 2. a section loads `seccomp_data.nr` and finds its action by binary
//!    search over number ranges: the whole 32-bit space is cut into ranges
//!    that share one outcome (a return value, or the argument rules of one
//!    call), so a big allow-list costs a few comparisons per call and about
//!    two instructions per range. x86_64 and x32 share AUDIT_ARCH_X86_64
//!    and are told apart by the range (x32 numbers have bit 30 set);
//! 3. after the sections, the argument rules of each call that has some.

use super::arch::Abi;
use super::bpf::{self, Asm, Label};
use super::profile::{AbiPlan, Behaviour, Cond, Plan, Rule, BAD_ARCH, RET_ENOSYS};
use oci_spec::runtime::LinuxSeccompOperator as Op;
use seccompiler::BpfProgram;
use std::collections::BTreeMap;

/// What a range of call numbers leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ret(u32),
    /// Index into the argument rules waiting to be emitted.
    Rules(usize),
}

/// Rules waiting to be emitted after the sections.
struct Pending<'a> {
    label: Label,
    abi: Abi,
    rules: &'a [Rule],
}

pub fn generate(plan: &Plan) -> BpfProgram {
    let mut asm = Asm::default();
    // One section per audit arch, the native one first (checked first).
    let mut audits: Vec<u32> = Vec::new();
    for abi in &plan.abis {
        if !audits.contains(&abi.abi.audit_arch()) {
            audits.push(abi.abi.audit_arch());
        }
    }
    let sections: Vec<Label> = audits.iter().map(|_| asm.label()).collect();
    asm.stmt(bpf::LD_W_ABS, bpf::DATA_ARCH);
    for (&audit, &section) in audits.iter().zip(&sections) {
        asm.jump(bpf::JEQ, audit, Some(section), None);
    }
    asm.ret(BAD_ARCH);
    let mut pending = Vec::new();
    for (&audit, &section) in audits.iter().zip(&sections) {
        asm.bind(section);
        let abis: Vec<&AbiPlan> = plan
            .abis
            .iter()
            .filter(|a| a.abi.audit_arch() == audit)
            .collect();
        section_code(&mut asm, &abis, plan.default, &mut pending);
    }
    for p in &pending {
        asm.bind(p.label);
        rules_code(&mut asm, p.abi, p.rules, plan.default);
    }
    asm.finish()
}

fn section_code<'a>(
    asm: &mut Asm,
    abis: &[&'a AbiPlan],
    default: u32,
    pending: &mut Vec<Pending<'a>>,
) {
    let first = pending.len();
    let ranges = ranges(abis, default, first);
    for abi in abis {
        for behaviour in abi.calls.values() {
            if let Behaviour::FirstMatch(rules) = behaviour {
                pending.push(Pending {
                    label: asm.label(),
                    abi: abi.abi,
                    rules,
                });
            }
        }
    }
    let labels: Vec<Label> = pending.iter().map(|p| p.label).collect();
    asm.stmt(bpf::LD_W_ABS, bpf::DATA_NR);
    search(asm, &ranges, &labels);
}

/// Cut the number space of one audit arch into ranges by outcome. Each
/// entry is (first number, outcome), sorted, the first starting at 0.
fn ranges(abis: &[&AbiPlan], default: u32, first_rules: usize) -> Vec<(u32, Outcome)> {
    // Without x32 in the filter, x32 calls get the bad-arch action, as
    // libseccomp's x86_64 section does.
    let mut map = BTreeMap::from([(0, Outcome::Ret(default))]);
    if abis.iter().all(|a| a.abi != Abi::X32) && abis.iter().any(|a| a.abi == Abi::X86_64) {
        paint(&mut map, Abi::X32.nr_span(), Outcome::Ret(BAD_ARCH));
    }
    let mut rules = first_rules;
    for abi in abis {
        let (_, end) = abi.abi.nr_span();
        if let Some(top) = abi.enosys_above.filter(|&top| top < end) {
            paint(&mut map, (top + 1, end), Outcome::Ret(RET_ENOSYS));
        }
        for (&nr, behaviour) in &abi.calls {
            let outcome = match behaviour {
                Behaviour::Always(action) => Outcome::Ret(*action),
                Behaviour::FirstMatch(_) => {
                    rules += 1;
                    Outcome::Rules(rules - 1)
                }
            };
            paint(&mut map, (nr, nr), outcome);
        }
    }
    let mut merged: Vec<(u32, Outcome)> = Vec::with_capacity(map.len());
    for (start, outcome) in map {
        if merged.last().is_none_or(|(_, last)| *last != outcome) {
            merged.push((start, outcome));
        }
    }
    merged
}

/// Give the numbers lo..=hi one outcome.
fn paint(map: &mut BTreeMap<u32, Outcome>, (lo, hi): (u32, u32), outcome: Outcome) {
    if let Some(after) = hi.checked_add(1) {
        let resume = *map
            .range(..=after)
            .next_back()
            .expect("0 is always mapped")
            .1;
        map.insert(after, resume);
    }
    let inside: Vec<u32> = map.range(lo..=hi).map(|(&k, _)| k).collect();
    for k in inside {
        map.remove(&k);
    }
    map.insert(lo, outcome);
}

/// Binary search over the ranges, the accumulator holding the call number;
/// `rules[i]` is where the argument rules of `Outcome::Rules(i)` start.
fn search(asm: &mut Asm, ranges: &[(u32, Outcome)], rules: &[Label]) {
    if let [(_, outcome)] = ranges {
        match *outcome {
            Outcome::Ret(value) => asm.ret(value),
            Outcome::Rules(i) => asm.ja(rules[i]),
        }
        return;
    }
    let mid = ranges.len() / 2;
    let upper = asm.label();
    asm.jump(bpf::JGE, ranges[mid].0, Some(upper), None);
    search(asm, &ranges[..mid], rules);
    asm.bind(upper);
    search(asm, &ranges[mid..], rules);
}

/// One call's conditional rules: the first that holds gives its action.
fn rules_code(asm: &mut Asm, abi: Abi, rules: &[Rule], default: u32) {
    for rule in rules {
        let next = asm.label();
        for cond in &rule.conds {
            cond_code(asm, abi.wide_args(), cond, next);
        }
        asm.ret(rule.action);
        asm.bind(next);
    }
    asm.ret(default);
}

/// Test one condition, falling through when it holds and jumping to `fail`
/// when not. 64-bit arguments are compared as libseccomp does, high half
/// first: the low half decides only when the high halves are equal. On
/// 32-bit ABIs only the low half is compared.
fn cond_code(asm: &mut Asm, wide: bool, cond: &Cond, fail: Label) {
    let (lo_at, hi_at) = bpf::arg_halves(cond.index);
    let (value, mask) = match cond.op {
        // (arg & value) == valueTwo
        Op::ScmpCmpMaskedEq => (cond.value_two, Some(cond.value)),
        _ => (cond.value, None),
    };
    let pass = asm.label();
    // NE, LT and LE are the negations of EQ, GE and GT.
    let (test, negate) = match cond.op {
        Op::ScmpCmpEq | Op::ScmpCmpMaskedEq => (bpf::JEQ, false),
        Op::ScmpCmpNe => (bpf::JEQ, true),
        Op::ScmpCmpGe => (bpf::JGE, false),
        Op::ScmpCmpLt => (bpf::JGE, true),
        Op::ScmpCmpGt => (bpf::JGT, false),
        Op::ScmpCmpLe => (bpf::JGT, true),
    };
    let (yes, no) = if negate { (fail, pass) } else { (pass, fail) };
    if wide {
        let hi = (value >> 32) as u32;
        asm.stmt(bpf::LD_W_ABS, hi_at);
        if let Some(mask) = mask {
            asm.stmt(bpf::ALU_AND_K, (mask >> 32) as u32);
        }
        if test == bpf::JEQ {
            // Unequal high halves decide it.
            asm.jump(bpf::JEQ, hi, None, Some(no));
        } else {
            // A greater high half holds, a smaller one fails.
            asm.jump(bpf::JGT, hi, Some(yes), None);
            asm.jump(bpf::JEQ, hi, None, Some(no));
        }
    }
    asm.stmt(bpf::LD_W_ABS, lo_at);
    if let Some(mask) = mask {
        asm.stmt(bpf::ALU_AND_K, mask as u32);
    }
    asm.jump(test, value as u32, Some(yes), Some(no));
    asm.bind(pass);
}
