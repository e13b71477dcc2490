//! Prints token sizes.
use std::time::Duration;
use valet_token::*;
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = RootKeyPair::generate(KeyId(1));
    let agent = SigningKey::generate();
    let pay = Audience::parse("https://pay.example.com")?;
    let t = Issuer::new(root.clone()).mint(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .audience(pay.clone())
            .scope(Scope::parse("payments:write")?)
            .expires_in(Duration::from_secs(900))
            .holder(agent.public())
            .detail(AuthorizationDetail::new("payment").max("amount", "1000.00".parse()?)),
    )?;
    println!("root {}", t.to_bytes().len());
    let c = t.attenuate(Attenuation::new().delegate("invoice-agent").max(
        "payment",
        "amount",
        "50.00".parse()?,
    ))?;
    println!(
        "root {} child {} (+{})",
        t.to_bytes().len(),
        c.to_bytes().len(),
        c.to_bytes().len() - t.to_bytes().len()
    );
    dump(c.to_bytes());
    let b = biscuit_auth::UnverifiedBiscuit::from(c.to_bytes())?;
    for i in 0..b.block_count() {
        println!("--- block {i}\n{}", b.print_block_source(i)?);
    }
    Ok(())
}
#[allow(dead_code)]
fn dump(bytes: &[u8]) {
    use prost::Message;
    let raw = biscuit_auth::format::schema::Biscuit::decode(bytes).unwrap();
    for sb in std::iter::once(&raw.authority).chain(raw.blocks.iter()) {
        let b = biscuit_auth::format::schema::Block::decode(&sb.block[..]).unwrap();
        println!(
            "signed {} block {} symbols {} ({:?}) facts {:?} checks {:?} sig {} nk {}",
            sb.encoded_len(),
            sb.block.len(),
            b.symbols.iter().map(|s| s.len() + 2).sum::<usize>(),
            b.symbols,
            b.facts.iter().map(|f| f.encoded_len()).collect::<Vec<_>>(),
            b.checks.iter().map(|f| f.encoded_len()).collect::<Vec<_>>(),
            sb.signature.len(),
            sb.next_key.encoded_len()
        );
    }
    println!("proof {}", raw.proof.encoded_len());
}
