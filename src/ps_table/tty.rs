//! TTY: the name of a process's controlling terminal as `ps` finds it.
//!
//! /proc/PID/stat gives only the device number. procps turns it into a
//! name by trying device paths (from the kernel's table of tty drivers,
//! the process's stderr link, the well-known names) and accepting the
//! first that exists in *our* /dev with that very number. So a container's
//! pts/3, from its own devpts instance, shows as "pts/3" only when the
//! host has a /dev/pts/3 too, and as "?" otherwise; keel does the same
//! lookups to print the same thing.

use std::os::unix::fs::MetadataExt;

/// One line of /proc/tty/drivers: a device name and its numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Driver {
    name: Vec<u8>,
    /// The name ended in "%d" (old devfs style): no unnumbered fallback.
    numbered: bool,
    major: u16,
    minors: (u32, u32),
}

/// The longest driver name procps keeps.
const DRIVER_NAME_MAX: usize = 15;
/// The longest terminal name `ps` prints.
const NAME_MAX: usize = 64;
/// The longest link target procps reads.
const LINK_MAX: usize = 127;

/// The leading decimal number of `text` after blanks, and what follows.
fn leading_number(text: &[u8]) -> Option<(u64, &[u8])> {
    let text = &text[text.iter().take_while(|c| c.is_ascii_whitespace()).count()..];
    let digits = text.iter().take_while(|c| c.is_ascii_digit()).count();
    let value = std::str::from_utf8(&text[..digits]).ok()?.parse().ok()?;
    Some((value, &text[digits..]))
}

/// The drivers of /proc/tty/drivers: each line's second column (the
/// "/dev/..." path), major number and minor number or range; lines whose
/// minors cannot be read are left out.
pub fn parse_drivers(text: &[u8]) -> Vec<Driver> {
    const MARK: &[u8] = b" /dev/";
    let mut drivers = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.windows(MARK.len()).position(|w| w == MARK) {
        rest = &rest[at + MARK.len()..];
        let Some(len) = rest.iter().position(|c| *c == b' ') else {
            continue;
        };
        let mut name = &rest[..len];
        let numbered = name.len() >= 3 && name.ends_with(b"%d");
        if numbered {
            name = &name[..name.len() - 2];
        }
        let name = name[..name.len().min(DRIVER_NAME_MAX)].to_vec();
        rest = &rest[len..];
        let major = leading_number(rest).map_or(0, |(m, _)| m as u16);
        let after = &rest[rest.iter().take_while(|c| **c == b' ').count()..];
        let after = &after[after.iter().take_while(|c| c.is_ascii_digit()).count()..];
        let Some((first, tail)) = leading_number(after) else {
            continue;
        };
        let last = tail
            .strip_prefix(b"-")
            .and_then(leading_number)
            .map_or(first, |(l, _)| l);
        drivers.push(Driver {
            name,
            numbered,
            major,
            minors: (first as u32, last as u32),
        });
    }
    drivers
}

// glibc's split of a device number, which also fits /proc's tty_nr.
use libc::{major, minor};

/// Whether `path` exists and is the device (`maj`, `min`): None if it
/// does not exist at all.
fn is_device(path: &[u8], maj: u32, min: u32) -> Option<bool> {
    use std::os::unix::ffi::OsStrExt;
    let meta = std::fs::metadata(std::ffi::OsStr::from_bytes(path)).ok()?;
    Some(major(meta.rdev()) == maj && minor(meta.rdev()) == min)
}

/// The path of the last listed driver whose numbers cover the device, if
/// the first of its candidate paths that exists is that device.
fn driver_path(drivers: &[Driver], maj: u32, min: u32) -> Option<Vec<u8>> {
    let d = drivers
        .iter()
        .rev()
        .find(|d| u32::from(d.major) == maj && (d.minors.0..=d.minors.1).contains(&min))?;
    let name = String::from_utf8_lossy(&d.name);
    let mut candidates = vec![format!("/dev/{name}{min}"), format!("/dev/{name}/{min}")];
    if !d.numbered {
        candidates.push(format!("/dev/{name}"));
    }
    let path = candidates
        .into_iter()
        .map(String::into_bytes)
        .find_map(|p| is_device(&p, maj, min).map(|ok| (p, ok)))?;
    path.1.then_some(path.0)
}

/// The target of /proc/PID/`link` if it is the device.
fn link_path(pid: i32, link: &str, maj: u32, min: u32) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let target = std::fs::read_link(format!("/proc/{pid}/{link}")).ok()?;
    let target = target.as_os_str().as_bytes();
    if target.is_empty() || target.len() >= LINK_MAX {
        return None;
    }
    is_device(target, maj, min)?.then(|| target.to_vec())
}

/// The usual name of the consoles and pseudo-terminals, for a system whose
/// driver table lacks them.
fn usual_path(maj: u32, min: u32) -> Option<Vec<u8>> {
    let path = match maj {
        4 if min < 64 => format!("/dev/tty{min}"),
        4 => format!("/dev/ttyS{}", min - 64),
        136..=143 => format!("/dev/pts/{}", min + (maj - 136) * 256),
        _ => return None,
    };
    Some(path.into_bytes())
}

