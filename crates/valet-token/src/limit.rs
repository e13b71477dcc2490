//! A limit on one transaction field: a decimal range or a set of allowed values, how
//! limits narrow one another, and their JSON form.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::details::{Decimal, FieldValue};
use crate::error::TokenError;

/// A limit on one transaction field.
///
/// In JSON (the `limits` member of a detail, a block's `limits`): `{"max": "50.00"}`,
/// `{"min": "10.00"}`, `{"min": "-100.00", "max": "50.00"}` or `{"one_of": ["USD"]}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The field, read as an exact decimal, must be at least `min` and at most `max`.
    ///
    /// An unset `min` is zero: a limit on amounts refuses negative ones unless it grants a
    /// `min` below zero. An unset `max` leaves the field unbounded above; in an attenuation
    /// block, the parent's `max` still applies.
    Range {
        /// The lowest value allowed (zero when unset).
        min: Option<Decimal>,
        /// The highest value allowed (none when unset).
        max: Option<Decimal>,
    },
    /// The field must be one of these strings.
    OneOf(BTreeSet<String>),
}

impl Limit {
    /// At most `max`, and not negative.
    pub fn at_most(max: Decimal) -> Self {
        Limit::Range {
            min: None,
            max: Some(max),
        }
    }

    /// At least `min`, with no upper bound of its own.
    pub fn at_least(min: Decimal) -> Self {
        Limit::Range {
            min: Some(min),
            max: None,
        }
    }

    /// From `min` to `max`, both included.
    pub fn between(min: Decimal, max: Decimal) -> Self {
        Limit::Range {
            min: Some(min),
            max: Some(max),
        }
    }

    /// The lowest decimal a range allows: its `min`, else zero.
    pub fn lowest(&self) -> Option<Decimal> {
        match self {
            Limit::Range { min, .. } => Some(min.unwrap_or(Decimal::ZERO)),
            Limit::OneOf(_) => None,
        }
    }

    /// Whether `value` meets the limit: a decimal (text or integer) within the range, or one
    /// of the strings.
    pub fn admits(&self, value: &FieldValue) -> bool {
        match self {
            Limit::Range { max, .. } => value.as_decimal().is_some_and(|v| {
                self.lowest().is_some_and(|low| v >= low) && max.is_none_or(|m| v <= m)
            }),
            Limit::OneOf(set) => value.as_str().is_some_and(|s| set.contains(s)),
        }
    }

    /// The lower bound `value` breaks: `Some(lowest)` when it is a decimal under this
    /// range's lowest value (for messages).
    pub fn under_min(&self, value: Option<&FieldValue>) -> Option<Decimal> {
        let low = self.lowest()?;
        value
            .and_then(FieldValue::as_decimal)
            .filter(|v| *v < low)
            .map(|_| low)
    }

    /// Whether `self` is at least as strict as `other` (never allows what `other` refuses).
    pub fn within(&self, other: &Limit) -> bool {
        match (self, other) {
            (Limit::Range { max: a, .. }, Limit::Range { max: b, .. }) => {
                self.lowest() >= other.lowest()
                    && match (a, b) {
                        (_, None) => true,
                        (Some(a), Some(b)) => a <= b,
                        (None, Some(_)) => false,
                    }
            }
            (Limit::OneOf(a), Limit::OneOf(b)) => a.is_subset(b),
            _ => false,
        }
    }

    /// Whether a block adding `self` under a parent limited by `parent` narrows it: every
    /// bound `self` sets is within the parent's. A `max` left unset is the parent's; a `min`
    /// left unset is zero or the parent's, whichever is higher (the block refuses negative
    /// values, the parent still refuses what it refused). So a block can never lower the
    /// parent's `min` or raise its `max`.
    pub fn narrows(&self, parent: &Limit) -> bool {
        match (self, parent) {
            (
                Limit::Range { min, max },
                Limit::Range {
                    max: parent_max, ..
                },
            ) => {
                let floor = parent.lowest().map(|p| p.max(Decimal::ZERO));
                Limit::Range {
                    min: min.or(floor),
                    max: max.or(*parent_max),
                }
                .within(parent)
            }
            _ => self.within(parent),
        }
    }

