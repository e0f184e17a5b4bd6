//! Process attributes the kernel keeps per task and execve preserves:
//! `process.scheduler` (sched_setattr), `process.ioPriority` (ioprio_set)
//! and `process.execCPUAffinity` (sched_setaffinity). Checked before
//! create or exec, applied by the process itself before it execs.

use oci_spec::runtime::{
    ExecCPUAffinity, IOPriorityClass, LinuxIOPriority, LinuxSchedulerFlag as Flag,
    LinuxSchedulerPolicy as Policy, Process, Scheduler,
};

#[derive(Debug, thiserror::Error)]
pub enum AttributeError {
    #[error("{path}: {what}: {source}")]
    Sys {
        path: &'static str,
        what: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: &'static str, message: String },
}

/// SCHED_* numbers (<linux/sched.h>); SCHED_ISO is reserved, never built.
fn policy_number(policy: Policy) -> Option<u32> {
    match policy {
        Policy::SchedOther => Some(0),
        Policy::SchedFifo => Some(1),
        Policy::SchedRr => Some(2),
        Policy::SchedBatch => Some(3),
        Policy::SchedIso => None,
        Policy::SchedIdle => Some(5),
        Policy::SchedDeadline => Some(6),
    }
}

/// SCHED_FLAG_* bits (<linux/sched.h>).
fn flag_bit(flag: Flag) -> u64 {
    match flag {
        Flag::SchedResetOnFork => 0x01,
        Flag::SchedFlagReclaim => 0x02,
        Flag::SchedFlagDLOverrun => 0x04,
        Flag::SchedFlagKeepPolicy => 0x08,
        Flag::SchedFlagKeepParams => 0x10,
        Flag::SchedFlagUtilClampMin => 0x20,
        Flag::SchedFlagUtilClampMax => 0x40,
    }
}

fn is_realtime(policy: Policy) -> bool {
    matches!(policy, Policy::SchedFifo | Policy::SchedRr)
}

/// Every problem with the process attributes, as (JSON path, message);
/// `prefix` comes before each field: `process.` in config.json, nothing
/// in an `exec --process` document.
pub fn validate(process: &Process, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(s) = process.scheduler() {
        check_scheduler(s, &format!("{prefix}scheduler"), &mut out);
    }
    if let Some(io) = process.io_priority() {
        if !(0..=7).contains(&io.priority()) {
            let msg = format!("{} is outside 0..7", io.priority());
            out.push((format!("{prefix}ioPriority.priority"), msg));
        }
    }
    if let Some(aff) = process.exec_cpu_affinity() {
        let lists = [
            ("initial", aff.initial()),
            ("final", aff.cpu_affinity_final()),
        ];
        for (name, list) in lists {
            if let Some(Err(msg)) = list.as_deref().map(parse_cpu_list) {
                out.push((format!("{prefix}execCPUAffinity.{name}"), msg));
            }
        }
    }
    out
}

fn check_scheduler(s: &Scheduler, at: &str, out: &mut Vec<(String, String)>) {
    let policy = *s.policy();
    if policy_number(policy).is_none() {
        let msg = "SCHED_ISO is reserved by Linux but no kernel implements it";
        out.push((format!("{at}.policy"), msg.to_string()));
    }
    if let Some(nice) = *s.nice() {
        if !(-20..=19).contains(&nice) {
            out.push((format!("{at}.nice"), format!("{nice} is outside -20..19")));
        }
    }
    let priority = s.priority().unwrap_or(0);
    if is_realtime(policy) && !(1..=99).contains(&priority) {
        let msg = format!("{priority} is outside 1..99, the range of {policy}");
        out.push((format!("{at}.priority"), msg));
    } else if !is_realtime(policy) && priority != 0 {
        let msg = format!("must be 0 for {policy} (only SCHED_FIFO and SCHED_RR use it)");
        out.push((format!("{at}.priority"), msg));
    }
    if policy == Policy::SchedDeadline {
        let (runtime, deadline) = (s.runtime().unwrap_or(0), s.deadline().unwrap_or(0));
        let period = s.period().unwrap_or(0);
        if runtime == 0 || runtime > deadline || (period != 0 && deadline > period) {
            let msg = format!(
                "SCHED_DEADLINE needs 0 < runtime <= deadline <= period (period 0 means \
                 deadline), got runtime {runtime}, deadline {deadline}, period {period}"
            );
            out.push((at.to_string(), msg));
        }
    }
}

/// A cpu list (`0-3,7`) as a set; the message says what is wrong.
pub fn parse_cpu_list(list: &str) -> Result<nix::sched::CpuSet, String> {
    use crate::cpulist::{ranges, ListError};
    let bad = || format!("{list:?} is not a CPU list like \"0-3,7\"");
    let parts = ranges(list).map_err(|e| match e {
        ListError::Syntax => bad(),
        ListError::Backwards(part) => format!("{list:?}: range {part} runs backwards"),
    })?;
    if parts.is_empty() {
        return Err(bad());
    }
    let mut set = nix::sched::CpuSet::new();
    for (lo, hi) in parts {
        for cpu in lo as usize..=hi as usize {
            set.set(cpu).map_err(|_| {
                let max = nix::sched::CpuSet::count() - 1;
                format!("{list:?}: CPU {cpu} is above the highest possible, {max}")
            })?;
        }
    }
    Ok(set)
}

/// `struct sched_attr` (<linux/sched/types.h>), SCHED_ATTR_SIZE_VER1.
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

/// Apply `process.scheduler` to the calling thread (validated beforehand).
pub fn apply_scheduler(s: &Scheduler) -> Result<(), AttributeError> {
    let path = "process.scheduler";
    let Some(policy) = policy_number(*s.policy()) else {
        let message = "SCHED_ISO is not implemented by Linux".to_string();
        return Err(AttributeError::Invalid { path, message });
    };
    let flags = s
        .flags()
        .iter()
        .flatten()
        .fold(0, |acc, f| acc | flag_bit(*f));
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        // With the clamp flags, no clamping unless the spec says more.
        util_min: 0,
        util_max: 1024,
    };
    // SAFETY: sched_setattr reads `size` bytes of a live, correctly laid out struct.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if rc < 0 {
        let source = std::io::Error::last_os_error();
        let what = format!("sched_setattr {}", s.policy());
        return Err(AttributeError::Sys { path, what, source });
    }
    Ok(())
}

