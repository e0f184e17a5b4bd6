//! One test's world: a unique directory holding the runtime's `--root`, the
//! bundle and a shared directory, and every container made in it. Dropping
//! the sandbox removes all of it, also when the test panicked.

use super::bundle::Bundle;
use super::runtime::{Output, Runtime, Spawned};
use super::sys::{self, Fifo, PidFd};
use super::{is_keel, runtime_path, TIMEOUT};
use serde_json::json;
use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Where every sandbox lives; `hack/check-leftovers.sh` wants it empty.
pub const BASE: &str = "/run/keel-test";

/// Where the shared directory appears inside containers.
pub const SHARED: &str = "/shared";

/// Sandboxes alive in this process. runc puts every container's cgroups
/// under one `keel-test` parent; it may only be removed when no sandbox of
/// ours can be creating a child in it.
static LIVE: Mutex<usize> = Mutex::new(0);

pub struct Sandbox {
    /// Unique among all tests ever run at once: test name, pid, counter.
    pub name: String,
    pub dir: PathBuf,
    pub rt: Runtime,
    pub bundle: Bundle,
    /// Host side of `/shared`, a read-write bind mount in every container.
    pub shared: PathBuf,
    /// The id of the test's (first) container.
    pub id: String,
    tracked: RefCell<Vec<Tracked>>,
    /// Processes the runtime left to us as their subreaper (detached exec).
    adopted: RefCell<Vec<PidFd>>,
}

/// A container id this sandbox handed to the runtime, and its init if known.
struct Tracked {
    id: String,
    init: Option<PidFd>,
    reaped: bool,
}

impl Sandbox {
    pub fn new(test: &str) -> Sandbox {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        sys::become_subreaper();
        // The one step likely to fail (a runtime whose `spec` is broken)
        // comes before anything is made that would need removing.
        super::bundle::template();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let short: String = test.chars().take(30).collect();
        let name = format!("{short}-{}-{n}", std::process::id());
        let dir = Path::new(BASE).join(&name);
        fs::create_dir_all(&dir).expect("create sandbox dir");
        *LIVE.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        match std::panic::catch_unwind(|| Sandbox::fill(name, dir.clone())) {
            Ok(sb) => sb,
            Err(panic) => {
                let _ = fs::remove_dir_all(&dir);
                release_cgroup_parents();
                std::panic::resume_unwind(panic)
            }
        }
    }

    fn fill(name: String, dir: PathBuf) -> Sandbox {
        let shared = dir.join("shared");
        fs::create_dir(&shared).expect("create shared dir");
        // World-writable: some tests run the container as an unprivileged user.
        sys::set_mode(&shared, 0o777);
        let rt = Runtime::new(runtime_path(), dir.join("root"), dir.join("out"));
        let mut bundle = Bundle::new(&dir.join("bundle"));
        bundle.bind(&shared, SHARED, &["rw"]);
        let tracked = RefCell::new(Vec::new());
        let adopted = RefCell::new(Vec::new());
        Sandbox {
            adopted,
            id: name.clone(),
            name,
            dir,
            rt,
            bundle,
            shared,
            tracked,
        }
    }

    /// Take on `pid`, a process a detached `exec` left to us (we are the
    /// subreaper). Cleanup reaps it right after `delete --force`: a pid
    /// namespace's init cannot finish exiting while one of its processes is
    /// an unreaped zombie, so waiting for the init first would deadlock.
    pub fn adopt(&self, pid: i32) {
        if let Some(fd) = PidFd::open(pid) {
            self.adopted.borrow_mut().push(fd);
        }
    }

    /// Another container id of this sandbox.
    pub fn other_id(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    /// The runtime's state directory for `id`.
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.rt.root.join(id)
    }

    /// A fifo in the shared dir; the container sees it as `/shared/NAME`.
    pub fn fifo(&self, name: &str) -> Fifo {
        Fifo::new(&self.shared.join(name))
    }

    /// What the marker-based leftover scans look for: a path component only
    /// this sandbox has, delimited so `x-1` does not match `x-12`.
    pub fn marker(&self) -> String {
        format!("/keel-test/{}/", self.name)
    }

