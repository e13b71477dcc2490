#![no_main]
//! `.cedar` text -> policy load and validate (with the bundled schema): a store or a typed
//! error with diagnostics, never a panic.
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|text: &str| {
    let dir = common::scratch_dir("policy");
    let schema = include_str!("../../policies/schema.cedarschema");
    std::fs::write(dir.join("schema.cedarschema"), schema).expect("write schema");
    std::fs::write(dir.join("fuzz.cedar"), text).expect("write policy");
    match valet_policy::PolicyStore::load(&dir) {
        Ok(store) => {
            // Whatever loaded must decide without panicking.
            let chain = Vec::new();
            let scopes = vec!["payments:write".to_owned()];
            let details = valet_token::TransactionDetails::new("payment")
                .with("amount", "10.00")
                .with("currency", "USD")
                .with("recipient", "alice@example.com");
            let _ = store.evaluate(&valet_policy::Transaction {
                agent: "agent",
                subject: "alice@example.com",
                client: "https://client.example",
                chain: &chain,
                action: "pay_invoice",
                audience: "https://pay.example.com",
                scopes: &scopes,
                details: Some(&details),
                earlier: &[],
                verified: true,
            });
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
