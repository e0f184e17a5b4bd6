//! A foreground `run` is a signal proxy: every catchable signal it gets
//! reaches the container's init, and it returns as soon as the init exits,
//! whenever signals arrive relative to that exit.

mod common;

use common::sys::PidFd;
use common::{Sandbox, Spawned, TIMEOUT};
use nix::sys::signal::Signal;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// How many containers the race test runs. Each exits at once, so every
/// stage of `run` (create, start, the wait) sees signals in some runs.
const RACE_RUNS: usize = 200;

/// What the race test sends. The container, `true` as a pid namespace's
/// init, has no handler for any of them, so the kernel ignores each one
/// `run` forwards and the container always exits 0.
const RACE_SIGNALS: [i32; 10] = [
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGALRM,
    libc::SIGWINCH,
    libc::SIGCHLD,
    libc::SIGURG,
    libc::SIGCONT,
];

/// Those of `RACE_SIGNALS` that are fatal by default. One that lands after
/// the exec but before keel's `main` could block it would kill keel, which
/// no runtime can prevent; blocked across the exec it is pending instead,
/// and keel must forward it. SIGCHLD stays unblocked: blocking it in time
/// is keel's own job, and the point of the test.
const FATAL_BEFORE_MAIN: [i32; 6] = [
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGALRM,
];

/// A small xorshift generator: the test needs spread, not quality, and
/// prints its seed so a failing schedule can be replayed.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = match std::env::var("KEEL_TEST_SEED") {
            Ok(s) => s.parse().expect("KEEL_TEST_SEED is a number"),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64,
        };
        eprintln!("signal race seed: KEEL_TEST_SEED={seed}");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Start `run` of the sandbox's container with `blocked` in its initial
/// signal mask.
fn spawn_run_blocking(sb: &mut Sandbox, id: &str, blocked: &'static [i32]) -> Spawned {
    sb.prepare(id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let mut call = sb.rt.command(&["run", "--bundle", &bundle, id]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        call.cmd.pre_exec(move || {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &sig in blocked {
                libc::sigaddset(&mut set, sig);
            }
            match libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) {
                0 => Ok(()),
                e => Err(std::io::Error::from_raw_os_error(e)),
            }
        });
    }
    call.spawn()
}

/// Signal `run` at random moments until it exits; fails the test if it is
/// still running at `deadline`. Returns how many signals were sent.
fn pester_until_exit(run: &Spawned, rng: &mut Rng, deadline: Instant) -> usize {
    let pidfd = PidFd::open(run.pid()).expect("pidfd of our unreaped child");
    let mut sent = 0;
    loop {
        // The pause only spreads the signals over the run; the exit itself
        // is what the pidfd reports.
        let pause = Duration::from_micros(rng.below(3000));
        if pidfd.wait_exit(pause) {
            return sent;
        }
        assert!(
            Instant::now() < deadline,
            "run {} still running after {TIMEOUT:?} and {sent} signals",
            run.pid()
        );
        let signal = RACE_SIGNALS[rng.below(RACE_SIGNALS.len() as u64) as usize];
        pidfd.kill(signal);
        sent += 1;
    }
}

#[test]
fn run_returns_when_the_container_exits_whatever_signals_arrive() {
    let mut sb = Sandbox::new("run_signal_race");
    sb.bundle.args(&["true"]);
    let id = sb.id.clone();
    let mut rng = Rng::seeded();
    let (started, mut signals, mut slowest) = (Instant::now(), 0, Duration::ZERO);
    for n in 0..RACE_RUNS {
        let begun = Instant::now();
        let run = spawn_run_blocking(&mut sb, &id, &FATAL_BEFORE_MAIN);
        signals += pester_until_exit(&run, &mut rng, begun + TIMEOUT);
        let out = run.wait();
        assert_eq!(out.code(), Some(0), "run {n} of {RACE_RUNS}: {out}");
        slowest = slowest.max(begun.elapsed());
    }
    eprintln!(
        "{RACE_RUNS} runs, {signals} signals, {:?} in all, slowest run {slowest:?}",
        started.elapsed()
    );
}

/// Every signal a process can catch: the standard ones but SIGKILL and
/// SIGSTOP, and the realtime ones (glibc keeps 32 and 33 for itself).
fn catchable() -> Vec<(i32, String)> {
    let standard = (1..libc::SIGRTMIN())
        .filter_map(|n| Signal::try_from(n).ok())
        .filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP))
        .map(|s| (s as i32, s.as_str().to_string()));
    let realtime = (libc::SIGRTMIN()..=libc::SIGRTMAX())
        .map(|n| (n, format!("SIGRTMIN+{}", n - libc::SIGRTMIN())));
    standard.chain(realtime).collect()
}

#[test]
fn run_forwards_every_catchable_signal_to_the_container() {
    let signals = catchable();
    // One trap per signal reports its name; the last one ends the process
    // with a code only the traps give. The count is matched with `case`,
    // not `[ $n = N ] && exit 7`: the next signal arrives while this trap
    // still runs, and busybox sh (dash too) may run its trap right after
    // `[` and then put the status saved when the outer trap began (0 after
    // a command that succeeded) over `[`'s. `&&` then takes a false test
    // for true, the shell exits early and the signals sent next never
    // show. `case` reads no exit status.
    let mut script = String::from("n=0; ");
    for (number, name) in &signals {
        script += &format!(
            "trap 'echo {name} > /shared/events; n=$((n+1)); \
             case $n in {}) exit 7;; esac' {number}; ",
            signals.len()
        );
    }
    script += "echo ready > /shared/events; while :; do sleep 1000 & wait $!; done";
    let mut sb = Sandbox::new("run_forwards_every_signal");
    let mut events = sb.fifo("events");
    sb.bundle.sh(&script);
    let id = sb.id.clone();
    let run = sb.spawn_run(&id, &[]);
    assert_eq!(events.read_line("the container to set its traps"), "ready");
    let pidfd = PidFd::open(run.pid()).expect("pidfd of our unreaped child");
    for (number, name) in &signals {
        pidfd.kill(*number);
        assert_eq!(events.read_line(&format!("{name} forwarded")), *name);
    }
    let out = run.wait();
    assert_eq!(out.code(), Some(7), "{out}");
}
