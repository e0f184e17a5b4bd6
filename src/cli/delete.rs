//! `keel delete`: remove a stopped container (or, forced, any container).

use crate::state::{self, StateError};

pub fn run(cli: &super::Cli, args: &super::DeleteArgs) -> anyhow::Result<()> {
    let c = state::open(&cli.root, &args.id)?;
    match c.load() {
        Ok(st) => crate::lifecycle::destroy(c, &st, args.force)?,
        // A create that crashed before writing its state, or a damaged
        // state file: nothing is known to be running, so force removes it.
        Err(StateError::NotFound(_) | StateError::Corrupt { .. }) if args.force => c.remove()?,
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
