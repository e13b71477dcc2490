//! Transaction details (one RFC 9396 object presented with a request) and the exact
//! decimal type used for money.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::RequestError;

/// The most fields one transaction may carry (besides `type`).
pub const DEFAULT_MAX_DETAIL_FIELDS: usize = 32;

/// An exact decimal number with four fractional digits, the same range and precision as
/// Cedar's `decimal` extension type (`-922337203685477.5808` to `922337203685477.5807`).
///
/// Money is never carried as a binary floating-point number: amounts are parsed from their
/// decimal text, and a value with more than four fractional digits is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(i64);

impl Decimal {
    /// Number of fractional digits kept.
    pub const SCALE: u32 = 4;
    const FACTOR: i64 = 10_000;

    /// Zero, the lowest value a limit without a `min` allows.
    pub const ZERO: Decimal = Decimal(0);

    /// The value scaled by 10^4 (`"50.01"` is `500_100`). This is how amounts are
    /// written into tokens' Datalog.
    pub fn scaled(self) -> i64 {
        self.0
    }

    /// Builds a decimal from a value already scaled by 10^4.
    pub fn from_scaled(scaled: i64) -> Self {
        Decimal(scaled)
    }
}

/// Why a decimal text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecimalError {
    /// Not of the form `[-]digits[.digits]`.
    #[error("`{0}` is not a decimal number: write it like `50.00`")]
    Syntax(String),
    /// More than four digits after the point.
    #[error("`{0}` has more than 4 digits after the decimal point")]
    TooPrecise(String),
    /// Outside the range of Cedar's decimal.
    #[error("`{0}` is too large for a decimal amount")]
    Overflow(String),
}

impl FromStr for Decimal {
    type Err = DecimalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || DecimalError::Syntax(s.to_owned());
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        let frac = frac_part.unwrap_or("");
        if frac_part.is_some() && frac.is_empty() {
            return Err(syntax());
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        if frac.len() > Self::SCALE as usize {
            return Err(DecimalError::TooPrecise(s.to_owned()));
        }
        let overflow = || DecimalError::Overflow(s.to_owned());
        // Accumulate negatively so that i64::MIN is reachable.
        let mut value: i64 = 0;
        for b in int_part.bytes().chain(frac.bytes()) {
            let digit = i64::from(b - b'0');
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_sub(digit))
                .ok_or_else(overflow)?;
        }
        for _ in frac.len()..Self::SCALE as usize {
            value = value.checked_mul(10).ok_or_else(overflow)?;
        }
        if negative {
            Ok(Decimal(value))
        } else {
            value.checked_neg().map(Decimal).ok_or_else(overflow)
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = i128::from(self.0);
        let sign = if v < 0 { "-" } else { "" };
        let abs = v.abs();
        let factor = i128::from(Self::FACTOR);
        let int = abs / factor;
        let mut frac = format!("{:04}", abs % factor);
        // Keep at least two fractional digits, as money is usually written.
        while frac.len() > 2 && frac.ends_with('0') {
            frac.pop();
        }
        write!(f, "{sign}{int}.{frac}")
    }
}

impl Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The value of one transaction field, as it came in the request JSON.
///
/// Numbers with a fraction or an exponent are refused when the details are parsed: money
/// travels as decimal text (`"50.00"`), which the token layer and the policy layer both read
/// exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A JSON string. Also the carrier of decimal amounts.
    Str(String),
    /// A JSON integer.
    Long(i64),
    /// A JSON boolean.
    Bool(bool),
    /// A JSON array of strings (RFC 9396 `actions`, `locations`, `datatypes`, `privileges`).
    List(Vec<String>),
}

impl FieldValue {
    /// The string, when the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value read as an exact decimal: a decimal string or an integer.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            FieldValue::Str(s) => s.parse().ok(),
            FieldValue::Long(n) => n.checked_mul(Decimal::FACTOR).map(Decimal),
            _ => None,
        }
    }

    /// A short name of the JSON type, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            FieldValue::Str(_) => "string",
            FieldValue::Long(_) => "integer",
            FieldValue::Bool(_) => "boolean",
            FieldValue::List(_) => "array of strings",
        }
    }
}

/// One RFC 9396 authorization details object describing the transaction a request performs,
/// e.g. `{"type":"payment","amount":"500.00","currency":"USD","recipient":"alice@example.com"}`.
///
/// `type` is required; every other member is a field. Field names are kept in sorted order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransactionDetails {
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    fields: BTreeMap<String, FieldValue>,
}

