"""Entity data for the policies: a list of Cedar entity dicts, or a callable asked per
decision, with the bundled Acme model (people in teams, files with owners and
sensitivity, agents in fleets)."""

from __future__ import annotations

import concurrent.futures
import copy
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

import valet
from conftest import NOW, POLICIES

FILES = "https://files.example.com"
MAIL = "https://mail.example.com"
SENSITIVE = "/finance/reports/q3.xlsx"

Entities = list[dict[str, Any]]


def bundled() -> Entities:
    """The bundled entity data, `policies/entities.json`."""
    data: Entities = json.loads((POLICIES / "entities.json").read_text())
    return data


def mint(root: valet.RootKeyPair, person: str, agent: str, audience: str, scope: str) -> valet.Token:
    """A token for `agent` acting for `person`; a bearer token (the risky opt-in), for the
    tests of entity data."""
    grant = valet.TokenBuilder(
        person, agent, audiences=[audience], scopes=[scope], expires_in=600, bearer=True
    )
    return valet.Issuer(root).mint(grant, now=NOW)


def read(identifier: str = SENSITIVE) -> dict[str, Any]:
    return {
        "audience": FILES,
        "action": "read_file",
        "authorization_details": {"type": "file", "identifier": identifier},
    }


def email(send_at: str) -> dict[str, Any]:
    return {
        "audience": MAIL,
        "action": "send_email",
        "authorization_details": {
            "type": "email",
            "recipient": "carol@example.com",
            "send_at": send_at,
        },
    }


def authorizer(
    keys: valet.KeySet,
    entities: Sequence[Mapping[str, Any]] | Callable[[dict[str, Any]], Sequence[Mapping[str, Any]]],
) -> valet.Authorizer:
    return valet.Authorizer(
        keys, POLICIES, now=NOW, accept_bearer_tokens=True, entities=entities
    )


def messages(decision: valet.Decision) -> str:
    return " | ".join(r["message"] for r in decision.reasons)


def policies(decision: valet.Decision) -> list[str]:
    return [p["id"] for p in decision.determining_policies]


def test_a_list_of_the_bundled_entities_decides_by_team(
    root: valet.RootKeyPair, keys: valet.KeySet
) -> None:
    az = authorizer(keys, bundled())
    alice = az.authorize(mint(root, "alice", "report-bot", FILES, "tools:read"), read())
    assert alice.outcome == "allow", messages(alice)
    assert policies(alice) == ["tools-read"]
    bob = az.authorize(mint(root, "bob", "report-bot", FILES, "tools:read"), read())
    assert bob.outcome == "deny"
    assert policies(bob) == ["tools-sensitive-files"]
    assert "open only to agents acting for the finance team" in messages(bob)
    # Without entity data nothing says the file is sensitive.
    plain = valet.Authorizer(keys, POLICIES, now=NOW, accept_bearer_tokens=True)
    assert plain.authorize(mint(root, "bob", "report-bot", FILES, "tools:read"), read()).allowed


def test_an_agent_in_the_quarantine_fleet_is_denied(
    root: valet.RootKeyPair, keys: valet.KeySet
) -> None:
    az = authorizer(keys, bundled())
    d = az.authorize(mint(root, "alice", "rogue-bot", FILES, "tools:read"), read("/shared/menu.pdf"))
    assert d.outcome == "deny"
    assert "agents-quarantine" in policies(d)
    assert "agents in the quarantine fleet may do nothing" in messages(d)


def test_an_email_scheduled_at_night_needs_approval(
    root: valet.RootKeyPair, keys: valet.KeySet
) -> None:
    az = authorizer(keys, bundled())
    token = mint(root, "alice", "report-bot", MAIL, "email:send")
    night = az.authorize(token, email("2027-01-15T23:30:00Z"))
    assert night.outcome == "needs_approval", messages(night)
    assert night.approval == "email scheduled outside 07:00-20:00 UTC needs the sender's approval"
    assert az.authorize(token, email("2027-01-15T09:30:00Z")).allowed


def test_a_callable_is_asked_for_the_entities_each_decision_names(
    root: valet.RootKeyPair, keys: valet.KeySet
) -> None:
    data = {(e["uid"]["type"], e["uid"]["id"]): e for e in bundled()}
    asked: list[dict[str, Any]] = []
    threads: list[int] = []

    def lookup(names: dict[str, Any]) -> Entities:
        asked.append(copy.deepcopy(names))
        threads.append(threading.get_ident())
        # The person's teams and the file's folders are needed too: give them all.
        wanted = [names["person"], *names["agents"], *names["resources"]]
        found = [data[(u["type"], u["id"])] for u in wanted if (u["type"], u["id"]) in data]
        parents = [
            data[(p["type"], p["id"])] for e in found for p in e["parents"] if (p["type"], p["id"]) in data
        ]
        folders = [v for (t, _), v in data.items() if t == "Acme::Folder"]
        return found + parents + folders

    az = authorizer(keys, lookup)
    alice = az.authorize(mint(root, "alice", "report-bot", FILES, "tools:read"), read())
    assert alice.outcome == "allow", messages(alice)
    assert asked == [
        {
            "agents": [{"type": "Acme::Agent", "id": "report-bot"}],
            "person": {"type": "Acme::Person", "id": "alice"},
            "resources": [{"type": "Acme::File", "id": SENSITIVE}],
        }
    ]
    assert threads == [threading.get_ident()]
    bob = az.authorize(mint(root, "bob", "report-bot", FILES, "tools:read"), read())
    assert bob.outcome == "deny"
    assert policies(bob) == ["tools-sensitive-files"]
    assert len(asked) == 2
    # A request the token refuses never reaches the policies: the callable is not asked.
    other = read()
    other["audience"] = "https://evil.example"
    refused = az.authorize(mint(root, "alice", "report-bot", FILES, "tools:read"), other)
    assert refused.outcome == "deny"
    assert len(asked) == 2


