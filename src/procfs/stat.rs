//! /proc/PID/stat, read as bytes: the command name between the first '('
//! and the last ')' may hold spaces, parentheses and bytes that are not
//! UTF-8 (the kernel cuts it at 15 bytes, even inside a character).

/// The fields of /proc/PID/stat keel uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Between the first '(' and the last ')', as the kernel wrote it.
    pub comm: Vec<u8>,
    pub state: u8,
    pub ppid: i32,
    pub flags: u64,
    pub tty_nr: i32,
    pub utime: u64,
    pub stime: u64,
    /// In clock ticks since boot.
    pub start_time: u64,
}

/// The task is on its way out (PF_EXITING): it runs no more code.
const PF_EXITING: u64 = 0x4;

impl Stat {
    /// A zombie, a dead task, or one already in the kernel's exit path: a
    /// pid namespace's init that was killed stays there until every other
    /// process of its namespace is reaped, which may be never.
    pub fn gone(&self) -> bool {
        matches!(self.state, b'Z' | b'X') || self.flags & PF_EXITING != 0
    }
}

/// Parse the bytes of /proc/PID/stat; None if they are not one.
pub fn parse(text: &[u8]) -> Option<Stat> {
    let open = text.iter().position(|c| *c == b'(')?;
    let close = text.iter().rposition(|c| *c == b')')?;
    let comm = text.get(open + 1..close)?.to_vec();
    let rest = std::str::from_utf8(text.get(close + 2..)?).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().take(20).collect();
    let num = |i: usize| -> Option<i64> { fields.get(i)?.parse().ok() };
    let unum = |i: usize| -> Option<u64> { fields.get(i)?.parse().ok() };
    Some(Stat {
        comm,
        state: *fields.first()?.as_bytes().first()?,
        ppid: num(1)? as i32,
        flags: unum(6)?,
        tty_nr: num(4)? as i32,
        utime: unum(11)?,
        stime: unum(12)?,
        start_time: unum(19)?,
    })
}

/// /proc/`pid`/stat of a live (or zombie) process; None if it is gone.
pub fn read(pid: i32) -> Option<Stat> {
    parse(&super::read::bytes(format!("/proc/{pid}/stat")).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_after_the_last_parenthesis() {
        let text = b"42 (a (b) c) S 1 42 42 34816 42 4194560 1 2 3 4 150 25 0 0 20 0 1 0 12345 1000 10 18446744073709551615 1 2 3 4 5 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
        let stat = parse(text).unwrap();
        assert_eq!(stat.comm, b"a (b) c");
        assert_eq!(stat.state, b'S');
        assert_eq!((stat.ppid, stat.tty_nr, stat.flags), (1, 34816, 4194560));
        assert_eq!((stat.utime, stat.stime, stat.start_time), (150, 25, 12345));
        assert!(!stat.gone());
        assert_eq!(parse(b"42 (sh"), None);
        assert_eq!(parse(b"42 (sh) S 1"), None);
    }

    #[test]
    fn a_name_cut_inside_a_character_still_parses() {
        // "abcdefghijklmn" + the first byte of "é": what the kernel keeps of
        // a 16-byte name.
        let mut text = b"7 (abcdefghijklmn\xc3) R 1 7 7 0 -1 4194308 ".to_vec();
        text.extend_from_slice(b"0 0 0 0 1 2 0 0 20 0 1 0 99 0 0\n");
        let stat = parse(&text).unwrap();
        assert_eq!(stat.comm.last(), Some(&0xc3));
        assert_eq!(stat.start_time, 99);
        assert!(stat.gone(), "flags 4194308 has PF_EXITING");
        let zombie = parse(b"7 (x) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n").unwrap();
        assert!(zombie.gone());
    }
}
