"""The official MCP Python client (``mcp`` from PyPI, SDK 2.x over ``httpx2``) against real
tool servers on loopback: the Rust example built on ``rmcp`` behind ``ValetLayer``, and a
FastMCP-style server of the Python SDK behind ``valet.asgi`` under uvicorn.

Each server is called the same way, with ``valet.httpx.ValetAuth`` signing a proof of
possession for every request: an allowed call, a call the policies deny (an HTTP ``403``
and its ``WWW-Authenticate`` challenge), a payment that needs the owner's approval, settled
by a signed approval, a replayed proof refused, a token for another server refused, and
fifty concurrent calls across a token's renewal with one ``AsyncTokenSource``."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

import valet
from conftest import POLICIES, REPO
from valet.httpx import ValetAuth
from valet.tokens import AsyncTokenSource

# The server's extractor, as both servers configure it (the Rust example's `tools()`).
TOOLS = (
    valet.McpTools()
    .scope("read_calendar", "calendar:read")
    .scope("send_email", "email:send")
    .scope("pay_invoice", "payments:write")
    .details_from_arguments("send_email", "email", ["recipient", "subject"])
    .details_from_arguments("pay_invoice", "payment", ["amount", "currency", "recipient", "memo"])
)


@dataclass
class Server:
    """A tool server on loopback: its resource URI and the keys it trusts."""

    url: str
    root: valet.RootKeyPair
    approver: valet.SigningKey


@dataclass
class Seen:
    """What the client's HTTP connection saw: each answer's status and challenge, and
    each request sent (to replay one)."""

    answers: list[tuple[str, int, str | None]] = field(default_factory=list)
    sent: list[httpx2.Request] = field(default_factory=list)

    async def request(self, request: httpx2.Request) -> None:
        self.sent.append(request)

    async def response(self, response: httpx2.Response) -> None:
        method = response.request.headers.get("mcp-method", response.request.method)
        self.answers.append((method, response.status_code, response.headers.get("www-authenticate")))


def mint(
    server: Server,
    agent: valet.SigningKey,
    *,
    audience: str | None = None,
    scopes: tuple[str, ...] = ("calendar:read", "payments:write"),
    expires_in: int = 600,
) -> valet.Token:
    grant = valet.TokenBuilder(
        "alice@example.com",
        "https://agent.example/client",
        audiences=[audience or server.url],
        scopes=list(scopes),
        expires_in=expires_in,
        holder=agent.public(),
        details=[{"type": "payment", "actions": ["pay_invoice"], "limits": {"amount": {"max": "1000.00"}}}],
    )
    return valet.Issuer(server.root).mint(grant)


@asynccontextmanager
async def connect(
    server: Server,
    auth: ValetAuth,
    seen: Seen,
) -> AsyncIterator[Client]:
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [seen.request], "response": [seen.response]}
    async with httpx2.AsyncClient(auth=auth, event_hooks=hooks, timeout=30) as http:
        async with Client(streamable_http_client(server.url, http_client=http)) as client:
            yield client


def text(result: Any) -> str:
    assert not result.is_error, result
    return "".join(getattr(c, "text", "") for c in result.content)


# --- the servers ---------------------------------------------------------------------------


def tool_server_binary() -> Path:
    given = os.environ.get("VALET_TOOL_SERVER")
    path = Path(given) if given else REPO / "target" / "debug" / "examples" / "tool_server"
    if not path.exists():
        if given:
            raise AssertionError(f"VALET_TOOL_SERVER names `{given}`, which does not exist")
        pytest.skip("build the Rust tool server first: cargo build -p valet-http --example tool_server")
    return path


@pytest.fixture(scope="module")
def rust_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    keys = tmp_path_factory.mktemp("rust-server-keys")
    proc = subprocess.Popen(
        [str(tool_server_binary()), "--serve", "--addr", "127.0.0.1:0", "--keys-dir", str(keys)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on "), f"the tool server said `{first}`"
        url = first.removeprefix("listening on ")
        yield Server(
            url,
            valet.RootKeyPair.read_file(keys / "root.key"),
            valet.SigningKey.read_file(keys / "approver.key"),
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def python_server() -> Iterator[Server]:
    import uvicorn

    from fastmcp_app import build

    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    root = valet.RootKeyPair.generate(key_id=1)
    approver = valet.SigningKey.generate()
    app = build(url, root.public(), approver.public(), POLICIES)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        assert time.monotonic() < deadline, "uvicorn did not start in 20 s"
        time.sleep(0.02)
    try:
        yield Server(url, root, approver)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(params=["rust", "python"])
def server(request: pytest.FixtureRequest) -> Server:
    name = "rust_server" if request.param == "rust" else "python_server"
    found: Server = request.getfixturevalue(name)
    return found


# --- the calls -----------------------------------------------------------------------------


def test_an_allowed_call_with_a_proof_per_request(server: Server) -> None:
    agent = valet.SigningKey.generate()
    seen = Seen()

    async def run() -> str:
        auth = ValetAuth(mint(server, agent), agent, server.url, TOOLS)
        async with connect(server, auth, seen) as client:
            listed = await client.list_tools()
            assert {"read_calendar", "send_email", "pay_invoice"} <= {t.name for t in listed.tools}
            return text(await client.call_tool("read_calendar", {}))

    assert "calendar" in asyncio.run(run()).lower()
    proofs = [r.headers.get("valet-proof") for r in seen.sent]
    assert all(proofs) and len(set(proofs)) == len(proofs), "every request carries its own proof"
    assert ("tools/call", 200, None) in seen.answers


def test_a_bound_token_without_a_proof_is_refused(server: Server) -> None:
    agent = valet.SigningKey.generate()
    token = mint(server, agent)
    answer = httpx2.post(
        server.url,
        headers={"Authorization": f"Bearer {token.to_base64()}", "Accept": "application/json, text/event-stream"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "read_calendar"}},
    )
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer ")


def test_a_denied_call_is_a_403_with_its_challenge(server: Server) -> None:
    agent = valet.SigningKey.generate()
    seen = Seen()

    async def run() -> None:
        auth = ValetAuth(mint(server, agent), agent, server.url, TOOLS)
        async with connect(server, auth, seen) as client:
            # The SDK turns the HTTP refusal into an error of the call.
            with pytest.raises(MCPError):
                await client.call_tool("send_email", {"recipient": "bob@example.com", "subject": "hi"})

    asyncio.run(run())
    calls = [(s, c) for m, s, c in seen.answers if m == "tools/call"]
    assert len(calls) == 1
    status, challenge = calls[0]
    assert status == 403
    assert challenge is not None and 'error="insufficient_scope"' in challenge
    assert 'scope="email:send"' in challenge


def test_a_payment_needing_approval_is_settled_by_a_signed_approval(server: Server) -> None:
    agent = valet.SigningKey.generate()
    seen = Seen()
    asked: list[dict[str, Any]] = []

    def approve(approval_request: dict[str, Any], token: valet.Token) -> valet.Approval:
        asked.append(approval_request)
        request = {k: approval_request[k] for k in ("audience", "action", "authorization_details")}
        return valet.Approval.sign(server.approver, approval_request["subject"], token, request, expires_in=300)

    async def run() -> str:
        auth = ValetAuth(mint(server, agent), agent, server.url, TOOLS, approve=approve)
        async with connect(server, auth, seen) as client:
            payment = {"amount": "600.00", "currency": "USD", "recipient": "bob@example.com", "memo": "invoice 7"}
            return text(await client.call_tool("pay_invoice", payment))

    assert "600.00" in asyncio.run(run())
    assert len(asked) == 1 and asked[0]["action"] == "pay_invoice"
    calls = [s for m, s, _ in seen.answers if m == "tools/call"]
    assert calls == [403, 200], "refused for approval, then allowed once with it"


def test_a_replayed_proof_is_refused(server: Server) -> None:
    agent = valet.SigningKey.generate()
    seen = Seen()

    async def run() -> None:
        auth = ValetAuth(mint(server, agent), agent, server.url, TOOLS)
        async with connect(server, auth, seen) as client:
            text(await client.call_tool("read_calendar", {}))

    asyncio.run(run())
    call = next(r for r in seen.sent if r.headers.get("mcp-method") == "tools/call")
    again = httpx2.post(server.url, headers=dict(call.headers), content=call.content)
    assert again.status_code == 401
    assert 'error="invalid_token"' in again.headers["www-authenticate"]
    assert "replay" in again.text or "used" in again.text


def test_a_token_for_another_server_is_refused(server: Server) -> None:
    agent = valet.SigningKey.generate()
    seen = Seen()
    other = "https://other.example.com/mcp"

    async def run() -> None:
        auth = ValetAuth(mint(server, agent, audience=other), agent, server.url, TOOLS)
        async with connect(server, auth, seen) as client:
            await client.call_tool("read_calendar", {})

    with pytest.raises(BaseException):
        asyncio.run(run())
    assert seen.answers, "the server answered"
    assert all(status == 401 for _, status, _ in seen.answers)
    assert all(c is not None and 'error="invalid_token"' in c for _, _, c in seen.answers)


def test_fifty_concurrent_calls_across_a_renewal(server: Server) -> None:
    agent = valet.SigningKey.generate()
    seen = Seen()
    renewals: list[valet.Token | None] = []
    lifetime, lead = 6, 3

    async def renew(current: valet.Token | None) -> valet.Token:
        renewals.append(current)
        await asyncio.sleep(0.2)  # an issuer round trip, while the other calls wait
        return mint(server, agent, expires_in=600)

    async def run() -> list[str]:
        source = AsyncTokenSource(mint(server, agent, expires_in=lifetime), renew, lead_time=lead)
        auth = ValetAuth(source, agent, server.url, TOOLS)
        async with connect(server, auth, seen) as client:
            text(await client.call_tool("read_calendar", {}))
            assert renewals == [], "the first token is still fresh"
            # Now within the lead time of its expiry: every call needs the renewed token.
            await asyncio.sleep(lifetime - lead + 0.5)
            results = await asyncio.gather(*(client.call_tool("read_calendar", {}) for _ in range(50)))
            return [text(r) for r in results]

    results = asyncio.run(run())
    assert len(results) == 50
    assert len(renewals) == 1, f"{len(renewals)} renewals ran"
    calls = [s for m, s, _ in seen.answers if m == "tools/call"]
    assert calls == [200] * 51
