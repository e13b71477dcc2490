"""Type stubs of the native module ``valet._native`` (re-exported by ``valet``)."""

import datetime
import decimal
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias, final

__version__: str

_Time: TypeAlias = int | float | datetime.datetime
"""Unix seconds or an aware ``datetime``."""
_Seconds: TypeAlias = int | float | datetime.timedelta
"""A length of time: seconds or a ``timedelta``."""
_Amount: TypeAlias = str | int | decimal.Decimal
"""An exact amount: never a ``float``."""
_StrPath: TypeAlias = str | os.PathLike[str]

_Entity: TypeAlias = Mapping[str, Any]
"""An entity in Cedar's JSON shape: ``{"uid": ..., "attrs": {...}, "parents": [...]}``."""
_EntityLookup: TypeAlias = Callable[[dict[str, Any]], Sequence[_Entity]]
"""Asked ``{"agents": [uid, ...], "person": uid | None, "resources": [uid, ...]}``, each
uid ``{"type": ..., "id": ...}``; returns the entities."""

class ValetError(Exception):
    """The base class of every error Valet raises."""

class TokenError(ValetError):
    """A token could not be built, read or attenuated."""

class TokenFormatError(TokenError):
    """The bytes or text are not a valet token."""

class SignatureError(TokenError):
    """A token's signature does not verify."""

class WideningError(TokenError):
    """An attenuation would widen what the parent token allows."""

class ProofError(TokenError):
    """A proof of possession or a signed approval could not be signed or read."""

class PolicyError(ValetError):
    """A policy directory could not be loaded."""

    diagnostics: list[dict[str, Any]]

class EntityError(ValetError):
    """Entity data given to an ``Authorizer`` does not fit the policies' schema."""

class RequestError(ValetError):
    """A request cannot be judged as given."""

class RedisError(ValetError):
    """The stores shared by replicas cannot be set up as given (a bad URL or option)."""

class ValetKeyError(ValetError):
    """A key could not be read, written or found."""

@final
class RootKeyPair:
    """An Ed25519 root key pair with its key id."""

    @staticmethod
    def generate(key_id: int = 1) -> RootKeyPair:
        """A new random key pair with this key id."""
    @staticmethod
    def from_private_text(text: str) -> RootKeyPair:
        """Reads a key pair from the text ``to_private_text`` writes."""
    @staticmethod
    def read_file(path: _StrPath) -> RootKeyPair:
        """Reads a private key file, refusing one that other users can read."""
    @property
    def id(self) -> int:
        """The key id."""
    def public(self) -> RootPublicKey:
        """The public half."""
    def to_private_text(self) -> str:
        """The private key as text."""
    def write_private_file(self, path: _StrPath, force: bool = False) -> None:
        """Writes the private key file with mode 0600."""

@final
class RootPublicKey:
    """A root public key with its key id."""

    @staticmethod
    def from_text(text: str) -> RootPublicKey:
        """Reads a public key from the text ``to_text`` writes."""
    @staticmethod
    def read_file(path: _StrPath) -> RootPublicKey:
        """Reads a public key file."""
    @property
    def id(self) -> int:
        """The key id."""
    def to_text(self) -> str:
        """The public key as text."""
    def write_file(self, path: _StrPath, force: bool = False) -> None:
        """Writes the public key file."""
    def __eq__(self, other: object) -> bool: ...

