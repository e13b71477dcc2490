"""valet.mcpserver: an MCPServer of the official MCP SDK served by uvicorn behind Valet on a
loopback port, called with the SDK's own client (streamable HTTP over httpx2): each tool
call judged with its arguments as the transaction, refusals as HTTP answers, the tool
reading its decision."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent
from typing_extensions import TypedDict

import valet
from asgi_server import loopback_port, serve
from conftest import POLICIES
from valet.asgi import ValetMiddleware
from valet.mcpserver import ToolRule, decision, judged_request, mcp_tools, protect

SUBJECT = "alice@example.com"
MAX_BODY = 16384

RULES = {
    "read_calendar": ToolRule(scopes=["calendar:read"]),
    "send_email": ToolRule(scopes=["email:send"], details="email", fields=["recipient", "subject"]),
    "pay_invoice": ToolRule(
        scopes=["payments:write"], details="payment", fields=["amount", "currency", "recipient", "memo"]
    ),
}
TOOLS = mcp_tools(RULES)


@dataclasses.dataclass
class Call:
    """What a tool saw of its call."""

    tool: str
    decision: valet.Decision
    judged: dict[str, Any]


@dataclasses.dataclass
class Server:
    resource: str
    base: str
    app: ValetMiddleware
    calls: list[Call]
    owner: valet.SigningKey
    root: valet.RootKeyPair

    def mint(
        self,
        scopes: list[str],
        *,
        holder: valet.SigningKey | None = None,
        audience: str | None = None,
        subject: str = SUBJECT,
        details: list[dict[str, Any]] | None = None,
    ) -> valet.Token:
        grant = valet.TokenBuilder(
            subject,
            "https://orchestrator.example/client",
            audiences=[audience or self.resource],
            scopes=scopes,
            expires_in=600,
            holder=holder.public() if holder else None,
            bearer=holder is None,
            details=details
            if details is not None
            else [{"type": "payment", "actions": ["pay_invoice"], "limits": {"amount": {"max": "1000.00"}}}],
        )
        return valet.Issuer(self.root).mint(grant)


def acme(calls: list[Call]) -> MCPServer:
    server = MCPServer("acme")

    def seen(tool: str, ctx: Context) -> valet.Decision:
        found = decision(ctx)
        calls.append(Call(tool, found, judged_request(ctx).to_dict()))
        return found

    @server.tool()
    def read_calendar(ctx: Context) -> str:
        """Today's events."""
        claims = seen("read_calendar", ctx).claims or {}
        return f"no events today for {claims.get('subject')}"

    @server.tool()
    def send_email(recipient: str, subject: str, ctx: Context) -> str:
        """Sends an email in the person's name."""
        seen("send_email", ctx)
        return f"sent {subject!r} to {recipient}"

    @server.tool()
    def pay_invoice(amount: str, currency: str, recipient: str, ctx: Context, memo: str = "") -> str:
        """Pays an invoice."""
        seen("pay_invoice", ctx)
        return f"paid {amount} {currency} to {recipient}"

    return server


@contextlib.contextmanager
def started(
    root: valet.RootKeyPair,
    build: Callable[[list[Call]], MCPServer],
    rules: Mapping[str, ToolRule],
    policies: Path = POLICIES,
    **options: Any,
) -> Iterator[Server]:
    """The server `build` makes, behind `protect` with these rules, on a loopback port."""
    owner = valet.SigningKey.generate()
    calls: list[Call] = []
    authorizer = valet.Authorizer(
        valet.KeySet([root.public()]), policies, approvers=[owner.public()], accept_bearer_tokens=True
    )
    with loopback_port() as (sock, port):
        resource = f"http://127.0.0.1:{port}/mcp"
        app = protect(build(calls), authorizer, resource, tools=rules, **options)
        with serve(app, sock):
            yield Server(resource, f"http://127.0.0.1:{port}", app, calls, owner, root)


