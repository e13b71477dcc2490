#![no_main]
//! Schema text -> load with the bundled policies: a store or a typed error, never a panic.
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|text: &str| {
    let dir = common::scratch_dir("schema");
    std::fs::write(dir.join("schema.cedarschema"), text).expect("write schema");
    std::fs::write(
        dir.join("payments.cedar"),
        include_str!("../../policies/payments.cedar"),
    )
    .expect("write policy");
    if let Err(e) = valet_policy::PolicyStore::load(&dir) {
        let _ = e.to_string();
    }
});
