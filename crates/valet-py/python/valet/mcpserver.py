"""Valet for servers of the official MCP SDK (``mcp.server.mcpserver.MCPServer``, which SDK
1.x called ``FastMCP``): every message to the streamable HTTP endpoint judged, each tool
call with its arguments as the transaction, before the SDK sees it.

```python
from mcp.server.mcpserver import Context, MCPServer
import valet
from valet.mcpserver import ToolRule, decision, protect

server = MCPServer("payments")

@server.tool()
def read_calendar(ctx: Context) -> str: ...

@server.tool()
def pay_invoice(amount: str, currency: str, recipient: str, ctx: Context, memo: str = "") -> str:
    who = decision(ctx).claims["subject"]  # the allow this call was judged
    ...

@server.tool()
def read_file(path: str, ctx: Context) -> str: ...

app = protect(  # after the tools are registered: protect checks the rules against them
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
  with no rule is still judged by the policies, with no scope required;
- an ``authorization_details`` argument is refused (``400``) for every tool except one
  whose rule says ``details_argument=True``, whose function takes that parameter: its
  calls are judged on it. The SDK drops an argument its function does not take, so a
  call judged on the ``1.00`` that argument states would pay the ``5000.00`` of the
  tool's own arguments;
- the rules are checked against the tools the server registered when ``protect`` is
  called: a rule for a tool the server does not have, a field or resource it has no
  argument for, a resource argument that is not a ``str`` parameter, or
  ``details_argument`` for a function without an ``authorization_details`` parameter
  raises ``ValueError``. Register the tools first;
- an argument that is judged reaches the tool as it was judged, or the call is refused
  (``400``): the SDK reads a string given for a parameter that is not a ``str`` as JSON
  (``'[{"to":"JFK"}]'`` becomes a list), and converts values to the parameter's type
  (``"3"`` to ``3`` for an ``int``, ``"true"`` to ``True`` for a ``bool``, at any
  depth). A judged argument must be sent as its own JSON type;
- each MCP session belongs to the token's principal (its client, its subject and its
  delegation chain): a request carrying another principal's token, naming that
  session's ``Mcp-Session-Id``, is answered ``404`` by the SDK as if the session did not
  exist;
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

import json
import types
import typing
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
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
      on. With ``resource`` and no ``details``, the transaction's type is the tool's name;
    - ``details_argument``: for a tool whose function takes an ``authorization_details``
      parameter, its calls judged on that argument (an RFC 9396 object). Every other
      tool refuses that argument.
    """

    scopes: Sequence[str] = ()
    details: str | None = None
    fields: Sequence[str] = ()
    resource: str | None = None
    details_argument: bool = False

    def __post_init__(self) -> None:
        for name in ("scopes", "fields"):
            if isinstance(getattr(self, name), str):
                raise TypeError(f"`{name}` must be a sequence of str, not one str")
        if self.fields and self.details is None:
            raise TypeError("`fields` need a `details` type: ToolRule(details='payment', fields=[...])")
        if self.details_argument and (self.details is not None or self.resource is not None):
            raise TypeError(
                "a tool judged on its own arguments (`details`, `resource`) takes no `authorization_details`:"
                " remove `details_argument`"
            )