@pytest.fixture(scope="module")
def server(root: valet.RootKeyPair) -> Iterator[Server]:
    with started(root, acme, RULES, max_body_bytes=MAX_BODY, scopes=["calendar:read"]) as s:
        yield s


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


class Signing(httpx2.Auth):
    """The token with a fresh proof of possession over what the server judges, on every
    request; and an approval, when one is set."""

    requires_request_body = True

    def __init__(self, token: valet.Token, key: valet.SigningKey, audience: str) -> None:
        self.token = token
        self.key = key
        self.audience = audience
        self.approval: valet.Approval | None = None
        self.judged: list[valet.Request] = []

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in valet.CREDENTIAL_HEADERS]
        judged = TOOLS.request(self.audience, request.content, request.method, headers)
        self.judged.append(judged)
        proof = valet.HolderProof.sign(self.key, self.token, judged)
        request.headers["Authorization"] = f"Bearer {self.token.to_base64()}"
        request.headers["Valet-Proof"] = b64(proof.to_json())
        if self.approval is not None:
            request.headers["Valet-Approval"] = b64(self.approval.to_json())
        yield request


@dataclasses.dataclass
class Answer:
    status: int
    headers: httpx2.Headers
    body: bytes


@contextlib.asynccontextmanager
async def connect(
    server: Server,
    answers: list[Answer],
    *,
    token: valet.Token | None = None,
    auth: httpx2.Auth | None = None,
    initialize: bool = True,
) -> AsyncIterator[ClientSession]:
    """An SDK client session, initialized unless told; every HTTP answer is recorded in
    `answers` (the body of a refusal read)."""

    async def record(response: httpx2.Response) -> None:
        body = b""
        if response.status_code >= 400:
            body = await response.aread()
        answers.append(Answer(response.status_code, response.headers, body))

    headers = {"Authorization": f"Bearer {token.to_base64()}"} if token is not None else None
    async with httpx2.AsyncClient(headers=headers, auth=auth, event_hooks={"response": [record]}) as http:
        async with streamable_http_client(server.resource, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                if initialize:
                    await session.initialize()
                yield session


def text(result: Any) -> str:
    [content] = result.content
    assert isinstance(content, TextContent)
    return content.text


PAYMENT = {"amount": "50.00", "currency": "USD", "recipient": "bob@example.com"}


def test_a_session_initializes_lists_and_calls_each_call_judged_on_its_arguments(server: Server) -> None:
    token = server.mint(["calendar:read", "payments:write"])
    answers: list[Answer] = []

    async def run() -> None:
        async with connect(server, answers, token=token) as session:
            listed = await session.list_tools()
            assert sorted(t.name for t in listed.tools) == ["pay_invoice", "read_calendar", "send_email"]
            assert text(await session.call_tool("read_calendar", {})) == f"no events today for {SUBJECT}"
            paid = await session.call_tool("pay_invoice", PAYMENT)
            assert text(paid) == "paid 50.00 USD to bob@example.com"
            await session.call_tool("pay_invoice", {**PAYMENT, "amount": "70.00", "memo": "March"})

    start = len(server.calls)
    anyio.run(run)
    calls = server.calls[start:]
    assert [c.tool for c in calls] == ["read_calendar", "pay_invoice", "pay_invoice"]
    assert all(c.decision.allowed for c in calls)
    assert calls[0].decision.claims is not None and calls[0].decision.claims["subject"] == SUBJECT
    assert calls[0].judged == {"audience": server.resource, "action": "read_calendar", "scopes": ["calendar:read"]}
    # Each tool sees the decision of the HTTP request that carried its own call.
    assert calls[1].judged["authorization_details"] == {"type": "payment", **PAYMENT}
    assert calls[2].judged["authorization_details"] == {"type": "payment", **PAYMENT, "amount": "70.00", "memo": "March"}
    assert [c.decision.audit["authorization_details"]["amount"] for c in calls[1:]] == ["50.00", "70.00"]
    assert {a.status for a in answers} <= {200, 202}


def test_calls_with_a_proof_of_possession(server: Server) -> None:
    agent = valet.SigningKey.generate()
    auth = Signing(server.mint(["payments:write"], holder=agent), agent, server.resource)

    async def run() -> None:
        async with connect(server, [], auth=auth) as session:
            await session.call_tool("pay_invoice", PAYMENT)

    start = len(server.calls)
    anyio.run(run)
    [call] = server.calls[start:]
    assert call.decision.proof_key == str(agent.public())
    assert call.judged["authorization_details"] == {"type": "payment", **PAYMENT}
    assert valet.Request(call.judged).to_dict() in [r.to_dict() for r in auth.judged]


def test_a_denied_call_is_an_http_403_not_a_json_rpc_error(server: Server) -> None:
    token = server.mint(["payments:write"])
    answers: list[Answer] = []

    async def run() -> None:
        async with connect(server, answers, token=token) as session:
            with pytest.raises(MCPError):
                await session.call_tool("pay_invoice", {**PAYMENT, "recipient": "mallory@example.net"})

    start = len(server.calls)
    anyio.run(run)
    assert server.calls[start:] == []
    [refused] = [a for a in answers if a.status >= 400]
    assert refused.status == 403
    assert refused.headers["www-authenticate"].startswith('Bearer error="insufficient_scope", scope="payments:write"')
    assert refused.headers["content-type"] == "application/json"
    body = json.loads(refused.body)
    assert body["error"] == "insufficient_scope"
    assert "jsonrpc" not in body
    assert any(r.get("policy") == "payments-recipient-allowlist" for r in body["reasons"])


def test_approval_required_then_settled_with_a_signed_approval(server: Server) -> None:
    agent = valet.SigningKey.generate()
    token = server.mint(["payments:write"], holder=agent)
    auth = Signing(token, agent, server.resource)
    answers: list[Answer] = []
    large = {**PAYMENT, "amount": "600.00"}

    async def run() -> None:
        async with connect(server, answers, auth=auth) as session:
            with pytest.raises(MCPError):
                await session.call_tool("pay_invoice", large)
            [asked] = [a for a in answers if a.status >= 400]
            assert asked.status == 403
            body = json.loads(asked.body)
            assert body["error"] == "approval_required"
            assert body["approval"] == "payments above 500.00 need the account owner's approval"
            wanted = body["approval_request"]
            # The owner signs exactly the transaction the server asked about.
            judged = auth.judged[-1]
            approval = valet.Approval.sign(server.owner, wanted["subject"], token, judged, expires_in=300)
            assert approval.details_digest == wanted["details_digest"]
            assert approval.token_digest == wanted["token_digest"]
            auth.approval = approval
            assert text(await session.call_tool("pay_invoice", large)) == "paid 600.00 USD to bob@example.com"
            auth.approval = None

    start = len(server.calls)
    anyio.run(run)
    [call] = server.calls[start:]
    assert call.decision.allowed
    assert [a["accepted"] for a in call.decision.approvals] == [True]


def test_a_token_for_another_audience_is_refused_with_401(server: Server) -> None:
    token = server.mint(["calendar:read"], audience="https://other.example.com/mcp")
    answers: list[Answer] = []

    async def run() -> None:
        async with connect(server, answers, token=token, initialize=False) as session:
            with pytest.raises(MCPError):
                await session.initialize()

    anyio.run(run)
    refused = answers[0]
    assert refused.status == 401
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token"')
    assert f'resource_metadata="{server.base}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert json.loads(refused.body)["error"] == "invalid_token"


def test_metadata_at_both_rfc_9728_paths(server: Server) -> None:
    with httpx2.Client(base_url=server.base) as client:
        inserted = client.get("/.well-known/oauth-protected-resource/mcp")
        bare = client.get("/.well-known/oauth-protected-resource")
    for answer in (inserted, bare):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {
            "resource": server.resource,
            "scopes_supported": ["calendar:read"],
            "bearer_methods_supported": ["header"],
            "authorization_details_types_supported": ["email", "payment"],
        }
    assert inserted.content == bare.content


def test_a_body_over_the_limit_is_413(server: Server) -> None:
    token = server.mint(["payments:write"])
    headers = {"authorization": f"Bearer {token.to_base64()}", "content-type": "application/json"}
    large = b" " * (MAX_BODY + 1)

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b" " * 1024

    with httpx2.Client(base_url=server.base) as client:
        declared = client.post("/mcp", content=large, headers=headers)
        streamed = client.post("/mcp", content=chunks(), headers=headers)
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.json() == {
            "error": "invalid_request",
            "error_description": f"the request body is larger than {MAX_BODY} bytes",
        }
    assert "content-length" not in streamed.request.headers


def test_the_middleware_answers_exactly_as_the_gate(server: Server) -> None:
    bearer = server.mint(["payments:write"])
    other = server.mint(["payments:write"], audience="https://other.example.com/mcp")

    def call(amount: str, recipient: str = "bob@example.com") -> bytes:
        arguments = {"amount": amount, "currency": "USD", "recipient": recipient}
        message = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "pay_invoice", "arguments": arguments}}
        return json.dumps(message).encode()

    def auth(token: valet.Token) -> dict[str, str]:
        return {"authorization": f"Bearer {token.to_base64()}", "content-type": "application/json"}

    requests: list[tuple[str, str, dict[str, str], bytes]] = [
        ("GET", "/.well-known/oauth-protected-resource/mcp", {}, b""),
        ("POST", "/.well-known/oauth-protected-resource", {}, b""),
        ("POST", "/mcp", {"content-type": "application/json"}, call("5.00")),
        ("POST", "/mcp", auth(other), call("5.00")),
        ("POST", "/mcp", auth(bearer), call("5.00", "mallory@example.net")),
        ("POST", "/mcp", auth(bearer), call("600.00")),
        ("POST", "/mcp", auth(bearer), b"{"),
        ("POST", "/mcp", {**auth(bearer), "valet-proof": "%"}, call("5.00")),
        ("POST", "/mcp", auth(bearer), b" " * (MAX_BODY + 1)),
    ]
    statuses = []
    with httpx2.Client(base_url=server.base) as client:
        for method, path, headers, body in requests:
            request = client.build_request(method, path, headers=headers, content=body)
            wire = client.send(request)
            judged = server.app.gate.judge(method, path, request.headers.raw, body)
            assert not judged.allowed
            assert wire.status_code == judged.status, (path, wire.text)
            assert wire.content == judged.body
            for name, value in judged.headers:
                assert wire.headers.get_list(name) == [value]
            assert wire.headers["content-length"] == str(len(judged.body))
            statuses.append(wire.status_code)
    assert statuses == [200, 405, 401, 401, 403, 403, 400, 400, 413]


