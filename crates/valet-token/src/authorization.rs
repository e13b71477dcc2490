//! RFC 9396 authorization details as a token grants them, and the narrowings a block
//! adds to them: a limit on one field, a restriction of the actions.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::details::Decimal;
use crate::error::TokenError;
use crate::limit::Limit;

/// One RFC 9396 authorization details object granted by a token, plus Valet's `limits`
/// member: `{"type":"payment","actions":["pay_invoice"],"limits":{"amount":{"max":"1000.00"},
/// "currency":{"one_of":["USD"]}}}`. Unknown members are refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationDetail {
    /// The RFC 9396 `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Operations allowed with this detail (matched against the request's action).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub actions: BTreeSet<String>,
    /// Resource server URIs where it may be used (matched against the request's audience).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub locations: BTreeSet<String>,
    /// Kinds of data (informational; passed to policies).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub datatypes: BTreeSet<String>,
    /// A specific resource; when set, the transaction's `identifier` must equal it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Privileges (informational; passed to policies).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub privileges: BTreeSet<String>,
    /// Limits on transaction fields, by field name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Limit>,
}

impl AuthorizationDetail {
    /// A detail of this type with nothing else set.
    pub fn new(kind: impl Into<String>) -> Self {
        AuthorizationDetail {
            kind: kind.into(),
            ..Default::default()
        }
    }

    /// Adds allowed actions.
    #[must_use]
    pub fn actions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, actions: I) -> Self {
        self.actions.extend(actions.into_iter().map(Into::into));
        self
    }

    /// Adds allowed locations.
    #[must_use]
    pub fn locations<I: IntoIterator<Item = S>, S: Into<String>>(mut self, locations: I) -> Self {
        self.locations.extend(locations.into_iter().map(Into::into));
        self
    }

    /// Sets the identifier.
    #[must_use]
    pub fn identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// Sets the maximum of a decimal field. Without a [`min`](Self::min) below zero, the
    /// field must also be at least zero.
    #[must_use]
    pub fn max(mut self, field: impl Into<String>, max: Decimal) -> Self {
        match self.limits.entry(field.into()) {
            Entry::Occupied(mut e) => match e.get_mut() {
                Limit::Range { max: m, .. } => *m = Some(max),
                other => *other = Limit::at_most(max),
            },
            Entry::Vacant(e) => {
                e.insert(Limit::at_most(max));
            }
        }
        self
    }

    /// Sets the minimum of a decimal field; below zero, it grants negative values (refunds,
    /// corrections) that a `max` alone refuses.
    #[must_use]
    pub fn min(mut self, field: impl Into<String>, min: Decimal) -> Self {
        match self.limits.entry(field.into()) {
            Entry::Occupied(mut e) => match e.get_mut() {
                Limit::Range { min: m, .. } => *m = Some(min),
                other => *other = Limit::at_least(min),
            },
            Entry::Vacant(e) => {
                e.insert(Limit::at_least(min));
            }
        }
        self
    }

    /// Adds an allowed set for a string field.
    #[must_use]
    pub fn one_of<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        field: impl Into<String>,
        values: I,
    ) -> Self {
        self.limits.insert(
            field.into(),
            Limit::OneOf(values.into_iter().map(Into::into).collect()),
        );
        self
    }

    /// Reads an RFC 9396 JSON array of details.
    pub fn list_from_json(text: &str) -> Result<Vec<AuthorizationDetail>, TokenError> {
        serde_json::from_str(text).map_err(|e| {
            TokenError::Invalid(format!(
                "authorization details are not a valid RFC 9396 JSON array: {e}"
            ))
        })
    }

    pub(crate) fn validate(&self) -> Result<(), TokenError> {
        if self.kind.is_empty() {
            return Err(TokenError::Invalid(
                "an authorization detail needs a non-empty `type`".into(),
            ));
        }
        for reserved in ["type", "actions", "locations", "identifier"] {
            if self.limits.contains_key(reserved) {
                return Err(TokenError::Invalid(format!(
                    "`{reserved}` cannot carry a limit: use the detail's own `{reserved}` member"
                )));
            }
        }
        for (field, limit) in &self.limits {
            limit.validate(&format!("{}.{field}", self.kind))?;
        }
        Ok(())
    }
}

/// A limit that one attenuation block puts on a field of one detail type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldLimit {
    /// The detail type it applies to.
    #[serde(rename = "type")]
    pub kind: String,
    /// The field.
    pub field: String,
    /// The limit.
    pub limit: Limit,
}

/// Actions that one attenuation block allows for one detail type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionLimit {
    /// The detail type it applies to.
    #[serde(rename = "type")]
    pub kind: String,
    /// The allowed actions.
    pub actions: BTreeSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_json_refuses_unknown_members() {
        let ok = AuthorizationDetail::list_from_json(
            r#"[{"type":"payment","actions":["pay_invoice"],"limits":{"amount":{"max":"1000.00"},"currency":{"one_of":["USD"]}}}]"#,
        )
        .unwrap();
        assert_eq!(
            ok[0].limits.get("amount"),
            Some(&Limit::at_most("1000.00".parse().unwrap()))
        );
        assert!(AuthorizationDetail::list_from_json(r#"[{"type":"p","bogus":1}]"#).is_err());
        assert!(AuthorizationDetail::list_from_json(
            r#"[{"type":"p","limits":{"amount":{"max":1000.5}}}]"#
        )
        .is_err());
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn a_detail_takes_both_bounds_of_a_field_and_refuses_an_empty_range() {
        let detail = AuthorizationDetail::new("payment")
            .max("amount", d("60.00"))
            .min("amount", d("70.00"));
        assert!(detail.validate().is_err());
        let detail = AuthorizationDetail::new("payment")
            .min("amount", d("-5.00"))
            .max("amount", d("60.00"));
        assert_eq!(
            detail.limits.get("amount"),
            Some(&Limit::between(d("-5.00"), d("60.00")))
        );
    }
}
