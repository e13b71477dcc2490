//! Transaction details (one RFC 9396 object presented with a request) and the exact
//! decimal type used for money.
//!
//! Every member of the details object but `type` is a field. A field holds any JSON value
//! that Cedar can read as a member of a request's context, read as follows:
//!
//! | JSON value | [`FieldValue`] |
//! |---|---|
//! | a string: `"USD"`, `"50.00"` | [`FieldValue::Str`] |
//! | an integer: `3`, `-5` | [`FieldValue::Long`] |
//! | `true` or `false` | [`FieldValue::Bool`] |
//! | an array of strings, or an empty array: `["ops", "billing"]`, `[]` | [`FieldValue::List`] |
//! | an array holding at least one item that is not a string: `[1, 2]`, `["a", {"b": 1}]` | [`FieldValue::Array`] |
//! | an object: `{"from": "CDG", "to": "JFK"}` | [`FieldValue::Record`] |
//! | Cedar's escapes `{"__entity": {"type": "User", "id": "alice"}}` and `{"__extn": {"fn": "ip", "arg": "10.0.0.1"}}` | [`FieldValue::Record`], as any object (the policy layer reads them) |
//! | a number with a fraction or an exponent: `50.5`, `1e3` | refused: send amounts as decimal text, `"50.50"` |
//! | `null` | refused: leave the member out |
//!
//! The items of an array and the members of an object are read by the same rules. Two
//! bounds keep hostile input cheap: a field nests at most [`MAX_DETAIL_DEPTH`] arrays and
//! objects one inside another, and one details object holds at most
//! [`DEFAULT_MAX_DETAIL_VALUES`] values, counting every item and member at any depth.
//!
//! The token's checks see strings, booleans, decimals and lists of strings only (the facts
//! of the crate docs): an array that is not a list, or an object, writes no fact, so any
//! limit a token sets on such a field refuses the request.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::RequestError;

/// The most fields one transaction may carry (besides `type`).
pub const DEFAULT_MAX_DETAIL_FIELDS: usize = 32;

/// The most arrays and objects a field's value may nest one inside another:
/// `{"trip": {"legs": [{"from": "CDG"}]}}` nests three in field `trip`. A value nested
/// deeper is refused ([`RequestError::FieldTooDeep`]).
pub const MAX_DETAIL_DEPTH: usize = 8;

/// The most values one transaction may carry by default: each field's value counts one, and
/// so does every item of an array and every member of an object inside it, at any depth
/// (`{"type": "t", "a": "x", "b": ["1", "2"]}` holds four). More are refused
/// ([`RequestError::TooManyValues`]); a verifier's
/// [`Limits::max_detail_values`](crate::Limits::max_detail_values) sets its own bound.
pub const DEFAULT_MAX_DETAIL_VALUES: usize = 1024;

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

/// The value of one transaction field, or of a value nested in one, as it came in the
/// request JSON (the module docs give the JSON value each variant comes from).
///
/// Numbers with a fraction or an exponent are refused when the details are parsed: money
/// travels as decimal text (`"50.00"`), which the token layer and the policy layer both read
/// exactly. `null` is refused too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A JSON string. Also the carrier of decimal amounts.
    Str(String),
    /// A JSON integer.
    Long(i64),
    /// A JSON boolean.
    Bool(bool),
    /// A JSON array of strings, or an empty array (RFC 9396 `actions`, `locations`,
    /// `datatypes`, `privileges`).
    List(Vec<String>),
    /// A JSON array holding at least one item that is not a string (an array of strings is a
    /// [`List`](FieldValue::List)). The token's checks see no fact of it.
    Array(Vec<FieldValue>),
    /// A JSON object, members sorted by name. Cedar's `{"__entity": ...}` and
    /// `{"__extn": ...}` escapes are records here too. The token's checks see no fact of it.
    Record(BTreeMap<String, FieldValue>),
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
            FieldValue::Array(_) => "array",
            FieldValue::Record(_) => "object",
        }
    }

    /// The value reading its JSON gives: every array of strings only, or of nothing, a
    /// [`List`](FieldValue::List).
    fn into_read(self) -> Self {
        match self {
            FieldValue::Array(items) if items.iter().all(|i| matches!(i, FieldValue::Str(_))) => {
                FieldValue::List(
                    items
                        .into_iter()
                        .filter_map(|i| match i {
                            FieldValue::Str(s) => Some(s),
                            _ => None,
                        })
                        .collect(),
                )
            }
            FieldValue::Array(items) => {
                FieldValue::Array(items.into_iter().map(FieldValue::into_read).collect())
            }
            FieldValue::Record(members) => FieldValue::Record(
                members
                    .into_iter()
                    .map(|(name, value)| (name, value.into_read()))
                    .collect(),
            ),
            other => other,
        }
    }

    /// Writes the value as `serde_json` writes it: compact, members in the record's order.
    fn write_json(&self, out: &mut String) {
        match self {
            FieldValue::Str(s) => write_json_string(out, s),
            FieldValue::Long(n) => out.push_str(&n.to_string()),
            FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            FieldValue::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, item);
                }
                out.push(']');
            }
            FieldValue::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            FieldValue::Record(members) => {
                out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, name);
                    out.push(':');
                    value.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