/// The TTY column for a process with `tty_nr` (from its stat); the driver
/// table is asked for only when there is a terminal to name.
pub fn tty_name<'a>(tty_nr: i32, pid: i32, drivers: impl FnOnce() -> &'a [Driver]) -> Vec<u8> {
    let dev = u64::from(tty_nr as u32);
    if dev == 0 {
        return b"?".to_vec();
    }
    let (maj, min) = (major(dev), minor(dev));
    let found = driver_path(drivers(), maj, min)
        .or_else(|| link_path(pid, "fd/2", maj, min))
        .or_else(|| usual_path(maj, min).filter(|p| is_device(p, maj, min) == Some(true)))
        .or_else(|| link_path(pid, "fd/255", maj, min));
    found.map_or_else(|| b"?".to_vec(), |p| abbreviate(&p))
}

/// A device path as the column shows it: without "/dev/", at most 64
/// bytes, anything but printable ASCII as '?'.
pub fn abbreviate(path: &[u8]) -> Vec<u8> {
    let name = match path.strip_prefix(b"/dev/") {
        Some(rest) if !rest.is_empty() => rest,
        _ => path,
    };
    name.iter()
        .take(NAME_MAX)
        .take_while(|c| **c != 0)
        .map(|c| if (b'!'..=b'~').contains(c) { *c } else { b'?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    const DRIVERS: &[u8] = b"/dev/tty             /dev/tty        5       0 system:/dev/tty
/dev/console         /dev/console    5       1 system:console
/dev/ptmx            /dev/ptmx       5       2 system
/dev/vc/0            /dev/vc/0       4       0 system:vtmaster
serial               /dev/ttyS       4      64 serial
pty_slave            /dev/pts      136 0-1048575 pty:slave
unknown              /dev/tty        4 1-63 console
odd                  /dev/tts/%d   250 x console
";

    #[test]
    fn the_drivers_table_gives_names_and_numbers() {
        let d = parse_drivers(DRIVERS);
        let summary: Vec<_> = d
            .iter()
            .map(|d| {
                (
                    String::from_utf8_lossy(&d.name).into_owned(),
                    d.major,
                    d.minors,
                )
            })
            .collect();
        let want = [
            ("tty", 5, (0, 0)),
            ("console", 5, (1, 1)),
            ("ptmx", 5, (2, 2)),
            ("vc/0", 4, (0, 0)),
            ("ttyS", 4, (64, 64)),
            ("pts", 136, (0, 1048575)),
            ("tty", 4, (1, 63)),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(n, m, r)| (n.to_string(), *m, *r))
            .collect();
        assert_eq!(summary, want);
    }

    #[test]
    fn device_numbers_split_as_the_kernel_encodes_them() {
        // pts/5 and pts/300: minors above 255 go to the high bits.
        assert_eq!((major(34821), minor(34821)), (136, 5));
        let enc = (300 & 0xff) | (136 << 8) | ((300 & !0xff) << 12);
        assert_eq!((major(enc), minor(enc)), (136, 300));
    }

    #[test]
    fn names_drop_dev_and_unprintable_bytes() {
        assert_eq!(abbreviate(b"/dev/pts/3"), b"pts/3");
        assert_eq!(abbreviate(b"/dev/"), b"/dev/");
        assert_eq!(abbreviate(b"/dev/a b\xc3"), b"a?b?");
        assert_eq!(abbreviate(&[b'x'; 80]).len(), 64);
    }

    #[test]
    fn no_terminal_is_a_question_mark() {
        assert_eq!(tty_name(0, 1, || panic!("no table needed")), b"?");
    }

    #[test]
    fn a_pseudo_terminal_of_ours_is_found_by_its_number() {
        // SAFETY: a fresh pty master, closed below; ptsname is read at once.
        let (master, name) = unsafe {
            let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
            assert!(fd >= 0, "posix_openpt");
            assert_eq!(libc::grantpt(fd), 0);
            assert_eq!(libc::unlockpt(fd), 0);
            let name = std::ffi::CStr::from_ptr(libc::ptsname(fd))
                .to_bytes()
                .to_vec();
            (fd, name)
        };
        let rdev = std::fs::metadata(std::ffi::OsStr::from_bytes(&name))
            .unwrap()
            .rdev();
        let (ma, mi) = (major(rdev), minor(rdev));
        let tty_nr = ((mi & 0xff) | (ma << 8) | ((mi & !0xff) << 12)) as i32;
        let drivers = parse_drivers(&std::fs::read("/proc/tty/drivers").unwrap_or_default());
        let got = tty_name(tty_nr, std::process::id() as i32, || &drivers);
        // Without the drivers table the usual name is found as well.
        let usual = tty_name(tty_nr, 0, || &[]);
        // SAFETY: closing the master opened above (its pts goes with it).
        unsafe { libc::close(master) };
        assert_eq!(got, abbreviate(&name));
        assert_eq!(usual, abbreviate(&name));
    }
}
