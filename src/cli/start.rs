//! `keel start`: let a created container's init exec the user process.

pub fn run(cli: &super::Cli, id: &str) -> anyhow::Result<()> {
    let c = crate::state::open(&cli.root, id)?;
    let st = c.load()?;
    crate::lifecycle::start(&c, &st)?;
    Ok(())
}
