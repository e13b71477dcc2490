"""McpTools: MCP JSON-RPC messages read as the requests a server judges, as the Rust layer
reads them, so that a client signs what the server judges."""

from __future__ import annotations

import json
from typing import Any

import pytest

import valet
from conftest import NOW, POLICIES

MCP = "https://pay.example.com/mcp"


def tools() -> valet.McpTools:
    """The tools of the bundled policies, as the Rust example tool server maps them."""
    return (
        valet.McpTools()
        .scope("read_calendar", "calendar:read")
        .scope("send_email", "email:send")
        .scope("pay_invoice", "payments:write")
        .details_from_arguments("send_email", "email", ["recipient", "subject"])
        .details_from_arguments("pay_invoice", "payment", ["amount", "currency", "recipient", "memo"])
    )


def call(name: str, arguments: dict[str, Any]) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return json.dumps(message).encode()


PAYMENT = {"amount": "50.00", "currency": "USD", "recipient": "alice@example.com"}


def test_a_mapped_tool_call_is_its_action_scopes_and_arguments() -> None:
    request = tools().request(MCP, call("pay_invoice", {**PAYMENT, "note": "ignored"}))
    assert isinstance(request, valet.Request)
    assert request.to_dict() == {
        "audience": MCP,
        "action": "pay_invoice",
        "authorization_details": {"type": "payment", **PAYMENT},
        "scopes": ["payments:write"],
    }


def test_each_setter_returns_a_new_mcp_tools() -> None:
    bare = valet.McpTools()
    scoped = bare.scope("pay_invoice", "payments:write")
    assert scoped is not bare
    body = call("pay_invoice", {})
    assert "scopes" not in bare.request(MCP, body).to_dict()
    assert scoped.request(MCP, body).to_dict()["scopes"] == ["payments:write"]
    mapped = scoped.details_from_arguments("pay_invoice", "payment", ["amount"])
    assert "authorization_details" not in scoped.request(MCP, call("pay_invoice", PAYMENT)).to_dict()
    assert mapped.request(MCP, call("pay_invoice", PAYMENT)).to_dict()["authorization_details"] == {
        "type": "payment",
        "amount": "50.00",
    }
    # A scope for every action comes after the action's own.
    every = scoped.scope("*", "mcp")
    assert every.request(MCP, body).to_dict()["scopes"] == ["payments:write", "mcp"]


def test_an_unmapped_tool_takes_authorization_details() -> None:
    details = {"type": "payment", **PAYMENT}
    request = valet.McpTools().request(MCP, call("pay_invoice", {"authorization_details": details}))
    assert request.to_dict()["authorization_details"] == details
    with pytest.raises(valet.RequestError, match="remove `authorization_details`"):
        tools().request(MCP, call("pay_invoice", {"authorization_details": details}))


def test_refusing_authorization_details_leaves_only_the_tools_opted_in() -> None:
    smuggled = {
        "amount": "5000.00",
        "recipient": "mallory@evil.example",
        "currency": "USD",
        "authorization_details": {"type": "payment", **PAYMENT, "amount": "1.00"},
    }
    strict = valet.McpTools().scope("pay_invoice", "payments:write").refuse_authorization_details()
    with pytest.raises(valet.RequestError, match="tool `pay_invoice` takes no `authorization_details` argument"):
        strict.request(MCP, call("pay_invoice", smuggled))
    assert "authorization_details" not in strict.request(MCP, call("pay_invoice", PAYMENT)).to_dict()
    opted = strict.details_argument("pay_invoice")
    assert opted is not strict
    judged = opted.request(MCP, call("pay_invoice", smuggled)).to_dict()
    assert judged["authorization_details"] == smuggled["authorization_details"]
    with pytest.raises(valet.RequestError, match="tool `send_email` takes no"):
        opted.request(MCP, call("send_email", smuggled))