/// Writes `s` as a JSON string, escaped by `serde_json`'s own `Display` of a JSON string
/// (which writes to memory and cannot fail).
fn write_json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
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

    /// Adds or replaces a field. An [`Array`](FieldValue::Array) of strings only (or of
    /// nothing), at any depth, is stored as the [`List`](FieldValue::List) its JSON reads
    /// as, so that the details judged are the same however they were built.
    #[must_use]
    pub fn field(mut self, name: impl Into<String>, value: FieldValue) -> Self {
        self.fields.insert(name.into(), value.into_read());
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
    /// first, then the fields sorted by name, the members of every record sorted by name,
    /// as `serde_json` writes this type. Written from the parts rather than through a
    /// `Serializer`, so that it cannot fail: each string is escaped by `serde_json`'s own
    /// `Display` of a JSON string, which writes to memory, and every other value is a
    /// number, a literal or brackets around such values.
    pub fn canonical_json(&self) -> String {
        let mut out = String::with_capacity(32 + 32 * self.fields.len());
        out.push_str("{\"type\":");
        write_json_string(&mut out, &self.kind);
        for (name, value) in &self.fields {
            out.push(',');
            write_json_string(&mut out, name);
            out.push(':');
            value.write_json(&mut out);
        }
        out.push('}');
        out
    }

    /// One field.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.fields.get(name)
    }

    /// Reads the details from a JSON value, refusing what cannot be carried exactly, with
    /// at most `max_fields` fields and [`DEFAULT_MAX_DETAIL_VALUES`] values.
    pub fn from_json_value(
        value: &serde_json::Value,
        max_fields: usize,
    ) -> Result<Self, RequestError> {
        Self::from_json_value_within(value, max_fields, DEFAULT_MAX_DETAIL_VALUES)
    }

    /// Reads the details from a JSON value, refusing what cannot be carried exactly, with
    /// at most `max_fields` fields and `max_values` values (every field's value, and every
    /// item and member nested in it), each field nesting at most [`MAX_DETAIL_DEPTH`]
    /// arrays and objects.
    pub fn from_json_value_within(
        value: &serde_json::Value,
        max_fields: usize,
        max_values: usize,
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
        let mut reader = Reader {
            values: 0,
            max_values,
        };
        let mut fields = BTreeMap::new();
        for (name, v) in obj {
            if name == "type" {
                continue;
            }
            let value = reader.read(v, Path::Field(name), 1)?;
            fields.insert(name.clone(), value);
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

/// Where a value sits in a transaction, for messages: `trip.legs[2].from`. Written out only
/// when a value is refused.
#[derive(Clone, Copy)]
enum Path<'a> {
    /// The value of a field.
    Field(&'a str),
    /// A member of the object at a path.
    Member(&'a Path<'a>, &'a str),
    /// An item of the array at a path.
    Item(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Field(name) => f.write_str(name),
            Path::Member(parent, name) => write!(f, "{parent}.{name}"),
            Path::Item(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// Reads field values, counting them against the transaction's bound.
struct Reader {
    values: usize,
    max_values: usize,
}

impl Reader {
    /// Counts the value at `path`, refusing it when it is one too many.
    fn count(&mut self, path: &Path<'_>) -> Result<(), RequestError> {
        self.values = self.values.saturating_add(1);
        if self.values > self.max_values {
            return Err(RequestError::TooManyValues {
                path: path.to_string(),
                max: self.max_values,
            });
        }
        Ok(())
    }

    /// Reads the value at `path`, nested in `depth - 1` arrays and objects of its field.
    fn read(
        &mut self,
        value: &serde_json::Value,
        path: Path<'_>,
        depth: usize,
    ) -> Result<FieldValue, RequestError> {
        use serde_json::Value;
        self.count(&path)?;
        let refuse = |problem: String| RequestError::Field {
            field: path.to_string(),
            problem,
        };
        let container = matches!(value, Value::Array(_) | Value::Object(_));
        if container && depth > MAX_DETAIL_DEPTH {
            return Err(RequestError::FieldTooDeep {
                path: path.to_string(),
                max: MAX_DETAIL_DEPTH,
            });
        }
        Ok(match value {
            Value::String(s) => FieldValue::Str(s.clone()),
            Value::Bool(b) => FieldValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => FieldValue::Long(i),
                None if n.is_u64() => {
                    return Err(refuse(format!(
                        "is the integer {n}, which is too large for 64 bits: send it as text, like \"{n}\""
                    )))
                }
                None => {
                    return Err(refuse(format!(
                        "is the number {n}, which is not an integer: send amounts as decimal text, like \"{n}\""
                    )))
                }
            },
            Value::Null => {
                return Err(refuse(
                    "is null, which a transaction cannot carry: leave it out, or send a value"
                        .into(),
                ))
            }
            Value::Array(items) if items.iter().all(Value::is_string) => {
                let mut list = Vec::with_capacity(items.len());
                for (i, s) in items.iter().filter_map(Value::as_str).enumerate() {
                    self.count(&Path::Item(&path, i))?;
                    list.push(s.to_owned());
                }
                FieldValue::List(list)
            }
            Value::Array(items) => {
                let mut array = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    array.push(self.read(item, Path::Item(&path, i), depth.saturating_add(1))?);
                }
                FieldValue::Array(array)
            }
            Value::Object(members) => {
                let mut record = BTreeMap::new();
                for (name, member) in members {
                    let value = self.read(member, Path::Member(&path, name), depth.saturating_add(1))?;
                    record.insert(name.clone(), value);
                }
                FieldValue::Record(record)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any value, records and arrays nested up to four deep.
    fn field_value() -> impl proptest::strategy::Strategy<Value = FieldValue> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            any::<String>().prop_map(FieldValue::Str),
            any::<i64>().prop_map(FieldValue::Long),
            any::<bool>().prop_map(FieldValue::Bool),
            proptest::collection::vec(any::<String>(), 0..4).prop_map(FieldValue::List),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(FieldValue::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(FieldValue::Record),
            ]
        })
    }

    fn details_of(kind: String, fields: BTreeMap<String, FieldValue>) -> TransactionDetails {
        fields
            .into_iter()
            .fold(TransactionDetails::new(kind), |d, (name, value)| {
                d.field(name, value)
            })
    }

    proptest::proptest! {
        /// The canonical JSON is exactly what `serde_json` writes, escapes included, nested
        /// records and arrays too, so digests signed before it was written by hand still
        /// match.
        #[test]
        fn canonical_json_is_serde_jsons(
            kind in proptest::prelude::any::<String>(),
            fields in proptest::collection::btree_map(
                proptest::prelude::any::<String>(), field_value(), 0..6),
        ) {
            let details = details_of(kind, fields);
            proptest::prop_assert_eq!(
                details.canonical_json(),
                serde_json::to_string(&details).unwrap()
            );
        }

        /// Reading the canonical JSON back gives the same details: an array of strings
        /// built in code is the list its JSON reads as.
        #[test]
        fn canonical_json_reads_back(
            kind in "[a-z]{1,8}",
            fields in proptest::collection::btree_map(
                "f[a-z]{0,7}", field_value(), 0..6),
        ) {
            let details = details_of(kind, fields);
            let read = TransactionDetails::from_json(&details.canonical_json()).unwrap();
            proptest::prop_assert_eq!(&read, &details);
        }
    }

    #[test]
    fn arrays_of_strings_built_in_code_are_lists() {
        let strings = || FieldValue::Array(vec![FieldValue::Str("a".into())]);
        let d = TransactionDetails::new("t")
            .field("empty", FieldValue::Array(vec![]))
            .field("s", strings())
            .field(
                "mixed",
                FieldValue::Array(vec![FieldValue::Long(1), strings()]),
            )
            .field(
                "r",
                FieldValue::Record([("s".to_owned(), strings())].into()),
            );
        let list = FieldValue::List(vec!["a".into()]);
        assert_eq!(d.get("empty"), Some(&FieldValue::List(vec![])));
        assert_eq!(d.get("s"), Some(&list));
        assert_eq!(
            d.get("mixed"),
            Some(&FieldValue::Array(vec![FieldValue::Long(1), list.clone()]))
        );
        assert_eq!(
            d.get("r"),
            Some(&FieldValue::Record([("s".to_owned(), list)].into()))
        );
        assert_eq!(
            TransactionDetails::from_json(&d.canonical_json()).unwrap(),
            d
        );
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
        let e = TransactionDetails::from_json(r#"{"type":"p","x":null}"#).unwrap_err();
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

    /// The table of the module docs: each JSON value and the variant it is read as.
    #[test]
    fn each_json_value_is_read_as_its_variant() {
        let d = TransactionDetails::from_json(
            r#"{"type":"trip","s":"50.00","n":-5,"b":true,"l":["a","b"],"e":[],
               "a":[1,"x",[true]],"r":{"from":"CDG","legs":[{"to":"JFK"}]},
               "who":{"__entity":{"type":"User","id":"alice"}},
               "ip":{"__extn":{"fn":"ip","arg":"10.0.0.1"}}}"#,
        )
        .unwrap();
        let s = |s: &str| FieldValue::Str(s.to_owned());
        let record = |members: &[(&str, FieldValue)]| {
            FieldValue::Record(
                members
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            )
        };
        assert_eq!(d.get("s"), Some(&s("50.00")));
        assert_eq!(d.get("n"), Some(&FieldValue::Long(-5)));
        assert_eq!(d.get("b"), Some(&FieldValue::Bool(true)));
        assert_eq!(
            d.get("l"),
            Some(&FieldValue::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(d.get("e"), Some(&FieldValue::List(vec![])));
        assert_eq!(
            d.get("a"),
            Some(&FieldValue::Array(vec![
                FieldValue::Long(1),
                s("x"),
                FieldValue::Array(vec![FieldValue::Bool(true)]),
            ]))
        );
        assert_eq!(
            d.get("r"),
            Some(&record(&[
                ("from", s("CDG")),
                ("legs", FieldValue::Array(vec![record(&[("to", s("JFK"))])])),
            ]))
        );
        assert_eq!(
            d.get("who"),
            Some(&record(&[(
                "__entity",
                record(&[("id", s("alice")), ("type", s("User"))])
            )]))
        );
        assert_eq!(d.get("ip").map(FieldValue::kind), Some("object"));
        assert_eq!(d.get("a").map(FieldValue::kind), Some("array"));
        // Neither is a string or a decimal.
        for name in ["a", "r", "who"] {
            let v = d.get(name).unwrap();
            assert_eq!((v.as_str(), v.as_decimal()), (None, None), "{name}");
        }
        assert_eq!(
            d.canonical_json(),
            r#"{"type":"trip","a":[1,"x",[true]],"b":true,"e":[],"ip":{"__extn":{"arg":"10.0.0.1","fn":"ip"}},"l":["a","b"],"n":-5,"r":{"from":"CDG","legs":[{"to":"JFK"}]},"s":"50.00","who":{"__entity":{"id":"alice","type":"User"}}}"#
        );
    }

    #[test]
    fn a_bad_nested_value_is_named_by_its_path() {
        for (json, path, what) in [
            (
                r#"{"type":"t","trip":{"legs":[{},{},{"from":1.5}]}}"#,
                "`trip.legs[2].from`",
                "send amounts as decimal text, like \"1.5\"",
            ),
            (
                r#"{"type":"t","trip":{"legs":[null]}}"#,
                "`trip.legs[0]`",
                "is null",
            ),
            (
                r#"{"type":"t","a":[1,[2,1e3]]}"#,
                "`a[1][1]`",
                "not an integer",
            ),
            (
                r#"{"type":"t","r":{"n":18446744073709551615}}"#,
                "`r.n`",
                "too large for 64 bits",
            ),
        ] {
            let e = TransactionDetails::from_json(json).unwrap_err();
            assert!(matches!(e, RequestError::Field { .. }), "{json}: {e:?}");
            let m = e.to_string();
            assert!(m.contains(path) && m.contains(what), "{json}: {m}");
        }
    }

    /// A field whose value nests `depth` arrays and objects, alternating, around `"x"`.
    fn nested(depth: usize) -> serde_json::Value {
        (0..depth).fold(serde_json::Value::from("x"), |inner, i| {
            if i % 2 == 0 {
                serde_json::json!([1, inner])
            } else {
                serde_json::json!({ "k": inner })
            }
        })
    }

    #[test]
    fn nesting_is_bounded() {
        let details = |value| serde_json::json!({"type": "t", "f": value});
        let d =
            TransactionDetails::from_json_value(&details(nested(MAX_DETAIL_DEPTH)), 32).unwrap();
        assert_eq!(d.get("f").map(FieldValue::kind), Some("object"));
        let e = TransactionDetails::from_json_value(&details(nested(MAX_DETAIL_DEPTH + 1)), 32)
            .unwrap_err();
        assert_eq!(
            e,
            RequestError::FieldTooDeep {
                path: "f[1].k[1].k[1].k[1].k".into(),
                max: MAX_DETAIL_DEPTH,
            }
        );
        assert!(e.to_string().contains("send a flatter value"), "{e}");
        // Far deeper input stops at the first value past the bound.
        let e = TransactionDetails::from_json_value(&details(nested(100)), 32).unwrap_err();
        assert!(matches!(e, RequestError::FieldTooDeep { .. }), "{e}");
    }

    #[test]
    fn values_are_counted_at_every_depth() {
        let strings =
            |n: usize| serde_json::Value::from((0..n).map(|i| i.to_string()).collect::<Vec<_>>());
        // The field's value counts one, each of its items one more.
        let list = serde_json::json!({"type": "t", "a": strings(DEFAULT_MAX_DETAIL_VALUES - 1)});
        assert!(TransactionDetails::from_json_value(&list, 32).is_ok());
        let list = serde_json::json!({"type": "t", "a": strings(DEFAULT_MAX_DETAIL_VALUES)});
        let e = TransactionDetails::from_json_value(&list, 32).unwrap_err();
        assert_eq!(
            e,
            RequestError::TooManyValues {
                path: format!("a[{}]", DEFAULT_MAX_DETAIL_VALUES - 1),
                max: DEFAULT_MAX_DETAIL_VALUES,
            }
        );
        assert!(e.to_string().contains("send fewer values"), "{e}");
        // Records and arrays count, and so do the values inside them.
        let nested = serde_json::json!({"type": "t", "r": {"a": [1, {"b": "x"}]}, "s": "y"});
        assert!(TransactionDetails::from_json_value_within(&nested, 32, 6).is_ok());
        let e = TransactionDetails::from_json_value_within(&nested, 32, 5).unwrap_err();
        assert!(
            matches!(&e, RequestError::TooManyValues { path, max: 5 } if path == "s"),
            "{e:?}"
        );
        let e = TransactionDetails::from_json_value_within(&nested, 32, 4).unwrap_err();
        assert!(
            matches!(&e, RequestError::TooManyValues { path, max: 4 } if path == "r.a[1].b"),
            "{e:?}"
        );
    }
}
