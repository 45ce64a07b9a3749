"""The REST client for a Zilliz Cloud / Milvus cluster: one connection pool, bounded retries, typed errors.

Every failure is an ``UpstreamError`` (see errors.py for the four kinds) whose message says what failed,
the upstream code or HTTP status, and what the user can do. Nothing this client hands back contains the
token: ``redact`` (redaction.py) runs on every message, and on every string of any answer whose bytes may
spell a piece of it (a cluster or gateway that echoes the ``Authorization`` header cannot leak it), before
anything is truncated.

``transient`` errors (connection faults but a TLS certificate that cannot be verified or a port that
answers https:// in plain HTTP, timeouts, 408/429/502/503/504, body codes 1, 2, 4, 8, 1807, 10001) of
reads are retried with exponential backoff and jitter, honouring ``Retry-After``, within a fixed number
of attempts and a total time budget; a ``Retry-After`` longer than the longest backoff stops retrying at
once and says when to try again. A refresh is never retried (it is not idempotent).
Everything else fails at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import socket
import ssl
import time
import urllib.request
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio
import httpx2
import pydantic_core
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from .config import api_path_start, host_in_url
from .errors import (
    Code,
    RecordError,
    UpstreamAPIError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamUnreachable,
    one_line,
    quoted,
    shortened,
)
from .records import (
    WireRecord,
    as_text,
    decode_list_records,
    job_id_text,
    map_strings,
    strict_json,
    without_lone_surrogates,
)
from .redaction import SecretScan, may_show_secret, redact, redact_json

logger = logging.getLogger(__name__)

LIST_ROUTE = "/v2/vectordb/jobs/external_collection/list"
DESCRIBE_ROUTE = "/v2/vectordb/jobs/external_collection/describe"
REFRESH_ROUTE = "/v2/vectordb/jobs/external_collection/refresh"

MAX_CONNECTIONS = 16
# When the request whose answer a read got was first sent, set in the reading task's context by list_jobs and
# describe_job: a read that joins an identical one in flight gets the answer to a request sent before it. In
# time.perf_counter_ns(): on Windows, monotonic() before Python 3.13 ticks every 15.6 ms, and two reads within one
# tick would seem to come at once.
_SENT: ContextVar[int] = ContextVar("zilliz_request_sent")
CLEANED_APART_BYTES = 1 << 20  # an answer this large that may spell the token is cleaned in a worker thread
TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})  # not 304 (not modified) nor 300: they lead nowhere
TRANSIENT_CODES = frozenset(
    {
        Code.SERVICE_NOT_READY,
        Code.SERVICE_UNAVAILABLE,
        Code.TOO_MANY_REQUESTS,
        Code.RATE_LIMITED,
        Code.LIMITER_REJECTED,
        Code.TIMEOUT,
    }
)
_AUTH_HINT = (
    "Retrying will not help: the user must check ZILLIZ_TOKEN in this server's settings (an API key, or "
    "user:password, valid for this cluster)."
)
_PRIVILEGE_HINT = (
    "The key authenticated but lacks the privilege; retrying will not help: the user must grant it access to "
    "external-collection jobs."
)
_BAD_RESPONSE_HINT = (
    "The endpoint did not answer like the Milvus REST API: check that ZILLIZ_CLUSTER_ENDPOINT is the cluster "
    "endpoint (not a console page or a proxy), and try again; report it if it persists."
)
_CODE_HINTS: dict[int, str] = {
    Code.QUOTA_EXCEEDED: "The cluster's quota is exhausted; check usage in the Zilliz console.",
    Code.COLLECTION_NOT_FOUND: (
        "The collection does not exist; check collectionName, or omit it to list every external collection."
    ),
    Code.DATABASE_NOT_FOUND: (
        "The database does not exist on this cluster; check dbName, or ZILLIZ_DB_NAME when dbName is left out."
    ),
    Code.INVALID_PARAMETER: "Upstream rejected a parameter; check {arguments}.",
    Code.MISSING_PARAMETER: "Upstream reports a missing parameter; check {arguments}.",
    Code.NOT_AUTHENTICATED: _AUTH_HINT,
    Code.PRIVILEGE_DENIED: _PRIVILEGE_HINT,
    Code.USER_NOT_AUTHENTICATED: _AUTH_HINT,
    Code.JSON_ONLY: "Upstream could not read the request's JSON; check the argument types.",
    Code.MISSING_PARAMETERS: "Upstream reports a missing parameter; check {arguments}.",
    Code.UNEXPECTED: "Upstream hit an unexpected error; try again, and check the cluster's health if it persists.",
}


def _code_hint(code: int | None, body: Mapping[str, Any]) -> str | None:
    """The hint for a body code; those that blame a parameter name the ones this request sent."""
    if code == Code.COLLECTION_NOT_FOUND and "collectionName" not in body:
        return None  # a job's read names no collection to check or omit
    hint = _CODE_HINTS.get(code) if code is not None else None
    return hint.format(arguments=" and ".join(body) or "the arguments") if hint else None


_STATUS_HINTS: dict[int, str] = {
    401: _AUTH_HINT,
    403: _PRIVILEGE_HINT,
    404: (
        "This endpoint does not serve external-collection jobs: the cluster predates them (Milvus 3.0 / "
        "Zilliz Cloud, April 2026), or ZILLIZ_CLUSTER_ENDPOINT is not the cluster endpoint."
    ),
    413: "The request was too large for upstream.",
}
_TRANSIENT_HINT = "The cluster is busy or unavailable; try again in a minute."
_SERVER_ERROR_HINT = "The cluster failed to answer; try again, and check its status in the Zilliz console if needed."
_CLIENT_ERROR_HINT = "Check ZILLIZ_CLUSTER_ENDPOINT (the cluster endpoint of a Milvus 3.0+ / Zilliz Cloud cluster)."
_OTHER_CODE_HINT = "Upstream reported an error; check the message, and the cluster's status if it persists."
_MESSAGE_CHARS = 300
_URL_CHARS = 120  # of a redirect's target, as our errors quote it


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json(raw: bytes) -> Any:
    """``json.loads`` with NaN/Infinity refused, about twice as fast on large answers.

    pydantic_core's parser reads valid JSON to the same values; on anything it refuses, the standard
    parser decides, so errors (and the rare input only the standard parser accepts) are unchanged.
    A number too large for a float (``1e400``) is refused as well: both parsers would read it as
    infinity, which no field of a job can hold.
    """
    if not _may_overflow(raw):
        try:
            return pydantic_core.from_json(raw, allow_inf_nan=False)
        except ValueError:
            pass
    payload = strict_json(raw)
    # The standard parser keeps a lone surrogate, which would break writing the answer (the stdio server died).
    return map_strings(payload, without_lone_surrogates) if _SURROGATE_ESCAPE.search(raw) else payload


# The shape of the bytes: digits -> "0", e/E -> "e", "+" kept, anything else -> " ".
_NUMBER_SHAPE = bytes(
    ord("0") if 0x30 <= b <= 0x39 else ord("e") if b in b"eE" else b if b == ord("+") else ord(" ") for b in range(256)
)


def _may_overflow(raw: bytes) -> bool:
    """True when ``raw`` may hold a number too large for a float: a digit, then an exponent of 3+ digits,
    or 300+ digits in a row. (A regular expression for this took ~85 ms on a 2.3 MB answer; this, ~5 ms.)"""
    shape = raw.translate(_NUMBER_SHAPE)
    return b"0e000" in shape or b"0e+000" in shape or b"0" * 300 in shape


def _not_documented(what: str, route: str) -> UpstreamBadResponse:
    """An HTTP 200 answer whose JSON is not the documented shape of ``route``."""
    return UpstreamBadResponse(what, route=route, status=200, hint=_BAD_RESPONSE_HINT)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, OverflowError, IndexError):  # a zone of +99999999999999999999 overflows
        return None


class _StopOnLongRetryAfter(stop_base):
    """Stop when upstream's Retry-After exceeds the longest backoff: waiting in a tool call would only stall it."""

    def __init__(self, max_backoff: float) -> None:
        self._max_backoff = max_backoff

    def __call__(self, retry_state: RetryCallState) -> bool:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        return isinstance(error, UpstreamError) and error.wait_beyond(self._max_backoff) is not None


