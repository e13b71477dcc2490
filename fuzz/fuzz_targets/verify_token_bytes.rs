#![no_main]
//! Token bytes -> verify: never panics, and nothing but the genuine token is allowed.
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let request = common::payment_request("10.00", "alice@example.com");
    let verdict =
        common::verifier().verify_bytes(data, &request, common::now(), &valet_token::NoRevocations);
    if verdict.is_allowed() {
        // Only a correctly signed token minted with the test key can be allowed.
        let token = valet_token::Token::from_bytes(data).expect("an allowed token parses");
        assert_eq!(token.key_id(), Some(valet_token::KeyId(1)));
    }
});
