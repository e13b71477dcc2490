"""valet.httpx: httpx and httpx2 clients sending a token, a fresh proof per request and an
approval when asked, to a tool server on loopback that judges every request as the Rust
layer does (the proof checked for the body received, proofs used once, a 403 naming what
to approve)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn

import valet
import valet.httpx
from conftest import POLICIES
from valet.httpx import (
    APPROVAL_HEADER,
    PROOF_HEADER,
    HttpxValetAuth,
    ValetAuth,
    approval_header_value,
    proof_header_value,
)
from valet.tokens import AsyncTokenSource, TokenSource

SUBJECT = "alice@example.com"
TOKEN_ONLY = {"initialize", "ping", "tools/list", "resources/list", "resources/templates/list", "prompts/list"}
# The token-layer refusals answered 401, as the Rust layer answers them.
INVALID_TOKEN = {"format", "too_large", "unknown_key", "signature", "revoked", "expired", "not_yet_valid", "audience", "holder", "proof"}

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def judged(audience: str, method: str, body: bytes) -> tuple[dict[str, Any], bool]:
    """The request a server with `McpTools()` judges for these messages, read here
    independently of the binding's `McpTools`, which the clients sign with; and whether
    the token alone is verified."""
    if not body.strip():
        return {"audience": audience, "action": method}, True
    message = json.loads(body)
    name = message.get("method")
    if name == "tools/call":
        params = message["params"]
        request = {"audience": audience, "action": params["name"]}
        details = (params.get("arguments") or {}).get("authorization_details")
        if details is not None:
            request["authorization_details"] = details
        return request, False
    if name is None:
        return {"audience": audience, "action": "response"}, True
    return {"audience": audience, "action": name}, name in TOKEN_ONLY or name.startswith("notifications/")


def decoded(value: str) -> str:
    """The JSON text a `Valet-Proof` or `Valet-Approval` value encodes."""
    assert "=" not in value and "{" not in value
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()


@dataclass
class Seen:
    """One request as the server received it, and what it made of it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def nonce(self) -> str | None:
        proof = self.headers.get("valet-proof")
        return None if proof is None else str(json.loads(decoded(proof))["nonce"])


class ToolServer:
    """A pay_invoice tool server behind Valet, judged by the bundled policies, trusting the
    owner's approvals; it also honours bearer tokens, for the test of one."""

    def __init__(self, keys: valet.KeySet, owner: valet.SigningKey) -> None:
        self.authorizer = valet.Authorizer(
            keys, POLICIES, approvers=[owner.public()], accept_bearer_tokens=True, max_approval_lifetime=300
        )
        self.verifier = valet.Verifier(keys, accept_bearer_tokens=True)
        self.audience = ""
        self.seen: list[Seen] = []
        # An event stream sends its first event, then waits for `release` before it ends.
        self.release = threading.Event()
        self.finished = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        seen = Seen(scope["method"], scope["path"], headers, body, 0)
        self.seen.append(seen)
        status, answer = self.judge(seen)
        seen.status = status
        if status == 200 and "text/event-stream" in headers.get("accept", ""):
            await self.stream(send)
            return
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    def judge(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        bearer = seen.headers.get("authorization", "")
        if not bearer.startswith("Bearer "):
            return 401, {"error": "unauthorized"}
        token = valet.Token.from_base64(bearer.removeprefix("Bearer "))
        proof = seen.headers.get("valet-proof")
        proof = None if proof is None else decoded(proof)
        approvals = [decoded(a.strip()) for a in seen.headers.get("valet-approval", "").split(",") if a.strip()]
        request, token_only = judged(self.audience, seen.method, seen.body)
        decision: valet.Decision | valet.Verdict
        if token_only:
            decision = self.verifier.verify(token, request, proof)
        else:
            decision = self.authorizer.authorize(token, request, proof, approvals)
        seen.reasons = decision.reasons
        if decision.allowed:
            return 200, {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "done"}]}}
        if isinstance(decision, valet.Decision) and decision.outcome == "needs_approval":
            audit = decision.audit
            return 403, {
                "error": "approval_required",
                "approval": decision.approval,
                "reasons": decision.reasons,
                "approval_request": {
                    "subject": audit["subject"],
                    "token_digest": hashlib.sha256(token.to_bytes()).hexdigest(),
                    "audience": audit["audience"],
                    "action": audit["action"],
                    "authorization_details": audit.get("authorization_details"),
                    "max_lifetime_secs": 300,
                },
            }
        if any(r.get("layer", "token") == "token" and r.get("kind") in INVALID_TOKEN for r in decision.reasons):
            return 401, {"error": "invalid_token", "reasons": decision.reasons}
        return 403, {"error": "insufficient_scope", "reasons": decision.reasons}

    async def stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b'event: message\ndata: {"n": 1}\n\n', "more_body": True})
        for _ in range(1000):  # at most 10 s
            if self.release.is_set():
                break
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b'event: message\ndata: {"n": 2}\n\n'})
        self.finished.set()


