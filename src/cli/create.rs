//! `keel create`.

pub fn run(_cli: &super::Cli, _args: &super::CreateArgs) -> anyhow::Result<()> {
    anyhow::bail!("create: not implemented yet")
}