def test_tool_rules_and_the_decision_outside_a_request() -> None:
    assert mcp_tools({"pay_invoice": ToolRule(scopes=["payments:write"])}).request(
        "https://a.example/mcp", b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"pay_invoice"}}'
    ).to_dict()["scopes"] == ["payments:write"]
    read = mcp_tools({"read_file": ToolRule(resource="path")}).request(
        "https://a.example/mcp",
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/a"}}}',
    )
    assert read.to_dict()["authorization_details"] == {"type": "read_file", "identifier": "/a"}
    with pytest.raises(TypeError, match="not one str"):
        ToolRule(scopes="payments:write")
    with pytest.raises(TypeError, match="need a `details` type"):
        ToolRule(fields=["amount"])
    with pytest.raises(LookupError, match="no HTTP request"):
        decision(object())
    with pytest.raises(LookupError, match="no HTTP request"):
        judged_request(object())


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
READ_CALENDAR = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "read_calendar", "arguments": {}}}


def headers_of(token: valet.Token, session: str | None = None) -> dict[str, str]:
    headers = {
        "authorization": f"Bearer {token.to_base64()}",
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
    }
    if session is not None:
        headers["mcp-session-id"] = session
    return headers


def test_a_session_is_used_only_with_a_token_of_its_principal(server: Server) -> None:
    alice = server.mint(["calendar:read"])
    mallory = server.mint(["calendar:read"], subject="mallory@example.com")
    # Two agents of alice, through the same client: delegated to each its own agent.
    planner = alice.attenuate(delegate="planner-agent")
    other_agent = alice.attenuate(delegate="research-agent")
    with httpx2.Client(base_url=server.base, timeout=10) as client:
        opened = client.post("/mcp", json=INITIALIZE, headers=headers_of(planner))
        assert opened.status_code == 200, opened.text
        session = opened.headers["mcp-session-id"]
        ready = client.post("/mcp", json=INITIALIZED, headers=headers_of(planner, session))
        assert ready.status_code == 202, ready.text
        start = len(server.calls)
        for intruder in (mallory, other_agent, alice):
            # The SDK answers as if the session did not exist: a call, a stream, an end.
            called = client.post("/mcp", json=READ_CALENDAR, headers=headers_of(intruder, session))
            assert called.status_code == 404, called.text
            assert "Session not found" in called.text
            with client.stream("GET", "/mcp", headers=headers_of(intruder, session)) as stream:
                assert stream.status_code == 404
            ended = client.delete("/mcp", headers=headers_of(intruder, session))
            assert ended.status_code == 404
        assert server.calls[start:] == []
        # Its own principal still uses it; a renewed token of the same principal too.
        renewed = server.mint(["calendar:read"]).attenuate(delegate="planner-agent")
        for token in (planner, renewed):
            called = client.post("/mcp", json=READ_CALENDAR, headers=headers_of(token, session))
            assert called.status_code == 200, called.text
            assert f"no events today for {SUBJECT}" in called.text
        assert client.delete("/mcp", headers=headers_of(planner, session)).status_code == 200
    [first, second] = server.calls[start:]
    assert first.decision.claims is not None and first.decision.claims["chain"][0]["delegate"] == "planner-agent"


