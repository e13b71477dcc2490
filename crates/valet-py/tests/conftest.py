"""Shared fixtures: the bundled policies, a root key, a token minted for an orchestrator
and its copy attenuated for an invoice agent, judged at a fixed time.

The tokens are bearer tokens (``bearer=True``) and the authorizer accepts them
(``accept_bearer_tokens=True``), for the tests of other things than holder binding;
``test_holder.py`` binds its tokens to an agent's key and judges them with the defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import valet

REPO = Path(__file__).resolve().parents[3]
POLICIES = REPO / "policies"
FIXTURES = REPO / "fixtures"
PAY = "https://pay.example.com"
NOW = 1_800_000_000  # a fixed instant (2027-01-15T08:00:00Z)

Payment = Callable[..., dict[str, Any]]


def payment(
    amount: Any = "50.00",
    recipient: str = "alice@example.com",
    currency: str = "USD",
    audience: str = PAY,
) -> dict[str, Any]:
    """A pay_invoice request in the RFC 9396 dict shape."""
    return {
        "audience": audience,
        "action": "pay_invoice",
        "authorization_details": {
            "type": "payment",
            "amount": amount,
            "currency": currency,
            "recipient": recipient,
        },
    }


@pytest.fixture
def pay() -> Payment:
    return payment


@pytest.fixture(scope="session")
def root() -> valet.RootKeyPair:
    return valet.RootKeyPair.generate(key_id=1)


@pytest.fixture(scope="session")
def token(root: valet.RootKeyPair) -> valet.Token:
    """The orchestrator's token: payments:write, payment at most 1000.00 USD; a bearer
    token (the risky opt-in)."""
    grant = valet.TokenBuilder(
        "alice@example.com",
        "https://orchestrator.example/client",
        audiences=[PAY],
        scopes=["payments:write"],
        expires_in=600,
        token_id="orchestrator-1",
        bearer=True,
        details=[
            {
                "type": "payment",
                "actions": ["pay_invoice"],
                "limits": {"amount": {"max": "1000.00"}, "currency": {"one_of": ["USD"]}},
            }
        ],
    )
    return valet.Issuer(root).mint(grant, now=NOW)


@pytest.fixture(scope="session")
def child(token: valet.Token) -> valet.Token:
    """The invoice agent's copy: 50.00 at most, to alice only, for five minutes."""
    return token.attenuate(
        delegate="invoice-agent",
        max={"payment.amount": "50.00"},
        one_of={"payment.recipient": ["alice@example.com"]},
        expires_in=300,
        now=NOW,
    )


@pytest.fixture
def keys(root: valet.RootKeyPair) -> valet.KeySet:
    return valet.KeySet([root.public()])


@pytest.fixture
def authorizer(keys: valet.KeySet) -> valet.Authorizer:
    """An authorizer over the bundled policies with its own clock, stopped at NOW, that
    also accepts bearer tokens (the risky opt-in)."""
    return valet.Authorizer(keys, POLICIES, now=valet.FixedClock(NOW), accept_bearer_tokens=True)
