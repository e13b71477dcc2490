#![doc = include_str!("../../../README.md")]
#![forbid(unsafe_code)]

mod approval;
mod audit;
mod authorizer;
pub mod danger;
mod decision;
mod error;
mod outcome;
mod stores;

pub use approval::{Presentation, DEFAULT_MAX_APPROVAL_LIFETIME};
pub use audit::{ApprovalRecord, AuditRecord, UnverifiedClaims};
pub use authorizer::{Authorizer, AuthorizerBuilder, Encoded};
pub use decision::Decision;
pub use error::Error;
pub use outcome::{Layer, Outcome, Reason};
pub use stores::{
    ApprovalId, ApprovalStore, AuditSink, Clock, FileRevocations, FixedClock, JsonLinesAudit,
    MemoryApprovals, MemoryAudit, MemoryRevocations, NoAudit, RevocationStore, Spent, StoreError,
    SystemClock, DEFAULT_MAX_APPROVALS, DEFAULT_MAX_REVOCATIONS,
};

/// The policy layer: the Cedar policy store.
pub use valet_policy as policy;
/// The token layer: keys, mint, attenuate, verify.
pub use valet_token as token;

pub use valet_policy::{
    EntitiesFile, EntityData, EntityError, EntityLookup, EntityProvider, PolicyError, PolicyStore,
};
pub use valet_token::{
    Approval, ApproverSet, Attenuation, Audience, AuthorizationDetail, Claims, Decimal, FieldValue,
    HolderOptions, HolderProof, Issuer, KeyId, KeySet, Limits, ReplayEntry, ReplayError,
    ReplayStore, Request, RevocationId, RootKeyPair, RootPublicKey, Scope, SigningKey, Token,
    TokenBuilder, TransactionDetails, VerifyingKey,
};
