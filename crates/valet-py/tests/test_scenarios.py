"""The Rust scenarios, from Python: delegation, limits, audience, approval, revocation,
expiry and malformed transactions."""

from __future__ import annotations

import concurrent.futures
from decimal import Decimal

import pytest

import valet
from conftest import NOW, PAY, Payment


def messages(decision: valet.Decision) -> list[str]:
    return [r["message"] for r in decision.reasons]


def test_sub_agent_pays_within_its_limit(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    d = authorizer.authorize(child, pay("50.00"))
    assert d.outcome == "allow"
    assert d.allowed
    assert d.token_verified
    assert d.approval is None


def test_decimal_amount_is_accepted(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    assert authorizer.authorize(child, pay(Decimal("49.99"))).allowed


def test_one_cent_over_the_delegate_limit_is_denied(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    d = authorizer.authorize(child, pay("50.01"))
    assert d.outcome == "deny"
    assert not d.allowed
    first = d.reasons[0]
    assert first["layer"] == "token"
    assert first["block"] == 1
    assert first["message"] == (
        "block 1 (delegate: invoice-agent) limits payment amount to 50.00, requested `50.01`"
    )


def test_recipient_outside_the_delegate_set_is_denied(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    d = authorizer.authorize(child, pay("10.00", recipient="bob@example.com"))
    assert d.outcome == "deny"
    assert any("bob@example.com" in m for m in messages(d))
    assert any("invoice-agent" in m for m in messages(d))


def test_other_audience_is_denied(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    d = authorizer.authorize(child, pay("10.00", audience="https://evil.example"))
    assert d.outcome == "deny"
    assert any("presented at https://evil.example" in m for m in messages(d))


def test_large_payment_with_root_token_needs_approval(
    authorizer: valet.Authorizer, token: valet.Token, pay: Payment
) -> None:
    d = authorizer.authorize(token, pay("600.00"))
    assert d.outcome == "needs_approval"
    assert not d.allowed
    assert d.approval == "payments above 500.00 need the account owner's approval"
    assert any(p["id"] == "payments-approval-threshold" for p in d.determining_policies)


def test_policy_deny_names_the_policy(
    authorizer: valet.Authorizer, token: valet.Token, pay: Payment
) -> None:
    d = authorizer.authorize(token, pay("20.00", recipient="mallory@example.com"))
    assert d.outcome == "deny"
    assert any(r.get("policy") == "payments-recipient-allowlist" for r in d.reasons)


def test_revoked_parent_refuses_child(
    keys: valet.KeySet, token: valet.Token, child: valet.Token, pay: Payment
) -> None:
    authorizer = valet.Authorizer(keys, conftest_policies(), now=NOW, accept_bearer_tokens=True)
    assert authorizer.authorize(child, pay("10.00")).allowed
    parent_id = token.revocation_ids()[0]
    assert child.revocation_ids()[0] == parent_id
    authorizer.revoke(parent_id)
    assert authorizer.is_revoked(parent_id)
    d = authorizer.authorize(child, pay("10.00"))
    assert d.outcome == "deny"
    assert d.reasons[0]["kind"] == "revoked"


def test_revocations_from_a_file(
    tmp_path: object, keys: valet.KeySet, child: valet.Token, pay: Payment
) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "revoked.txt"
    path.write_text("# revoked ids\n" + child.revocation_ids()[1] + "\n")
    authorizer = valet.Authorizer(keys, conftest_policies(), now=NOW, revocations=path, accept_bearer_tokens=True)
    assert authorizer.authorize(child, pay("10.00")).outcome == "deny"


def test_expiry_between_two_steps(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    assert authorizer.authorize(child, pay("10.00")).allowed
    clock = authorizer.clock
    assert clock is not None
    clock.advance(301)
    assert clock.now() == NOW + 301
    d = authorizer.authorize(child, pay("10.00"))
    assert d.outcome == "deny"
    assert d.reasons[0]["kind"] == "expired"
    assert "expired at" in d.reasons[0]["message"]
    clock.set(NOW)
    assert authorizer.authorize(child, pay("10.00")).allowed


def test_malformed_transaction_is_denied_naming_the_field(
    authorizer: valet.Authorizer, token: valet.Token, pay: Payment
) -> None:
    request = pay("10.00")
    request["authorization_details"]["tip"] = "5.00"
    d = authorizer.authorize(token, request)
    assert d.outcome == "deny"
    assert any("`tip`" in m for m in messages(d)), messages(d)


def test_non_decimal_amount_is_denied_naming_the_field(
    authorizer: valet.Authorizer, token: valet.Token, pay: Payment
) -> None:
    d = authorizer.authorize(token, pay("fifty"))
    assert d.outcome == "deny"
    assert any("amount" in m for m in messages(d)), messages(d)


def test_audit_record_names_the_chain(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    d = authorizer.authorize(child, pay("50.00"))
    audit = d.audit
    assert audit["outcome"] == "allow"
    assert audit["subject"] == "alice@example.com"
    assert audit["agent"] == "invoice-agent"
    assert audit["token_id"] == "orchestrator-1"
    assert [link["delegate"] for link in audit["chain"]] == ["invoice-agent"]
    assert audit["authorization_details"]["amount"] == "50.00"
    as_dict = d.to_dict()
    assert as_dict["outcome"] == "allow"
    assert as_dict["audit"] == audit
    assert d.claims is not None and d.claims["subject"] == "alice@example.com"


def test_audit_log_file(
    tmp_path: object, keys: valet.KeySet, child: valet.Token, pay: Payment
) -> None:
    import json
    from pathlib import Path

    log = Path(str(tmp_path)) / "audit.jsonl"
    authorizer = valet.Authorizer(keys, conftest_policies(), now=NOW, audit_log=log, accept_bearer_tokens=True)
    authorizer.authorize(child, pay("50.00"))
    authorizer.authorize(child, pay("50.01"))
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["outcome"] for line in lines] == ["allow", "deny"]


def test_token_as_text_or_bytes(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    assert authorizer.authorize(child.to_base64(), pay("10.00")).allowed
    assert authorizer.authorize(child.to_bytes(), pay("10.00")).allowed


def test_prepared_request_is_reusable(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    request = valet.Request(pay("10.00"))
    assert request.to_dict()["authorization_details"]["amount"] == "10.00"
    assert authorizer.authorize(child, request).allowed
    assert authorizer.authorize(child, request).allowed


def test_threads_share_one_authorizer(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    amounts = ["10.00", "50.01"] * 50

    def judge(amount: str) -> str:
        return authorizer.authorize(child, pay(amount)).outcome

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(judge, amounts))
    assert outcomes == ["allow", "deny"] * 50


def test_verifier_alone_ignores_policies(root: valet.RootKeyPair, token: valet.Token, pay: Payment) -> None:
    verifier = valet.Verifier(valet.KeySet([root.public()]), accept_bearer_tokens=True)
    # 600.00 needs approval under the policies, but the token alone allows it.
    verdict = verifier.verify(token, pay("600.00"), now=NOW)
    assert verdict.allowed
    assert verdict.claims is not None
    refused = verifier.verify(token, pay("1000.01"), now=NOW)
    assert not refused.allowed
    assert refused.reasons[0]["kind"] == "limit"


def test_decision_text(authorizer: valet.Authorizer, child: valet.Token, pay: Payment) -> None:
    d = authorizer.authorize(child, pay("50.01"))
    assert str(d).startswith("deny")
    assert "Decision(outcome='deny'" in repr(d)
    assert PAY  # the module constant is the audience used throughout


def conftest_policies() -> str:
    from conftest import POLICIES

    return str(POLICIES)


def test_a_max_limit_refuses_a_negative_amount(
    authorizer: valet.Authorizer, token: valet.Token, child: valet.Token, pay: Payment
) -> None:
    # With `max 50.00`, `-1000000.00` once passed the token layer.
    for t in (token, child):
        d = authorizer.authorize(t, pay("-1000000.00"))
        assert d.outcome == "deny"
        assert any(
            "limits payment amount to at least 0.00, requested `-1000000.00`" in m
            for m in messages(d)
        ), messages(d)


def test_a_min_grants_negative_amounts_and_narrows_like_a_max(
    root: valet.RootKeyPair, keys: valet.KeySet, pay: Payment
) -> None:
    grant = valet.TokenBuilder(
        "alice@example.com",
        "https://orchestrator.example/client",
        audiences=[PAY],
        expires_in=600,
        bearer=True,
        details=[{"type": "payment", "limits": {"amount": {"min": "-100.00", "max": "1000.00"}}}],
    )
    refunds = valet.Issuer(root).mint(grant, now=NOW)
    verifier = valet.Verifier(keys, accept_bearer_tokens=True)
    assert verifier.verify(refunds, pay("-100.00"), now=NOW).allowed
    assert not verifier.verify(refunds, pay("-100.01"), now=NOW).allowed
    # A max alone in a child refuses negative amounts again; a min narrows.
    assert not verifier.verify(
        refunds.attenuate(max={"payment.amount": "50.00"}), pay("-1.00"), now=NOW
    ).allowed
    child = refunds.attenuate(delegate="invoice-agent", min={"payment.amount": "10.00"})
    d = verifier.verify(child, pay("9.99"), now=NOW)
    assert not d.allowed
    assert d.reasons[0]["message"] == (
        "block 1 (delegate: invoice-agent) limits payment amount to at least 10.00, requested `9.99`"
    )
    assert verifier.verify(child, pay("1000.00"), now=NOW).allowed
    with pytest.raises(valet.WideningError):
        refunds.attenuate(min=[("payment", "amount", Decimal("-100.01"))])
