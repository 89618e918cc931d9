//! Numeric command-line options, checked where clap reads them: every count, period, duration,
//! timeout and retry limit has a range, so a value such as `1e300`, `NaN`, `-1` or
//! `18446744073709551615` is a one-line error naming the option, never a panic further on (an
//! `Instant` overflow, a zero timer period, an allocation of a huge batch).
//!
//! Each parser is a `fn(&str) -> Result<T, String>` for `#[arg(value_parser = ...)]`; clap adds the
//! option's name to the message and `main` prints it on one line.

use std::ops::RangeInclusive;

/// A year, in seconds: the longest run, duration or period any option takes.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
/// An hour, in milliseconds: the longest timeout or delay any option takes.
pub const MAX_MS: u64 = 3_600_000;

/// A whole number in `range`.
fn whole(text: &str, range: RangeInclusive<u64>) -> Result<u64, String> {
    let t = text.trim();
    let n: u64 = match t.parse() {
        Ok(n) => n,
        Err(_) if t.starts_with('-') => {
            return Err(format!(
                "must be a whole number from {} to {}, not negative",
                range.start(),
                range.end()
            ))
        }
        Err(_) => {
            return Err(format!(
                "must be a whole number from {} to {}",
                range.start(),
                range.end()
            ))
        }
    };
    if !range.contains(&n) {
        return Err(format!("must be from {} to {}, not {n}", range.start(), range.end()));
    }
    Ok(n)
}

/// A number of seconds, finite, from `min` to [`MAX_SECONDS`].
fn seconds_from(text: &str, min: f64) -> Result<f64, String> {
    let s: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("must be a number of seconds from {min} to {MAX_SECONDS}"))?;
    if !s.is_finite() || s < min || s > MAX_SECONDS {
        return Err(format!(
            "must be a number of seconds from {min} to {MAX_SECONDS}, not {text}"
        ));
    }
    Ok(s)
}

/// A run length or a period in seconds: from 0.001 (a millisecond) to a year.
pub fn seconds(text: &str) -> Result<f64, String> {
    seconds_from(text, 0.001)
}

/// A timeout in milliseconds: from 1 to an hour.
pub fn timeout_ms(text: &str) -> Result<u64, String> {
    whole(text, 1..=MAX_MS)
}

/// A delay in milliseconds: from 0 (none) to an hour.
pub fn delay_ms(text: &str) -> Result<u64, String> {
    whole(text, 0..=MAX_MS)
}

/// A fault period in requests (`--drop-every`, `--close-after`): 0 (never) to 2^32 - 1.
pub fn every(text: &str) -> Result<usize, String> {
    whole(text, 0..=u64::from(u32::MAX)).map(to_usize)
}

/// A batch size in requests (`--reverse-order`): 0 (off) to 10,000.
pub fn batch(text: &str) -> Result<usize, String> {
    whole(text, 0..=10_000).map(to_usize)
}

/// Links to open: 1 to 1,000.
pub fn links(text: &str) -> Result<usize, String> {
    whole(text, 1..=1_000).map(to_usize)
}

/// Requests in flight (per link, or in all): 1 to 10,000.
pub fn in_flight(text: &str) -> Result<usize, String> {
    whole(text, 1..=10_000).map(to_usize)
}

/// Further attempts: 0 to 100.
pub fn retries(text: &str) -> Result<u32, String> {
    whole(text, 0..=100).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// A number of requests to send: 1 to 10^12.
pub fn requests(text: &str) -> Result<u64, String> {
    whole(text, 1..=1_000_000_000_000)
}

/// A number of connections: 1 to 2^32 - 1.
pub fn connections(text: &str) -> Result<u32, String> {
    whole(text, 1..=u64::from(u32::MAX)).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_are_errors() {
        for bad in ["1e300", "NaN", "nan", "inf", "-1", "0", "1e-10", ""] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(seconds("0.5"), Ok(0.5));
        assert!(timeout_ms("18446744073709551615").is_err());
        assert!(timeout_ms("0").is_err());
        assert!(in_flight("9223372036854775808").is_err());
        assert!(retries("4294967295").is_err());
        assert_eq!(retries("3"), Ok(3));
        assert_eq!(delay_ms("0"), Ok(0));
        assert!(whole("-5", 0..=10).unwrap_err().contains("negative"));
    }
}
