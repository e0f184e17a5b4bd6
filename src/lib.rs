//! keel: a low-level OCI container runtime with runc's command line.
//!
//! The library holds everything; `main.rs` is the command-line edge. It is
//! a library so that fuzz targets and benchmarks can drive the config
//! loader and other pure parts without a container.

pub mod capabilities;
pub mod cgroups;
pub mod cli;
pub mod config;
pub mod console;
pub mod cpulist;
pub mod exec;
pub mod foreground;
pub mod hooks;
pub mod identity;
pub mod idmap;
pub mod lifecycle;
pub mod logging;
pub mod lsm;
pub mod namespaces;
pub mod netdev;
pub mod process;
pub mod procfs;
pub mod ps_table;
pub mod rlimits;
pub mod rootfs;
pub mod seccomp;
pub mod selfexe;
pub mod signals;
pub mod state;
pub mod syscall;
pub mod sysctl;
pub mod timens;
pub mod userns;

/// The runtime-spec version this build implements: the one the oci-spec
/// crate models, since every field keel reads comes through it.
pub const OCI_VERSION: &str = oci_spec::runtime::VERSION;