class Running:
    """An ASGI app served by uvicorn on 127.0.0.1, on a port of its own, in a thread."""

    def __init__(self, app: Any) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture(scope="module")
def owner() -> valet.SigningKey:
    """The account owner, who approves payments."""
    return valet.SigningKey.generate()


@pytest.fixture(scope="module")
def agent() -> valet.SigningKey:
    return valet.SigningKey.generate()


@pytest.fixture(scope="module")
def root() -> valet.RootKeyPair:
    return valet.RootKeyPair.generate(key_id=1)


@pytest.fixture(scope="module")
def running(root: valet.RootKeyPair, owner: valet.SigningKey) -> Iterator[tuple[ToolServer, str]]:
    app = ToolServer(valet.KeySet([root.public()]), owner)
    served = Running(app)
    app.audience = served.url + "/mcp"
    yield app, app.audience
    served.stop()


@pytest.fixture
def server(running: tuple[ToolServer, str]) -> ToolServer:
    app = running[0]
    app.seen.clear()
    app.release.clear()
    app.finished.clear()
    return app


@pytest.fixture
def mcp(running: tuple[ToolServer, str]) -> str:
    """The server's resource URI, its tokens' audience."""
    return running[1]


def mint(root: valet.RootKeyPair, audience: str, holder: valet.SigningKey | None, expires_in: int = 600) -> valet.Token:
    grant = valet.TokenBuilder(
        SUBJECT,
        "https://orchestrator.example/client",
        audiences=[audience],
        scopes=["payments:write"],
        expires_in=expires_in,
        holder=None if holder is None else holder.public(),
        bearer=holder is None,
        details=[{"type": "payment", "actions": ["pay_invoice"], "limits": {"amount": {"max": "1000.00"}}}],
    )
    return valet.Issuer(root).mint(grant)


@pytest.fixture
def token(root: valet.RootKeyPair, agent: valet.SigningKey, mcp: str) -> valet.Token:
    return mint(root, mcp, agent)


def pay(amount: str, recipient: str = "bob@example.com", id: int | str = 1) -> dict[str, Any]:
    details = {"type": "payment", "amount": amount, "currency": "USD", "recipient": recipient}
    return {
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": {"name": "pay_invoice", "arguments": {"authorization_details": details}},
    }


INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}


def approver(owner: valet.SigningKey, asked: list[dict[str, Any]], amount: str | None = None) -> Callable[[dict[str, Any], valet.Token], valet.Approval]:
    """The owner's device: approves what it is asked (or, given `amount`, another payment),
    recording each `approval_request`."""

    def approve(approval_request: dict[str, Any], token: valet.Token) -> valet.Approval:
        asked.append(approval_request)
        assert approval_request["token_digest"] == hashlib.sha256(token.to_bytes()).hexdigest()
        details = dict(approval_request["authorization_details"])
        if amount is not None:
            details["amount"] = amount
        request = {"audience": approval_request["audience"], "action": approval_request["action"], "authorization_details": details}
        return valet.Approval.sign(owner, approval_request["subject"], token, request, expires_in=120)

    return approve


# Proofs


