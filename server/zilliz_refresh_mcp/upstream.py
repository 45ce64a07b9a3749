"""The REST client for a Zilliz Cloud / Milvus cluster: one pooled connection, bounded retries, typed errors.

Every failure is an ``UpstreamError`` whose message says what failed, the upstream code or HTTP
status, and what the user can do. Messages never contain the token (``redact`` runs on every one,
including text the cluster echoed back).

    UpstreamError                 anything that went wrong talking to the cluster
     ├── UpstreamUnreachable      no answer: connection refused, DNS, TLS, timeout
     ├── UpstreamHTTPError        an HTTP status other than 200 (401, 403, 404, 429, 5xx...)
     ├── UpstreamAPIError         HTTP 200 with a non-zero body ``code``
     └── UpstreamBadResponse      an answer that is not the documented JSON, or too large

``transient`` errors (connection faults, timeouts, 429/502/503/504, body codes 1, 2, 4, 8, 1807,
10001) are retried with exponential backoff and jitter, honouring ``Retry-After``, within a fixed
number of attempts and a total time budget. Everything else fails at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

logger = logging.getLogger(__name__)

LIST_ROUTE = "/v2/vectordb/jobs/external_collection/list"
DESCRIBE_ROUTE = "/v2/vectordb/jobs/external_collection/describe"
REFRESH_ROUTE = "/v2/vectordb/jobs/external_collection/refresh"

TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})
TRANSIENT_CODES = frozenset({1, 2, 4, 8, 1807, 10001})
_AUTH_HINT = "Check ZILLIZ_TOKEN: an API key, or user:password, that is valid for this cluster."
_PRIVILEGE_HINT = "The key authenticated but lacks the privilege; grant it access to external-collection jobs."
_CODE_HINTS: dict[int, str] = {
    9: "The cluster's quota is exhausted; check usage in the Zilliz console.",
    1100: "Upstream rejected a parameter; check dbName, collectionName and jobId.",
    1101: "Upstream reports a missing parameter; check dbName, collectionName and jobId.",
    1400: _AUTH_HINT,
    1401: _PRIVILEGE_HINT,
    1800: _AUTH_HINT,
    1801: "Upstream could not read the request's JSON; check the argument types.",
    1802: "Upstream reports a missing parameter; check dbName, collectionName and jobId.",
    65535: "Upstream hit an unexpected error; try again, and check the cluster's health if it persists.",
}
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


def redact(text: str, secret: str) -> str:
    """``text`` with the secret, and each half of a ``user:password`` secret, replaced by ``***``."""
    if not secret:
        return text
    pieces = [secret]
    user, sep, password = secret.partition(":")
    if sep:
        pieces += [p for p in (password, user) if len(p) >= 4]
    for piece in pieces:
        text = text.replace(piece, "***")
    return text


class UpstreamError(Exception):
    """Anything that went wrong talking to the cluster."""

    def __init__(
        self,
        message: str,
        *,
        route: str,
        status: int | None = None,
        code: int | None = None,
        hint: str | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.route = route
        self.status = status
        self.code = code
        self.hint = hint
        self.transient = transient
        self.retry_after = retry_after
        self.attempts = 1
        super().__init__(message)

    @property
    def detail(self) -> str:
        """The message with the code/status and the hint, as one line for a person or a model."""
        where = []
        if self.code is not None:
            where.append(f"code {self.code}")
        if self.status is not None:
            where.append(f"HTTP {self.status}")
        text = str(self)
        if where:
            text += f" ({', '.join(where)})"
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
        text += "."
        if self.hint:
            text += " " + self.hint
        return text


class UpstreamUnreachable(UpstreamError):
    """No answer from the cluster: connection refused, DNS, TLS or timeout."""


class UpstreamHTTPError(UpstreamError):
    """The cluster (or a gateway before it) answered with an HTTP status other than 200."""


class UpstreamAPIError(UpstreamError):
    """The cluster answered HTTP 200 with a non-zero body code."""


class UpstreamBadResponse(UpstreamError):
    """The answer was not the documented JSON shape, or was too large."""


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


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
        self._max_attempts = max_attempts
        self._retry_budget = retry_budget_seconds
        self._max_backoff = max_backoff_seconds
        self._max_bytes = max_response_bytes
        self._limiter = AsyncLimiter(rate_limit_per_second, 1.0) if rate_limit_per_second > 0 else None
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._backoff = wait_exponential_jitter(multiplier=0.2, max=max_backoff_seconds, jitter=0.3)
        self._http = httpx2.AsyncClient(
            base_url=self._endpoint,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Request-Timeout": str(max(1, math.ceil(timeout_seconds))),
                "User-Agent": "zilliz-refresh-mcp",
            },
            timeout=httpx2.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
            limits=httpx2.Limits(max_connections=16, max_keepalive_connections=8),
            follow_redirects=False,
            transport=transport,
        )
        self.upstream_calls = 0  # attempts sent, for tests and logs

    async def __aenter__(self) -> ZillizClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"ZillizClient(endpoint={self._endpoint!r}, token='***')"

    # --- the three routes ----------------------------------------------------------------------

    async def list_jobs(self, db_name: str, collection_name: str | None = None) -> list[Mapping[str, Any]]:
        """The raw job records of a database (or one collection), exactly as upstream sent them."""
        body: dict[str, Any] = {"dbName": db_name}
        if collection_name:
            body["collectionName"] = collection_name
        data = await self._shared_call(LIST_ROUTE, body)
        if not isinstance(data, dict) or "records" not in data:
            raise UpstreamBadResponse(
                "Upstream list answer has no `data.records`", route=LIST_ROUTE, status=200, hint=_TRANSIENT_HINT
            )
        records = data["records"]
        if records is None:  # Go encodes an empty slice as null
            return []
        if not isinstance(records, list):
            raise UpstreamBadResponse(
                "Upstream list answer's `data.records` is not a list", route=LIST_ROUTE, status=200
            )
        return records

    async def describe_job(self, job_id: int | str) -> Mapping[str, Any] | None:
        """One raw job record, or None when upstream answers success with no job."""
        data = await self._shared_call(DESCRIBE_ROUTE, {"jobId": job_id})
        if data is None or data == {}:
            return None
        if not isinstance(data, dict):
            raise UpstreamBadResponse("Upstream describe answer is not a job object", route=DESCRIBE_ROUTE)
        return data

    async def refresh(self, db_name: str, collection_name: str) -> Any:
        """Start a refresh; returns upstream's job id as sent. Never retried or shared: it is not idempotent."""
        data = await self._send(REFRESH_ROUTE, {"dbName": db_name, "collectionName": collection_name})
        if not isinstance(data, dict) or "jobId" not in data:
            raise UpstreamBadResponse("Upstream refresh answer has no `data.jobId`", route=REFRESH_ROUTE)
        return data["jobId"]

    # --- plumbing ------------------------------------------------------------------------------

    async def _shared_call(self, route: str, body: Mapping[str, Any]) -> Any:
        """Identical concurrent reads share one upstream call (and its retries)."""
        key = route + json.dumps(body, sort_keys=True)
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # Marks the exception retrieved when no follower waits on it.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._inflight[key] = future
        try:
            result = await self._with_retries(route, body)
        except UpstreamError as err:
            future.set_exception(err)
            raise
        except BaseException:
            future.set_exception(
                UpstreamUnreachable(
                    "The shared upstream request was cancelled", route=route, transient=True, hint=_TRANSIENT_HINT
                )
            )
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[key]

    def _wait(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, UpstreamError) and error.retry_after is not None:
            backoff = max(backoff, error.retry_after)
        return min(backoff, self._max_backoff)

    async def _with_retries(self, route: str, body: Mapping[str, Any]) -> Any:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts) | stop_after_delay(self._retry_budget),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, UpstreamError) and e.transient),
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    return await self._send(route, body, attempt=attempts)
        except UpstreamError as err:
            err.attempts = attempts
            if err.transient and not err.hint:
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
            return self._data_of(route, payload)
        except UpstreamError as err:
            status = err.status or status
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.info("POST %s -> %s in %.0f ms (attempt %d)", route, status, elapsed_ms, attempt)

    async def _post(self, route: str, body: Mapping[str, Any]) -> tuple[Any, int]:
        self.upstream_calls += 1
        try:
            async with self._http.stream("POST", route, json=body) as response:
                raw = await self._read_capped(route, response)
        except httpx2.TimeoutException:
            raise UpstreamUnreachable(
                f"Upstream did not answer {route} within {self._timeout:g} s",
                route=route,
                transient=True,
                hint="The cluster is slow or unreachable; raise ZILLIZ_TIMEOUT_SECONDS or try again later.",
            ) from None
        except httpx2.TransportError as exc:
            raise UpstreamUnreachable(
                f"Could not reach the cluster at {self._endpoint} ({type(exc).__name__})",
                route=route,
                transient=True,
                hint="Check ZILLIZ_CLUSTER_ENDPOINT and the network; the cluster may be paused or starting.",
            ) from None
        status = response.status_code
        if status != 200:
            raise self._status_error(route, response, raw)
        try:
            return json.loads(raw), status
        except ValueError:
            snippet = self._snippet(raw)
            raise UpstreamBadResponse(
                f"Upstream answered {route} with a body that is not JSON: {snippet!r}",
                route=route,
                status=status,
                transient=False,
                hint="A proxy or gateway may be in the way; check ZILLIZ_CLUSTER_ENDPOINT.",
            ) from None

    async def _read_capped(self, route: str, response: httpx2.Response) -> bytes:
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
        return b"".join(chunks)

    def _too_large(self, route: str, status: int) -> UpstreamBadResponse:
        return UpstreamBadResponse(
            f"Upstream answer to {route} exceeds {self._max_bytes // (1024 * 1024)} MiB",
            route=route,
            status=status,
            hint="Narrow the question with collectionName, or raise ZILLIZ_MAX_RESPONSE_MB.",
        )

    def _snippet(self, raw: bytes) -> str:
        text = raw[:200].decode("utf-8", "replace")
        return redact(" ".join(text.split()), self._token)

    def _status_error(self, route: str, response: httpx2.Response, raw: bytes) -> UpstreamHTTPError:
        status = response.status_code
        code: int | None = None
        message = ""
        try:
            payload = json.loads(raw)
            if isinstance(payload, dict):
                code = payload.get("code") if isinstance(payload.get("code"), int) else None
                message = str(payload.get("message") or "")
        except ValueError:
            message = ""
        what = f"Upstream refused {route}" if status < 500 else f"Upstream failed on {route}"
        if message:
            what += f": {redact(message[:300], self._token)}"
        transient = status in TRANSIENT_STATUSES
        hint = _STATUS_HINTS.get(status) or (_TRANSIENT_HINT if transient else None)
        if status == 400 and code in _CODE_HINTS:
            hint = _CODE_HINTS[code]
        return UpstreamHTTPError(
            what,
            route=route,
            status=status,
            code=code,
            hint=hint,
            transient=transient,
            retry_after=_retry_after_seconds(response.headers.get("retry-after")),
        )

    def _data_of(self, route: str, payload: Any) -> Any:
        if not isinstance(payload, dict):
            raise UpstreamBadResponse(
                f"Upstream answered {route} with JSON that is not an object", route=route, status=200
            )
        code = payload.get("code", 0)
        if not isinstance(code, int) or isinstance(code, bool):
            raise UpstreamBadResponse(f"Upstream answered {route} with a non-integer code", route=route)
        if code != 0:
            message = redact(str(payload.get("message") or "no message")[:300], self._token)
            transient = code in TRANSIENT_CODES
            return_hint = _CODE_HINTS.get(code) or (_TRANSIENT_HINT if transient else None)
            raise UpstreamAPIError(
                f"Upstream rejected {route}: {message}",
                route=route,
                status=200,
                code=code,
                hint=return_hint,
                transient=transient,
            )
        if "data" not in payload:
            raise UpstreamBadResponse(f"Upstream answered {route} with no `data`", route=route, status=200)
        return payload["data"]
