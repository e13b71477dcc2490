//! # valet-token: valet keys for AI agents
//!
//! A valet key is a [Biscuit](https://www.biscuitsec.org) token that opens one door (an
//! audience, RFC 8707), carries a few powers (scopes and RFC 9396 transaction limits),
//! expires soon, and can be narrowed offline by whoever holds it for a sub-agent. This crate
//! mints, attenuates and verifies them; it has no policy-engine dependency, so an agent that
//! only attenuates links this crate alone.
//!
//! A token is bound to its agent's key, and every request carries a fresh proof of
//! possession by that key: a copy of the token alone is of no use.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use valet_token::*;
//!
//! let root = RootKeyPair::generate(KeyId(1));
//! let pay = Audience::parse("https://pay.example.com")?;
//! let now = SystemTime::now();
//! // The orchestrator's key pair: the token is bound to its public key.
//! let orchestrator = SigningKey::generate();
//! let token = Issuer::new(root.clone()).mint_at(
//!     TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
//!         .audience(pay.clone())
//!         .scope(Scope::parse("payments:write")?)
//!         .expires_in(Duration::from_secs(900))
//!         .detail(AuthorizationDetail::new("payment").max("amount", "1000.00".parse()?))
//!         .holder(orchestrator.public()),
//!     now,
//! )?;
//! // The holder cuts a narrower copy for a sub-agent, offline, and hands it to the
//! // sub-agent's key, signing the new block with its own.
//! let invoice_agent = SigningKey::generate();
//! let child = token.attenuate_signed(
//!     Attenuation::new()
//!         .delegate("invoice-agent")
//!         .max("payment", "amount", "50.00".parse()?)
//!         .holder(invoice_agent.public()),
//!     &orchestrator,
//! )?;
//! let verifier = Verifier::new(KeySet::new().with(root.public()));
//! let pay_50 = Request::new(pay.clone(), "pay_invoice").details(
//!     TransactionDetails::new("payment").with("amount", "50.00"),
//! );
//! // Each request carries a proof of possession by the sub-agent's key...
//! let proof = HolderProof::sign(&invoice_agent, &child, &pay_50, now)?;
//! let verdict = verifier.verify_with_proof(&child, &pay_50, Some(&proof), now, &NoRevocations);
//! assert!(verdict.is_allowed());
//! // ...and without one the token is refused.
//! assert!(!verifier.verify(&child, &pay_50, now, &NoRevocations).is_allowed());
//! let pay_51 = Request::new(pay, "pay_invoice")
//!     .details(TransactionDetails::new("payment").with("amount", "51.00"));
//! let proof = HolderProof::sign(&invoice_agent, &child, &pay_51, now)?;
//! let verdict = verifier.verify_with_proof(&child, &pay_51, Some(&proof), now, &NoRevocations);
//! assert_eq!(
//!     verdict.reasons()[0].message,
//!     "block 1 (delegate: invoice-agent) limits payment amount to 50.00, requested `51.00`"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Bearer tokens, bound to no key and usable by whoever holds a copy, are minted and
//! honoured only through the explicit opt-ins of [`danger`], beside the other switches
//! that weaken the checks.
//!
//! ## The token format (a public format, version 2)
//!
//! A valet key is a Biscuit token (Datalog 3.0/3.1, Ed25519 signatures) whose blocks carry
//! facts and checks of the shapes below and nothing else: no context string, no rules. The
//! Datalog is the one source of truth. Any Biscuit library evaluates it; Valet reads the
//! claims, the chain of custody and every refusal message back from it ([`Claims`],
//! [`Link`]). A check is taken to mean what its shape says only when writing that meaning
//! again gives the very same check; any other check or fact is shown as the raw Datalog it
//! is ([`Link::checks`], [`Link::facts`]) and enforced all the same. A block that states a
//! fact of the verifier's vocabulary (below) is refused when the token is read, and so is a
//! block with a context string: it was made in format 1, which is no longer read (mint a
//! new token). Variables may be named as the shapes name them (`$v`, `$v1`, `$w`).
//!
//! **Authority block** (signed by the root key, whose id is the Biscuit root key id). Facts:
//! `subject(s)`, `client(c)`, `token_id(id)` (optional), and per grant `g` (0 for the first)
//! `datatypes(g, {set})` and `privileges(g, {set})` when set. Checks, in this order:
//! 1. `check if time($v), $v <= {expiry}`, or `check if time($v), $v >= {not_before}, $v <=
//!    {expiry}` when minted with a not-before time
//! 2. `check if resource({uri})`, one alternative (`or resource(...)`) per audience
//! 3. `reject if scope($v), !{scopes}.contains($v)` (or `reject if scope($v)` when no scope
//!    is granted)
//! 4. when authorization details are granted, one check whose alternatives are: a request
//!    without details whose action no grant lists (`detail(""), operation($v),
//!    !{all_actions}.contains($v)`, or `detail("")` when no grant lists actions), then per
//!    grant `detail(type)` with, in this order, its actions (`operation($v),
//!    {actions}.contains($v)`), locations (`resource($w), {locations}.contains($w)`),
//!    identifier (`field("identifier", id)`) and limits by field name (`decimal(field, $vk),
//!    $vk >= {lowest}, $vk <= {max}` with decimals scaled by 10^4, or `field(field, $vk),
//!    {set}.contains($vk)`, `$vk` being `$v`, `$v1`... counting the actions' variable first)
//! 5. `check if blocks($v), $v <= {1 + max_depth}` (when a depth cap is set)
//! 6. `check if holder(hex:{32 bytes})` (when bound to a holder key)
//!
//! **Attenuation blocks** may carry the fact `delegate(name)` and add, in this order: an
//! expiry, audience and scope check of the same shapes; per field limit `check if
//! detail($v), $v !== {type} or <limit>` with `<limit>` `decimal(field, $v)` followed by
//! `$v >= {min}` when the block states a floor and `$v <= {max}` when it has a `max`, or
//! `field(field, $v), {set}.contains($v)`; per action restriction `check if detail($v), $v
//! !== {type} or operation($v), {actions}.contains($v)`; a depth cap `check if blocks($v),
//! $v <= {index + 1 + max_depth}`; a holder binding; raw checks last.
//!
//! **Limits.** A limit without `min` has a `min` of zero: a `max` alone refuses negative
//! amounts, and only a `min` below zero grants them (refunds, corrections). A grant always
//! writes its lowest value; an attenuation block writes a floor only where the limits above
//! it do not already refuse negative values, and shows in its [`Link`] the floor that holds.
//! A block can never lower the `min` or raise the `max` in force above it
//! ([`Limit::narrows`]); a block that sets only one bound keeps the other of its parent.
//!
//! **Facts the verifier supplies**: `time(date)`, `resource(uri)` (the audience the
//! request is made at), `operation(name)`, `scope(s)` for each scope the request needs,
//! `blocks(n)`, `detail(type)` (`detail("")` for a request without transaction details;
//! details with an empty type are refused), `field(name, value)` for string and boolean
//! fields, `decimal(name, n)` for fields readable as decimals (scaled by 10^4),
//! `list(name, item)` for arrays of strings, and `holder(key)` (32 bytes) for each holder
//! key the request proves (see below). A field holding an object or an array with an item
//! that is not a string ([`FieldValue::Record`], [`FieldValue::Array`]) is stated by no
//! fact: every limit valet writes needs a fact of its field, so a limit on such a field
//! refuses the request (a check written by hand as `reject if` or `check all` does not see
//! it either).
//!
//! **Size.** A holder-bound token granting one audience, one scope and one amount limit is
//! under 600 bytes (about 790 base64url characters); one attenuation block naming a
//! delegate and lowering the amount adds about 235 bytes (`benches/README.md` compares
//! sizes with a Tenuo warrant and an EdDSA JWT).
//!
//! ## Holder binding, signed delegation and approvals
//!
//! **Binding.** A block (authority or attenuation) may carry the check `check if
//! holder(hex:{key})`, the holder's 32-byte Ed25519 public key, placed after the depth
//! check and before raw checks (a block signed as a third-party block by a key that is not
//! an Ed25519 key is refused when the token is read). From that block on, a request needs
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
//! request, so a proof the token refuses takes no room. A [`Verifier`] refuses tokens the
//! issuer did not bind (unless built with
//! [`danger::DangerousVerifier::accept_bearer_tokens`]): the authority block's binding
//! counts, and so does one made by a block signed by a key bound before it; a binding
//! appended in an unsigned block (which anyone holding a bearer token can add) narrows the
//! token but does not meet the requirement. An [`Issuer`] refuses to mint a token without a
//! holder key ([`TokenError::NoHolder`]) unless the grant opts in with
//! [`danger::BearerMinting::bearer`].
//!
//! **Delegation.** [`Token::attenuate_signed`] appends a Biscuit third-party block signed by
//! the current holder's key; with [`Attenuation::holder`] it hands the token to a
//! sub-agent's key. The proven holder keys are the proof's key, then, repeatedly, the key
//! that signed any block binding a proven key; the verifier supplies `holder(key)` for
//! each. A thief who rebinds a stolen token to their own key cannot meet the earlier
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
//! checks may cost for one request (1 000 000 units), request size (64 KiB), nesting (10),
//! transaction fields (32) and the values in a transaction, nested ones included (1024); a
//! field nests at most 8 arrays and objects ([`details::MAX_DETAIL_DEPTH`]). Hitting any of
//! them is a deny with that reason. Facts, check joins and work are counted before any
//! Datalog runs: the work counts every fact scanned for each partial combination of a
//! query's predicates, every combination, and each expression operation per combination
//! weighted by the longest string or largest collection it can touch; while checks run, the
//! clock is looked at for every combination. A block carrying Datalog rules is refused, and
//! so is a check with a closure (`.all`, `.any`) or a regular expression (`.matches`),
//! whose cost no count bounds, or with more than 256 expression operations in one query:
//! valet blocks carry only facts and checks without them. With the defaults, the worst
//! tokens found are decided in about 4 ms in a release build on a 2-core machine.

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
pub mod danger;
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
mod shape;
mod signature;
mod source;
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
pub use replay::{ReplayCache, ReplayEntry, ReplayError, ReplayStore};
pub use request::Request;
pub use revocation::{NoRevocations, RevocationCheck, RevocationId};
pub use scope::Scope;
pub use source::{TokenSource, TokenSourceError};
pub use token::Token;
pub use verdict::{Denial, Reason, ReasonKind, Verdict, VerifiedToken};
pub use verifier::Verifier;
