"""valet.asgi.ValetMiddleware: each HTTP request judged by a Gate before the application,
the gate's answers sent as they are, admitted requests passed on without their credentials
and with the decision in the scope's state."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

import valet
import valet.asgi
from asgi_server import loopback_port, serve
from conftest import NOW, POLICIES
from valet.asgi import Message, Scope, ValetMiddleware

MCP = "https://tools.example.com/mcp"
TOOLS = valet.McpTools().scope("pay_invoice", "payments:write").details_from_arguments(
    "pay_invoice", "payment", ["amount", "currency", "recipient"]
)


def call(amount: str = "50.00", recipient: str = "bob@example.com") -> bytes:
    arguments = {"amount": amount, "currency": "USD", "recipient": recipient}
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "pay_invoice", "arguments": arguments}}
    return json.dumps(message).encode()


def mint(root: valet.RootKeyPair, audience: str = MCP, now: int | None = NOW) -> valet.Token:
    grant = valet.TokenBuilder(
        "alice@example.com",
        "https://orchestrator.example/client",
        audiences=[audience],
        scopes=["payments:write"],
        expires_in=600,
        bearer=True,
    )
    return valet.Issuer(root).mint(grant, now=now)


@pytest.fixture
def gate(authorizer: valet.Authorizer) -> valet.Gate:
    """A gate over the bundled policies at NOW that accepts bearer tokens (the risky
    opt-in), with a small body limit."""
    return valet.Gate(authorizer, MCP, tools=TOOLS, max_body_bytes=256)


class Inner:
    """An ASGI app that records what it is given, reads the whole body, then one more
    message, and answers 200."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []
        self.received: list[Message] = []

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "lifespan":
            self.received.append(await receive())
            await send({"type": "lifespan.startup.complete"})
            return
        while True:
            message = await receive()
            self.received.append(message)
            if not message.get("more_body", False):
                break
        self.received.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"inner"})


class Exchange:
    """One request through an ASGI app in process: the messages it receives, and what it
    sends back."""

    def __init__(self, chunks: list[bytes], *, disconnect: bool = False) -> None:
        self.incoming: list[Message] = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
        ]
        if disconnect:
            self.incoming = [{"type": "http.disconnect"}]
        self.receive_calls = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        self.receive_calls += 1
        if self.incoming:
            return self.incoming.pop(0)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def run(self, app: Callable[..., Awaitable[None]], scope: Scope) -> None:
        async def main() -> None:
            await app(scope, self.receive, self.send)

        asyncio.run(main())

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(bytes(n), bytes(v)) for n, v in self.sent[0]["headers"]]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def http_scope(headers: list[tuple[bytes, bytes]], path: str = "/mcp", method: str = "POST") -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("tools.example.com", 443),
    }


def test_an_admitted_request_reaches_the_app_without_its_credentials(
    gate: valet.Gate, root: valet.RootKeyPair
) -> None:
    token = mint(root)
    headers = [
        (b"content-type", b"application/json"),
        (b"Authorization", b"Bearer " + token.to_base64().encode()),
        (b"x-trace", b"abc"),
    ]
    scope = http_scope(headers)
    inner = Inner()
    exchange = Exchange([call()[:10], call()[10:]])
    exchange.run(ValetMiddleware(inner, gate), scope)
    assert exchange.status == 200 and exchange.body == b"inner"
    [seen] = inner.scopes
    assert seen["headers"] == [(b"content-type", b"application/json"), (b"x-trace", b"abc")]
    # The body is replayed whole, once; then the app gets the server's own messages.
    assert inner.received == [
        {"type": "http.request", "body": call(), "more_body": False},
        {"type": "http.disconnect"},
    ]
    decision = seen["state"]["valet_decision"]
    assert isinstance(decision, valet.Decision) and decision.allowed
    assert valet.asgi.decision(seen) is decision
    assert decision.claims is not None and decision.claims["subject"] == "alice@example.com"
    judged = valet.asgi.judged_request(seen)
    assert judged.to_dict() == TOOLS.request(MCP, call()).to_dict()
    # The scope the server gave is left as it was.
    assert scope["headers"] == headers and "state" not in scope


def test_the_gate_answer_is_sent_and_the_app_not_called(gate: valet.Gate, root: valet.RootKeyPair) -> None:
    inner = Inner()
    middleware = ValetMiddleware(inner, gate)
    cases = [
        http_scope([]),  # no token
        http_scope([(b"authorization", b"Bearer " + mint(root, "https://other.example").to_base64().encode())]),
        http_scope([(b"authorization", b"Bearer " + mint(root).to_base64().encode())]),  # a denied payee
        http_scope([], path="/.well-known/oauth-protected-resource/mcp", method="GET"),
    ]
    statuses = []
    for scope in cases:
        body = b"" if scope["method"] == "GET" else call(recipient="mallory@example.com")
        exchange = Exchange([body])
        exchange.run(middleware, scope)
        expected = gate.judge(scope["method"], scope["raw_path"], scope["headers"], body)
        assert not expected.allowed
        assert exchange.status == expected.status
        assert exchange.headers == [(n.encode(), v.encode()) for n, v in expected.headers] + [
            (b"content-length", str(len(expected.body)).encode())
        ]
        assert exchange.body == expected.body
        statuses.append(exchange.status)
    assert statuses == [401, 401, 403, 200]
    assert inner.scopes == []


