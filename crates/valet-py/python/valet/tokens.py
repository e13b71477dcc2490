"""Token sources for long-running agents: the current token, renewed a lead time before it
expires, one renewal however many callers need one.

An agent's token lives minutes. A ``TokenSource`` holds it and renews it through a callback
(minting again from the issuer, or attenuating again from a parent token the agent holds)
``lead_time`` seconds before it expires:

```python
source = TokenSource(token, lambda current: parent.attenuate(expires_in=300))
client = httpx2.Client(auth=valet.httpx.ValetAuth(source, agent_key, audience))
```

- ``token()`` never gives a token that expires within the lead time: when the current one
  does, the call renews it first.
- When many callers need a renewal at once, exactly one runs it (single flight); the others
  wait for its result and all get the renewed token, or all get its error.
- A failed renewal raises ``RenewalError`` (the callback's exception as its ``__cause__``)
  in every caller that waited for it; the next call tries again.
- A renewed token that expires within the lead time already raises ``TooShortError``: it
  would need renewing at once.

``TokenSource`` is for threads (its callback runs on the calling thread, the others wait on
a condition); ``AsyncTokenSource`` is for asyncio tasks (its callback is a coroutine
function, run once as a task the others await). The expiry is the token's
``claims()["expires_at"]`` (Unix seconds, the earliest of its blocks'); the time is read
from ``clock`` (``time.time`` unless given), so that tests can move it.

The same behaviour as the Rust ``valet_token::TokenSource``.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import NoReturn

from valet._native import Token, ValetError

__all__ = [
    "AsyncTokenSource",
    "RenewalError",
    "TokenSource",
    "TokenSourceError",
    "TooShortError",
    "UnreadableError",
]

DEFAULT_LEAD_TIME = 60.0
"""Seconds before a token's expiry when a source renews it, unless told otherwise."""


class TokenSourceError(ValetError):
    """A token source has no token to give."""


class RenewalError(TokenSourceError):
    """The renewal callback raised: its exception is the ``__cause__``. Every caller that
    waited for that renewal gets this error; the next call tries again."""


class TooShortError(TokenSourceError):
    """The renewed token expires within the source's lead time already, so it would need
    renewing at once."""

    def __init__(self, expires_at: int, lead_time: float) -> None:
        super().__init__(
            f"the renewed token expires at {expires_at} (Unix seconds), within the source's "
            f"lead time of {lead_time:g} s: renew for longer, or shorten the lead time"
        )
        self.expires_at = expires_at
        """When the renewed token expires, Unix seconds."""
        self.lead_time = lead_time
        """The lead time, in seconds."""

    def __reduce__(self) -> tuple[type[TooShortError], tuple[int, float]]:
        return (TooShortError, (self.expires_at, self.lead_time))


class UnreadableError(TokenSourceError):
    """A token given to, or returned by the renewal of, a source is not a ``Token`` whose
    expiry can be read."""


def _expiry(token: object, what: str) -> int:
    """When `token` expires, Unix seconds."""
    if not isinstance(token, Token):
        raise UnreadableError(f"{what} is a `{type(token).__name__}`, not a valet.Token")
    try:
        expires_at = token.claims()["expires_at"]
    except Exception as e:
        raise UnreadableError(f"{what} cannot be read: {e}") from e
    if not isinstance(expires_at, int):
        raise UnreadableError(f"{what} has no expiry")
    return expires_at


def _seconds(lead_time: float | datetime.timedelta) -> float:
    seconds = lead_time.total_seconds() if isinstance(lead_time, datetime.timedelta) else float(lead_time)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"the lead time must be zero or more seconds, not `{lead_time}`")
    return seconds


def _failed(cause: BaseException) -> RenewalError:
    """The error of a renewal whose callback raised `cause`."""
    error = RenewalError(f"the token could not be renewed: {str(cause) or type(cause).__name__}")
    error.__cause__ = cause
    return error


def _raise(error: TokenSourceError) -> NoReturn:
    """Raises a copy of `error` with its cause: each caller that waited for one renewal gets
    its own exception (and traceback), not one object raised in several places."""
    again = copy.copy(error)
    again.__traceback__ = None
    raise again from error.__cause__


class _Held:
    """The token a source holds, its expiry and its lead time."""

    def __init__(
        self, token: Token | None, lead_time: float | datetime.timedelta, clock: Callable[[], float]
    ) -> None:
        self.lead_time = _seconds(lead_time)
        self.clock = clock
        self.current = token
        self.expires_at = -math.inf if token is None else _expiry(token, "the token")

    def due(self, expires_at: float) -> bool:
        """Whether a token expiring at `expires_at` must be renewed now."""
        return self.clock() + self.lead_time >= expires_at

    def fresh(self) -> Token | None:
        """The current token when it is not within its lead time."""
        if self.current is None or self.due(self.expires_at):
            return None
        return self.current

    def check(self, renewed: object) -> tuple[Token, int]:
        """The renewed token and its expiry, or why it cannot be used."""
        expires_at = _expiry(renewed, "the renewed token")
        if self.due(expires_at):
            raise TooShortError(expires_at, self.lead_time)
        assert isinstance(renewed, Token)
        return renewed, expires_at


