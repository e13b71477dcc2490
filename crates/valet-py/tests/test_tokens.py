"""valet.tokens: the token source of a long-running agent, renewed a lead time before
expiry, one renewal however many callers need it, never a token within its lead time, and a
failed renewal an error for every caller that waited for it."""

from __future__ import annotations

import asyncio
import datetime
import sys
import threading
import time
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

import pytest

import valet
from valet.tokens import (
    AsyncTokenSource,
    RenewalError,
    TokenSource,
    TokenSourceError,
    TooShortError,
    UnreadableError,
)

START = 1_795_000_000
LEAD = 60


class World:
    """A root key, an agent's key and a clock the test moves."""

    def __init__(self) -> None:
        self.root = valet.RootKeyPair.generate(key_id=1)
        self.agent = valet.SigningKey.generate()
        self.now = float(START)

    def clock(self) -> float:
        return self.now

    def mint(self, secs: int) -> valet.Token:
        """A token that lives `secs` from now."""
        grant = valet.TokenBuilder(
            "alice@example.com",
            "https://agent.example/client",
            audiences=["https://tools.example.com"],
            scopes=["tools:read"],
            expires_in=secs,
            holder=self.agent.public(),
        )
        return valet.Issuer(self.root).mint(grant, now=int(self.now))


def expires_at(token: valet.Token) -> int:
    value = token.claims()["expires_at"]
    assert isinstance(value, int)
    return value


def in_threads(n: int, call: Callable[[], object]) -> list[object]:
    """`call` on `n` threads released at once; each one's result or exception."""
    start = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = call()
        except Exception as e:
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


# Threads


def test_fifty_threads_at_the_moment_of_expiry_run_one_renewal_and_get_no_token_within_its_lead_time() -> None:
    w = World()
    renewals: list[valet.Token | None] = []

    def renew(current: valet.Token | None) -> valet.Token:
        renewals.append(current)
        # A slow issuer: every other call arrives while it works.
        time.sleep(0.2)
        return w.mint(300)

    first = w.mint(300)
    source = TokenSource(first, renew, lead_time=LEAD, clock=w.clock)
    assert source.token() is first and renewals == []
    # The moment the token enters its lead time.
    w.now = expires_at(first) - LEAD
    assert source.fresh() is None

    def call() -> valet.Token:
        token = source.token()
        assert expires_at(token) > w.now + LEAD, "a token within its lead time"
        return token

    tokens = in_threads(50, call)
    assert renewals == [first], "exactly one renewal ran, given the current token"
    assert all(isinstance(t, valet.Token) for t in tokens), tokens
    assert all(t is tokens[0] for t in tokens)
    assert tokens[0] != first
    # Until the next lead time, no renewal.
    assert source.token() is tokens[0] and source.fresh() is tokens[0]
    w.now += 100
    assert source.token() is tokens[0]
    assert len(renewals) == 1


def test_an_expired_token_is_renewed_never_returned() -> None:
    w = World()
    first = w.mint(300)
    source = TokenSource(first, lambda _: w.mint(300), lead_time=0, clock=w.clock)
    w.now = expires_at(first) - 1
    assert source.token() is first
    w.now = expires_at(first)
    renewed = source.token()
    assert renewed != first and expires_at(renewed) > w.now


def test_a_failed_renewal_is_an_error_for_every_waiting_thread_and_the_next_call_tries_again() -> None:
    w = World()
    renewals = 0

    def renew(_: valet.Token | None) -> valet.Token:
        nonlocal renewals
        renewals += 1
        time.sleep(0.2)
        if renewals == 1:
            raise ConnectionError("the issuer answered 503")
        return w.mint(300)

    first = w.mint(100)
    source = TokenSource(first, renew, lead_time=LEAD, clock=w.clock)
    # Within the token's last minute: it is still valid, but is not given.
    w.now += 50
    errors = in_threads(10, source.token)
    assert renewals == 1
    for err in errors:
        assert isinstance(err, RenewalError) and isinstance(err, valet.ValetError), err
        assert str(err) == "the token could not be renewed: the issuer answered 503"
        assert isinstance(err.__cause__, ConnectionError)
    # One exception object each, not one raised in ten places.
    assert len({id(e) for e in errors}) == 10
    # The next call renews again, and succeeds.
    token = source.token()
    assert expires_at(token) == START + 50 + 300
    assert renewals == 2


def test_a_renewal_too_short_is_an_error_for_every_waiting_thread_not_a_stuck_source() -> None:
    w = World()
    renewals = 0

    def renew(_: valet.Token | None) -> valet.Token:
        nonlocal renewals
        renewals += 1
        time.sleep(0.2)
        return w.mint(30)

    source = TokenSource(w.mint(30), renew, lead_time=LEAD, clock=w.clock)
    errors = in_threads(10, source.token)
    assert renewals == 1
    for err in errors:
        assert isinstance(err, TooShortError) and isinstance(err, TokenSourceError), err
        assert err.expires_at == START + 30 and err.lead_time == LEAD
        assert "within the source's lead time of 60 s" in str(err)
        assert "renew for longer, or shorten the lead time" in str(err)
    with pytest.raises(TooShortError):
        source.token()
    assert renewals == 2


