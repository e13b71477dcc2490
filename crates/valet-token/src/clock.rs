//! Times as tokens carry them: whole seconds since the Unix epoch, and RFC 3339 text for
//! messages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, saturating for times before it.
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// RFC 3339 text of a Unix time, for messages.
pub fn rfc3339(secs: u64) -> String {
    let t = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok());
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_else(|| format!("{secs} seconds after 1970"))
}

/// When a token or a narrowing expires: a lifetime from the time it is made, or an instant.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expiry {
    In(Duration),
    At(SystemTime),
}