def test_a_sync_httpx_client_sends_a_proof_that_verifies_for_the_exact_body_sent(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey
) -> None:
    auth = HttpxValetAuth(token, agent, mcp)
    bodies = [json.dumps(INITIALIZE).encode(), json.dumps(pay("50.00")).encode(), json.dumps(pay("49.99", "carol@example.com"), indent=2).encode()]
    with httpx.Client(auth=auth) as client:
        for body in bodies:
            r = client.post(mcp, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 200, r.text
    assert [s.body for s in server.seen] == bodies
    for seen in server.seen:
        assert seen.headers["authorization"] == "Bearer " + token.to_base64()
        proof = valet.HolderProof.from_json(decoded(seen.headers["valet-proof"]))
        assert proof.key == agent.public()
        assert "valet-approval" not in seen.headers
    # A fresh nonce per request.
    assert len({s.nonce for s in server.seen}) == len(bodies)


def test_an_async_httpx2_client_sends_a_fresh_proof_per_request(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey
) -> None:
    auth = ValetAuth(token.to_base64(), agent, mcp, valet.McpTools())

    async def main() -> list[int]:
        async with httpx2.AsyncClient(auth=auth) as client:
            first = await client.post(mcp, json=INITIALIZE)
            calls = [client.post(mcp, json=pay(f"{n}.00", id=n)) for n in range(1, 21)]
            return [first.status_code] + [r.status_code for r in await asyncio.gather(*calls)]

    statuses = asyncio.run(main())
    assert statuses == [200] * 21, [s.reasons for s in server.seen]
    assert len({s.nonce for s in server.seen}) == 21
    # Each body received is the one its proof was signed for.
    amounts = sorted(json.loads(s.body)["params"]["arguments"]["authorization_details"]["amount"] for s in server.seen[1:])
    assert amounts == sorted(f"{n}.00" for n in range(1, 21))


class Recording:
    """`McpTools`, recording what it is given to read."""

    def __init__(self) -> None:
        self.tools = valet.McpTools()
        self.given: list[tuple[str, bytes, str, dict[str, str]]] = []

    def request(
        self, audience: str, body: bytes, method: str = "POST", headers: Mapping[str, str] | None = None
    ) -> valet.Request:
        self.given.append((audience, body, method, dict(headers or {})))
        return self.tools.request(audience, body, method, headers)


def test_the_extractor_reads_the_request_as_sent_without_its_credentials(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    tools = Recording()
    routing = {"mcp-method": "tools/call", "mcp-name": "pay_invoice"}
    elsewhere = {"audience": mcp, "action": "pay_invoice"}
    given = approval_header_value(valet.Approval.sign(owner, SUBJECT, token, elsewhere, expires_in=60))
    stale = {"authorization": "Basic c3RhbGU=", "valet-proof": "c3RhbGU", "valet-approval": given}
    with httpx.Client(auth=HttpxValetAuth(token, agent, mcp, tools), headers={"x-client": "test"}) as client:
        r = client.post(mcp, json=pay("50.00"), headers={**routing, **stale})
        assert r.status_code == 200, r.text
        assert client.get(mcp).status_code == 200
    (audience, body, method, headers), (_, empty, get, _) = tools.given
    assert (audience, method, get, empty) == (mcp, "POST", "GET", b"")
    assert body == server.seen[0].body
    assert {k: headers[k] for k in routing} == routing and headers["x-client"] == "test"
    assert not {"authorization", "valet-proof", "valet-approval"} & {k.lower() for k in headers}
    # What the auth sent replaced what the request had.
    sent = server.seen[0].headers
    assert sent["authorization"] == "Bearer " + token.to_base64()
    assert sent["valet-proof"] != stale["valet-proof"]
    # A Valet-Approval the caller set is sent as it is (the auth sets one only on a retry).
    assert sent["valet-approval"] == stale["valet-approval"]


def test_a_replayed_proof_is_refused_by_the_server(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey
) -> None:
    with httpx.Client(auth=HttpxValetAuth(token, agent, mcp)) as client:
        assert client.post(mcp, json=INITIALIZE).status_code == 200
        assert client.post(mcp, json=pay("50.00")).status_code == 200
    first, paid = server.seen
    credentials = {k: paid.headers[k] for k in ("authorization", "valet-proof", "content-type")}
    with httpx.Client() as plain:
        # The same request with the same proof: a replay.
        again = plain.post(mcp, content=paid.body, headers=credentials)
        assert again.status_code == 401
        assert server.seen[-1].reasons[0]["kind"] == "proof" and "already used" in server.seen[-1].reasons[0]["message"]
        handshake = plain.post(mcp, content=first.body, headers={k: first.headers[k] for k in credentials})
        assert handshake.status_code == 401 and "already used" in server.seen[-1].reasons[0]["message"]
        # The proof on another body: it does not verify.
        credentials["valet-proof"] = server.seen[0].headers["valet-proof"]
        other = plain.post(mcp, json=pay("51.00"), headers=credentials)
        assert other.status_code == 401 and "does not verify" in server.seen[-1].reasons[0]["message"]
        # Without a proof, the bound token is refused.
        del credentials["valet-proof"]
        assert plain.post(mcp, json=pay("52.00"), headers=credentials).status_code == 401
        assert server.seen[-1].reasons[0]["kind"] == "holder"


def test_the_header_values_are_base64url_of_the_json_without_padding(
    token: valet.Token, agent: valet.SigningKey, owner: valet.SigningKey, mcp: str
) -> None:
    request = valet.McpTools().request(mcp, json.dumps(pay("600.00")).encode())
    proof = valet.HolderProof.sign(agent, token, request)
    value = proof_header_value(proof)
    assert value.isascii() and "=" not in value and "+" not in value and "/" not in value
    assert valet.HolderProof.from_json(decoded(value)) == proof
    approval = valet.Approval.sign(owner, SUBJECT, token, request, expires_in=60)
    assert valet.Approval.from_json(decoded(approval_header_value(approval))) == approval
    assert (PROOF_HEADER, APPROVAL_HEADER) == ("Valet-Proof", "Valet-Approval")


def test_a_bearer_token_is_sent_without_a_proof(server: ToolServer, mcp: str, root: valet.RootKeyPair) -> None:
    bearer = mint(root, mcp, None)
    with httpx.Client(auth=HttpxValetAuth(bearer, None, mcp)) as client:
        assert client.post(mcp, json=pay("50.00")).status_code == 200
    (seen,) = server.seen
    assert seen.headers["authorization"] == "Bearer " + bearer.to_base64()
    assert "valet-proof" not in seen.headers


def test_requests_to_another_origin_carry_no_credentials(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey
) -> None:
    elsewhere = mcp.replace("127.0.0.1", "localhost")
    with httpx.Client(auth=HttpxValetAuth(token, agent, mcp)) as client:
        assert client.post(elsewhere, json=INITIALIZE).status_code == 401
        # The same origin, another path: the credentials go.
        assert client.post(mcp.removesuffix("/mcp") + "/other", json=INITIALIZE).status_code == 200
    assert "authorization" not in server.seen[0].headers and "valet-proof" not in server.seen[0].headers
    assert "authorization" in server.seen[1].headers


# Approvals


def test_an_approval_required_answer_is_approved_and_retried_once_with_a_new_proof(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    asked: list[dict[str, Any]] = []
    auth = HttpxValetAuth(token, agent, mcp, approve=approver(owner, asked))
    with httpx.Client(auth=auth) as client:
        r = client.post(mcp, json=pay("600.00"))
    assert r.status_code == 200, r.text
    assert [s.status for s in server.seen] == [403, 200]
    (request,) = asked
    assert request["subject"] == SUBJECT and request["audience"] == mcp and request["action"] == "pay_invoice"
    assert request["authorization_details"]["amount"] == "600.00"
    refused, approved = server.seen
    assert "valet-approval" not in refused.headers
    approval = valet.Approval.from_json(decoded(approved.headers["valet-approval"]))
    assert approval.approver == owner.public() and approval.subject == SUBJECT
    assert approved.body == refused.body and approved.nonce != refused.nonce
    assert len(r.history) == 1 and r.history[0].status_code == 403


def test_an_async_approve_with_an_async_client(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    asked: list[dict[str, Any]] = []
    sign = approver(owner, asked)
    threads: list[threading.Thread] = []

    async def approve(approval_request: dict[str, Any], token: valet.Token) -> valet.Approval:
        await asyncio.sleep(0.01)
        return sign(approval_request, token)

    def approve_in_a_thread(approval_request: dict[str, Any], token: valet.Token) -> valet.Approval:
        threads.append(threading.current_thread())
        return sign(approval_request, token)

    async def main() -> list[int]:
        statuses = []
        for amount, callback in (("700.00", approve), ("701.00", approve_in_a_thread)):
            auth = ValetAuth(token, agent, mcp, approve=callback)
            async with httpx2.AsyncClient(auth=auth) as client:
                statuses.append((await client.post(mcp, json=pay(amount))).status_code)
        return statuses

    assert asyncio.run(main()) == [200, 200]
    assert [s.status for s in server.seen] == [403, 200, 403, 200] and len(asked) == 2
    # A plain `approve` (a person may take a while) ran off the event loop's thread.
    assert threads and threads[0] is not threading.main_thread()


def test_no_retry_unless_the_answer_is_approval_required_and_approve_gives_an_approval(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    asked: list[dict[str, Any]] = []
    sign = approver(owner, asked)
    declined: list[dict[str, Any]] = []

    def decline(approval_request: dict[str, Any], token: valet.Token) -> None:
        declined.append(approval_request)

    with httpx.Client(auth=HttpxValetAuth(token, agent, mcp, approve=sign)) as client:
        # A deny of the policies (a recipient not on the allowlist): 403 insufficient_scope.
        denied = client.post(mcp, json=pay("600.00", recipient="mallory@example.com"))
        assert denied.status_code == 403 and denied.json()["error"] == "insufficient_scope"
        # Over the token's limit: refused by the token layer, 403 too.
        over = client.post(mcp, json=pay("1500.00"))
        assert over.status_code == 403 and over.json()["error"] == "insufficient_scope"
    assert asked == [] and [s.status for s in server.seen] == [403, 403]
    server.seen.clear()
    with httpx.Client(auth=HttpxValetAuth(token, agent, mcp, approve=decline)) as client:
        r = client.post(mcp, json=pay("600.00"))
    # Declined: the 403 is the answer, its body still readable, and nothing is sent again.
    assert r.status_code == 403 and r.json()["error"] == "approval_required"
    assert len(declined) == 1 and len(server.seen) == 1
    server.seen.clear()
    with httpx.Client(auth=HttpxValetAuth(token, agent, mcp)) as client:
        r = client.post(mcp, json=pay("600.00"))
    assert r.status_code == 403 and len(server.seen) == 1


def test_the_retry_happens_once_even_when_the_approval_does_not_approve(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    asked: list[dict[str, Any]] = []
    # The device approves another amount: the retry needs approval again.
    wrong = approver(owner, asked, amount="601.00")
    with httpx.Client(auth=HttpxValetAuth(token, agent, mcp, approve=wrong)) as client:
        r = client.post(mcp, json=pay("600.00"))
    assert r.status_code == 403 and r.json()["error"] == "approval_required"
    assert len(asked) == 1 and [s.status for s in server.seen] == [403, 403]
    assert "valet-approval" in server.seen[1].headers


# Redirects


class Hop:
    """A server that records what it receives, and answers a path of `redirects` with a
    307 to its location, a path of `answers` with that status and JSON body, any other
    with 200."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.redirects: dict[str, str] = {}
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        location = self.redirects.get(scope["path"])
        status, answer = (307, {}) if location is not None else self.answers.get(scope["path"], (200, {"result": "done"}))
        self.seen.append(Seen(scope["method"], scope["path"], headers, body, status))
        extra = [] if location is None else [(b"location", location.encode())]
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), *extra]})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


@dataclass
class Origins:
    """Two servers on two ports of 127.0.0.1, two origins: the audience's and another."""

    audience: str
    ours: Hop
    other: str
    theirs: Hop

    @property
    def seen(self) -> list[Seen]:
        return [*self.ours.seen, *self.theirs.seen]


@pytest.fixture(scope="module")
def two_origins() -> Iterator[tuple[Running, Hop, Running, Hop]]:
    ours, theirs = Hop(), Hop()
    a, b = Running(ours), Running(theirs)
    yield a, ours, b, theirs
    a.stop()
    b.stop()


@pytest.fixture
def origins(two_origins: tuple[Running, Hop, Running, Hop]) -> Origins:
    a, ours, b, theirs = two_origins
    for hop in (ours, theirs):
        hop.seen.clear()
        hop.redirects.clear()
        hop.answers.clear()
    return Origins(a.url + "/mcp", ours, b.url + "/mcp", theirs)


def credentials(headers: Mapping[str, str]) -> set[str]:
    """The Valet credential headers among `headers`."""
    return {k.lower() for k in headers} & {"authorization", "valet-proof", "valet-approval"}


def test_a_sync_client_following_a_redirect_to_another_origin_is_refused_and_one_not_following_is_told_no_credentials(
    origins: Origins, root: valet.RootKeyPair, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    token = mint(root, origins.audience, agent)
    given = approval_header_value(valet.Approval.sign(owner, SUBJECT, token, {"audience": origins.audience, "action": "pay_invoice"}, expires_in=60))
    origins.ours.redirects["/mcp"] = origins.other
    with httpx.Client(auth=HttpxValetAuth(token, agent, origins.audience), follow_redirects=True) as client:
        with pytest.raises(valet.httpx.RedirectError, match=r"redirect to `http://127\.0\.0\.1:\d+`.*`follow_redirects=False`"):
            client.post(origins.audience, json=pay("50.00"))
    assert [s.status for s in origins.seen] == [307, 200]
    origins.ours.seen.clear()
    origins.theirs.seen.clear()
    with httpx.Client(auth=HttpxValetAuth(token, agent, origins.audience)) as client:
        moved = client.post(origins.audience, json=pay("50.00"), headers={APPROVAL_HEADER: given})
        assert moved.status_code == 307 and moved.next_request is not None
        # What httpx built to follow the redirect carries no credential, nor does what it sends.
        assert not credentials(moved.next_request.headers)
        assert client.send(moved.next_request).status_code == 200
    sent, followed = origins.seen
    assert credentials(sent.headers) == {"authorization", "valet-proof", "valet-approval"}
    assert followed.path == "/mcp" and not credentials(followed.headers) and followed.body == sent.body


def test_a_sync_client_following_a_redirect_within_the_origin_sends_the_credentials_again(
    origins: Origins, root: valet.RootKeyPair, agent: valet.SigningKey
) -> None:
    token = mint(root, origins.audience, agent)
    origins.ours.redirects["/mcp"] = origins.audience.removesuffix("/mcp") + "/moved"
    with httpx.Client(auth=HttpxValetAuth(token, agent, origins.audience), follow_redirects=True) as client:
        assert client.post(origins.audience, json=pay("50.00")).status_code == 200
    with httpx.Client(auth=HttpxValetAuth(token, agent, origins.audience)) as client:
        moved = client.post(origins.audience, json=pay("50.00"))
        assert moved.next_request is not None
        assert client.send(moved.next_request).status_code == 200
    assert [s.path for s in origins.seen] == ["/mcp", "/moved"] * 2
    assert all(credentials(s.headers) == {"authorization", "valet-proof"} for s in origins.seen)
    # Followed by the caller through the auth: a new proof.
    assert origins.seen[2].nonce != origins.seen[3].nonce


def test_a_redirect_from_http_to_https_of_the_host_is_another_origin() -> None:
    """httpx keeps `Authorization` on this redirect; the auth's origin is its scheme, host
    and port, so the next request carries no credential."""
    key = valet.SigningKey.generate()
    audience = "http://tools.example/mcp"
    token = mint(valet.RootKeyPair.generate(key_id=1), audience, key)

    def moved(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"location": "https://tools.example/mcp"})

    with httpx.Client(auth=HttpxValetAuth(token, key, audience), transport=httpx.MockTransport(moved)) as client:
        r = client.post(audience, json=pay("50.00"))
    assert r.next_request is not None and r.next_request.url == "https://tools.example/mcp"
    assert credentials(r.request.headers) == {"authorization", "valet-proof"}
    assert not credentials(r.next_request.headers)


def test_an_async_httpx2_client_following_a_redirect_to_another_origin_is_refused_and_one_not_following_is_told_no_credentials(
    origins: Origins, root: valet.RootKeyPair, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    token = mint(root, origins.audience, agent)
    origins.ours.redirects["/mcp"] = origins.other
    asked: list[dict[str, Any]] = []

    async def refused() -> None:
        async with httpx2.AsyncClient(auth=ValetAuth(token, agent, origins.audience, approve=approver(owner, asked)), follow_redirects=True) as client:
            with pytest.raises(valet.httpx.RedirectError, match="`follow_redirects=False`"):
                await client.post(origins.audience, json=pay("50.00"))

    async def told() -> None:
        async with httpx2.AsyncClient(auth=ValetAuth(token, agent, origins.audience)) as client:
            moved = await client.post(origins.audience, json=pay("50.00"))
            assert moved.status_code == 307 and moved.next_request is not None
            assert not credentials(moved.next_request.headers)
            assert (await client.send(moved.next_request)).status_code == 200

    # The other origin asks for an approval: no one is asked.
    origins.theirs.answers["/mcp"] = (403, {"error": "approval_required", "approval_request": {"audience": origins.audience, "action": "pay_invoice"}})
    asyncio.run(refused())
    assert asked == [] and [s.status for s in origins.seen] == [307, 403]
    origins.ours.seen.clear()
    origins.theirs.seen.clear()
    origins.theirs.answers.clear()
    asyncio.run(told())
    sent, followed = origins.seen
    assert credentials(sent.headers) == {"authorization", "valet-proof"}
    assert not credentials(followed.headers) and followed.body == sent.body


@pytest.mark.parametrize(
    ("audience", "action"),
    [("https://elsewhere.example/mcp", "pay_invoice"), (None, "transfer_everything"), (None, None)],
)
def test_an_approval_request_for_another_audience_or_action_is_passed_through_unapproved(
    origins: Origins, root: valet.RootKeyPair, agent: valet.SigningKey, audience: str | None, action: str | None
) -> None:
    token = mint(root, origins.audience, agent)
    approval_request: dict[str, Any] = {"subject": SUBJECT, "audience": audience or origins.audience}
    if action is not None:
        approval_request["action"] = action
    answer = {"error": "approval_required", "approval_request": approval_request}
    asked: list[dict[str, Any]] = []

    def approve(approval_request: dict[str, Any], token: valet.Token) -> None:
        asked.append(approval_request)

    origins.ours.answers["/mcp"] = (403, answer)
    with httpx.Client(auth=HttpxValetAuth(token, agent, origins.audience, approve=approve)) as client:
        r = client.post(origins.audience, json=pay("600.00"))
        assert r.status_code == 403 and r.json() == answer
        assert asked == []
        # The same answer naming the request sent is asked about (then declined: no retry).
        approval_request.update(audience=origins.audience, action="pay_invoice")
        r = client.post(origins.audience, json=pay("600.00"))
        assert r.status_code == 403 and asked == [approval_request]

    async def main() -> int:
        origins.ours.answers["/mcp"] = (403, answer | {"approval_request": {"audience": audience or origins.audience, "action": action}})
        async with httpx2.AsyncClient(auth=ValetAuth(token, None, origins.audience, approve=approve)) as client:
            return (await client.post(origins.audience, json=pay("600.00"))).status_code

    # A bearer token too: the request is read to match it.
    assert asyncio.run(main()) == 403 and len(asked) == 1
    assert len(origins.seen) == 3


# Streams


def test_an_event_stream_is_not_read_by_the_auth_sync(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    auth = HttpxValetAuth(token, agent, mcp, approve=approver(owner, []))
    with httpx.Client(auth=auth, timeout=10) as client:
        headers = {"accept": "text/event-stream"}
        with client.stream("POST", mcp, json=pay("50.00"), headers=headers) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            assert next(lines) == "event: message"
            # The first event arrived while the server still holds the stream open.
            assert not server.finished.is_set(), "the auth read the whole stream"
            server.release.set()
            assert '{"n": 2}' in "\n".join(lines)
        # The GET stream of MCP (an empty body, judged by the token alone) too.
        assert server.finished.wait(10)
        server.release.clear()
        server.finished.clear()
        with client.stream("GET", mcp, headers=headers) as r:
            assert r.status_code == 200
            assert next(r.iter_lines()) == "event: message"
            assert not server.finished.is_set(), "the auth read the whole stream"
            server.release.set()


def test_an_event_stream_is_not_read_by_the_auth_async(
    server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey, owner: valet.SigningKey
) -> None:
    auth = ValetAuth(token, agent, mcp, approve=approver(owner, []))

    async def main() -> None:
        async with httpx2.AsyncClient(auth=auth, timeout=10) as client:
            headers = {"accept": "text/event-stream"}
            async with client.stream("POST", mcp, json=pay("50.00"), headers=headers) as r:
                assert r.status_code == 200
                lines = r.aiter_lines()
                assert await anext(lines) == "event: message"
                assert not server.finished.is_set(), "the auth read the whole stream"
                server.release.set()
                rest = [line async for line in lines]
                assert 'data: {"n": 2}' in rest

    asyncio.run(main())


# Token sources


def test_a_token_source_is_renewed_before_a_request(
    server: ToolServer, mcp: str, root: valet.RootKeyPair, agent: valet.SigningKey
) -> None:
    renewed: list[valet.Token] = []

    def renew(_: valet.Token | None) -> valet.Token:
        renewed.append(mint(root, mcp, agent))
        return renewed[-1]

    async def arenew(current: valet.Token | None) -> valet.Token:
        return renew(current)

    # Tokens that live 30 s, within a lead time of 60 s: each source renews first.
    sync_source = TokenSource(mint(root, mcp, agent, 30), renew)
    with httpx.Client(auth=HttpxValetAuth(sync_source, agent, mcp)) as client:
        assert client.post(mcp, json=pay("50.00")).status_code == 200
        assert client.post(mcp, json=pay("50.00")).status_code == 200

    async def main() -> None:
        for source in (AsyncTokenSource(mint(root, mcp, agent, 30), arenew), TokenSource(mint(root, mcp, agent, 30), renew)):
            async with httpx2.AsyncClient(auth=ValetAuth(source, agent, mcp)) as client:
                assert (await client.post(mcp, json=pay("50.00"))).status_code == 200
                assert (await client.post(mcp, json=pay("50.00"))).status_code == 200

    asyncio.run(main())
    assert len(renewed) == 3
    sent = [s.headers["authorization"].removeprefix("Bearer ") for s in server.seen]
    assert sent == [t.to_base64() for t in renewed for _ in range(2)]


def test_misuse_is_refused_with_what_to_do(server: ToolServer, mcp: str, token: valet.Token, agent: valet.SigningKey) -> None:
    async def arenew(_: valet.Token | None) -> valet.Token:
        return token

    async def approve(approval_request: dict[str, Any], token: valet.Token) -> None:
        return None

    with httpx.Client(auth=HttpxValetAuth(AsyncTokenSource(token, arenew), agent, mcp)) as client:
        with pytest.raises(TypeError, match="AsyncTokenSource needs an async client"):
            client.post(mcp, json=INITIALIZE)
    with httpx.Client(auth=HttpxValetAuth(token, agent, mcp, approve=approve)) as client:
        with pytest.raises(TypeError, match="async `approve` needs an async client"):
            client.post(mcp, json=pay("600.00"))
    with httpx.Client(auth=HttpxValetAuth(token, agent, mcp, approve=lambda r, t: "yes")) as client:  # type: ignore[arg-type,return-value]
        with pytest.raises(TypeError, match="must return a valet.Approval or None"):
            client.post(mcp, json=pay("601.00"))
    # A body the server's extractor refuses is not sent: the server would answer 400.
    with httpx.Client(auth=HttpxValetAuth(token, agent, mcp)) as client:
        with pytest.raises(valet.RequestError, match="batches"):
            client.post(mcp, json=[INITIALIZE])
    assert [s.status for s in server.seen] == [403, 403]
    with pytest.raises(TypeError, match="`token` must be"):
        HttpxValetAuth(42, agent, mcp)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`key` must be"):
        ValetAuth(token, "key", mcp)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="absolute URI"):
        ValetAuth(token, agent, "/mcp")
    with pytest.raises(valet.TokenFormatError):
        ValetAuth("not a token", agent, mcp)
    assert repr(ValetAuth(token, agent, mcp)) == f"ValetAuth(audience='{mcp}', proof=True)"
    assert ValetAuth(token, None, mcp).audience == mcp
    assert isinstance(ValetAuth(token, agent, mcp), httpx2.Auth)
    assert isinstance(HttpxValetAuth(token, agent, mcp), httpx.Auth)


@pytest.mark.parametrize(("missing", "present", "absent"), [("httpx2", "HttpxValetAuth", "ValetAuth"), ("httpx", "ValetAuth", "HttpxValetAuth")])
def test_valet_httpx_imports_with_either_library_alone(missing: str, present: str, absent: str) -> None:
    code = f"""
import sys
sys.modules[{missing!r}] = None  # import {missing} raises ImportError
import valet.httpx
assert {present!r} in valet.httpx.__all__ and {absent!r} not in valet.httpx.__all__
getattr(valet.httpx, {present!r})
try:
    getattr(valet.httpx, {absent!r})
except AttributeError as e:
    assert "needs `{missing}`" in str(e), e
else:
    raise AssertionError("{absent} without {missing}")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
