"""The per-request cost of `valet.asgi.ValetMiddleware`, against the decision alone and the
application alone, in one run.

    .venv/bin/python crates/valet-py/bench/bench_asgi.py [--seconds 3]
    .venv/bin/python crates/valet-py/bench/bench_asgi.py --only middleware --requests 300 [--setup-only]

Every request is an MCP `tools/call` of `pay_invoice` (50.00 USD to alice) with a token
bound to the agent's key and a fresh proof of possession, judged by the bundled policies
(the tools and scopes of `crates/valet-http/examples/tool_server.rs`, as the Rust bench
`benches/benches/layer.rs` measures them). The rows:

- `authorize`: `Authorizer.authorize(token, request, proof)` called from Python, with the
  `Request` the middleware's gate judges for that body;
- `gate.judge`: `Gate.judge` of the whole HTTP request (method, path, headers, body),
  called from Python on the calling thread;
- `middleware`: the request through `ValetMiddleware` in front of the application, driven
  in process with asyncio (the ASGI scope, `receive` and `send` built here; no sockets, no
  server), the gate in a worker thread as the middleware runs it;
- `application alone`: the same request straight to the application, a trivial ASGI app
  that reads the body and answers a small JSON `200`;
- `worker thread`: what the middleware adds around the gate besides the application: one
  call of nothing in a worker thread, awaited the way the middleware awaits `gate.judge`
  (`anyio.to_thread.run_sync` when anyio can be imported, else `asyncio.to_thread`).

Each run makes its requests and proofs first (a proof's nonce is single use), then times
them one after the other; a row's figure is the median over runs of the time per request.
The rows take turns run after run, so that a noisy machine slows all of them alike. Before
each run the authorizer's fixed clock moves on past the proof window, so that the proofs
of earlier runs have expired and the replay cache never fills.

With `--only ROW --requests N`, one run of 20 requests of that row, then one of N, and
nothing printed: for an instruction count (`valgrind --tool=callgrind`), the difference of
two counts with different N, less that of the same with `--setup-only` (the requests made,
not sent), is the cost of N requests.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import valet
from valet.asgi import ASGIApp, Message, Receive, Scope, Send, ValetMiddleware

try:
    import anyio.to_thread

    ANYIO = True
except ImportError:  # anyio comes with Starlette and the MCP SDK
    ANYIO = False

POLICIES = Path(__file__).resolve().parents[3] / "policies"
NOW = 1_800_000_000
MCP = "https://tools.example.com/mcp"
DAY = 86_400
# Past the proof window (60 s, and 5 s of skew): the proofs of earlier runs have expired.
STEP = 66
# Fewer proofs in one run than the replay cache holds for one agent (5 000).
MAX_PER_RUN = 4_000
BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "pay_invoice",
            "arguments": {"amount": "50.00", "currency": "USD", "recipient": "alice@example.com", "memo": "invoice 42"},
        },
    },
    separators=(",", ":"),
).encode()
ANSWER = b'{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"paid"}]}}'
TOOLS = (
    valet.McpTools()
    .scope("read_calendar", "calendar:read")
    .scope("send_email", "email:send")
    .scope("pay_invoice", "payments:write")
    .details_from_arguments("send_email", "email", ["recipient", "subject"])
    .details_from_arguments("pay_invoice", "payment", ["amount", "currency", "recipient", "memo"])
)

Headers = list[tuple[bytes, bytes]]


def nothing() -> None:
    """What the `worker thread` row runs in the worker thread."""


async def in_thread() -> None:
    """`nothing()` in a worker thread, as the middleware runs `gate.judge`."""
    if ANYIO:
        await anyio.to_thread.run_sync(nothing)
    else:
        await asyncio.to_thread(nothing)


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """The trivial ASGI application: reads the whole body, answers a small JSON `200`."""
    while True:
        message = await receive()
        if not message.get("more_body", False):
            break
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": ANSWER, "more_body": False})


@dataclass
class Exchange:
    """One HTTP request in process: its scope, the body to receive, the status sent back."""

    scope: Scope
    body: bytes
    given: bool = False
    status: int = field(default=0)

    async def receive(self) -> Message:
        if not self.given:
            self.given = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])


def scope(headers: Headers) -> Scope:
    """The ASGI scope a server builds for a POST to `/mcp` with these headers."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("tools.example.com", 443),
        "client": ("127.0.0.1", 50000),
    }


