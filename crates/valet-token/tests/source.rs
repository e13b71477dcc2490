//! The token source of a long-running agent: renewed a lead time before expiry, one
//! renewal however many calls need it, never an expired token, and a failed renewal an
//! error for every call that waited for it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valet_token::*;

const START: u64 = 1_795_000_000;

struct World {
    root: RootKeyPair,
    agent: SigningKey,
    clock: Arc<AtomicU64>,
}

impl World {
    fn new() -> World {
        World {
            root: RootKeyPair::generate(KeyId(1)),
            agent: SigningKey::generate(),
            clock: Arc::new(AtomicU64::new(START)),
        }
    }

    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.clock.load(Ordering::SeqCst))
    }

    /// A token that lives `secs` from now.
    fn mint(&self, secs: u64) -> Token {
        Issuer::new(self.root.clone())
            .mint_at(
                TokenBuilder::new("alice@example.com", "https://agent.example/client")
                    .audience(Audience::parse("https://tools.example.com").unwrap())
                    .scope(Scope::parse("tools:read").unwrap())
                    .expires_in(Duration::from_secs(secs))
                    .holder(self.agent.public()),
                self.now(),
            )
            .unwrap()
    }

    fn clock(&self) -> impl Fn() -> SystemTime + Send + Sync + 'static {
        let clock = Arc::clone(&self.clock);
        move || UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst))
    }
}

fn expires_at(token: &Token) -> u64 {
    token.unverified_claims().unwrap().expires_at
}

#[test]
fn fifty_calls_across_an_expiry_run_one_renewal_and_get_no_expired_token() {
    let w = Arc::new(World::new());
    let renewals = Arc::new(AtomicUsize::new(0));
    let source = {
        let (w2, renewals) = (Arc::clone(&w), Arc::clone(&renewals));
        TokenSource::new(w.mint(300), Duration::from_secs(60), move |_| {
            renewals.fetch_add(1, Ordering::SeqCst);
            // A slow issuer: every other call arrives while it works.
            thread::sleep(Duration::from_millis(100));
            Ok(w2.mint(300))
        })
        .unwrap()
        .with_clock(w.clock())
    };
    let first = source.token().unwrap();
    assert_eq!(renewals.load(Ordering::SeqCst), 0);
    // Step 27 of 40: the token is within its last minute.
    w.clock.fetch_add(250, Ordering::SeqCst);
    let source = Arc::new(source);
    let start = Arc::new(Barrier::new(50));
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (source, start, w) = (Arc::clone(&source), Arc::clone(&start), Arc::clone(&w));
            thread::spawn(move || {
                start.wait();
                let token = source.token().unwrap();
                let now = w.clock.load(Ordering::SeqCst);
                assert!(
                    expires_at(&token) > now + 60,
                    "a token within its lead time"
                );
                token
            })
        })
        .collect();
    let tokens: Vec<Arc<Token>> = calls.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(
        renewals.load(Ordering::SeqCst),
        1,
        "exactly one renewal ran"
    );
    assert!(tokens.iter().all(|t| Arc::ptr_eq(t, &tokens[0])));
    assert!(!Arc::ptr_eq(&tokens[0], &first));
    // Until the next lead time, no renewal.
    assert!(Arc::ptr_eq(&source.token().unwrap(), &tokens[0]));
    assert_eq!(renewals.load(Ordering::SeqCst), 1);
}

#[test]
fn a_failed_renewal_is_an_error_for_every_waiting_call_and_the_next_call_tries_again() {
    let w = Arc::new(World::new());
    let renewals = Arc::new(AtomicUsize::new(0));
    let source = {
        let (w2, renewals) = (Arc::clone(&w), Arc::clone(&renewals));
        TokenSource::new(w.mint(100), Duration::from_secs(60), move |_| {
            let n = renewals.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(100));
            if n == 0 {
                Err("the issuer answered 503".into())
            } else {
                Ok(w2.mint(300))
            }
        })
        .unwrap()
        .with_clock(w.clock())
    };
    // Within the token's last minute.
    w.clock.fetch_add(50, Ordering::SeqCst);
    let source = Arc::new(source);
    let start = Arc::new(Barrier::new(10));
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let (source, start) = (Arc::clone(&source), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                source.token()
            })
        })
        .collect();
    for call in calls {
        let err = call.join().unwrap().unwrap_err();
        assert_eq!(
            err,
            TokenSourceError::Renewal("the issuer answered 503".into())
        );
        assert!(err.to_string().contains("could not be renewed"), "{err}");
    }
    assert_eq!(renewals.load(Ordering::SeqCst), 1);
    // The next call renews again, and succeeds.
    let token = source.token().unwrap();
    assert_eq!(expires_at(&token), START + 50 + 300);
    assert_eq!(renewals.load(Ordering::SeqCst), 2);
}

#[test]
fn a_renewal_too_short_or_a_panicking_callback_is_an_error_not_a_stuck_source() {
    let w = Arc::new(World::new());
    let w2 = Arc::clone(&w);
    let short = TokenSource::new(
        w.mint(30),
        Duration::from_secs(60),
        move |_| Ok(w2.mint(30)),
    )
    .unwrap()
    .with_clock(w.clock());
    assert!(matches!(
        short.token(),
        Err(TokenSourceError::TooShort { lead_secs: 60, .. })
    ));
    let panicking = TokenSource::new(w.mint(30), Duration::from_secs(60), |_| {
        panic!("the issuer's client fell over")
    })
    .unwrap()
    .with_clock(w.clock());
    for _ in 0..2 {
        assert_eq!(
            panicking.token().unwrap_err(),
            TokenSourceError::Renewal("the renewal callback panicked".into())
        );
    }
}
