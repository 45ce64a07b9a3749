"""Watching the jobs that clients subscribed to: one poller per job, shared by all its subscribers.

``JobWatcher`` reads each watched job through ``RefreshJobs.describe`` and tells subscribers when what they
read may be out of date, within a budget of polls that every tool call shares. No MCP imports: the server
passes in how to tell a subscriber (``Notify``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio
from aiolimiter import AsyncLimiter
from anyio.abc import TaskGroup

from .errors import InvalidArgument, JobNotFound, RecordError, TooManyWatched, UpstreamError
from .records import JobRecord
from .service import RefreshJobs, fails_for_good, job_id_of_uri

logger = logging.getLogger(__name__)

MAX_WATCHED_JOBS = 64  # jobs polled at once for subscribers, whatever their number
# Reads of watched jobs under way at once: a hanging cluster holds each for the whole timeout, and the client's
# 16 connections must stay free for the tool calls a person waits on.
MAX_POLLS_IN_FLIGHT = 4
# After polls that fail in a row, the next waits up to this many intervals: the cluster may be rate-limiting.
MAX_FAULT_BACKOFF = 8
MAX_RETRY_AFTER_SECONDS = 600  # the longest a poll waits when the cluster asks for a wait (Retry-After)
# An update waits this long for a subscriber to take it. One that does not has left its stream unread for long (the
# connection's buffers, some MB, are full): it is dropped, every subscription of it, as telling it would hold up
# every poller of its jobs, and the other subscribers of those jobs with them.
NOTIFY_TIMEOUT_SECONDS = 10.0

Notify = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class _PollFailure:
    """A poll that failed in a way the next poll may get past."""

    kind: tuple[object, ...]  # what failed (the error's type, status and code), to tell a fault seen again
    detail: str
    retry_after: float = 0.0  # the wait the cluster asked for, capped
    # Not transient (an HTTP 500, an unexpected-error code, a record that cannot be read): it may last, and a
    # subscriber that reads the job meanwhile gets this error rather than the state it last read.
    lasting: bool = False


@dataclass
class _Polling:
    """What one poller remembers from one poll to the next."""

    last: tuple[str, int, bool] | None = None  # state and progress of the last reading, and whether it may have stalled
    last_fault: _PollFailure | None = None  # the previous poll's, if it failed: each kind is warned of once in a row
    told_unreadable: bool = False  # subscribers were told of a lasting fault, and no reading has come since
    backoff: int = 1  # intervals to the next poll

    def after_poll(self, fault: _PollFailure | None) -> None:
        """How the poll went: 1 interval to the next after a reading or a first failure, then doubled by each
        failure in a row: 2, 4, 8, 8..."""
        self.backoff = 1 if fault is None or self.last_fault is None else min(self.backoff * 2, MAX_FAULT_BACKOFF)
        self.last_fault = fault


class JobWatcher:
    """Polls subscribed jobs and tells subscribers when state or progress changes, or when the job may have stalled
    (``noProgressSince`` appears or goes), until the job ends.

    One poller per job, whatever the number of subscribers; it is cancelled as soon as the last one leaves
    (unsubscribes, fails to be told or takes no update for ``NOTIFY_TIMEOUT_SECONDS``, or disconnects: ``forget``),
    and ends by itself when the job ends, no longer exists (nor its collection), or can no longer be read (a revoked
    key). Any other fault is polled through: it may pass.

    The polls share the cluster's rate limit and connections with every tool call, so they are kept to a
    budget: at most ``max_jobs`` jobs are watched, and with many of them each is polled less often, so that all
    polls together stay within ``polls_per_second``; polls (a job's first read included) start at least
    1/``polls_per_second`` apart, never in a burst; at most ``MAX_POLLS_IN_FLIGHT`` reads are under way at once;
    a poll is never retried (the next poll is its retry), and after failures in a row the next waits longer.

    A subscriber is told (``resources/updated``, then it reads the job again) of every change of state or
    progress or of ``noProgressSince``, and also whenever what it last read may be out of date without a change
    seen: the first reading shows the job ended, or comes after failed polls; the job is gone; the key no longer
    reads it; a poll fails in a way that may last (not transient: told once, and then at the next reading, which
    ends the error it read).
    """

    def __init__(
        self,
        service: RefreshJobs,
        task_group: TaskGroup,
        *,
        interval_seconds: float,
        polls_per_second: float = 5.0,
        max_jobs: int = MAX_WATCHED_JOBS,
        notify_timeout_seconds: float = NOTIFY_TIMEOUT_SECONDS,
    ) -> None:
        self._service = service
        self._notify_timeout = notify_timeout_seconds
        self._task_group = task_group
        self._interval = interval_seconds
        self._polls_per_second = polls_per_second
        self._max_jobs = max_jobs
        # job id -> (subscriber key, the URI as it spelled it) -> how to tell it. A URI is told back as it was
        # spelled: ``.../0042`` and ``.../42`` are one job, polled once, but two subscriptions.
        self._subscribers: dict[str, dict[tuple[int, str], Notify]] = {}
        # The same, by channel and URI: the subscriptions one telling reaches (a shared channel reaches many).
        self._channels: dict[str, dict[tuple[Notify, str], set[tuple[int, str]]]] = {}
        self._answered: set[tuple[int, str]] = set()  # subscriptions a subscribe request was answered for
        # Subscribe requests not answered yet, each a token; an unsubscribe drops them: they no longer count.
        self._waiting: dict[tuple[int, str], set[object]] = {}
        self._pollers: dict[str, anyio.CancelScope] = {}
        self._reads = anyio.Semaphore(MAX_POLLS_IN_FLIGHT)
        # A bucket of one: polls start evenly spaced. Pollers that all sleep the same poll_seconds() would
        # otherwise read together, a burst of every watched job (their first reads too) far over the budget.
        self._pace = AsyncLimiter(1, 1 / polls_per_second)

    def watching(self, job_id: str) -> int:
        """How many subscriptions a job has."""
        return len(self._subscribers.get(job_id, {}))

    def subscribed(self, uri: str, key: int) -> bool:
        """Whether ``key`` watches ``uri`` (as spelled)."""
        try:
            return (key, uri) in self._subscribers.get(job_id_of_uri(uri), {})
        except InvalidArgument:
            return False

    @contextmanager
    def asked(self, uri: str, key: int, notify: Notify) -> Iterator[str]:
        """A subscription that a request asks for, around the request's handling; yields the job id.

        It is made at once, so that an unsubscribe sent meanwhile is not lost, and kept when the request is
        answered. A request that fails or is given up ends it, unless another request for the same
        subscription was answered or still waits: a subscribe sent again never undoes the first. An
        unsubscribe ends what came before it: a request still waiting then keeps nothing, whatever its fate.
        """
        job_id = self.subscribe(uri, key, notify)
        subscription, request = (key, uri), object()
        self._waiting.setdefault(subscription, set()).add(request)
        answered = False
        try:
            yield job_id
            answered = True
        finally:
            waiting = self._waiting.get(subscription, set())
            current = request in waiting  # no unsubscribe since this request came
            waiting.discard(request)
            if not waiting:
                self._waiting.pop(subscription, None)
            if current and answered and self.subscribed(uri, key):
                self._answered.add(subscription)
            elif current and not answered and subscription not in self._answered and not waiting:
                self.unsubscribe(uri, key)

    def active_pollers(self) -> int:
        return len(self._pollers)

    def subscribe(self, uri: str, key: int, notify: Notify) -> str:
        """Watch the job of ``uri`` for ``key``, and return its id; InvalidArgument when it is not a job URI,
        TooManyWatched when it would be one job more than ``max_jobs``."""
        job_id = job_id_of_uri(uri)
        if job_id not in self._pollers and len(self._pollers) >= self._max_jobs:
            raise TooManyWatched(
                f"This server already watches {self._max_jobs} refresh jobs, the most it polls at once; "
                "unsubscribe from some, or follow this one with wait_for_refresh_job"
            )
        subscribers, subscription = self._subscribers.setdefault(job_id, {}), (key, uri)
        if (before := subscribers.get(subscription)) is not None:  # subscribed again, perhaps by another channel
            self._off_channel(job_id, subscription, before)
        subscribers[subscription] = notify
        self._channels.setdefault(job_id, {}).setdefault((notify, uri), set()).add(subscription)
        if job_id not in self._pollers:
            scope = anyio.CancelScope()
            self._pollers[job_id] = scope
            self._task_group.start_soon(self._poll, job_id, scope, name=f"watch {job_id}")
        return job_id

    def unsubscribe(self, uri: str, key: int) -> None:
        try:
            job_id = job_id_of_uri(uri)
        except InvalidArgument:
            return  # not a job URI: nothing was watched for it
        # Only the subscription of that URI as spelled: ``.../42`` and ``.../0042`` are two, ended one at a time.
        self._leave(job_id, (key, uri))

    def forget(self, key: int) -> None:
        """Drop every subscription of ``key`` (a connection that closed)."""
        for job_id, subscribers in list(self._subscribers.items()):
            for subscription in [subscription for subscription in subscribers if subscription[0] == key]:
                self._leave(job_id, subscription)

    def _leave(self, job_id: str, subscription: tuple[int, str]) -> None:
        subscribers = self._subscribers.get(job_id, {})
        if (notify := subscribers.pop(subscription, None)) is not None:
            self._off_channel(job_id, subscription, notify)
        self._answered.discard(subscription)
        self._waiting.pop(subscription, None)
        if not subscribers:
            self._stop(job_id)

    def _off_channel(self, job_id: str, subscription: tuple[int, str], notify: Notify) -> None:
        channels = self._channels.get(job_id, {})
        reached = channels.get((notify, subscription[1]), set())
        reached.discard(subscription)
        if not reached:
            channels.pop((notify, subscription[1]), None)

    def poll_seconds(self) -> float:
        """Seconds between two polls of one job: the interval, or longer when many jobs share the budget."""
        return max(self._interval, len(self._pollers) / self._polls_per_second)

    def _stop(self, job_id: str) -> None:
        self._answered.difference_update(self._subscribers.pop(job_id, {}))
        self._channels.pop(job_id, None)
        scope = self._pollers.pop(job_id, None)
        if scope is not None:
            scope.cancel()

    async def _poll(self, job_id: str, scope: anyio.CancelScope) -> None:
        logger.info("watching refresh job %s for subscribers", job_id)
        try:
            with scope:
                await self._watch(job_id)
        finally:  # also when the server stops meanwhile: its cancellation then passes through ``scope``
            if scope.cancel_called:
                logger.info("stopped watching refresh job %s: no subscribers left", job_id)
            elif self._pollers.get(job_id) is scope:
                self._stop(job_id)

    async def _watch(self, job_id: str) -> None:
        polling = _Polling()
        while True:
            reading = await self._read(job_id)
            if reading is None:  # what they read is gone, or can no longer be read: reading it again tells them
                await self._notify(job_id)
                return
            if isinstance(reading, JobRecord):
                if await self._take_reading(job_id, reading, polling):
                    return
                polling.after_poll(None)
            else:
                await self._take_fault(job_id, reading, polling)
                polling.after_poll(reading)
            retry_after = polling.last_fault.retry_after if polling.last_fault else 0.0
            await anyio.sleep(max(self.poll_seconds() * polling.backoff, retry_after))

    async def _take_reading(self, job_id: str, record: JobRecord, polling: _Polling) -> bool:
        """Tell the subscribers when what they read may be out of date; True when the job has ended."""
        if polling.last_fault is not None:
            logger.warning("watching refresh job %s: reads work again", job_id)
        snapshot = (record.state, record.progress, record.no_progress_since is not None)
        if polling.last is not None:
            news = snapshot != polling.last
        else:  # what a subscriber last read is unknown: the job may have ended since, or moved while polls failed
            news = record.has_ended or polling.last_fault is not None
        if news or polling.told_unreadable:  # told of a lasting fault, they may have read its error since
            await self._notify(job_id)
        polling.last, polling.told_unreadable = snapshot, False
        if record.has_ended:
            logger.info("refresh job %s ended (%s); subscriptions closed", job_id, record.state)
        return record.has_ended

    async def _take_fault(self, job_id: str, fault: _PollFailure, polling: _Polling) -> None:
        """Warn of a fault once per kind in a row; tell the subscribers once per run of lasting faults."""
        again = polling.last_fault is not None and fault.kind == polling.last_fault.kind
        logger.log(
            logging.DEBUG if again else logging.WARNING,
            "watching refresh job %s: %s (polling on)",
            job_id,
            fault.detail,
        )
        if fault.lasting and not polling.told_unreadable:
            # Reading the job now gets this error, not the state they last read; the fault may pass, so the polls
            # go on, but a fault that lasts is told once, not at every poll, until a reading has come between.
            await self._notify(job_id)
            polling.told_unreadable = True

    async def _read(self, job_id: str) -> JobRecord | _PollFailure | None:
        """One poll: the job's record, a fault the next poll may get past, or None when the job is gone (its
        collection too) or can no longer be read.

        One attempt (no retry starts after now): the poller's own read, cancelled with it. Paced once it holds
        a slot: polls released together by a slow read still start apart.
        """
        try:
            async with self._reads:
                await self._pace.acquire()
                return await self._service.describe(job_id, deadline=anyio.current_time())
        except JobNotFound as err:
            logger.warning("watching refresh job %s: %s; subscriptions closed", job_id, err)
            return None
        except UpstreamError as err:
            if fails_for_good(err):
                logger.warning("watching refresh job %s: %s; subscriptions closed", job_id, err.detail)
                return None
            # Its kind, not its text: the text tells attempts and upstream's words, which vary.
            kind, retry_after = (type(err), err.status, err.code), min(err.retry_after or 0.0, MAX_RETRY_AFTER_SECONDS)
            return _PollFailure(kind=kind, detail=err.detail, retry_after=retry_after, lasting=not err.transient)
        except RecordError as err:  # the cluster writes this job's record in a way not understood: it may stay so
            return _PollFailure(kind=(RecordError,), detail=str(err), lasting=True)
        except Exception as err:  # never take the server down
            return _PollFailure(kind=(type(err),), detail=str(err))

    async def _notify(self, job_id: str) -> None:
        """Tell every subscriber of the job, also one whose subscribe request is still being answered: that request
        may yet pass (its own read slow, or busy), and the update is then how it learns that the job is gone."""
        # Per channel and URI, the subscriptions it reached when told: a listen stream that came after the bus was
        # told is not among them. A subscription is handled once told (or dropped); one absent at its turn is not,
        # so that, back before the loop ends, it is told (once: a host that subscribes again on each update cannot
        # keep the loop going).
        reached: dict[tuple[Notify, str], set[tuple[int, str]]] = {}
        handled: set[tuple[int, str]] = set()
        # Each round handles one subscription at least: its first is still there, nothing awaited since.
        while pending := [(s, n) for s, n in self._subscribers.get(job_id, {}).items() if s not in handled]:
            for subscription, notify in pending:
                if await self._tell(job_id, subscription, notify, reached):
                    handled.add(subscription)

    async def _tell(
        self,
        job_id: str,
        subscription: tuple[int, str],
        notify: Notify,
        reached: dict[tuple[Notify, str], set[tuple[int, str]]],
    ) -> bool:
        """Tell one subscriber, unless its channel (the listen bus, shared) reached it already; False when it is gone.
        It is dropped when it fails or takes too long."""
        uri = subscription[1]
        if subscription in reached.get((notify, uri), ()):  # a shared channel (the listen bus) already reached it
            return True
        subscribers = self._subscribers.get(job_id, {})
        if subscription not in subscribers:  # left while an earlier one was being told: told if it comes back
            return False
        notify = subscribers[subscription]  # the current one, should it have subscribed again meanwhile
        reached[(notify, uri)] = set(self._channels.get(job_id, {}).get((notify, uri), ()))
        try:
            with anyio.move_on_after(self._notify_timeout) as waiting:
                await notify(uri)
        except Exception as err:  # a closed session: forget it, keep the others
            logger.info("dropping a subscriber of %s: %s", uri, type(err).__name__)
            self._leave(job_id, subscription)
            return True
        # Another poller may have dropped it meanwhile, waiting on it too: dropped once, and said once.
        if waiting.cancelled_caught and subscription in self._subscribers.get(job_id, {}):
            logger.warning(
                "dropping a subscriber of %s and its other subscriptions: it took no update for %g s",
                uri,
                self._notify_timeout,
            )
            self.forget(subscription[0])
        return True