@final
class VerifyingKey:
    """An Ed25519 public key of an agent (a token holder) or of an approver."""

    @staticmethod
    def parse(text: str) -> VerifyingKey:
        """Reads ``ed25519/<64 hex digits>``."""
    @staticmethod
    def from_text(text: str) -> VerifyingKey:
        """Reads the public key file text ``to_text`` writes."""
    @staticmethod
    def read_file(path: _StrPath) -> VerifyingKey:
        """Reads a public key file."""
    def to_text(self) -> str:
        """The public key file text."""
    def write_file(self, path: _StrPath, force: bool = False) -> None:
        """Writes the public key file."""
    def to_bytes(self) -> bytes:
        """The raw 32 bytes."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

_Holder: TypeAlias = VerifyingKey | str
"""A ``VerifyingKey`` or its ``ed25519/<hex>`` text."""

@final
class SigningKey:
    """An agent's or an approver's Ed25519 key pair; its ``repr`` never shows the secret."""

    @staticmethod
    def generate() -> SigningKey:
        """A new random key pair."""
    @staticmethod
    def from_private_text(text: str) -> SigningKey:
        """Reads a key pair from the text ``to_private_text`` writes."""
    @staticmethod
    def read_file(path: _StrPath) -> SigningKey:
        """Reads a private key file, refusing one that other users can read."""
    def public(self) -> VerifyingKey:
        """The public half."""
    def to_private_text(self) -> str:
        """The private key file text (a secret)."""
    def write_private_file(self, path: _StrPath, force: bool = False) -> None:
        """Writes the private key file with mode 0600."""

@final
class HolderProof:
    """A proof of possession of a bound token's holder key, for one request."""

    @staticmethod
    def sign(
        key: SigningKey,
        token: Token,
        request: Request | Mapping[str, Any],
        now: _Time | None = None,
        nonce: str | None = None,
    ) -> HolderProof:
        """Signs a proof for presenting ``token`` with ``request``."""
    @staticmethod
    def from_json(text: str) -> HolderProof:
        """Reads the JSON form."""
    def to_json(self) -> str:
        """The JSON form."""
    @property
    def key(self) -> VerifyingKey:
        """The holder's public key."""
    @property
    def timestamp(self) -> int:
        """When it was signed, Unix seconds."""
    @property
    def nonce(self) -> str:
        """The single-use nonce."""
    @property
    def signature(self) -> bytes:
        """The Ed25519 signature."""
    def __eq__(self, other: object) -> bool: ...

@final
class Approval:
    """An approver's signature allowing one exact transaction."""

    @staticmethod
    def sign(
        key: SigningKey,
        subject: str,
        token: Token,
        request: Request | Mapping[str, Any],
        *,
        expires_at: _Time | None = None,
        expires_in: _Seconds | None = None,
        now: _Time | None = None,
    ) -> Approval:
        """Signs an approval of exactly ``request`` made with ``token`` for ``subject``."""
    @staticmethod
    def from_json(text: str) -> Approval:
        """Reads the JSON form."""
    def to_json(self) -> str:
        """The JSON form."""
    @property
    def approver(self) -> VerifyingKey:
        """The approver's public key."""
    @property
    def subject(self) -> str:
        """The person the agent acts for."""
    @property
    def audience(self) -> str:
        """Where the transaction is performed."""
    @property
    def action(self) -> str:
        """The operation."""
    @property
    def token_digest(self) -> str:
        """The hex SHA-256 of the token's bytes: only that token can use it."""
    @property
    def details_digest(self) -> str:
        """The hex SHA-256 of the transaction's canonical JSON."""
    @property
    def expires_at(self) -> int:
        """Unix seconds after which it approves nothing."""
    @property
    def signature(self) -> bytes:
        """The Ed25519 signature."""
    def __eq__(self, other: object) -> bool: ...

@final
class KeySet:
    """The root public keys a verifier trusts, by key id."""

    def __new__(cls, keys: Sequence[RootPublicKey] = ...) -> KeySet: ...
    def add(self, key: RootPublicKey) -> None:
        """Adds a key, replacing any key with the same id."""
    def remove(self, key_id: int) -> None:
        """Removes the key with this id."""
    def ids(self) -> list[int]:
        """The key ids held."""
    def __len__(self) -> int: ...
    def __contains__(self, key_id: int) -> bool: ...

