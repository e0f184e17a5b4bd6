//! The values of `ps -f`'s columns, computed from parsed /proc fields the
//! way procps-ng 4.0.2 computes them (its arithmetic included: where it
//! goes through floating point, so does this, to round alike).

use super::escape::{library_pass, output_pass, Charset};
use super::layout::OUTBUF_SIZE;

/// libproc2's buffer for a command line: it keeps one byte less.
pub const CMDLINE_MAX: usize = 2 * 64 * 1024;

/// User names this long or longer are shown as the number (libproc2's
/// name cache holds 32 bytes).
const NAME_MAX: usize = 33;

/// The UID column's width.
pub const USER_WIDTH: usize = 8;

/// Clock ticks since boot at `uptime` seconds, as libproc2 takes them once
/// per listing.
pub fn boot_ticks(uptime: f64, hertz: u64) -> u64 {
    (uptime * hertz as f64) as u64
}

/// C: the integer percentage of one CPU the process used over its life,
/// at most 99. A process that started in the same tick as the listing
/// (or in a later one, as /proc rounds) gets 0.
pub fn cpu_percent(used_ticks: u64, start_ticks: u64, boot_ticks: u64, hertz: u64) -> u32 {
    let hz = hertz as f64;
    // As in libproc2: unsigned ticks of life, in seconds as a double,
    // back to ticks; a start "after" the listing wraps to a huge life.
    let life = boot_ticks.wrapping_sub(start_ticks) as f64;
    let seconds = if life > 0.0 { life / hz } else { 0.0 };
    let ticks = (seconds * hz) as u64;
    if ticks == 0 {
        return 0;
    }
    (used_ticks.wrapping_mul(100) / ticks).min(99) as u32
}

/// TIME: the CPU time used, `[DD-]HH:MM:SS`.
pub fn cpu_time(utime: u64, stime: u64, hertz: u64) -> String {
    let t = ((utime as f64 + stime as f64) / hertz as f64) as u64;
    let (ss, mm, hh, dd) = (t % 60, t / 60 % 60, t / 3600 % 24, t / 86400);
    if dd > 0 {
        format!("{dd}-{hh:02}:{mm:02}:{ss:02}")
    } else {
        format!("{hh:02}:{mm:02}:{ss:02}")
    }
}

/// The start time in seconds since the epoch: the kernel's boot time (the
/// `btime` of /proc/stat, as procps takes it) plus whole seconds of ticks.
pub fn start_epoch(btime: u32, start_ticks: u64, hertz: u64) -> i64 {
    (u64::from(btime) + start_ticks / hertz.max(1)) as i64
}

/// STIME's strftime format: the time of day for a process started today,
/// the month and day within this year, else the year.
pub fn stime_format(now: (i32, i32), start: (i32, i32)) -> &'static std::ffi::CStr {
    let ((now_year, now_yday), (year, yday)) = (now, start);
    if now_year != year {
        c"%Y"
    } else if now_yday != yday {
        c"%b%d"
    } else {
        c"%H:%M"
    }
}

/// The UID column for `uid` and its user name, if any: the name when it
/// fits the column, cut to 7 characters and '+' when it does not (unless
/// the cut lands inside a multibyte character), else the number. Returns
/// the text and the cells it takes.
pub fn user_column(name: Option<&[u8]>, uid: u32, charset: Charset) -> (Vec<u8>, usize) {
    let number = uid.to_string().into_bytes();
    let name = match name {
        Some(n) if n.len() < NAME_MAX => n.to_vec(),
        _ => number.clone(),
    };
    let (text, cells) = output_pass(&name, charset, OUTBUF_SIZE, OUTBUF_SIZE);
    if cells <= USER_WIDTH {
        return (text, cells);
    }
    if text[USER_WIDTH - 1] < 127 {
        let mut cut = text[..USER_WIDTH - 1].to_vec();
        cut.push(b'+');
        return (cut, USER_WIDTH);
    }
    let cells = number.len();
    (number, cells)
}

/// A process's comm from /proc/PID/stat, as libproc2 keeps it.
pub fn clean_comm(raw: &[u8], charset: Charset) -> Vec<u8> {
    let mut comm = raw[..raw.len().min(63)].to_vec();
    library_pass(&mut comm, charset);
    comm
}

