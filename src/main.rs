//! keel's command line: parse, dispatch to `cli::*`, print one-line errors.

use clap::Parser;
use keel::cli::{self, Cli, Command};
use keel::{logging, OCI_VERSION};

fn main() {
    let cli = Cli::parse();
    if cli.version {
        std::process::exit(print_version());
    }
    let format = if cli.log_format == "json" {
        logging::Format::Json
    } else {
        logging::Format::Text
    };
    if let Err(e) = logging::init(cli.log.as_deref(), format, cli.debug) {
        eprintln!(
            "open log file {}: {e}",
            cli.log.as_deref().unwrap_or_else(|| "".as_ref()).display()
        );
        std::process::exit(1);
    }
    let code = match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = error_line(&e);
            logging::error(&msg);
            if !logging::logs_to_stderr() {
                eprintln!("{msg}");
            }
            1
        }
    };
    std::process::exit(code);
}

/// `--version`. A reader that stops early (`keel --version | head -n 1`) is
/// not an error: println! would panic on the broken pipe, with a backtrace.
fn print_version() -> i32 {
    use std::io::Write;
    let text = format!(
        "keel version {}\ncommit: {}\nspec: {OCI_VERSION}\n",
        env!("CARGO_PKG_VERSION"),
        env!("KEEL_COMMIT")
    );
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("write version: {e}");
            1
        }
    }
}

/// One line: the error and each cause its own message does not already say
/// (typed errors carry their cause in their text; anyhow context does not).
fn error_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line.replace('\n', " ")
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
        Command::Exec(a) => cli::exec::run(cli, a),
        Command::Pause(a) => cli::pause::run(cli, &a.id).map(|()| 0),
        Command::Resume(a) => cli::resume::run(cli, &a.id).map(|()| 0),
        Command::Ps(a) => cli::ps::run(cli, a).map(|()| 0),
        Command::Update(a) => cli::update::run(cli, a).map(|()| 0),
        Command::Events(a) => cli::events::run(cli, a).map(|()| 0),
        Command::Features => cli::features::run().map(|()| 0),
        Command::Spec(a) => cli::spec::run(a, cli.rootless.as_deref() == Some("true")).map(|()| 0),
    }
}
