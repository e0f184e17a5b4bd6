//! `keel kill`.

pub fn run(_cli: &super::Cli, _args: &super::KillArgs) -> anyhow::Result<()> {
    anyhow::bail!("kill: not implemented yet")
}