/// IOPRIO_CLASS_* (<linux/ioprio.h>), shifted into place by `ioprio_value`.
fn class_number(class: IOPriorityClass) -> i64 {
    match class {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    }
}

pub fn ioprio_value(io: &LinuxIOPriority) -> i64 {
    const IOPRIO_CLASS_SHIFT: i64 = 13;
    class_number(io.class()) << IOPRIO_CLASS_SHIFT | io.priority()
}

/// Apply `process.ioPriority` to the calling process.
pub fn apply_io_priority(io: &LinuxIOPriority) -> Result<(), AttributeError> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    let value = ioprio_value(io);
    // SAFETY: plain integer syscall on ourselves (who 0).
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if rc < 0 {
        return Err(AttributeError::Sys {
            path: "process.ioPriority",
            what: format!("ioprio_set {} {}", io.class(), io.priority()),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Scheduler and I/O priority, both inherited by what the process execs.
pub fn apply(process: &Process) -> Result<(), AttributeError> {
    if let Some(s) = process.scheduler() {
        apply_scheduler(s)?;
    }
    if let Some(io) = process.io_priority() {
        apply_io_priority(io)?;
    }
    Ok(())
}

/// Which of the two execCPUAffinity lists to apply.
#[derive(Clone, Copy)]
pub enum AffinityStage {
    /// Before the process joins the container's cgroup.
    Initial,
    /// After it joined (joining a v1 cpuset resets the affinity).
    Final,
}

/// Pin the calling process to the `stage` list of `execCPUAffinity`, if any.
pub fn apply_affinity(
    aff: Option<&ExecCPUAffinity>,
    stage: AffinityStage,
) -> Result<(), AttributeError> {
    let (path, list) = match stage {
        AffinityStage::Initial => (
            "process.execCPUAffinity.initial",
            aff.and_then(|a| a.initial().clone()),
        ),
        AffinityStage::Final => (
            "process.execCPUAffinity.final",
            aff.and_then(|a| a.cpu_affinity_final().clone()),
        ),
    };
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    let set = parse_cpu_list(&list).map_err(|message| AttributeError::Invalid { path, message })?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).map_err(|e| {
        AttributeError::Sys {
            path,
            what: format!("sched_setaffinity {list}"),
            source: e.into(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: &str) -> Process {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn cpu_lists() {
        let set = parse_cpu_list("0-2,5").unwrap();
        for cpu in [0, 1, 2, 5] {
            assert!(set.is_set(cpu).unwrap());
        }
        assert!(!set.is_set(3).unwrap());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("5000")
            .unwrap_err()
            .contains("highest possible"));
    }

    #[test]
    fn scheduler_problems_are_located() {
        let p = process(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},
            "scheduler":{"policy":"SCHED_FIFO","nice":30,"priority":0},
            "ioPriority":{"class":"IOPRIO_CLASS_BE","priority":9},
            "execCPUAffinity":{"final":"7-2"}}"#,
        );
        let paths: Vec<String> = validate(&p, "process.")
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            paths,
            [
                "process.scheduler.nice",
                "process.scheduler.priority",
                "process.ioPriority.priority",
                "process.execCPUAffinity.final"
            ]
        );
    }

    #[test]
    fn deadline_and_iso() {
        let p = process(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},
            "scheduler":{"policy":"SCHED_DEADLINE","runtime":20,"deadline":10}}"#,
        );
        assert_eq!(validate(&p, "process.")[0].0, "process.scheduler");
        let p =
            process(r#"{"cwd":"/","user":{"uid":0,"gid":0},"scheduler":{"policy":"SCHED_ISO"}}"#);
        assert_eq!(validate(&p, "process.")[0].0, "process.scheduler.policy");
        let p = process(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},
            "scheduler":{"policy":"SCHED_BATCH","nice":5,"flags":["SCHED_RESET_ON_FORK"]}}"#,
        );
        assert!(validate(&p, "process.").is_empty());
    }

    #[test]
    fn ioprio_encoding() {
        let io: LinuxIOPriority =
            serde_json::from_str(r#"{"class":"IOPRIO_CLASS_IDLE","priority":3}"#).unwrap();
        assert_eq!(ioprio_value(&io), 3 << 13 | 3);
    }
}