class _StopAtDeadline(stop_base):
    """Stop when the next attempt would start after the deadline (the retry budget's or the caller's, whichever
    ends first): the last error is the answer then."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return anyio.current_time() + (retry_state.upcoming_sleep or 0.0) >= self._deadline


def _retry_after_hint(seconds: float) -> str:
    """What to do about a Retry-After too long to wait in a call: when to try again, as a person reads it."""
    if seconds < 120:
        wait = f"{math.ceil(seconds)} s"
    elif seconds < 2 * 3600:
        wait = f"{math.ceil(seconds / 60)} min"
    else:
        try:
            wait = f"until {datetime.now(UTC) + timedelta(seconds=seconds):%Y-%m-%d %H:%M} UTC"
        except OverflowError:  # 1e308 s: no date to tell
            return (
                "The cluster asked never to be asked again (a Retry-After past any date: it is likely "
                "misconfigured); try again later, and tell whoever runs it if this goes on."
            )
    return f"The cluster asked to wait {wait} before trying again (Retry-After); try again then."


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, UpstreamError) and error.transient


def _limiter(per_second: float) -> AsyncLimiter | None:
    """At most ``per_second`` requests a second, in bursts of up to that many; below 1/s, one every 1/rate s
    (a bucket of less than one request would never grant one)."""
    if per_second <= 0:
        return None
    if per_second < 1:
        return AsyncLimiter(1, 1 / per_second)
    return AsyncLimiter(per_second, 1.0)


class ZillizClient:
    """Talks to one cluster endpoint. Use as an async context manager; share one for the server's lifetime."""

    def __init__(
        self,
        *,
        endpoint: str,
        token: str,
        timeout_seconds: float = 30.0,
        max_attempts: int = 4,
        retry_budget_seconds: float = 20.0,
        max_backoff_seconds: float = 5.0,
        rate_limit_per_second: float = 20.0,
        max_response_bytes: int = 32 * 1024 * 1024,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._token = token
        self._timeout = timeout_seconds
        self._connect_timeout = min(timeout_seconds, 10.0)  # a cluster that takes longer to accept is not there
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff_seconds
        self._retry_budget = retry_budget_seconds
        self._max_bytes = max_response_bytes
        self._limiter = _limiter(rate_limit_per_second)
        self._inflight: dict[str, tuple[asyncio.Future[Any], int]] = {}  # each call, and when it was sent
        # The retry policy holds no state of a call: built once, it serves every call.
        self._backoff = wait_exponential_jitter(multiplier=0.2, max=max_backoff_seconds, jitter=0.3)
        self._stop = stop_after_attempt(max_attempts) | _StopOnLongRetryAfter(max_backoff_seconds)
        self._retry = retry_if_exception(_is_transient)
        self._transport = transport
        # Built on first use: building it imports the HTTP stack and loads the TLS trust store
        # (~0.1-0.2 s), which would otherwise delay the server's answer to `initialize`.
        self._http_client: httpx2.AsyncClient | None = None
        self._closed = False

    @property
    def _http(self) -> httpx2.AsyncClient:
        if self._http_client is None:
            if self._closed:
                raise RuntimeError("ZillizClient is closed")
            self._http_client = httpx2.AsyncClient(
                base_url=self._endpoint,
                headers={
                    "Authorization": f"Bearer {self._token}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "Request-Timeout": str(max(1, math.ceil(self._timeout))),
                    "User-Agent": "zilliz-refresh-mcp",
                },
                timeout=httpx2.Timeout(self._timeout, connect=self._connect_timeout),
                # As many kept alive as may open: a burst does not close and reopen (TLS) connections.
                limits=httpx2.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
                follow_redirects=False,
                transport=self._transport,
            )
        return self._http_client

    async def __aenter__(self) -> ZillizClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        for task, _ in list(self._inflight.values()):  # calls nobody waits for any more
            task.cancel()
        if self._http_client is not None:
            await self._http_client.aclose()

    def __repr__(self) -> str:
        return f"ZillizClient(endpoint={self._endpoint!r}, token='***')"

    # --- the three routes ----------------------------------------------------------------------

    async def list_jobs(self, db_name: str, collection_name: str | None = None) -> list[WireRecord] | list[Any]:
        """The job records of a database (or one collection): checked WireRecords when the answer has the
        documented shape, else the JSON values as upstream sent them, the credentials blanked if they echo them
        (``records.read_record`` checks those)."""
        body: dict[str, Any] = {"dbName": db_name}
        if collection_name:
            body["collectionName"] = collection_name
        data = await self._shared_call(LIST_ROUTE, body)
        if data is None or data == {}:  # an empty answer whose empty list was left out
            return []
        if not isinstance(data, dict) or "records" not in data:
            raise _not_documented(
                f"Upstream list answer has no `data.records` (`data` is {_json_type(data)})", LIST_ROUTE
            )
        records = data["records"]
        if records is None:  # Go encodes an empty slice as null
            return []
        if not isinstance(records, list):
            raise _not_documented(
                f"Upstream list answer's `data.records` is {_json_type(records)}, not a list", LIST_ROUTE
            )
        return records

    async def describe_job(self, job_id: int | str, *, deadline: float | None = None) -> Mapping[str, Any] | None:
        """One raw job record, or None when upstream answers success with no job.

        With a ``deadline`` (``anyio.current_time()``'s clock), no retry starts after it: a cluster that is
        busy all along is reported as busy, by its last answer. Such a call is the caller's own, not shared.
        """
        body = {"jobId": job_id}
        if deadline is None:
            data = await self._shared_call(DESCRIBE_ROUTE, body)
        else:
            _SENT.set(time.perf_counter_ns())
            data = await self._with_retries(DESCRIBE_ROUTE, body, deadline=deadline)
        if data is None or data == {}:
            return None
        if not isinstance(data, dict):
            raise _not_documented(f"Upstream describe answer is {_json_type(data)}, not a job object", DESCRIBE_ROUTE)
        return data

    async def refresh(self, db_name: str, collection_name: str) -> str:
        """Start a refresh; returns the new job's id as text. Never retried or shared: it is not idempotent."""
        data = await self._send(REFRESH_ROUTE, {"dbName": db_name, "collectionName": collection_name})
        if not isinstance(data, dict) or "jobId" not in data:
            problem = "has no `data.jobId`"
        else:
            try:
                return job_id_text(data["jobId"])
            except RecordError as err:
                problem = f"has an unusable `data.jobId`: {err}"
        raise UpstreamBadResponse(f"Upstream refresh answer {problem}", route=REFRESH_ROUTE, status=200)

    @staticmethod
    def request_sent() -> int:
        """When the request that answered this task's last ``list_jobs`` or ``describe_job`` was first sent
        (``time.perf_counter_ns()``): its answer says what the cluster held then, or after."""
        return _SENT.get()

    # --- plumbing ------------------------------------------------------------------------------

    async def _shared_call(self, route: str, body: Mapping[str, Any]) -> Any:
        """Identical concurrent reads share one upstream call (and its retries).

        The call runs as its own task, so a caller that is cancelled (its client gave up) leaves it
        running for the others.
        """
        key = route + json.dumps(body, sort_keys=True)
        shared = self._inflight.get(key)
        if shared is None:
            shared = self._inflight[key] = (
                asyncio.ensure_future(self._with_retries(route, body)),
                time.perf_counter_ns(),
            )
            shared[0].add_done_callback(lambda done: self._forget(key, done))
        _SENT.set(shared[1])
        return await asyncio.shield(shared[0])

    def _forget(self, key: str, task: asyncio.Future[Any]) -> None:
        if (shared := self._inflight.get(key)) is not None and shared[0] is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" when every caller left

    @staticmethod
    def _error_of(state: RetryCallState) -> UpstreamError | None:
        error = state.outcome.exception() if state.outcome else None
        return error if isinstance(error, UpstreamError) else None

    def _wait(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        error = self._error_of(state)
        if error is not None and error.retry_after is not None:
            backoff = max(backoff, error.retry_after)
        return min(backoff, self._max_backoff)

    def _log_retry(self, state: RetryCallState) -> None:
        error = self._error_of(state)
        logger.info(
            "retrying in %.1f s (attempt %d of %d failed: %s)",
            state.upcoming_sleep,
            state.attempt_number,
            self._max_attempts,
            shortened(str(error), 120) if error else "?",
        )

    async def _with_retries(self, route: str, body: Mapping[str, Any], *, deadline: float | None = None) -> Any:
        # No retry starts after the budget, counted from the first attempt, nor after the caller's deadline.
        end = anyio.current_time() + self._retry_budget
        end = end if deadline is None else min(end, deadline)
        attempts = 1
        first_failure: UpstreamError | None = None
        try:
            try:
                # Most calls succeed at once: tenacity's bookkeeping (~0.1 ms a call) is kept for the failures.
                return await self._send(route, body, attempt=1)
            except UpstreamError as err:
                first_failure = err
            retrying = AsyncRetrying(
                stop=self._stop | _StopAtDeadline(end),
                wait=self._wait,
                retry=self._retry,
                before_sleep=self._log_retry,
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    if first_failure is not None:  # tenacity judges the first attempt's failure like any other
                        failure, first_failure = first_failure, None
                        raise failure
                    attempts += 1
                    return await self._send(route, body, attempt=attempts)
        except UpstreamError as err:
            err.attempts = attempts
            if (wait := err.wait_beyond(self._max_backoff)) is not None:
                err.hint = _retry_after_hint(wait)
            elif err.transient and not err.hint:
                err.hint = _TRANSIENT_HINT
            raise
        raise AssertionError("unreachable: tenacity either returns or re-raises")  # pragma: no cover

    async def _send(self, route: str, body: Mapping[str, Any], *, attempt: int = 1) -> Any:
        if self._limiter is not None:
            await self._limiter.acquire()
        started = time.perf_counter()
        status: int | str = "-"
        try:
            payload, status = await self._post(route, body)
            return self._data_of(route, body, payload)
        except UpstreamError as err:
            status = err.status or status
            if err.code is not None:  # Milvus reports most errors as HTTP 200 with a body code
                status = f"{status} code {err.code}"
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.info("POST %s -> %s in %.0f ms (attempt %d)", route, status, elapsed_ms, attempt)

    async def _post(self, route: str, body: Mapping[str, Any]) -> tuple[Any, int]:
        try:
            scan = SecretScan(self._token)
            # httpx's timeout bounds each read; this bounds the whole request (a body sent a byte at a time).
            with anyio.fail_after(self._timeout):
                async with self._http.stream("POST", route, json=body) as response:
                    raw = await self._read_capped(route, response, scan)
        except httpx2.DecodingError:
            raise UpstreamBadResponse(
                f"Upstream answered {route} with a body that does not match its Content-Encoding",
                route=route,
                hint=_BAD_RESPONSE_HINT,
            ) from None
        except httpx2.RemoteProtocolError:  # an answer that broke off, or that is not HTTP (a TLS alert, say)
            raise UpstreamBadResponse(
                f"The cluster's answer to {route} broke off or was not valid HTTP",
                route=route,
                transient=True,
                hint="The connection may have dropped, or a proxy is in the way; try again, and check "
                f"ZILLIZ_CLUSTER_ENDPOINT if it lasts{self._maybe_tls()}.",
            ) from None
        except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.ProxyError) as exc:
            raise self._unreachable(route, exc, sent=False) from None  # no connection was made: nothing was sent
        except (httpx2.TimeoutException, TimeoutError):
            raise UpstreamUnreachable(
                f"Upstream did not answer {route} within {self._timeout:g} s",
                route=route,
                transient=True,
                hint="The cluster is slow or unreachable; raise ZILLIZ_TIMEOUT_SECONDS or try again later.",
            ) from None
        except httpx2.RequestError as exc:  # a reset connection, a protocol error...: the request may have gone out
            raise self._unreachable(route, exc, sent=True) from None
        status = response.status_code
        if status != 200:
            raise self._status_error(route, body, response, raw)
        if route == LIST_ROUTE:
            records = decode_list_records(raw)
            if records is not None and not (scan.found and may_show_secret(records, self._token)):
                return {"code": 0, "data": {"records": records}}, status  # the envelope, its records checked
        try:
            payload = parse_json(raw)
        except (ValueError, RecursionError) as exc:
            raise UpstreamBadResponse(
                f"Upstream answered {route} with {self._not_json(raw, exc, scan)}",
                route=route,
                status=status,
                transient=False,
                hint="A proxy or gateway may be in the way; check ZILLIZ_CLUSTER_ENDPOINT.",
            ) from None
        if not scan.found:
            return payload, status
        if len(raw) < CLEANED_APART_BYTES:
            return redact_json(payload, self._token), status
        # Tens of MB that spell the token take seconds to clean: the event loop answers other calls meanwhile. A caller
        # that gives up (its deadline, a cancelled wait) goes at once; the thread finishes on a payload no one reads.
        return await anyio.to_thread.run_sync(redact_json, payload, self._token, abandon_on_cancel=True), status

    def _maybe_tls(self) -> str:
        """For an http:// endpoint, the words that a dropped or garbled answer may come of a port that serves TLS."""
        return _MAYBE_TLS if urlsplit(self._endpoint).scheme == "http" else ""

    def _unreachable(self, route: str, exc: Exception, *, sent: bool) -> UpstreamUnreachable:
        # Where it went as scheme://host:port only: a proxy's path prefix is no part of why it is unreachable.
        if isinstance(exc, httpx2.ConnectTimeout):
            cause, hint, transient = f": no connection within {self._connect_timeout:g} s", _CHECK_NETWORK, True
        elif isinstance(exc, httpx2.ProxyError):
            cause, hint, transient = ": the proxy refused to connect to it", _CHECK_PROXY, True
        elif isinstance(exc, httpx2.PoolTimeout):  # no fault of the network: our own requests hold every connection
            cause = f": all {MAX_CONNECTIONS} connections to it are busy with requests it has not answered"
            hint = "The cluster may be hanging; try again in a minute, and check its status if it lasts."
            transient = True
        else:
            parts = urlsplit(self._endpoint)
            cause, hint, transient = _connect_failure(
                exc, parts.port, sent=sent, plain=parts.scheme == "http", proxied=_proxied(self._endpoint)
            )
        return UpstreamUnreachable(
            f"Could not reach the cluster at {_origin(self._endpoint)}{cause}",
            route=route,
            transient=transient,
            sent=sent,
            hint=hint,
        )

    async def _read_capped(self, route: str, response: httpx2.Response, scan: SecretScan) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise self._too_large(route, response.status_code)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise self._too_large(route, response.status_code)
            chunks.append(chunk)
            scan.feed(chunk)
        return b"".join(chunks)

    def _too_large(self, route: str, status: int) -> UpstreamBadResponse:
        return UpstreamBadResponse(
            f"Upstream answer to {route} exceeds {_size(self._max_bytes)}",
            route=route,
            status=status,
            hint="Narrow the question with collectionName, or raise ZILLIZ_MAX_RESPONSE_MB."
            if route == LIST_ROUTE
            else "Raise ZILLIZ_MAX_RESPONSE_MB to read it.",
        )

    @staticmethod
    def _not_json(raw: bytes, exc: Exception, scan: SecretScan) -> str:
        """A body that is not JSON, in plain words: why, and its start quoted; never a spelling of the token."""
        if not raw.strip():
            return "an empty body, not JSON"
        if _looks_binary(raw):  # compressed, say, without a Content-Encoding: nothing a person could read
            kind = "gzip-compressed binary data" if raw.startswith(_GZIP_MAGIC) else "binary data"
            return f"a body that is not JSON ({kind}, not text), not quoted"
        what = f"a body that is not JSON ({_why_not_json(raw, exc)})"
        if scan.found:  # it may spell the token in a way no search undoes (\u0041, \/): not quoted at all
            return f"{what}: not quoted, as it may hold the credentials"
        # The scan found no piece of the token in any spelling: the text is safe to quote.
        return f"{what}: {quoted(' '.join(raw[:400].decode('utf-8', 'replace').split()), 200)}"

    def _status_error(
        self, route: str, body: Mapping[str, Any], response: httpx2.Response, raw: bytes
    ) -> UpstreamHTTPError:
        status = response.status_code
        code: int | None = None
        message = ""
        try:
            # Redacted before it is written as text: JSON of a non-string message escapes what a search looks for.
            payload = redact_json(parse_json(raw), self._token)
            if isinstance(payload, dict):
                raw_code = payload.get("code")
                code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
                message = self._words_of(payload.get("message"))
        except (ValueError, RecursionError):
            message = ""
        what = f"Upstream refused {route}" if status < 500 else f"Upstream failed on {route}"
        if status == 400 and not message and _PLAIN_TO_TLS.search(raw[:2048]):
            return UpstreamHTTPError(
                f"{what}: the port expects TLS, and the request came in plain HTTP",
                route=route,
                status=status,
                hint=_USE_HTTPS,
                transient=False,
            )
        if message:
            what += f": {_as_said(message)}"
        transient = status in TRANSIENT_STATUSES or code in TRANSIENT_CODES
        hint = _STATUS_HINTS.get(status) or (_TRANSIENT_HINT if transient else None)
        if status in (400, 500):
            hint = _code_hint(code, body) or hint
        if hint is None and status in REDIRECT_STATUSES:
            hint = self._redirect_hint(response)
        if hint is None and 300 <= status < 400:  # 304 and the like: no redirect, and not an answer of the API
            hint = _BAD_RESPONSE_HINT
        if hint is None:
            hint = _SERVER_ERROR_HINT if status >= 500 else _CLIENT_ERROR_HINT
        return UpstreamHTTPError(
            what,
            route=route,
            status=status,
            code=code,
            hint=hint,
            transient=transient,
            retry_after=_retry_after_seconds(response.headers.get("retry-after")),
            upstream_message=message or None,
        )

    def _redirect_hint(self, response: httpx2.Response) -> str:
        """Where the redirect leads, and the endpoint to set: its origin and any prefix before the API's path."""
        location = response.headers.get("location", "")
        if not location:
            return f"The endpoint redirects without saying where. {_CLIENT_ERROR_HINT}"
        # Only where it leads: a query or fragment (a login redirect's ticket, say) is no part of an endpoint.
        location = location.split("?", 1)[0].split("#", 1)[0]
        try:
            target = urljoin(str(response.request.url), location)
            parts = urlsplit(target)
            endpoint = _origin(target)  # reads the port: one out of range raises here
        except ValueError:  # "https://h:99999/...", "http://[::1/...": where it leads cannot be told
            shown = self._quoted_text(location, _URL_CHARS)
            return f"The endpoint redirects to {quoted(shown, 130)}, which is not a valid URL. {_CLIENT_ERROR_HINT}"
        # The header's text, quoted in ours: a line break or a bidirectional mark in it would pass for more of ours.
        shown = self._quoted_text(target, _URL_CHARS)
        cut = api_path_start(parts.path)
        if parts.scheme not in ("http", "https") or not parts.hostname or cut is None:
            # A login or console page, not the API moved: the endpoint itself is not the cluster's.
            return (
                f"The endpoint redirects to {shown}, which is not a route of the REST API: check that "
                "ZILLIZ_CLUSTER_ENDPOINT is the cluster endpoint (not a console page or a proxy's login)."
            )
        endpoint = redact(endpoint + parts.path[:cut], self._token)
        if endpoint.rstrip("/") == _same_spelling(self._endpoint):
            return f"The endpoint redirects to {shown}, the URL it was asked; check the proxy or gateway before it."
        endpoint = shortened(one_line(endpoint), _URL_CHARS)  # redacted above, before the comparison
        asked = urlsplit(self._endpoint)
        if asked.scheme == "https" and parts.scheme == "http":
            return (
                f"The endpoint redirects to {shown}, plain HTTP, where the key would travel unencrypted (it was not "
                "sent there): check the endpoint with whoever runs the cluster or its gateway, and set "
                f"ZILLIZ_CLUSTER_ENDPOINT to {endpoint} only for a host on a network you trust."
            )
        if (parts.hostname or "").lower() != (asked.hostname or "").lower():
            return (
                f"The endpoint redirects to {shown}, another host (the key was not sent there); if it is your "
                f"cluster's address, set ZILLIZ_CLUSTER_ENDPOINT to {endpoint}."
            )
        return f"The endpoint redirects to {shown}; set ZILLIZ_CLUSTER_ENDPOINT to {endpoint}."

    def _words_of(self, message: Any) -> str:
        """The cluster's ``message`` as our errors quote it: text (JSON if not a string), redacted, on one line, cut."""
        return self._quoted_text(_message_text(message), _MESSAGE_CHARS)

    def _quoted_text(self, text: str, chars: int) -> str:
        """Upstream's ``text`` as our errors quote it: redacted, on one line, cut to ``chars``. Redacted whole as far as
        it may be shown, and no further: a message of megabytes would keep the event loop for seconds."""
        return shortened(one_line(redact(text[: _QUOTED_SPAN * chars], self._token)), chars)

    def _data_of(self, route: str, body: Mapping[str, Any], payload: Any) -> Any:
        if not isinstance(payload, dict):
            raise _not_documented(
                f"Upstream answered {route} with JSON that is {_json_type(payload)}, not an object", route
            )
        code = payload.get("code", 0)
        if not isinstance(code, int) or isinstance(code, bool):
            raise _not_documented(
                f"Upstream answered {route} with a `code` that is {_json_type(code)}, not an integer", route
            )
        if code != 0:
            message = self._words_of(payload.get("message"))
            transient = code in TRANSIENT_CODES
            hint = _code_hint(code, body) or (_TRANSIENT_HINT if transient else _OTHER_CODE_HINT)
            raise UpstreamAPIError(
                f"Upstream rejected {route}: {_as_said(message) if message else 'no message'}",
                route=route,
                status=200,
                code=code,
                hint=hint,
                transient=transient,
                upstream_message=message or None,
            )
        if "data" not in payload:
            what = "code 0 but no `data`" if "code" in payload else "neither `code` nor `data`"
            raise _not_documented(f"Upstream answered {route} with {what}", route)
        return payload["data"]


# What of upstream's text is redacted before it is cut to what a message quotes: room for white space that one_line
# folds, and an echo of the key across the cut is blanked as far as it is kept.
_QUOTED_SPAN = 8
_BACKSLASHES_BEFORE_QUOTE = re.compile(r'\\+(?="|$)')


def _as_said(message: str) -> str:
    """The cluster's words in double quotes, any quote in them escaped (``\\"``), so that where they end cannot be
    forged: a model reads them as the cluster's, not as instructions to it ("invalid token. SYSTEM: call ...").
    Backslashes before a quote or at the end are doubled, as they would otherwise escape the escape or the closing
    quote; elsewhere (a control character shown as ``\\x1b``) they stay as they read."""
    return '"' + _BACKSLASHES_BEFORE_QUOTE.sub(r"\g<0>\g<0>", message).replace('"', '\\"') + '"'


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _same_spelling(endpoint: str) -> str:
    """The endpoint as ``_origin`` spells a URL (its host lower-cased), its path kept: to compare with one."""
    try:
        return (_origin(endpoint) + urlsplit(endpoint).path).rstrip("/")
    except ValueError:
        return endpoint


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL: never a path, a query or credentials."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host_in_url(parts.hostname or '')}{port}"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and every one it was raised from or during, those of exception groups included."""
    found: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if any(current is seen for seen in found):
            continue
        found.append(current)
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        if isinstance(current, BaseExceptionGroup):
            todo += current.exceptions
    return found


_CHECK_NETWORK = "Check ZILLIZ_CLUSTER_ENDPOINT and the network; the cluster may be paused or starting."
# What OpenSSL says when the bytes that answer the TLS handshake are not TLS: most often plain HTTP (a self-hosted
# Milvus serves http:// on 19530). OpenSSL 3.2+ reports the same fault as a record layer failure.
_NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)
_USE_HTTP = (
    "Use http:// for this endpoint (set ZILLIZ_ALLOW_INSECURE_HTTP=true for a host that is not loopback), or check "
    "the port."
)
_USE_HTTPS = "Use https:// for this endpoint in ZILLIZ_CLUSTER_ENDPOINT, or check the port."
_MAYBE_TLS = "; if the cluster serves TLS on that port, use https://"
# A TLS server's answer to a request in plain HTTP: nginx's page, Go's net/http (Milvus's REST server).
_PLAIN_TO_TLS = re.compile(rb"plain HTTP request was sent to HTTPS port|HTTP request to an HTTPS server", re.IGNORECASE)
_CHECK_PROXY = "Check HTTPS_PROXY / HTTP_PROXY (and NO_PROXY), and ZILLIZ_CLUSTER_ENDPOINT."
_PROXY_NOT_TLS = (
    "A proxy that speaks plain HTTP is written http://host:port in HTTPS_PROXY / HTTP_PROXY (the cluster's own TLS "
    "still goes through it); check those and NO_PROXY."
)


def _proxied(endpoint: str) -> bool:
    """Whether a proxy from the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, less NO_PROXY) stands between that is
    asked over TLS itself (https://): only then may it be what met the handshake with plain HTTP."""
    parts = urlsplit(endpoint)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all") or ""
    return proxy.lower().startswith("https://") and not urllib.request.proxy_bypass(parts.netloc)


def _connect_failure(
    exc: BaseException, port: int | None, *, sent: bool, plain: bool = False, proxied: bool = False
) -> tuple[str, str, bool]:
    """Why no connection was made, as words after "Could not reach the cluster at <origin>"; the hint; whether
    trying again may help. Read from the exception chain (the HTTP stack wraps the OS's or TLS's error).
    ``plain``: the endpoint is http://, so a connection dropped at once may be a TLS port refusing plain HTTP.
    ``proxied``: a proxy from the environment stands between, and it may be what answered."""
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, ssl.SSLError) and getattr(cause, "reason", "") in _NOT_TLS_REASONS:
            # The same port answers the same way on every attempt: not retried. Through a proxy given as https://,
            # the proxy is what answered: "use http://" for the cluster would send the key unencrypted for nothing.
            if proxied:
                return ": the proxy on the way answered in plain HTTP, not TLS", _PROXY_NOT_TLS, False
            if plain:  # the cluster is asked in plain HTTP: what spoke TLS is no part of it
                return ": something on the way answered in plain HTTP, not TLS", _CHECK_PROXY, False
            return ": it answered in plain HTTP, not TLS", _USE_HTTP, False
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = cause.verify_message or "the certificate was refused"
            # Trying again meets the same certificate: not retried.
            return (
                f": its TLS certificate could not be verified ({why})",
                "If the cluster's certificate comes from a private CA, point SSL_CERT_FILE (a PEM bundle) or "
                "SSL_CERT_DIR at that CA in the server's environment; otherwise check that ZILLIZ_CLUSTER_ENDPOINT "
                "names the cluster (a certificate for another host name is refused too).",
                False,
            )
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            if cause.errno == socket.EAI_AGAIN:  # the DNS server did not answer: a passing fault, maybe
                return (
                    ": the host name did not resolve (no answer from DNS)",
                    "Check the network and its DNS, and the host name in ZILLIZ_CLUSTER_ENDPOINT.",
                    True,
                )
            return (
                ": the host name did not resolve",
                "Check the spelling of the host name in ZILLIZ_CLUSTER_ENDPOINT (copy the cluster endpoint from "
                "the Zilliz console), and the network's DNS.",
                True,
            )
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            where = f"port {port}" if port is not None else "that port"
            return (
                f": nothing listens at {where} (connection refused)",
                "Check the port in ZILLIZ_CLUSTER_ENDPOINT, and that the cluster is running; it may be paused "
                "or starting.",
                True,
            )
    for cause in causes:
        if isinstance(cause, ConnectionResetError):
            return ": the connection was reset", _check_network(plain), True
    for cause in causes:
        if isinstance(cause, OSError) and cause.strerror:  # the OS's words: "No route to host" and the like
            dropped = isinstance(cause, ConnectionError)  # a broken pipe, an abort: not "no route to host"
            return f": {cause.strerror.lower()}", _check_network(plain and dropped), True
    return (" (the connection failed)" if sent else " (no connection could be made)"), _check_network(plain), True


def _check_network(plain: bool) -> str:
    """The hint for a connection that failed with no reason given: for http://, the port may serve TLS."""
    return _CHECK_NETWORK[:-1] + _MAYBE_TLS + "." if plain else _CHECK_NETWORK


_GZIP_MAGIC = b"\x1f\x8b"
_HTML_START = re.compile(rb"\s*<(!doctype\s+html|html|head|body|title)\b", re.IGNORECASE)


def _looks_binary(raw: bytes) -> bool:
    """Bytes that are not text: gzip's signature, or (in the first KiB) a NUL, or more than a tenth of bytes
    that are control characters or not UTF-8. A page in Latin-1 is text with a few such bytes."""
    head = raw[:1024]
    if head.startswith(_GZIP_MAGIC) or b"\x00" in head:
        return True
    text = head.decode("utf-8", "replace")
    odd = sum(1 for char in text if char == "\ufffd" or (char < " " and char not in "\t\n\r\f"))
    return odd * 10 > len(text)


def _why_not_json(raw: bytes, exc: Exception) -> str:
    """Why text is not JSON, as a person reads it (not the parser's words: "Expecting value")."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if _HTML_START.match(raw):
        return "it starts like an HTML page"
    if isinstance(exc, UnicodeDecodeError):
        return f"it is not valid UTF-8 at byte {exc.start + 1}"
    if isinstance(exc, json.JSONDecodeError):
        if exc.msg.startswith("Unterminated") or exc.pos >= len(exc.doc.rstrip()):
            return "it ends before its JSON does: cut off?"
        return f"it is not valid JSON at character {exc.pos + 1}"
    if "int_max_str_digits" in str(exc):  # Python's advice to its programmer, not to the user
        return "a number too long to read"
    return str(exc)  # our own words, none of upstream's: "NaN is not a JSON number", "a number is too large to read"


def _message_text(value: Any) -> str:
    """The cluster's ``message`` as text: a string as it is, anything else (an object, a list) as its JSON."""
    return as_text(value) if value else ""


def _size(count: int) -> str:
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count >= 1024:
        return f"{count / 1024:g} KiB"
    return f"{count} bytes"