@final
class TokenBuilder:
    """What a root token grants; setters chain."""

    def __new__(
        cls,
        subject: str,
        client: str,
        *,
        audiences: Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        expires_in: _Seconds | None = None,
        details: Iterable[Mapping[str, Any]] | None = None,
        token_id: str | None = None,
        max_depth: int | None = None,
        holder: _Holder | None = None,
        bearer: bool = False,
    ) -> TokenBuilder: ...
    def audience(self, uri: str) -> TokenBuilder:
        """Adds an audience."""
    def scope(self, name: str) -> TokenBuilder:
        """Adds a scope."""
    def expires_in(self, lifetime: _Seconds) -> TokenBuilder:
        """Expires this long after minting."""
    def expires_at(self, at: _Time) -> TokenBuilder:
        """Expires at this time."""
    def not_before(self, at: _Time) -> TokenBuilder:
        """Not valid before this time."""
    def token_id(self, id: str) -> TokenBuilder:
        """Sets the token id."""
    def detail(self, detail_obj: Mapping[str, Any]) -> TokenBuilder:
        """Adds an RFC 9396 authorization detail."""
    def max_depth(self, depth: int) -> TokenBuilder:
        """Caps how many attenuation blocks may be added."""
    def holder(self, key: _Holder) -> TokenBuilder:
        """Binds the token to the agent's public key (required to mint, unless ``bearer``)."""
    def bearer(self) -> TokenBuilder:
        """Risky: lets the grant be minted without a holder key, as a bearer token."""

@final
class Issuer:
    """Signs tokens with a root key."""

    def __new__(cls, key: RootKeyPair, max_lifetime: _Seconds | None = None) -> Issuer: ...
    def mint(self, builder: TokenBuilder, now: _Time | None = None) -> Token:
        """Mints a token from ``builder``."""


@final
class Token:
    """A valet key as presented: parsed, signatures not yet checked."""

    @staticmethod
    def from_base64(text: str) -> Token:
        """Reads a token from its base64url text."""
    @staticmethod
    def from_bytes(data: bytes) -> Token:
        """Reads a token from its binary form."""
    def to_base64(self) -> str:
        """The token as base64url text."""
    def to_bytes(self) -> bytes:
        """The token in binary form."""
    @property
    def key_id(self) -> int | None:
        """The id of the root key that signed it."""
    @property
    def block_count(self) -> int:
        """How many blocks it has."""
    def revocation_ids(self) -> list[str]:
        """Every block's revocation id (hex), authority first."""
    def claims(self) -> dict[str, Any]:
        """What the token says, unverified."""
    def unverified_claims(self) -> dict[str, Any]:
        """Same as ``claims()``."""
    def attenuate(
        self,
        *,
        delegate: str | None = None,
        audiences: Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        expires_in: _Seconds | None = None,
        expires_at: _Time | None = None,
        max: Mapping[str, _Amount] | Iterable[tuple[str, str, _Amount]] | None = None,
        min: Mapping[str, _Amount] | Iterable[tuple[str, str, _Amount]] | None = None,
        one_of: Mapping[str, Sequence[str]] | Iterable[tuple[str, str, Sequence[str]]] | None = None,
        actions: Mapping[str, Sequence[str]] | None = None,
        max_depth: int | None = None,
        checks: Sequence[str] | None = None,
        holder: _Holder | None = None,
        now: _Time | None = None,
    ) -> Token:
        """A NEW token narrowed for a sub-agent."""
    def attenuate_signed(
        self,
        key: SigningKey,
        *,
        delegate: str | None = None,
        audiences: Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        expires_in: _Seconds | None = None,
        expires_at: _Time | None = None,
        max: Mapping[str, _Amount] | Iterable[tuple[str, str, _Amount]] | None = None,
        min: Mapping[str, _Amount] | Iterable[tuple[str, str, _Amount]] | None = None,
        one_of: Mapping[str, Sequence[str]] | Iterable[tuple[str, str, Sequence[str]]] | None = None,
        actions: Mapping[str, Sequence[str]] | None = None,
        max_depth: int | None = None,
        checks: Sequence[str] | None = None,
        holder: _Holder | None = None,
        now: _Time | None = None,
    ) -> Token:
        """A NEW token narrowed for a sub-agent, the block signed by ``key``."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class FixedClock:
    """A clock that says what it is told."""

    def __new__(cls, now: _Time) -> FixedClock: ...
    def set(self, now: _Time) -> None:
        """Moves the clock to ``now``."""
    def advance(self, by: _Seconds) -> None:
        """Moves the clock forward."""
    def now(self) -> int:
        """The clock's time, in Unix seconds."""

@final
class Request:
    """What is being attempted, read once and reusable."""

    def __new__(cls, request: Mapping[str, Any]) -> Request: ...
    def to_dict(self) -> dict[str, Any]:
        """The request as a dict."""

