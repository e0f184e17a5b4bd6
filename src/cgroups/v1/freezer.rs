//! v1 freezer: pause and resume every process of the cgroup.
//!
//! Writing FROZEN starts the freeze; freezer.state reads FREEZING until
//! every task has stopped, and each read re-checks. There is no event to
//! wait on in v1, so `freeze` re-reads the file with a bounded count and
//! a `sched_yield` between reads: the wait is on the kernel's own state,
//! never a sleep guessed to be long enough. A task caught mid-vfork or in a
//! ptrace stop can keep the group FREEZING, so after each round of reads
//! the cgroup is thawed and frozen again (runc does the same); after the
//! last round it is left thawed and the failure reported.

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const STATE: &str = "freezer.state";
const FIELD: &str = "freezer";
pub const ROUNDS: usize = 10;
pub const READS_PER_ROUND: usize = 20_000;

pub fn freeze(f: &dyn Files) -> Result<(), CgroupError> {
    for round in 0..ROUNDS {
        if round > 0 {
            fs::write(f, FIELD, STATE, "THAWED")?;
        }
        fs::write(f, FIELD, STATE, "FROZEN")?;
        for _ in 0..READS_PER_ROUND {
            match fs::read(f, FIELD, STATE)?.as_str() {
                "FROZEN" => return Ok(()),
                "FREEZING" => std::thread::yield_now(),
                other => return Err(unexpected(f, other)),
            }
        }
    }
    let _ = f.write(STATE, "THAWED");
    Err(CgroupError::Freeze {
        file: f.path(STATE),
        msg: format!(
            "still FREEZING after {ROUNDS} rounds of {READS_PER_ROUND} reads; left thawed"
        ),
    })
}

pub fn thaw(f: &dyn Files) -> Result<(), CgroupError> {
    fs::write(f, FIELD, STATE, "THAWED")
}

/// Frozen by its own freezer.state, not only because an ancestor is.
pub fn is_frozen(f: &dyn Files) -> bool {
    let state = fs::read(f, FIELD, STATE).unwrap_or_default();
    let own = fs::read(f, FIELD, "freezer.self_freezing").unwrap_or_else(|_| "1".into());
    state == "FROZEN" && own != "0"
}

fn unexpected(f: &dyn Files, state: &str) -> CgroupError {
    CgroupError::Freeze {
        file: f.path(STATE),
        msg: format!("unexpected state {state:?} while freezing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::io;
    use std::path::PathBuf;

    /// A freezer that reports FREEZING for `busy` reads after each FROZEN.
    struct Slow {
        busy: usize,
        left: Cell<usize>,
        state: Cell<&'static str>,
        writes: Cell<usize>,
    }

    impl Files for Slow {
        fn path(&self, file: &str) -> PathBuf {
            PathBuf::from("/fake").join(file)
        }
        fn exists(&self, _: &str) -> bool {
            true
        }
        fn read(&self, file: &str) -> io::Result<String> {
            if file != STATE {
                return Ok("1\n".into());
            }
            if self.state.get() == "FREEZING" && self.left.get() == 0 {
                self.state.set("FROZEN");
            }
            self.left.set(self.left.get().saturating_sub(1));
            Ok(format!("{}\n", self.state.get()))
        }
        fn write(&self, _: &str, value: &str) -> io::Result<()> {
            self.writes.set(self.writes.get() + 1);
            self.left.set(self.busy);
            self.state.set(if value == "FROZEN" {
                "FREEZING"
            } else {
                "THAWED"
            });
            Ok(())
        }
    }

    fn slow(busy: usize) -> Slow {
        Slow {
            busy,
            left: Cell::new(0),
            state: Cell::new("THAWED"),
            writes: Cell::new(0),
        }
    }

    #[test]
    fn waits_through_freezing() {
        let f = slow(100);
        freeze(&f).unwrap();
        assert!(is_frozen(&f));
        assert_eq!(f.writes.get(), 1);
        thaw(&f).unwrap();
        assert!(!is_frozen(&f));
    }

    #[test]
    fn gives_up_thawed_after_bounded_reads() {
        let f = slow(usize::MAX);
        let e = freeze(&f).unwrap_err().to_string();
        assert!(
            e.starts_with("/fake/freezer.state: still FREEZING after 10 rounds"),
            "{e}"
        );
        assert_eq!(f.state.get(), "THAWED");
    }
}
