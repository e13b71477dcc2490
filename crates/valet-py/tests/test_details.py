"""Transaction details carry any value Cedar reads in a context: dicts (records), lists of
any values, entity references. A float or a None is refused at any depth, naming its path;
a token limit on a field holding a dict or a list that is not of strings denies."""

from __future__ import annotations

from typing import Any

import pytest

import valet
from conftest import NOW, Payment


def nested(pay: Payment) -> dict[str, Any]:
    request = pay("10.00")
    request["authorization_details"].update(
        {
            "trip": {"legs": [{"from": "CDG", "to": "JFK", "seats": 2}], "refundable": False},
            "approver": {"__entity": {"type": "User", "id": "bob@example.com"}},
            "codes": [1, "two", ["three"]],
            "tags": ["q3"],
            "none": [],
        }
    )
    return request


def test_nested_details_read_back_as_sent(pay: Payment) -> None:
    request = nested(pay)
    assert valet.Request(request).to_dict() == request


def test_the_token_alone_accepts_nested_fields_it_does_not_limit(
    root: valet.RootKeyPair, child: valet.Token, pay: Payment
) -> None:
    verifier = valet.Verifier(valet.KeySet([root.public()]), accept_bearer_tokens=True)
    assert verifier.verify(child, nested(pay), now=NOW).allowed


@pytest.mark.parametrize("amount", [{"value": "10.00"}, [10], ["10.00", 1], {}])
def test_a_limit_on_a_dict_or_a_list_denies(
    root: valet.RootKeyPair, child: valet.Token, pay: Payment, amount: Any
) -> None:
    verifier = valet.Verifier(valet.KeySet([root.public()]), accept_bearer_tokens=True)
    verdict = verifier.verify(child, pay(amount), now=NOW)
    assert not verdict.allowed
    assert verdict.reasons[0]["kind"] == "limit"
    assert "which is not a decimal amount" in verdict.reasons[0]["message"]


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"legs": [{"fare": 12.5}]}, r"authorization_details.trip.legs\[0\].fare"),
        ({"legs": [None]}, r"trip.legs\[0\]"),
    ],
)
def test_a_bad_nested_value_names_its_path(
    authorizer: valet.Authorizer, child: valet.Token, pay: Payment, value: Any, path: str
) -> None:
    request = pay("10.00")
    request["authorization_details"]["trip"] = value
    with pytest.raises(valet.RequestError, match=path):
        authorizer.authorize(child, request)
