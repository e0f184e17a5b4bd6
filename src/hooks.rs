//! OCI hooks (config.md "POSIX-platform Hooks").
//!
//! Each hook is run to completion before the next one starts; the container
//! state JSON is fed to its stdin and its output is kept (bounded) so that a
//! failure can say why the hook failed.

mod sigpipe;
mod spawn;
mod supervise;
mod validate;

#[cfg(test)]
mod tests;

use oci_spec::runtime::Hook;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use validate::validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    /// The name the runtime spec (and config.json) uses for this hook list.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which hook failed, shown as `createRuntime hook 1 (/usr/bin/foo)`.
#[derive(Debug, Clone)]
pub struct HookRef {
    pub kind: HookKind,
    pub index: usize,
    pub path: PathBuf,
}

impl fmt::Display for HookRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} hook {} ({})",
            self.kind,
            self.index,
            self.path.display()
        )
    }
}

/// The tails of what a failed hook wrote, rendered as `; stdout: ...; stderr: ...`
/// with empty streams left out, so the whole error stays on one line.
#[derive(Debug, Clone, Default)]
pub struct HookOutput {
    pub stdout: String,
    pub stderr: String,
}

impl HookOutput {
    fn from_tails(stdout: &[u8], stderr: &[u8]) -> HookOutput {
        HookOutput {
            stdout: one_line(stdout),
            stderr: one_line(stderr),
        }
    }
}

impl fmt::Display for HookOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.stdout.is_empty() {
            write!(f, "; stdout: {}", self.stdout)?;
        }
        if !self.stderr.is_empty() {
            write!(f, "; stderr: {}", self.stderr)?;
        }
        Ok(())
    }
}

/// Errors carry their cause in the message rather than as `source()`, so that
/// `{:#}` chains do not print the cause twice.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{hook}: exec failed: {error}")]
    Spawn {
        hook: HookRef,
        error: std::io::Error,
    },
    #[error("{hook}: exited with status {code}{output}")]
    Exited {
        hook: HookRef,
        code: i32,
        output: HookOutput,
    },
    #[error("{hook}: killed by signal {signal}{output}")]
    Signaled {
        hook: HookRef,
        signal: String,
        output: HookOutput,
    },
    #[error("{hook}: timed out after {secs}s{output}")]
    TimedOut {
        hook: HookRef,
        secs: i64,
        output: HookOutput,
    },
    #[error("{hook}: timeout must be a positive number of seconds, got {secs}")]
    BadTimeout { hook: HookRef, secs: i64 },
    #[error("{hook}: {what}: {error}")]
    Io {
        hook: HookRef,
        what: &'static str,
        error: std::io::Error,
    },
}

/// Run `hooks` in order, each with `state_json` on its stdin; stop at the
/// first failure (non-zero exit, signal, timeout, or exec failure).
pub fn run(kind: HookKind, hooks: &[Hook], state_json: &str) -> Result<(), HookError> {
    for (index, hook) in hooks.iter().enumerate() {
        let hook_ref = HookRef {
            kind,
            index,
            path: hook.path().clone(),
        };
        run_one(hook_ref, hook, state_json.as_bytes())?;
    }
    Ok(())
}

/// Run every hook of `hooks` even after one fails, logging each failure as
/// a warning: runtime.md's rule for poststop hooks ("the remaining hooks and
/// lifecycle continue as if the hook had succeeded").
pub fn run_warning(kind: HookKind, hooks: &[Hook], state_json: &str) {
    for (index, hook) in hooks.iter().enumerate() {
        let hook_ref = HookRef {
            kind,
            index,
            path: hook.path().clone(),
        };
        if let Err(e) = run_one(hook_ref, hook, state_json.as_bytes()) {
            crate::logging::warn(&e.to_string());
        }
    }
}

fn run_one(hook_ref: HookRef, hook: &Hook, state: &[u8]) -> Result<(), HookError> {
    let timeout = match hook.timeout() {
        Some(secs) if secs <= 0 => {
            return Err(HookError::BadTimeout {
                hook: hook_ref,
                secs,
            })
        }
        Some(secs) => Some(Duration::from_secs(secs.unsigned_abs())),
        None => None,
    };
    let mut child = match spawn::command(hook).spawn() {
        Ok(child) => child,
        Err(error) => {
            return Err(HookError::Spawn {
                hook: hook_ref,
                error,
            })
        }
    };
    match supervise::supervise(&mut child, state, timeout) {
        Ok(done) => judge(hook_ref, done, hook.timeout().unwrap_or_default()),
        Err(supervise::Failure { what, error }) => Err(HookError::Io {
            hook: hook_ref,
            what,
            error,
        }),
    }
}

/// Success, or the error describing how the hook ended.
fn judge(hook: HookRef, done: supervise::Done, timeout_secs: i64) -> Result<(), HookError> {
    let output = HookOutput::from_tails(&done.stdout, &done.stderr);
    Err(match done.end {
        supervise::End::Exited(0) => return Ok(()),
        supervise::End::Exited(code) => HookError::Exited { hook, code, output },
        supervise::End::Signaled(sig) => HookError::Signaled {
            hook,
            signal: signal_name(sig),
            output,
        },
        supervise::End::TimedOut => HookError::TimedOut {
            hook,
            secs: timeout_secs,
            output,
        },
    })
}

fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => sig.to_string(),
    }
}

/// Lossy text of `bytes`, trimmed, with line breaks shown as "; ".
fn one_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("; ")
}
