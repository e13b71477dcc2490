//! Switches that weaken what a token proves or what an authorizer checks, gathered in one
//! place so that using one is a visible `use valet::danger::...` in review.
//!
//! Without them, a token is bound to its agent's key and an authorizer honours a token
//! only with a fresh proof of possession by that key: a copy of the token, leaked in a log,
//! a prompt or a proxy, is of no use to whoever finds it.
//!
//! - [`BearerMinting::bearer`] mints a token bound to no holder key: a **bearer token**.
//!   Whoever holds a copy of it can use it, until it expires or is revoked, and nothing in a
//!   request tells the agent that was granted it from anyone who copied it.
//! - [`DangerousAuthorizerBuilder::accept_bearer_tokens`] (and
//!   [`DangerousVerifier::accept_bearer_tokens`] for a bare verifier) honours bearer tokens,
//!   for whoever presents them. Bound tokens still need their proof; only the refusal of
//!   tokens bound to no key is lifted.
//! - [`DangerousAuthorizerBuilder::unindexed_policies`] evaluates every policy on every
//!   request instead of only those whose scope can match the request's action. The
//!   decisions are the same, but each request costs time in proportion to the whole policy
//!   set, so a large set slows every request, refused ones included. It exists to compare
//!   decisions and to measure the index.
//! - [`DangerousVerifier::reference_datalog`] runs a verifier's block checks with Biscuit's
//!   own authorizer, built anew on every call: the same decisions, bounded only by
//!   Biscuit's limits, and slower (see [`valet_token::danger`]).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
//! use valet::*;
//! # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
//!
//! let root = RootKeyPair::generate(KeyId(1));
//! let tools = Audience::parse("https://tools.example.com")?;
//! let now = SystemTime::now();
//! let bearer = Issuer::new(root.clone()).mint_at(
//!     TokenBuilder::new("alice@example.com", "https://agent.example/client")
//!         .audience(tools.clone())
//!         .scope(Scope::parse("tools:read")?)
//!         .expires_in(Duration::from_secs(300))
//!         .bearer(),
//!     now,
//! )?;
//! let clock = std::sync::Arc::new(FixedClock::new(now));
//! let keys = KeySet::new().with(root.public());
//! let request = Request::new(tools, "list_files");
//! // An authorizer with the defaults refuses a bearer token...
//! let strict = Authorizer::builder(keys.clone(), PolicyStore::load("policies")?)
//!     .clock(clock.clone())
//!     .build();
//! let d = strict.authorize(&bearer, &request, &Presentation::new());
//! assert!(d.reasons()[0].message.contains("this token is a bearer token"));
//! // ...one built with the opt-in honours it.
//! let lax = Authorizer::builder(keys, PolicyStore::load("policies")?)
//!     .clock(clock)
//!     .accept_bearer_tokens()
//!     .build();
//! assert!(lax.accepts_bearer_tokens());
//! assert!(lax.authorize(&bearer, &request, &Presentation::new()).allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use valet_token::danger::{BearerMinting, DangerousVerifier};

use crate::authorizer::AuthorizerBuilder;

/// Keeps the trait of this module implemented by this crate's types alone.
mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::authorizer::AuthorizerBuilder {}
}

/// The switches of an [`AuthorizerBuilder`] that weaken what the authorizer checks or make
/// it slower (see the [module](self)).
pub trait DangerousAuthorizerBuilder: sealed::Sealed + Sized {
    /// Honours bearer tokens, tokens the issuer bound to no holder key, for whoever
    /// presents them: anyone holding a copy of such a token can use it. Tokens bound to a
    /// key still need a fresh proof of possession by it.
    #[must_use]
    fn accept_bearer_tokens(self) -> Self;

    /// Evaluates every policy on every request, instead of only those whose scope can
    /// match the request's action: the same decisions, at a cost that grows with the whole
    /// policy set on every request.
    #[must_use]
    fn unindexed_policies(self) -> Self;
}

impl DangerousAuthorizerBuilder for AuthorizerBuilder {
    fn accept_bearer_tokens(self) -> Self {
        self.accepting_bearer_tokens()
    }

    fn unindexed_policies(self) -> Self {
        self.unindexing_policies()
    }
}