impl TransactionDetails {
    /// Details of the given type with no fields yet.
    pub fn new(kind: impl Into<String>) -> Self {
        TransactionDetails {
            kind: kind.into(),
            fields: BTreeMap::new(),
        }
    }

    /// Adds or replaces a field.
    #[must_use]
    pub fn field(mut self, name: impl Into<String>, value: FieldValue) -> Self {
        self.fields.insert(name.into(), value);
        self
    }

    /// Adds or replaces a string field.
    #[must_use]
    pub fn with(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.field(name, FieldValue::Str(value.into()))
    }

    /// The RFC 9396 `type`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// All fields but `type`, by name.
    pub fn fields(&self) -> &BTreeMap<String, FieldValue> {
        &self.fields
    }

    /// The canonical JSON that proofs and approvals sign the digest of: compact, `type`
    /// first, then the fields sorted by name, as `serde_json` writes this type. Written
    /// from the parts rather than through a `Serializer`, so that it cannot fail: each
    /// string is escaped by `serde_json`'s own `Display` of a JSON string, which writes to
    /// memory, and every other value is a number or a literal.
    pub fn canonical_json(&self) -> String {
        fn string(out: &mut String, s: &str) {
            out.push_str(&serde_json::Value::from(s).to_string());
        }
        let mut out = String::with_capacity(32 + 32 * self.fields.len());
        out.push_str("{\"type\":");
        string(&mut out, &self.kind);
        for (name, value) in &self.fields {
            out.push(',');
            string(&mut out, name);
            out.push(':');
            match value {
                FieldValue::Str(s) => string(&mut out, s),
                FieldValue::Long(n) => out.push_str(&n.to_string()),
                FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                FieldValue::List(items) => {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        string(&mut out, item);
                    }
                    out.push(']');
                }
            }
        }
        out.push('}');
        out
    }

    /// One field.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.fields.get(name)
    }

    /// Reads the details from a JSON value, refusing what cannot be carried exactly.
    pub fn from_json_value(
        value: &serde_json::Value,
        max_fields: usize,
    ) -> Result<Self, RequestError> {
        let obj = value.as_object().ok_or_else(|| {
            RequestError::Invalid(
                "`authorization_details` must be one JSON object with a `type` member".into(),
            )
        })?;
        if obj.len() > max_fields.saturating_add(1) {
            return Err(RequestError::TooManyFields {
                count: obj.len().saturating_sub(1),
                max: max_fields,
            });
        }
        let kind = match obj.get("type") {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(other) => {
                return Err(RequestError::Field {
                    field: "type".into(),
                    problem: format!("must be a non-empty string, found {}", json_kind(other)),
                })
            }
            None => {
                return Err(RequestError::Field {
                    field: "type".into(),
                    problem: "is missing: every transaction names its RFC 9396 type".into(),
                })
            }
        };
        let mut fields = BTreeMap::new();
        for (name, v) in obj {
            if name == "type" {
                continue;
            }
            let field_err = |problem: String| RequestError::Field {
                field: name.clone(),
                problem,
            };
            let fv = match v {
                serde_json::Value::String(s) => FieldValue::Str(s.clone()),
                serde_json::Value::Bool(b) => FieldValue::Bool(*b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => FieldValue::Long(i),
                    None => {
                        return Err(field_err(format!(
                            "is the number {n}, which is not an integer: send amounts as decimal text, like \"{n}\""
                        )))
                    }
                },
                serde_json::Value::Array(items) => {
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            serde_json::Value::String(s) => list.push(s.clone()),
                            other => {
                                return Err(field_err(format!(
                                    "must be an array of strings, found an array holding {}",
                                    json_kind(other)
                                )))
                            }
                        }
                    }
                    FieldValue::List(list)
                }
                other => {
                    return Err(field_err(format!(
                        "has an unsupported value ({}): use a string, an integer, a boolean or an array of strings",
                        json_kind(other)
                    )))
                }
            };
            fields.insert(name.clone(), fv);
        }
        Ok(TransactionDetails { kind, fields })
    }

    /// Parses details from JSON text.
    pub fn from_json(text: &str) -> Result<Self, RequestError> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| RequestError::Json(e.to_string()))?;
        Self::from_json_value(&v, DEFAULT_MAX_DETAIL_FIELDS)
    }
}

impl<'de> Deserialize<'de> for TransactionDetails {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        TransactionDetails::from_json_value(&v, DEFAULT_MAX_DETAIL_FIELDS)
            .map_err(serde::de::Error::custom)
    }
}

