//! What one block of a token says, as its Datalog states it (see the crate docs).

use std::collections::BTreeSet;

use crate::agent_keys::VerifyingKey;
use crate::audience::Audience;
use crate::authorization::{ActionLimit, AuthorizationDetail, FieldLimit};
use crate::scope::Scope;
use crate::shape::CheckKind;

/// What one block of a token says: the authority block carries the grant, each later block
/// its narrowing. Built by the issuer or an attenuation to be written as Datalog, or read
/// back from a block's Datalog ([`crate::read`]), never from anything else in the block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BlockSpec {
    pub sub: Option<String>,
    pub client: Option<String>,
    pub jti: Option<String>,
    pub nbf: Option<u64>,
    pub delegate: Option<String>,
    pub aud: Option<BTreeSet<Audience>>,
    pub scope: Option<BTreeSet<Scope>>,
    pub exp: Option<u64>,
    pub details: Vec<AuthorizationDetail>,
    pub limits: Vec<FieldLimit>,
    pub actions: Vec<ActionLimit>,
    pub max_depth: Option<u32>,
    /// Checks of no shape valet writes, as raw Datalog text (enforced all the same).
    pub checks: Vec<String>,
    /// Facts of no kind valet writes, as raw Datalog text.
    pub facts: Vec<String>,
    /// The holder key the block binds the token to.
    pub holder: Option<VerifyingKey>,
    /// The key that signed the block as a third-party block, read from the token's
    /// envelope; trusted only once the signatures verify.
    pub signer: Option<VerifyingKey>,
    /// For a block read from a token, what each of its checks enforces, by index (`None`
    /// for a raw check): how a failed check is explained.
    pub layout: Vec<Option<CheckKind>>,
}
