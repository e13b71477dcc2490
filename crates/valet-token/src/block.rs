//! What one block of a token says: its `context` string, as JSON (see the crate docs).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::agent_keys::VerifyingKey;
use crate::audience::Audience;
use crate::authorization::{ActionLimit, AuthorizationDetail, FieldLimit};
use crate::scope::Scope;

/// What one block of a token says: the authority block carries the grant, each later block
/// its narrowing. This is the block's `context` string, as JSON (see the crate docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlockSpec {
    /// Format version, always 1.
    pub valet: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<BTreeSet<Audience>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<BTreeSet<Scope>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<AuthorizationDetail>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<FieldLimit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// The holder key the block binds the token to, written `ed25519/<64 lowercase hex
    /// digits>` exactly (any other text is refused when the token is read).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::agent_keys::canonical_key"
    )]
    pub holder: Option<VerifyingKey>,
    /// The key that signed the block as a third-party block, read from the token's
    /// envelope (never from the context); trusted only once the signatures verify.
    #[serde(skip)]
    pub signer: Option<VerifyingKey>,
}
