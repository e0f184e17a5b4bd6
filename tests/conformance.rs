//! Behaviour runtime-tools' validation programs check where keel once
//! differed from runtime-spec: filesystem data options on bind mounts.

mod common;

use common::Sandbox;
use std::fs;

/// `mode=` and `size=` are tmpfs data; mount(2) ignores data for MS_BIND and
/// runc passes them along, so a bind with them works (runtime-tools' mounts).
#[test]
fn filesystem_data_options_on_a_bind_mount_are_ignored() {
    let mut sb = Sandbox::new("conf_bind_data");
    let source = sb.shared.join("bound");
    fs::create_dir_all(&source).unwrap();
    fs::write(source.join("file"), "here\n").unwrap();
    sb.bundle
        .bind(&source, "/mnt/bound", &["nosuid", "mode=755", "size=1k"])
        .sh("cat /mnt/bound/file");
    let out = sb.run(&sb.id.clone(), &[]);
    out.assert_ok();
    assert_eq!(out.stdout, "here\n", "{out}");
}
