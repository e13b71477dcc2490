//! One transaction field as the Cedar value of the type the schema declares for it.
//!
//! | JSON value in the details | Cedar type declared | Cedar value |
//! |---|---|---|
//! | string | `String` | the string |
//! | integer | `Long` | the integer |
//! | `true` / `false` | `Bool` | the boolean |
//! | decimal string (`"50.00"`) or integer | `decimal` | exact, never through a float |
//! | RFC 3339 string (`"2026-12-01T09:30:00Z"`, `"2026-12-01T10:30:00+01:00"`, `"2026-12-01"`) | `datetime` | the same instant, to the millisecond |
//! | Cedar duration string (`"1h30m"`, `"-2d"`, `"250ms"`) | `duration` | the duration |
//! | IP address or CIDR string (`"10.0.0.1"`, `"2001:db8::/32"`) | `ipaddr` | the address or range |
//! | `{"__extn": {"fn": "decimal", "arg": "50.00"}}` (any of the four) | that extension type | as its string form |
//! | `{"__entity": {"type": "Ns::T", "id": "x"}}` | entity type `Ns::T` | the entity reference |
//! | array | `Set<T>` | the set, each item read as `T` |
//! | object | record `{ ... }` | the record, each member read by its declared type; a required member missing, or one not declared, is refused |
//!
//! Any other pairing is refused, with a reason naming the field (its path, like
//! `trip.legs`) and what it must be.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use cedar_policy::{EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};
use valet_token::details::FieldValue;
use valet_token::Decimal;

use crate::schema::CedarType;

/// `value` as a Cedar value of type `ty`, or why it is not one. `path` names the field.
pub(crate) fn to_cedar(
    path: &str,
    value: &FieldValue,
    ty: &CedarType,
) -> Result<RestrictedExpression, String> {
    let wrong = || {
        format!(
            "transaction field `{path}` must be {}, found {}",
            ty.describe(),
            describe_value(value)
        )
    };
    match (ty, value) {
        (CedarType::String, FieldValue::Str(s)) => Ok(RestrictedExpression::new_string(s.clone())),
        (CedarType::Long, FieldValue::Long(n)) => Ok(RestrictedExpression::new_long(*n)),
        (CedarType::Bool, FieldValue::Bool(b)) => Ok(RestrictedExpression::new_bool(*b)),
        (CedarType::Decimal, FieldValue::Long(_)) => match value.as_decimal() {
            Some(d) => Ok(RestrictedExpression::new_decimal(d.to_string())),
            None => Err(format!(
                "transaction field `{path}` is too large for a decimal amount"
            )),
        },
        (
            CedarType::Decimal | CedarType::Datetime | CedarType::Duration | CedarType::IpAddr,
            FieldValue::Str(s),
        ) => extension(path, ty, s),
        (CedarType::Set(element), FieldValue::List(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(to_cedar(
                    &format!("{path}[{i}]"),
                    &FieldValue::Str(item.clone()),
                    element,
                )?);
            }
            Ok(RestrictedExpression::new_set(out))
        }
        (CedarType::Set(element), FieldValue::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(to_cedar(&format!("{path}[{i}]"), item, element)?);
            }
            Ok(RestrictedExpression::new_set(out))
        }
        (CedarType::Entity(expected), FieldValue::Record(fields)) => {
            entity_reference(path, expected, fields).map(RestrictedExpression::new_entity_uid)
        }
        (
            CedarType::Decimal | CedarType::Datetime | CedarType::Duration | CedarType::IpAddr,
            FieldValue::Record(fields),
        ) => {
            let arg = extension_call(path, ty, fields)?;
            extension(path, ty, arg)
        }
        (CedarType::Record(members), FieldValue::Record(fields)) => {
            if let Some(escape) = fields.keys().find(|k| *k == "__entity" || *k == "__extn") {
                return Err(format!(
                    "transaction field `{path}` must be a JSON object of its members, found a `{escape}` escape"
                ));
            }
            let mut out = Vec::with_capacity(fields.len());
            for (name, value) in fields {
                let member_path = format!("{path}.{name}");
                let Some(member) = members.get(name) else {
                    return Err(format!(
                        "transaction field `{member_path}` is not a member of `{path}`: remove it, or declare it in the schema"
                    ));
                };
                out.push((name.clone(), to_cedar(&member_path, value, &member.ty)?));
            }
            for (name, member) in members {
                if member.required && !fields.contains_key(name) {
                    return Err(format!(
                        "transaction field `{path}.{name}` is missing: `{path}` needs it as {}",
                        member.ty.describe()
                    ));
                }
            }
            RestrictedExpression::new_record(out)
                .map_err(|e| format!("transaction field `{path}`: {e}"))
        }
        _ => Err(wrong()),
    }
}