class Agent:
    """The agent: its key, its token, and the request the server judges for `BODY`."""

    def __init__(self, root: valet.RootKeyPair, clock: valet.FixedClock) -> None:
        self.clock = clock
        self.key = valet.SigningKey.generate()
        grant = valet.TokenBuilder(
            "alice@example.com",
            "https://orchestrator.example/client",
            audiences=[MCP],
            scopes=["calendar:read", "email:send", "payments:write"],
            expires_in=DAY,
            holder=self.key.public(),
            details=[{"type": "payment", "actions": ["pay_invoice"], "limits": {"amount": {"max": "1000.00"}}}],
        )
        self.token = valet.Issuer(root, max_lifetime=DAY).mint(grant, now=NOW)
        self.authorization = b"Bearer " + self.token.to_base64().encode()
        self.judged = TOOLS.request(MCP, BODY)

    def proof(self) -> valet.HolderProof:
        """A fresh proof (a new nonce) at the clock's time."""
        return valet.HolderProof.sign(self.key, self.token, self.judged, now=self.clock.now())

    def headers(self) -> Headers:
        """The request headers, with the token and a fresh proof."""
        proof = base64.urlsafe_b64encode(self.proof().to_json().encode()).rstrip(b"=")
        return [
            (b"host", b"tools.example.com"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            (b"authorization", self.authorization),
            (b"valet-proof", proof),
        ]


@dataclass
class Row:
    """A row: `make(n)` prepares n requests (untimed), `run(prepared)` times them and
    returns the seconds they took with the answers, `check(answers)` fails unless each
    was answered as the row says."""

    name: str
    make: Callable[[int], list[Any]]
    run: Callable[[list[Any]], tuple[float, list[Any]]]
    check: Callable[[list[Any]], None]
    most: int = 10**7
    number: int = 1
    runs: list[float] = field(default_factory=list)

    def once(self, number: int) -> float:
        seconds, answers = self.run(self.make(number))
        self.check(answers)
        return seconds

    def calibrate(self, target: float) -> float:
        """As `timeit.Timer.autorange`: the smallest 1, 2, 5, 10, 20, 50... requests a run
        that take at least `target` seconds (at most `most`); returns that run's time."""
        seconds = 0.0
        for power in range(10):
            for factor in (1, 2, 5):
                self.number = min(factor * 10**power, self.most)
                seconds = self.once(self.number)
                if seconds >= target or self.number == self.most:
                    return seconds
        return seconds

    def median(self) -> float:
        return statistics.median(self.runs) / self.number


def rows() -> list[Row]:
    root = valet.RootKeyPair.generate(key_id=1)
    clock = valet.FixedClock(NOW)
    authorizer = valet.Authorizer(valet.KeySet([root.public()]), POLICIES, now=clock)
    gate = valet.Gate(authorizer, MCP, tools=TOOLS, scopes=["calendar:read", "email:send", "payments:write"])
    middleware = ValetMiddleware(application, gate)
    agent = Agent(root, clock)
    loop = asyncio.new_event_loop()

    def moved(make: Callable[[], Any]) -> Callable[[int], list[Any]]:
        """`n` of `make()` at a clock moved past the earlier runs' proofs."""

        def prepare(n: int) -> list[Any]:
            clock.advance(STEP)
            return [make() for _ in range(n)]

        return prepare

    def authorize(proofs: list[valet.HolderProof]) -> tuple[float, list[valet.Decision]]:
        decisions = []
        start = time.perf_counter()
        for p in proofs:
            decisions.append(authorizer.authorize(agent.token, agent.judged, proof=p))
        return time.perf_counter() - start, decisions

    def allowed(decisions: list[valet.Decision]) -> None:
        refused = [d for d in decisions if not d.allowed]
        if refused:
            raise SystemExit(f"authorize: {len(refused)} of {len(decisions)} not allowed: {refused[0].reasons}")

    def judge(requests: list[Headers]) -> tuple[float, list[valet.GateAnswer]]:
        answers = []
        start = time.perf_counter()
        for headers in requests:
            answers.append(gate.judge("POST", "/mcp", headers, BODY))
        return time.perf_counter() - start, answers

    def admitted(answers: list[valet.GateAnswer]) -> None:
        refused = [a for a in answers if not a.allowed]
        if refused:
            raise SystemExit(f"gate.judge: {len(refused)} of {len(answers)} not admitted: {refused[0].body!r}")

    def drive(app: ASGIApp) -> Callable[[list[Exchange]], tuple[float, list[Exchange]]]:
        async def serve(exchanges: list[Exchange]) -> tuple[float, list[Exchange]]:
            start = time.perf_counter()
            for e in exchanges:
                await app(e.scope, e.receive, e.send)
            return time.perf_counter() - start, exchanges

        return lambda exchanges: loop.run_until_complete(serve(exchanges))

    def answered_200(exchanges: list[Exchange]) -> None:
        failed = [e.status for e in exchanges if e.status != 200]
        if failed:
            raise SystemExit(f"ASGI: {len(failed)} of {len(exchanges)} answered {failed[0]}, not 200")

    def exchange() -> Exchange:
        return Exchange(scope(agent.headers()), BODY)

    # The application reads no header: its requests carry the same ones, signed once.
    same = agent.headers()

    def unsigned(n: int) -> list[Exchange]:
        return [Exchange(scope(same), BODY) for _ in range(n)]

    async def handoffs(calls: list[None]) -> tuple[float, list[None]]:
        start = time.perf_counter()
        for _ in calls:
            await in_thread()
        return time.perf_counter() - start, calls

    return [
        Row("authorize", moved(agent.proof), authorize, allowed, MAX_PER_RUN),
        Row("gate.judge", moved(agent.headers), judge, admitted, MAX_PER_RUN),
        Row("middleware", moved(exchange), drive(middleware), answered_200, MAX_PER_RUN),
        Row("application alone", unsigned, drive(application), answered_200),
        Row("worker thread", lambda n: [None] * n, lambda c: loop.run_until_complete(handoffs(c)), lambda _: None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="about how long each row runs")
    parser.add_argument("--only", help="run this row once and print nothing")
    parser.add_argument("--requests", type=int, default=300, help="requests of the --only run")
    parser.add_argument("--setup-only", action="store_true", help="with --only, make the requests, send none")
    args = parser.parse_args()
    target = 0.2
    table = rows()
    if args.only is not None:
        row = next((r for r in table if r.name == args.only), None)
        if row is None:
            raise SystemExit(f"no row `{args.only}`: one of {', '.join(r.name for r in table)}")
        row.once(20)
        if args.setup_only:
            row.make(args.requests)
        else:
            row.once(args.requests)
        return
    for row in table:
        row.once(1)  # the token's first presentation, the worker thread started
    longest = max(row.calibrate(target) for row in table)
    repeat = max(5, int(args.seconds / max(longest, 1e-9)))
    for _ in range(repeat):
        for row in table:
            row.runs.append(row.once(row.number))
    threads = "anyio.to_thread.run_sync" if ANYIO else "asyncio.to_thread"
    print(f"{repeat} runs of each row, taking turns; median per request (worker thread: {threads}):")
    for row in table:
        print(f"  {row.name:<18} {row.median() * 1e6:9.2f} us  ({row.number} requests a run)")
    by_name = {row.name: row.median() for row in table}
    inner = by_name["application alone"]
    print(f"middleware - application alone: {(by_name['middleware'] - inner) * 1e6:9.2f} us")
    print(f"middleware - gate.judge:         {(by_name['middleware'] - by_name['gate.judge']) * 1e6:9.2f} us")
    print(f"gate.judge - authorize:          {(by_name['gate.judge'] - by_name['authorize']) * 1e6:9.2f} us")
    rest = by_name["middleware"] - by_name["gate.judge"] - by_name["worker thread"] - inner
    print(f"middleware - gate.judge - worker thread - application alone: {rest * 1e6:9.2f} us")


if __name__ == "__main__":
    main()
