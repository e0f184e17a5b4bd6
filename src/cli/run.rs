//! `keel run`: create, start, and (unless detached) wait for the container,
//! forwarding signals to it and relaying its terminal when it has one.

use crate::{console, foreground, lifecycle};
use std::os::fd::AsRawFd;

pub fn run(cli: &super::Cli, args: &super::RunArgs) -> anyhow::Result<i32> {
    let relay = !args.detach && args.create.console_socket.is_none();
    // Our own console socket: the init sends the pty master here if the
    // process has a terminal, and we relay it to our stdio.
    let pair = if relay {
        Some(foreground::socketpair()?)
    } else {
        None
    };
    if !args.detach {
        foreground::prepare()?;
    }
    let created = super::create::create(
        cli,
        &args.create,
        pair.as_ref().map(|(_, theirs)| theirs.as_raw_fd()),
    )?;
    let process = created.state.process.as_ref();
    let terminal = process.and_then(|p| p.terminal()).unwrap_or(false);
    let master = match (&pair, terminal) {
        (Some((ours, _)), true) => Some(console::recv_master(ours)?),
        _ => None,
    };
    drop(pair);
    if let Err(e) = lifecycle::start(&created.container, &created.state) {
        let removed = lifecycle::destroy(created.container, &created.state, true).is_ok();
        return Err(match e {
            lifecycle::LifecycleError::NoProcess { .. } => {
                lifecycle::LifecycleError::NoProcess { kept: !removed }
            }
            e => e,
        }
        .into());
    }
    if args.detach {
        return Ok(0);
    }
    let st = created.state.clone();
    drop(created.container); // release the lock while we wait
    let code = foreground::wait_for_exit(st.pid, master)?;
    if !args.keep {
        let c = crate::state::open(&cli.root, &st.id)?;
        lifecycle::destroy(c, &st, true)?;
    }
    Ok(code)
}
