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
//! - `@valet("agent")` on one entity type of the schema: the acting agent; and
//!   `@valet("person")` on at most one other: the person agents act for. Their names and
//!   namespaces are the author's;
//! - `@id("...")` on policies: the policy id;
//! - `@approval("...")` on `forbid` policies: a step-up, see below;
//! - `@reason("...")` on policies: words quoted in a denial;
//! - `@detail_type("...")` on schema actions: the RFC 9396 details `type` the action
//!   takes ([`PolicyStore::detail_types`]).
//!
//! # The author's model
//!
//! ```cedarschema
//! namespace Acme {
//!   @valet("person")
//!   entity Person in [Team] { email?: String };
//!   entity Team;
//!   @valet("agent")
//!   entity Agent in [Fleet] {
//!     person: Person, subject: String, client: String,
//!     depth: Long, chain: Set<String>, verified: Bool,
//!   };
//!   entity Fleet;
//!   entity Folder in [Folder];
//!   entity File in [Folder] { owner?: Person, sensitivity?: String };
//!   action read_file appliesTo {
//!     principal: [Agent], resource: [File],
//!     context: { audience: String, scopes: Set<String> },
//!   };
//! }
//! ```
//!
//! Valet fills those attributes of the agent type that the schema declares, among:
//!
//! | attribute | type | value |
//! |---|---|---|
//! | `person` | the `@valet("person")` type | the person named by the token's subject; its attributes and parents come from the entity data |
//! | `subject` | `String` | the token's subject, signed by the issuer |
//! | `client` | `String` | the token's client, signed by the issuer |
//! | `depth` | `Long` | how many delegates the chain names |
//! | `chain` | `Set<String>` | the delegates' names, as each delegator wrote them |
//! | `verified` | `Bool` | whether every delegation was signed by the key the token was bound to before it |
//!
//! Any other agent attribute, or one of these declared with another type, is an error at
//! load, at its `file:line:column`. Entity data may give agents parents (`principal in
//! Acme::Fleet::"quarantine"`), never attributes.
//!
//! # From a transaction to a Cedar request
//!
//! - principal: the agent type's entity named by the acting agent (and, for each earlier
//!   step of a delegated token, by the agent of that step, see below);
//! - action: the schema action whose id is the request's action, in any namespace (two
//!   namespaces declaring the same action id is an error at load); an action the schema
//!   does not declare, or whose `principal` types do not include the agent type, is denied;
//! - resource: for each of the details' `identifier` and every entry of its `locations`
//!   (each is judged, and the request is allowed only if every one is), else the audience:
//!   an id of the action's resource type when `appliesTo` names one (`Type::"id"` of that
//!   type is read as well), or `Type::"id"` naming one of its types when it names several;
//! - context: `audience: String` and `scopes: Set<String>`, set from the token, plus every
//!   details field except `type`, `identifier` and `locations`, typed by the action's
//!   context in the schema (see the table below).
//!
//! A field the action's context does not declare, a required field that is missing, a
//! field of the wrong type, a details `type` other than the action's `@detail_type`, or a
//! field named `audience` or `scopes` gives a deny whose reason names the field.
//!
//! | JSON value in the details | Cedar type declared | errors |
//! |---|---|---|
//! | string | `String` | another JSON type: "must be a string" |
//! | integer | `Long` | a string or a fraction: "must be an integer" (numbers with a fraction are refused when the details are read) |
//! | `true` / `false` | `Bool` | "must be a boolean" |
//! | decimal string (`"50.00"`) or integer | `decimal` | more than 4 fraction digits, not a number, out of range |
//! | RFC 3339 string (`"2026-12-01T09:30:00Z"`, `"…+01:00"`, `"2026-12-01"`) | `datetime` | not RFC 3339, finer than a millisecond |
//! | Cedar duration string (`"1h30m"`, `"-250ms"`) | `duration` | units out of order or repeated, out of range |
//! | IP address or CIDR string (`"10.0.0.0/8"`) | `ipaddr` | not an address, prefix too long |
//! | `{"__extn": {"fn": "<type>", "arg": "..."}}` | `decimal`, `datetime`, `duration`, `ipaddr` | another function than the declared type |
//! | `{"__entity": {"type": "Ns::T", "id": "x"}}` | entity type `Ns::T` | another type: names both |
//! | array | `Set<T>` | an item that is not a `T`, named by its index (`pages[2]`) |
//! | object | record `{ ... }` | a member not declared, a required member missing, named by its path (`trip.from`) |
//!
//! # Entity data
//!
//! The resource server's own data (its people, teams, folders, owners) comes from an
//! [`EntityProvider`], asked once per decision for the entities the request names
//! ([`EntityLookup`]: every step's agent, the person, the resources), with their ancestors
//! and the entities their attributes refer to. What it gives is validated against the
//! schema; an error, an answer after [`PolicyLimits::entity_timeout`] or data that does not
//! fit is a deny that says so. [`EntitiesFile`] serves a Cedar entities JSON file (the
//! format the `cedar` CLI reads), reloadable at once like the policies, and copies only
//! what each request needs ([`EntityData::gather`]).
//!
//! # Delegation: which identities a permit may rely on
//!
//! The issuer signs the subject and the client. A delegate's name is written by whoever
//! cut its block, offline, and a delegate can append blocks of its own naming anyone; so a
//! transaction carries the token as it stood after each earlier block
//! ([`Transaction::earlier`], filled by the `valet` Authorizer), and a request is allowed
//! only if it is allowed at every step: for the client with the issuer's scopes, then for
//! each delegate with the delegates named by then (`depth`, `chain`, `verified`), the
//! scopes granted then, and the parents the entity data gives that agent. Every forbid naming any agent of the chain applies, a permit must hold for all of
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
//! it: per action, then by the agent a `principal == Agent::"x"` scope names (of the agent
//! type), else the resource a `resource == File::"r"` scope names (of any type), else the string a first `when`
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
    EntitiesFile, EntityData, EntityError, EntityLookup, EntityProvider, Validated,
    MAX_ENTITIES_FILE_BYTES, MAX_GATHERED_ENTITIES,
};
pub use error::{Diagnostic, FormatError, LimitExceeded, PolicyError, Severity};
pub use format::{format_policies, FORMAT_INDENT, FORMAT_LINE_WIDTH};
pub use limits::PolicyLimits;
pub use load::SCHEMA_FILE;
pub use request::RESOURCE_FIELDS;
pub use schema::VALET_ANNOTATION;
pub use store::PolicyStore;
pub use transaction::{Step, Transaction};
