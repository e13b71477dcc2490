"""Valet for servers of the official MCP SDK (``mcp.server.mcpserver.MCPServer``, which SDK
1.x called ``FastMCP``): every message to the streamable HTTP endpoint judged, each tool
call with its arguments as the transaction, before the SDK sees it.

```python
from mcp.server.mcpserver import Context, MCPServer
import valet
from valet.mcpserver import ToolRule, decision, protect

server = MCPServer("payments")

@server.tool()
def pay_invoice(amount: str, currency: str, recipient: str, ctx: Context) -> str:
    who = decision(ctx).claims["subject"]  # the allow this call was judged
    ...

app = protect(
    server,
    authorizer,
    "https://tools.example.com/mcp",
    tools={
        "read_calendar": ToolRule(scopes=["calendar:read"]),
        "pay_invoice": ToolRule(
            scopes=["payments:write"],
            details="payment",
            fields=["amount", "currency", "recipient", "memo"],
        ),
        "read_file": ToolRule(resource="path"),
    },
)
# uvicorn.run(app, host="127.0.0.1", port=8000)
```

``protect`` returns the server's streamable HTTP app behind ``valet.asgi.ValetMiddleware``:
one JSON-RPC message per HTTP request, judged as the Rust layer judges it (``McpTools``):

- ``tools/call`` of a tool is the Cedar action named after the tool, needing the tool's
  ``scopes``; its transaction details are of type ``details`` with the arguments named in
  ``fields`` (an argument may hold objects and arrays; a float is refused), and its
  resource (``resource == Resource::"<value>"``) the argument named ``resource``. A tool
  with neither takes its details from an ``authorization_details`` argument when it has
  one. A tool with no rule is still judged by the policies, with no scope required;
- ``initialize``, ``ping``, the ``*/list`` methods, notifications, responses and the
  stream's ``GET`` and ``DELETE`` need the token alone;
- a refusal is an HTTP answer (``401``, ``403`` with ``WWW-Authenticate``, ``403``
  ``approval_required`` with what to sign), never a JSON-RPC error: the SDK never sees
  the message.

A tool reads the decision of the HTTP request that carried its call with
``decision(ctx)``, and what was judged with ``judged_request(ctx)``: the SDK hands each
message's HTTP request to its handler (``ctx.request_context.request``, a Starlette
``Request``) across its session tasks, and the middleware put both in that request's
state. Outside a request served through ``protect`` they raise ``LookupError``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from valet import asgi
from valet._native import Authorizer, Decision, Gate, McpTools, Request
from valet.asgi import ValetMiddleware

__all__ = ["ToolRule", "decision", "judged_request", "mcp_tools", "protect"]


@dataclass(frozen=True)
class ToolRule:
    """How the calls of one tool are judged.

    - ``scopes``: the scopes every block of the token must grant for a call;
    - ``details``: the type of the transaction built from the call's arguments (an RFC
      9396 ``type`` the policies and the tokens' limits know, like ``"payment"``);
    - ``fields``: the arguments that are the transaction's fields (others are not judged);
    - ``resource``: the argument whose value (a non-empty string) is the resource acted
      on. With ``resource`` and no ``details``, the transaction's type is the tool's name.
    """

    scopes: Sequence[str] = ()
    details: str | None = None
    fields: Sequence[str] = ()
    resource: str | None = None

    def __post_init__(self) -> None:
        for name in ("scopes", "fields"):
            if isinstance(getattr(self, name), str):
                raise TypeError(f"`{name}` must be a sequence of str, not one str")
        if self.fields and self.details is None:
            raise TypeError("`fields` need a `details` type: ToolRule(details='payment', fields=[...])")


def mcp_tools(rules: Mapping[str, ToolRule], base: McpTools | None = None) -> McpTools:
    """The ``McpTools`` of these rules, by tool name (added to ``base``): what a server
    judges with, and a client signs over."""
    tools = base if base is not None else McpTools()
    for tool, rule in rules.items():
        for scope in rule.scopes:
            tools = tools.scope(tool, scope)
        if rule.details is not None:
            tools = tools.details_from_arguments(tool, rule.details, list(rule.fields))
        if rule.resource is not None:
            tools = tools.resource_argument(tool, rule.resource)
    return tools


def protect(
    server: Any,
    authorizer: Authorizer,
    resource: str,
    *,
    tools: McpTools | Mapping[str, ToolRule] | None = None,
    app_options: Mapping[str, Any] | None = None,
    **gate_options: Any,
) -> ValetMiddleware:
    """The streamable HTTP ASGI app of ``server`` (an ``MCPServer``, or an SDK 1.x
    ``FastMCP``) behind a ``Gate`` for ``resource``, its canonical URI (the audience its
    tokens name).

    - ``tools``: the rules of the tools, by name, or an ``McpTools``;
    - ``app_options``: keyword arguments of ``server.streamable_http_app`` (such as
      ``json_response``, ``stateless_http``); its ``streamable_http_path`` is by default
      the path of ``resource`` (``/mcp`` for ``https://tools.example.com/mcp``);
    - any other keyword argument is a ``Gate``'s (``max_body_bytes``,
      ``authorization_servers``, ``scopes``, ``resource_name``, ...).

    The app's lifespan (which runs the SDK's session manager) passes through the
    middleware: serve the returned app itself, or mount it with its lifespan.
    """
    if tools is None or isinstance(tools, McpTools):
        extractor = tools if tools is not None else McpTools()
    else:
        extractor = mcp_tools(tools)
    options = dict(app_options or {})
    path = urllib.parse.urlsplit(resource).path
    if path and path != "/":
        options.setdefault("streamable_http_path", path)
    gate = Gate(authorizer, resource, tools=extractor, **gate_options)
    return ValetMiddleware(server.streamable_http_app(**options), gate)


def _http_request(ctx: Any) -> Any:
    """The HTTP request that carried the message of this handler's context."""
    try:
        return ctx.request_context.request
    except (AttributeError, ValueError):
        return None


def decision(ctx: Any) -> Decision:
    """The ``Decision`` (an allow) of the HTTP request that carried this tool call: give the
    tool's ``Context``. Raises ``LookupError`` when the request did not come through
    ``protect`` (or ``ValetMiddleware``), for instance over stdio."""
    request = _http_request(ctx)
    if request is None:
        raise LookupError("this call came with no HTTP request: serve the server through valet.mcpserver.protect")
    return asgi.decision(request)


def judged_request(ctx: Any) -> Request:
    """The ``Request`` judged for this tool call: its action, transaction details (the
    arguments that were judged) and scopes. Raises ``LookupError`` as ``decision`` does."""
    request = _http_request(ctx)
    if request is None:
        raise LookupError("this call came with no HTTP request: serve the server through valet.mcpserver.protect")
    return asgi.judged_request(request)
