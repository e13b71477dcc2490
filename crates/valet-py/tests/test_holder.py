"""Holder binding (proofs of possession), signed delegation and signed approvals."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

import valet
from conftest import NOW, PAY, POLICIES, Payment, payment

SUBJECT = "alice@example.com"


def grant(holder: valet.VerifyingKey | None = None) -> valet.TokenBuilder:
    """payments:write, payment at most 1000.00 USD, bound to `holder` when given; else it
    may be minted as a bearer token (the risky opt-in), bound by a later `.holder(key)`."""
    return valet.TokenBuilder(
        SUBJECT,
        "https://orchestrator.example/client",
        audiences=[PAY],
        scopes=["payments:write"],
        expires_in=600,
        holder=holder,
        bearer=holder is None,
        details=[
            {
                "type": "payment",
                "actions": ["pay_invoice"],
                "limits": {"amount": {"max": "1000.00"}, "currency": {"one_of": ["USD"]}},
            }
        ],
    )


@pytest.fixture(scope="module")
def agent() -> valet.SigningKey:
    return valet.SigningKey.generate()


@pytest.fixture(scope="module")
def owner() -> valet.SigningKey:
    """The account owner, who approves payments from their own device."""
    return valet.SigningKey.generate()


@pytest.fixture
def bound(root: valet.RootKeyPair, agent: valet.SigningKey) -> valet.Token:
    return valet.Issuer(root).mint(grant(agent.public()), now=NOW)


@pytest.fixture
def judge(keys: valet.KeySet, owner: valet.SigningKey) -> valet.Authorizer:
    """An authorizer at NOW trusting `owner` as an approver, that also accepts bearer
    tokens (the risky opt-in) for the approval tests that use them."""
    return valet.Authorizer(
        keys, POLICIES, now=valet.FixedClock(NOW), approvers=[owner.public()], accept_bearer_tokens=True
    )


def kinds(decision: valet.Decision | valet.Verdict) -> list[Any]:
    return [r.get("kind") for r in decision.reasons]


# Keys


def test_signing_key_text_and_repr(agent: valet.SigningKey) -> None:
    text = agent.to_private_text()
    assert "ed25519-private/" in text
    again = valet.SigningKey.from_private_text(text)
    assert again.public() == agent.public()
    secret = text.split("ed25519-private/")[1].strip()
    assert secret not in repr(agent)
    assert str(agent.public()) in repr(agent)
    with pytest.raises(valet.ValetKeyError):
        valet.SigningKey.from_private_text("private-key: nope")


def test_signing_key_files(tmp_path: Path, agent: valet.SigningKey) -> None:
    private = tmp_path / "agent.private"
    public = tmp_path / "agent.public"
    agent.write_private_file(private)
    assert os.stat(private).st_mode & 0o777 == 0o600
    assert valet.SigningKey.read_file(str(private)).public() == agent.public()
    with pytest.raises(valet.ValetKeyError, match="already exists"):
        agent.write_private_file(private)
    agent.write_private_file(private, force=True)
    os.chmod(private, 0o644)
    with pytest.raises(valet.ValetKeyError):
        valet.SigningKey.read_file(private)
    agent.public().write_file(public)
    assert valet.VerifyingKey.read_file(public) == agent.public()


def test_verifying_key_text(agent: valet.SigningKey) -> None:
    vk = agent.public()
    text = str(vk)
    assert text.startswith("ed25519/") and len(text) == len("ed25519/") + 64
    assert valet.VerifyingKey.parse(text) == vk
    assert valet.VerifyingKey.from_text(vk.to_text()) == vk
    assert "public-key: " + text in vk.to_text()
    assert len(vk.to_bytes()) == 32
    assert {vk, valet.VerifyingKey.parse(text)} == {vk}
    assert vk != valet.SigningKey.generate().public()
    assert text in repr(vk)
    for bad in ["", "ed25519/00", "ed25519/" + "zz" * 32, text[len("ed25519/") :]]:
        with pytest.raises(valet.ValetKeyError):
            valet.VerifyingKey.parse(bad)


def test_builder_and_attenuation_record_the_holder(
    root: valet.RootKeyPair, agent: valet.SigningKey
) -> None:
    sub = valet.SigningKey.generate()
    by_setter = valet.Issuer(root).mint(grant().holder(agent.public()), now=NOW)
    by_text = valet.Issuer(root).mint(grant(holder=None).holder(str(agent.public())), now=NOW)
    for token in (by_setter, by_text):
        assert token.claims()["holder"] == str(agent.public())
    child = valet.Issuer(root).mint(grant(), now=NOW).attenuate(holder=sub.public(), now=NOW)
    assert child.claims()["chain"][0]["holder"] == str(sub.public())
    with pytest.raises(TypeError):
        grant().holder(42)  # type: ignore[arg-type]
    with pytest.raises(valet.ValetKeyError):
        grant().holder("ed25519/nope")


# Proofs of possession


def test_a_stolen_bound_token_is_refused(
    judge: valet.Authorizer, bound: valet.Token, agent: valet.SigningKey, pay: Payment
) -> None:
    request = pay("50.00")
    stolen = judge.authorize(bound, request)
    assert stolen.outcome == "deny"
    assert "holder" in kinds(stolen)
    assert "proof of possession" in stolen.reasons[0]["message"]
    # The thief signs a proof with their own key: refused, since the token does not bind
    # that key, and the key is not recorded as a proof that verified.
    thief = valet.SigningKey.generate()
    forged = judge.authorize(bound, request, proof=valet.HolderProof.sign(thief, bound, request, now=NOW))
    assert forged.outcome == "deny"
    assert "a key this token is not bound to" in forged.reasons[0]["message"]
    assert forged.proof_key is None
    # The holder's proof is accepted, and the audit record names its key.
    proof = valet.HolderProof.sign(agent, bound, request, now=NOW)
    d = judge.authorize(bound, request, proof=proof)
    assert d.allowed, d.reasons
    assert d.proof_key == str(agent.public())
    assert d.audit["proof_key"] == str(agent.public())
    assert d.to_dict()["audit"]["proof_key"] == str(agent.public())


def test_the_token_as_text_or_bytes_takes_a_proof(
    judge: valet.Authorizer, bound: valet.Token, agent: valet.SigningKey, pay: Payment
) -> None:
    request = valet.Request(pay("50.00"))
    as_text = valet.HolderProof.sign(agent, bound, request, now=NOW)
    assert judge.authorize(bound.to_base64(), request, proof=as_text.to_json()).allowed
    as_bytes = valet.HolderProof.sign(agent, bound, request, now=NOW)
    assert judge.authorize(bound.to_bytes(), request, proof=as_bytes).allowed
    assert judge.authorize("not a token", request, proof=as_bytes).outcome == "deny"


@pytest.mark.parametrize(
    "signed_for",
    [
        payment("50.00", audience="https://other.example.com"),
        {**payment("50.00"), "action": "refund"},
        payment("49.00"),
        payment("50.00", recipient="mallory@example.com"),
    ],
    ids=["audience", "action", "amount", "recipient"],
)
def test_a_proof_for_another_request_is_refused(
    judge: valet.Authorizer,
    bound: valet.Token,
    agent: valet.SigningKey,
    signed_for: dict[str, Any],
) -> None:
    proof = valet.HolderProof.sign(agent, bound, signed_for, now=NOW)
    d = judge.authorize(bound, payment("50.00"), proof=proof)
    assert d.outcome == "deny"
    assert kinds(d) == ["proof"]
    assert "does not verify" in d.reasons[0]["message"]


def test_a_proof_for_another_token_is_refused(
    root: valet.RootKeyPair, judge: valet.Authorizer, bound: valet.Token, agent: valet.SigningKey
) -> None:
    other = valet.Issuer(root).mint(grant(agent.public()).token_id("other"), now=NOW)
    proof = valet.HolderProof.sign(agent, other, payment(), now=NOW)
    assert kinds(judge.authorize(bound, payment(), proof=proof)) == ["proof"]


def test_a_replayed_proof_is_refused(
    judge: valet.Authorizer, bound: valet.Token, agent: valet.SigningKey
) -> None:
    proof = valet.HolderProof.sign(agent, bound, payment(), now=NOW)
    assert judge.authorize(bound, payment(), proof=proof).allowed
    again = judge.authorize(bound, payment(), proof=proof)
    assert again.outcome == "deny"
    assert kinds(again) == ["proof"]
    assert "already used" in again.reasons[0]["message"]
    # Its JSON copy is the same proof.
    assert kinds(judge.authorize(bound, payment(), proof=proof.to_json())) == ["proof"]
    # A fresh proof (new nonce) is fine.
    assert judge.authorize(bound, payment(), proof=valet.HolderProof.sign(agent, bound, payment(), now=NOW)).allowed


def test_a_proof_outside_the_freshness_window_is_refused(
    keys: valet.KeySet, judge: valet.Authorizer, bound: valet.Token, agent: valet.SigningKey
) -> None:
    stale = valet.HolderProof.sign(agent, bound, payment(), now=NOW - 61)
    d = judge.authorize(bound, payment(), proof=stale)
    assert kinds(d) == ["proof"] and "sign a fresh proof" in d.reasons[0]["message"]
    ahead = valet.HolderProof.sign(agent, bound, payment(), now=NOW + 6)
    d = judge.authorize(bound, payment(), proof=ahead)
    assert kinds(d) == ["proof"] and "clock" in d.reasons[0]["message"]
    assert judge.authorize(bound, payment(), proof=valet.HolderProof.sign(agent, bound, payment(), now=NOW - 59)).allowed
    # A wider window accepts the stale proof; a narrower one refuses a recent proof.
    lenient = valet.Authorizer(keys, POLICIES, now=NOW, proof_window=(120, 10))
    assert lenient.authorize(bound, payment(), proof=stale).allowed
    assert lenient.authorize(bound, payment(), proof=ahead).allowed
    strict = valet.Verifier(keys, proof_window=10)
    recent = valet.HolderProof.sign(agent, bound, payment(), now=NOW - 11)
    assert kinds(strict.verify(bound, payment(), proof=recent, now=NOW)) == ["proof"]


def test_proof_json_and_bad_proofs(bound: valet.Token, agent: valet.SigningKey) -> None:
    nonce = "n" * 22
    proof = valet.HolderProof.sign(agent, bound, payment(), now=NOW, nonce=nonce)
    fields = json.loads(proof.to_json())
    assert set(fields) == {"key", "timestamp", "nonce", "signature"}
    assert fields["key"] == str(agent.public()) and fields["timestamp"] == NOW and fields["nonce"] == nonce
    again = valet.HolderProof.from_json(proof.to_json())
    assert again == proof
    assert (again.key, again.timestamp, again.nonce) == (agent.public(), NOW, nonce)
    assert len(again.signature) == 64
    assert nonce in repr(proof) and str(agent.public()) in repr(proof)
    with pytest.raises(valet.ProofError):
        valet.HolderProof.from_json("{}")
    with pytest.raises(valet.ProofError):
        valet.HolderProof.from_json(json.dumps({**fields, "extra": 1}))
    with pytest.raises(valet.ProofError, match="nonce"):
        valet.HolderProof.sign(agent, bound, payment(), now=NOW, nonce="short")
    assert issubclass(valet.ProofError, valet.TokenError)
    with pytest.raises(TypeError):
        valet.Authorizer(valet.KeySet(), POLICIES).authorize(bound, payment(), proof=42)  # type: ignore[arg-type]


def test_the_verifier_checks_proofs_and_refuses_replays(
    keys: valet.KeySet, bound: valet.Token, agent: valet.SigningKey
) -> None:
    verifier = valet.Verifier(keys)
    assert kinds(verifier.verify(bound, payment(), now=NOW)) == ["holder"]
    proof = valet.HolderProof.sign(agent, bound, payment(), now=NOW)
    verdict = verifier.verify(bound, payment(), proof=proof, now=NOW)
    assert verdict.allowed, verdict.reasons
    assert kinds(verifier.verify(bound, payment(), proof, NOW)) == ["proof"]


# Signed delegation


def test_each_signed_link_of_the_chain_is_verified(
    root: valet.RootKeyPair, judge: valet.Authorizer, agent: valet.SigningKey
) -> None:
    orchestrator = valet.Issuer(root).mint(grant(agent.public()), now=NOW)
    invoice = valet.SigningKey.generate()
    helper = valet.SigningKey.generate()
    child = orchestrator.attenuate_signed(
        agent, delegate="invoice-agent", holder=invoice.public(), max={"payment.amount": "100.00"}, now=NOW
    )
    grandchild = child.attenuate_signed(invoice, delegate="helper", holder=helper.public(), now=NOW)
    assert grandchild.block_count == 3
    # Unverified, the links are self-asserted.
    assert [link["verified"] for link in grandchild.claims()["chain"]] == [False, False]
    request = payment("50.00")
    d = judge.authorize(grandchild, request, proof=valet.HolderProof.sign(helper, grandchild, request, now=NOW))
    assert d.allowed, d.reasons
    chain = d.chain
    assert [link["verified"] for link in chain] == [True, True]
    assert [link["signed_by"] for link in chain] == [str(agent.public()), str(invoice.public())]
    assert [link["holder"] for link in chain] == [str(invoice.public()), str(helper.public())]
    assert [link["delegate"] for link in chain] == ["invoice-agent", "helper"]
    assert d.audit["chain"] == chain
    assert d.claims is not None and d.claims["chain"] == chain
    # The narrowing of a signed block still holds.
    over = payment("150.00")
    refused = judge.authorize(grandchild, over, proof=valet.HolderProof.sign(helper, grandchild, over, now=NOW))
    assert refused.outcome == "deny" and kinds(refused) == ["limit"]
    # The old holder's proof no longer serves the grandchild.
    old = judge.authorize(grandchild, request, proof=valet.HolderProof.sign(agent, grandchild, request, now=NOW))
    assert old.outcome == "deny"


def test_an_unsigned_link_is_not_verified(
    root: valet.RootKeyPair, judge: valet.Authorizer, agent: valet.SigningKey
) -> None:
    token = valet.Issuer(root).mint(grant(agent.public()), now=NOW)
    signed = token.attenuate_signed(agent, delegate="signed", now=NOW)
    unsigned = signed.attenuate(delegate="unsigned", now=NOW)
    d = judge.authorize(unsigned, payment(), proof=valet.HolderProof.sign(agent, unsigned, payment(), now=NOW))
    assert d.allowed, d.reasons
    assert [(link["delegate"], link["verified"]) for link in d.chain] == [("signed", True), ("unsigned", False)]
    assert "signed_by" not in d.chain[1]


def test_a_bound_token_is_delegated_only_with_its_holder_key(
    root: valet.RootKeyPair, agent: valet.SigningKey
) -> None:
    token = valet.Issuer(root).mint(grant(agent.public()), now=NOW)
    with pytest.raises(valet.TokenError, match="bound to"):
        token.attenuate_signed(valet.SigningKey.generate(), delegate="x", now=NOW)
    with pytest.raises(valet.WideningError):
        token.attenuate_signed(agent, max={"payment.amount": "5000.00"}, now=NOW)


# Bearer tokens


def test_bearer_tokens_are_refused_unless_accepted(
    keys: valet.KeySet, judge: valet.Authorizer, token: valet.Token, agent: valet.SigningKey
) -> None:
    # `judge` opts in: a bearer token is honoured, with no proof.
    d = judge.authorize(token, payment())
    assert d.allowed and d.proof_key is None and "proof_key" not in d.audit
    assert all(link.get("holder") is None for link in d.chain)
    # The defaults refuse it, and say what to do.
    strict = valet.Authorizer(keys, POLICIES, now=NOW)
    refused = strict.authorize(token, payment())
    assert refused.outcome == "deny" and kinds(refused) == ["holder"]
    assert "this token is a bearer token, which anyone holding a copy of it can use" in refused.reasons[0]["message"]
    assert "mint the token with the agent's public key" in refused.reasons[0]["message"]
    assert kinds(valet.Verifier(keys).verify(token, payment(), now=NOW)) == ["holder"]
    assert valet.Verifier(keys, accept_bearer_tokens=True).verify(token, payment(), now=NOW).allowed
    # A binding appended to a bearer token does not: anyone holding the token can add one.
    bound_child = token.attenuate(holder=agent.public(), now=NOW)
    d = strict.authorize(bound_child, payment(), proof=valet.HolderProof.sign(agent, bound_child, payment(), now=NOW))
    assert d.outcome == "deny" and kinds(d) == ["holder"]
    assert "issuer bound" in d.reasons[0]["message"]
    # The same binding, without the requirement, is enforced: a proof by that key is needed.
    assert not judge.authorize(bound_child, payment()).allowed
    d = judge.authorize(bound_child, payment(), proof=valet.HolderProof.sign(agent, bound_child, payment(), now=NOW))
    assert d.allowed, d.reasons


# Signed approvals


def approve(key: valet.SigningKey, token: valet.Token, request: dict[str, Any], **expiry: Any) -> valet.Approval:
    if not expiry:
        expiry = {"expires_in": 300, "now": NOW}
    return valet.Approval.sign(key, SUBJECT, token, request, **expiry)


def test_an_approval_allows_exactly_the_approved_transaction_once(
    judge: valet.Authorizer, token: valet.Token, owner: valet.SigningKey
) -> None:
    request = payment("900.00")
    assert judge.authorize(token, request).outcome == "needs_approval"
    approval = approve(owner, token, request)
    more = judge.authorize(token, payment("901.00"), approvals=[approval])
    assert more.outcome == "needs_approval"
    assert more.approvals[0]["accepted"] is False
    assert "another transaction" in more.approvals[0]["refused"]
    assert any(r["layer"] == "approval" for r in more.reasons)
    other = judge.authorize(token, payment("900.00", recipient="carol@example.com"), approvals=[approval])
    assert other.outcome == "needs_approval"
    d = judge.authorize(token, request, approvals=[approval])
    assert d.outcome == "allow", d.reasons
    assert d.approvals == [{"approver": str(owner.public()), "expires_at": NOW + 300, "accepted": True}]
    assert d.audit["approvals"] == d.approvals
    assert any(r["layer"] == "approval" and "approved by" in r["message"] for r in d.reasons)
    # Once.
    again = judge.authorize(token, request, approvals=[approval.to_json()])
    assert again.outcome == "needs_approval"
    assert "already used" in again.approvals[0]["refused"]


def test_an_expired_approval_does_not_approve(
    judge: valet.Authorizer, token: valet.Token, owner: valet.SigningKey
) -> None:
    request = payment("900.00")
    expired = approve(owner, token, request, expires_at=NOW - 1)
    d = judge.authorize(token, request, approvals=[expired])
    assert d.outcome == "needs_approval"
    assert "expired" in d.approvals[0]["refused"]
    too_long = approve(owner, token, request, expires_in=3600, now=NOW)
    d = judge.authorize(token, request, approvals=[too_long])
    assert d.outcome == "needs_approval"
    assert "further ahead" in d.approvals[0]["refused"]


def test_max_approval_lifetime(keys: valet.KeySet, token: valet.Token, owner: valet.SigningKey) -> None:
    request = payment("900.00")
    lenient = valet.Authorizer(
        keys, POLICIES, now=NOW, approvers=[str(owner.public())], max_approval_lifetime=7200, accept_bearer_tokens=True
    )
    assert lenient.authorize(token, request, approvals=[approve(owner, token, request, expires_in=3600, now=NOW)]).allowed
    strict = valet.Authorizer(
        keys, POLICIES, now=NOW, approvers=[owner.public()], max_approval_lifetime=60, accept_bearer_tokens=True
    )
    d = strict.authorize(token, request, approvals=[approve(owner, token, request)])
    assert d.outcome == "needs_approval"


def test_an_untrusted_approver_does_not_approve(
    keys: valet.KeySet, judge: valet.Authorizer, token: valet.Token, owner: valet.SigningKey
) -> None:
    request = payment("900.00")
    stranger = valet.SigningKey.generate()
    d = judge.authorize(token, request, approvals=[approve(stranger, token, request)])
    assert d.outcome == "needs_approval"
    assert "not a trusted approver" in d.approvals[0]["refused"]
    # An authorizer with no approvers trusts nobody.
    nobody = valet.Authorizer(keys, POLICIES, now=NOW, accept_bearer_tokens=True)
    assert nobody.authorize(token, request, approvals=[approve(owner, token, request)]).outcome == "needs_approval"


def test_an_approval_for_another_subject_does_not_approve(
    judge: valet.Authorizer, token: valet.Token, owner: valet.SigningKey
) -> None:
    request = payment("900.00")
    approval = valet.Approval.sign(owner, "bob@example.com", token, request, expires_in=300, now=NOW)
    d = judge.authorize(token, request, approvals=[approval])
    assert d.outcome == "needs_approval" and "subject" in d.approvals[0]["refused"]


def test_an_approval_does_not_override_a_deny(
    judge: valet.Authorizer, token: valet.Token, owner: valet.SigningKey
) -> None:
    request = payment("1500.00")  # over the token's 1000.00
    d = judge.authorize(token, request, approvals=[approve(owner, token, request)])
    assert d.outcome == "deny"


def test_approval_json_and_bad_approvals(owner: valet.SigningKey, token: valet.Token) -> None:
    request = valet.Request(payment("900.00"))
    approval = valet.Approval.sign(owner, SUBJECT, token, request, expires_at=NOW + 60)
    fields = json.loads(approval.to_json())
    assert set(fields) == {
        "approver",
        "subject",
        "token_digest",
        "audience",
        "action",
        "details_digest",
        "expires_at",
        "signature",
    }
    again = valet.Approval.from_json(approval.to_json())
    assert again == approval
    assert again.approver == owner.public()
    assert (again.subject, again.audience, again.action, again.expires_at) == (
        SUBJECT,
        PAY,
        "pay_invoice",
        NOW + 60,
    )
    assert len(again.details_digest) == 64 and len(again.signature) == 64
    assert again.token_digest == hashlib.sha256(token.to_bytes()).hexdigest()
    assert SUBJECT in repr(approval)
    with pytest.raises(valet.ProofError):
        valet.Approval.from_json("[]")
    with pytest.raises(TypeError):
        valet.Approval.sign(owner, SUBJECT, token, request)
    with pytest.raises(TypeError):
        valet.Approval.sign(owner, SUBJECT, request, expires_at=NOW + 60)  # type: ignore[call-arg,arg-type]
    with pytest.raises(TypeError):
        valet.Approval.sign(owner, SUBJECT, token, request, expires_at=NOW, expires_in=60)
    with pytest.raises(valet.ProofError, match="line break"):
        valet.Approval.sign(owner, "alice\nbob", token, request, expires_at=NOW + 60)
    judge = valet.Authorizer(valet.KeySet(), POLICIES)
    with pytest.raises(TypeError):
        judge.authorize(token, request, approvals=approval)  # type: ignore[arg-type]
    with pytest.raises(valet.ProofError):
        judge.authorize(token, request, approvals=["{}"])
    del fields["token_digest"]
    with pytest.raises(valet.ProofError, match="sign a new approval"):
        valet.Approval.from_json(json.dumps(fields))
    with pytest.raises(TypeError):
        valet.Authorizer(valet.KeySet(), POLICIES, approvers=owner.public())  # type: ignore[arg-type]


def test_a_bound_token_with_an_approval(
    judge: valet.Authorizer, bound: valet.Token, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    request = payment("900.00")
    proof = valet.HolderProof.sign(agent, bound, request, now=NOW)
    d = judge.authorize(bound, request, proof=proof, approvals=[approve(owner, bound, request)])
    assert d.allowed, d.reasons
    assert d.proof_key == str(agent.public()) and d.approvals[0]["accepted"]


def test_a_proof_is_accepted_once_across_threads(
    judge: valet.Authorizer, bound: valet.Token, agent: valet.SigningKey
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    proof = valet.HolderProof.sign(agent, bound, payment(), now=NOW)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: judge.authorize(bound, payment(), proof=proof).outcome, range(32)))
    assert sorted(outcomes) == ["allow"] + ["deny"] * 31


def test_an_approval_cannot_be_spent_by_another_token_of_the_same_person(
    root: valet.RootKeyPair, judge: valet.Authorizer, token: valet.Token, owner: valet.SigningKey
) -> None:
    request = payment("900.00")
    other = valet.Issuer(root).mint(grant(), now=NOW)
    assert other != token and other.unverified_claims()["subject"] == token.unverified_claims()["subject"]
    approval = approve(owner, token, request)
    d = judge.authorize(other, request, approvals=[approval])
    assert d.outcome == "needs_approval"
    assert "this approval is for another token" in d.approvals[0]["refused"]
    # An attenuated copy is another token too.
    child = token.attenuate(now=NOW)
    assert judge.authorize(child, request, approvals=[approval]).outcome == "needs_approval"
    # The token it was signed for spends it, once.
    assert judge.authorize(token, request, approvals=[approval]).allowed
