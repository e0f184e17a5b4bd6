//! `keel exec`: run a new process in a running container.

use crate::process::join::{self, ExecOptions};
use crate::state::{self, Status};
use crate::{console, foreground};
use anyhow::{bail, Context};
use oci_spec::runtime::{Capability, Process};
use std::os::fd::AsRawFd;

pub fn run(cli: &super::Cli, args: &super::ExecArgs) -> anyhow::Result<i32> {
    // The new process's cgroup.procs write waits for a grace period that
    // this starts now, to run while the state is read and the seccomp
    // filter compiled (see cgroups::grace).
    crate::cgroups::grace::start();
    let c = state::open(&cli.root, &args.id)?;
    let st = c.load()?;
    match st.status(&c.dir) {
        Status::Running | Status::Created => {}
        Status::Paused if args.ignore_paused => {}
        Status::Paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to queue it)")
        }
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Creating => bail!("cannot exec in a container that is still being created"),
    }
    // Before anything is made: this may re-exec keel (see selfexe).
    if crate::selfexe::exposed_to_exec(st.pid) {
        crate::cgroups::grace::finish();
        crate::selfexe::protect()?;
    }
    let process = build_process(args, st.process.as_ref())?;
    let tty = process.terminal().unwrap_or(false);
    if tty && args.detach && args.console_socket.is_none() {
        bail!("--console-socket is required for a detached exec with a terminal");
    }
    // The container is not changed by exec; the lock only guards the check.
    drop(c);
    let relay = tty && args.console_socket.is_none();
    if !args.detach {
        foreground::prepare()?;
    }
    let pair = if relay {
        Some(foreground::socketpair()?)
    } else {
        None
    };
    let filter = st
        .seccomp
        .as_ref()
        .map(crate::seccomp::compile)
        .transpose()?;
    let seccomp = filter.as_ref().zip(st.seccomp.as_ref());
    let state_json = crate::process::hook_state(&st, "running", st.pid);
    let opts = ExecOptions {
        init_pid: st.pid,
        cgroup: st.cgroup.as_ref(),
        seccomp,
        state_json: &state_json,
        process: &process,
        console_socket: args.console_socket.as_deref(),
        console_fd: pair.as_ref().map(|(_, theirs)| theirs.as_raw_fd()),
        preserve_fds: args.preserve_fds,
        pid_file: args.pid_file.as_deref(),
        personality: st.personality.as_ref(),
        memory_policy: st.memory_policy.as_ref(),
    };
    // Joined before the fork, which would wait for it anyway.
    crate::cgroups::grace::finish();
    let pid = join::spawn(&opts)?;
    if args.detach {
        return Ok(0);
    }
    let master = match &pair {
        Some((ours, _)) => Some(console::recv_master(ours)?),
        None => None,
    };
    drop(pair);
    foreground::wait_for_exit(pid, master)
}

/// The process document, or the container's own process with runc's
/// command-line overrides.
fn build_process(args: &super::ExecArgs, base: Option<&Process>) -> anyhow::Result<Process> {
    let mut p = match &args.process {
        Some(path) => read_process(path)?,
        None => from_flags(args, base.cloned().unwrap_or_default())?,
    };
    set_labels(&mut p, args, base)?;
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("exec: no command given (expected COMMAND after the id, or --process)");
    }
    if !p.cwd().is_absolute() {
        bail!(
            "exec: process.cwd must be an absolute path, got {:?}",
            p.cwd()
        );
    }
    if let Some((path, message)) = crate::process::attributes::validate(&p, "process.")
        .into_iter()
        .next()
    {
        bail!("exec: {path}: {message}");
    }
    Ok(p)
}

/// As runc: `--apparmor` and `--process-label` win; otherwise a label the
/// process document leaves empty is the container's own, so that an exec'd
/// process is confined like the init.
fn set_labels(
    p: &mut Process,
    args: &super::ExecArgs,
    base: Option<&Process>,
) -> anyhow::Result<()> {
    use crate::lsm::{check_flag, Lsm};
    let own = base.map(crate::lsm::Labels::of).unwrap_or_default();
    let empty = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    if let Some(profile) = given(&args.apparmor) {
        if let Some(problem) = check_flag("--apparmor", &profile, Lsm::AppArmor) {
            bail!("exec: {problem}");
        }
        p.set_apparmor_profile(Some(profile));
    } else if empty(p.apparmor_profile()) {
        p.set_apparmor_profile(own.apparmor);
    }
    if let Some(label) = given(&args.process_label) {
        if let Some(problem) = check_flag("--process-label", &label, Lsm::Selinux) {
            bail!("exec: {problem}");
        }
        p.set_selinux_label(Some(label));
    } else if empty(p.selinux_label()) {
        p.set_selinux_label(own.selinux);
    }
    Ok(())
}

/// A process JSON file, with errors naming the file and the JSON path.
fn read_process(path: &std::path::Path) -> anyhow::Result<Process> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--process {}", path.display()))?;
    crate::config::parse_process(&text).map_err(|problems| {
        let all: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}: {}", path.display(), p.path, p.message))
            .collect();
        anyhow::anyhow!("{}", all.join("; "))
    })
}

fn from_flags(args: &super::ExecArgs, mut p: Process) -> anyhow::Result<Process> {
    p.set_args(Some(args.command.clone()));
    p.set_terminal(Some(args.tty));
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(args.env.iter().cloned());
    p.set_env(Some(env));
    let mut user = p.user().clone();
    if let Some(spec) = &args.user {
        let (uid, gid) = parse_user(spec)?;
        user.set_uid(uid);
        if let Some(gid) = gid {
            user.set_gid(gid);
        }
    }
    if !args.additional_gids.is_empty() {
        user.set_additional_gids(Some(args.additional_gids.clone()));
    }
    p.set_user(user);
    add_caps(&mut p, &args.cap)?;
    Ok(p)
}

/// `uid` or `uid:gid`, numeric as runc takes them.
fn parse_user(spec: &str) -> anyhow::Result<(u32, Option<u32>)> {
    let bad = || anyhow::anyhow!("--user {spec:?}: expected uid or uid:gid (numbers)");
    let (uid, gid) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let uid = uid.parse().map_err(|_| bad())?;
    let gid = gid.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

/// --cap adds to the bounding, effective and permitted sets.
fn add_caps(p: &mut Process, names: &[String]) -> anyhow::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let mut caps = p.capabilities().clone().unwrap_or_default();
    for name in names {
        let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
            .map_err(|_| anyhow::anyhow!("--cap {name:?}: unknown capability"))?;
        let add = |s: &Option<oci_spec::runtime::Capabilities>| {
            let mut s = s.clone().unwrap_or_default();
            s.insert(cap);
            Some(s)
        };
        caps.set_bounding(add(caps.bounding()));
        caps.set_effective(add(caps.effective()));
        caps.set_permitted(add(caps.permitted()));
    }
    p.set_capabilities(Some(caps));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_parse_like_runc() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1000:100").unwrap(), (1000, Some(100)));
        assert!(parse_user("bob").is_err());
    }

    #[test]
    fn engine_process_documents_parse() {
        for name in ["containerd", "docker", "podman"] {
            let path = format!(
                "{}/tests/fixtures/{name}-exec-process.json",
                env!("CARGO_MANIFEST_DIR")
            );
            let p = read_process(std::path::Path::new(&path)).unwrap();
            assert!(p.args().as_ref().is_some_and(|a| !a.is_empty()), "{name}");
        }
    }
}
