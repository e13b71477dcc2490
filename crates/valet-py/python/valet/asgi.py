"""Valet for ASGI applications: each HTTP request judged by a ``Gate`` before the
application sees it, answered exactly as the Rust tower layer answers it.

```python
import valet
from valet.asgi import ValetMiddleware

gate = valet.Gate(authorizer, "https://tools.example.com/mcp", tools=tools)
app = ValetMiddleware(app, gate)
# or, with Starlette or FastAPI: app.add_middleware(ValetMiddleware, gate=gate)
```

For each ``http`` request the middleware:

1. reads the body, at most ``gate.max_body_bytes + 1`` bytes (it stops reading there: the
   gate answers ``413`` to a longer body, and to one whose ``Content-Length`` says so);
2. calls ``gate.judge`` in a worker thread (``anyio.to_thread.run_sync`` when anyio can be
   imported, else ``asyncio.to_thread``), so that the event loop never waits for a
   decision;
3. when the gate answers (the RFC 9728 metadata, a ``400``, ``401``, ``403``, ``413`` or
   ``500``), sends that answer as it is, with its ``Content-Length``, and does not call the
   application; a request target, method or header the gate cannot read as HTTP (a path
   such as ``/mcp\\``) is answered ``400`` ``invalid_request``, in the gate's shape;
4. else calls the application with the request as it came, without its credential headers
   (``Authorization``, ``Valet-Proof``, ``Valet-Approval``: ``valet.CREDENTIAL_HEADERS``),
   its body replayed (the bytes that were judged, then the server's own messages, such as
   ``http.disconnect``), and the decision in a state of its own (a copy of the server's
   ``scope["state"]``, which other requests may share):
   ``scope["state"]["valet_decision"]`` (a ``Decision``) and
   ``scope["state"]["valet_request"]`` (the ``Request`` judged: act on exactly this).

Two options serve applications that read more of the request than the gate does:

- ``check_body(body)``, called with a body the gate would read (in the worker thread,
  before the gate): a ``str`` it returns refuses the request with ``400``
  ``invalid_request`` and that description, ``None`` lets the gate judge it. A check can
  only refuse: what it lets through is judged as any request is;
- ``user(decision)``: what an admitted request's ``scope["user"]`` is, for an
  application that checks who its caller is (``valet.mcpserver.protect`` binds the MCP
  SDK's sessions to the token's principal this way). Without it, ``scope["user"]`` is
  left as the server gave it.

A Starlette or FastAPI handler reads them as ``request.state.valet_decision`` and
``request.state.valet_request``; any ASGI code with ``valet.asgi.decision(scope)``.

``lifespan`` messages pass through. A ``websocket`` connection is refused (closed before it
is accepted, which the server answers with ``403``): a WebSocket carries messages that no
gate judges one by one. MCP's streamable HTTP transport uses none.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, TypeVar

from valet._native import (
    CREDENTIAL_HEADERS,
    Authorizer,
    Decision,
    Gate,
    GateAnswer,
    McpTools,
    Request,
    RequestError,
)

try:
    import anyio.to_thread

    _ANYIO = True
except ImportError:  # pragma: no cover - anyio comes with Starlette and the MCP SDK
    _ANYIO = False

__all__ = [
    "DECISION_KEY",
    "REQUEST_KEY",
    "ValetMiddleware",
    "decision",
    "judged_request",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DECISION_KEY = "valet_decision"
"""The key of the ``Decision`` in ``scope["state"]``."""
REQUEST_KEY = "valet_request"
"""The key of the ``Request`` judged in ``scope["state"]``."""

_CREDENTIALS = frozenset(name.encode("latin-1") for name in CREDENTIAL_HEADERS)

_T = TypeVar("_T")


async def _in_thread(function: Callable[..., _T], *args: Any) -> _T:
    """Runs ``function(*args)`` in a worker thread."""
    if _ANYIO:
        return await anyio.to_thread.run_sync(function, *args)
    return await asyncio.to_thread(function, *args)  # pragma: no cover


class ValetMiddleware:
    """An ASGI middleware judging every HTTP request with a ``Gate`` (see the module).

    Give it a ``gate``, or what to build one with: ``ValetMiddleware(app,
    authorizer=authorizer, resource="https://tools.example.com/mcp", tools=tools)``, with
    any other keyword argument of ``Gate`` (``max_body_bytes``, ``authorization_servers``,
    ``scopes``, ...); and, if the application needs them, ``check_body`` and ``user``
    (see the module).
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        gate: Gate | None = None,
        *,
        authorizer: Authorizer | None = None,
        resource: str | None = None,
        tools: McpTools | None = None,
        check_body: Callable[[bytes], str | None] | None = None,
        user: Callable[[Decision], Any] | None = None,
        **gate_options: Any,
    ) -> None:
        if gate is None:
            if authorizer is None or resource is None:
                raise TypeError("give a `gate`, or an `authorizer` and a `resource` to build one")
            gate = Gate(authorizer, resource, tools=tools, **gate_options)
        elif authorizer is not None or resource is not None or tools is not None or gate_options:
            raise TypeError("give a `gate`, or what to build one with, not both")
        self.app = app
        self.gate = gate
        self.check_body = check_body
        self.user = user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self.app(scope, receive, send)
        elif kind == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": "not served behind Valet"})
        else:
            raise RuntimeError(f"ValetMiddleware serves `http` and `lifespan` scopes, not `{kind}`")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, self.gate.max_body_bytes + 1)
        if body is None:
            return  # the client left before its request was whole: nothing to answer
        headers = [(bytes(name), bytes(value)) for name, value in scope["headers"]]
        answer = await _in_thread(self._judge, scope["method"], _target(scope), headers, body)
        if isinstance(answer, str):
            await _send_invalid_request(send, answer)
            return
        if not answer.allowed:
            await _send_answer(send, answer)
            return
        decision = answer.decision
        if decision is None:  # pragma: no cover - an admitted request always has its decision
            raise RuntimeError("the gate admitted a request without its decision")
        # A state of this request's own: a server (or an outer middleware) may give every
        # request the same dict, and another request's decision must never be read here.
        state = dict(scope.get("state") or {})
        state[DECISION_KEY] = decision
        state[REQUEST_KEY] = answer.request
        inner = dict(scope)
        inner["headers"] = [(n, v) for n, v in headers if n.lower() not in _CREDENTIALS]
        inner["state"] = state
        if self.user is not None:
            inner["user"] = self.user(decision)
        await self.app(inner, _replay(body, receive), send)

    def _judge(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> GateAnswer | str:
        """The gate's answer, or the description of a ``400`` for a request refused before
        the gate (by ``check_body``) or that the gate cannot read as HTTP."""
        if self.check_body is not None and len(body) <= self.gate.max_body_bytes:
            refused = self.check_body(body)
            if refused is not None:
                return refused
        try:
            return self.gate.judge(method, target, headers, body)
        except RequestError as error:
            return str(error)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or its first ``limit`` bytes when it is longer; ``None`` when the
    client disconnects first."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)[:limit]


def _target(scope: Scope) -> bytes:
    """The request target as it came: the raw path, and the query if any."""
    raw = scope.get("raw_path")
    if raw is None:
        raw = urllib.parse.quote(scope["path"]).encode("ascii")
    query = scope.get("query_string", b"")
    return bytes(raw) + b"?" + bytes(query) if query else bytes(raw)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body once, then the server's own messages."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_answer(send: Send, answer: GateAnswer) -> None:
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in answer.headers]
    if not any(n == b"content-length" for n, _ in headers):
        headers.append((b"content-length", str(len(answer.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


async def _send_invalid_request(send: Send, description: str) -> None:
    """A ``400`` ``invalid_request`` in the shape the gate answers one."""
    body = json.dumps(
        {"error": "invalid_request", "error_description": description}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _state(scope_or_request: Any) -> Mapping[str, Any]:
    scope = getattr(scope_or_request, "scope", scope_or_request)
    state = scope.get("state") if isinstance(scope, Mapping) else None
    return state if isinstance(state, Mapping) else {}


def decision(scope_or_request: Mapping[str, Any] | Any) -> Decision:
    """The ``Decision`` of a request admitted by ``ValetMiddleware``: give its ASGI scope,
    or an object with one (a Starlette ``Request``). Raises ``LookupError`` for a request
    that did not come through the middleware."""
    found = _state(scope_or_request).get(DECISION_KEY)
    if not isinstance(found, Decision):
        raise LookupError("this request has no Valet decision: serve the application behind valet.asgi.ValetMiddleware")
    return found


def judged_request(scope_or_request: Mapping[str, Any] | Any) -> Request:
    """The ``Request`` judged for a request admitted by ``ValetMiddleware`` (its action,
    transaction details and scopes). Raises ``LookupError`` as ``decision`` does."""
    found = _state(scope_or_request).get(REQUEST_KEY)
    if not isinstance(found, Request):
        raise LookupError("this request has no Valet decision: serve the application behind valet.asgi.ValetMiddleware")
    return found

