//! `keel kill`: signal the container's init, or all its processes.

pub fn run(cli: &super::Cli, args: &super::KillArgs) -> anyhow::Result<()> {
    let signal = crate::signals::parse(args.signal.as_deref().unwrap_or("SIGTERM"))?;
    let c = crate::state::open(&cli.root, &args.id)?;
    let st = c.load()?;
    crate::lifecycle::kill(&c, &st, signal, args.all)?;
    Ok(())
}
