//! A token source for long-running agents: it holds the current token and renews it a lead
//! time before it expires, one renewal at a time however many calls need one.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::token::Token;

/// Why a [`TokenSource`] has no token to give.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenSourceError {
    /// The renewal failed; every call that waited for it gets this error, and the next call
    /// tries again.
    #[error("the token could not be renewed: {0}")]
    Renewal(String),
    /// The renewal gave a token that expires within the lead time already, so it would
    /// need renewing at once.
    #[error("the renewed token expires at {expires_at} (Unix seconds), within the source's lead time of {lead_secs} s: renew for longer, or shorten the lead time")]
    TooShort {
        /// When the renewed token expires, Unix seconds.
        expires_at: u64,
        /// The lead time, in seconds.
        lead_secs: u64,
    },
    /// The renewed token cannot be read.
    #[error("the renewed token cannot be read: {0}")]
    Unreadable(String),
}

type Renew = dyn Fn(&Token) -> Result<Token, String> + Send + Sync;
type Now = dyn Fn() -> SystemTime + Send + Sync;

/// Holds an agent's current token and renews it through a callback (minting again from
/// the issuer, or attenuating again from a parent token the agent holds) `lead` before it
/// expires.
///
/// - [`token`](Self::token) never gives a token that expires within the lead time: when
///   the current one does, the call renews it first.
/// - When many calls need a renewal at once, exactly one runs it (single flight); the others
///   wait for its result and all get the renewed token, or all get its error.
/// - A failed renewal is an error for every call that waited for it; the next call tries
///   again.
///
/// `Send + Sync`: share one source (in an `Arc`) between the agent's threads.
pub struct TokenSource {
    state: Mutex<State>,
    renewed: Condvar,
    renew: Box<Renew>,
    lead: Duration,
    now: Box<Now>,
}

struct State {
    current: Arc<Token>,
    /// When `current` expires, Unix seconds.
    expires_at: u64,
    /// Whether a renewal is running.
    renewing: bool,
    /// Counts the renewals that ended, so a waiter knows when the one it waited for did.
    flights: u64,
    /// The error of the last renewal that failed, with the flight it ended.
    failed: Option<(u64, TokenSourceError)>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("lead", &self.lead)
            .finish_non_exhaustive()
    }
}

fn expiry(token: &Token) -> Result<u64, TokenSourceError> {
    token
        .unverified_claims()
        .map(|c| c.expires_at)
        .map_err(|e| TokenSourceError::Unreadable(e.to_string()))
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl TokenSource {
    /// A source starting with `token`, renewed through `renew` (given the current token)
    /// `lead` before each token expires.
    pub fn new(
        token: Token,
        lead: Duration,
        renew: impl Fn(&Token) -> Result<Token, String> + Send + Sync + 'static,
    ) -> Result<TokenSource, TokenSourceError> {
        let expires_at = expiry(&token)?;
        Ok(TokenSource {
            state: Mutex::new(State {
                current: Arc::new(token),
                expires_at,
                renewing: false,
                flights: 0,
                failed: None,
            }),
            renewed: Condvar::new(),
            renew: Box::new(renew),
            lead,
            now: Box::new(SystemTime::now),
        })
    }

    /// Reads the time from `now` instead of the system clock (for tests, and agents that
    /// keep their own).
    #[must_use]
    pub fn with_clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.now = Box::new(now);
        self
    }

    /// The lead time.
    pub fn lead(&self) -> Duration {
        self.lead
    }

    /// Whether a token expiring at `expires_at` must be renewed now.
    fn due(&self, expires_at: u64) -> bool {
        unix((self.now)()).saturating_add(self.lead.as_secs()) >= expires_at
    }

    /// The current token, renewed first when it expires within the lead time. Blocks while
    /// a renewal runs (its own, or another call's).
    pub fn token(&self) -> Result<Arc<Token>, TokenSourceError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if !self.due(state.expires_at) {
                return Ok(Arc::clone(&state.current));
            }
            if !state.renewing {
                break;
            }
            // Another call is renewing: wait for its result.
            let flight = state.flights;
            while state.renewing && state.flights == flight {
                state = self
                    .renewed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if let Some((ended, e)) = &state.failed {
                if *ended == flight.saturating_add(1) {
                    return Err(e.clone());
                }
            }
        }
        // This call renews; the others wait.
        state.renewing = true;
        let current = Arc::clone(&state.current);
        drop(state);
        // A callback that panics is a failed renewal, not a source stuck renewing.
        let renewed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.renew)(&current)))
                .unwrap_or_else(|_| Err("the renewal callback panicked".into()));
        let outcome = renewed.map_err(TokenSourceError::Renewal).and_then(|t| {
            let expires_at = expiry(&t)?;
            if self.due(expires_at) {
                return Err(TokenSourceError::TooShort {
                    expires_at,
                    lead_secs: self.lead.as_secs(),
                });
            }
            Ok((t, expires_at))
        });
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.renewing = false;
        state.flights = state.flights.saturating_add(1);
        let result = match outcome {
            Ok((token, expires_at)) => {
                state.current = Arc::new(token);
                state.expires_at = expires_at;
                state.failed = None;
                Ok(Arc::clone(&state.current))
            }
            Err(e) => {
                state.failed = Some((state.flights, e.clone()));
                Err(e)
            }
        };
        drop(state);
        self.renewed.notify_all();
        result
    }
}
