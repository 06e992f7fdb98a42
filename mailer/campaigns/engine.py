"""The send engine: one worker's loop over a campaign.

A claimer task keeps a small queue of claimed deliveries filled; one sender task per relay
connection turns each into bytes (cheap substitution into the compiled issue) and hands it
to the transport; outcomes are written back in batches by a settler. Database calls run in a
single helper thread, so the event loop never waits on them and no transaction is open while
a message is on the wire.

Outcomes: 250 after DATA → sent; 4xx → deferred with exponential backoff and jitter, failed
(and a soft bounce) after `max_attempts`; 5xx at RCPT → bounced (a hard bounce); 5xx at MAIL
FROM or DATA → failed, with the reply kept; no answer (refused, dropped, timed out) → queued
again without counting an attempt. Too many connection failures, or 5xx at MAIL/DATA, in a
row pause the campaign with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mailer.campaigns.deliveries import Claim, DeliveryStore
from mailer.campaigns.messages import CampaignMessages
from mailer.config import SendingConfig
from mailer.domain import DeliveryToSend, Outcome
from mailer.errors import ConnectionFailed, PermanentSendError, SendError, TransientSendError
from mailer.transport.base import Transport

__all__ = ["SendReport", "send_campaign"]

T = TypeVar("T")
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# Seconds between two writes of outcomes: what a crash can make this worker send again (the
# messages whose 250 it had not written yet, with the same Message-ID), and how stale the
# database's view of progress may get.
_SETTLE_EVERY = 0.1
_STATUS_EVERY = 0.5  # seconds between looks at the campaign's status (a pause, a cancel)


@dataclass(slots=True)
class SendReport:
    """What this worker did, and why it stopped."""

    sent: int = 0
    deferred: int = 0
    bounced: int = 0
    failed: int = 0
    skipped: int = 0
    requeued: int = 0  # connection failures: back in the queue, no attempt counted
    stopped_because: str = ""  # "sent", "paused", "cancelled", "interrupted", …
    pause_reason: str = ""
    last_error: str = ""
    started: float = 0.0
    elapsed: float = 0.0

    def count(self, outcome: Outcome) -> None:
        if outcome.status == "queued":
            self.requeued += 1
        else:
            setattr(self, outcome.status, getattr(self, outcome.status) + 1)


@dataclass(slots=True)
class _State:
    queue: asyncio.Queue[DeliveryToSend | None]  # None: a sender's signal to stop
    senders: int
    pending: list[Outcome] = field(default_factory=list)
    in_hand: set[int] = field(default_factory=set)  # claimed and not yet settled
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    connection_failures: int = 0
    rejections: int = 0
    flushes: int = 0  # outcomes handed to the database so far (in batches)

    def halt(self) -> None:
        """Stop claiming and sending; senders finish the message they are on."""
        if not self.stop.is_set():
            self.stop.set()
            for _ in range(self.senders):
                self.queue.put_nowait(None)  # wakes the senders waiting for work


async def send_campaign(
    store: DeliveryStore,
    messages: CampaignMessages,
    transport: Transport,
    sending: SendingConfig,
    *,
    on_progress: Callable[[SendReport], None] = lambda _: None,
    rng: random.Random | None = None,
) -> SendReport:
    """Send the campaign's due deliveries until none is left, it is paused or cancelled, or
    the relay is unreachable too long. Safe to run in several processes at once."""
    jitter = rng or random.Random()  # noqa: S311 (jitter, not secrets)
    engine = _Engine(store, messages, transport, sending, on_progress, jitter)
    return await engine.run()


class _Engine:
    def __init__(
        self,
        store: DeliveryStore,
        messages: CampaignMessages,
        transport: Transport,
        sending: SendingConfig,
        on_progress: Callable[[SendReport], None],
        rng: random.Random,
    ) -> None:
        self.store = store
        self.messages = messages
        self.transport = transport
        self.sending = sending
        self.on_progress = on_progress
        self.rng = rng
        self.report = SendReport()
        self.database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailer-db")

    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.database, lambda: function(*args, **kwargs))

    async def run(self) -> SendReport:
        loop = asyncio.get_running_loop()
        self.report.started = loop.time()
        senders = max(1, self.transport.concurrency)
        batch = max(1, self.sending.batch_size)
        state = _State(asyncio.Queue(), senders)
        tasks = [asyncio.create_task(self._claimer(state, batch))]
        tasks += [asyncio.create_task(self._sender(state)) for _ in range(senders)]
        settler = asyncio.create_task(self._settler(state))
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            if not self.report.stopped_because:
                self.report.stopped_because = "interrupted"
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            state.halt()
            await asyncio.shield(self._wind_down(state, settler))
        return self.report

    async def _wind_down(self, state: _State, settler: asyncio.Task[None]) -> None:
        settler.cancel()
        await asyncio.gather(settler, return_exceptions=True)
        try:
            await self._flush(state)
            # Claimed but never handed over (or cut off by an interruption): back in the queue.
            await self._db(self.store.release, sorted(state.in_hand))
            if self.report.pause_reason:
                await self._db(self.store.pause, self.report.pause_reason)
        finally:
            self.database.shutdown(wait=True)
            await self.transport.close()
            self.report.elapsed = asyncio.get_running_loop().time() - self.report.started
            self.on_progress(self.report)

    # ------------------------------------------------------------------ claiming

    async def _claimer(self, state: _State, batch: int) -> None:
        try:
            while not state.stop.is_set():
                if state.queue.qsize() > batch // 2:  # enough in hand: wait for the senders
                    await asyncio.sleep(0.005)
                    continue
                flushes = state.flushes
                claim: Claim = await self._db(self.store.claim, batch)
                self.report.skipped += claim.skipped
                if claim.campaign_status != "sending":
                    self.report.stopped_because = (
                        self.report.stopped_because or claim.campaign_status
                    )
                    break
                if claim.done:  # nothing queued, deferred or in flight: the campaign is sent
                    self.report.stopped_because = "sent"
                    break
                for delivery in claim.deliveries:
                    state.in_hand.add(delivery.id)
                    state.queue.put_nowait(delivery)
                if not claim.deliveries and claim.wait_until is not None:
                    await self._flush(state)
                    # Ours are settling, or were settled after the claim looked (it saw them
                    # leased, and its `wait_until` is that lease's end): look again soon.
                    if state.in_hand or state.pending or state.flushes != flushes:
                        delay = 0.02
                    else:  # a retry or another worker's lease: at most a second
                        delay = (claim.wait_until - dt.datetime.now(dt.UTC)).total_seconds()
                    await self._sleep(state, min(max(delay, 0.01), 1.0))
        finally:
            state.halt()

    async def _sleep(self, state: _State, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stop.wait(), timeout=seconds)

    # ------------------------------------------------------------------ sending

    async def _sender(self, state: _State) -> None:
        while True:
            delivery = await state.queue.get()
            if delivery is None or state.stop.is_set():  # released at wind-down
                return
            outcome = await self._deliver(delivery, state)
            state.in_hand.discard(delivery.id)
            state.pending.append(outcome)
            self.report.count(outcome)
            if outcome.status == "queued":  # the relay is unreachable: do not hammer it
                await self._sleep(state, min(0.1 * state.connection_failures, 2.0))

    async def _deliver(self, delivery: DeliveryToSend, state: _State) -> Outcome:
        message_id = self.messages.message_id(delivery.subscriber_id)
        envelope = self.messages.envelope(delivery, message_id=message_id)
        try:
            reply = await self.transport.send(envelope)
        except ConnectionFailed as exc:
            return self._connection_failed(delivery, exc, state)
        except TransientSendError as exc:
            state.connection_failures = 0
            return self._deferred(delivery, exc, message_id)
        except PermanentSendError as exc:
            state.connection_failures = 0
            return self._refused(delivery, exc, message_id, state)
        state.connection_failures = 0
        state.rejections = 0
        code, _, text = reply.partition(" ")
        return Outcome(delivery.id, "sent", _code(code), text, message_id)

    def _connection_failed(
        self, delivery: DeliveryToSend, exc: SendError, state: _State
    ) -> Outcome:
        state.connection_failures += 1
        self.report.last_error = str(exc)
        limit = self.sending.pause_after_connection_failures
        if state.connection_failures >= limit and not state.stop.is_set():
            self._pause(state, f"the relay could not be reached {limit} times in a row: {exc}")
        return Outcome(delivery.id, "queued", exc.code or None, str(exc), attempted=False)

    def _deferred(self, delivery: DeliveryToSend, exc: SendError, message_id: str) -> Outcome:
        attempts = delivery.attempts + 1
        text = str(exc)
        if attempts >= self.sending.max_attempts:
            return Outcome(
                delivery.id,
                "failed",
                exc.code,
                text,
                message_id,
                bounce="soft",
                bounce_status=_enhanced(exc.reply, "4.0.0"),
            )
        wait = min(self.sending.retry_max, self.sending.retry_after * 2 ** (attempts - 1))
        wait *= self.rng.uniform(0.8, 1.2)  # jitter: retries do not arrive together
        when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
        return Outcome(delivery.id, "deferred", exc.code, text, message_id, next_attempt_at=when)

    def _refused(
        self, delivery: DeliveryToSend, exc: PermanentSendError, message_id: str, state: _State
    ) -> Outcome:
        text = str(exc)
        if exc.stage == "rcpt":  # this address is refused: the others may be fine
            state.rejections = 0
            return Outcome(
                delivery.id,
                "bounced",
                exc.code,
                text,
                message_id,
                bounce="hard",
                bounce_status=_enhanced(exc.reply, "5.0.0"),
            )
        state.rejections += 1  # MAIL FROM or DATA: likely the same for every message
        self.report.last_error = text
        limit = self.sending.pause_after_rejections
        if state.rejections >= limit and not state.stop.is_set():
            self._pause(state, f"the relay refused {limit} messages in a row: {text}")
        return Outcome(delivery.id, "failed", exc.code, text, message_id)

    def _pause(self, state: _State, reason: str) -> None:
        """Stop this worker; the campaign is paused (with `reason`) once in-flight settle."""
        self.report.stopped_because = "paused"
        self.report.pause_reason = reason
        state.halt()

    # ------------------------------------------------------------------ settling

    async def _settler(self, state: _State) -> None:
        loop = asyncio.get_running_loop()
        # What this worker holds keeps its lease (see `DeliveryStore.renew`): renewed at a
        # third of the lease, so a lease never ends while its delivery waits to be sent.
        every = max(self.store.lease.total_seconds() / 3, _SETTLE_EVERY)
        renewed = looked = loop.time()
        while True:
            await asyncio.sleep(_SETTLE_EVERY)
            await self._flush(state)
            if loop.time() - looked >= _STATUS_EVERY:  # paused or cancelled from elsewhere?
                looked = loop.time()
                status = await self._db(self.store.campaign_status)
                if status != "sending" and not state.stop.is_set():
                    self.report.stopped_because = self.report.stopped_because or status
                    state.halt()
            if loop.time() - renewed >= every:
                renewed = loop.time()
                if state.in_hand:
                    await self._db(self.store.renew, sorted(state.in_hand))

    async def _flush(self, state: _State) -> None:
        if not state.pending:
            return
        outcomes, state.pending = state.pending, []
        state.flushes += 1  # before the settle: a claim queued after it sees the outcomes
        await self._db(self.store.settle, outcomes)
        self.on_progress(self.report)


def _code(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _enhanced(reply: str, default: str) -> str:
    """The enhanced status code (RFC 3463) a reply gives, like 5.1.1."""
    found = _ENHANCED.search(reply)
    return ".".join(found.groups()) if found else default
