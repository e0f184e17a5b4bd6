//! Reading `linux.seccomp`: the checks that make a profile invalid, and its
//! translation into what each system call does on each ABI.

use super::arch::{self, Abi};
use super::error::{ProfileProblem, SeccompError};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg, LinuxSeccompOperator, LinuxSyscall,
};
use seccompiler::SeccompAction;
use std::collections::BTreeMap;

/// What SCMP_ACT_ERRNO and SCMP_ACT_TRACE return when the profile names no
/// errnoRet (runtime-spec: EPERM).
const EPERM: u32 = libc::EPERM as u32;

/// The return value of SCMP_ACT_ERRNO(ENOSYS).
pub const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

/// libseccomp's default for calls from an architecture the filter does not
/// cover (SCMP_FLTATR_ACT_BADARCH is SCMP_ACT_KILL).
pub const BAD_ARCH: u32 = libc::SECCOMP_RET_KILL_THREAD;

/// One test on one argument, with libseccomp's meaning: for MASKED_EQ,
/// `value` is the mask and `value_two` what the masked argument must equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    pub index: u8,
    pub op: LinuxSeccompOperator,
    pub value: u64,
    pub value_two: u64,
}

/// Conditions that must all hold for `action` to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub conds: Vec<Cond>,
    pub action: u32,
}

/// What one system call does on one ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// An unconditional rule: it wins over any conditional one, as in
    /// libseccomp.
    Always(u32),
    /// Conditional rules in profile order; the first whose conditions hold
    /// applies, and a call none matches gets the default action.
    FirstMatch(Vec<Rule>),
}

/// The calls of one ABI the profile names.
#[derive(Debug)]
pub struct AbiPlan {
    pub abi: Abi,
    pub calls: BTreeMap<u32, Behaviour>,
    /// runc's -ENOSYS stub: numbers above the highest call the profile
    /// names are taken for calls newer than the profile and get ENOSYS, so
    /// that libc falls back (clone3 to clone) instead of failing hard.
    pub enosys_above: Option<u32>,
}

/// The whole filter, before code generation.
#[derive(Debug)]
pub struct Plan {
    pub default: u32,
    pub abis: Vec<AbiPlan>,
}

/// The seccomp return value of an OCI action.
pub fn action_value(action: Action, errno_ret: Option<u32>) -> u32 {
    let data = errno_ret.unwrap_or(EPERM);
    let action = match action {
        Action::ScmpActKill | Action::ScmpActKillThread => SeccompAction::KillThread,
        Action::ScmpActKillProcess => SeccompAction::KillProcess,
        Action::ScmpActTrap => SeccompAction::Trap,
        Action::ScmpActErrno => SeccompAction::Errno(data),
        Action::ScmpActTrace => SeccompAction::Trace(data),
        Action::ScmpActLog => SeccompAction::Log,
        Action::ScmpActAllow => SeccompAction::Allow,
        // seccompiler has no user notification.
        Action::ScmpActNotify => return libc::SECCOMP_RET_USER_NOTIF,
    };
    action.into()
}

/// The ABIs the filter covers on this machine: the native one always (as
/// libseccomp's filters do), then every listed one a process here can use.
pub fn abis(seccomp: &LinuxSeccomp) -> Vec<Abi> {
    let mut abis = vec![arch::NATIVE];
    for arch in seccomp.architectures().iter().flatten() {
        if let Some(abi) = arch::runnable(*arch) {
            if !abis.contains(&abi) {
                abis.push(abi);
            }
        }
    }
    abis.sort();
    abis
}

/// Every problem in the profile, in document order.
pub fn problems(seccomp: &LinuxSeccomp) -> Vec<SeccompError> {
    let mut found = Vec::new();
    let at = "linux.seccomp";
    let default = seccomp.default_action();
    if default == Action::ScmpActNotify {
        found.push(SeccompError::profile(
            format!("{at}.defaultAction"),
            ProfileProblem::NotifyDefault,
        ));
    }
    check_errno_ret(
        default,
        seccomp.default_errno_ret(),
        &format!("{at}.defaultErrnoRet"),
        &mut found,
    );
    let has_listener = seccomp.listener_path().is_some();
    if seccomp.listener_metadata().is_some() && !has_listener {
        found.push(SeccompError::profile(
            format!("{at}.listenerMetadata"),
            ProfileProblem::MetadataWithoutListener,
        ));
    }
    for (i, call) in seccomp.syscalls().iter().flatten().enumerate() {
        check_call(
            call,
            &format!("{at}.syscalls[{i}]"),
            has_listener,
            &mut found,
        );
    }
    found
}

fn check_errno_ret(
    action: Action,
    errno_ret: Option<u32>,
    at: &str,
    found: &mut Vec<SeccompError>,
) {
    let Some(value) = errno_ret else {
        return;
    };
    if !matches!(action, Action::ScmpActErrno | Action::ScmpActTrace) {
        let action = action.to_string();
        found.push(SeccompError::profile(
            at,
            ProfileProblem::ErrnoRetWithout { action },
        ));
    } else if value > u32::from(u16::MAX) {
        found.push(SeccompError::profile(
            at,
            ProfileProblem::ErrnoRange { value },
        ));
    }
}

