"""Valet: valet keys for AI agents, judged with the owner's Cedar policies.

A valet key is a Biscuit token bound to one audience, with a few scopes and RFC 9396
transaction limits, that expires soon and can be narrowed offline for a sub-agent. An
``Authorizer`` verifies it and evaluates the transaction against Cedar policies; the
answer is a ``Decision`` (``"allow"``, ``"deny"`` or ``"needs_approval"``), never an
exception.

Money is exact: amounts are ``str`` (``"50.00"``) or ``decimal.Decimal``; a ``float``
where an amount is read raises ``RequestError``.
"""

from valet._native import (
    Authorizer,
    Decision,
    FixedClock,
    Issuer,
    KeySet,
    PolicyError,
    Request,
    RequestError,
    RootKeyPair,
    RootPublicKey,
    SignatureError,
    Token,
    TokenBuilder,
    TokenError,
    TokenFormatError,
    ValetError,
    ValetKeyError,
    Verdict,
    Verifier,
    WideningError,
    __version__,
)

KeyPair = RootKeyPair
"""Another name for ``RootKeyPair``."""

__all__ = [
    "Authorizer",
    "Decision",
    "FixedClock",
    "Issuer",
    "KeyPair",
    "KeySet",
    "PolicyError",
    "Request",
    "RequestError",
    "RootKeyPair",
    "RootPublicKey",
    "SignatureError",
    "Token",
    "TokenBuilder",
    "TokenError",
    "TokenFormatError",
    "ValetError",
    "ValetKeyError",
    "Verdict",
    "Verifier",
    "WideningError",
    "__version__",
]
