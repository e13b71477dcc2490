#![no_main]
//! Request JSON -> authorize: a typed error or a decision, never a panic, and a request
//! outside the token's grant is never allowed.
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|text: &str| {
    let authorizer = common::authorizer();
    let Ok(request) = valet_token::Request::from_json(text, authorizer.limits()) else {
        return;
    };
    let decision =
        authorizer.authorize(common::root_token(), &request, &valet::Presentation::new());
    if decision.allowed() {
        assert!(
            request.audience.as_str() == "https://pay.example.com"
                || request.audience.as_str() == "https://tools.example.com"
        );
        if let Some(details) = &request.details {
            if details.kind() == "payment" {
                let amount = details.get("amount").and_then(|v| v.as_decimal());
                assert!(amount.is_some_and(|a| a <= "1000.00".parse().expect("decimal")));
            }
        }
    }
});
