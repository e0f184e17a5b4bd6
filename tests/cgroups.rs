//! cgroups on this v1/hybrid host, and on a pure cgroup v2 host (the qemu
//! testbed in hack/vm/ runs this suite in one): where a container's
//! processes are placed, the `linux.resources` written to (and enforced by)
//! the cgroup files, `pause`/`resume`, `ps`, `update`, `kill --all`, `exec`
//! joining the cgroup, removal on `delete` and after failed creates, and
//! how `linux.cgroupsPath` is resolved.
//!
//! Every check reads the kernel's own view from outside
//! (/sys/fs/cgroup/CONTROLLER/keel-test/ID on v1, /sys/fs/cgroup/keel-test/ID
//! on v2, /proc/PID/cgroup) and, where it means something, from inside the
//! container. The harness gives each container the absolute cgroup path
//! /keel-test/ID. Where v1 and v2 differ, each test reads the files of the
//! host's layout.

mod common;
#[path = "cgroups/freezer.rs"]
mod freezer;
#[path = "cgroups/placement.rs"]
mod placement;
#[path = "cgroups/processes.rs"]
mod processes;
#[path = "cgroups/removal.rs"]
mod removal;
#[path = "cgroups/resources.rs"]
mod resources;
#[path = "cgroups/support.rs"]
mod support;