/// The entity a `{"__entity": {"type": "...", "id": "..."}}` value refers to, which must be
/// of type `expected`.
fn entity_reference(
    path: &str,
    expected: &EntityTypeName,
    fields: &BTreeMap<String, FieldValue>,
) -> Result<EntityUid, String> {
    let shape = || {
        format!(
            "transaction field `{path}` must be an entity reference like `{{\"__entity\": {{\"type\": \"{expected}\", \"id\": \"...\"}}}}`"
        )
    };
    let (Some(FieldValue::Record(inner)), 1) = (fields.get("__entity"), fields.len()) else {
        return Err(shape());
    };
    let (Some(FieldValue::Str(ty)), Some(FieldValue::Str(id)), 2) =
        (inner.get("type"), inner.get("id"), inner.len())
    else {
        return Err(shape());
    };
    let given = EntityTypeName::from_str(ty)
        .map_err(|_| format!("transaction field `{path}`: `{ty}` is not an entity type name"))?;
    if &given != expected {
        return Err(format!(
            "transaction field `{path}` must refer to a `{expected}`, found a `{given}`"
        ));
    }
    Ok(entity_uid(&given, id))
}

/// The argument of a `{"__extn": {"fn": "...", "arg": "..."}}` value, whose function must
/// construct the type `ty`.
fn extension_call<'f>(
    path: &str,
    ty: &CedarType,
    fields: &'f BTreeMap<String, FieldValue>,
) -> Result<&'f str, String> {
    let function = match ty {
        CedarType::Decimal => "decimal",
        CedarType::Datetime => "datetime",
        CedarType::Duration => "duration",
        _ => "ip",
    };
    let shape = || {
        format!(
            "transaction field `{path}` must be {}, or `{{\"__extn\": {{\"fn\": \"{function}\", \"arg\": \"...\"}}}}`",
            ty.describe()
        )
    };
    let (Some(FieldValue::Record(inner)), 1) = (fields.get("__extn"), fields.len()) else {
        return Err(shape());
    };
    let (Some(FieldValue::Str(f)), Some(FieldValue::Str(arg)), 2) =
        (inner.get("fn"), inner.get("arg"), inner.len())
    else {
        return Err(shape());
    };
    if f != function {
        return Err(format!(
            "transaction field `{path}` calls `{f}`, but its type needs `{function}`"
        ));
    }
    Ok(arg)
}

/// What a value is, for messages.
fn describe_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Str(s) if s.len() <= 64 => format!("the string {s:?}"),
        other => other.kind().to_owned(),
    }
}

/// A string read as a value of an extension type.
fn extension(path: &str, ty: &CedarType, s: &str) -> Result<RestrictedExpression, String> {
    let bad = |why: String| format!("transaction field `{path}`: {why}");
    match ty {
        CedarType::Decimal => match s.parse::<Decimal>() {
            Ok(d) => Ok(RestrictedExpression::new_decimal(d.to_string())),
            Err(e) => Err(bad(e.to_string())),
        },
        CedarType::Datetime => datetime(s)
            .map(RestrictedExpression::new_datetime)
            .map_err(bad),
        CedarType::Duration => {
            check_duration(s).map_err(bad)?;
            Ok(RestrictedExpression::new_duration(s))
        }
        CedarType::IpAddr => {
            check_ip(s).map_err(bad)?;
            Ok(RestrictedExpression::new_ip(s))
        }
        other => Err(bad(format!("must be {}", other.describe()))),
    }
}