def test_reading_stops_past_the_limit(gate: valet.Gate) -> None:
    inner = Inner()
    exchange = Exchange([b" " * 100] * 10)
    exchange.run(ValetMiddleware(inner, gate), http_scope([]))
    assert exchange.status == 413
    assert json.loads(exchange.body)["error_description"] == "the request body is larger than 256 bytes"
    assert exchange.receive_calls == 3  # 300 bytes read of 1000: more than 256, then no more
    assert inner.scopes == []


def test_a_client_that_leaves_gets_no_answer(gate: valet.Gate) -> None:
    inner = Inner()
    exchange = Exchange([], disconnect=True)
    exchange.run(ValetMiddleware(inner, gate), http_scope([]))
    assert exchange.sent == [] and inner.scopes == []


def test_lifespan_passes_through_and_websockets_are_refused(gate: valet.Gate) -> None:
    inner = Inner()
    middleware = ValetMiddleware(inner, gate)
    startup = Exchange([])
    startup.incoming = [{"type": "lifespan.startup"}]
    startup.run(middleware, {"type": "lifespan", "asgi": {"version": "3.0"}})
    assert inner.received == [{"type": "lifespan.startup"}]
    assert startup.sent == [{"type": "lifespan.startup.complete"}]
    socket = Exchange([])
    socket.incoming = [{"type": "websocket.connect"}]
    socket.run(middleware, {**http_scope([]), "type": "websocket"})
    assert socket.sent == [{"type": "websocket.close", "code": 1008, "reason": "not served behind Valet"}]
    assert len(inner.scopes) == 1
    with pytest.raises(RuntimeError, match="not `unknown`"):
        Exchange([]).run(middleware, {"type": "unknown"})


def test_the_decision_runs_in_a_worker_thread(gate: valet.Gate, root: valet.RootKeyPair) -> None:
    threads: list[int] = []

    class Recording:
        max_body_bytes = gate.max_body_bytes

        def judge(self, *args: Any) -> valet.GateAnswer:
            threads.append(threading.get_ident())
            return gate.judge(*args)

    middleware = ValetMiddleware(Inner(), gate)
    middleware.gate = Recording()  # type: ignore[assignment]
    exchange = Exchange([call()])
    exchange.run(middleware, http_scope([(b"authorization", b"Bearer " + mint(root).to_base64().encode())]))
    assert exchange.status == 200
    assert threads and threads[0] != threading.get_ident()


def test_built_from_an_authorizer_and_a_resource(authorizer: valet.Authorizer) -> None:
    middleware = ValetMiddleware(Inner(), authorizer=authorizer, resource=MCP, tools=TOOLS, max_body_bytes=10)
    assert middleware.gate.resource == MCP and middleware.gate.max_body_bytes == 10
    assert middleware.gate.tools is TOOLS
    with pytest.raises(TypeError, match="give a `gate`"):
        ValetMiddleware(Inner())
    with pytest.raises(TypeError, match="not both"):
        ValetMiddleware(Inner(), middleware.gate, resource=MCP)
    with pytest.raises(LookupError, match="no Valet decision"):
        valet.asgi.decision(http_scope([]))


def test_a_starlette_handler_reads_the_decision_over_a_socket(root: valet.RootKeyPair, keys: valet.KeySet) -> None:
    async def pay(request: StarletteRequest) -> JSONResponse:
        decision: valet.Decision = request.state.valet_decision
        judged: valet.Request = request.state.valet_request
        return JSONResponse(
            {
                "outcome": decision.outcome,
                "subject": (decision.claims or {}).get("subject"),
                "judged": judged.to_dict(),
                "authorization": request.headers.get("authorization"),
                "body": (await request.body()).decode(),
            }
        )

    authorizer = valet.Authorizer(keys, POLICIES, accept_bearer_tokens=True)
    with loopback_port() as (sock, port):
        resource = f"http://127.0.0.1:{port}/api"
        app = Starlette(routes=[Route("/api", pay, methods=["POST"])])
        app.add_middleware(ValetMiddleware, authorizer=authorizer, resource=resource, tools=TOOLS)
        with serve(app, sock), httpx2.Client(base_url=f"http://127.0.0.1:{port}") as client:
            token = mint(root, resource, now=None)
            answer = client.post("/api", content=call(), headers={"authorization": f"Bearer {token.to_base64()}"})
            assert answer.status_code == 200, answer.text
            assert answer.json() == {
                "outcome": "allow",
                "subject": "alice@example.com",
                "judged": TOOLS.request(resource, call()).to_dict(),
                "authorization": None,
                "body": call().decode(),
            }
            metadata = client.get("/.well-known/oauth-protected-resource/api")
            assert metadata.status_code == 200 and metadata.json()["resource"] == resource
            refused = client.post("/api", content=call())
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer resource_metadata=")


