"""Bad input from Python: wrong types, float amounts, missing fields, truncated or altered
tokens, widening attenuations, broken policies and keys. Each raises the matching
`ValetError` subclass, or, when a token cannot be trusted, gives a deny."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import valet
from conftest import NOW, PAY, POLICIES, Payment


@pytest.mark.parametrize("amount", [50.0, 0.1, float("nan")])
def test_float_amount_raises_request_error(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment, amount: float
) -> None:
    with pytest.raises(valet.RequestError, match="authorization_details.amount"):
        authorizer.authorize(child, pay(amount))


def test_float_anywhere_in_details_raises(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    request = pay("10.00")
    request["authorization_details"]["fees"] = ["1", 2.5]
    with pytest.raises(valet.RequestError, match=r"authorization_details.fees\[1\]"):
        authorizer.authorize(child, request)


def test_request_must_be_a_dict(authorizer: valet.Authorizer, child: valet.Token) -> None:
    with pytest.raises(valet.RequestError, match="must be a dict"):
        authorizer.authorize(child, [PAY, "pay_invoice"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": 3}, "action"),
        ({"audience": None}, "audience"),
        ({"scopes": "payments:write"}, "scopes"),
        ({"extra": "x"}, "extra"),
    ],
)
def test_wrong_request_member_names_it(
    authorizer: valet.Authorizer,
    child: valet.Token,
    pay: Payment,
    change: dict[str, Any],
    field: str,
) -> None:
    request = pay("10.00")
    request.update(change)
    with pytest.raises(valet.RequestError, match=field):
        authorizer.authorize(child, request)


@pytest.mark.parametrize("missing", ["audience", "action"])
def test_missing_request_member_names_it(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment, missing: str
) -> None:
    request = pay("10.00")
    del request[missing]
    with pytest.raises(valet.RequestError, match=missing):
        authorizer.authorize(child, request)


def test_details_without_type(authorizer: valet.Authorizer, child: valet.Token, pay: Payment) -> None:
    request = pay("10.00")
    del request["authorization_details"]["type"]
    with pytest.raises(valet.RequestError, match="`type`"):
        authorizer.authorize(child, request)


def test_unsupported_value_type_names_the_field(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    request = pay("10.00")
    request["authorization_details"]["recipient"] = object()
    with pytest.raises(valet.RequestError, match="authorization_details.recipient"):
        authorizer.authorize(child, request)


def test_non_string_key(authorizer: valet.Authorizer, child: valet.Token, pay: Payment) -> None:
    request: dict[Any, Any] = pay("10.00")
    request["authorization_details"][7] = "x"
    with pytest.raises(valet.RequestError, match="keys must be str"):
        authorizer.authorize(child, request)


def test_request_error_is_a_valet_error() -> None:
    with pytest.raises(valet.ValetError):
        valet.Request({"audience": PAY})


def test_wrong_token_type(authorizer: valet.Authorizer, pay: Payment) -> None:
    with pytest.raises(TypeError, match="Token, str or bytes"):
        authorizer.authorize(42, pay("10.00"))  # type: ignore[arg-type]


def test_truncated_token_raises_format_error(child: valet.Token) -> None:
    text = child.to_base64()
    for cut in (1, len(text) // 2, len(text) - 5):
        with pytest.raises(valet.TokenFormatError):
            valet.Token.from_base64(text[:cut])
    with pytest.raises(valet.TokenFormatError):
        valet.Token.from_base64("not base64 at all!")
    with pytest.raises(valet.TokenError):
        valet.Token.from_bytes(b"")


def test_truncated_token_text_is_a_deny(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    d = authorizer.authorize(child.to_base64()[:40], pay("10.00"))
    assert d.outcome == "deny"
    assert d.reasons[0]["kind"] == "format"
    assert not d.token_verified


def test_altered_token_is_a_deny(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    data = bytearray(child.to_bytes())
    data[len(data) // 2] ^= 0x01
    d = authorizer.authorize(bytes(data), pay("10.00"))
    assert d.outcome == "deny"
    assert not d.token_verified


def test_unknown_key_is_a_deny(child: valet.Token, pay: Payment) -> None:
    other = valet.KeySet([valet.RootKeyPair.generate(key_id=9).public()])
    d = valet.Authorizer(other, POLICIES, now=NOW, accept_bearer_tokens=True).authorize(child, pay("10.00"))
    assert d.outcome == "deny"
    assert d.reasons[0]["kind"] == "unknown_key"


def test_another_key_with_the_same_id_is_a_deny(child: valet.Token, pay: Payment) -> None:
    impostor = valet.KeySet([valet.RootKeyPair.generate(key_id=1).public()])
    d = valet.Authorizer(impostor, POLICIES, now=NOW, accept_bearer_tokens=True).authorize(child, pay("10.00"))
    assert d.outcome == "deny"
    assert d.reasons[0]["kind"] == "signature"


@pytest.mark.parametrize(
    "narrowing",
    [
        {"max": {"payment.amount": "60.00"}},
        {"audiences": ["https://evil.example"]},
        {"scopes": ["payments:refund"]},
        {"one_of": {"payment.recipient": ["bob@example.com"]}},
        {"expires_in": 3600},
    ],
)
def test_widening_is_refused(child: valet.Token, narrowing: dict[str, Any]) -> None:
    with pytest.raises(valet.WideningError):
        child.attenuate(now=NOW, **narrowing)


def test_float_limit_is_refused(child: valet.Token) -> None:
    with pytest.raises(valet.TokenError, match="decimal"):
        child.attenuate(max={"payment.amount": 10.0})  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["amount", "payment.", ".amount"])
def test_limit_key_needs_type_and_field(child: valet.Token, key: str) -> None:
    with pytest.raises(valet.TokenError, match="detail type and a field"):
        child.attenuate(max={key: "1.00"})


def test_bad_audience_and_scope(child: valet.Token) -> None:
    with pytest.raises(valet.TokenError):
        child.attenuate(audiences=["not a uri"])
    with pytest.raises(TypeError):
        child.attenuate(audiences="https://pay.example.com")


def test_bad_datalog_check(child: valet.Token) -> None:
    with pytest.raises(valet.TokenError):
        child.attenuate(checks=["this is not datalog"])


def test_lifetime_over_issuer_maximum(root: valet.RootKeyPair) -> None:
    issuer = valet.Issuer(root, max_lifetime=60)
    grant = valet.TokenBuilder("alice@example.com", "client", audiences=[PAY], expires_in=61, bearer=True)
    with pytest.raises(valet.TokenError, match="longer than the issuer's maximum"):
        issuer.mint(grant)


def test_grant_detail_float_and_unknown_member(root: valet.RootKeyPair) -> None:
    with pytest.raises(valet.TokenError, match="float"):
        valet.TokenBuilder("a", "c").detail({"type": "payment", "limits": {"amount": {"max": 1.5}}})
    with pytest.raises(valet.TokenError, match="RFC 9396"):
        valet.TokenBuilder("a", "c").detail({"type": "payment", "colour": "red"})


def test_naive_datetime_is_refused() -> None:
    import datetime

    with pytest.raises(ValueError, match="naive"):
        valet.FixedClock(datetime.datetime(2027, 1, 1))
    with pytest.raises(TypeError):
        valet.FixedClock("now")  # type: ignore[arg-type]


def test_policy_error_has_diagnostics(tmp_path: Path, keys: valet.KeySet) -> None:
    shutil.copy(POLICIES / "schema.cedarschema", tmp_path / "schema.cedarschema")
    (tmp_path / "broken.cedar").write_text(
        'permit (principal, action == Acme::Action::"pay_invoice", resource)\nwhen { context.nope };\n'
    )
    with pytest.raises(valet.PolicyError) as info:
        valet.Authorizer(keys, tmp_path)
    diagnostics = info.value.diagnostics
    assert diagnostics, str(info.value)
    assert diagnostics[0]["file"].endswith("broken.cedar")
    assert diagnostics[0]["line"] == 2
    assert "broken.cedar:2:" in str(info.value)


def test_policy_syntax_error(tmp_path: Path, keys: valet.KeySet) -> None:
    shutil.copy(POLICIES / "schema.cedarschema", tmp_path / "schema.cedarschema")
    (tmp_path / "typo.cedar").write_text("permit (principal, action, resource\n")
    with pytest.raises(valet.PolicyError, match="typo.cedar:"):
        valet.Authorizer(keys, tmp_path)


def test_missing_policy_dir(tmp_path: Path, keys: valet.KeySet) -> None:
    with pytest.raises(valet.PolicyError):
        valet.Authorizer(keys, tmp_path / "nowhere")
    with pytest.raises(valet.PolicyError, match="schema"):
        valet.Authorizer(keys, tmp_path)


def test_bad_revocation_id(authorizer: valet.Authorizer) -> None:
    with pytest.raises(valet.RequestError):
        authorizer.revoke("zz-not-hex")
    assert not authorizer.is_revoked("zz")


def test_decimal_limit_is_accepted(child: valet.Token) -> None:
    narrower = child.attenuate(max=[("payment", "amount", Decimal("20.00"))])
    assert narrower.block_count == child.block_count + 1


def test_any_mapping_is_read_as_a_dict(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment
) -> None:
    # The stubs accept `Mapping`: a read-only view and a mapping that is not a dict work.
    from types import MappingProxyType

    request = pay("10.00")
    view = MappingProxyType(
        {**request, "authorization_details": MappingProxyType(request["authorization_details"])}
    )
    assert authorizer.authorize(child, view).allowed
    assert authorizer.authorize(child, valet.Request(view)).allowed
    narrower = child.attenuate(
        max=MappingProxyType({"payment.amount": "5.00"}),
        actions=MappingProxyType({"payment": ["pay_invoice"]}),
        now=NOW,
    )
    decision = authorizer.authorize(narrower, view)
    assert not decision.allowed
    assert "5.00" in " ".join(str(r) for r in decision.reasons)
