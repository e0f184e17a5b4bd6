//! `keel state`.

pub fn run(_cli: &super::Cli, _id: &str) -> anyhow::Result<()> {
    anyhow::bail!("state: not implemented yet")
}