/// CMD before `ps` fits it into its column: the arguments of `cmdline`
/// (the bytes read from /proc/PID/cmdline) joined by spaces, or "[comm]"
/// when there are none (kernel threads, zombies: then " <defunct>" too).
/// `comm` is as `clean_comm` made it: libproc2 passes it through its
/// escaping again here, which changes nothing in text it already passed
/// (a comm holds no NUL), so keel does not.
pub fn command(cmdline: &[u8], comm: &[u8], zombie: bool, charset: Charset) -> Vec<u8> {
    if cmdline.is_empty() {
        let mut text = Vec::with_capacity(comm.len() + 12);
        text.push(b'[');
        text.extend_from_slice(comm);
        text.push(b']');
        if zombie {
            text.extend_from_slice(b" <defunct>");
        }
        return text;
    }
    let mut text = cmdline.to_vec();
    // NULs and newlines between arguments become spaces; trailing NULs
    // end the text. A text that does not end in NUL (a process rewrote
    // its arguments) loses a last byte that became a space.
    let end = text.iter().rposition(|c| *c != 0).map_or(0, |i| i + 1);
    for c in &mut text[..end] {
        if *c == 0 || *c == b'\n' {
            *c = b' ';
        }
    }
    if text.last() == Some(&b' ') {
        text.pop();
    }
    text.truncate(end);
    library_pass(&mut text, charset);
    if text.is_empty() {
        // Arguments that are all empty strings.
        return b"?".to_vec();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_is_the_lifetime_percentage_capped_at_99() {
        // 50 ticks used over 1000 ticks of life: 5%.
        assert_eq!(cpu_percent(50, 1000, 2000, 100), 5);
        assert_eq!(cpu_percent(5000, 1000, 2000, 100), 99);
        assert_eq!(cpu_percent(0, 1000, 2000, 100), 0);
        // Started in the listing's tick, or "after" it: 0, not a panic.
        assert_eq!(cpu_percent(3, 2000, 2000, 100), 0);
        assert_eq!(cpu_percent(3, 2001, 2000, 100), 0);
        assert_eq!(boot_ticks(12345.67, 100), 1234567);
    }

    #[test]
    fn time_is_hours_minutes_seconds_with_days_in_front_when_any() {
        assert_eq!(cpu_time(0, 0, 100), "00:00:00");
        assert_eq!(cpu_time(6100, 99, 100), "00:01:01");
        assert_eq!(cpu_time(100 * 3600 * 25, 100 * 62, 100), "1-01:01:02");
    }

    #[test]
    fn stime_shows_the_time_today_the_day_this_year_else_the_year() {
        assert_eq!(stime_format((124, 10), (124, 10)), c"%H:%M");
        assert_eq!(stime_format((124, 10), (124, 9)), c"%b%d");
        assert_eq!(stime_format((124, 10), (123, 10)), c"%Y");
        assert_eq!(start_epoch(1_000_000, 250, 100), 1_000_002);
    }

    #[test]
    fn the_user_column_cuts_long_names_and_falls_back_to_the_number() {
        let col = |name: Option<&str>, uid| {
            let (t, c) = user_column(name.map(str::as_bytes), uid, Charset::Bytes);
            (String::from_utf8(t).unwrap(), c)
        };
        assert_eq!(col(Some("root"), 0), ("root".into(), 4));
        assert_eq!(col(Some("12345678"), 5), ("12345678".into(), 8));
        assert_eq!(col(Some("systemd-network"), 5), ("systemd+".into(), 8));
        assert_eq!(col(None, 1000), ("1000".into(), 4));
        // Numbers are cut like names.
        assert_eq!(col(None, 4294967294), ("4294967+".into(), 8));
        assert_eq!(col(Some(&"n".repeat(33)), 12), ("12".into(), 2));
        assert_eq!(col(Some(&"n".repeat(32)), 12), ("nnnnnnn+".into(), 8));
        // A cut inside a multibyte character shows the number instead.
        let (t, _) = user_column(Some(b"abcdefg\xc3\xa9"), 9, Charset::Bytes);
        assert_eq!(t, b"abcdefg+");
        let (t, _) = user_column(Some(b"abcdef\xc3\xa9x"), 9, Charset::Bytes);
        assert_eq!(t, b"abcdef?+");
    }

    #[test]
    fn in_utf8_a_name_is_measured_in_cells() {
        crate::ps_table::escape::in_utf8_locale(|| {
            let col = |name: &str| user_column(Some(name.as_bytes()), 9, Charset::Utf8);
            // 8 cells in 9 bytes fit.
            assert_eq!(col("abcdefg\u{e9}").0, "abcdefg\u{e9}".as_bytes());
            // The 8th byte is inside "é": no cut, the number.
            assert_eq!(col("abcdef\u{e9}xy"), (b"9".to_vec(), 1));
            assert_eq!(col("abcdefgxy\u{e9}").0, b"abcdefg+");
        });
    }

    fn cmd(cmdline: &[u8]) -> String {
        String::from_utf8(command(cmdline, b"comm", false, Charset::Bytes)).unwrap()
    }

    #[test]
    fn cmd_joins_the_arguments_with_spaces() {
        assert_eq!(cmd(b"sleep\0ten\0"), "sleep ten");
        assert_eq!(cmd(b"a\0\0b\0\0\0"), "a  b");
        assert_eq!(cmd(b"echo\0two\nlines\0"), "echo two lines");
        assert_eq!(cmd(b"tab\0a\tb\0"), "tab a.b");
        // Rewritten arguments without a final NUL: a trailing space goes.
        assert_eq!(cmd(b"title: x "), "title: x");
        assert_eq!(cmd(b"title\n"), "title");
        assert_eq!(cmd(b"\0"), "?");
    }

    #[test]
    fn cmd_without_arguments_is_the_comm_in_brackets() {
        assert_eq!(cmd(b""), "[comm]");
        let zombie = command(b"", b"sh", true, Charset::Bytes);
        assert_eq!(zombie, b"[sh] <defunct>");
        let odd = command(
            b"",
            &clean_comm(b"a\x01b", Charset::Bytes),
            false,
            Charset::Bytes,
        );
        assert_eq!(odd, b"[a.b]");
    }

    #[test]
    fn a_second_library_pass_changes_nothing_in_a_comm() {
        // Every byte value, and leads cut short, in both charsets: what
        // libproc2's second pass over a clean comm would give is the same.
        let mut raw: Vec<u8> = (1..=255).collect();
        raw.extend_from_slice(b"a\xe4\xb8");
        for charset in [Charset::Bytes, Charset::Utf8] {
            for window in raw.chunks(7).chain(raw.windows(15)) {
                let once = clean_comm(window, charset);
                let mut twice = once.clone();
                library_pass(&mut twice, charset);
                assert_eq!(once, twice, "{window:x?} {charset:?}");
            }
        }
    }
}