fn check_call(call: &LinuxSyscall, at: &str, has_listener: bool, found: &mut Vec<SeccompError>) {
    let action = call.action();
    check_errno_ret(action, call.errno_ret(), &format!("{at}.errnoRet"), found);
    if action == Action::ScmpActNotify && !has_listener {
        found.push(SeccompError::profile(
            format!("{at}.action"),
            ProfileProblem::NotifyWithoutListener,
        ));
    }
    if call.names().is_empty() {
        found.push(SeccompError::profile(
            format!("{at}.names"),
            ProfileProblem::NoNames,
        ));
    }
    for (j, name) in call.names().iter().enumerate() {
        let path = format!("{at}.names[{j}]");
        if !arch::known_anywhere(name) {
            let problem = ProfileProblem::UnknownSyscall {
                name: name.clone(),
                native: arch::NATIVE.name(),
            };
            found.push(SeccompError::profile(path, problem));
        } else if action == Action::ScmpActNotify && name == "write" {
            found.push(SeccompError::profile(path, ProfileProblem::NotifyWrite));
        }
    }
    for (k, arg) in call.args().iter().flatten().enumerate() {
        if arg.index() > 5 {
            let problem = ProfileProblem::ArgIndex { index: arg.index() };
            found.push(SeccompError::profile(
                format!("{at}.args[{k}].index"),
                problem,
            ));
        }
    }
}

/// Translate a profile `problems` found nothing wrong with.
pub fn plan(seccomp: &LinuxSeccomp) -> Plan {
    let default = action_value(seccomp.default_action(), seccomp.default_errno_ret());
    let stub = !matches!(
        seccomp.default_action(),
        Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace
    ) && default != RET_ENOSYS;
    let syscalls = seccomp.syscalls().as_deref().unwrap_or_default();
    let abis = abis(seccomp)
        .into_iter()
        .map(|abi| {
            let enosys_above = if stub { highest(syscalls, abi) } else { None };
            AbiPlan {
                abi,
                calls: abi_calls(syscalls, abi, default),
                enosys_above,
            }
        })
        .collect();
    Plan { default, abis }
}

/// The highest number among all the names the profile lists, on `abi`
/// (runc counts every entry, whatever its action, and none when that is 0).
fn highest(syscalls: &[LinuxSyscall], abi: Abi) -> Option<u32> {
    syscalls
        .iter()
        .flat_map(|call| call.names())
        .filter_map(|name| abi.number(name))
        .max()
        .filter(|&nr| nr != 0)
}

fn abi_calls(syscalls: &[LinuxSyscall], abi: Abi, default: u32) -> BTreeMap<u32, Behaviour> {
    let mut calls = BTreeMap::new();
    for call in syscalls {
        let action = action_value(call.action(), call.errno_ret());
        // libseccomp refuses a rule whose action is the default one and
        // runc skips it; it must not override other rules for the call.
        if action == default {
            continue;
        }
        let rules = rules(call.args().as_deref().unwrap_or_default(), action);
        for name in call.names() {
            // Unknown here: skipped, as libseccomp does per architecture.
            if let Some(nr) = abi.number(name) {
                add_rules(&mut calls, nr, &rules, action);
            }
            if let Some((mux, selector)) = abi.multiplexed(name) {
                add_rules(&mut calls, mux, &muxed(&rules, selector, action), action);
            }
        }
    }
    calls
}

/// The rules for reaching a call through its multiplexer, as libseccomp
/// writes them: the multiplexer's first argument must select the call,
/// replacing any test the profile made on argument 0; the other tests stay.
fn muxed(rules: &[Rule], selector: u64, action: u32) -> Vec<Rule> {
    let select = Cond {
        index: 0,
        op: LinuxSeccompOperator::ScmpCmpEq,
        value: selector,
        value_two: 0,
    };
    if rules.is_empty() {
        return vec![Rule {
            conds: vec![select],
            action,
        }];
    }
    rules
        .iter()
        .map(|rule| {
            let rest = rule.conds.iter().filter(|c| c.index != 0).copied();
            Rule {
                conds: std::iter::once(select).chain(rest).collect(),
                action,
            }
        })
        .collect()
}

/// Merge one entry's rules into what the call already does, as libseccomp
/// merges rules: the first unconditional rule wins over everything else.
fn add_rules(calls: &mut BTreeMap<u32, Behaviour>, nr: u32, rules: &[Rule], action: u32) {
    use std::collections::btree_map::Entry;
    let new = if rules.is_empty() {
        Behaviour::Always(action)
    } else {
        Behaviour::FirstMatch(rules.to_vec())
    };
    match calls.entry(nr) {
        Entry::Vacant(slot) => {
            slot.insert(new);
        }
        Entry::Occupied(mut slot) => match (slot.get_mut(), new) {
            (Behaviour::Always(_), _) => {}
            (Behaviour::FirstMatch(_), new @ Behaviour::Always(_)) => {
                slot.insert(new);
            }
            (Behaviour::FirstMatch(old), Behaviour::FirstMatch(more)) => old.extend(more),
        },
    }
}

/// The rules for one entry's `args`: all conditions together, except that
/// (as runc does) conditions on a repeated argument each make a rule of
/// their own, the rules being alternatives.
fn rules(args: &[LinuxSeccompArg], action: u32) -> Vec<Rule> {
    if args.is_empty() {
        return Vec::new();
    }
    let conds: Vec<Cond> = args.iter().map(cond).collect();
    let mut seen = [0u8; 6];
    for c in &conds {
        seen[usize::from(c.index)] += 1;
    }
    if seen.iter().any(|&n| n > 1) {
        conds
            .into_iter()
            .map(|c| Rule {
                conds: vec![c],
                action,
            })
            .collect()
    } else {
        vec![Rule { conds, action }]
    }
}

fn cond(arg: &LinuxSeccompArg) -> Cond {
    Cond {
        // `problems` has checked the index is at most 5.
        index: arg.index() as u8,
        op: arg.op(),
        value: arg.value(),
        value_two: arg.value_two().unwrap_or(0),
    }
}
