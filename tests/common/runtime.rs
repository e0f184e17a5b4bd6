//! Running the runtime binary: one subcommand at a time, with a timeout.
//!
//! Output goes to files, not pipes: a container started by `create` or
//! `run --detach` inherits the runtime's stdout and stderr and keeps them open
//! long after the runtime exits, so reading a pipe to its end would wait for
//! the container. Files also keep what the container prints later.

use super::sys::PidFd;
use super::TIMEOUT;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The runtime binary with this test's private `--root`.
pub struct Runtime {
    pub bin: PathBuf,
    pub root: PathBuf,
    out_dir: PathBuf,
    calls: AtomicUsize,
}

/// A prepared runtime call; `cmd` may be adjusted (extra fds) before `spawn`.
pub struct RuntimeCommand {
    pub cmd: Command,
    desc: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// A runtime call in progress. Dropped unfinished (a test failed while a
/// foreground `run` was going), it kills and reaps the runtime.
pub struct Spawned {
    child: Option<Child>,
    pidfd: PidFd,
    desc: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// What a finished runtime call did.
pub struct Output {
    pub desc: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub stdout_path: PathBuf,
}

impl Runtime {
    pub fn new(bin: PathBuf, root: PathBuf, out_dir: PathBuf) -> Runtime {
        fs::create_dir_all(&out_dir).expect("create output dir");
        Runtime {
            bin,
            root,
            out_dir,
            calls: AtomicUsize::new(0),
        }
    }

    /// `BIN --root ROOT ARGS...`, stdin from /dev/null, output to fresh files.
    pub fn command(&self, args: &[&str]) -> RuntimeCommand {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let stdout = self.out_dir.join(format!("{n}.stdout"));
        let stderr = self.out_dir.join(format!("{n}.stderr"));
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(&self.root).args(args);
        cmd.stdin(Stdio::null());
        cmd.stdout(fs::File::create(&stdout).expect("create stdout file"));
        cmd.stderr(fs::File::create(&stderr).expect("create stderr file"));
        let desc = format!("{} {}", self.bin.display(), args.join(" "));
        RuntimeCommand {
            cmd,
            desc,
            stdout,
            stderr,
        }
    }

    /// Like `command`, but `/bin/sh -c SCRIPT` starts the runtime: the
    /// script finds the runtime's command line in "$@" and must exec it.
    /// For environment only that shell knows, such as its own pid.
    pub fn command_via_sh(&self, script: &str, args: &[&str]) -> RuntimeCommand {
        let mut call = self.command(args);
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script).arg("sh");
        cmd.arg(&self.bin).arg("--root").arg(&self.root).args(args);
        cmd.stdin(Stdio::null());
        cmd.stdout(fs::File::create(&call.stdout).expect("create stdout file"));
        cmd.stderr(fs::File::create(&call.stderr).expect("create stderr file"));
        call.desc = format!("sh -c {script:?} sh {}", call.desc);
        call.cmd = cmd;
        call
    }

    /// Start `args` without waiting for it (e.g. a foreground `run`).
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        self.command(args).spawn()
    }

    /// Run `args` to completion (or fail the test after `TIMEOUT`).
    pub fn run(&self, args: &[&str]) -> Output {
        self.spawn(args).wait()
    }

    /// Run `args` and fail the test unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        out.assert_ok();
        out
    }

    /// Run `args` and fail the test unless it fails.
    pub fn fails(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        out.assert_failed();
        out
    }

    /// `state ID` parsed as JSON; fails the test if `state` fails.
    pub fn state(&self, id: &str) -> serde_json::Value {
        let out = self.ok(&["state", id]);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state {id} printed invalid JSON ({e}): {}", out.stdout))
    }

    /// The `status` field of `state ID`.
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .expect("state has a status string")
            .to_string()
    }

    /// The `pid` field of `state ID`.
    pub fn pid(&self, id: &str) -> i32 {
        let pid = self.state(id)["pid"]
            .as_i64()
            .expect("state has a numeric pid");
        i32::try_from(pid).expect("pid fits in i32")
    }
}

impl RuntimeCommand {
    /// Give the runtime `fd` as its fd 3, without close-on-exec, as an
    /// engine passes an extra file (`--preserve-fds`, `LISTEN_FDS`).
    pub fn pass_as_fd3(&mut self, fd: std::os::fd::RawFd) -> &mut Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            self.cmd.pre_exec(move || {
                // dup2 clears close-on-exec on the copy; if the pipe already
                // is fd 3, clear it by hand.
                let rc = if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, 3)
                };
                if rc < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self
    }

    pub fn spawn(mut self) -> Spawned {
        let child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.desc));
        let pid = child.id() as i32;
        // Our unreaped child cannot vanish, so the pidfd always opens.
        let pidfd = PidFd::open(pid).expect("pidfd of a fresh child");
        Spawned {
            child: Some(child),
            pidfd,
            desc: self.desc,
            stdout: self.stdout,
            stderr: self.stderr,
        }
    }
}

impl Spawned {
    pub fn pid(&self) -> i32 {
        self.pidfd.pid
    }

    /// Wait for the call to finish. After `TIMEOUT` the runtime is killed and
    /// the test fails, showing what it had printed.
    pub fn wait(self) -> Output {
        let (out, finished) = self.finish();
        assert!(finished, "timed out after {TIMEOUT:?}: {out}");
        out
    }

    /// Wait for the call, killing it after `TIMEOUT`; never panics on the
    /// runtime's account (for cleanup code). The flag says whether it
    /// finished by itself.
    pub fn finish(mut self) -> (Output, bool) {
        let finished = self.pidfd.wait_exit(TIMEOUT);
        if !finished {
            self.pidfd.kill(libc::SIGKILL);
        }
        let mut child = self.child.take().expect("a call is finished once");
        let status = child.wait().expect("wait for runtime");
        let out = Output {
            desc: std::mem::take(&mut self.desc),
            status,
            stdout: read_lossy(&self.stdout),
            stderr: read_lossy(&self.stderr),
            stdout_path: std::mem::take(&mut self.stdout),
        };
        (out, finished)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.pidfd.kill(libc::SIGKILL);
            let _ = child.wait();
        }
    }
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

impl Output {
    /// The exit code, or None if the runtime itself was killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn assert_ok(&self) -> &Output {
        assert!(self.success(), "expected success: {self}");
        self
    }

    pub fn assert_failed(&self) -> &Output {
        assert!(
            matches!(self.code(), Some(c) if c != 0),
            "expected a clean failure (non-zero exit): {self}"
        );
        self
    }

    /// The stdout file as it is now: a container created by this call may
    /// have written more since the call returned.
    pub fn stdout_now(&self) -> String {
        read_lossy(&self.stdout_path)
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited with {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.desc, self.status, self.stdout, self.stderr
        )
    }
}
