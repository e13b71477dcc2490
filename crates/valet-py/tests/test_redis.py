"""Replicas sharing a real Redis through ``RedisStores``: a proof, an approval and a
revocation are one truth across two ``Authorizer``s; Redis stopped is a deny that says so
and recovers by itself; Redis restarted empty refuses what was signed before.

Each test starts its own ``redis-server`` (installed by ``bash scripts/redis.sh``) on a
free loopback port, without persistence, and stops it at the end."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

import valet
from conftest import POLICIES, REPO, payment

SUBJECT = "alice@example.com"
PREFIX = "test"
APPROVAL_LIFETIME = 300


class RedisServer:
    """A ``redis-server`` of a test's own: loopback only, no persistence (a restart loses
    its memory), in a temporary directory."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed: install it with `bash scripts/redis.sh` "
                "(which `bash scripts/test-all.sh` runs), then run the tests again"
            )
        self.binary = binary
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port: int = s.getsockname()[1]
        self.dir = tempfile.TemporaryDirectory(prefix="valet-redis-")
        self.process: subprocess.Popen[bytes] | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/"

    def up(self) -> None:
        """Starts the server (again, empty) and waits until it answers."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir.name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"redis-server exited with status {self.process.returncode} on port {self.port}")
            try:
                if self.command("PING") == b"+PONG":
                    return
            except OSError:
                pass
            time.sleep(0.02)
        pytest.fail(f"redis-server did not answer on port {self.port} within 10 s")

    def down(self) -> None:
        """Stops the server: its memory is lost."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart_empty(self) -> None:
        self.down()
        self.up()

    def command(self, line: str) -> bytes:
        """Sends one inline command and returns the first line of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(line.encode() + b"\r\n")
            answer = b""
            while not answer.endswith(b"\r\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            return answer.strip()

    def close(self) -> None:
        self.down()
        self.dir.cleanup()


@pytest.fixture
def server() -> Iterator[RedisServer]:
    s = RedisServer()
    try:
        yield s
    finally:
        s.close()


class World:
    """One resource server's keys and clock, one agent's bound token, one approver."""

    def __init__(self) -> None:
        self.root = valet.RootKeyPair.generate(key_id=1)
        self.agent = valet.SigningKey.generate()
        self.owner = valet.SigningKey.generate()
        self.clock = valet.FixedClock(int(time.time()))
        grant = valet.TokenBuilder(
            SUBJECT,
            "https://orchestrator.example/client",
            audiences=["https://pay.example.com"],
            scopes=["payments:write"],
            expires_in=3600,
            holder=self.agent.public(),
            details=[{"type": "payment", "limits": {"amount": {"max": "1000.00"}}}],
        )
        self.token = valet.Issuer(self.root).mint(grant, now=self.clock.now())

    def replica(self, stores: valet.RedisStores | None = None) -> valet.Authorizer:
        """One replica, as a process of its own would build it (its own stores' handle)."""
        return valet.Authorizer(
            valet.KeySet([self.root.public()]),
            POLICIES,
            now=self.clock,
            approvers=[self.owner.public()],
            max_approval_lifetime=APPROVAL_LIFETIME,
            stores=stores,
        )

    def on(self, server: RedisServer, name: str, **options: Any) -> valet.Authorizer:
        return self.replica(valet.RedisStores(server.url, prefix=PREFIX, replica=name, **options))

    def proof(self, request: dict[str, Any]) -> valet.HolderProof:
        return valet.HolderProof.sign(self.agent, self.token, request, now=self.clock.now())

    def approve(self, request: dict[str, Any]) -> valet.Approval:
        return valet.Approval.sign(
            self.owner, SUBJECT, self.token, request, expires_in=APPROVAL_LIFETIME, now=self.clock.now()
        )

    def pay(self, replica: valet.Authorizer, request: dict[str, Any], **presented: Any) -> valet.Decision:
        """The request with a fresh proof, unless one is given."""
        presented.setdefault("proof", self.proof(request))
        return replica.authorize(self.token, request, **presented)


@pytest.fixture
def world() -> World:
    return World()


def messages(decision: valet.Decision) -> str:
    return " | ".join(r["message"] for r in decision.reasons)


def until(what: str, seconds: float, check: Any) -> float:
    """Waits until `check()` is true, at most `seconds`; returns how long it took."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, f"{what} after {seconds} s"
        time.sleep(0.01)
    return time.monotonic() - start


def test_a_proof_accepted_by_one_replica_is_refused_by_the_other(server: RedisServer, world: World) -> None:
    a, b = world.on(server, "api-1"), world.on(server, "api-2")
    request = payment("50.00")
    proof = world.proof(request)
    d = world.pay(a, request, proof=proof)
    assert d.allowed, messages(d)
    assert d.audit["replica"] == "api-1"
    again = world.pay(b, request, proof=proof)
    assert again.outcome == "deny"
    assert "already used" in messages(again)
    assert again.audit["replica"] == "api-2"
    # A fresh proof is accepted by either.
    assert world.pay(b, request).allowed
    # With each replica's own memory, the same proof is accepted twice.
    alone_a, alone_b = world.replica(), world.replica()
    proof = world.proof(request)
    assert world.pay(alone_a, request, proof=proof).allowed
    assert world.pay(alone_b, request, proof=proof).allowed
    assert "replica" not in world.pay(alone_a, request).audit


def test_an_approval_spent_on_one_replica_is_refused_by_the_other(server: RedisServer, world: World) -> None:
    a, b = world.on(server, "api-1"), world.on(server, "api-2")
    big = payment("600.00")
    d = world.pay(a, big)
    assert d.outcome == "needs_approval", messages(d)
    approval = world.approve(big)
    d = world.pay(a, big, approvals=[approval])
    assert d.allowed, messages(d)
    assert d.approvals[0]["accepted"] is True
    again = world.pay(b, big, approvals=[approval.to_json()])
    assert not again.allowed
    assert again.approvals[0]["accepted"] is False
    assert "already used" in again.approvals[0]["refused"]


def test_a_revocation_through_one_replica_is_refused_by_the_other_within_a_second(
    server: RedisServer, world: World
) -> None:
    a, b = world.on(server, "api-1"), world.on(server, "api-2")
    request = payment("50.00")
    assert world.pay(b, request).allowed
    revoked = world.token.revocation_ids()[0]
    a.revoke(revoked)
    assert server.command(f"SISMEMBER {PREFIX}:revoked {revoked}") == b":1"
    took = until("the other replica still allows the revoked token", 1.0, lambda: not world.pay(b, request).allowed)
    assert took < 1.0
    d = world.pay(b, request)
    assert d.reasons[0]["kind"] == "revoked", messages(d)
    assert b.is_revoked(revoked)
    # A replica started later refuses it at once.
    assert not world.pay(world.on(server, "api-3"), request).allowed


def test_a_revocation_made_while_redis_is_down_is_shared_when_it_is_back(
    server: RedisServer, world: World
) -> None:
    a, b = world.on(server, "api-1"), world.on(server, "api-2")
    request = payment("50.00")
    revoked = world.token.revocation_ids()[0]
    server.down()
    with pytest.raises(valet.ValetError, match="not yet shared with the other replicas"):
        a.revoke(revoked)
    assert a.is_revoked(revoked) and not b.is_revoked(revoked)
    server.up()
    # `a` writes it back with its next full read of the revocations; `b` then reads it.
    until("the revocation made while Redis was down did not reach the other replica", 3.0,
          lambda: b.is_revoked(revoked))
    assert "revoked" in [r.get("kind") for r in world.pay(b, request).reasons]


def test_redis_stopped_is_a_deny_that_says_so_and_redis_back_allows_again(
    server: RedisServer, world: World
) -> None:
    a = world.on(server, "api-1")
    request = payment("50.00")
    assert world.pay(a, request).allowed
    server.down()
    d = world.pay(a, request)
    assert d.outcome == "deny"
    assert "the verifier's replay store is unreachable" in messages(d)
    # Once its copy of the revocations is older than a second, every decision says so.
    time.sleep(1.2)
    d = world.pay(a, request)
    assert d.outcome == "deny"
    assert "the revocation store is unreachable" in messages(d)
    # Back on the same port, empty: allowed again, without touching the replica. The
    # clock moves on, as it would.
    server.up()
    world.clock.advance(1)
    until("still denied after Redis came back", 3.0, lambda: world.pay(a, request).allowed)


def test_redis_restarted_empty_refuses_a_proof_signed_before(server: RedisServer, world: World) -> None:
    a, b = world.on(server, "api-1"), world.on(server, "api-2")
    request = payment("50.00")
    assert world.pay(a, request).allowed
    # Signed now, presented after Redis lost its memory.
    early = world.proof(request)
    big = payment("600.00")
    approval = world.approve(big)
    server.restart_empty()
    world.clock.advance(2)
    d = world.pay(b, request, proof=early)
    assert d.outcome == "deny"
    assert "signed before the replay store lost its memory" in messages(d)
    d = world.pay(a, big, approvals=[approval])
    assert not d.allowed
    assert "it started empty then" in messages(d)
    # Proofs signed since are accepted.
    assert world.pay(a, request).allowed


def test_a_decision_waiting_on_redis_does_not_hold_the_gil(server: RedisServer, world: World) -> None:
    a = world.on(server, "api-1", timeout=2)
    request = payment("50.00")
    assert world.pay(a, request).allowed
    proof = world.proof(request)
    decided: list[valet.Decision] = []
    # Redis holds every call for 0.8 s: the decision waits on it, and this thread runs on.
    assert server.command("CLIENT PAUSE 800") == b"+OK"
    thread = threading.Thread(target=lambda: decided.append(world.pay(a, request, proof=proof)))
    start = time.monotonic()
    thread.start()
    last, longest = start, 0.0
    while thread.is_alive():
        now = time.monotonic()
        longest, last = max(longest, now - last), now
        time.sleep(0.005)
    thread.join()
    assert time.monotonic() - start >= 0.5, "the decision did not wait on Redis"
    assert longest < 0.4, f"this thread was held for {longest:.2f} s while the decision waited"
    assert decided[0].allowed, messages(decided[0])


def test_the_readme_replicas_example_runs(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (REPO / "crates" / "valet-py" / "README.md").read_text()
    blocks: list[str] = re.findall(r"```python\n(.*?)```", readme, re.S)
    example = next(b for b in blocks if "RedisStores" in b)
    assert "redis://127.0.0.1:6379/" in example
    # As a Redis that has served before: its memory began a while ago (a Redis that has
    # just begun refuses the proofs signed in the second before).
    assert server.command(f"SET pay:epoch {int(time.time()) - 60}:0000000000000000") == b"+OK"
    monkeypatch.chdir(REPO)
    exec(compile(example.replace("redis://127.0.0.1:6379/", server.url), "README.md", "exec"), {"__name__": "readme"})
    assert "the proof of possession was already used" in capsys.readouterr().out


def test_the_stores_show_their_settings_without_the_password() -> None:
    stores = valet.RedisStores("redis://:hunter2@db.example:6379/0", prefix="billing", timeout=0.2, replica="api-1")
    assert (stores.url, stores.prefix, stores.timeout, stores.replica) == (
        "redis://***@db.example:6379/0", "billing", 0.2, "api-1")
    assert "hunter2" not in repr(stores) and "billing" in repr(stores)
    defaults = valet.RedisStores("redis://127.0.0.1:6379/")
    assert (defaults.prefix, defaults.timeout, defaults.replica) == ("valet", 0.05, None)
    assert valet.RedisStores("redis://127.0.0.1:6379/", timeout=timedelta(milliseconds=20)).timeout == 0.02


@pytest.mark.parametrize(
    ("url", "options", "match"),
    [
        ("http://127.0.0.1:6379/", {}, "not a Redis URL"),
        ("127.0.0.1:6379", {}, "not a Redis URL"),
        ("redis://127.0.0.1:6379/", {"prefix": ""}, "prefix"),
        ("redis://127.0.0.1:6379/", {"prefix": "two words"}, "prefix"),
        ("redis://127.0.0.1:6379/", {"timeout": 0}, "timeout"),
        ("redis://127.0.0.1:6379/", {"timeout": -1}, "timeout"),
        ("redis://127.0.0.1:6379/", {"timeout": float("inf")}, "timeout"),
        ("redis://127.0.0.1:6379/", {"replica": ""}, "replica"),
        ("redis://127.0.0.1:6379/", {"replica": "api\n1"}, "replica"),
    ],
    ids=["scheme", "no-scheme", "empty-prefix", "spaced-prefix", "zero-timeout", "negative-timeout",
         "endless-timeout", "empty-replica", "control-replica"],
)
def test_bad_urls_and_options_raise_redis_error(url: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(valet.RedisError, match=match):
        valet.RedisStores(url, **options)
    assert issubclass(valet.RedisError, valet.ValetError)


def test_a_password_is_not_shown_in_errors() -> None:
    with pytest.raises(valet.RedisError) as raised:
        valet.RedisStores("redis://:hunter2@db.example:notaport/")
    assert "hunter2" not in str(raised.value)


def test_wrong_types_and_two_revocation_stores_raise_type_error(tmp_path: Any) -> None:
    with pytest.raises(TypeError, match="timeout"):
        valet.RedisStores("redis://127.0.0.1:6379/", timeout="50ms")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        valet.Authorizer(valet.KeySet(), POLICIES, stores="redis://127.0.0.1:6379/")  # type: ignore[arg-type]
    stores = valet.RedisStores("redis://127.0.0.1:6379/")
    with pytest.raises(TypeError, match="not both"):
        valet.Authorizer(valet.KeySet(), POLICIES, revocations=tmp_path / "revoked.txt", stores=stores)
