//! `keel resume`: thaw a paused container.

pub fn run(cli: &super::Cli, id: &str) -> anyhow::Result<()> {
    let c = crate::state::open(&cli.root, id)?;
    let st = c.load()?;
    crate::lifecycle::resume(&c, &st)?;
    Ok(())
}
