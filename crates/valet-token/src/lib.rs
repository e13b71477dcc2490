//! # valet-token: valet keys for AI agents
//!
//! A valet key is a [Biscuit](https://www.biscuitsec.org) token that opens one door (an
//! audience, RFC 8707), carries a few powers (scopes and RFC 9396 transaction limits),
//! expires soon, and can be narrowed offline by whoever holds it for a sub-agent. This crate
//! mints, attenuates and verifies them; it has no policy-engine dependency, so an agent that
//! only attenuates links this crate alone.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use valet_token::*;
//!
//! let root = RootKeyPair::generate(KeyId(1));
//! let pay = Audience::parse("https://pay.example.com")?;
//! let now = SystemTime::now();
//! let token = Issuer::new(root.clone()).mint_at(
//!     TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
//!         .audience(pay.clone())
//!         .scope(Scope::parse("payments:write")?)
//!         .expires_in(Duration::from_secs(900))
//!         .detail(AuthorizationDetail::new("payment").max("amount", "1000.00".parse()?)),
//!     now,
//! )?;
//! // The holder cuts a narrower copy for a sub-agent, with no key.
//! let child = token.attenuate(
//!     Attenuation::new().delegate("invoice-agent").max("payment", "amount", "50.00".parse()?),
//! )?;
//! let verifier = Verifier::new(KeySet::new().with(root.public()));
//! let pay_50 = Request::new(pay.clone(), "pay_invoice").details(
//!     TransactionDetails::new("payment").with("amount", "50.00"),
//! );
//! assert!(verifier.verify(&child, &pay_50, now, &NoRevocations).is_allowed());
//! let pay_51 = Request::new(pay, "pay_invoice")
//!     .details(TransactionDetails::new("payment").with("amount", "51.00"));
//! let verdict = verifier.verify(&child, &pay_51, now, &NoRevocations);
//! assert_eq!(
//!     verdict.reasons()[0].message,
//!     "block 1 (delegate: invoice-agent) limits payment amount to 50.00, requested `51.00`"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The token format (a public format, version 1)
//!
//! Every block carries its meaning twice: as Datalog that any Biscuit library evaluates, and
//! as a JSON `context` string (Biscuit's per-block context field) that Valet reads to
//! explain refusals and to expose claims.
//!
//! **Authority block** (signed by the root key, whose id is the Biscuit root key id). Facts:
//! `subject(s)`, `client(c)`, `token_id(id)` (optional), `audience(uri)` (one per audience),
//! `scope(s)` (one per scope), `expires(date)`. Checks, in this order:
//! 1. `check if time($t), $t <= {expiry}`
//! 2. `check if time($t), $t >= {not_before}` (when set)
//! 3. `check if request_audience($a), {audiences}.contains($a)`
//! 4. `reject if request_scope($s), !{scopes}.contains($s)` (or `reject if request_scope($s)`
//!    when no scope is granted)
//! 5. when authorization details are granted, one check whose alternatives are: a request
//!    without details whose action no grant lists
//!    (`request_details(false), request_action($a), !{all_actions}.contains($a)`), or, per
//!    grant, `request_detail_type(type)` with its actions (`request_action`), locations
//!    (`request_audience`), identifier (`request_field("identifier", id)`) and limits
//!    (`request_decimal(field, $v), $v >= min, $v <= max` with decimals scaled by 10^4,
//!    see below; `request_field(field, $v), {set}.contains($v)`)
//! 6. `check if token_blocks($n), $n <= {1 + max_depth}` (when a depth cap is set)
//!
//! **Attenuation blocks** may carry the fact `delegate(name)` and add, in this order:
//! expiry, audience and scope checks of the same shape; per field limit
//! `check if request_details(false) or request_detail_type($t), $t != type or <limit>`; per
//! action restriction the same with `request_action($a), {actions}.contains($a)`; a depth
//! cap `check if token_blocks($n), $n <= {index + 1 + max_depth}`; raw checks last.
//!
//! **Limits** are written in the context as `{"max": "50.00"}`, `{"min": "10.00"}`,
//! `{"min": "-100.00", "max": "50.00"}` (decimal text) or `{"one_of": ["USD"]}`: a grant's
//! `limits` maps a field to one, a block's `limits` lists `{"type", "field", "limit"}`. A
//! decimal limit's Datalog is `request_decimal(field, $v), $v >= {min}`, then
//! `, $v <= {max}` when it has a `max`. A limit without `min` has a `min` of zero: a `max`
//! alone refuses negative amounts, and only a `min` below zero grants them (refunds,
//! corrections). A block can never lower the `min` or raise the `max` in force above it
//! ([`Limit::narrows`]); a block that sets only one bound keeps the other of its parent.
//! Tokens minted before lower bounds carry `$v <= {max}` alone: they refuse no negative
//! value and are explained as before; mint new ones (a token lives an hour at most by
//! default). A reader that predates `min` refuses a block carrying one.
//!
//! **Facts the verifier supplies**: `time(date)`, `request_audience(uri)`,
//! `request_action(name)`, `request_scope(s)` for each scope the request needs,
//! `token_blocks(n)`, `request_details(bool)`, `request_detail_type(type)`,
//! `request_field(name, value)` for string and boolean fields, `request_decimal(name, n)`
//! for fields readable as decimals (scaled by 10^4), `request_list(name, item)` for arrays.
//!
//! `request_holder(key)` for each holder key the request proves (see below).
//!
//! ## Holder binding, signed delegation and approvals
//!
//! Tokens without the members below read and verify as before; a reader that predates them
//! refuses a block carrying them (unknown context members are refused).
//!
//! **Binding.** A block (authority or attenuation) may carry the context member
//! `"holder": "ed25519/<64 hex digits>"` and the check `check if request_holder({holder})`,
//! placed after the depth check and before raw checks (the member is written exactly so,
//! with lowercase hex: a block whose holder is any other text is refused as malformed when
//! the token is read, as is a block signed as a third-party block by a key that is not an
//! Ed25519 key). From that block on, a request needs
//! a [`HolderProof`]: JSON `{"key", "timestamp", "nonce", "signature"}` (signature base64url),
//! the holder's Ed25519 signature of these lines joined by `\n` ([`HolderProof::signing_input`]):
//!
//! ```text
//! valet-proof/v1
//! <audience>
//! <action>
//! <hex sha256 of the canonical details JSON, or of the empty string without details>
//! <hex sha256 of the token bytes>
//! <timestamp, Unix seconds>
//! <nonce, 16 to 128 base64url characters>
//! ```
//!
//! The canonical details JSON is the compact JSON of [`TransactionDetails`]: `type` first,
//! then the fields sorted by name ([`details_digest`]). The verifier
//! ([`Verifier::verify_with_proof`]) checks, after the token's signatures: that the proof
//! is at most 60 s old and at most 5 s ahead ([`Verifier::proof_window`]), its signature,
//! that its key is one the token binds (a proof by any other key is refused, so is a proof
//! sent with a bearer token), and that its nonce is new ([`ReplayCache`]: nonces are kept
//! until their proof would be stale, at most 500 000 of them and at most 5 000 for the
//! tokens of one person's agent, the subject and client the issuer signed, see
//! [`HolderOptions`]; a full cache or a full quota refuses new proofs). The nonce is consumed only when every check of the token allows the
//! request, so a proof the token refuses takes no room. [`Verifier::require_holder_binding`]
//! refuses tokens the issuer did not bind: the authority block's binding counts, and so
//! does one made by a block signed by a key bound before it; a binding appended in an
//! unsigned block (which anyone holding a bearer token can add) narrows the token but does
//! not meet the requirement.
//!
//! **Delegation.** [`Token::attenuate_signed`] appends a Biscuit third-party block signed by
//! the current holder's key; with [`Attenuation::holder`] it hands the token to a
//! sub-agent's key. The proven holder keys are the proof's key, then, repeatedly, the key
//! that signed any block binding a proven key; the verifier supplies `request_holder(key)`
//! for each. A thief who rebinds a stolen token to their own key cannot meet the earlier
//! binding. Each [`Link`] of the chain names the key that signed it (`signed_by`, from the
//! verified signature chain) and says whether it was verified (`verified`) or only
//! self-asserted.
//!
//! **Approvals.** An [`Approval`] is an approver's Ed25519 signature of
//!
//! ```text
//! valet-approval/v2
//! <subject>
//! <token digest, as above>
//! <audience>
//! <action>
//! <details digest, as above>
//! <expires_at, Unix seconds>
//! ```
//!
//! sent beside the token as JSON `{"approver", "subject", "token_digest", "audience",
//! "action", "details_digest", "expires_at", "signature"}`. [`Approval::check`] accepts it
//! only from a key of the [`ApproverSet`], unexpired, and for exactly this request made with
//! exactly this token: another token of the same subject (another of the person's agents,
//! or this token attenuated) cannot use it. [`Approval::sign`] takes the token;
//! [`Approval::sign_for_token_digest`] takes its digest, for a device that never holds the
//! token. Approvals of `valet-approval/v1`, which named no token, are refused: sign a new
//! one. The `valet` crate uses [`Approval::check`] to settle a needs-approval decision and
//! records each approval spent ([`Approval::id`]) in an approval store, so that it allows
//! one request across every authorizer sharing the store.
//!
//! ## Limits
//! [`Limits`] caps token size (16 KiB), blocks (16), Datalog facts (1000), iterations (100)
//! and time (100 ms), the fact combinations one check may try (10 000), the work all the
//! checks may cost for one request (1 000 000 units), request size (64 KiB), nesting (8)
//! and transaction fields (32). Hitting any of them is a deny with that reason. Facts,
//! check joins and work are counted before any Datalog runs: the work counts every fact
//! scanned for each partial combination of a query's predicates, every combination, and
//! each expression operation per combination weighted by the longest string or largest
//! collection it can touch; while checks run, the clock is looked at for every
//! combination. A block carrying Datalog rules is refused, and so is a check with a
//! closure (`.all`, `.any`) or a regular expression (`.matches`), whose cost no count
//! bounds, or with more than 256 expression operations in one query: valet blocks carry
//! only facts and checks without them. With the defaults, the worst tokens found are
//! decided in about 4 ms in a release build on a 2-core machine.

