"""Valet credentials for httpx clients: the token, a fresh proof of possession per request,
and a person's approval when the server asks for one.

Two auth classes, one behaviour, for the two httpx lines:

- ``ValetAuth`` for ``httpx2`` (``httpx2.Auth``), the client of the official MCP SDK 2.x:
  ``httpx2.AsyncClient(auth=ValetAuth(...))`` given to its streamable HTTP transport.
- ``HttpxValetAuth`` for ``httpx`` (``httpx.Auth``, httpx 0.28), the client of MCP SDK 1.x
  and of plain httpx code.

Each is defined when its library can be imported (``import valet.httpx`` needs neither).
Both work with their library's ``Client`` and ``AsyncClient``; with the MCP SDK 2.x, give
the client to its transport, ``streamable_http_client(url, http_client=client)``:

```python
import httpx2
import valet
from valet.httpx import ValetAuth
from valet.tokens import TokenSource

tools = valet.McpTools().scope("pay_invoice", "payments:write")
auth = ValetAuth(TokenSource(token, renew), agent_key, "https://tools.example.com/mcp", tools)
async with httpx2.AsyncClient(auth=auth) as client:
    ...
```

For each request to the audience's origin (scheme, host and port), the auth:

1. takes the token (a ``TokenSource`` renews it first when it is due) and sets
   ``Authorization: Bearer <token.to_base64()>``;
2. reads the request's own body, and computes the request the server judges for it with
   the server's extractor, ``tools.request(audience, body, method, headers)`` (the headers
   without ``Authorization``, ``Valet-Proof`` and ``Valet-Approval``, which the server
   takes off before its extractor reads them); with a bearer token and no ``approve``,
   nothing needs it, so it is not computed;
3. signs a ``HolderProof`` of that request with the agent's key (a fresh nonce each time)
   and sets ``Valet-Proof`` (``proof_header_value``); with no key (a bearer token), none;
4. when the answer is a ``403`` from the audience's origin and an ``approve`` callback was
   given, reads the answer's body; when it says ``"error": "approval_required"`` with an
   ``approval_request`` whose ``audience`` and ``action`` are those of the request judged
   (step 2), calls ``approve(approval_request, token)``, and when that returns an
   ``Approval``, sends the request once more, with a new proof and the approval in
   ``Valet-Approval`` (``approval_header_value``). The retry uses the same token: the
   approval names it. A ``Valet-Approval`` the caller set on the request is sent as it is
   the first time. Any other ``403`` is the answer, as it came.

No other answer's body is read by the auth: an event stream (``text/event-stream``) reaches
the caller as it arrives. Requests to other origins are sent as they are: the auth adds no
credentials to them.

Redirects: give the auth a client that does not follow them (``follow_redirects=False``,
httpx's default). httpx follows a redirect inside ``send``, beneath the auth flow: it copies
the request's headers into the redirected request (dropping only ``Authorization``, and
keeping even that from ``http`` to ``https`` on the same host and default ports, another
origin), sends it, and hands the auth only the last answer, so no auth can keep the
credentials from a redirect's target. With a client that does not follow, the auth sees each redirect: when it
leads to another origin, the ``response.next_request`` that httpx built for it carries none
of the three credential headers, and a request that follows it through the auth is given
credentials again only at the audience's origin. The MCP SDK 2.x sends every request so,
and follows a redirect itself only within the endpoint's origin. With a client that does
follow, the answer to a request sent with credentials that was redirected to another origin
is refused with ``RedirectError`` (the redirected request has been sent by then, with the
proof and any approval): the MCP SDK 1.x creates its clients with ``follow_redirects=True``,
so give its ``streamablehttp_client`` an ``httpx_client_factory`` whose clients do not, or
point the client at the final URL.

Async flows do not block the event loop. Computing the request and signing its proof take
about 35 microseconds per request (a release build on an x86-64 server core: a 193-byte
``tools/call`` body with its routing headers read by ``McpTools``, ``HolderProof.sign``,
the header values), so they run on the loop; a ``TokenSource`` renewal and a synchronous
``approve`` (a person may take minutes) run in a worker thread (``anyio.to_thread``). An
``AsyncTokenSource`` or an async ``approve`` needs an async client.
"""

from __future__ import annotations

import base64
import inspect
import json
import urllib.parse
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, Union

