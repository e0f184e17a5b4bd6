//! `keel pause`: freeze every process of the container.

pub fn run(cli: &super::Cli, id: &str) -> anyhow::Result<()> {
    let c = crate::state::open(&cli.root, id)?;
    let st = c.load()?;
    crate::lifecycle::pause(&c, &st)?;
    Ok(())
}
