//! Durations as the config writes them: `500ms`, `2s`, `5m`, `1h`, or a sum like `1m30s`.

use std::time::Duration;

/// The longest duration a timeout may have.
const MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// Reads `text`; the error says what is wrong, for the key it is written at.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let help = "write a duration like `500ms`, `2s`, `5m`, `1h` or `1m30s`";
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("the duration is empty: {help}"));
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let value: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration: {help}"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let part = match unit {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value.saturating_mul(60)),
            "h" => Duration::from_secs(value.saturating_mul(3600)),
            "" => {
                return Err(format!(
                    "`{text}` has no unit: {help} (`ms`, `s`, `m` or `h` after each number)"
                ))
            }
            other => {
                return Err(format!(
                    "`{other}` in `{text}` is not a unit: {help} (`ms`, `s`, `m` or `h`)"
                ))
            }
        };
        total = total.saturating_add(part);
        rest = tail;
    }
    if total.is_zero() {
        return Err(format!("`{text}` is zero: give a positive duration"));
    }
    if total > MAX {
        return Err(format!(
            "`{text}` is longer than 24h: give a shorter duration"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_with_their_units() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse(" 1h "), Ok(Duration::from_secs(3600)));
        for bad in ["", "5", "s", "1d", "0s", "-1s", "1.5s", "25h", "1 s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