@final
class McpTools:
    """How MCP JSON-RPC messages are read as the operations a server judges."""

    def __new__(cls) -> McpTools: ...
    def scope(self, action: str, scope: str) -> McpTools:
        """A new ``McpTools`` that also requires ``scope`` for ``action`` (``"*"``: all)."""
    def details_from_arguments(
        self, tool: str, detail_type: str, fields: Sequence[str]
    ) -> McpTools:
        """A new ``McpTools`` building ``tool``'s transaction from these arguments."""
    def resource_argument(self, tool: str, argument: str) -> McpTools:
        """A new ``McpTools`` taking ``tool``'s resource from this argument."""
    def refuse_authorization_details(self) -> McpTools:
        """A new ``McpTools`` refusing an ``authorization_details`` argument for every tool
        not given to ``details_argument``."""
    def details_argument(self, tool: str) -> McpTools:
        """A new ``McpTools`` judging ``tool`` on its ``authorization_details`` argument,
        under ``refuse_authorization_details``."""
    def request(
        self,
        audience: str,
        body: bytes | str,
        method: str = "POST",
        headers: _Headers | None = None,
    ) -> Request:
        """The ``Request`` a server at ``audience`` judges for this HTTP request."""

CREDENTIAL_HEADERS: tuple[str, ...]
"""The request headers that carry credentials (lowercase), never passed on by a gate."""

_Headers: TypeAlias = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
"""A mapping of header names to values, or ``(name, value)`` pairs as an ASGI scope holds them."""

@final
class Gate:
    """Judges each HTTP request exactly as the Rust tower layer does."""

    def __new__(
        cls,
        authorizer: Authorizer,
        resource: str,
        *,
        tools: McpTools | None = None,
        max_body_bytes: int = 65536,
        authorization_servers: Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        resource_name: str | None = None,
        resource_documentation: str | None = None,
        serve_metadata: bool = True,
    ) -> Gate: ...
    def judge(self, method: str, path: str | bytes, headers: _Headers, body: bytes) -> GateAnswer:
        """Judges one HTTP request whose body (at most ``max_body_bytes + 1`` bytes) is read."""
    @property
    def resource(self) -> str:
        """The resource URI: the audience every token must name."""
    @property
    def metadata_url(self) -> str:
        """The RFC 9728 metadata URL."""
    @property
    def metadata_paths(self) -> list[str]:
        """The paths answered with the metadata document."""
    @property
    def max_body_bytes(self) -> int:
        """The largest body read, in bytes."""
    @property
    def authorizer(self) -> Authorizer:
        """The authorizer that judges."""
    @property
    def tools(self) -> McpTools:
        """How request bodies are read."""

@final
class GateAnswer:
    """What a gate makes of one request: admitted with its decision, or answered."""

    @property
    def allowed(self) -> bool:
        """Whether the request is admitted (passed on to the application)."""
    @property
    def decision(self) -> Decision | None:
        """The decision of an admitted request."""
    @property
    def request(self) -> Request | None:
        """What was judged, for an admitted request."""
    @property
    def status(self) -> int | None:
        """The HTTP status of the gate's answer."""
    @property
    def headers(self) -> list[tuple[str, str]]:
        """The headers of the gate's answer."""
    @property
    def body(self) -> bytes:
        """The body of the gate's answer."""

@final
class Decision:
    """The answer to one request."""

    @property
    def outcome(self) -> str:
        """``"allow"``, ``"deny"`` or ``"needs_approval"``."""
    @property
    def allowed(self) -> bool:
        """Whether the request may proceed."""
    @property
    def reasons(self) -> list[dict[str, Any]]:
        """Why, as dicts."""
    @property
    def approval(self) -> str | None:
        """For ``"needs_approval"``: what to ask the human."""
    @property
    def determining_policies(self) -> list[dict[str, Any]]:
        """The Cedar policies that determined the outcome."""
    @property
    def claims(self) -> dict[str, Any] | None:
        """The token's claims, when it could be read."""
    @property
    def token_verified(self) -> bool:
        """Whether the token's signatures were checked and valid."""
    @property
    def proof_key(self) -> str | None:
        """The key of the proof of possession presented, if any."""
    @property
    def approvals(self) -> list[dict[str, Any]]:
        """Every signed approval presented, accepted or not."""
    @property
    def chain(self) -> list[dict[str, Any]]:
        """The chain of custody, one dict per attenuation block."""
    @property
    def audit(self) -> dict[str, Any]:
        """The audit record of this decision."""
    def to_dict(self) -> dict[str, Any]:
        """The decision as a dict."""

