//! runc-compatible logging: `--log FILE` with `--log-format text|json`.
//!
//! containerd shows the `msg` of the last JSON line of the log file as the
//! error, so the JSON shape (logrus: keys sorted, RFC3339 time) is a contract.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Debug,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

struct Logger {
    file: Option<File>,
    format: Format,
    debug: bool,
}

static LOGGER: Mutex<Option<Logger>> = Mutex::new(None);

/// Open the log destination. Without `--log`, messages go to stderr.
pub fn init(path: Option<&Path>, format: Format, debug: bool) -> std::io::Result<()> {
    let file = match path {
        Some(p) => Some(OpenOptions::new().create(true).append(true).open(p)?),
        None => None,
    };
    *LOGGER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Logger {
        file,
        format,
        debug,
    });
    Ok(())
}

/// Whether log lines go to stderr (no `--log` file). As in runc, an error
/// then reaches stderr only as its log line; with a log file, stderr gets
/// the bare message too, which is what podman and conmon show.
pub fn logs_to_stderr() -> bool {
    let guard = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    guard.as_ref().is_none_or(|l| l.file.is_none())
}

pub fn log(level: Level, msg: &str) {
    let mut guard = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(logger) = guard.as_mut() else { return };
    if level == Level::Debug && !logger.debug {
        return;
    }
    let line = format_line(logger.format, level, msg, SystemTime::now());
    // A log that cannot be written must not turn into a second error.
    let _ = match logger.file.as_mut() {
        Some(f) => f.write_all(line.as_bytes()),
        None => std::io::stderr().write_all(line.as_bytes()),
    };
}

pub fn debug(msg: &str) {
    log(Level::Debug, msg);
}

pub fn warn(msg: &str) {
    log(Level::Warn, msg);
}

pub fn error(msg: &str) {
    log(Level::Error, msg);
}

fn format_line(format: Format, level: Level, msg: &str, now: SystemTime) -> String {
    let time = rfc3339(now, false);
    match format {
        Format::Json => {
            let obj = serde_json::json!({"level": level.name(), "msg": msg, "time": time});
            format!("{obj}\n")
        }
        Format::Text => {
            let quoted = serde_json::Value::String(msg.to_string());
            format!("time=\"{time}\" level={} msg={quoted}\n", level.name())
        }
    }
}

/// Format a time as RFC3339 in UTC; with `nanos`, Go's RFC3339Nano (trailing
/// zeros of the fraction trimmed), which `state` and `list` print.
pub fn rfc3339(t: SystemTime, nanos: bool) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, day) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos && d.subsec_nanos() != 0 {
        let frac = format!("{:09}", d.subsec_nanos());
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formats_like_go() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339(t, false), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(t, true), "2023-11-14T22:13:20.12Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400), true),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn json_line_has_logrus_shape() {
        let line = format_line(Format::Json, Level::Error, "boom \"x\"", UNIX_EPOCH);
        assert_eq!(
            line,
            "{\"level\":\"error\",\"msg\":\"boom \\\"x\\\"\",\"time\":\"1970-01-01T00:00:00Z\"}\n"
        );
        let text = format_line(Format::Text, Level::Warn, "hi", UNIX_EPOCH);
        assert_eq!(
            text,
            "time=\"1970-01-01T00:00:00Z\" level=warning msg=\"hi\"\n"
        );
    }
}
