//! `keel list`.

pub fn run(_cli: &super::Cli, _args: &super::ListArgs) -> anyhow::Result<()> {
    anyhow::bail!("list: not implemented yet")
}
