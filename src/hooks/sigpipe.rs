//! Writing the state to a hook that exits without reading it raises SIGPIPE.
//! Whatever our disposition is (Rust ignores it, but a caller that forwards
//! signals may block it and would then forward it), it must neither kill us
//! nor reach anyone else: block it while a hook runs and discard the one we
//! caused.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

/// Blocks SIGPIPE on this thread until dropped.
pub(super) struct SigpipeGuard {
    old: Option<SigSet>,
    raised: bool,
}

impl SigpipeGuard {
    pub(super) fn new() -> SigpipeGuard {
        let mut set = SigSet::empty();
        set.add(Signal::SIGPIPE);
        // Failure is only possible with a bad `how`; without the guard we
        // still get EPIPE under Rust's default SIG_IGN.
        let old = set.thread_swap_mask(SigmaskHow::SIG_BLOCK).ok();
        SigpipeGuard { old, raised: false }
    }

    /// Record that a write failed with EPIPE, so a SIGPIPE is now pending.
    pub(super) fn raised(&mut self) {
        self.raised = true;
    }
}

impl Drop for SigpipeGuard {
    fn drop(&mut self) {
        if self.raised {
            discard_pending();
        }
        if let Some(old) = self.old {
            let _ = old.thread_set_mask();
        }
    }
}

fn discard_pending() {
    let mut set = SigSet::empty();
    set.add(Signal::SIGPIPE);
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a zero timeout makes this a non-blocking dequeue; EAGAIN when
    // nothing is pending is the expected outcome under SIG_IGN.
    unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &zero) };
}
