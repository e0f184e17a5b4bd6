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
        // A create that crashed before writing its state: nothing of it
        // runs (its init dies with it), so force removes the directory.
        Err(StateError::NotFound(_)) if args.force => crate::lifecycle::remove_state(c)?,
        // A damaged state file: force removes what can still be found.
        Err(StateError::Corrupt { .. }) if args.force => {
            crate::lifecycle::destroy_damaged(c, &args.id)?
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