def test_a_renewal_that_returns_no_token_or_is_interrupted_is_an_error() -> None:
    w = World()
    source = TokenSource(w.mint(30), lambda _: "a token?", lead_time=LEAD, clock=w.clock)  # type: ignore[arg-type,return-value]
    with pytest.raises(UnreadableError, match="the renewed token is a `str`, not a valet.Token"):
        source.token()
    interrupted = 0

    def interrupt(_: valet.Token | None) -> valet.Token:
        nonlocal interrupted
        interrupted += 1
        if interrupted == 1:
            raise KeyboardInterrupt
        return w.mint(300)

    source = TokenSource(w.mint(30), interrupt, lead_time=LEAD, clock=w.clock)
    with pytest.raises(KeyboardInterrupt):
        source.token()
    # Not stuck renewing: the next call renews.
    assert expires_at(source.token()) == START + 300


def test_a_source_may_start_without_a_token_and_takes_a_timedelta() -> None:
    w = World()
    given: list[valet.Token | None] = []

    def renew(current: valet.Token | None) -> valet.Token:
        given.append(current)
        return w.mint(300)

    source = TokenSource(None, renew, lead_time=datetime.timedelta(minutes=1), clock=w.clock)
    assert source.lead_time == 60.0 and source.fresh() is None
    token = source.token()
    assert given == [None]
    w.now += 241
    assert source.token() != token and given == [None, token]
    with pytest.raises(ValueError, match="lead time"):
        TokenSource(None, renew, lead_time=-1)
    with pytest.raises(UnreadableError):
        TokenSource("not a token", renew)  # type: ignore[arg-type]


# Tasks


def test_fifty_tasks_at_the_moment_of_expiry_run_one_renewal_and_get_no_token_within_its_lead_time() -> None:
    w = World()
    renewals: list[valet.Token | None] = []

    async def renew(current: valet.Token | None) -> valet.Token:
        renewals.append(current)
        await asyncio.sleep(0.1)
        return w.mint(300)

    first = w.mint(300)
    source = AsyncTokenSource(first, renew, lead_time=LEAD, clock=w.clock)

    async def call() -> valet.Token:
        token = await source.token()
        assert expires_at(token) > w.now + LEAD, "a token within its lead time"
        return token

    async def main() -> list[valet.Token]:
        assert await source.token() is first
        w.now = expires_at(first) - LEAD
        return await asyncio.gather(*(call() for _ in range(50)))

    tokens = asyncio.run(main())
    assert renewals == [first], "exactly one renewal ran, given the current token"
    assert all(t is tokens[0] for t in tokens) and tokens[0] != first
    assert asyncio.run(source.token()) is tokens[0] and source.fresh() is tokens[0]
    assert len(renewals) == 1


def test_a_failed_async_renewal_is_an_error_for_every_waiting_task_and_the_next_call_tries_again() -> None:
    w = World()
    renewals = 0

    async def renew(_: valet.Token | None) -> valet.Token:
        nonlocal renewals
        renewals += 1
        await asyncio.sleep(0.1)
        if renewals == 1:
            raise ConnectionError("the issuer answered 503")
        return w.mint(300)

    source = AsyncTokenSource(w.mint(100), renew, lead_time=LEAD, clock=w.clock)
    w.now += 50

    async def main() -> list[valet.Token | BaseException]:
        return await asyncio.gather(*(source.token() for _ in range(10)), return_exceptions=True)

    errors = asyncio.run(main())
    assert renewals == 1
    for err in errors:
        assert isinstance(err, RenewalError), err
        assert str(err) == "the token could not be renewed: the issuer answered 503"
        assert isinstance(err.__cause__, ConnectionError)
    assert len({id(e) for e in errors}) == 10
    assert expires_at(asyncio.run(source.token())) == START + 50 + 300
    assert renewals == 2


def test_an_async_renewal_too_short_is_an_error_for_every_waiting_task() -> None:
    w = World()

    async def renew(_: valet.Token | None) -> valet.Token:
        await asyncio.sleep(0.05)
        return w.mint(30)

    source = AsyncTokenSource(w.mint(30), renew, lead_time=LEAD, clock=w.clock)

    async def main() -> list[valet.Token | BaseException]:
        return await asyncio.gather(*(source.token() for _ in range(10)), return_exceptions=True)

    for err in asyncio.run(main()):
        assert isinstance(err, TooShortError), err
        assert err.expires_at == START + 30 and err.lead_time == LEAD