SMUGGLED = {
    "amount": "5000.00",
    "recipient": "mallory@evil.example",
    "currency": "USD",
    "authorization_details": {"type": "payment", "amount": "1.00", "currency": "USD", "recipient": "bob@example.com"},
}


def payments(calls: list[Call]) -> MCPServer:
    """Tools whose rules take no transaction from their arguments: `pay_invoice` with its
    scope only, `read_calendar` with no rule, and `settle`, whose function takes
    `authorization_details` and is opted in."""
    server = MCPServer("payments")

    @server.tool()
    def pay_invoice(amount: str, currency: str, recipient: str, ctx: Context) -> str:
        """Pays an invoice."""
        calls.append(Call("pay_invoice", decision(ctx), judged_request(ctx).to_dict()))
        return f"paid {amount} {currency} to {recipient}"

    @server.tool()
    def read_calendar(ctx: Context) -> str:
        """Today's events."""
        calls.append(Call("read_calendar", decision(ctx), judged_request(ctx).to_dict()))
        return "no events"

    @server.tool(name="send_email")
    def settle(authorization_details: dict[str, Any], ctx: Context) -> str:
        """Sends the email its authorization details describe."""
        calls.append(Call("send_email", decision(ctx), judged_request(ctx).to_dict()))
        return f"sent {authorization_details['subject']!r} to {authorization_details['recipient']}"

    return server


