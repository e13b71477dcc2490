"""`Authorizer.authorize` from Python, on the same token, request and policies as the Rust
benchmark `benches/authorize.rs`.

    .venv/bin/python crates/valet-py/bench/bench_authorize.py [--seconds 3]

Prints the median time per call for a prepared `Request`, for a request dict read on each
call, and the throughput of two threads sharing one authorizer against one thread (the
GIL is released while deciding).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import timeit
from pathlib import Path
from typing import Any, Callable

import valet

POLICIES = Path(__file__).resolve().parents[3] / "policies"
NOW = 1_800_000_000
PAY = "https://pay.example.com"
REQUEST: dict[str, Any] = {
    "audience": PAY,
    "action": "pay_invoice",
    "authorization_details": {
        "type": "payment",
        "amount": "50.00",
        "currency": "USD",
        "recipient": "alice@example.com",
    },
}


def setup() -> tuple[valet.Authorizer, valet.Token]:
    root = valet.RootKeyPair.generate(key_id=1)
    grant = valet.TokenBuilder(
        "alice@example.com",
        "https://orchestrator.example/client",
        audiences=[PAY],
        scopes=["payments:write"],
        expires_in=600,
        bearer=True,  # a bearer token, as this benchmark has always measured: no proof per call
        details=[
            {
                "type": "payment",
                "actions": ["pay_invoice"],
                "limits": {"amount": {"max": "1000.00"}, "currency": {"one_of": ["USD"]}},
            }
        ],
    )
    token = valet.Issuer(root).mint(grant, now=NOW)
    child = token.attenuate(
        delegate="invoice-agent",
        max={"payment.amount": "50.00"},
        one_of={"payment.recipient": ["alice@example.com"]},
        expires_in=300,
        now=NOW,
    )
    authorizer = valet.Authorizer(valet.KeySet([root.public()]), POLICIES, now=NOW, accept_bearer_tokens=True)
    assert authorizer.authorize(child, REQUEST).allowed
    return authorizer, child


def median_per_call(fn: Callable[[], object], seconds: float) -> float:
    """Median seconds per call over repeated timeit runs filling about `seconds`."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    repeat = max(5, int(seconds / max(timer.timeit(number), 1e-9)))
    runs = timer.repeat(repeat=repeat, number=number)
    return statistics.median(runs) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    authorizer, child = setup()
    prepared = valet.Request(REQUEST)

    t = median_per_call(lambda: authorizer.authorize(child, prepared), args.seconds)
    print(f"python authorize, prepared Request: {t * 1e6:9.2f} us/call (median)")
    t_dict = median_per_call(lambda: authorizer.authorize(child, REQUEST), args.seconds)
    print(f"python authorize, request dict:     {t_dict * 1e6:9.2f} us/call (median)")

    calls = 20000

    def loop() -> None:
        for _ in range(calls):
            authorizer.authorize(child, prepared)

    start = time.perf_counter()
    loop()
    serial = time.perf_counter() - start
    threads = [threading.Thread(target=loop) for _ in range(2)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    parallel = time.perf_counter() - start
    print(
        f"{calls} calls on one thread {serial:.3f} s, {calls} on each of two threads "
        f"{parallel:.3f} s: throughput x{2 * serial / parallel:.2f}"
    )

if __name__ == "__main__":
    main()