/// An RFC 3339 date-time (or full date) in the form Cedar's `datetime` reads:
/// `YYYY-MM-DDThh:mm:ss.sssZ`, in UTC.
pub(crate) fn datetime(s: &str) -> Result<String, String> {
    let instant = match OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => t,
        Err(_) => {
            let date_only = time::macros::format_description!("[year]-[month]-[day]");
            match Date::parse(s, &date_only) {
                Ok(d) if s.len() == 10 => d.midnight().assume_utc(),
                _ => {
                    return Err(format!(
                        "`{s}` is not an RFC 3339 date-time: write it like `2026-12-01T09:30:00Z` or `2026-12-01T10:30:00+01:00`"
                    ))
                }
            }
        }
    };
    if instant.nanosecond() % 1_000_000 != 0 {
        return Err(format!(
            "`{s}` is more precise than a millisecond, which is as precise as Cedar's datetime is: round it to milliseconds"
        ));
    }
    let utc = instant.to_offset(UtcOffset::UTC);
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.millisecond()
    ))
}

/// A Cedar duration: an optional `-`, then at least one of `<n>d`, `<n>h`, `<n>m`, `<n>s`,
/// `<n>ms`, in that order, each at most once, within Cedar's range (±2^63 milliseconds).
fn check_duration(s: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "`{s}` is not a duration: write units in the order d, h, m, s, ms, like `1h30m` or `-250ms`"
        )
    };
    let body = s.strip_prefix('-').unwrap_or(s);
    if body.is_empty() {
        return Err(bad());
    }
    const UNITS: [(&str, i128); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = body;
    let mut next_unit = 0;
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 19 {
            return Err(bad());
        }
        let (number, after) = rest.split_at(digits);
        let n: i128 = number.parse().map_err(|_| bad())?;
        let unit_len = if after.starts_with("ms") {
            2
        } else {
            usize::from(!after.is_empty())
        };
        let unit = after.get(..unit_len).ok_or_else(bad)?;
        let at = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
        if at < next_unit {
            return Err(bad());
        }
        next_unit = at.saturating_add(1);
        let (_, factor) = UNITS.get(at).ok_or_else(bad)?;
        total = total.saturating_add(n.saturating_mul(*factor));
        rest = after.get(unit_len..).unwrap_or("");
    }
    if total > i128::from(i64::MAX) {
        return Err(format!("`{s}` is longer than Cedar's durations can be"));
    }
    Ok(())
}

/// An IP address, or a CIDR range `address/prefix`.
fn check_ip(s: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "`{s}` is not an IP address: write it like `10.0.0.1`, `10.0.0.0/8` or `2001:db8::1`"
        )
    };
    let (address, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip = IpAddr::from_str(address).map_err(|_| bad())?;
    if let Some(p) = prefix {
        let bits: u8 = p.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if bits > max || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
            return Err(bad());
        }
    }
    Ok(())
}

/// An entity reference of type `ty` with id `id`.
pub(crate) fn entity_uid(ty: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::*;

    #[test]
    fn rfc3339_date_times_become_cedar_datetimes_in_utc() {
        assert_eq!(
            datetime("2026-12-01T09:30:00Z").unwrap(),
            "2026-12-01T09:30:00.000Z"
        );
        assert_eq!(
            datetime("2026-12-01T10:30:00.250+01:00").unwrap(),
            "2026-12-01T09:30:00.250Z"
        );
        assert_eq!(datetime("2026-12-01").unwrap(), "2026-12-01T00:00:00.000Z");
        assert!(datetime("2026-12-01T09:30:00.0001Z")
            .unwrap_err()
            .contains("millisecond"));
        assert!(datetime("yesterday").unwrap_err().contains("RFC 3339"));
        assert!(datetime("2026-13-01").is_err());
    }

    #[test]
    fn durations_are_read_as_cedar_reads_them() {
        for ok in ["1h30m", "-2d", "250ms", "1d2h3m4s5ms", "0s"] {
            assert!(check_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-", "1", "30m1h", "1h1h", "1.5h", "h", "1w", "1ms1s"] {
            assert!(check_duration(bad).is_err(), "{bad}");
        }
        assert!(check_duration("9999999999999999999d").is_err());
    }

    #[test]
    fn ip_addresses_and_ranges() {
        for ok in [
            "10.0.0.1",
            "10.0.0.0/8",
            "2001:db8::1",
            "2001:db8::/32",
            "::1",
        ] {
            assert!(check_ip(ok).is_ok(), "{ok}");
        }
        for bad in ["10.0.0.256", "10.0.0.0/33", "10.0.0.0/08", "host", "::/129"] {
            assert!(check_ip(bad).is_err(), "{bad}");
        }
    }
}