def mcp_tools(rules: Mapping[str, ToolRule], base: McpTools | None = None) -> McpTools:
    """The ``McpTools`` of these rules, by tool name (added to ``base``): what a server
    judges with, and a client signs over. An ``authorization_details`` argument is refused
    for every tool whose rule does not say ``details_argument=True``."""
    tools = (base if base is not None else McpTools()).refuse_authorization_details()
    for tool, rule in rules.items():
        for scope in rule.scopes:
            tools = tools.scope(tool, scope)
        if rule.details is not None:
            tools = tools.details_from_arguments(tool, rule.details, list(rule.fields))
        if rule.resource is not None:
            tools = tools.resource_argument(tool, rule.resource)
        if rule.details_argument:
            tools = tools.details_argument(tool)
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

    - ``tools``: the rules of the tools, by name (``"*"`` for every action, or an MCP
      method such as ``"resources/read"``, with ``scopes`` only), or an ``McpTools``. An
      ``McpTools`` is used with ``refuse_authorization_details()``; as ``protect`` cannot
      tell which of its arguments are judged, every argument of every tool must then
      reach the tool as it was sent;
    - ``app_options``: keyword arguments of ``server.streamable_http_app`` (such as
      ``json_response``, ``stateless_http``); its ``streamable_http_path`` is by default
      the path of ``resource`` (``/mcp`` for ``https://tools.example.com/mcp``);
    - any other keyword argument is a ``Gate``'s (``max_body_bytes``,
      ``authorization_servers``, ``scopes``, ``resource_name``, ...).

    Register the server's tools before calling ``protect``: it reads them to check the
    rules (``ValueError`` for a rule that does not fit its tool) and the types of the
    arguments judged. The app's lifespan (which runs the SDK's session manager) passes
    through the middleware: serve the returned app itself, or mount it with its lifespan.
    """
    registered = _registered_tools(server)
    if tools is None or isinstance(tools, McpTools):
        extractor = (tools if tools is not None else McpTools()).refuse_authorization_details()
        judged = {tool: set(arguments) for tool, arguments in registered.items()}
    else:
        judged = _check_rules(tools, registered)
        extractor = mcp_tools(tools)
    checks = {
        tool: {name: _Argument.of(registered[tool][name]) for name in names}
        for tool, names in judged.items()
        if names
    }
    options = dict(app_options or {})
    path = urllib.parse.urlsplit(resource).path
    if path and path != "/":
        options.setdefault("streamable_http_path", path)
    gate = Gate(authorizer, resource, tools=extractor, **gate_options)
    return ValetMiddleware(
        server.streamable_http_app(**options),
        gate,
        check_body=_ArgumentCheck(checks) if checks else None,
        user=_session_owner(gate.resource),
    )


_DETAILS_ARGUMENT = "authorization_details"


def _registered_tools(server: Any) -> dict[str, dict[str, Any]]:
    """The tools ``server`` registered: for each, its arguments as a call names them, with
    the pydantic ``FieldInfo`` the SDK validates each with."""
    listing = getattr(getattr(server, "_tool_manager", None), "list_tools", None)
    if not callable(listing):
        raise TypeError(
            f"protect reads the tools of an MCP SDK `MCPServer` (or SDK 1.x `FastMCP`), not of"
            f" {type(server).__name__}: give the server its tools are registered on"
        )
    tools: dict[str, dict[str, Any]] = {}
    for tool in listing():
        fields = tool.fn_metadata.arg_model.model_fields
        # A call names an argument as the SDK validates it: by its alias, when it has one.
        tools[tool.name] = {(info.alias or name): info for name, info in fields.items()}
    return tools


def _names(values: Iterable[str]) -> str:
    return ", ".join(f"`{v}`" for v in sorted(values)) or "none"


def _check_rules(rules: Mapping[str, ToolRule], registered: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """The arguments judged of each tool; raises ``ValueError`` for a rule that does not fit
    the server's tools."""
    judged: dict[str, set[str]] = {}
    for tool, rule in rules.items():
        arguments = registered.get(tool)
        if arguments is None:
            if tool == "*" or "/" in tool:  # every action, or an MCP method such as resources/read
                if rule.details is not None or rule.resource is not None or rule.details_argument:
                    raise ValueError(f"`{tool}` is not a tool of the server: its rule can give `scopes` only")
                continue
            raise ValueError(
                f"the rule for tool `{tool}` names no tool of the server (its tools: {_names(registered)}):"
                " register the tool before calling protect, or correct the rule's name"
            )
        names = set(rule.fields)
        if rule.resource is not None:
            names.add(rule.resource)
        if rule.details_argument:
            names.add(_DETAILS_ARGUMENT)
        for name in sorted(names - set(arguments)):
            if name == _DETAILS_ARGUMENT and rule.details_argument:
                raise ValueError(
                    f"tool `{tool}` has no `authorization_details` parameter: remove `details_argument=True`"
                    " from its rule, or give its function that parameter"
                )
            where = "`resource`" if name == rule.resource else "`fields`"
            raise ValueError(
                f"tool `{tool}` has no argument `{name}` (its arguments: {_names(arguments)}):"
                f" correct the rule's {where}, or give the tool's function that parameter"
            )
        if rule.resource is not None and not _takes_strings(arguments[rule.resource].annotation):
            raise ValueError(
                f"the resource argument `{rule.resource}` of tool `{tool}` is a non-empty string:"
                " annotate its parameter `str`"
            )
        judged[tool] = names
    return judged