from valet._native import Approval, HolderProof, McpTools, Request, SigningKey, Token, ValetError
from valet.tokens import AsyncTokenSource, TokenSource

__all__ = [
    "APPROVAL_HEADER",
    "CREDENTIAL_HEADERS",
    "PROOF_HEADER",
    "Approve",
    "Extractor",
    "RedirectError",
    "approval_header_value",
    "proof_header_value",
]

PROOF_HEADER = "Valet-Proof"
"""The header carrying the proof of possession: ``proof_header_value(proof)``."""

APPROVAL_HEADER = "Valet-Approval"
"""The header carrying a signed approval: ``approval_header_value(approval)``."""

CREDENTIAL_HEADERS = ("Authorization", PROOF_HEADER, APPROVAL_HEADER)
"""The headers a server takes off a request before its extractor reads it."""


class RedirectError(ValetError):
    """The client followed a redirect of a request sent with Valet credentials to another
    origin than the audience's: give the auth a client that does not follow redirects."""


class Extractor(Protocol):
    """How the server reads a request as the one it judges: ``valet.McpTools``, or any
    object with this method."""

    def request(
        self,
        audience: str,
        body: bytes,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
    ) -> Request:
        """The request judged at ``audience`` for an HTTP request with this body, method
        and headers."""
        ...


Approve = Callable[
    [dict[str, Any], Token],
    Union[Approval, None, Awaitable[Union[Approval, None]]],
]
"""Asked to approve the ``approval_request`` of a ``403`` (a dict: ``subject``,
``token_digest``, ``audience``, ``action``, ``authorization_details``, ``details_digest``,
``max_lifetime_secs``) made with the token given; returns the person's ``Approval``, or
``None`` to give up (the ``403`` is the answer). A plain function or a coroutine function."""


def _base64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")


def proof_header_value(proof: HolderProof) -> str:
    """The ``Valet-Proof`` value of ``proof``: its JSON as base64url without padding."""
    return _base64url(proof.to_json())


def approval_header_value(approval: Approval) -> str:
    """A ``Valet-Approval`` value of ``approval``: its JSON as base64url without padding."""
    return _base64url(approval.to_json())


class _Headers(Protocol):
    def items(self) -> Iterable[tuple[str, str]]: ...
    def __setitem__(self, key: str, value: str) -> None: ...
    def __delitem__(self, key: str) -> None: ...


