"""Gate: whole HTTP requests judged by the Rust layer's code (ValetLayer::judge), its
metadata and refusals as the tower layer answers them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import valet
from conftest import NOW, POLICIES

MCP = "https://tools.example.com/mcp"
SUBJECT = "alice@example.com"

TOOLS = (
    valet.McpTools()
    .scope("read_calendar", "calendar:read")
    .scope("send_email", "email:send")
    .scope("pay_invoice", "payments:write")
    .details_from_arguments("send_email", "email", ["recipient", "subject"])
    .details_from_arguments("pay_invoice", "payment", ["amount", "currency", "recipient", "memo"])
)

Headers = list[tuple[bytes, bytes]]


def b64(text: str) -> bytes:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=")


def call(name: str, **arguments: Any) -> bytes:
    message = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    return json.dumps(message).encode()


LIST = b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}'


@pytest.fixture(scope="module")
def agent() -> valet.SigningKey:
    return valet.SigningKey.generate()


@pytest.fixture(scope="module")
def owner() -> valet.SigningKey:
    return valet.SigningKey.generate()


@pytest.fixture
def gate(keys: valet.KeySet, owner: valet.SigningKey) -> valet.Gate:
    authorizer = valet.Authorizer(keys, POLICIES, now=valet.FixedClock(NOW), approvers=[owner.public()])
    return valet.Gate(
        authorizer,
        MCP,
        tools=TOOLS,
        authorization_servers=["https://issuer.example.com"],
        scopes=["calendar:read", "payments:write"],
        resource_name="Acme tools",
    )


def mint(
    root: valet.RootKeyPair, agent: valet.SigningKey, scopes: list[str], audience: str = MCP
) -> valet.Token:
    grant = valet.TokenBuilder(
        SUBJECT,
        "https://orchestrator.example/client",
        audiences=[audience],
        scopes=scopes,
        expires_in=600,
        holder=agent.public(),
        details=[{"type": "payment", "actions": ["pay_invoice"], "limits": {"amount": {"max": "1000.00"}}}],
    )
    return valet.Issuer(root).mint(grant, now=NOW)


def signed(
    token: valet.Token,
    agent: valet.SigningKey,
    body: bytes,
    approvals: list[valet.Approval] = [],
    audience: str = MCP,
) -> Headers:
    """The headers of a POST of `body` with the token and a fresh proof over what the
    server judges."""
    proof = valet.HolderProof.sign(agent, token, TOOLS.request(audience, body), now=NOW)
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", b"Bearer " + token.to_base64().encode()),
        (b"valet-proof", b64(proof.to_json())),
    ]
    headers += [(b"valet-approval", b64(a.to_json())) for a in approvals]
    return headers


def header(answer: valet.GateAnswer, name: str) -> str:
    values = [v for n, v in answer.headers if n == name]
    assert len(values) == 1, answer.headers
    return values[0]


def body(answer: valet.GateAnswer) -> Any:
    return json.loads(answer.body)


def test_metadata_is_served_at_both_well_known_paths_without_a_token(gate: valet.Gate) -> None:
    assert gate.metadata_paths == ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
    assert gate.metadata_url == "https://tools.example.com/.well-known/oauth-protected-resource/mcp"
    for path in gate.metadata_paths:
        answer = gate.judge("GET", path, [], b"")
        assert not answer.allowed and answer.decision is None
        assert answer.status == 200
        assert header(answer, "content-type") == "application/json"
        assert body(answer) == {
            "resource": MCP,
            "authorization_servers": ["https://issuer.example.com"],
            "scopes_supported": ["calendar:read", "payments:write"],
            "bearer_methods_supported": ["header"],
            "authorization_details_types_supported": ["email", "payment"],
            "resource_name": "Acme tools",
        }
    assert gate.judge("POST", gate.metadata_paths[0], [], b"").status == 405
    quiet = valet.Gate(gate.authorizer, MCP, serve_metadata=False)
    assert quiet.metadata_paths == []
    assert quiet.judge("GET", "/.well-known/oauth-protected-resource/mcp", [], b"").status == 401


def test_no_token_is_401_asking_for_the_operation_scope(gate: valet.Gate) -> None:
    answer = gate.judge("POST", "/mcp", {"content-type": "application/json"}, call("pay_invoice", amount="5.00"))
    assert answer.status == 401
    assert header(answer, "www-authenticate") == (
        'Bearer resource_metadata="https://tools.example.com/.well-known/oauth-protected-resource/mcp", '
        'scope="payments:write"'
    )
    assert body(answer)["error"] == "unauthorized"
    # A message with no scope of its own asks for the scopes the metadata lists.
    answer = gate.judge("POST", "/mcp", [], LIST)
    assert 'scope="calendar:read payments:write"' in header(answer, "www-authenticate")


def test_an_allowed_call_is_admitted_with_its_decision_and_request(
    gate: valet.Gate, root: valet.RootKeyPair, agent: valet.SigningKey
) -> None:
    token = mint(root, agent, ["payments:write"])
    message = call("pay_invoice", amount="50.00", currency="USD", recipient="bob@example.com", note="x")
    answer = gate.judge("POST", b"/mcp", signed(token, agent, message), message)
    assert answer.allowed
    assert answer.status is None and answer.headers == [] and answer.body == b""
    assert answer.decision is not None and answer.decision.allowed
    assert answer.decision.claims is not None and answer.decision.claims["subject"] == SUBJECT
    assert answer.decision.proof_key == str(agent.public())
    assert answer.request is not None
    assert answer.request.to_dict() == TOOLS.request(MCP, message).to_dict()
    assert answer.request.to_dict()["authorization_details"] == {
        "type": "payment",
        "amount": "50.00",
        "currency": "USD",
        "recipient": "bob@example.com",
    }
    # A protocol message is judged by the token alone.
    listing = gate.judge("POST", "/mcp", signed(token, agent, LIST), LIST)
    assert listing.allowed and listing.request is not None
    assert listing.request.to_dict() == {"audience": MCP, "action": "tools/list"}


def test_a_replayed_proof_is_refused(gate: valet.Gate, root: valet.RootKeyPair, agent: valet.SigningKey) -> None:
    token = mint(root, agent, ["calendar:read"])
    message = call("read_calendar")
    headers = signed(token, agent, message)
    assert gate.judge("POST", "/mcp", headers, message).allowed
    again = gate.judge("POST", "/mcp", headers, message)
    assert again.status == 401
    assert body(again)["error"] == "invalid_token"


def test_a_token_for_another_audience_is_401(
    gate: valet.Gate, root: valet.RootKeyPair, agent: valet.SigningKey
) -> None:
    other = "https://other.example.com/mcp"
    token = mint(root, agent, ["calendar:read"], audience=other)
    message = call("read_calendar")
    answer = gate.judge("POST", "/mcp", signed(token, agent, message, audience=other), message)
    assert answer.status == 401
    challenge = header(answer, "www-authenticate")
    assert challenge.startswith('Bearer error="invalid_token"')
    assert 'scope="calendar:read"' in challenge
    assert body(answer)["error"] == "invalid_token"


def test_a_denied_call_is_403_insufficient_scope(
    gate: valet.Gate, root: valet.RootKeyPair, agent: valet.SigningKey
) -> None:
    token = mint(root, agent, ["payments:write"])
    message = call("pay_invoice", amount="50.00", currency="USD", recipient="mallory@example.net")
    answer = gate.judge("POST", "/mcp", signed(token, agent, message), message)
    assert answer.status == 403
    assert header(answer, "www-authenticate").startswith('Bearer error="insufficient_scope", scope="payments:write"')
    refusal = body(answer)
    assert refusal["error"] == "insufficient_scope"
    assert "allowlisted recipients" in refusal["error_description"]
    assert any(r.get("policy") == "payments-recipient-allowlist" for r in refusal["reasons"])


def test_approval_required_then_settled_with_a_signed_approval(
    gate: valet.Gate, root: valet.RootKeyPair, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    token = mint(root, agent, ["payments:write"])
    message = call("pay_invoice", amount="600.00", currency="USD", recipient="bob@example.com")
    answer = gate.judge("POST", "/mcp", signed(token, agent, message), message)
    assert answer.status == 403
    asked = body(answer)
    assert asked["error"] == "approval_required"
    assert asked["approval"] == "payments above 500.00 need the account owner's approval"
    wanted = asked["approval_request"]
    assert wanted["subject"] == SUBJECT
    assert wanted["action"] == "pay_invoice"
    assert wanted["authorization_details"]["amount"] == "600.00"

    request = TOOLS.request(MCP, message)
    approval = valet.Approval.sign(owner, SUBJECT, token, request, expires_in=300, now=NOW)
    assert approval.token_digest == wanted["token_digest"]
    assert approval.details_digest == wanted["details_digest"]
    settled = gate.judge("POST", "/mcp", signed(token, agent, message, [approval]), message)
    assert settled.allowed and settled.decision is not None
    assert [a["accepted"] for a in settled.decision.approvals] == [True]
    # Spent: the same approval does not settle the call twice.
    again = gate.judge("POST", "/mcp", signed(token, agent, message, [approval]), message)
    assert again.status == 403


def test_bodies_over_the_limit_are_413(keys: valet.KeySet) -> None:
    authorizer = valet.Authorizer(keys, POLICIES, now=NOW)
    gate = valet.Gate(authorizer, MCP, max_body_bytes=64)
    assert gate.max_body_bytes == 64
    too_long = gate.judge("POST", "/mcp", [], b" " * 65)
    assert too_long.status == 413
    assert body(too_long) == {
        "error": "invalid_request",
        "error_description": "the request body is larger than 64 bytes",
    }
    declared = gate.judge("POST", "/mcp", [(b"content-length", b"65")], b"")
    assert declared.status == 413
    assert declared.body == too_long.body
    # At the limit the body is read (and the missing token is what is answered).
    assert gate.judge("POST", "/mcp", [], b" " * 64).status == 401


def test_unreadable_requests_are_400(gate: valet.Gate, root: valet.RootKeyPair, agent: valet.SigningKey) -> None:
    token = mint(root, agent, ["calendar:read"])
    bearer = [(b"authorization", b"Bearer " + token.to_base64().encode())]
    answer = gate.judge("POST", "/mcp", bearer, b"{")
    assert answer.status == 400
    assert body(answer)["error_description"].startswith("the request body is not valid JSON")
    malformed = gate.judge("POST", "/mcp", bearer + [(b"valet-proof", b"%%%")], LIST)
    assert malformed.status == 400
    assert header(malformed, "www-authenticate").startswith('Bearer error="invalid_request"')
    twice = gate.judge("POST", "/mcp", bearer + bearer, LIST)
    assert twice.status == 400
    assert body(twice)["error_description"] == "send exactly one Authorization header"


def test_bad_arguments(gate: valet.Gate) -> None:
    with pytest.raises(ValueError, match="`ftp://tools.example.com`"):
        valet.Gate(gate.authorizer, "ftp://tools.example.com")
    with pytest.raises(valet.TokenError, match="not a valid scope token"):
        valet.Gate(gate.authorizer, MCP, scopes=["a b"])
    with pytest.raises(TypeError, match="not one str"):
        valet.Gate(gate.authorizer, MCP, scopes="calendar:read")
    with pytest.raises(valet.RequestError, match="not a request target"):
        gate.judge("POST", "mcp path", [], b"")
    with pytest.raises(TypeError, match="`body` must be bytes"):
        gate.judge("POST", "/mcp", [], "{}")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of \\(name, value\\) pairs"):
        gate.judge("POST", "/mcp", [b"authorization"], b"")  # type: ignore[list-item]
    assert valet.CREDENTIAL_HEADERS == ("authorization", "valet-proof", "valet-approval")
    assert gate.resource == MCP
    assert gate.tools is TOOLS
