//! The Cedar policy layer of Valet: a directory of policies validated against a schema,
//! and the mapping of an agent's transaction to a Cedar request.
//!
//! # Policy directory
//!
//! [`PolicyStore::load`] reads every `*.cedar` file of a directory (not its
//! subdirectories: `tests/` holds policy tests) and the directory's `schema.cedarschema`.
//! Each file is parsed on its own, so every problem is reported at its
//! `file:line:column`; then all policies are validated strictly against the schema. A
//! policy's id is its `@id("...")` annotation, else `<file stem>.<n>` with `n` its index
//! in the file; ids must be unique.
//!
//! Annotations Valet reads:
//! - `@id("...")` on policies: the policy id;
//! - `@approval("...")` on `forbid` policies: a step-up, see below;
//! - `@reason("...")` on policies: words quoted in a denial;
//! - `@detail_type("...")` on schema actions: the RFC 9396 details `type` the action
//!   takes ([`PolicyStore::detail_types`]).
//!
//! # From a transaction to a Cedar request
//!
//! - principal: `Agent::"<agent>"` with attributes `subject: String`, `client: String`,
//!   `depth: Long` (the length of the delegation chain) and `chain: Set<String>`;
//! - action: `Action::"<action>"`; an action the schema does not declare is denied;
//! - resource: `Resource::"<id>"`, for each of the details' `identifier` and every entry
//!   of its `locations` (each is judged, and the request is allowed only if every one is),
//!   else the audience;
//! - context: `audience: String` and `scopes: Set<String>`, set from the token, plus every
//!   details field except `type`, `identifier` and `locations`, typed by the action's
//!   context in the schema: `decimal` from decimal text such as `"50.00"` (or an integer),
//!   never through a float; `String`; `Long`; `Bool`; `Set<String>`.
//!
//! A field the action's context does not declare, a required field that is missing, a
//! field of the wrong type, a details `type` other than the action's `@detail_type`, or a
//! field named `audience` or `scopes` gives a deny whose reason names the field. The
//! schema must declare its entity types and actions in the empty namespace.
//!
//! # Delegation: which identities a permit may rely on
//!
//! The issuer signs the subject and the client. A delegate's name is written by whoever
//! cut its block, offline, and a delegate can append blocks of its own naming anyone; so a
//! transaction carries the token as it stood after each earlier block
//! ([`Transaction::earlier`], filled by the `valet` Authorizer), and a request is allowed
//! only if it is allowed at every step: for the client with the issuer's scopes, then for
//! each delegate with the delegates named by then (`depth`, `chain`) and the scopes granted
//! then. Every forbid naming any agent of the chain applies, a permit must hold for all of
//! them, and a needs-approval at any step is a needs-approval. Appending a block adds a
//! step and changes none, so it can never raise the outcome. A permit may therefore rely on
//! `principal.subject`, `principal.client` and the scopes as facts; a permit naming a
//! delegate (`principal == Agent::"x"`, `principal.chain.contains("x")`) grants nothing its
//! delegators are not granted too, and a forbid naming one always holds.
//!
//! # Decisions
//!
//! [`PolicyStore::evaluate`] fails closed: if any policy errors while evaluated, the
//! request is denied, since Cedar skips an erroring policy and an erroring `forbid` must not
//! let a `permit` through. When only `forbid` policies annotated `@approval("...")` deny a
//! request and the policies without them allow it, the outcome is
//! [`PolicyOutcome::NeedsApproval`] with the approval texts joined by `"; "`.
//!
//! Policies are indexed at load time, so a request evaluates only those that can apply to
//! it: per action, then by the agent a `principal == Agent::"x"` scope names, else the
//! resource a `resource == Resource::"r"` scope names, else the string a first `when`
//! condition starts by comparing a context member with (`context.m == "text" && ...`),
//! which is skipped only when the request's `m` is a different string. The decision is
//! the same as evaluating every policy ([`PolicyStore::evaluate_unindexed`]).

#![forbid(unsafe_code)]

mod annotations;
mod answer;
mod decision;
mod entities;
mod error;
mod eval;
mod format;
mod index;
mod limits;
mod load;
mod loaded;
mod request;
mod schema;
mod store;
pub mod testing;
mod transaction;
mod value;

pub use annotations::{APPROVAL_ANNOTATION, ID_ANNOTATION, REASON_ANNOTATION};
pub use decision::{DeterminingPolicy, Effect, PolicyDecision, PolicyOutcome, PolicyReason};
pub use entities::{
    EntitiesFile, EntityData, EntityError, EntityLookup, EntityProvider, MAX_ENTITIES_FILE_BYTES,
    MAX_GATHERED_ENTITIES,
};
pub use error::{Diagnostic, FormatError, LimitExceeded, PolicyError, Severity};
pub use format::{format_policies, FORMAT_INDENT, FORMAT_LINE_WIDTH};
pub use limits::PolicyLimits;
pub use load::SCHEMA_FILE;
pub use request::RESOURCE_FIELDS;
pub use schema::VALET_ANNOTATION;
pub use store::PolicyStore;
pub use transaction::{Step, Transaction};
