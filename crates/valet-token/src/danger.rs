//! Switches that weaken what a token proves or what a verifier checks, gathered in one
//! place so that using one is a visible `use valet_token::danger::...` in review.
//!
//! Without them, a token is bound to its agent's key and a verifier honours a token only
//! with a fresh proof of possession by that key: a copy of the token, leaked in a log, a
//! prompt or a proxy, is of no use to whoever finds it.
//!
//! - [`BearerMinting::bearer`] mints a token bound to no holder key: a **bearer token**.
//!   Whoever holds a copy of it can use it, until it expires or is revoked, and nothing in a
//!   request tells the agent that was granted it from anyone who copied it.
//! - [`DangerousVerifier::accept_bearer_tokens`] makes a verifier honour bearer tokens, for
//!   whoever presents them. Bound tokens still need their proof; only the refusal of
//!   tokens bound to no key is lifted.
//! - [`DangerousVerifier::reference_datalog`] runs the blocks' checks with Biscuit's own
//!   authorizer, built anew on every call, instead of the prepared checks. The decisions
//!   are the same (the tests compare them), but a hostile token's checks are then bounded
//!   only by Biscuit's limits (facts, iterations, time), not by the counts of combinations
//!   and work made before any check runs, and every request pays for building the
//!   authorizer. It exists for those tests and to measure the difference.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use valet_token::danger::{BearerMinting, DangerousVerifier};
//! use valet_token::*;
//!
//! let root = RootKeyPair::generate(KeyId(1));
//! let pay = Audience::parse("https://pay.example.com")?;
//! let now = SystemTime::now();
//! let grant = TokenBuilder::new("alice@example.com", "https://agent.example/client")
//!     .audience(pay.clone())
//!     .expires_in(Duration::from_secs(300));
//! // Without a holder key, minting is refused...
//! let issuer = Issuer::new(root.clone());
//! assert!(matches!(issuer.mint_at(grant.clone(), now), Err(TokenError::NoHolder)));
//! // ...unless the grant opts into a bearer token.
//! let bearer = issuer.mint_at(grant.bearer(), now)?;
//! let request = Request::new(pay, "read");
//! let keys = KeySet::new().with(root.public());
//! // A verifier refuses it, unless it opts into bearer tokens too.
//! assert!(!Verifier::new(keys.clone()).verify(&bearer, &request, now, &NoRevocations).is_allowed());
//! let lax = Verifier::new(keys).accept_bearer_tokens();
//! assert!(lax.verify(&bearer, &request, now, &NoRevocations).is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::issuer::TokenBuilder;
use crate::verifier::Verifier;

/// Keeps the traits of this module implemented by this crate's types alone.
mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::verifier::Verifier {}
    impl Sealed for crate::issuer::TokenBuilder {}
}

/// The switches of a [`Verifier`] that weaken what it checks (see the [module](self)).
pub trait DangerousVerifier: sealed::Sealed + Sized {
    /// Honours bearer tokens, tokens the issuer bound to no holder key, for whoever
    /// presents them: anyone holding a copy of such a token can use it. Tokens bound to a
    /// key still need a fresh proof of possession by it.
    #[must_use]
    fn accept_bearer_tokens(self) -> Self;

    /// Runs the blocks' checks with Biscuit's own authorizer, built on every call, instead
    /// of the prepared checks: the same decisions, bounded only by Biscuit's limits, and
    /// slower. For differential tests and measurements.
    #[must_use]
    fn reference_datalog(self) -> Self;
}

impl DangerousVerifier for Verifier {
    fn accept_bearer_tokens(self) -> Self {
        self.accepting_bearer_tokens()
    }

    fn reference_datalog(self) -> Self {
        self.running_reference_datalog()
    }
}

/// The switch of a [`TokenBuilder`] that mints a bearer token (see the [module](self)).
pub trait BearerMinting: sealed::Sealed + Sized {
    /// Lets the grant be minted with no holder key: a bearer token, which anyone holding a
    /// copy of it can use, at any verifier that accepts bearer tokens, until it expires or
    /// is revoked. A holder key given with [`TokenBuilder::holder`] still binds the token.
    #[must_use]
    fn bearer(self) -> Self;
}

impl BearerMinting for TokenBuilder {
    fn bearer(self) -> Self {
        self.allowing_bearer()
    }
}