def test_a_target_the_gate_cannot_read_is_refused_with_400(gate: valet.Gate, root: valet.RootKeyPair) -> None:
    inner = Inner()
    middleware = ValetMiddleware(inner, gate)
    token = (b"authorization", b"Bearer " + mint(root).to_base64().encode())
    for path in ["/mcp<x>", "/mcp`", "/m cp"]:
        with pytest.raises(valet.RequestError):
            gate.judge("POST", path, [], call())
        exchange = Exchange([call()])
        exchange.run(middleware, http_scope([token], path=path))
        assert exchange.status == 400
        assert exchange.headers == [
            (b"content-type", b"application/json"),
            (b"cache-control", b"no-store"),
            (b"content-length", str(len(exchange.body)).encode()),
        ]
        assert json.loads(exchange.body) == {
            "error": "invalid_request",
            "error_description": f"`{path}` is not a request target: give a path like `/mcp`",
        }
    assert inner.scopes == []
    # The shape is the gate's own 400.
    refused = gate.judge("POST", "/mcp", [token], b"{")
    assert refused.status == 400
    assert [(n.encode(), v.encode()) for n, v in refused.headers] == exchange.headers[:2]
    assert json.loads(refused.body).keys() == json.loads(exchange.body).keys()


def test_a_target_the_gate_cannot_read_is_a_400_over_a_socket(authorizer: valet.Authorizer) -> None:
    inner = Inner()
    with loopback_port() as (sock, port):
        app = ValetMiddleware(inner, authorizer=authorizer, resource=f"http://127.0.0.1:{port}/mcp", tools=TOOLS)
        with serve(app, sock), socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"POST /mcp<x> HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer
    assert json.loads(body)["error"] == "invalid_request"
    assert [s["type"] for s in inner.scopes] == ["lifespan"]


def test_each_request_gets_a_state_of_its_own(gate: valet.Gate, root: valet.RootKeyPair) -> None:
    """A server (or an outer middleware) that gives every request one state dict: each
    application call reads its own request's decision, however the two interleave."""
    shared: dict[str, Any] = {"app": "kept"}
    seen: list[tuple[str, dict[str, Any]]] = []

    async def main() -> None:
        both = asyncio.Event()
        arrived = 0

        async def app(scope: Scope, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
            nonlocal arrived
            arrived += 1
            if arrived == 2:
                both.set()
            await both.wait()  # both requests are admitted before either reads its state
            amount = valet.asgi.judged_request(scope).to_dict()["authorization_details"]["amount"]
            seen.append((amount, scope["state"]))
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        middleware = ValetMiddleware(app, gate)
        token = (b"authorization", b"Bearer " + mint(root).to_base64().encode())

        async def one(amount: str) -> Exchange:
            exchange = Exchange([call(amount)])
            await middleware({**http_scope([token]), "state": shared}, exchange.receive, exchange.send)
            return exchange

        exchanges = await asyncio.gather(one("10.00"), one("20.00"))
        assert [e.status for e in exchanges] == [200, 200]

    asyncio.run(main())
    assert sorted(amount for amount, _ in seen) == ["10.00", "20.00"]
    for amount, state in seen:
        assert state["valet_request"].to_dict()["authorization_details"]["amount"] == amount
        assert state["valet_decision"].audit["authorization_details"]["amount"] == amount
        assert state["app"] == "kept"
    assert shared == {"app": "kept"}


def test_check_body_refuses_before_the_gate_and_user_is_set(gate: valet.Gate, root: valet.RootKeyPair) -> None:
    checked: list[bytes] = []

    def check(body: bytes) -> str | None:
        checked.append(body)
        return "no payments to mallory" if b"mallory" in body else None

    inner = Inner()
    middleware = ValetMiddleware(inner, gate, check_body=check, user=lambda d: ("user", (d.claims or {})["subject"]))
    token = (b"authorization", b"Bearer " + mint(root).to_base64().encode())
    refused = Exchange([call(recipient="mallory@example.com")])
    refused.run(middleware, http_scope([token]))
    assert refused.status == 400
    assert json.loads(refused.body) == {"error": "invalid_request", "error_description": "no payments to mallory"}
    assert inner.scopes == []
    admitted = Exchange([call()])
    admitted.run(middleware, http_scope([token]))
    assert admitted.status == 200
    [seen] = inner.scopes
    assert seen["user"] == ("user", "alice@example.com")
    # A check only refuses: what it lets through is judged (here, no token: 401).
    unauthenticated = Exchange([call()])
    unauthenticated.run(middleware, http_scope([]))
    assert unauthenticated.status == 401
    # A body over the limit is the gate's 413, unchecked.
    large = Exchange([b"mallory" + b" " * 300])
    large.run(middleware, http_scope([token]))
    assert large.status == 413
    assert len(checked) == 3
    # Without `user`, the server's own `scope["user"]` is left as it was.
    plain = Inner()
    Exchange([call()]).run(ValetMiddleware(plain, gate), {**http_scope([token]), "user": "server's"})
    assert plain.scopes[0]["user"] == "server's"
