//! The process JSON of `keel exec --process`: any text either parses into
//! a process or is rejected with problems naming their JSON paths.
#![no_main]

#[path = "../invariants.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        invariants::check_process(text);
    }
});
