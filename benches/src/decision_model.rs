//! The author's model judged as a whole decision: the request of [`model_transaction`]
//! made by a real token through [`Authorizer::authorize`], so that what entity data costs
//! can be set against everything else a decision does (the token's signatures, the
//! holder's proof, every block's Datalog, the policies over each step of the chain).
//!
//! [`model_transaction`]: crate::model_transaction

use std::sync::Arc;
use std::time::Duration;

use valet::{
    Attenuation, Audience, Authorizer, EntityProvider, FixedClock, HolderOptions, HolderProof,
    Issuer, KeyId, KeySet, PolicyStore, Presentation, Request, RootKeyPair, Scope, SigningKey,
    Token, TokenBuilder, TransactionDetails,
};

use crate::{fixture, now, MODEL_FILE};

/// The resource server of the model: the audience of [`ModelToken`] and [`model_request`],
/// as of [`model_transaction`](crate::model_transaction).
pub const MODEL_AUDIENCE: &str = "https://files.example.com";

/// `agent-2` reads [`MODEL_FILE`] at [`MODEL_AUDIENCE`]: the request the token layer and
/// the policies see as [`model_transaction`](crate::model_transaction) describes it.
pub fn model_request() -> Request {
    Request::new(fixture(Audience::parse(MODEL_AUDIENCE)), "read_file")
        .details(TransactionDetails::new("file").with("identifier", MODEL_FILE))
}

/// The token of the model's decision and the keys it needs. The root grant (alice, through
/// the orchestrator's client, at [`MODEL_AUDIENCE`], scopes `files:read` and
/// `payments:write`, ten minutes) is bound to the client's key; the client delegates to
/// `agent-1`, bound to its key, and `agent-1` to `agent-2`, bound to its key, each
/// delegation signed by the holder before it, as agents delegate. Its proofs of
/// possession are by `agent-2`'s key.
pub struct ModelToken {
    root: RootKeyPair,
    holder: SigningKey,
    token: Token,
}

impl Default for ModelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl ModelToken {
    /// A fresh root key (id 1), fresh holder keys and the three-block token they make.
    pub fn new() -> Self {
        let root = RootKeyPair::generate(KeyId(1));
        let client = SigningKey::generate();
        let agent_1 = SigningKey::generate();
        let agent_2 = SigningKey::generate();
        let grant = TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .audience(fixture(Audience::parse(MODEL_AUDIENCE)))
            .scope(fixture(Scope::parse("files:read")))
            .scope(fixture(Scope::parse("payments:write")))
            .expires_in(Duration::from_secs(600))
            .token_id("bench-model-token")
            .holder(client.public());
        let token = fixture(Issuer::new(root.clone()).mint_at(grant, now()));
        let token = fixture(token.attenuate_signed(delegation(1, &agent_1), &client));
        let token = fixture(token.attenuate_signed(delegation(2, &agent_2), &agent_1));
        ModelToken {
            root,
            holder: agent_2,
            token,
        }
    }

    /// The token.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The verifier's key set: the root's public key.
    pub fn keys(&self) -> KeySet {
        KeySet::new().with(self.root.public())
    }

    /// What `agent-2` sends beside the token for `request`: a fresh proof of possession,
    /// signed at [`now`] with a random nonce.
    pub fn presentation(&self, request: &Request) -> Presentation {
        Presentation::new().proof(fixture(HolderProof::sign(
            &self.holder,
            &self.token,
            request,
            now(),
        )))
    }

    /// An authorizer trusting this token's root, judging with `store`, given `entities`
    /// when some, at [`now`], with the defaults for bearer tokens (refused). The clock
    /// stands still, so no nonce expires during a run: its replay cache has room for
    /// every proof a run presents.
    pub fn authorizer(
        &self,
        store: Arc<PolicyStore>,
        entities: Option<Arc<dyn EntityProvider>>,
    ) -> Authorizer {
        let builder = Authorizer::builder(self.keys(), store)
            .clock(Arc::new(FixedClock::new(now())))
            .holder_options(HolderOptions {
                replay_capacity: 2_000_000,
                replay_per_agent: 2_000_000,
                ..HolderOptions::default()
            });
        match entities {
            Some(provider) => builder.entities(provider),
            None => builder,
        }
        .build()
    }
}

/// The `i`-th delegation: to `agent-i`, bound to `key`, expiring a second earlier than
/// the block before it.
fn delegation(i: u64, key: &SigningKey) -> Attenuation {
    Attenuation::new()
        .delegate(format!("agent-{i}"))
        .holder(key.public())
        .expires_in(Duration::from_secs(600u64.saturating_sub(i)))
        .now(now())
}
