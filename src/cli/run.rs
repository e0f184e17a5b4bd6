//! `keel run`.

pub fn run(_cli: &super::Cli, _args: &super::RunArgs) -> anyhow::Result<i32> {
    anyhow::bail!("run: not implemented yet")
}
