"""Valet: valet keys for AI agents, judged with the owner's Cedar policies.

A valet key is a Biscuit token bound to one audience, with a few scopes and RFC 9396
transaction limits, that expires soon and can be narrowed offline for a sub-agent. An
``Authorizer`` verifies it and evaluates the transaction against Cedar policies; the
answer is a ``Decision`` (``"allow"``, ``"deny"`` or ``"needs_approval"``), never an
exception.

Money is exact: amounts are ``str`` (``"50.00"``) or ``decimal.Decimal``; a ``float``
where an amount is read raises ``RequestError``.

A token is bound to its agent's ``VerifyingKey`` (``TokenBuilder(..., holder=key)``), and
each request needs a ``HolderProof`` signed with the agent's ``SigningKey``: a copy of the
token alone is of no use. A delegation is signed by the delegating agent
(``Token.attenuate_signed``), and a person can sign an ``Approval`` of one exact
transaction that a policy sent for approval.

The policies can read the resource server's entity data (people and their teams, files and
their owners, agents' fleets): ``Authorizer(..., entities=...)`` takes a list of entity
dicts in Cedar's JSON shape, or a callable asked once per decision for the entities it
names.

Bearer tokens, bound to no key and usable by whoever holds a copy, are risky: they are
minted only with ``TokenBuilder(..., bearer=True)`` and honoured only by an
``Authorizer`` or ``Verifier`` built with ``accept_bearer_tokens=True``.

An MCP server reads each JSON-RPC message as the operation it judges with ``McpTools``
(which scope each tool needs, which arguments are its transaction); a client signs its
proof of possession over ``tools.request(audience, body)``, exactly what the server judges. A ``Gate`` judges whole HTTP requests as the Rust layer
does (metadata, ``401``/``403``/``approval_required``/``400``/``413`` answers, byte for
byte); ``valet.asgi.ValetMiddleware`` puts one in front of any ASGI application, and
``valet.mcpserver.protect`` in front of an MCP SDK server (``MCPServer``), each tool call
judged with its arguments as the transaction and its ``Decision`` read by the tool.

Several replicas of one resource server share used proofs, spent approvals and revocations
in Redis: ``Authorizer(..., stores=RedisStores("redis://host:6379/", replica="api-1"))``.
"""

from valet._native import (
    CREDENTIAL_HEADERS,
    Approval,
    Authorizer,
    Decision,
    EntityError,
    FixedClock,
    Gate,
    GateAnswer,
    HolderProof,
    Issuer,
    KeySet,
    McpTools,
    PolicyError,
    ProofError,
    RedisError,
    RedisStores,
    Request,
    RequestError,
    RootKeyPair,
    RootPublicKey,
    SignatureError,
    SigningKey,
    Token,
    TokenBuilder,
    TokenError,
    TokenFormatError,
    ValetError,
    ValetKeyError,
    Verdict,
    Verifier,
    VerifyingKey,
    WideningError,
    __version__,
)

KeyPair = RootKeyPair
"""Another name for ``RootKeyPair``."""

__all__ = [
    "CREDENTIAL_HEADERS",
    "Approval",
    "Authorizer",
    "Decision",
    "EntityError",
    "FixedClock",
    "Gate",
    "GateAnswer",
    "HolderProof",
    "Issuer",
    "KeyPair",
    "KeySet",
    "McpTools",
    "PolicyError",
    "ProofError",
    "RedisError",
    "RedisStores",
    "Request",
    "RequestError",
    "RootKeyPair",
    "RootPublicKey",
    "SignatureError",
    "SigningKey",
    "Token",
    "TokenBuilder",
    "TokenError",
    "TokenFormatError",
    "ValetError",
    "ValetKeyError",
    "Verdict",
    "Verifier",
    "VerifyingKey",
    "WideningError",
    "__version__",
]