PAYMENT_RULES = {
    "pay_invoice": ToolRule(scopes=["payments:write"]),
    "send_email": ToolRule(scopes=["email:send"], details_argument=True),
}


def test_an_authorization_details_argument_is_refused_unless_the_tool_takes_it(root: valet.RootKeyPair) -> None:
    with started(root, payments, PAYMENT_RULES) as server:
        token = server.mint(
            ["payments:write", "email:send", "calendar:read"],
            details=[{"type": "payment", "limits": {"amount": {"max": "1000.00"}}}, {"type": "email"}],
        )
        answers: list[Answer] = []
        email = {"type": "email", "recipient": "bob@example.com", "subject": "hello"}

        async def run() -> None:
            async with connect(server, answers, token=token) as session:
                # Judged on 1.00 to bob, the SDK would drop the argument and pay 5000.00 to
                # mallory: the call is refused before it is judged.
                for tool in ("pay_invoice", "read_calendar"):
                    with pytest.raises(MCPError):
                        await session.call_tool(tool, SMUGGLED)
                sent = await session.call_tool("send_email", {"authorization_details": email})
                assert text(sent) == "sent 'hello' to bob@example.com"

        anyio.run(run)
    refused = [a for a in answers if a.status >= 400]
    assert [a.status for a in refused] == [400, 400]
    for answer, tool in zip(refused, ("pay_invoice", "read_calendar"), strict=True):
        assert json.loads(answer.body) == {
            "error": "invalid_request",
            "error_description": f"tool `{tool}` takes no `authorization_details` argument:"
            " remove it, and send the tool's own arguments",
        }
    [call] = server.calls
    assert call.tool == "send_email"
    assert call.judged["authorization_details"] == email


