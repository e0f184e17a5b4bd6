//! `keel create`: build the container and leave its init waiting for start.

use crate::config;
use crate::process::{self, CreateOptions, Created};
use anyhow::Context;
use std::path::PathBuf;

pub fn run(cli: &super::Cli, args: &super::CreateArgs) -> anyhow::Result<()> {
    create(cli, args, None).map(|_| ())
}

/// Shared with `run`, which may hand over its own console socket.
pub fn create(
    cli: &super::Cli,
    args: &super::CreateArgs,
    console_fd: Option<i32>,
) -> anyhow::Result<Created> {
    super::check_global_flags(cli)?;
    // A bad id fails before the bundle is read; a taken one fails at the
    // claim (an atomic mkdir), which comes before anything is made.
    crate::state::validate_id(&args.id)?;
    let bundle_dir = match &args.bundle {
        Some(b) => b.clone(),
        None => std::env::current_dir().context("current directory")?,
    };
    let bundle = config::load(&bundle_dir)?;
    // Before anything is made: this may re-exec keel (see selfexe).
    if crate::selfexe::exposed_by_spec(&bundle.spec) {
        crate::selfexe::protect()?;
    }
    if args.no_pivot {
        config::check_no_pivot(&bundle.spec)?;
    }
    let (listen_fds, extra_env) = listen_fds();
    let pid_file = absolute(args.pid_file.as_ref())?;
    let opts = CreateOptions {
        root: &cli.root,
        id: &args.id,
        bundle: &bundle,
        console_socket: args.console_socket.as_deref(),
        console_fd,
        pid_file: pid_file.as_deref(),
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        rootless: super::rootless(cli)?,
        preserve_fds: listen_fds + args.preserve_fds,
        extra_env,
    };
    Ok(process::create(&opts)?)
}

fn absolute(path: Option<&PathBuf>) -> anyhow::Result<Option<PathBuf>> {
    match path {
        Some(p) if p.is_relative() => Ok(Some(std::env::current_dir()?.join(p))),
        other => Ok(other.cloned()),
    }
}

/// Socket activation as runc honours it: fds passed to keel under
/// LISTEN_FDS (for this pid) go on to the container, which sees them as its
/// own (LISTEN_PID=1).
fn listen_fds() -> (u32, Vec<String>) {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !ours || count == 0 {
        return (0, Vec::new());
    }
    (
        count,
        vec![format!("LISTEN_FDS={count}"), "LISTEN_PID=1".to_string()],
    )
}