    /// Save the config for container `id` and remember the id for cleanup
    /// (also for tests that build the runtime call themselves).
    pub fn prepare(&mut self, id: &str) {
        self.save_config(id);
        self.track(id);
    }

    /// Save the config as `prepare` does, without tracking `id` (for ids the
    /// runtime must reject, which cleanup could not delete either). Every
    /// container gets an absolute cgroup path of our own, under a parent
    /// the harness removes when the last sandbox goes.
    pub fn save_config(&mut self, id: &str) {
        self.bundle
            .set("/linux/cgroupsPath", json!(format!("/keel-test/{id}")));
        self.bundle.save();
    }

    /// Remember `id` for cleanup, in order: `delete --force`, then its
    /// init is ended and reaped, then its cgroup keel-test/ID removed.
    pub fn track(&self, id: &str) {
        let mut tracked = self.tracked.borrow_mut();
        if !tracked.iter().any(|t| t.id == id) {
            tracked.push(Tracked {
                id: id.to_string(),
                init: None,
                reaped: false,
            });
        }
    }

    /// `create --bundle B [extra...] ID`, returning what it did.
    pub fn try_create(&mut self, id: &str, extra: &[&str]) -> Output {
        self.prepare(id);
        let bundle = self.bundle.dir.to_str().unwrap().to_string();
        let mut args = vec!["create", "--bundle", &bundle];
        args.extend_from_slice(extra);
        args.push(id);
        let out = self.rt.run(&args);
        if out.success() {
            self.note_init(id);
        }
        out
    }

    /// Create container `id`; the test fails if that fails.
    pub fn create(&mut self, id: &str) -> Output {
        let out = self.try_create(id, &[]);
        out.assert_ok();
        out
    }

    /// Create container `id` and start it; the test fails if either fails.
    pub fn create_and_start(&mut self, id: &str) {
        self.create(id);
        self.rt.ok(&["start", id]);
    }

    /// `create_and_start` of the sandbox's own container; returns its id.
    pub fn create_and_start_own(&mut self) -> String {
        let id = self.id.clone();
        self.create_and_start(&id);
        id
    }

    /// Start a foreground `run --bundle B [extra...] ID` without waiting.
    pub fn spawn_run(&mut self, id: &str, extra: &[&str]) -> Spawned {
        self.prepare(id);
        let bundle = self.bundle.dir.to_str().unwrap().to_string();
        let mut args = vec!["run", "--bundle", &bundle];
        args.extend_from_slice(extra);
        args.push(id);
        self.rt.spawn(&args)
    }

    /// A foreground `run` of `id` to its end.
    pub fn run(&mut self, id: &str, extra: &[&str]) -> Output {
        self.spawn_run(id, extra).wait()
    }

    /// Remember the init of `id` (from `state`) so it can be waited for,
    /// killed and reaped by pid without confusing it with a later process.
    pub fn note_init(&self, id: &str) -> i32 {
        let pid = self.rt.pid(id);
        assert!(pid > 0, "state of {id} has no pid");
        let mut tracked = self.tracked.borrow_mut();
        let t = tracked.iter_mut().find(|t| t.id == id).expect("tracked id");
        if t.init.as_ref().is_none_or(|p| p.pid != pid) {
            t.init = PidFd::open(pid);
            t.reaped = false;
        }
        pid
    }

    /// The init pid recorded for `id`.
    pub fn init_pid(&self, id: &str) -> i32 {
        let tracked = self.tracked.borrow();
        let t = tracked.iter().find(|t| t.id == id).expect("tracked id");
        t.init.as_ref().expect("init of a created container").pid
    }

    /// Wait until the init of `id` has exited. It stays a zombie (our child,
    /// unreaped), as it would under a shim that has not reaped it yet.
    pub fn wait_exit(&self, id: &str) {
        let tracked = self.tracked.borrow();
        let t = tracked.iter().find(|t| t.id == id).expect("tracked id");
        let init = t.init.as_ref().expect("init of a created container");
        assert!(
            init.wait_exit(TIMEOUT),
            "init {} of {id} did not exit within {TIMEOUT:?}",
            init.pid
        );
    }