    /// The stricter of two limits of the same kind (`None` when kinds differ).
    pub fn meet(&self, other: &Limit) -> Option<Limit> {
        match (self, other) {
            (Limit::Range { max: a, .. }, Limit::Range { max: b, .. }) => {
                let low = self.lowest().max(other.lowest()).unwrap_or(Decimal::ZERO);
                let max = match (a, b) {
                    (Some(a), Some(b)) => Some(*a.min(b)),
                    (a, b) => a.or(*b),
                };
                // Zero is the default lower bound of a range with a `max`: leave it unset.
                let min = (low != Decimal::ZERO || max.is_none()).then_some(low);
                Some(Limit::Range { min, max })
            }
            (Limit::OneOf(a), Limit::OneOf(b)) => {
                Some(Limit::OneOf(a.intersection(b).cloned().collect()))
            }
            _ => None,
        }
    }

    /// Refuses a range whose `min` is above its `max` (it would refuse every value).
    pub(crate) fn validate(&self, what: &str) -> Result<(), TokenError> {
        if let Limit::Range { max: Some(max), .. } = self {
            if let Some(low) = self.lowest().filter(|low| low > max) {
                return Err(TokenError::Invalid(format!(
                    "the limit on `{what}` has a minimum of {low} above its maximum of {max}: \
                     it would refuse every value; give a `min` at most the `max` (a `max` \
                     alone refuses values under 0.00)"
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Range {
                min: None,
                max: Some(max),
            } => write!(f, "at most {max}"),
            Limit::Range { min, max: None } => {
                write!(f, "at least {}", min.unwrap_or(Decimal::ZERO))
            }
            Limit::Range {
                min: Some(min),
                max: Some(max),
            } => write!(f, "at least {min} and at most {max}"),
            Limit::OneOf(set) => {
                f.write_str("one of ")?;
                let items: Vec<_> = set.iter().map(|s| format!("`{s}`")).collect();
                f.write_str(&items.join(", "))
            }
        }
    }
}

/// The JSON shape of a [`Limit`]: `min` and `max`, or `one_of`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    one_of: Option<BTreeSet<String>>,
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let json = match self {
            Limit::Range { min, max } => LimitJson {
                min: *min,
                max: *max,
                one_of: None,
            },
            Limit::OneOf(set) => LimitJson {
                min: None,
                max: None,
                one_of: Some(set.clone()),
            },
        };
        json.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = LimitJson::deserialize(d)?;
        match json {
            LimitJson {
                min: None,
                max: None,
                one_of: Some(set),
            } => Ok(Limit::OneOf(set)),
            LimitJson {
                min,
                max,
                one_of: None,
            } if min.is_some() || max.is_some() => Ok(Limit::Range { min, max }),
            _ => Err(serde::de::Error::custom(
                "a limit is `{\"max\": \"50.00\"}`, `{\"min\": \"10.00\"}`, both, or `{\"one_of\": [...]}`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn limits_meet_and_within() {
        let m50 = Limit::at_most(d("50.00"));
        let m100 = Limit::at_most(d("100.00"));
        assert!(m50.within(&m100));
        assert!(!m100.within(&m50));
        assert_eq!(m100.meet(&m50), Some(m50.clone()));
        let ab = Limit::OneOf(["a".to_string(), "b".to_string()].into());
        let a = Limit::OneOf(["a".to_string()].into());
        assert!(a.within(&ab));
        assert!(!ab.within(&a));
        assert!(!a.within(&m50));
    }

    #[test]
    fn a_max_alone_has_a_floor_of_zero() {
        let m50 = Limit::at_most(d("50.00"));
        assert_eq!(m50.lowest(), Some(Decimal::ZERO));
        assert!(m50.admits(&FieldValue::Str("0.00".into())));
        assert!(m50.admits(&FieldValue::Long(50)));
        assert!(!m50.admits(&FieldValue::Str("-0.0001".into())));
        assert!(!m50.admits(&FieldValue::Long(-1)));
        assert!(!m50.admits(&FieldValue::Str("50.01".into())));
        assert!(!m50.admits(&FieldValue::Bool(true)));
        let refunds = Limit::between(d("-100.00"), d("50.00"));
        assert!(refunds.admits(&FieldValue::Str("-100.00".into())));
        assert!(!refunds.admits(&FieldValue::Str("-100.01".into())));
        // A negative minimum is wider than a max alone; a positive one narrower.
        assert!(!refunds.within(&m50));
        assert!(m50.within(&refunds));
        assert!(Limit::between(d("10.00"), d("50.00")).within(&m50));
        assert_eq!(
            m50.under_min(Some(&FieldValue::Str("-1.00".into()))),
            Some(Decimal::ZERO)
        );
        assert_eq!(m50.under_min(Some(&FieldValue::Str("60.00".into()))), None);
    }

    #[test]
    fn no_limit_admits_a_record_or_an_array() {
        // Values that would pass if they were read from inside the record or the array.
        let inside = [
            FieldValue::Str("10.00".into()),
            FieldValue::Str("USD".into()),
            FieldValue::Long(10),
        ];
        let values = [
            FieldValue::Record([("amount".to_owned(), FieldValue::Str("10.00".into()))].into()),
            FieldValue::Record(
                [(
                    "__extn".to_owned(),
                    FieldValue::Record(
                        [
                            ("fn".to_owned(), FieldValue::Str("decimal".into())),
                            ("arg".to_owned(), FieldValue::Str("10.00".into())),
                        ]
                        .into(),
                    ),
                )]
                .into(),
            ),
            FieldValue::Record(BTreeMap::new()),
            FieldValue::Array(inside.to_vec()),
            FieldValue::Array(vec![FieldValue::Long(10)]),
        ];
        let limits = [
            Limit::at_most(d("50.00")),
            Limit::at_least(d("-50.00")),
            Limit::between(d("-50.00"), d("50.00")),
            Limit::OneOf(["USD".to_owned(), "10.00".to_owned()].into()),
        ];
        for limit in &limits {
            assert!(inside.iter().any(|v| limit.admits(v)), "{limit}");
            for value in &values {
                assert!(!limit.admits(value), "{limit} admits {value:?}");
                assert_eq!(limit.under_min(Some(value)), None, "{limit}: {value:?}");
            }
        }
    }

    #[test]
    fn a_block_narrows_only_the_bounds_it_sets() {
        let parent = Limit::between(d("-100.00"), d("100.00"));
        // A min alone keeps the parent's max; a max alone adds the zero floor.
        assert!(Limit::at_least(d("10.00")).narrows(&parent));
        assert!(Limit::at_least(d("-50.00")).narrows(&parent));
        assert!(Limit::at_most(d("30.00")).narrows(&parent));
        assert!(!Limit::at_least(d("-100.01")).narrows(&parent));
        assert!(!Limit::at_most(d("100.01")).narrows(&parent));
        // Under a max alone (floor zero), a negative min widens.
        let m50 = Limit::at_most(d("50.00"));
        assert!(!Limit::at_least(d("-1.00")).narrows(&m50));
        assert!(Limit::at_least(d("0.00")).narrows(&m50));
        // Under a positive min, a max alone does not lower it.
        assert!(Limit::at_most(d("30.00")).narrows(&Limit::between(d("10.00"), d("50.00"))));
        assert!(!Limit::at_least(d("5.00")).narrows(&Limit::between(d("10.00"), d("50.00"))));
        assert!(!Limit::at_most(d("30.00")).narrows(&Limit::OneOf(BTreeSet::new())));
    }

    #[test]
    fn ranges_meet() {
        let parent = Limit::between(d("-100.00"), d("100.00"));
        assert_eq!(
            parent.meet(&Limit::at_most(d("30.00"))),
            Some(Limit::at_most(d("30.00")))
        );
        assert_eq!(
            parent.meet(&Limit::at_least(d("-50.00"))),
            Some(Limit::between(d("-50.00"), d("100.00")))
        );
        assert_eq!(
            Limit::at_least(d("10.00")).meet(&Limit::at_least(d("20.00"))),
            Some(Limit::at_least(d("20.00")))
        );
        assert_eq!(
            Limit::at_most(d("50.00")).meet(&Limit::at_least(d("-5.00"))),
            Some(Limit::at_most(d("50.00")))
        );
    }

    #[test]
    fn limits_read_and_write_min_and_max() {
        for (json, limit) in [
            (r#"{"max":"50.00"}"#, Limit::at_most(d("50.00"))),
            (r#"{"min":"10.00"}"#, Limit::at_least(d("10.00"))),
            (
                r#"{"min":"-5.00","max":"50.00"}"#,
                Limit::between(d("-5.00"), d("50.00")),
            ),
            (
                r#"{"one_of":["USD"]}"#,
                Limit::OneOf(["USD".to_owned()].into()),
            ),
        ] {
            assert_eq!(serde_json::from_str::<Limit>(json).unwrap(), limit);
            assert_eq!(serde_json::to_string(&limit).unwrap(), json);
        }
        for bad in [
            "{}",
            r#"{"max":"1","one_of":["a"]}"#,
            r#"{"max":1}"#,
            r#"{"less":"1"}"#,
        ] {
            assert!(serde_json::from_str::<Limit>(bad).is_err(), "{bad}");
        }
    }
}
