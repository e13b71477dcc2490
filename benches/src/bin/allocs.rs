//! Heap allocations per `Authorizer::authorize_encoded` call (a token in bytes), counted by
//! a global allocator: a first presentation (fresh token bytes), a repeat presentation of
//! the same bytes, and a denial decided from the claims (wrong audience). A 3-block token,
//! 100 policies.

#![expect(
    unsafe_code,
    reason = "a counting global allocator must implement GlobalAlloc"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use valet::{Audience, Request};
use valet_benches::{authorizer, fixture, payment, request, Fixture};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and bytes per call of `f`, averaged over `rounds` calls.
fn count(rounds: u64, mut f: impl FnMut(u64)) -> (u64, u64) {
    let (a0, b0) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    for i in 0..rounds {
        f(i);
    }
    let (a1, b1) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    ((a1 - a0) / rounds, (b1 - b0) / rounds)
}

fn main() {
    let fx = Fixture::new();
    let az = authorizer(&fx, 100);
    let req = request();
    let rounds = 50;
    let fresh: Vec<Vec<u8>> = (0..rounds)
        .map(|_| fx.token(3).to_bytes().to_vec())
        .collect();
    let (first, first_bytes) = count(rounds, |i| {
        if let Some(bytes) = fresh.get(i as usize) {
            std::hint::black_box(az.authorize_encoded(
                valet::Encoded::Bytes(bytes),
                &req,
                &valet::Presentation::new(),
            ));
        }
    });
    let bytes = fx.token(3).to_bytes().to_vec();
    az.authorize_encoded(
        valet::Encoded::Bytes(&bytes),
        &req,
        &valet::Presentation::new(),
    );
    let (repeat, repeat_bytes) = count(rounds, |_| {
        std::hint::black_box(az.authorize_encoded(
            valet::Encoded::Bytes(&bytes),
            &req,
            &valet::Presentation::new(),
        ));
    });
    let token = fx.token(3);
    let elsewhere = Request::new(
        fixture(Audience::parse("https://evil.example")),
        "pay_invoice",
    )
    .details(payment());
    let (deny, deny_bytes) = count(rounds, |_| {
        std::hint::black_box(az.authorize(&token, &elsewhere, &valet::Presentation::new()));
    });
    println!("allocs.first={first}");
    println!("allocs.first_bytes={first_bytes}");
    println!("allocs.repeat={repeat}");
    println!("allocs.repeat_bytes={repeat_bytes}");
    println!("allocs.deny_audience={deny}");
    println!("allocs.deny_audience_bytes={deny_bytes}");
}
