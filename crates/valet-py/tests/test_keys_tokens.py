"""Keys, key sets, minting, reading and attenuating tokens."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import valet
from conftest import NOW, PAY


def test_key_text_round_trip(root: valet.RootKeyPair) -> None:
    again = valet.RootKeyPair.from_private_text(root.to_private_text())
    assert again.id == root.id == 1
    assert again.public() == root.public()
    public = valet.RootPublicKey.from_text(root.public().to_text())
    assert public == root.public()
    assert "private" not in repr(root).lower() or "redacted" in repr(root).lower()
    assert root.to_private_text() not in repr(root)
    assert valet.KeyPair is valet.RootKeyPair


def test_key_files(tmp_path: Path) -> None:
    pair = valet.RootKeyPair.generate(key_id=7)
    private = tmp_path / "root.private"
    public = tmp_path / "root.public"
    pair.write_private_file(private)
    pair.public().write_file(str(public))
    assert os.stat(private).st_mode & 0o077 == 0
    assert valet.RootKeyPair.read_file(private).public() == pair.public()
    assert valet.RootPublicKey.read_file(public).id == 7
    with pytest.raises(valet.ValetKeyError, match="already exists"):
        pair.write_private_file(private)
    pair.write_private_file(private, force=True)
    os.chmod(private, 0o644)
    with pytest.raises(valet.ValetKeyError, match="chmod 600"):
        valet.RootKeyPair.read_file(private)


def test_bad_key_text() -> None:
    with pytest.raises(valet.ValetKeyError):
        valet.RootKeyPair.from_private_text("garbage")
    with pytest.raises(valet.ValetKeyError):
        valet.RootPublicKey.from_text("")
    with pytest.raises(valet.ValetKeyError):
        valet.RootKeyPair.read_file("/nonexistent/key")


def test_key_set() -> None:
    a = valet.RootKeyPair.generate(key_id=1).public()
    b = valet.RootKeyPair.generate(key_id=2).public()
    keys = valet.KeySet()
    assert len(keys) == 0
    keys.add(a)
    keys.add(b)
    assert keys.ids() == [1, 2]
    assert 2 in keys
    keys.remove(1)
    assert keys.ids() == [2]
    with pytest.raises(valet.ValetKeyError, match="no key with id 1"):
        keys.remove(1)


def test_builder_chains(root: valet.RootKeyPair) -> None:
    grant = (
        valet.TokenBuilder("alice@example.com", "https://orchestrator.example/client")
        .audience(PAY)
        .scope("payments:write")
        .expires_in(300)
        .token_id("chained")
        .max_depth(2)
        .detail({"type": "payment", "limits": {"amount": {"max": "10.00"}}})
        .bearer()
    )
    token = valet.Issuer(root).mint(grant, now=NOW)
    claims = token.claims()
    assert claims["subject"] == "alice@example.com"
    assert claims["audiences"] == [PAY]
    assert claims["scopes"] == ["payments:write"]
    assert claims["expires_at"] == NOW + 300
    assert claims["token_id"] == "chained"
    assert claims["remaining_depth"] == 2
    assert claims["authorization_details"][0]["limits"]["amount"] == {"max": "10.00"}


def test_missing_audience_is_refused(root: valet.RootKeyPair) -> None:
    with pytest.raises(valet.TokenError, match="audience"):
        valet.Issuer(root).mint(valet.TokenBuilder("a", "c", bearer=True).expires_in(60))


def test_minting_needs_a_holder_key_unless_bearer(root: valet.RootKeyPair) -> None:
    def grant(**extra: Any) -> valet.TokenBuilder:
        return valet.TokenBuilder("alice@example.com", "https://orchestrator.example/client",
                                  audiences=[PAY], expires_in=60, **extra)

    with pytest.raises(valet.TokenError) as refused:
        valet.Issuer(root).mint(grant(), now=NOW)
    assert type(refused.value) is valet.TokenError
    assert str(refused.value) == (
        "cannot mint a token bound to no holder key: bind the token to the agent's key with "
        "`TokenBuilder(..., holder=agent_key.public())`, or mint a bearer token, which anyone "
        "holding a copy can use, with `TokenBuilder(..., bearer=True)`"
    )
    agent = valet.SigningKey.generate()
    bound = valet.Issuer(root).mint(grant(holder=agent.public()), now=NOW)
    assert bound.claims()["holder"] == str(agent.public())
    for bearer in (grant(bearer=True), grant().bearer()):
        assert valet.Issuer(root).mint(bearer, now=NOW).claims().get("holder") is None
    # A holder key given with the opt-in still binds the token.
    both = valet.Issuer(root).mint(grant(bearer=True, holder=agent.public()), now=NOW)
    assert both.claims()["holder"] == str(agent.public())
    # Attenuating needs no opt-in.
    assert bound.attenuate(delegate="sub", now=NOW).block_count == 2


def test_base64_and_bytes_round_trip(child: valet.Token) -> None:
    assert valet.Token.from_base64(child.to_base64()) == child
    assert valet.Token.from_bytes(child.to_bytes()) == child
    assert hash(valet.Token.from_base64(child.to_base64())) == hash(child)
    assert child.key_id == 1


def test_attenuate_returns_a_new_token(token: valet.Token, child: valet.Token) -> None:
    assert token.block_count == 1
    assert child.block_count == 2
    assert child != token
    assert len(token.revocation_ids()) == 1
    assert len(child.revocation_ids()) == 2
    claims = child.claims()
    assert claims == child.unverified_claims()
    assert claims["chain"][0]["delegate"] == "invoice-agent"
    assert claims["expires_at"] == NOW + 300
    # The parent is unchanged.
    assert "chain" not in token.claims() or token.claims()["chain"] == []


def test_attenuate_every_keyword(child: valet.Token) -> None:
    import datetime

    grandchild = child.attenuate(
        delegate="sub-sub-agent",
        audiences=[PAY],
        scopes=["payments:write"],
        expires_at=datetime.datetime.fromtimestamp(NOW + 60, tz=datetime.timezone.utc),
        max=[("payment", "amount", "20.00")],
        one_of=[("payment", "recipient", ["alice@example.com"])],
        actions={"payment": ["pay_invoice"]},
        max_depth=0,
        checks=['check if time($t), $t >= 2020-01-01T00:00:00Z'],
        now=NOW,
    )
    assert grandchild.block_count == 3
    assert [link.get("delegate") for link in grandchild.claims()["chain"]] == [
        "invoice-agent",
        "sub-sub-agent",
    ]
    with pytest.raises(valet.ValetError):
        grandchild.attenuate(delegate="too-deep")