pub(crate) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_value() -> impl proptest::strategy::Strategy<Value = FieldValue> {
        use proptest::prelude::*;
        prop_oneof![
            any::<String>().prop_map(FieldValue::Str),
            any::<i64>().prop_map(FieldValue::Long),
            any::<bool>().prop_map(FieldValue::Bool),
            proptest::collection::vec(any::<String>(), 0..4).prop_map(FieldValue::List),
        ]
    }

    proptest::proptest! {
        /// The canonical JSON is exactly what `serde_json` writes, escapes included, so
        /// digests signed before it was written by hand still match.
        #[test]
        fn canonical_json_is_serde_jsons(
            kind in proptest::prelude::any::<String>(),
            fields in proptest::collection::btree_map(
                proptest::prelude::any::<String>(), field_value(), 0..6),
        ) {
            let mut details = TransactionDetails::new(kind);
            for (name, value) in fields {
                details = details.field(name, value);
            }
            proptest::prop_assert_eq!(
                details.canonical_json(),
                serde_json::to_string(&details).unwrap()
            );
        }
    }

    #[test]
    fn canonical_json_escapes_as_serde_json_does() {
        let details = TransactionDetails::new("pay\"ment")
            .with("memo", "line\nbreak\u{1}")
            .field("n", FieldValue::Long(-5))
            .field("ok", FieldValue::Bool(true))
            .field("to", FieldValue::List(vec!["a".into(), "\"b\"".into()]));
        assert_eq!(
            details.canonical_json(),
            r#"{"type":"pay\"ment","memo":"line\nbreak\u0001","n":-5,"ok":true,"to":["a","\"b\""]}"#
        );
    }

    #[test]
    fn decimal_parses_exactly() {
        assert_eq!("50.00".parse::<Decimal>().unwrap().scaled(), 500_000);
        assert_eq!("50.01".parse::<Decimal>().unwrap().scaled(), 500_100);
        assert_eq!("0.0001".parse::<Decimal>().unwrap().scaled(), 1);
        assert_eq!("-3".parse::<Decimal>().unwrap().scaled(), -30_000);
        assert_eq!(
            "922337203685477.5807".parse::<Decimal>().unwrap().scaled(),
            i64::MAX
        );
        assert_eq!(
            "-922337203685477.5808".parse::<Decimal>().unwrap().scaled(),
            i64::MIN
        );
    }

    #[test]
    fn decimal_refuses_bad_text() {
        for bad in [
            "", "1.", ".5", "1e3", "12abc", "1.2.3", "+1", " 1", "NaN", "--1",
        ] {
            assert!(
                matches!(bad.parse::<Decimal>(), Err(DecimalError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            "1.00001".parse::<Decimal>(),
            Err(DecimalError::TooPrecise(_))
        ));
        assert!(matches!(
            "922337203685477.5808".parse::<Decimal>(),
            Err(DecimalError::Overflow(_))
        ));
    }

    #[test]
    fn decimal_displays_round_trip() {
        for s in ["50.00", "50.01", "0.0001", "-3.00", "1000.50"] {
            let d: Decimal = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
            assert_eq!(d.to_string().parse::<Decimal>().unwrap(), d);
        }
    }

    #[test]
    fn details_refuse_floats_and_missing_type() {
        let e = TransactionDetails::from_json(r#"{"type":"payment","amount":50.5}"#).unwrap_err();
        assert!(e.to_string().contains("amount"), "{e}");
        let e = TransactionDetails::from_json(r#"{"amount":"1.00"}"#).unwrap_err();
        assert!(e.to_string().contains("type"), "{e}");
        let e = TransactionDetails::from_json(r#"{"type":"p","x":{"a":1}}"#).unwrap_err();
        assert!(e.to_string().contains("`x`"), "{e}");
        let d = TransactionDetails::from_json(
            r#"{"type":"payment","amount":"50.00","n":3,"locations":["https://a.example"]}"#,
        )
        .unwrap();
        assert_eq!(d.kind(), "payment");
        assert_eq!(
            d.get("amount").unwrap().as_decimal(),
            Some(Decimal(500_000))
        );
        assert_eq!(d.get("n"), Some(&FieldValue::Long(3)));
    }

    #[test]
    fn details_field_count_is_capped() {
        let mut obj = serde_json::Map::new();
        obj.insert("type".into(), "t".into());
        for i in 0..40 {
            obj.insert(format!("f{i}"), "v".into());
        }
        let e =
            TransactionDetails::from_json_value(&serde_json::Value::Object(obj), 32).unwrap_err();
        assert!(matches!(
            e,
            RequestError::TooManyFields { count: 40, max: 32 }
        ));
    }
}
