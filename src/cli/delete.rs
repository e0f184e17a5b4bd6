//! `keel delete`.

pub fn run(_cli: &super::Cli, _args: &super::DeleteArgs) -> anyhow::Result<()> {
    anyhow::bail!("delete: not implemented yet")
}