    /// Wait for the init of `id` to exit and reap it; returns the raw wait
    /// status. Panics if the init is not our child (we are subreaper, so an
    /// init whose runtime has exited is).
    pub fn reap_init(&self, id: &str) -> i32 {
        self.wait_exit(id);
        let mut tracked = self.tracked.borrow_mut();
        let t = tracked.iter_mut().find(|t| t.id == id).expect("tracked id");
        let pid = t.init.as_ref().unwrap().pid;
        assert!(!t.reaped, "init {pid} of {id} already reaped");
        assert!(
            sys::is_our_child(pid),
            "init {pid} of {id} is not a child of the test process"
        );
        t.reaped = true;
        sys::reap(pid).expect("waitpid on the container's init")
    }

    /// `create` of `id` must fail cleanly: a non-zero exit, keel's one-line
    /// error mentioning each of `parts` (as `assert_keel_error`), and
    /// nothing left behind. Returns the call for the test's own checks.
    pub fn create_fails_cleanly(&mut self, id: &str, parts: &[&str]) -> Output {
        let out = self.try_create(id, &[]);
        self.assert_failed_cleanly(id, &out, parts);
        out
    }

    /// What `create_fails_cleanly` asserts, for a failed call of `id` the
    /// test made itself (a damaged config.json, other flags).
    pub fn assert_failed_cleanly(&self, id: &str, out: &Output, parts: &[&str]) {
        out.assert_failed();
        super::assert_keel_error(out, parts);
        self.assert_nothing_left(id);
    }

    /// Reap the init of `id` (as `reap_init`) and assert that it exited
    /// with `code`.
    pub fn reap_init_exited(&self, id: &str, code: i32) {
        let status = self.reap_init(id);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == code,
            "init of {id}: wait status {status:#x}, want exit {code}"
        );
    }

    /// Reap the init of `id` (as `reap_init`) and assert that `signal`
    /// killed it.
    pub fn reap_init_killed(&self, id: &str, signal: i32) {
        let status = self.reap_init(id);
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == signal,
            "init of {id}: wait status {status:#x}, want killed by signal {signal}"
        );
    }

    /// The init's pid from the container state a hook was given on its
    /// stdin and saved as /shared/hook-state.json.
    pub fn init_pid_from_hook_state(&self) -> i32 {
        let path = self.shared.join("hook-state.json");
        let text = fs::read_to_string(&path).expect("the hook saved its state");
        let state: serde_json::Value = serde_json::from_str(&text).expect("hook state is JSON");
        let pid = state["pid"].as_i64().unwrap_or(0);
        assert!(pid > 0, "no init pid in the hook's state: {text}");
        i32::try_from(pid).unwrap()
    }

    /// Assert that a failed create of `id` left nothing: no state dir, no
    /// cgroup, no process working on or living in this sandbox, no mount in
    /// our namespace.
    pub fn assert_nothing_left(&self, id: &str) {
        let state = self.state_dir(id);
        assert!(!state.exists(), "state dir {} left behind", state.display());
        self.assert_no_cgroup(id);
        self.assert_no_process_or_mount();
    }

    /// Assert that no hierarchy holds a cgroup of container `id`.
    pub fn assert_no_cgroup(&self, id: &str) {
        let left = cgroup_dirs(&format!("keel-test/{id}"));
        assert!(left.is_empty(), "cgroup directories left behind: {left:?}");
    }

    /// Assert that no process works on or lives in this sandbox and that no
    /// mount of it is left in our namespace.
    pub fn assert_no_process_or_mount(&self) {
        let procs = sys::processes_mentioning(&self.marker());
        assert!(procs.is_empty(), "processes left behind: {procs:#?}");
        let mounts = sys::our_mounts_mentioning(&self.marker());
        assert!(mounts.is_empty(), "mounts left behind: {mounts:#?}");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let mut problems = Vec::new();
        let tracked = std::mem::take(&mut *self.tracked.borrow_mut());
        for t in &tracked {
            problems.extend(self.remove_container(t));
        }
        for line in sys::our_mounts_mentioning(&self.marker()) {
            problems.push(format!("mount left in the host namespace: {line}"));
            detach(&line);
        }
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            problems.push(format!("remove {}: {e}", self.dir.display()));
        }
        release_cgroup_parents();
        // A test that already failed keeps its own message; otherwise a
        // runtime that cannot clean up must fail the test.
        if !problems.is_empty() && !std::thread::panicking() {
            panic!(
                "cleanup of sandbox {} found problems:\n{}",
                self.name,
                problems.join("\n")
            );
        }
    }
}

