//! The command line: runc's global flags and subcommands, one file each.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
mod features_seccomp;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

#[derive(Parser, Debug)]
#[command(
    name = "keel",
    about = "keel: a low-level OCI container runtime (runc compatible)",
    disable_version_flag = true
)]
pub struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = "/run/keel")]
    pub root: PathBuf,
    /// Write log messages to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Enable debug logging.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (not supported yet).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto.
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Accepted for runc compatibility; keel has no CRIU support yet.
    #[arg(long, global = true, hide = true)]
    pub criu: Option<PathBuf>,
    /// Print the version.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Create a container from a bundle; it waits for `start`.
    Create(CreateArgs),
    /// Execute the user process of a created container.
    Start(IdArg),
    /// Create and start a container, then wait for it unless detached.
    Run(RunArgs),
    /// Print the state of a container as JSON.
    State(IdArg),
    /// Send a signal to the container's init (or all its processes).
    Kill(KillArgs),
    /// Delete a container and everything it holds.
    Delete(DeleteArgs),
    /// List the containers under --root.
    List(ListArgs),
    /// Write a default config.json into a bundle.
    Spec(SpecArgs),
    /// Run a new process inside a running container.
    Exec(Box<ExecArgs>),
    /// Freeze every process of the container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// List the container's processes.
    Ps(PsArgs),
    /// Change a running container's resource limits.
    Update(Box<UpdateArgs>),
    /// Print a container's stats and OOM events as JSON lines.
    Events(events::EventsArgs),
    /// Print the runtime-spec Features structure: what this keel supports.
    Features,
}

#[derive(Args, Debug, Clone)]
pub struct UpdateArgs {
    /// The container ID.
    pub id: String,
    /// A JSON linux.resources document ("-" for stdin).
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (k, m, g suffixes; -1 unlimited).
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory plus swap limit in bytes.
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    /// Memory soft limit in bytes.
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds.
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU realtime period in microseconds.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds.
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs the container may use (e.g. 0-1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 unlimited).
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
}

#[derive(Args, Debug, Clone)]
pub struct PsArgs {
    /// The container ID.
    pub id: String,
    /// Arguments for ps (default: -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
    /// Output format: table or json.
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

#[derive(Args, Debug, Clone)]
pub struct IdArg {
    /// The container ID.
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// The container ID.
    pub id: String,
    /// Path to the bundle directory (default: the current directory).
    #[arg(short = 'b', long)]
    pub bundle: Option<PathBuf>,
    /// Unix socket to receive the pty master of a terminal container.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the init's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of making a new one.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many fds (from fd 3 on) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return after start instead of waiting for the container.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
    /// Accepted for runc compatibility.
    #[arg(long = "no-subreaper", hide = true)]
    pub no_subreaper: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    /// The container ID.
    pub id: String,
    /// The command and its arguments (unless --process gives them).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// A process JSON document (runtime-spec `process`) to run.
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Unix socket to receive the pty master when --tty is given.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE), repeatable.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// uid[:gid] to run as.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// An additional group id, repeatable.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (e.g. CAP_NET_ADMIN), repeatable.
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// AppArmor profile for the process.
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label for the process.
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Return once the process has started.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Pass this many fds (from fd 3 on) to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Sub-cgroup to join (cgroup v2, or controller:path on v1).
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
}

#[derive(Args, Debug, Clone)]
pub struct KillArgs {
    /// The container ID.
    pub id: String,
    /// Signal name (with or without SIG) or number; default SIGTERM.
    pub signal: Option<String>,
    /// Send the signal to every process of the container.
    #[arg(short = 'a', long)]
    pub all: bool,
}

#[derive(Args, Debug, Clone)]
pub struct DeleteArgs {
    /// The container ID.
    pub id: String,
    /// Kill the container first if it is still running.
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Output format: table or json.
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the container IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SpecArgs {
    /// Directory to write config.json into (default: the current directory).
    /// (`--rootless` is the global flag: `keel spec --rootless`.)
    #[arg(short = 'b', long)]
    pub bundle: Option<PathBuf>,
}

/// Flags runc accepts whose meaning keel does not implement yet: an error
/// rather than silently doing something else.
pub fn check_global_flags(cli: &Cli) -> anyhow::Result<()> {
    if cli.systemd_cgroup {
        anyhow::bail!("--systemd-cgroup: systemd cgroup management is not supported by keel yet");
    }
    rootless(cli).map(|_| ())
}

/// Whether to run rootless, as runc decides it: `--rootless true|false`,
/// or (`auto`, the default) whenever keel is not root. Rootless, a cgroup
/// keel may not make is skipped unless the config asks for limits.
pub fn rootless(cli: &Cli) -> anyhow::Result<bool> {
    match cli.rootless.as_deref() {
        None | Some("auto") => Ok(!nix::unistd::geteuid().is_root()),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => {
            anyhow::bail!("--rootless: invalid value {other:?} (expected true, false or auto)")
        }
    }
}
