//! Reading the small text files of procfs, sysfs and cgroupfs.
//!
//! They report a size of 0, so `std::fs::read` (after a statx for that
//! size, and `read_to_end` after a statx and an lseek) starts with 32-byte
//! reads and doubles: eight reads for a mountinfo, five for
//! /proc/self/cgroup, which create reads in both its processes. A plain
//! read loop into a page-sized buffer takes one read and the one that
//! finds the end.

use std::io::{self, Read};
use std::path::Path;

const FIRST: usize = 4096;

/// The whole content of `path`.
pub fn bytes(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0; FIRST];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(2 * len, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// The whole content of `path`, as text.
pub fn text(path: impl AsRef<Path>) -> io::Result<String> {
    String::from_utf8(bytes(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_files_larger_than_the_first_buffer() {
        let dir = std::env::temp_dir().join(format!("keel-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big");
        let data: Vec<u8> = (0..3 * super::FIRST + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        assert_eq!(super::bytes(&path).unwrap(), data);
        std::fs::write(&path, b"caf\xc3").unwrap();
        assert!(super::text(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(super::text("/proc/self/mountinfo").unwrap().contains(" / "));
    }
}