class TokenSource:
    """Holds an agent's current token and renews it through ``renew`` ``lead_time``
    seconds before it expires; for threads (share one source between them).

    ``renew`` is given the current token (``None`` when the source started without one)
    and returns the new one: minted again from the issuer, or attenuated again from a
    parent token. It runs on the thread of the call that found the token due, never two at
    once.
    """

    def __init__(
        self,
        token: Token | None,
        renew: Callable[[Token | None], Token],
        *,
        lead_time: float | datetime.timedelta = DEFAULT_LEAD_TIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._held = _Held(token, lead_time, clock)
        self._renew = renew
        self._renewed = threading.Condition(threading.Lock())
        self._renewing = False
        # Counts the renewals that ended, so that a waiter knows when the one it waited for did.
        self._flights = 0
        # The error of the last renewal that failed, with the flight it ended.
        self._failed: tuple[int, TokenSourceError] | None = None

    @property
    def lead_time(self) -> float:
        """Seconds before a token's expiry when it is renewed."""
        return self._held.lead_time

    def __repr__(self) -> str:
        return f"TokenSource(lead_time={self.lead_time:g})"

    def fresh(self) -> Token | None:
        """The current token when it is not within its lead time, else ``None`` (``token()``
        would renew it). Never renews and never waits for a renewal."""
        with self._renewed:
            return self._held.fresh()

    def token(self) -> Token:
        """The current token, renewed first when it expires within the lead time. Blocks
        while a renewal runs (its own, or another call's). Raises ``RenewalError``,
        ``TooShortError`` or ``UnreadableError`` when the renewal gives no usable token."""
        with self._renewed:
            while True:
                fresh = self._held.fresh()
                if fresh is not None:
                    return fresh
                if not self._renewing:
                    break
                # Another call is renewing: wait for its result.
                flight = self._flights
                while self._renewing and self._flights == flight:
                    self._renewed.wait()
                if self._failed is not None and self._failed[0] == flight + 1:
                    _raise(self._failed[1])
            # This call renews; the others wait.
            self._renewing = True
            current = self._held.current
        outcome: tuple[Token, int] | TokenSourceError = RenewalError("the renewal was interrupted")
        try:
            try:
                renewed = self._renew(current)
            except Exception as e:
                outcome = _failed(e)
            else:
                outcome = self._held.check(renewed)
        except TokenSourceError as e:
            outcome = e
        finally:
            # Also on KeyboardInterrupt: the waiters get an error, not a source stuck renewing.
            with self._renewed:
                self._renewing = False
                self._flights += 1
                if isinstance(outcome, TokenSourceError):
                    self._failed = (self._flights, outcome)
                else:
                    self._held.current, self._held.expires_at = outcome
                    self._failed = None
                self._renewed.notify_all()
        if isinstance(outcome, TokenSourceError):
            raise outcome
        return outcome[0]


class AsyncTokenSource:
    """Holds an agent's current token and renews it through the coroutine function
    ``renew`` ``lead_time`` seconds before it expires; for the tasks of one asyncio event
    loop (it is not thread-safe).

    ``renew`` is given the current token (``None`` when the source started without one)
    and returns the new one. It runs as one task that every call needing the renewal
    awaits: a call that is cancelled while it waits cancels its wait, not the renewal.
    """

    def __init__(
        self,
        token: Token | None,
        renew: Callable[[Token | None], Awaitable[Token]],
        *,
        lead_time: float | datetime.timedelta = DEFAULT_LEAD_TIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._held = _Held(token, lead_time, clock)
        self._renew = renew
        self._flight: asyncio.Task[Token | TokenSourceError] | None = None

    @property
    def lead_time(self) -> float:
        """Seconds before a token's expiry when it is renewed."""
        return self._held.lead_time

    def __repr__(self) -> str:
        return f"AsyncTokenSource(lead_time={self.lead_time:g})"

    def fresh(self) -> Token | None:
        """The current token when it is not within its lead time, else ``None`` (``token()``
        would renew it). Never renews and never waits for a renewal."""
        return self._held.fresh()

    async def token(self) -> Token:
        """The current token, renewed first when it expires within the lead time. Waits
        while a renewal runs (its own, or another call's). Raises ``RenewalError``,
        ``TooShortError`` or ``UnreadableError`` when the renewal gives no usable token."""
        while True:
            fresh = self._held.fresh()
            if fresh is not None:
                return fresh
            flight = self._flight
            if flight is None or flight.done():
                flight = asyncio.get_running_loop().create_task(self._renewal(self._held.current))
                # An eager task factory (`asyncio.eager_task_factory`) runs a renewal that
                # does not suspend inside `create_task`: it is done already, and held by no one.
                self._flight = None if flight.done() else flight
            outcome = await asyncio.shield(flight)
            if isinstance(outcome, TokenSourceError):
                _raise(outcome)
            # The renewed token is held now; it is returned above while it is fresh, and
            # renewed again when the clock has reached its lead time meanwhile.

    async def _renewal(self, current: Token | None) -> Token | TokenSourceError:
        """Runs the callback once; the outcome is the renewed token or the error every
        waiter raises."""
        try:
            try:
                renewed = await self._renew(current)
            except Exception as e:
                return _failed(e)
            token, expires_at = self._held.check(renewed)
            self._held.current, self._held.expires_at = token, expires_at
            return token
        except TokenSourceError as e:
            return e
        finally:
            # The next call that finds the token due starts a new renewal. (Under an eager
            # task factory this runs before `token()` receives the task; it stores none.)
            self._flight = None