def test_a_resource_argument_is_the_identifier() -> None:
    read = valet.McpTools().resource_argument("read_file", "path")
    request = read.request(MCP, call("read_file", {"path": "/srv/a.txt", "other": 1}))
    assert request.to_dict()["authorization_details"] == {"type": "read_file", "identifier": "/srv/a.txt"}
    with pytest.raises(valet.RequestError, match="takes its resource from argument `path`"):
        read.request(MCP, call("read_file", {}))


def test_protocol_messages_are_named_after_the_method() -> None:
    listing = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    assert tools().request(MCP, listing).to_dict() == {"audience": MCP, "action": "tools/list"}
    # A request with no body (a GET opening a stream, a DELETE ending a session).
    assert tools().request(MCP, b"", method="GET").to_dict() == {"audience": MCP, "action": "GET"}
    assert tools().request(MCP, "", method="DELETE").to_dict()["action"] == "DELETE"
    headers = {"Content-Type": "application/json", "Mcp-Session-Id": "abc"}
    assert tools().request(MCP, listing, headers=headers).to_dict()["action"] == "tools/list"
    pairs = [(b"content-type", b"application/json")]
    assert tools().request(MCP, listing, headers=pairs).to_dict()["action"] == "tools/list"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "the request body is not valid JSON"),
        (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', "batches are not accepted"),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call"}', "`tools/call` needs a `params` object"),
        (b'{"jsonrpc":"2.0","id":1}', "has no `method`"),
        (b'{"a":1,"a":2}', "appears more than once"),
    ],
)
def test_a_body_the_server_refuses_raises_request_error(body: bytes, message: str) -> None:
    with pytest.raises(valet.RequestError, match=message):
        tools().request(MCP, body)


def test_a_float_argument_is_refused_by_path() -> None:
    with pytest.raises(valet.RequestError, match="amount"):
        tools().request(MCP, call("pay_invoice", {**PAYMENT, "amount": 50.5}))


def test_bad_configuration_and_arguments() -> None:
    with pytest.raises(valet.TokenError, match="not a valid scope token"):
        valet.McpTools().scope("pay_invoice", "two words")
    with pytest.raises(TypeError, match="not one str"):
        valet.McpTools().details_from_arguments("pay_invoice", "payment", "amount")
    with pytest.raises(valet.RequestError, match="not an absolute URI"):
        tools().request("pay.example.com", b"")
    with pytest.raises(valet.RequestError, match="not an HTTP method"):
        tools().request(MCP, b"", method="GE T")
    with pytest.raises(valet.RequestError, match="not an HTTP header name"):
        tools().request(MCP, b"", headers={"bad name": "x"})
    with pytest.raises(TypeError, match="`body` must be bytes"):
        tools().request(MCP, 1)  # type: ignore[arg-type]


def test_a_proof_signed_over_the_request_is_accepted_for_it(root: valet.RootKeyPair) -> None:
    agent = valet.SigningKey.generate()
    grant = valet.TokenBuilder(
        "alice@example.com",
        "https://orchestrator.example/client",
        audiences=[MCP],
        scopes=["payments:write"],
        expires_in=600,
        holder=agent.public(),
        details=[{"type": "payment", "actions": ["pay_invoice"], "limits": {"amount": {"max": "100.00"}}}],
    )
    token = valet.Issuer(root).mint(grant, now=NOW)
    authorizer = valet.Authorizer(valet.KeySet([root.public()]), POLICIES, now=NOW)
    request = tools().request(MCP, call("pay_invoice", PAYMENT))
    proof = valet.HolderProof.sign(agent, token, request, now=NOW)
    assert authorizer.authorize(token, request, proof=proof).allowed
    # Signed over another call, the proof is refused.
    other = tools().request(MCP, call("pay_invoice", {**PAYMENT, "amount": "40.00"}))
    proof = valet.HolderProof.sign(agent, token, other, now=NOW)
    assert not authorizer.authorize(token, request, proof=proof).allowed
