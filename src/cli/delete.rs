//! `keel delete`: remove a stopped container (or, forced, any container).

use crate::state::{self, StateError};

pub fn run(cli: &super::Cli, args: &super::DeleteArgs) -> anyhow::Result<()> {
    let c = match state::open(&cli.root, &args.id) {
        // As runc: forcing the removal of what is not there is no error, so
        // engines can clean up idempotently.
        Err(StateError::NotFound(_)) if args.force => return Ok(()),
        other => other?,
    };
    match c.load() {
        Ok(st) => crate::lifecycle::destroy(c, &st, args.force)?,
        // A create that crashed before writing its state (its init dies
        // with it, but its cgroup may exist), or a damaged state file:
        // force removes what can still be found.
        Err(StateError::NotFound(_) | StateError::Corrupt { .. }) if args.force => {
            crate::lifecycle::destroy_damaged(c, &args.id)?
        }
        // The directory is there and we hold its lock, so no create is
        // still working on it: it was killed before it wrote the state.
        Err(StateError::NotFound(_)) => anyhow::bail!(
            "container {}: its create did not finish (no state.json); delete --force removes \
             what it left",
            args.id
        ),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