def _takes_strings(annotation: Any) -> bool:
    """Whether a parameter so annotated is given a string as it was sent: ``str``, or
    ``str | None``."""
    if annotation is str:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set(typing.get_args(annotation)) == {str, type(None)}
    return False


@dataclass(frozen=True)
class _Argument:
    """How the SDK reads one argument of a tool: its parameter's type, and a model that
    admits a value exactly when the SDK would pass it on unconverted."""

    annotation: Any
    strict: Any  # a pydantic model of one field, `value`, validated in strict mode

    @classmethod
    def of(cls, field: Any) -> _Argument:
        import pydantic

        model = pydantic.create_model(
            "ValetJudgedArgument",
            __config__=pydantic.ConfigDict(arbitrary_types_allowed=True),
            value=(field.rebuild_annotation(), ...),
        )
        return cls(field.annotation, model)

    def refusal(self, tool: str, name: str, value: Any) -> str | None:
        """Why ``value``, judged as sent, would reach the tool as something else; ``None``
        when it reaches the tool as it was judged."""
        import pydantic

        # The SDK's FuncMetadata.pre_parse_json: a string given for a parameter that is not
        # a `str` is read as JSON, and replaced unless that JSON is a string or a number.
        if isinstance(value, str) and self.annotation is not str:
            try:
                parsed = json.loads(value)
            except (ValueError, RecursionError):
                parsed = value
            if not isinstance(parsed, str | int | float):
                return (
                    f"argument `{name}` of tool `{tool}` is a string holding JSON, which the server would read"
                    " as that JSON: send the value itself, not a string"
                )
        # The SDK validates in pydantic's lax mode, which converts ("3" to 3, "true" to
        # True, at any depth); strict mode admits what needs no conversion.
        try:
            self.strict.model_validate_json(json.dumps({"value": value}), strict=True)
        except (pydantic.ValidationError, ValueError):
            return (
                f"argument `{name}` of tool `{tool}` would reach the tool converted to `{_type_name(self.annotation)}`:"
                " send it as its own JSON type (a number, a boolean, an array or an object, not a string holding one)"
            )
        return None


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


class _ArgumentCheck:
    """Refuses a ``tools/call`` whose judged arguments would reach the tool other than as
    they were judged (``ValetMiddleware``'s ``check_body``)."""

    def __init__(self, tools: Mapping[str, Mapping[str, _Argument]]) -> None:
        self.tools = tools

    def __call__(self, body: bytes) -> str | None:
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            return None  # not JSON: the gate refuses it
        if not isinstance(message, dict) or message.get("method") != "tools/call":
            return None
        params = message.get("params")
        if not isinstance(params, dict):
            return None
        tool, arguments = params.get("name"), params.get("arguments")
        if not isinstance(tool, str) or not isinstance(arguments, dict):
            return None
        checks = self.tools.get(tool, {})
        for name, value in arguments.items():
            argument = checks.get(name)
            refused = argument.refusal(tool, name, value) if argument is not None else None
            if refused is not None:
                return refused
        return None


def _session_owner(resource: str) -> Callable[[Decision], Any]:
    """The ``scope["user"]`` of an admitted request: the MCP SDK's ``AuthenticatedUser``,
    whose principal the SDK compares with the one that opened a session."""
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken

    def owner(decision: Decision) -> Any:
        claims = decision.claims
        if claims is None:
            raise LookupError("an allow without the token's claims cannot own an MCP session")
        # The SDK compares (client_id, issuer, subject). Who acts is the token's client,
        # for its subject, through each delegation link: all three in client_id, so that
        # two agents of one person (or one agent of two people) never share a session.
        chain = [
            {"delegate": link.get("delegate"), "signed_by": link.get("signed_by") if link.get("verified") else None}
            for link in claims.get("chain", [])
        ]
        principal = {"client": claims["client"], "subject": claims["subject"], "chain": chain}
        token = AccessToken(
            token="",  # the credential itself stays out of the application
            client_id=json.dumps(principal, sort_keys=True, separators=(",", ":")),
            subject=claims["subject"],
            scopes=list(claims.get("scopes", [])),
            expires_at=claims.get("expires_at"),
            resource=resource,
            claims=claims,
        )
        return AuthenticatedUser(token)

    return owner


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
