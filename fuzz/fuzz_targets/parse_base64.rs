#![no_main]
//! Base64 text -> parse: a typed error or a token, never a panic.
libfuzzer_sys::fuzz_target!(|text: &str| {
    if let Ok(token) = valet_token::Token::from_base64(text) {
        let again = valet_token::Token::from_base64(&token.to_base64()).expect("round trip");
        assert_eq!(again.to_bytes(), token.to_bytes());
        let _ = token.unverified_claims();
    }
});
