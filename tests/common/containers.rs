//! A new sandbox with its container (id: the sandbox's) already in one of
//! the states a test starts from: created, running or stopped.

use super::sandbox::Sandbox;

impl Sandbox {
    /// Created, to run `sleep 1000` once started. Returns the id.
    pub fn with_created_container(test: &str) -> (Sandbox, String) {
        let mut sb = Sandbox::new(test);
        sb.bundle.args(&["sleep", "1000"]);
        let id = sb.id.clone();
        sb.create(&id);
        (sb, id)
    }

    /// Started and running `sleep 1000`. Returns the id.
    pub fn with_running_container(test: &str) -> (Sandbox, String) {
        let (sb, id) = Sandbox::with_created_container(test);
        sb.rt.ok(&["start", &id]);
        (sb, id)
    }

    /// Ran `true` to its end: started and exited, not yet reaped, so its
    /// status is stopped. Returns the id.
    pub fn with_stopped_container(test: &str) -> (Sandbox, String) {
        let mut sb = Sandbox::new(test);
        sb.bundle.args(&["true"]);
        let id = sb.id.clone();
        sb.create_and_start(&id);
        sb.wait_exit(&id);
        (sb, id)
    }
}