#![forbid(unsafe_code)]

mod agent_keys;
mod approval;
mod attenuation;
mod audience;
mod authorization;
mod block;
mod cache;
mod chain;
mod claims;
mod clock;
mod cost;
mod datalog;
pub mod details;
mod encoding;
pub(crate) mod engine;
mod error;
mod facts;
mod holder;
mod issuer;
mod keys;
mod limit;
mod limits;
mod messages;
mod proof;
mod read;
mod replay;
mod request;
mod revocation;
mod scope;
mod signature;
mod token;
mod verdict;
mod verifier;

pub use agent_keys::{SigningKey, VerifyingKey};
pub use approval::{Approval, ApprovalError, ApproverSet, APPROVAL_CONTEXT};
pub use attenuation::Attenuation;
pub use audience::Audience;
pub use authorization::{ActionLimit, AuthorizationDetail, FieldLimit};
pub use cache::{
    CacheUsage, CACHE_BYTES_PER_TOKEN_BYTE, CACHE_ENTRY_OVERHEAD, DEFAULT_CACHE_BYTES,
};
pub use claims::{Claims, Link};
pub use clock::rfc3339;
pub use details::{Decimal, DecimalError, FieldValue, TransactionDetails};
pub use error::{RequestError, TokenError};
pub use holder::HolderOptions;
pub use issuer::{Issuer, TokenBuilder, DEFAULT_MAX_LIFETIME};
pub use keys::{KeyError, KeyId, KeySet, RootKeyPair, RootPublicKey};
pub use limit::Limit;
pub use limits::Limits;
pub use proof::{details_digest, token_digest, HolderProof, PROOF_CONTEXT};
pub use replay::{ReplayCache, ReplayError};
pub use request::Request;
pub use revocation::{NoRevocations, RevocationCheck, RevocationId};
pub use scope::Scope;
pub use token::Token;
pub use verdict::{Denial, Reason, ReasonKind, Verdict, VerifiedToken};
pub use verifier::Verifier;