def test_a_callable_that_raises_is_a_deny_that_says_so(
    root: valet.RootKeyPair, keys: valet.KeySet
) -> None:
    def broken(names: dict[str, Any]) -> Entities:
        raise KeyError("the directory is down")

    d = authorizer(keys, broken).authorize(mint(root, "alice", "report-bot", FILES, "tools:read"), read())
    assert d.outcome == "deny"
    assert d.reasons[0]["layer"] == "policy"
    assert "the `entities` callable raised KeyError" in messages(d)
    assert "the directory is down" in messages(d)


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (None, "returned NoneType"),
        ({"uid": {"type": "Acme::Person", "id": "alice"}}, "returned dict"),
        ("[]", "returned str"),
        ([{"uid": {"type": "Acme::Person"}, "attrs": {}, "parents": []}], "item [0] that is not a Cedar entity"),
        ([{"uid": {"type": "Acme::Person", "id": "alice"}, "attrs": {"score": 1.5}, "parents": []}], "float"),
        # Read as Cedar entities, then checked against the schema by the policies.
        ([{"uid": {"type": "Acme::Person", "id": "alice"}, "attrs": {"email": 42}, "parents": []}], "does not fit the schema"),
        ([{"uid": {"type": "Person", "id": "alice"}, "attrs": {}, "parents": []}], "does not fit the schema"),
    ],
)
def test_a_callable_that_returns_no_valid_entities_is_a_deny(
    root: valet.RootKeyPair, keys: valet.KeySet, answer: Any, says: str
) -> None:
    d = authorizer(keys, lambda names: answer).authorize(
        mint(root, "alice", "report-bot", FILES, "tools:read"), read()
    )
    assert d.outcome == "deny"
    assert says in messages(d), messages(d)


def test_entity_dicts_that_do_not_fit_the_schema_raise_entity_error(keys: valet.KeySet) -> None:
    wrong_type = [{"uid": {"type": "Acme::Person", "id": "alice"}, "attrs": {"email": 42}, "parents": []}]
    with pytest.raises(valet.EntityError, match="`email`") as info:
        authorizer(keys, wrong_type)
    assert isinstance(info.value, valet.ValetError)
    assert "Cedar's JSON shape" in str(info.value)
    # The bundled types are namespaced: `Person` alone is not one.
    with pytest.raises(valet.EntityError, match="`Person`"):
        authorizer(keys, [{"uid": {"type": "Person", "id": "alice"}, "attrs": {}, "parents": []}])
    with pytest.raises(valet.EntityError, match=r"entities\[0\]\.attrs\.email"):
        authorizer(keys, [{"uid": {"type": "Acme::Person", "id": "a"}, "attrs": {"email": 1.5}, "parents": []}])
    with pytest.raises(valet.EntityError, match="parents"):
        authorizer(keys, [{"uid": {"type": "Acme::Person", "id": "a"}, "attrs": {}, "parents": "finance"}])
    with pytest.raises(TypeError, match="list of entity dicts"):
        authorizer(keys, {"uid": {"type": "Acme::Person", "id": "alice"}})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of entity dicts"):
        authorizer(keys, json.dumps(bundled()))  # type: ignore[arg-type]


def test_set_entities_replaces_the_list_at_once(
    root: valet.RootKeyPair, keys: valet.KeySet
) -> None:
    az = authorizer(keys, [])
    bob = mint(root, "bob", "report-bot", FILES, "tools:read")
    assert az.authorize(bob, read()).allowed
    az.set_entities(bundled())
    assert not az.authorize(bob, read()).allowed
    # A list that does not fit is refused, and the one in force stays.
    with pytest.raises(valet.EntityError, match="`email`"):
        az.set_entities([{"uid": {"type": "Acme::Person", "id": "bob"}, "attrs": {"email": 1}, "parents": []}])
    with pytest.raises(TypeError):
        az.set_entities(None)  # type: ignore[arg-type]
    assert not az.authorize(bob, read()).allowed
    with pytest.raises(valet.EntityError, match="callable"):
        authorizer(keys, lambda names: []).set_entities(bundled())
    with pytest.raises(valet.EntityError, match=r"entities=\[\]"):
        valet.Authorizer(keys, POLICIES).set_entities(bundled())


def test_a_callable_serves_threads_deciding_at_once(
    root: valet.RootKeyPair, keys: valet.KeySet
) -> None:
    data = bundled()
    calls = 0
    lock = threading.Lock()

    def lookup(names: dict[str, Any]) -> Entities:
        nonlocal calls
        with lock:
            calls += 1
        return data

    az = authorizer(keys, lookup)
    alice = mint(root, "alice", "report-bot", FILES, "tools:read")
    bob = mint(root, "bob", "report-bot", FILES, "tools:read")
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda t: az.authorize(t, read()).outcome, [alice, bob] * 8))
    assert outcomes == ["allow", "deny"] * 8
    assert calls == 16