def test_a_cancelled_waiter_does_not_cancel_the_renewal() -> None:
    w = World()
    renewals = 0

    async def renew(_: valet.Token | None) -> valet.Token:
        nonlocal renewals
        renewals += 1
        await asyncio.sleep(0.1)
        return w.mint(300)

    source = AsyncTokenSource(None, renew, lead_time=LEAD, clock=w.clock)

    async def main() -> valet.Token:
        first = asyncio.ensure_future(source.token())
        await asyncio.sleep(0.01)
        others = asyncio.gather(*(source.token() for _ in range(5)))
        first.cancel()
        tokens = await others
        assert all(t is tokens[0] for t in tokens)
        return tokens[0]

    token = asyncio.run(main())
    assert renewals == 1 and expires_at(token) == START + 300


# Eager tasks


@types.coroutine
def _resumed(coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any], awaited: Any) -> Generator[Any, Any, Any]:
    """The rest of `coro`, which suspended on `awaited` in its first step."""
    while True:
        try:
            sent = yield awaited
        except BaseException as e:
            try:
                awaited = coro.throw(e)
            except StopIteration as done:
                return done.value
        else:
            try:
                awaited = coro.send(sent)
            except StopIteration as done:
                return done.value


T = TypeVar("T")


def eager_task_factory(
    loop: asyncio.AbstractEventLoop, coro: Generator[Any, None, T] | Coroutine[Any, Any, T]
) -> asyncio.Future[T]:
    """`asyncio.eager_task_factory`, and on Python 3.11 (which has none) the same behaviour:
    the coroutine's first step runs inside `create_task`, so one that finishes without
    suspending gives a task done already; one that suspends goes on as a task."""
    if sys.version_info >= (3, 12):
        return asyncio.eager_task_factory(loop, coro)
    try:
        awaited = coro.send(None)
    except StopIteration as done:
        finished: asyncio.Future[T] = loop.create_future()
        finished.set_result(done.value)
        return finished
    except Exception as e:
        failed: asyncio.Future[T] = loop.create_future()
        failed.set_exception(e)
        return failed

    async def rest() -> T:
        result: T = await _resumed(coro, awaited)
        return result

    return asyncio.Task(rest(), loop=loop)


def test_a_renewal_done_inside_create_task_is_never_given_again() -> None:
    """Under an eager task factory, a renewal that does not suspend finishes inside
    `create_task`: the next call that finds its token due renews again, and a failed
    renewal is tried again, rather than the finished renewal's outcome given for ever."""
    w = World()
    renewals: list[valet.Token | None] = []

    async def renew(current: valet.Token | None) -> valet.Token:
        renewals.append(current)
        if len(renewals) == 2:
            raise ConnectionError("the issuer answered 503")
        return w.mint(300)

    first = w.mint(100)
    source = AsyncTokenSource(first, renew, lead_time=LEAD, clock=w.clock)

    async def main() -> list[valet.Token]:
        asyncio.get_running_loop().set_task_factory(eager_task_factory)
        w.now += 50
        second = await source.token()
        assert second is not first and expires_at(second) == w.now + 300
        w.now = expires_at(second) - LEAD
        with pytest.raises(RenewalError, match="503"):
            await source.token()
        third = await source.token()
        assert expires_at(third) == w.now + 300
        w.now = expires_at(third) - LEAD
        fourth = await source.token()
        assert expires_at(fourth) == w.now + 300 and source.fresh() is fourth
        return [second, third]

    second, third = asyncio.run(main())
    assert renewals == [first, second, second, third]


def test_tasks_under_an_eager_task_factory_share_one_renewal_that_suspends() -> None:
    w = World()
    renewals = 0

    async def renew(_: valet.Token | None) -> valet.Token:
        nonlocal renewals
        renewals += 1
        await asyncio.sleep(0.05)
        return w.mint(300)

    source = AsyncTokenSource(w.mint(30), renew, lead_time=LEAD, clock=w.clock)

    async def main() -> list[valet.Token]:
        asyncio.get_running_loop().set_task_factory(eager_task_factory)
        return await asyncio.gather(*(source.token() for _ in range(10)))

    tokens = asyncio.run(main())
    assert renewals == 1 and all(t is tokens[0] for t in tokens)
    assert expires_at(tokens[0]) == START + 300


def test_a_waiter_resumed_after_the_renewed_token_reached_its_lead_time_renews_again() -> None:
    w = World()
    renewals = 0

    async def renew(_: valet.Token | None) -> valet.Token:
        nonlocal renewals
        renewals += 1
        await asyncio.sleep(0.05)
        return w.mint(300)

    source = AsyncTokenSource(w.mint(30), renew, lead_time=LEAD, clock=w.clock)

    async def first() -> valet.Token:
        token = await source.token()
        # The clock reaches the renewed token's lead time before the other waiter resumes.
        w.now = expires_at(token) - LEAD
        return token

    async def main() -> tuple[valet.Token, valet.Token]:
        return await asyncio.gather(first(), source.token())

    renewed, waited = asyncio.run(main())
    assert renewals == 2 and waited is not renewed
    assert expires_at(waited) == w.now + 300
