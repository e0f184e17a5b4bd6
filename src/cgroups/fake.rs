//! An in-memory cgroup directory for unit tests: files that exist, the
//! writes made in order, and optional kernel rules that reject a write.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use super::fs::Files;

/// A kernel rule: given the current files and a write, the errno to fail
/// with, or 0 to accept the write and keep the old value (as a kernel does
/// with a knob it ignores).
type Rule = Box<dyn Fn(&BTreeMap<String, String>, &str, &str) -> Option<i32>>;

pub struct FakeDir {
    pub files: RefCell<BTreeMap<String, String>>,
    pub log: RefCell<Vec<(String, String)>>,
    rules: Vec<Rule>,
}

impl FakeDir {
    /// A directory with these files and initial contents.
    pub fn new(files: &[(&str, &str)]) -> FakeDir {
        FakeDir {
            files: RefCell::new(
                files
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            log: RefCell::new(Vec::new()),
            rules: Vec::new(),
        }
    }

    pub fn with_rule(
        mut self,
        rule: impl Fn(&BTreeMap<String, String>, &str, &str) -> Option<i32> + 'static,
    ) -> FakeDir {
        self.rules.push(Box::new(rule));
        self
    }

    pub fn get(&self, file: &str) -> String {
        self.files.borrow()[file].clone()
    }

    /// The writes made, as `file=value`.
    pub fn writes(&self) -> Vec<String> {
        self.log
            .borrow()
            .iter()
            .map(|(f, v)| format!("{f}={v}"))
            .collect()
    }
}

impl Files for FakeDir {
    fn path(&self, file: &str) -> PathBuf {
        PathBuf::from("/fake").join(file)
    }

    fn exists(&self, file: &str) -> bool {
        self.files.borrow().contains_key(file)
    }

    fn read(&self, file: &str) -> io::Result<String> {
        self.files
            .borrow()
            .get(file)
            .map(|v| format!("{v}\n"))
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }

    fn write(&self, file: &str, value: &str) -> io::Result<()> {
        if !self.exists(file) {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        for rule in &self.rules {
            match rule(&self.files.borrow(), file, value) {
                Some(0) => return Ok(()),
                Some(errno) => return Err(io::Error::from_raw_os_error(errno)),
                None => {}
            }
        }
        self.files
            .borrow_mut()
            .insert(file.to_string(), value.to_string());
        self.log
            .borrow_mut()
            .push((file.to_string(), value.to_string()));
        Ok(())
    }
}