impl Sandbox {
    /// `delete --force`, then make sure the init is dead and reaped, then
    /// remove runc's cgroup directories. Returns what went wrong.
    fn remove_container(&self, t: &Tracked) -> Vec<String> {
        let mut problems = Vec::new();
        // A foreground `run` never noted its init: look it up while it exists.
        let late_init = match &t.init {
            None => self
                .quiet(&["state", &t.id])
                .ok()
                .and_then(|o| init_from_state(&o)),
            Some(_) => None,
        };
        if let Err(msg) = self.quiet(&["delete", "--force", &t.id]) {
            problems.push(msg);
        }
        for adopted in self.adopted.borrow_mut().drain(..) {
            if adopted.wait_exit(TIMEOUT) && sys::is_our_child(adopted.pid) {
                sys::reap(adopted.pid);
            }
        }
        let reaped = t.reaped && late_init.is_none();
        if let Some(init) = t.init.as_ref().or(late_init.as_ref()) {
            let mut exited = init.wait_exit(TIMEOUT);
            if !exited {
                problems.push(format!(
                    "init {} of {} survived delete --force",
                    init.pid, t.id
                ));
                init.kill(libc::SIGKILL);
                exited = init.wait_exit(TIMEOUT);
            }
            // A pid namespace's init cannot finish exiting while a process
            // of its namespace is a zombie nobody reaps (a detached exec the
            // test did not adopt before it failed): waitpid would block for
            // good, so the test fails instead of hanging.
            if !exited {
                problems.push(format!(
                    "init {} of {} cannot finish exiting; left unreaped",
                    init.pid, t.id
                ));
            } else if !reaped && sys::is_our_child(init.pid) {
                sys::reap(init.pid);
            }
        }
        remove_cgroup(&format!("keel-test/{}", t.id));
        problems
    }

    /// Run a cleanup call; Err describes a failure or timeout. Never panics
    /// on the runtime's account, as it runs in Drop, maybe while unwinding.
    fn quiet(&self, args: &[&str]) -> Result<Output, String> {
        match self.rt.command(args).spawn().finish() {
            (out, true) if out.success() => Ok(out),
            (out, true) => Err(format!("cleanup call failed: {out}")),
            (out, false) => Err(format!("cleanup call timed out: {out}")),
        }
    }
}

/// A pidfd for the init named by `state` output, if it has one.
fn init_from_state(out: &Output) -> Option<PidFd> {
    let state: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
    let pid = i32::try_from(state["pid"].as_i64()?).ok()?;
    (pid > 0).then(|| PidFd::open(pid)).flatten()
}

/// Remove cgroup directory `rel` (relative to each hierarchy's root) in
/// every mounted hierarchy. Only empty directories go (rmdir), and the
/// machine's own `memory/process_api` is never touched.
pub(crate) fn remove_cgroup(rel: &str) {
    assert!(!rel.contains("process_api") && rel.starts_with("keel"));
    for path in cgroup_dirs(rel) {
        let _ = fs::remove_dir(&path);
    }
}

/// The directories of cgroup `rel` (relative to each hierarchy's root)
/// that exist in any mounted hierarchy.
pub fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    let Ok(hierarchies) = fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    // A pure cgroup2 host has one hierarchy, at /sys/fs/cgroup itself.
    let root = PathBuf::from("/sys/fs/cgroup");
    hierarchies
        .flatten()
        .map(|h| h.path().join(rel))
        .chain([root.join(rel)])
        .filter(|path| path.is_dir())
        .collect()
}

/// Called when a sandbox goes: the last one out removes the shared parent.
fn release_cgroup_parents() {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    *live -= 1;
    if *live == 0 {
        remove_cgroup("keel-test");
    }
}

/// Lazily unmount the mount point of a mountinfo line (field 5).
fn detach(line: &str) {
    let Some(point) = line.split(' ').nth(4) else {
        return;
    };
    let Ok(c) = std::ffi::CString::new(point) else {
        return;
    };
    // SAFETY: umount2 with a valid C string; MNT_DETACH never blocks.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
}