@final
class RedisStores:
    """The used proofs, spent approvals and revocations shared by replicas, in Redis."""

    def __new__(
        cls,
        url: str,
        *,
        prefix: str = "valet",
        timeout: _Seconds | None = None,
        replica: str | None = None,
    ) -> RedisStores: ...
    @property
    def url(self) -> str:
        """The URL, its password hidden."""
    @property
    def prefix(self) -> str:
        """The start of every key."""
    @property
    def timeout(self) -> float:
        """The longest one Redis call may take, in seconds."""
    @property
    def replica(self) -> str | None:
        """This replica's name in audit records, if any."""

@final
class Authorizer:
    """Judges requests: the token first, then the owner's Cedar policies."""

    def __new__(
        cls,
        keys: KeySet,
        policy_dir: _StrPath,
        now: _Time | FixedClock | None = None,
        *,
        revocations: _StrPath | None = None,
        audit_log: _StrPath | None = None,
        approvers: Iterable[_Holder] | None = None,
        accept_bearer_tokens: bool = False,
        proof_window: _Seconds | tuple[_Seconds, _Seconds] | None = None,
        max_approval_lifetime: _Seconds | None = None,
        entities: Sequence[_Entity] | _EntityLookup | None = None,
        stores: RedisStores | None = None,
    ) -> Authorizer: ...
    @property
    def clock(self) -> FixedClock | None:
        """The fixed clock this authorizer reads, if any."""
    def authorize(
        self,
        token: Token | str | bytes,
        request: Request | Mapping[str, Any],
        proof: HolderProof | str | None = None,
        approvals: Iterable[Approval | str] | None = None,
    ) -> Decision:
        """Judges one request, with the proof of possession and approvals presented."""
    def revoke(self, revocation_id: str) -> None:
        """Revokes a block by its revocation id."""
    def is_revoked(self, revocation_id: str) -> bool:
        """Whether this revocation id is revoked."""
    def policy_ids(self) -> list[str]:
        """The ids of the policies loaded."""
    def set_entities(self, entities: Sequence[_Entity]) -> None:
        """Replaces the list of entities the authorizer was built with."""

@final
class Verifier:
    """The token layer alone, with no policies."""

    def __new__(
        cls,
        keys: KeySet,
        *,
        accept_bearer_tokens: bool = False,
        proof_window: _Seconds | tuple[_Seconds, _Seconds] | None = None,
    ) -> Verifier: ...
    def verify(
        self,
        token: Token,
        request: Request | Mapping[str, Any],
        proof: HolderProof | str | None = None,
        now: _Time | None = None,
    ) -> Verdict:
        """Verifies ``token`` for ``request`` at ``now``, with the holder's proof."""

@final
class Verdict:
    """What the token layer says."""

    @property
    def allowed(self) -> bool:
        """Whether the token allows the request."""
    @property
    def reasons(self) -> list[dict[str, Any]]:
        """Why it was refused."""
    @property
    def claims(self) -> dict[str, Any] | None:
        """The token's claims, when they could be read."""

__all__ = [
    "ValetError",
    "TokenError",
    "TokenFormatError",
    "SignatureError",
    "WideningError",
    "ProofError",
    "PolicyError",
    "EntityError",
    "RequestError",
    "RedisError",
    "ValetKeyError",
    "RootKeyPair",
    "RootPublicKey",
    "KeySet",
    "SigningKey",
    "VerifyingKey",
    "HolderProof",
    "Approval",
    "TokenBuilder",
    "Issuer",
    "Token",
    "FixedClock",
    "Request",
    "McpTools",
    "Gate",
    "GateAnswer",
    "CREDENTIAL_HEADERS",
    "Decision",
    "Authorizer",
    "RedisStores",
    "Verifier",
    "Verdict",
    "__version__",
]
