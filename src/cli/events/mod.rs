//! `keel events`: a container's stats and OOM events as JSON lines, in
//! runc's format. `--stats` prints one stats document and exits; otherwise
//! a stats event comes every `--interval` and an `oom` event as soon as the
//! kernel reports one, until the container stops.
//!
//! The stream waits in one poll(2) on three fds: the OOM notification
//! (see `cgroups::oom`), a timerfd for the interval and a pidfd for the
//! init, so an OOM is printed when it happens, not at the next tick.

mod duration;

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use serde::Serialize;

use crate::cgroups::oom::OomWatch;
use crate::cgroups::stats::{self, Stats};
use crate::cgroups::Cgroup;
use crate::state::{self, State, Status};

#[derive(Args, Debug, Clone)]
pub struct EventsArgs {
    /// The container ID.
    pub id: String,
    /// How often to print stats, in Go's duration syntax (500ms, 5s, 1m).
    #[arg(long, default_value = "5s", allow_hyphen_values = true)]
    pub interval: String,
    /// Print the container's stats once and exit.
    #[arg(long)]
    pub stats: bool,
}

/// runc's `types.Event`: `data` only for stats.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Stats>,
}

pub fn run(cli: &super::Cli, args: &EventsArgs) -> anyhow::Result<()> {
    state::validate_id(&args.id)?;
    let dir = cli.root.join(&args.id);
    let st = state::read(&dir)?;
    let ns = duration::parse(&args.interval)
        .map_err(|e| anyhow!("invalid value {:?} for flag --interval: {e}", args.interval))?;
    if ns <= 0 {
        bail!("duration interval must be greater than 0");
    }
    if st.status(&dir) == Status::Stopped {
        bail!("container with id {} is not running", args.id);
    }
    let cg = crate::lifecycle::cgroup_of(&st)?;
    let mut out = std::io::stdout().lock();
    if args.stats {
        let s = stats::collect(cg).context("unable to get container cgroup stats")?;
        return emit(&mut out, &Event::stats(&st.id, &s));
    }
    stream(&st, cg, Duration::from_nanos(ns as u64), &mut out)
}

impl<'a> Event<'a> {
    fn stats(id: &'a str, s: &'a Stats) -> Event<'a> {
        Event {
            kind: "stats",
            id,
            data: Some(s),
        }
    }

    fn oom(id: &'a str) -> Event<'a> {
        Event {
            kind: "oom",
            id,
            data: None,
        }
    }
}

/// One compact JSON document and a newline, flushed at once: a reader
/// (containerd) acts on each line as it comes.
fn emit(out: &mut impl Write, event: &Event) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, event)?;
    out.write_all(b"\n")?;
    out.flush().context("write event")
}

fn stream(st: &State, cg: &Cgroup, interval: Duration, out: &mut impl Write) -> anyhow::Result<()> {
    // Stopped since the status check: nothing more to report.
    let Some(init) = crate::lifecycle::init_pidfd(st) else {
        return Ok(());
    };
    let mut oom = OomWatch::new(cg)?;
    let flags = TimerFlags::TFD_CLOEXEC | TimerFlags::TFD_NONBLOCK;
    let timer = TimerFd::new(ClockId::CLOCK_MONOTONIC, flags).context("timerfd")?;
    let every = Expiration::Interval(TimeSpec::from_duration(interval));
    timer
        .set(every, TimerSetTimeFlags::empty())
        .context("set the interval timer")?;
    loop {
        let [oom_ready, tick, exited] = wait(&[oom.fd(), timer.as_fd(), init.as_fd()])?;
        // Exit is checked after the OOMs: the kernel signals an OOM before
        // its victim dies, so a kill that ended the container is printed.
        if oom_ready || exited {
            let gone = report_ooms(&mut oom, &st.id, out)?;
            if gone || exited {
                return Ok(());
            }
        }
        if tick {
            let mut expirations = [0u8; 8];
            let _ = nix::unistd::read(&timer, &mut expirations);
            // An init the kernel has not finished (a pid namespace's init
            // waiting for processes nobody reaps) never makes its pidfd
            // readable, but the container has stopped.
            if !st.init_alive() {
                report_ooms(&mut oom, &st.id, out)?;
                return Ok(());
            }
            match stats::collect(cg) {
                Ok(s) => emit(out, &Event::stats(&st.id, &s))?,
                // As runc: a failed sample is logged, the stream goes on.
                Err(e) => {
                    crate::logging::error(&format!("unable to get container cgroup stats: {e}"))
                }
            }
        }
    }
}

/// Print the OOM events the watch has seen; whether the cgroup is gone.
fn report_ooms(oom: &mut OomWatch, id: &str, out: &mut impl Write) -> anyhow::Result<bool> {
    let o = oom.take()?;
    for _ in 0..o.events {
        emit(out, &Event::oom(id))?;
    }
    Ok(o.gone)
}

/// Block until at least one of `fds` is readable; which ones are.
fn wait<const N: usize>(fds: &[BorrowedFd<'_>; N]) -> anyhow::Result<[bool; N]> {
    let mut polled = fds.map(|fd| PollFd::new(fd, PollFlags::POLLIN));
    loop {
        match poll(&mut polled, PollTimeout::NONE) {
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(anyhow!("poll: {e}")),
        }
    }
    let any = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
    Ok(polled.map(|p| p.revents().is_some_and(|r| r.intersects(any))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_runcs_lines() {
        let mut out = Vec::new();
        emit(&mut out, &Event::oom("c1")).unwrap();
        let s = Stats::default();
        emit(&mut out, &Event::stats("c1", &s)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"type":"oom","id":"c1"}"#);
        assert!(
            lines[1].starts_with(r#"{"type":"stats","id":"c1","data":{"cpu":"#),
            "{}",
            lines[1]
        );
        assert!(text.ends_with("}\n"));
    }
}