def test_an_mcp_tools_given_to_protect_refuses_authorization_details(root: valet.RootKeyPair) -> None:
    tools = valet.McpTools().scope("pay_invoice", "payments:write").details_argument("send_email")
    with started(root, payments, tools) as server:  # type: ignore[arg-type]
        token = server.mint(["payments:write"])
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "pay_invoice", "arguments": SMUGGLED}}
        with httpx2.Client(base_url=server.base) as client:
            refused = client.post("/mcp", json=message, headers=headers_of(token))
    assert refused.status_code == 400
    assert "takes no `authorization_details` argument" in refused.json()["error_description"]
    assert server.calls == []


def test_rules_that_do_not_fit_the_server_s_tools_are_refused_by_protect(authorizer: valet.Authorizer) -> None:
    def check(rules: Mapping[str, ToolRule]) -> None:
        protect(payments([]), authorizer, "https://tools.example.com/mcp", tools=rules)

    check({**PAYMENT_RULES, "*": ToolRule(scopes=["mcp"]), "resources/read": ToolRule(scopes=["files:read"])})
    with pytest.raises(ValueError, match=r"the rule for tool `pay_invoic` names no tool of the server \(its tools:"
                       r" `pay_invoice`, `read_calendar`, `send_email`\): register the tool before calling protect"):
        check({"pay_invoic": ToolRule(scopes=["payments:write"])})
    with pytest.raises(ValueError, match=r"tool `pay_invoice` has no argument `memo` \(its arguments: `amount`,"
                       r" `currency`, `recipient`\): correct the rule's `fields`"):
        check({"pay_invoice": ToolRule(details="payment", fields=["amount", "memo"])})
    with pytest.raises(ValueError, match="tool `pay_invoice` has no argument `invoice`.*correct the rule's `resource`"):
        check({"pay_invoice": ToolRule(resource="invoice")})
    with pytest.raises(ValueError, match="tool `send_email` has no argument `subject`"):
        check({"send_email": ToolRule(details="email", fields=["subject"])})
    with pytest.raises(ValueError, match="tool `pay_invoice` has no `authorization_details` parameter: remove"
                       " `details_argument=True`"):
        check({"pay_invoice": ToolRule(details_argument=True)})
    with pytest.raises(ValueError, match="the resource argument `authorization_details` of tool `send_email` is a"
                       " non-empty string: annotate its parameter `str`"):
        check({"send_email": ToolRule(resource="authorization_details")})
    with pytest.raises(ValueError, match="`\\*` is not a tool of the server: its rule can give `scopes` only"):
        check({"*": ToolRule(details="payment")})
    with pytest.raises(TypeError, match="takes no `authorization_details`: remove `details_argument`"):
        ToolRule(details="payment", details_argument=True)
    with pytest.raises(TypeError, match="protect reads the tools of an MCP SDK `MCPServer`"):
        protect(object(), authorizer, "https://tools.example.com/mcp", tools=PAYMENT_RULES)


