//! Go's duration syntax (`time.ParseDuration`), which runc's `--interval`
//! takes: a signed sequence of decimal numbers, each with an optional
//! fraction and a unit (ns, us, µs, μs, ms, s, m, h), like "1h30m",
//! "1.5s", "500ms"; a bare "0" needs no unit.

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    #[error("time: unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit { unit: String, text: String },
}

const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Nanoseconds, signed as Go's Duration (an int64).
pub fn parse(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(text.to_string());
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (ns, after) = component(rest, text)?;
        total = total.checked_add(ns).ok_or_else(invalid)?;
        rest = after;
    }
    // i64::MIN is representable, i64::MAX + 1 is not.
    let limit = if negative {
        1u64 << 63
    } else {
        (1u64 << 63) - 1
    };
    if total > limit {
        return Err(invalid());
    }
    Ok(if negative {
        (total as i64).wrapping_neg()
    } else {
        total as i64
    })
}

/// One "<number>[.<fraction>]<unit>" at the start of `s`: its value in
/// nanoseconds, and what follows.
fn component<'a>(s: &'a str, text: &str) -> Result<(u64, &'a str), DurationError> {
    let invalid = || DurationError::Invalid(text.to_string());
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(s);
    let whole: u64 = if n == 0 {
        0
    } else {
        s[..n].parse().map_err(|_| invalid())?
    };
    let mut rest = &s[n..];
    let mut frac = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        let f = digits(after_dot);
        frac = &after_dot[..f];
        rest = &after_dot[f..];
        if n == 0 && f == 0 {
            return Err(invalid());
        }
    } else if n == 0 {
        return Err(invalid());
    }
    let u = rest
        .find(|c: char| c == '.' || c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (unit, rest) = rest.split_at(u);
    if unit.is_empty() {
        return Err(DurationError::MissingUnit(text.to_string()));
    }
    let scale = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, scale)| *scale)
        .ok_or_else(|| DurationError::UnknownUnit {
            unit: unit.to_string(),
            text: text.to_string(),
        })?;
    let mut ns = whole.checked_mul(scale).ok_or_else(invalid)?;
    ns = ns
        .checked_add(fraction_ns(frac, scale))
        .ok_or_else(invalid)?;
    Ok((ns, rest))
}

/// The fraction `0.<digits>` of `scale` nanoseconds, truncated as Go does.
fn fraction_ns(digits: &str, scale: u64) -> u64 {
    // Digits beyond what a u64 can hold do not change the result.
    let digits = &digits[..digits.len().min(18)];
    if digits.is_empty() {
        return 0;
    }
    let value: u128 = digits.parse().unwrap_or(0);
    let denominator = 10u128.pow(digits.len() as u32);
    (value * u128::from(scale) / denominator) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn parses_what_go_parses() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("5s", 5 * S),
            ("500ms", S / 2),
            ("2m", 120 * S),
            ("1h30m", 5400 * S),
            ("1.5s", 3 * S / 2),
            (".5s", S / 2),
            ("1.s", S),
            ("-3s", -3 * S),
            ("+3s", 3 * S),
            ("100ns", 100),
            ("3us", 3000),
            ("3µs", 3000),
            ("3μs", 3000),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
            ("0.000000001s", 1),
            ("0.0000000019s", 1),
            ("2562047h47m16.854775807s", i64::MAX),
            ("-2562047h47m16.854775808s", i64::MIN),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses_with_its_messages() {
        for bad in ["", "-", "abc", ".s", "s", "2562047h47m16.854775808s"] {
            assert_eq!(parse(bad), Err(DurationError::Invalid(bad.into())), "{bad}");
        }
        assert_eq!(
            parse("5").unwrap_err().to_string(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            parse("5d").unwrap_err().to_string(),
            "time: unknown unit \"d\" in duration \"5d\""
        );
        assert_eq!(
            parse("1.2.3s"),
            Err(DurationError::MissingUnit("1.2.3s".into()))
        );
        assert!(parse("99999999999999999999s").is_err());
    }
}
