//! The shapes of the checks a valet block carries (token format 2): what each enforces.

use std::collections::BTreeSet;

use crate::agent_keys::VerifyingKey;
use crate::audience::Audience;
use crate::authorization::{ActionLimit, AuthorizationDetail, FieldLimit};
use crate::scope::Scope;

/// What one check of a block enforces: the shapes of token format 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CheckKind {
    /// `check if time($t), $t >= {not_before}, $t <= {expiry}`
    Validity { not_before: u64, expiry: u64 },
    /// `check if time($t), $t <= {expiry}`
    Expiry(u64),
    /// `check if time($t), $t >= {not_before}`
    NotBefore(u64),
    /// `check if audience({a}) or audience({b}) ...`
    Audience(BTreeSet<Audience>),
    /// `reject if scope($s), !{scopes}.contains($s)` (`reject if scope($s)` when empty)
    Scope(BTreeSet<Scope>),
    /// The root grant of authorization details (see the crate docs).
    Grant(Vec<AuthorizationDetail>),
    /// A block's limit on one field of one detail type.
    FieldLimit(FieldLimit),
    /// A block's restriction of the actions of one detail type.
    Actions(ActionLimit),
    /// `check if blocks($n), $n <= {max}`: at most `max` blocks in all.
    Depth(u64),
    /// `check if holder({key bytes})`
    Holder(VerifyingKey),
}