class _Url(Protocol):
    @property
    def scheme(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int | None: ...


class _Request(Protocol):
    """What the auth reads and sets of an httpx or httpx2 request."""

    @property
    def method(self) -> str: ...
    @property
    def url(self) -> _Url: ...
    @property
    def headers(self) -> _Headers: ...
    def read(self) -> bytes: ...
    async def aread(self) -> bytes: ...


class _Response(Protocol):
    """What the auth reads of an httpx or httpx2 response."""

    @property
    def status_code(self) -> int: ...
    @property
    def request(self) -> _Request: ...
    @property
    def history(self) -> Sequence[_Response]: ...
    @property
    def next_request(self) -> _Request | None: ...
    def read(self) -> bytes: ...
    async def aread(self) -> bytes: ...


RequestT = TypeVar("RequestT", bound=_Request)
ResponseT = TypeVar("ResponseT", bound=_Response)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int | None]:
    scheme = scheme.lower()
    return scheme, host.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def _approval_request(body: bytes) -> dict[str, Any] | None:
    """The ``approval_request`` of a ``403`` body that says ``approval_required``."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("error") != "approval_required":
        return None
    request = answer.get("approval_request")
    return request if isinstance(request, dict) else None


def _asks_for(approval_request: dict[str, Any], judged: Request) -> bool:
    """Whether `approval_request` asks to approve the request `judged`: its audience and its
    action."""
    request = judged.to_dict()
    return all(approval_request.get(name) == request.get(name) for name in ("audience", "action"))


def _strip(headers: _Headers) -> None:
    """Takes the credential headers off `headers`."""
    for name in {k.lower() for k, _ in headers.items() if k.lower() in _CREDENTIALS}:
        del headers[name]


def _approval(given: object) -> Approval | None:
    if given is None or isinstance(given, Approval):
        return given
    raise TypeError(f"`approve` must return a valet.Approval or None, not `{type(given).__name__}`")


def _is_async(function: object) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)
    )


class _ValetFlow(Generic[RequestT, ResponseT]):
    """The auth flow both auth classes run, over their library's request and response."""

    def __init__(
        self,
        token: Token | TokenSource | AsyncTokenSource | str,
        key: SigningKey | None,
        audience: str,
        tools: McpTools | Extractor | None = None,
        approve: Approve | None = None,
    ) -> None:
        """``token``: the token, its base64url text, or a source that renews it. ``key``:
        the agent's key, which the token is bound to (``None`` for a bearer token: then no
        proof is sent). ``audience``: the server's resource URI, as its tokens name it.
        ``tools``: the server's extractor (``valet.McpTools()`` unless given). ``approve``:
        asked for an approval when the server answers that one is required."""
        if isinstance(token, str):
            token = Token.from_base64(token)
        if not isinstance(token, (Token, TokenSource, AsyncTokenSource)):
            raise TypeError(
                "`token` must be a valet.Token, its base64url text, a TokenSource or an "
                f"AsyncTokenSource, not `{type(token).__name__}`"
            )
        if key is not None and not isinstance(key, SigningKey):
            raise TypeError(f"`key` must be a valet.SigningKey or None, not `{type(key).__name__}`")
        url = urllib.parse.urlsplit(audience)
        if not url.scheme or not url.hostname:
            raise ValueError(f"the audience `{audience}` is not an absolute URI: give the server's resource URI")
        self._token = token
        self._key = key
        self._audience = audience
        self._origin = _origin(url.scheme, url.hostname, url.port)
        self._tools: Extractor = McpTools() if tools is None else tools
        self._approve = approve

    @property
    def audience(self) -> str:
        """The server's resource URI."""
        return self._audience

    def __repr__(self) -> str:
        return f"{type(self).__name__}(audience={self._audience!r}, proof={self._key is not None})"

    def _ours(self, request: _Request) -> bool:
        """Whether `request` goes to the audience's origin."""
        url = request.url
        return _origin(url.scheme, url.host, url.port) == self._origin

    def _judge(self, request: RequestT, body: bytes) -> Request | None:
        """The request the server judges for `request` with `body`, read as the server's
        extractor reads it (without the credential headers); read only when a proof is
        signed for it or an approval request may be matched against it."""
        if self._key is None and self._approve is None:
            return None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _CREDENTIALS}
        return self._tools.request(self._audience, body, request.method, headers)

    def _present(self, request: RequestT, token: Token, judged: Request | None, approval: Approval | None = None) -> None:
        """Sets the credentials of `request` with `token`: a new proof of `judged`, and
        `approval`."""
        headers = request.headers
        # Each value set replaces any the request had.
        headers["Authorization"] = f"Bearer {token.to_base64()}"
        if self._key is not None and judged is not None:
            headers[PROOF_HEADER] = proof_header_value(HolderProof.sign(self._key, token, judged))
        if approval is not None:
            headers[APPROVAL_HEADER] = approval_header_value(approval)

    def _answered(self, response: ResponseT) -> None:
        """Checks the answer to a request sent with credentials: raises ``RedirectError``
        when the client followed a redirect of it to another origin, and takes the
        credentials off the ``next_request`` of a redirect to another origin that the client
        did not follow."""
        for sent in [*(earlier.request for earlier in response.history), response.request]:
            if not self._ours(sent):
                url = sent.url
                port = "" if url.port is None else f":{url.port}"
                raise RedirectError(
                    f"the client followed a redirect to `{url.scheme}://{url.host}{port}`, another "
                    "origin than the audience's, with the request's Valet credentials: create the "
                    "client with `follow_redirects=False` (httpx's default), or point it at the final URL"
                )
        following = response.next_request
        if following is not None and not self._ours(following):
            _strip(following.headers)

    def _asks(self, response: ResponseT) -> bool:
        """Whether the body of `response` is read: a 403, with an `approve` to ask. (It is
        from the audience's origin: `_answered` refused an answer from another.)"""
        return response.status_code == 403 and self._approve is not None

    @staticmethod
    def _approval_request(body: bytes, judged: Request | None) -> dict[str, Any] | None:
        """The `approval_request` of a 403 `body` asking to approve the request `judged`."""
        approval_request = _approval_request(body)
        if approval_request is None or judged is None or not _asks_for(approval_request, judged):
            return None
        return approval_request

    def sync_auth_flow(self, request: RequestT) -> Generator[RequestT, ResponseT, None]:
        """The flow of a ``Client``."""
        if not self._ours(request):
            yield request
            return
        if isinstance(self._token, AsyncTokenSource):
            raise TypeError("an AsyncTokenSource needs an async client: give a TokenSource to a sync client")
        token = self._token.token() if isinstance(self._token, TokenSource) else self._token
        judged = self._judge(request, request.read())
        self._present(request, token, judged)
        response = yield request
        self._answered(response)
        if not self._asks(response):
            return
        approval_request = self._approval_request(response.read(), judged)
        if approval_request is None or self._approve is None:
            return
        given = self._approve(approval_request, token)
        if inspect.isawaitable(given):
            getattr(given, "close", lambda: None)()
            raise TypeError("an async `approve` needs an async client: give a plain function to a sync client")
        approval = _approval(given)
        if approval is None:
            return
        self._present(request, token, judged, approval)
        self._answered((yield request))

    async def async_auth_flow(self, request: RequestT) -> AsyncGenerator[RequestT, ResponseT]:
        """The flow of an ``AsyncClient``."""
        if not self._ours(request):
            yield request
            return
        token = await self._async_token()
        judged = self._judge(request, await request.aread())
        self._present(request, token, judged)
        response = yield request
        self._answered(response)
        if not self._asks(response):
            return
        approval_request = self._approval_request(await response.aread(), judged)
        if approval_request is None or self._approve is None:
            return
        approval = await self._async_approve(self._approve, approval_request, token)
        if approval is None:
            return
        self._present(request, token, judged, approval)
        self._answered((yield request))

    async def _async_token(self) -> Token:
        source = self._token
        if isinstance(source, Token):
            return source
        if isinstance(source, AsyncTokenSource):
            return await source.token()
        fresh = source.fresh()
        if fresh is not None:
            return fresh
        import anyio.to_thread

        return await anyio.to_thread.run_sync(source.token)

    @staticmethod
    async def _async_approve(approve: Approve, approval_request: dict[str, Any], token: Token) -> Approval | None:
        if _is_async(approve):
            given = approve(approval_request, token)
        else:
            # A person may take a while: a plain function runs in a worker thread.
            import anyio.to_thread

            given = await anyio.to_thread.run_sync(approve, approval_request, token)
        if inspect.isawaitable(given):
            given = await given
        return _approval(given)


