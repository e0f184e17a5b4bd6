//! Signal names as `kill` accepts them: a number, or a name with or
//! without `SIG`, in any case, including `RTMIN+N` and `RTMAX-N`.

#[derive(Debug, thiserror::Error)]
#[error("unknown signal {0:?}")]
pub struct UnknownSignal(pub String);

pub fn parse(raw: &str) -> Result<i32, UnknownSignal> {
    let unknown = || UnknownSignal(raw.to_string());
    if let Ok(n) = raw.parse::<i32>() {
        return if (1..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(unknown())
        };
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(n) = realtime(name) {
        return n
            .filter(|n| (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(n))
            .ok_or_else(unknown);
    }
    let full = format!("SIG{name}");
    full.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| unknown())
}

/// `RTMIN`, `RTMIN+3`, `RTMAX-2`; None when `name` is no realtime name.
fn realtime(name: &str) -> Option<Option<i32>> {
    let (base, rest) = if let Some(r) = name.strip_prefix("RTMIN") {
        (libc::SIGRTMIN(), r)
    } else if let Some(r) = name.strip_prefix("RTMAX") {
        (libc::SIGRTMAX(), r)
    } else {
        return None;
    };
    if rest.is_empty() {
        return Some(Some(base));
    }
    let (sign, digits) = rest.split_at(1);
    let n: i32 = digits.parse().ok()?;
    Some(match sign {
        "+" => Some(base + n),
        "-" => Some(base - n),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("USR1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse("SIGUSR1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse("sigterm").unwrap(), libc::SIGTERM);
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("RTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        assert!(parse("FOO").is_err());
        assert!(parse("0").is_err());
        assert!(parse("99").is_err());
        assert_eq!(
            parse("SIGFOO").unwrap_err().to_string(),
            "unknown signal \"SIGFOO\""
        );
    }
}
