"""A simulated Zilliz / Milvus cluster that speaks the real REST protocol on 127.0.0.1.

``--demo`` and the tests both use it, and the server reaches it through the same client code as
production. It follows Zilliz's REST reference for the external-collection job routes: int64 job ids
beyond 2^53 sent as JSON numbers, millisecond epochs, errors as HTTP 200 with a body code (401 for a
bad token). Jobs advance with the cluster's clock, so running jobs progress as time passes. Tests
script faults with ``inject``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .upstream import DESCRIBE_ROUTE, LIST_ROUTE, REFRESH_ROUTE

Clock = Callable[[], int]
FIRST_JOB_ID = 449_503_829_274_509_313  # beyond 2**53: JavaScript would round it
_MINUTE = 60_000
_NEVER = 2**63


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class SimJob:
    """A job whose state is a function of the clock: pending, then running, then completed or failed."""

    job_id: int
    db_name: str
    collection_name: str
    source: str
    created_ms: int
    start_delay_ms: int
    duration_ms: int
    fail_at_progress: int | None = None
    reason: str = ""
    spec: str | None = None
    stall_at_progress: int | None = None  # runs on at this progress for ever, as a stuck job does
    _json: bytes = field(default=b"", repr=False, compare=False)
    _made_ms: int = field(default=0, repr=False, compare=False)
    next_change_ms: int = field(default=-1, repr=False, compare=False)  # when ``_json`` stops being true

    @property
    def start_ms(self) -> int:
        """When the job starts (or started) running."""
        return self.created_ms + self.start_delay_ms

    def record_json(self, now_ms: int) -> bytes:
        """The record as JSON, made again only once the record changes (10,000-job lists stay cheap)."""
        if not self._made_ms <= now_ms < self.next_change_ms:
            self._json = json.dumps(self.record(now_ms), separators=(",", ":")).encode()
            self._made_ms, self.next_change_ms = now_ms, self._next_change(now_ms)
        return self._json

    def _progress_at(self, now_ms: int) -> int:
        """-1 while pending, then percent of the planned run: the record is a function of this alone."""
        start = self.start_ms
        if now_ms < start:
            return -1
        planned = min(100, (now_ms - start) * 100 // max(self.duration_ms, 1))
        return planned if self.stall_at_progress is None else min(planned, self.stall_at_progress)

    def _next_change(self, now_ms: int) -> int:
        """The first moment after ``now_ms`` at which ``_progress_at`` moves; _NEVER once the job has ended."""
        start = self.start_ms
        progress = self._progress_at(now_ms)
        if progress < 0:
            return start
        last = [100, *(at for at in (self.fail_at_progress, self.stall_at_progress) if at is not None)]
        if progress >= min(last):
            return _NEVER
        return start + -(-(progress + 1) * max(self.duration_ms, 1) // 100)  # ceiling division

    def record(self, now_ms: int) -> dict[str, Any]:
        start = self.start_ms
        record: dict[str, Any] = {
            "jobId": self.job_id,
            "collectionName": self.collection_name,
            "externalSource": self.source,
        }
        if self.spec is not None:
            record["externalSpec"] = self.spec
        progress = self._progress_at(now_ms)
        if progress < 0:
            return record | {"state": "RefreshPending", "progress": 0, "startTime": 0, "endTime": 0}
        if self.fail_at_progress is not None and progress >= self.fail_at_progress:
            end = start + self.duration_ms * self.fail_at_progress // 100
            failed = {"state": "RefreshFailed", "progress": self.fail_at_progress, "startTime": start, "endTime": end}
            return record | failed | ({"reason": self.reason} if self.reason else {})  # present only when non-empty
        if progress >= 100:
            return record | {
                "state": "RefreshCompleted",
                "progress": 100,
                "startTime": start,
                "endTime": start + self.duration_ms,
            }
        return record | {"state": "RefreshInProgress", "progress": progress, "startTime": start, "endTime": 0}


@dataclass
class Fault:
    """One scripted misbehaviour, used for the next matching request."""

    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    route: str | None = None  # None: any route
    release: threading.Event | None = None  # held until the test sets it (then answered normally)

    @classmethod
    def http(cls, status: int, body: str = "", **headers: str) -> Fault:
        return cls(status=status, body=body.encode(), headers=headers)

    @classmethod
    def code(cls, code: int, message: str, status: int = 200) -> Fault:
        return cls(status=status, body=json.dumps({"code": code, "message": message}).encode())

    @classmethod
    def raw(cls, body: bytes | str, status: int = 200) -> Fault:
        return cls(status=status, body=body.encode() if isinstance(body, str) else body)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(delay_seconds=seconds)

    @classmethod
    def hold(cls, release: threading.Event, route: str | None = None) -> Fault:
        """Keep the request waiting until ``release`` is set, then answer it normally."""
        return cls(release=release, route=route)


@dataclass
class SeenRequest:
    route: str
    authorization: str
    body: Any
    raw_body: bytes
    peer_port: int | None = None  # the client's TCP port: one per upstream connection


def _volume(name: str) -> str:
    return json.dumps({"type": "volume", "path": f"volume://my-volume/{name}"}, separators=(",", ":"))


class SimulatedCluster:
    """Databases, external collections and their refresh jobs, plus scripted faults.

    Jobs change only through ``add_job``, ``start_refresh`` and the clock; list answers are cached on
    that basis, so a test that edits a job in place would be served its old record.
    """

    def __init__(
        self, *, token: str | None = None, clock: Clock = wall_clock_ms, keep_requests: int | None = None
    ) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.clock = clock
        self.databases: dict[str, dict[str, str]] = {"default": {}}
        self.jobs: list[SimJob] = []
        self.faults: deque[Fault] = deque()
        self.requests: list[SeenRequest] = []  # what tests inspect
        self._keep_requests = keep_requests  # None keeps them all; --demo runs for days, and keeps the latest
        self.refresh_duration_ms = 20_000
        self._next_id = FIRST_JOB_ID
        self._lock = threading.Lock()
        # (db, collection) -> (jobs then, made at, true until, body): 10,000-job answers cost ~0 to repeat.
        self._answers: dict[tuple[str, str | None], tuple[int, int, int, bytes]] = {}

    # --- building the world --------------------------------------------------------------------

    def add_collection(self, db_name: str, collection_name: str, source: str | None = None) -> None:
        self.databases.setdefault(db_name, {})[collection_name] = source or _volume(collection_name)

    def add_job(
        self,
        db_name: str,
        collection_name: str,
        *,
        started_minutes_ago: float,
        duration_minutes: float,
        fail_at_progress: int | None = None,
        reason: str = "",
        spec: str | None = None,
        job_id: int | None = None,
        stall_at_progress: int | None = None,
    ) -> SimJob:
        """A job that started (or, when negative, starts) the given minutes from now."""
        if collection_name not in self.databases.get(db_name, {}):
            self.add_collection(db_name, collection_name)
        with self._lock:
            if job_id is None:
                job_id = self._next_id
                self._next_id += 1
            job = SimJob(
                job_id=job_id,
                db_name=db_name,
                collection_name=collection_name,
                source=self.databases[db_name][collection_name],
                created_ms=self.clock() // 1000 * 1000 - round(started_minutes_ago * _MINUTE),
                start_delay_ms=0,
                duration_ms=max(round(duration_minutes * _MINUTE), 1),
                fail_at_progress=fail_at_progress,
                reason=reason,
                spec=spec,
                stall_at_progress=stall_at_progress,
            )
            self.jobs.append(job)
        return job

    def start_refresh(self, db_name: str, collection_name: str) -> SimJob:
        with self._lock:
            job = SimJob(
                job_id=self._next_id,
                db_name=db_name,
                collection_name=collection_name,
                source=self.databases[db_name][collection_name],
                created_ms=self.clock(),
                start_delay_ms=2_000,
                duration_ms=self.refresh_duration_ms,
            )
            self._next_id += 1
            self.jobs.append(job)
        return job

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each is used once, by the next request of its route."""
        self.faults.extend(faults)

    def records(self, db_name: str, collection_name: str | None = None) -> list[dict[str, Any]]:
        now = self.clock()
        return [job.record(now) for job in _listed(self.jobs, db_name, collection_name)]

    # --- the HTTP face -------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(LIST_ROUTE, self._handle, methods=["POST"]),
                Route(DESCRIBE_ROUTE, self._handle, methods=["POST"]),
                Route(REFRESH_ROUTE, self._handle, methods=["POST"]),
            ]
        )

    def _take_fault(self, route: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.route in (None, route):
                    self.faults.remove(fault)
                    return fault
        return None

    async def _handle(self, request: Request) -> Response:
        route = request.url.path
        raw = await request.body()
        authorization = request.headers.get("authorization", "")
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        peer_port = request.client.port if request.client else None
        self.requests.append(SeenRequest(route, authorization, body, raw, peer_port))
        if self._keep_requests is not None and len(self.requests) > 2 * self._keep_requests:
            del self.requests[: len(self.requests) - self._keep_requests]
        fault = self._take_fault(route)
        if fault is not None:
            if fault.delay_seconds:
                await asyncio.sleep(fault.delay_seconds)
            if fault.release is not None:
                await asyncio.to_thread(fault.release.wait, 60)  # bounded: a forgotten release cannot hang
            if fault.body is not None or fault.status != 200:
                content = (fault.body or b"").replace(b"{authorization}", authorization.encode())
                return Response(content, status_code=fault.status, headers=fault.headers)
        if authorization != f"Bearer {self.token}":
            return JSONResponse({"code": 1800, "message": "user hasn't authenticated"}, status_code=401)
        if not isinstance(body, dict):
            return _error(1801, "can only accept json format request")
        db_name = body.get("dbName") or request.headers.get("db-name") or "default"
        if not isinstance(db_name, str) or not isinstance(body.get("collectionName", ""), str):
            return _error(1801, "can only accept json format request: a field has the wrong type")
        if db_name not in self.databases:
            return _error(800, f"database not found[database={db_name}]")
        if route == LIST_ROUTE:
            return self._list(db_name, body)
        if route == DESCRIBE_ROUTE:
            return self._describe(body)
        return self._refresh(db_name, body)

    def _list(self, db_name: str, body: dict[str, Any]) -> Response:
        collection = body.get("collectionName") or None
        if collection is not None and collection not in self.databases[db_name]:
            return _error(100, f"collection not found[collection={collection}]")
        return Response(self._list_body(db_name, collection), media_type="application/json")

    def _list_body(self, db_name: str, collection: str | None) -> bytes:
        """The list answer, made again only once a listed record changes or a job is added."""
        now = self.clock()
        count, made, until, body = self._answers.get((db_name, collection), (0, 0, -1, b""))
        if count != len(self.jobs) or not made <= now < until:
            count = len(self.jobs)
            listed = _listed(self.jobs[:count], db_name, collection)
            records = b",".join(job.record_json(now) for job in listed)
            body = b'{"code":0,"data":{"records":[' + records + b"]}}"
            until = min((job.next_change_ms for job in listed), default=_NEVER)
            self._answers[(db_name, collection)] = (count, now, until, body)
        return body

    def _describe(self, body: dict[str, Any]) -> Response:
        job_id = body.get("jobId")
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            return _error(1801, "can only accept json format request: jobId should be int64")
        now = self.clock()
        for job in self.jobs:
            if job.job_id == job_id:
                return _ok(job.record(now))
        # Assumed, not documented: the code and words of the real answer for an unknown job.
        return _error(65535, f"refresh job not found[jobId={job_id}]")

    def _refresh(self, db_name: str, body: dict[str, Any]) -> Response:
        collection = body.get("collectionName")
        if not collection:
            return _error(1802, "missing required parameters: collectionName")
        if collection not in self.databases[db_name]:
            return _error(100, f"collection not found[collection={collection}]")
        if ("externalSource" in body) != ("externalSpec" in body):
            return _error(1100, "invalid parameter: externalSource and externalSpec go together or not at all")
        now = self.clock()
        for job in self.jobs:
            if (
                job.db_name == db_name
                and job.collection_name == collection
                and job.record(now)["state"] in ("RefreshPending", "RefreshInProgress")
            ):
                # Assumed, not documented: the code and words of the real answer (service.py reads the words).
                return _error(65535, f"a refresh job is already running for collection {collection}")
        return _ok({"jobId": self.start_refresh(db_name, collection).job_id})


def _listed(jobs: list[SimJob], db_name: str, collection: str | None) -> list[SimJob]:
    """The jobs a list request for ``db_name`` (and ``collection``, when given) answers with."""
    return [job for job in jobs if job.db_name == db_name and (not collection or job.collection_name == collection)]


def _ok(data: Any) -> Response:
    return JSONResponse({"code": 0, "data": data})


def _error(code: int, message: str) -> Response:
    return JSONResponse({"code": code, "message": message})


def demo_cluster(
    *, token: str | None = None, clock: Clock = wall_clock_ms, keep_requests: int | None = None
) -> SimulatedCluster:
    """The demo world: database ``default`` with a job in every state, and a second database."""
    cluster = SimulatedCluster(token=token, clock=clock, keep_requests=keep_requests)
    for name in ("ext_books", "ext_movies", "ext_music", "ext_news", "ext_reviews"):
        cluster.add_collection("default", name)
    cluster.add_job("default", "ext_books", started_minutes_ago=26 * 60, duration_minutes=9)
    cluster.add_job("default", "ext_books", started_minutes_ago=14 * 60, duration_minutes=10)
    cluster.add_job(
        "default",
        "ext_music",
        started_minutes_ago=8 * 60,
        duration_minutes=30,
        fail_at_progress=37,
        reason="failed to read volume://my-volume/ext_music/part-0007.parquet: permission denied",
    )
    # 42% done now, finishing in about 17 minutes.
    cluster.add_job("default", "ext_movies", started_minutes_ago=12.6, duration_minutes=30)
    cluster.add_job("default", "ext_news", started_minutes_ago=-3, duration_minutes=4)
    cluster.add_job("default", "ext_reviews", started_minutes_ago=50, duration_minutes=6)
    cluster.add_collection("analytics", "ext_events")
    cluster.add_job("analytics", "ext_events", started_minutes_ago=90, duration_minutes=20)
    return cluster


def bulk_cluster(count: int, *, clock: Clock = wall_clock_ms) -> SimulatedCluster:
    """``count`` jobs over 50 collections of ``default``: mostly completed, some failed, running, pending."""
    cluster = SimulatedCluster(clock=clock)
    reasons = (
        "schema mismatch: column `embedding` has dimension 512, collection expects 768",
        "failed to read volume://my-volume/shard-07: permission denied",
        "quota exceeded: storage limit of the cluster reached",
    )
    for i in range(count):
        collection = f"ext_c{i % 50:02d}"
        kind = i % 100
        if kind < 3:
            cluster.add_job(
                "default",
                collection,
                started_minutes_ago=i,
                duration_minutes=10,
                fail_at_progress=10 + kind * 20,
                reason=reasons[kind],
            )
        elif kind < 5:
            cluster.add_job("default", collection, started_minutes_ago=1 + kind, duration_minutes=60)
        elif kind < 6:
            cluster.add_job("default", collection, started_minutes_ago=-5, duration_minutes=10)
        else:
            cluster.add_job("default", collection, started_minutes_ago=60 + i, duration_minutes=10)
    return cluster


class SimulatorServer:
    """Serves a SimulatedCluster over HTTP on 127.0.0.1 from a background thread."""

    def __init__(self, cluster: SimulatedCluster, *, port: int = 0) -> None:
        self.cluster = cluster
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it every answer waits ~40 ms on Nagle + delayed ACK.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind(("127.0.0.1", port))
        self._socket.listen(128)  # connections queue from here on, before the thread serves them
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            cluster.app(),
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="zilliz-simulator", daemon=True)

    def _serve(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self) -> SimulatorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