TRIP_SCHEMA = """
@valet("agent")
entity Agent {
  subject: String,
  client: String,
  depth: Long,
  chain: Set<String>,
};
entity Resource;
@detail_type("trip")
action book_trip appliesTo {
  principal: [Agent],
  resource: [Resource],
  context: {
    audience: String,
    scopes: Set<String>,
    legs: Set<String>,
    seats: Long,
    cabin?: String,
    options?: { refundable: Bool },
  },
};
"""

TRIP_POLICIES = """
@id("trips")
permit (principal, action == Action::"book_trip", resource) when { context.seats <= 2 };

@id("no-pyongyang")
@reason("no trips to PYONGYANG")
forbid (principal, action == Action::"book_trip", resource) when { context.legs.contains("PYONGYANG") };
"""


class Options(TypedDict):
    refundable: bool


def trips(calls: list[Call]) -> MCPServer:
    server = MCPServer("trips")

    @server.tool()
    def book_trip(
        legs: list[str], seats: int, ctx: Context, cabin: str | None = None, options: Options | None = None
    ) -> str:
        """Books a trip."""
        calls.append(Call("book_trip", decision(ctx), {"legs": legs, "seats": seats, "cabin": cabin, "options": options}))
        return f"booked {'-'.join(legs)} for {seats}"

    return server


def test_judged_arguments_reach_the_tool_as_they_were_judged(root: valet.RootKeyPair, tmp_path: Path) -> None:
    (tmp_path / "schema.cedarschema").write_text(TRIP_SCHEMA)
    (tmp_path / "trips.cedar").write_text(TRIP_POLICIES)
    rules = {"book_trip": ToolRule(details="trip", fields=["legs", "seats", "cabin", "options"])}
    answers: list[Answer] = []
    # What the SDK would hand the tool otherwise: a list parsed from the string, 3 from
    # "3", 1 from true, None from "null", True from "true".
    refused: list[tuple[dict[str, Any], str]] = [
        ({"legs": '["JFK","PYONGYANG"]', "seats": 1}, "argument `legs` of tool `book_trip` is a string holding JSON"),
        ({"legs": ["JFK"], "seats": "3"}, "argument `seats` of tool `book_trip` would reach the tool converted to `int`"),
        ({"legs": ["JFK"], "seats": True}, "argument `seats` of tool `book_trip` would reach the tool converted"),
        ({"legs": ["JFK"], "seats": 1, "cabin": "null"}, "argument `cabin` of tool `book_trip` is a string holding JSON"),
        ({"legs": ["JFK"], "seats": 1, "options": {"refundable": "true"}}, "argument `options` of tool `book_trip`"),
    ]
    with started(root, trips, rules, policies=tmp_path) as server:
        token = server.mint(["trips"], details=[{"type": "trip"}])

        async def run() -> None:
            async with connect(server, answers, token=token) as session:
                for arguments, _ in refused:
                    with pytest.raises(MCPError):
                        await session.call_tool("book_trip", arguments)
                with pytest.raises(MCPError):
                    await session.call_tool("book_trip", {"legs": ["JFK", "PYONGYANG"], "seats": 1})
                booked = await session.call_tool(
                    "book_trip", {"legs": ["CDG", "JFK"], "seats": 2, "cabin": "42", "options": {"refundable": False}}
                )
                assert text(booked) == "booked CDG-JFK for 2"

        anyio.run(run)
    errors = [a for a in answers if a.status >= 400]
    assert [a.status for a in errors] == [400] * len(refused) + [403]
    for answer, (_, message) in zip(errors, refused, strict=False):
        body = json.loads(answer.body)
        assert body["error"] == "invalid_request"
        assert body["error_description"].startswith(message), body
    [call] = server.calls
    assert call.judged == {"legs": ["CDG", "JFK"], "seats": 2, "cabin": "42", "options": {"refundable": False}}
    assert call.decision.audit["authorization_details"] == {"type": "trip", **call.judged}
