//! `exec --detach`: the process outlives the call and, with the test
//! process as subreaper, becomes its child; the sandbox adopts it so that
//! cleanup reaps it.

use super::runtime::Spawned;
use super::sandbox::Sandbox;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

impl Sandbox {
    /// `exec --detach --pid-file F [flags...] ID [args...]`, which must
    /// succeed: the process's pid, adopted.
    pub fn exec_detached(&self, flags: &[&str], id: &str, args: &[&str]) -> i32 {
        let (call, pid_file) = self.spawn_exec_detached(flags, id, args);
        call.wait().assert_ok();
        self.adopt_pid_file(&pid_file)
    }

    /// That call, started without waiting, for a test that must serve it
    /// meanwhile (a console socket), and its pid file: once the call has
    /// succeeded, `adopt_pid_file` takes on the process.
    pub fn spawn_exec_detached(
        &self,
        flags: &[&str],
        id: &str,
        args: &[&str],
    ) -> (Spawned, PathBuf) {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid_file = self.dir.join(format!("exec-{n}.pid"));
        let head = ["exec", "--detach", "--pid-file", pid_file.to_str().unwrap()];
        let call = self.rt.spawn(&[&head[..], flags, &[id], args].concat());
        (call, pid_file)
    }

    /// The pid a detached exec wrote to `pid_file`, adopted.
    pub fn adopt_pid_file(&self, pid_file: &Path) -> i32 {
        let text = fs::read_to_string(pid_file)
            .unwrap_or_else(|e| panic!("read pid file {}: {e}", pid_file.display()));
        let pid = text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("pid file {} holds {text:?}", pid_file.display()));
        self.adopt(pid);
        pid
    }
}