_CREDENTIALS = frozenset(name.lower() for name in CREDENTIAL_HEADERS)

try:
    import httpx2 as _httpx2
except ImportError:  # pragma: no cover - without httpx2 there is no ValetAuth
    pass
else:

    class ValetAuth(_ValetFlow[_httpx2.Request, _httpx2.Response], _httpx2.Auth):
        """Valet credentials for an ``httpx2`` client (the MCP SDK 2.x's): the token, a
        fresh proof of possession per request, and an approval when the server asks for
        one (see the module's documentation).

        ``ValetAuth(token, key, audience, tools=None, approve=None)``: ``token`` a
        ``Token``, its base64url text, a ``TokenSource`` or an ``AsyncTokenSource``;
        ``key`` the agent's ``SigningKey`` (``None`` for a bearer token); ``audience`` the
        server's resource URI; ``tools`` the server's extractor (``valet.McpTools()``
        unless given); ``approve`` called with the ``approval_request`` and the token,
        returning an ``Approval`` or ``None``.
        """

    __all__ += ["ValetAuth"]


try:
    import httpx as _httpx
except ImportError:  # pragma: no cover - without httpx there is no HttpxValetAuth
    pass
else:

    class HttpxValetAuth(_ValetFlow[_httpx.Request, _httpx.Response], _httpx.Auth):
        """``ValetAuth`` for an ``httpx`` client (httpx 0.28, MCP SDK 1.x): the same
        arguments and the same flow."""

    __all__ += ["HttpxValetAuth"]


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        needs = {"ValetAuth": "httpx2", "HttpxValetAuth": "httpx"}.get(name)
        if needs is not None:
            raise AttributeError(f"valet.httpx.{name} needs `{needs}`: install it (pip install {needs})")
        raise AttributeError(f"module 'valet.httpx' has no attribute '{name}'")
