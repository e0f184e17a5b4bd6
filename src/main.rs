//! keel: a low-level OCI container runtime with runc's command line.

mod cli;
mod console;
mod hooks;
mod logging;
mod rootfs;

use clap::Parser;
use cli::{Cli, Command};

/// The runtime-spec version this build implements.
pub const OCI_VERSION: &str = "1.2.1";

fn main() {
    let cli = Cli::parse();
    if cli.version {
        println!("keel version {}", env!("CARGO_PKG_VERSION"));
        println!("commit: {}", env!("KEEL_COMMIT"));
        println!("spec: {OCI_VERSION}");
        return;
    }
    let format = if cli.log_format == "json" { logging::Format::Json } else { logging::Format::Text };
    if let Err(e) = logging::init(cli.log.as_deref(), format, cli.debug) {
        eprintln!("open log file {}: {e}", cli.log.as_deref().unwrap_or_else(|| "".as_ref()).display());
        std::process::exit(1);
    }
    let code = match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}");
            logging::error(&msg);
            if !logging::logs_to_stderr() {
                eprintln!("{msg}");
            }
            1
        }
    };
    std::process::exit(code);
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    let Some(command) = &cli.command else {
        anyhow::bail!("no command given; see keel --help");
    };
    match command {
        Command::Create(a) => cli::create::run(cli, a).map(|()| 0),
        Command::Start(a) => cli::start::run(cli, &a.id).map(|()| 0),
        Command::Run(a) => cli::run::run(cli, a),
        Command::State(a) => cli::state::run(cli, &a.id).map(|()| 0),
        Command::Kill(a) => cli::kill::run(cli, a).map(|()| 0),
        Command::Delete(a) => cli::delete::run(cli, a).map(|()| 0),
        Command::List(a) => cli::list::run(cli, a).map(|()| 0),
        Command::Spec(a) => cli::spec::run(a).map(|()| 0),
    }
}
