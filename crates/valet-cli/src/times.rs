//! Durations (`90s`, `15m`, `2h30m`), RFC 3339 times, and "in 14 minutes" phrasing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// An expiry given on the command line: a lifetime from now, or a point in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// This long from now.
    In(Duration),
    /// At this time.
    At(SystemTime),
}

/// Parses `--add-ttl`: a duration like `90s`, `15m`, `1h`, `2h30m`, `1d`, or an RFC 3339 time.
pub fn parse_ttl(text: &str) -> Result<Ttl, String> {
    if let Ok(d) = parse_duration(text) {
        return Ok(Ttl::In(d));
    }
    parse_time(text).map(Ttl::At).map_err(|_| {
        format!(
            "`{text}` is neither a duration nor an RFC 3339 time: write a duration like `90s`, `15m`, `1h` or `2h30m`, or a time like `2026-11-22T10:00:00Z`"
        )
    })
}

/// Parses a duration made of `<number><unit>` parts, units `s`, `m`, `h`, `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad =
        || format!("`{text}` is not a duration: write one like `90s`, `15m`, `1h` or `2h30m`");
    let text_trim = text.trim();
    if text_trim.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text_trim.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(format!(
            "`{text}` has a number without a unit: add `s`, `m`, `h` or `d`, like `{number}m`"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Parses an RFC 3339 time, like `2026-11-22T10:00:00Z`.
pub fn parse_time(text: &str) -> Result<SystemTime, String> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map(SystemTime::from)
        .map_err(|e| {
            format!("`{text}` is not an RFC 3339 time ({e}): write one like `2026-11-22T10:00:00Z`")
        })
}

/// Seconds since the Unix epoch (0 before it).
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// "in 14 minutes", "12 minutes ago" or "now": `at` relative to `now`, both Unix seconds.
pub fn relative(at: u64, now: u64) -> String {
    if at == now {
        return "now".into();
    }
    let span = span(at.abs_diff(now));
    if at > now {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn span(secs: u64) -> String {
    let (n, unit) = if secs < 60 {
        (secs, "second")
    } else if secs < 3600 {
        (secs / 60, "minute")
    } else if secs < 2 * 86_400 {
        (secs / 3600, "hour")
    } else {
        (secs / 86_400, "day")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2h30m"), Ok(Duration::from_secs(9000)));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("15x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn ttl_takes_a_time_too() {
        assert!(matches!(parse_ttl("2026-11-22T10:00:00Z"), Ok(Ttl::At(_))));
        assert!(matches!(parse_ttl("15m"), Ok(Ttl::In(_))));
        assert!(parse_ttl("tomorrow").is_err());
    }

    #[test]
    fn relative_phrases() {
        assert_eq!(relative(1000 + 14 * 60 + 5, 1000), "in 14 minutes");
        assert_eq!(relative(1000, 1000 + 12 * 60), "12 minutes ago");
        assert_eq!(relative(1000, 1001), "1 second ago");
        assert_eq!(relative(1000, 1000), "now");
        assert_eq!(relative(1000 + 3 * 86_400, 1000), "in 3 days");
    }
}
