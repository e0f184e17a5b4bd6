//! cgroup2 freezer: cgroup.freeze asks, cgroup.events answers. Writing 1
//! starts the freeze; "frozen 1" appears in cgroup.events once every task
//! has stopped (see `events` for the wait). It is bounded: a freeze that
//! has not completed by then is undone and reported.

use std::path::Path;
use std::time::Duration;

use super::events;
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Dir, Files};

const FIELD: &str = "freezer";
const FREEZE: &str = "cgroup.freeze";
/// Generous: on a loaded machine a task may take a while to reach a point
/// where it can stop.
const WAIT: Duration = Duration::from_secs(30);

pub fn freeze(dir: &Path) -> Result<(), CgroupError> {
    let d = Dir(dir.to_path_buf());
    fs::write(&d, FIELD, FREEZE, "1")?;
    if let Err(e) = wait_for(dir, true) {
        let _ = d.write(FREEZE, "0");
        return Err(e);
    }
    Ok(())
}

pub fn thaw(dir: &Path) -> Result<(), CgroupError> {
    fs::write(&Dir(dir.to_path_buf()), FIELD, FREEZE, "0")?;
    wait_for(dir, false)
}

/// Frozen because of its own cgroup.freeze, not only an ancestor's.
pub fn is_frozen(f: &dyn Files) -> bool {
    fs::read(f, FIELD, FREEZE).is_ok_and(|v| v == "1")
}

/// The "frozen" value of cgroup.events text.
#[cfg(test)]
pub fn frozen_in(text: &str) -> Option<bool> {
    events::value(text, "frozen").map(|v| v == "1")
}

fn wait_for(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    let want = if frozen { "1" } else { "0" };
    events::wait(dir, "frozen", want, WAIT).map_err(|msg| CgroupError::Freeze {
        file: dir.join("cgroup.events"),
        msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_text() {
        assert_eq!(frozen_in("populated 1\nfrozen 1\n"), Some(true));
        assert_eq!(frozen_in("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(frozen_in("populated 0\n"), None);
        let d = crate::cgroups::fake::FakeDir::new(&[(FREEZE, "1")]);
        assert!(is_frozen(&d));
        assert!(!is_frozen(&crate::cgroups::fake::FakeDir::new(&[(
            FREEZE, "0"
        )])));
    }
}
