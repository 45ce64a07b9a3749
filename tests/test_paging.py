"""The paging contract of list_refresh_jobs, proved against bulk simulated clusters.

Following ``page.nextCursor`` reaches every job exactly once, whatever the limit and filters; counts
are exact (checked against the simulator's own records, not the server's); failed jobs come first;
a bad cursor is a tool error the model can act on; ``estimatedEndAt`` is set exactly when it means
something; and a 10,000-job answer stays small on the wire.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import sys
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult

from zilliz_refresh_mcp.config import Settings
from zilliz_refresh_mcp.reasons import REASON_BYTES
from zilliz_refresh_mcp.server import DEFAULT_LIMIT, build_server
from zilliz_refresh_mcp.simulator import Fault, SimulatedCluster, SimulatorServer, bulk_cluster
from zilliz_refresh_mcp.upstream import LIST_ROUTE

from .conftest import FakeClock, settings_for, text_of

pytestmark = pytest.mark.anyio

BULK = 600  # 15 failed, 15 running, 6 pending, the rest completed, over 50 collections
BIG = 10_000
WIRE_BUDGET = 24_000  # bytes of one whole tools/call response
RANK = {"RefreshFailed": 0, "RefreshInProgress": 1, "RefreshPending": 2}  # 3: failures fixed since


def rank_of(job: dict[str, Any]) -> int:
    return 3 if job.get("fixedSince") else RANK.get(job["state"], 4)


KNOWN = ("RefreshPending", "RefreshInProgress", "RefreshCompleted", "RefreshFailed")
TOOL = "list_refresh_jobs"


# --- fixtures: the conftest chain (clock -> cluster -> simulator -> settings -> mcp_server), bulk ----------


@pytest.fixture
def cluster(clock: FakeClock) -> SimulatedCluster:
    return bulk_cluster(BULK, clock=clock)


@pytest.fixture
def settings(simulator: SimulatorServer) -> Settings:
    # Walking pages sends many calls in a row; the 20/s upstream limit would only slow the tests down.
    return settings_for(simulator, rate_limit_per_second=1000)


@asynccontextmanager
async def connected(server: MCPServer[Any], mode: str = "auto") -> AsyncIterator[Client]:
    async with Client(server, mode=mode, cache=None) as client:
        yield client


# --- helpers ---------------------------------------------------------------------------------------


async def call(client: Client, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(TOOL, arguments)
    assert not result.is_error, text_of(result)
    structured: dict[str, Any] | None = result.structured_content
    assert structured is not None
    return structured


async def walk(client: Client, **arguments: Any) -> list[dict[str, Any]]:
    """Every page of one listing, following page.nextCursor until it is null."""
    pages = [await call(client, **arguments)]
    while pages[-1]["page"]["nextCursor"] is not None:
        assert len(pages) <= BULK, "the cursor does not advance"
        pages.append(await call(client, **arguments, cursor=pages[-1]["page"]["nextCursor"]))
    return pages


def truth(cluster: SimulatedCluster, collection: str | None = None) -> list[dict[str, Any]]:
    """Upstream's own records, straight from the simulator (not through the server)."""
    return cluster.records("default", collection)


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [str(record["jobId"]) for record in records]


def by_state(records: list[dict[str, Any]], asked: list[str] | None = None) -> dict[str, int]:
    """Each known state (only those asked for, under a filter) and any other state of ``records``, counted."""
    counts = Counter(record["state"] for record in records)
    return {state: counts.get(state, 0) for state in KNOWN if not asked or state in asked} | dict(counts)


def ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_walk_is_complete(pages: list[dict[str, Any]], expected: list[dict[str, Any]], limit: int) -> None:
    """Exactly the expected jobs, each once, in listing order, with consistent page bookkeeping."""
    seen = [job["jobId"] for page in pages for job in page["jobs"]]
    assert len(seen) == len(set(seen)), "a job was returned twice"
    assert sorted(seen) == sorted(ids(expected))
    total = len(expected)
    shown = 0
    for number, page in enumerate(pages, start=1):
        assert page["summary"] == pages[0]["summary"], "summary must count every matching job, on every page"
        assert page["summary"]["total"] == total
        returned, would = page["page"]["returned"], min(limit, total - shown)
        assert returned == len(page["jobs"])
        # A page holds the limit, or fewer to keep the answer within its budget, and then says so.
        assert returned == would or (
            1 <= returned < would and f"holds {returned}, not {would}," in page["page"]["hint"]
        )
        shown += len(page["jobs"])
        assert page["page"]["remaining"] == total - shown
        last = number == len(pages)
        assert (page["page"]["nextCursor"] is None) == last
        assert (page["page"]["hint"] is None) == last
        if not last:
            assert page["page"]["nextCursor"] in page["page"]["hint"]
    jobs = [job for page in pages for job in page["jobs"]]
    ranks = list(map(rank_of, jobs))
    assert ranks == sorted(ranks), "failed (current, then fixed since), then in progress, then pending, the rest"
    for rank in set(ranks):
        times = [job["endedAt"] or job["startedAt"] for job in jobs if rank_of(job) == rank]
        dated = [ms(t) for t in times if t is not None]
        assert dated == sorted(dated, reverse=True), "the most recent first within a state, by end else start"
        assert times == [*(t for t in times if t is not None), *(t for t in times if t is None)]


# --- following the cursor ----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [13, None, 64, 200])
async def test_following_next_cursor_reaches_every_job_exactly_once(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster, limit: int | None
) -> None:
    arguments = {} if limit is None else {"limit": limit}
    async with connected(mcp_server) as client:
        pages = await walk(client, **arguments)
    assert_walk_is_complete(pages, truth(cluster), limit or DEFAULT_LIMIT)


async def test_a_record_upstream_repeats_is_one_job_counted_and_paged_once(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster
) -> None:
    """A gateway merging a retried page may send records twice: each copy was counted, and listed."""
    expected = truth(cluster)
    repeated = expected + expected[::7] + expected[:5]
    answer = json.dumps({"code": 0, "data": {"records": repeated}})
    cluster.inject(*[Fault.raw(answer)] * (1 + len(expected) // 64))
    async with connected(mcp_server) as client:
        pages = await walk(client, limit=64)
    assert_walk_is_complete(pages, expected, 64)
    assert pages[0]["summary"]["byState"] == by_state(expected)


@pytest.mark.parametrize("limit", [1, 3])
async def test_jobs_that_share_an_id_and_a_time_are_each_paged_once(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster, limit: int
) -> None:
    """Ids rounded on their way may leave jobs of several collections with one id, and the same times: the cursor
    tells them apart by collection, so no page skips or repeats one."""
    template = truth(cluster)[0]
    shared = [
        {**template, "jobId": 449503829274509300 + 64 * (i % 2), "collectionName": f"ext_{i:02}"} for i in range(8)
    ]
    answer = json.dumps({"code": 0, "data": {"records": shared}})
    cluster.inject(*[Fault.raw(answer)] * (len(shared) // limit + 1))
    async with connected(mcp_server) as client:
        pages = await walk(client, limit=limit)
    seen = [(job["jobId"], job["collectionName"]) for page in pages for job in page["jobs"]]
    assert sorted(seen) == sorted((str(job["jobId"]), job["collectionName"]) for job in shared)
    assert [page["page"]["remaining"] for page in pages] == [len(shared) - limit * n for n in range(1, len(pages))] + [
        0
    ]
    assert pages[0]["summary"]["total"] == len(shared)
    assert "share 2 job ids, such as 449503829274509300 (ext_00, ext_02, ext_04, ...)" in pages[0]["summary"]["text"]


@pytest.mark.parametrize(
    ("state", "expected_states"),
    [
        (["failed"], ["RefreshFailed"]),
        (["running"], ["RefreshInProgress"]),
        (["pending", "completed"], ["RefreshPending", "RefreshCompleted"]),
        (["RefreshFailed", "in_progress"], ["RefreshFailed", "RefreshInProgress"]),
        (["Failed", "refresh-failed"], ["RefreshFailed"]),
    ],
)
async def test_state_filters_walk_exactly_the_matching_jobs(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster, state: list[str], expected_states: list[str]
) -> None:
    async with connected(mcp_server, mode="legacy") as client:
        pages = await walk(client, state=state, limit=25)
    expected = [record for record in truth(cluster) if record["state"] in expected_states]
    assert expected, "the bulk cluster has jobs in every state"
    assert_walk_is_complete(pages, expected, 25)
    assert {job["state"] for page in pages for job in page["jobs"]} == set(expected_states)
    summary = pages[0]["summary"]
    assert summary["byState"] == by_state(expected, expected_states)
    assert set(pages[0]["states"]) == set(expected_states)


@pytest.mark.parametrize("state", [None, ["completed"]])
async def test_one_collection_walks_exactly_its_jobs(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster, state: list[str] | None
) -> None:
    arguments: dict[str, Any] = {"collectionName": "ext_c07", "limit": 3}
    if state:
        arguments["state"] = state
    async with connected(mcp_server) as client:
        pages = await walk(client, **arguments)
    expected = [r for r in truth(cluster, "ext_c07") if not state or r["state"] == "RefreshCompleted"]
    assert_walk_is_complete(pages, expected, 3)
    assert {job["collectionName"] for page in pages for job in page["jobs"]} == {"ext_c07"}
    assert pages[0]["collectionName"] == "ext_c07"
    assert pages[0]["summary"]["byState"] == by_state(expected, ["RefreshCompleted"] if state else None)


async def test_an_upstream_that_ignores_the_collection_filter_does_not_pass_others_jobs_off_as_its_own(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster
) -> None:
    """Every job of the database comes back for collectionName=ext_c07 (a cluster or gateway that drops the
    filter): only ext_c07's are counted and listed, and a record that names no collection is taken as its."""
    unnamed = {**truth(cluster, "ext_c07")[0], "jobId": 7_000_001, "collectionName": None}
    answer = json.dumps({"code": 0, "data": {"records": [*truth(cluster), unnamed]}})
    cluster.inject(*[Fault.raw(answer)] * 3)
    async with connected(mcp_server) as client:
        pages = await walk(client, collectionName="ext_c07", limit=200)
    expected = [*truth(cluster, "ext_c07"), unnamed]
    assert len(expected) < len(truth(cluster)) // 10
    assert_walk_is_complete(pages, expected, 200)
    assert pages[0]["summary"]["byState"] == by_state(expected)


async def test_a_cursor_still_works_after_new_jobs_arrive(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster
) -> None:
    before = ids(truth(cluster))
    async with connected(mcp_server) as client:
        first = await call(client, limit=50)
        cluster.add_job("default", "ext_c01", started_minutes_ago=0.5, duration_minutes=10)  # a new running job
        cluster.add_job("default", "ext_c02", started_minutes_ago=-1, duration_minutes=10)  # a new pending job
        pages = [first]
        while pages[-1]["page"]["nextCursor"] is not None:
            pages.append(await call(client, limit=50, cursor=pages[-1]["page"]["nextCursor"]))
    seen = [job["jobId"] for page in pages for job in page["jobs"]]
    assert len(seen) == len(set(seen))
    assert set(before) <= set(seen), "keyset paging: jobs that existed at the start are all reached"


def active_since(record: dict[str, Any], at_ms: int) -> bool:
    """The rule the tool states for ``since``: not ended, or ended then or later; an ended job with no end time by
    its start (kept when it gives neither)."""
    if record["state"] in ("RefreshInProgress", "RefreshPending"):
        return True
    if record["endTime"]:
        return bool(max(record["endTime"], record["startTime"]) >= at_ms)
    if record["state"] in ("RefreshCompleted", "RefreshFailed"):
        return not record["startTime"] or record["startTime"] >= at_ms
    return True


def ended_hourly_and_more(clock: FakeClock) -> SimulatedCluster:
    """Jobs that ended one a minute over the last 7 hours (every 7th failed), one running for a day to come, one
    pending: a few minutes on the clock change no job's state, only which jobs a span such as "3h" reaches."""
    cluster = SimulatedCluster(clock=clock)
    for minute in range(420):
        fails = minute % 7 == 0
        cluster.add_job(
            "default",
            f"ext_{minute % 9}",
            started_minutes_ago=minute + 2,
            duration_minutes=2,
            fail_at_progress=50 if fails else None,
            reason="denied" if fails else "",
        )
    cluster.add_job("default", "ext_long", started_minutes_ago=600, duration_minutes=2000)
    cluster.add_job("default", "ext_later", started_minutes_ago=-600, duration_minutes=10)
    return cluster


@pytest.mark.parametrize("state", [None, ["failed", "running"]])
async def test_a_time_window_walks_exactly_the_jobs_active_in_it_as_of_the_first_page(
    clock: FakeClock, state: list[str] | None
) -> None:
    """ "3h" names a later time on each page as the clock moves: the cursor keeps the first page's, so that no job
    at the window's edge is skipped or shown twice, and the counts stay those of the first page. Jobs not ended
    (the running one started 10 hours ago, the pending one) are active in any window."""
    cluster = ended_hourly_and_more(clock)
    arguments: dict[str, Any] = {"since": "3h", "limit": 13} | ({"state": state} if state else {})
    at_ms = clock.now - clock.now % 1000 - 3 * 3600 * 1000
    wanted = {"RefreshFailed", "RefreshInProgress"} if state else set(KNOWN)
    expected = [record for record in truth(cluster) if active_since(record, at_ms) and record["state"] in wanted]
    assert {"ext_long", *([] if state else ["ext_later"])} <= {record["collectionName"] for record in expected}
    assert len(expected) < len(truth(cluster)) // 2
    with SimulatorServer(cluster) as simulator:
        async with connected(build_server(settings_for(simulator), clock=clock)) as client:
            pages = [await call(client, **arguments)]
            while (cursor := pages[-1]["page"]["nextCursor"]) is not None:
                clock.advance(60)  # a minute between pages: "3h" now names a minute later, past a job's end
                pages.append(await call(client, **arguments, cursor=cursor))
    assert len(pages) > 2
    assert_walk_is_complete(pages, expected, 13)
    assert {page["since"] for page in pages} == {iso(at_ms)}
    assert pages[0]["summary"]["byState"] == by_state(expected, sorted(wanted) if state else None)
    assert f" in default active since {iso(at_ms)}: " in pages[0]["summary"]["text"]


async def test_a_time_window_given_as_a_time_or_as_a_span_is_the_same_window(
    mcp_server: MCPServer[Any], clock: FakeClock
) -> None:
    at = datetime.fromtimestamp((clock.now - clock.now % 1000) / 1000 - 7200, UTC)
    async with connected(mcp_server) as client:
        span = await call(client, since="2 hours", limit=200)
        utc = await call(client, since=at.strftime("%Y-%m-%dT%H:%M:%SZ"), limit=200)
        offset = await call(client, since=at.astimezone(timezone(timedelta(hours=-5))).isoformat(), limit=200)
        everything = await call(client, limit=200)
    assert span["since"] == utc["since"] == offset["since"] == at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert span["summary"] == utc["summary"] == offset["summary"]
    assert span["summary"]["total"] < everything["summary"]["total"] and everything["since"] is None


@pytest.mark.parametrize(
    ("since", "said"),
    [
        ("yesterday", "is neither an ISO-8601 time"),
        ("2999-01-01", "since 2999-01-01T00:00:00Z is after now"),
        ("24 parsecs", "is neither an ISO-8601 time"),
        ("6M", "write minutes as m (90m), days as d (30d)"),  # months, or minutes?
    ],
)
async def test_a_time_window_that_names_no_time_or_one_to_come_is_refused_before_upstream(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster, since: str, said: str
) -> None:
    async with connected(mcp_server) as client:
        sent = len(cluster.requests)
        result = await client.call_tool(TOOL, {"since": since})
        assert result.is_error and said in text_of(result)
        assert len(cluster.requests) == sent
        assert (await call(client))["summary"]["total"] == BULK  # and it keeps serving


async def test_a_cursor_of_one_time_window_does_not_continue_another(mcp_server: MCPServer[Any]) -> None:
    async with connected(mcp_server) as client:
        cursor = (await call(client, since="3h", limit=3))["page"]["nextCursor"]
        assert cursor
        same = await call(client, since=" 3H ", limit=3, cursor=cursor)  # the same window, however written
        assert same["jobs"] and same["since"] is not None
        for other in ({}, {"since": "4h"}):
            result = await client.call_tool(TOOL, {**other, "limit": 3, "cursor": cursor})
            assert result.is_error and "(another dbName, collectionName, state or since)" in text_of(result)
        unwindowed = (await call(client, limit=3))["page"]["nextCursor"]
        result = await client.call_tool(TOOL, {"since": "3h", "limit": 3, "cursor": unwindowed})
        assert result.is_error and "cursor continues a different question" in text_of(result)


@pytest.mark.parametrize("edit", ["window begins tomorrow", "another job"])
async def test_an_edited_cursor_is_refused_before_upstream(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster, edit: str
) -> None:
    """No page's window began after its read, and a cursor names the job its page ended with: a cursor edited to
    say otherwise was made by hand (or miscopied), and is refused by its check before anything goes upstream,
    not answered from another place with a note that jobs moved."""
    async with connected(mcp_server) as client:
        cursor = (await call(client, since="3h", limit=3))["page"]["nextCursor"]
        fields = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if edit == "another job":
            fields[3] = str(int(fields[3]) + 1)
        else:
            fields[-2] += 86_400_000  # the window's start (the check comes last)
        sent = len(cluster.requests)
        result = await client.call_tool(TOOL, {"since": "3h", "limit": 3, "cursor": _b64(json.dumps(fields))})
        assert result.is_error and "cursor is not one this server handed out" in text_of(result)
        assert len(cluster.requests) == sent


# --- exact counts and order ------------------------------------------------------------------------


async def test_counts_are_exact_and_match_upstream(mcp_server: MCPServer[Any], cluster: SimulatedCluster) -> None:
    async with connected(mcp_server) as client:
        listing = await call(client)
    records = truth(cluster)
    summary = listing["summary"]
    assert summary["total"] == len(records) == BULK
    assert summary["byState"] == by_state(records)
    failed = [r for r in records if r["state"] == "RefreshFailed"]
    assert sum(group["count"] for group in summary["failures"]) == len(failed)
    for group in summary["failures"]:
        members = [r for r in failed if r["reason"] == group["reason"]]
        assert group["count"] == len(members)
        assert set(group["collections"]) <= {r["collectionName"] for r in members}
    counts = by_state(records)
    assert summary["text"].startswith(f"{BULK} refresh jobs in default: {counts['RefreshFailed']} failed")
    assert f"{counts['RefreshPending']} pending, {counts['RefreshCompleted']} completed" in summary["text"]


@pytest.mark.parametrize("limit", [5, 20, 40])
async def test_current_failures_then_running_jobs_come_first_when_the_list_is_cut(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster, limit: int
) -> None:
    records = truth(cluster)
    failed = {str(r["jobId"]) for r in records if r["state"] == "RefreshFailed"}
    running = {str(r["jobId"]) for r in records if r["state"] == "RefreshInProgress"}
    async with connected(mcp_server) as client:
        page = await call(client, limit=limit)
    shown = [job["jobId"] for job in page["jobs"]]
    assert len(shown) == limit
    current = sum(group["notFixed"] for group in page["summary"]["failures"])
    assert 0 < current < len(failed), "the bulk cluster has failures of both kinds"
    head = min(limit, current)
    assert set(shown[:head]) <= failed
    assert not any(job["fixedSince"] for job in page["jobs"][:head])
    if limit > current:
        assert set(shown[head : head + len(running)]) <= running
    assert page["page"]["remaining"] == len(records) - limit


async def test_text_content_lets_a_text_only_host_page_too(mcp_server: MCPServer[Any]) -> None:
    async with connected(mcp_server) as client:
        result = await client.call_tool(TOOL, {"limit": 7})
    listing = result.structured_content
    assert listing is not None
    text = text_of(result)
    assert f'cursor="{listing["page"]["nextCursor"]}"' in text
    for job in listing["jobs"]:
        assert job["jobId"] in text


@pytest.mark.parametrize("version", ["4, no tie", "4, a CRC-32", "5", "6", "7"])
async def test_a_cursor_of_an_earlier_build_says_to_start_again(mcp_server: MCPServer[Any], version: str) -> None:
    """A cursor of version 4 ends at the question's tag, or carries a CRC-32 of the collection; one of version 5
    carries the tie but not the counts; one of version 6, a digest of the counts per state where today's has one of
    the jobs up to it; one of version 7 carries no check of its own. None is misread as today's: each is refused,
    saying what to do."""
    async with connected(mcp_server) as client:
        first = await call(client, limit=5)
        cursor = first["page"]["nextCursor"]
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        assert len(payload) == 8 and payload[0] == 8 and type(payload[5]) is int and isinstance(payload[6], str)
        crc = zlib.crc32(first["jobs"][-1]["collectionName"].encode())
        earlier = {
            "4, no tie": [4, *payload[1:5]],
            "4, a CRC-32": [4, *payload[1:5], crc],
            "5": [5, *payload[1:6]],
            "6": [6, *payload[1:7]],
            "7": [7, *payload[1:7]],
        }[version]
        refused = await client.call_tool(TOOL, {"limit": 5, "cursor": _b64(json.dumps(earlier))})
        now = await call(client, limit=5, cursor=cursor)
    assert refused.is_error
    assert "cursor is from an earlier version of this server" in text_of(refused)
    assert "omit cursor to start again from the first page" in text_of(refused)
    assert now["jobs"] and now["jobs"][0]["jobId"] not in {job["jobId"] for job in first["jobs"]}


async def test_a_page_read_after_jobs_changed_state_says_so(mcp_server: MCPServer[Any], clock: FakeClock) -> None:
    """Each page is read afresh: a job that changed state between two pages may move past the cursor. The digest of
    the jobs up to it that the cursor carries tells: the page says so, and how to start again; pages read from
    unchanged jobs say nothing."""
    async with connected(mcp_server) as client:
        first = await call(client, limit=5)
        steady = await call(client, limit=5, cursor=first["page"]["nextCursor"])
        clock.advance(11 * 60)  # running jobs end, pending ones start
        moved = await call(client, limit=5, cursor=steady["page"]["nextCursor"])
        after = await call(client, limit=5, cursor=moved["page"]["nextCursor"])
    assert moved["summary"]["byState"] != steady["summary"]["byState"]
    note = "The jobs before this page changed since the page before"
    assert note in moved["summary"]["text"] and "omit cursor to start again" in moved["summary"]["text"]
    assert note not in first["summary"]["text"] and note not in steady["summary"]["text"]
    assert note not in after["summary"]["text"]  # its cursor carries the jobs of the page it came from


async def test_a_failure_fixed_between_pages_of_failures_is_told_too(settings: Settings, clock: FakeClock) -> None:
    """Under state=["failed"] the counts stay as they were when a refresh fixes a failure, yet the failure moves
    past the others in the order: the one on the first page would be shown again."""
    cluster = SimulatedCluster(clock=clock)
    for name, ago in (("ext_a", 50), ("ext_b", 60), ("ext_c", 60)):  # ext_a's failure is the latest: first
        cluster.add_job("default", name, started_minutes_ago=ago, duration_minutes=10, fail_at_progress=50)
    cluster.add_job("default", "ext_a", started_minutes_ago=5, duration_minutes=10)  # completes in 5 minutes
    with SimulatorServer(cluster) as simulator:
        server = build_server(settings_for(simulator, rate_limit_per_second=1000), clock=clock)
        async with connected(server) as client:
            first = await call(client, state=["failed"], limit=1)
            clock.advance(6 * 60)  # ext_a's refresh completes: its failure is fixed since
            second = await call(client, state=["failed"], limit=1, cursor=first["page"]["nextCursor"])
    assert [job["collectionName"] for job in first["jobs"]] == ["ext_a"]
    assert second["summary"]["byState"] == first["summary"]["byState"]
    assert "The jobs before this page changed since the page before" in second["summary"]["text"]


def _list_answer(*jobs: tuple[int, str, str]) -> Fault:
    """One list answer of these (job id, collection, state) jobs, each started a minute after the one before."""
    records = [
        {
            "jobId": job_id,
            "collectionName": name,
            "state": state,
            "progress": 100 if state == "RefreshCompleted" else 50,
        }
        | {"startTime": 1_764_000_000_000 + job_id * 60_000, "endTime": 0}
        | ({"endTime": 1_764_000_000_000 + job_id * 60_000 + 30_000} if state == "RefreshCompleted" else {})
        for job_id, name, state in jobs
    ]
    answer = Fault.raw(json.dumps({"code": 0, "data": {"records": records}}))
    answer.route = LIST_ROUTE
    return answer


async def test_a_job_that_moved_past_the_cursor_is_told_even_when_the_counts_per_state_stay_as_they_were(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster
) -> None:
    """Between two pages the running job 3, shown, completes and comes again after the cursor; a new job 4 runs,
    before it, never to be shown; the oldest completed job leaves the history. The counts per state are as they
    were: the page says that the jobs before it changed."""
    running, completed = "RefreshInProgress", "RefreshCompleted"
    history = [(i, f"ext_{i}", completed) for i in range(10, 15)]
    cluster.inject(
        _list_answer((2, "ext_b", running), (3, "ext_c", running), *history),
        _list_answer((2, "ext_b", running), (3, "ext_c", completed), (4, "ext_d", running), *history[1:]),
    )
    async with connected(mcp_server) as client:
        first = await call(client, limit=1)
        second = await call(client, limit=10, cursor=first["page"]["nextCursor"])
    assert [job["jobId"] for job in first["jobs"]] == ["3"]
    assert [job["jobId"] for job in second["jobs"]] == ["2", "14", "13", "12", "11", "3"]  # 3 again, 4 not at all
    assert second["summary"]["byState"] == first["summary"]["byState"]
    assert "The jobs before this page changed since the page before" in second["summary"]["text"]


# --- bad input -------------------------------------------------------------------------------------


def _b64(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%%",
        _b64('{"a": 1}'),
        _b64("[0, 5, 7]"),
        _b64('[0, "yesterday", "449503829274509313"]'),
        _b64("[0, 1"),
        _b64('[3, 99, "", "1", "000000000000"]'),
        _b64('[3, true, "", "1", "000000000000"]'),
        _b64('[3, 0, "", "", "000000000000"]'),
        _b64('[3, 0, 5, "1", "000000000000"]'),
        _b64('[0, "", "1", "000000000000"]'),  # a cursor of version 1 (ordered by start time)
        _b64('[5, 0, "", "1", "000000000000", "ext_books"]'),  # a tie is a number
        _b64('[5, 0, "", "1", "000000000000", 0, 0]'),
        _b64('[5, 0, "", "1", "000000000000"]'),  # this version carries its tie
        _b64('[6, 0, "", "1", "000000000000", 0]'),  # and this one its counts too
        _b64('[6, 0, "", "1", "000000000000", 0, 7]'),  # as text
        _b64('[6.0, 0, "", "1", "000000000000", 0, "0"]'),
        "x" * 3000,
    ],
)
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_bad_cursor_is_a_clear_tool_error_and_the_server_keeps_serving(
    mcp_server: MCPServer[Any], cursor: str, mode: str
) -> None:
    async with connected(mcp_server, mode=mode) as client:
        result = await client.call_tool(TOOL, {"cursor": cursor})
        assert result.is_error
        assert "cursor" in text_of(result)
        listing = await call(client)
    assert listing["summary"]["total"] == BULK


async def test_a_cursor_of_an_earlier_version_says_to_start_again(mcp_server: MCPServer[Any]) -> None:
    """Version 2 put failures fixed since among the current ones: its position means another place now."""
    async with connected(mcp_server) as client:
        result = await client.call_tool(TOOL, {"cursor": _b64('[2, 0, "2026-11-28T10:00:00Z", "1", "0"]')})
    assert result.is_error
    assert "cursor is from an earlier version of this server" in text_of(result)
    assert "omit cursor to start again from the first page" in text_of(result)


async def test_a_cursor_continues_only_the_question_that_gave_it(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster
) -> None:
    """Another state, collection or database with an old cursor would page the wrong list silently: refused."""
    async with connected(mcp_server) as client:
        failed = await call(client, state=["failed"], limit=3)
        cursor = failed["page"]["nextCursor"]
        assert cursor
        sent = len(cluster.requests)
        for other in ({}, {"state": ["running"]}, {"state": ["failed"], "collectionName": "ext_c01"}):
            result = await client.call_tool(TOOL, {**other, "cursor": cursor})
            assert result.is_error, other
            assert "cursor continues a different question" in text_of(result)
        assert len(cluster.requests) == sent  # refused before anything went upstream
        # The same question goes on, in any spelling of its states and with any limit.
        again = await call(client, state=["RefreshFailed", "error"], limit=50, cursor=cursor)
    assert again["jobs"] and not {job["jobId"] for job in again["jobs"]} & {job["jobId"] for job in failed["jobs"]}
    assert all(job["state"] == "RefreshFailed" for job in again["jobs"])


@pytest.mark.parametrize("limit", [0, -1, 201])
async def test_limit_out_of_range_is_a_tool_error(mcp_server: MCPServer[Any], limit: int) -> None:
    async with connected(mcp_server) as client:
        result = await client.call_tool(TOOL, {"limit": limit})
        assert result.is_error
        assert "limit" in text_of(result)
        largest = await call(client, limit=200)  # accepted; 200 jobs of ~0.7 kB are more than an answer carries
        assert "not 200, to keep the answer under 60 kB: get_refresh_job shows" in largest["page"]["hint"]
        assert 50 < largest["page"]["returned"] < 200


# --- estimatedEndAt --------------------------------------------------------------------------------


def expected_end(record: dict[str, Any], now_ms: int) -> int | None:
    """Independent statement of the contract: extrapolate a running job's progress rate; else nothing."""
    start, progress = record.get("startTime") or 0, record.get("progress") or 0
    if record["state"] != "RefreshInProgress" or not 5 <= progress < 100 or not 0 < start < now_ms:
        return None
    end = max(start + (now_ms - start) * 100 // progress, now_ms)
    return math.ceil(end / 1000) * 1000  # shown in whole seconds, never before now


async def test_estimated_end_is_set_exactly_for_running_jobs_with_partial_progress(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster, clock: FakeClock
) -> None:
    async with connected(mcp_server) as client:
        pages = await walk(client, limit=200)
    records = {str(r["jobId"]): r for r in truth(cluster)}
    jobs = [job for page in pages for job in page["jobs"]]
    estimated = 0
    for job in jobs:
        end = expected_end(records[job["jobId"]], clock.now)
        if end is None:
            assert job["estimatedEndAt"] is None, job
        else:
            estimated += 1
            assert job["estimatedEndAt"] is not None, job
            assert ms(job["estimatedEndAt"]) == end
            assert ms(job["estimatedEndAt"]) >= clock.now
    assert estimated > 0
    # The bulk cluster has a job that started just now: running, 0%, no rate to extrapolate yet.
    assert any(j["state"] == "RefreshInProgress" and j["progress"] == 0 for j in jobs)


async def test_estimated_end_is_null_at_the_edges(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster, clock: FakeClock
) -> None:
    now = clock.now
    minute = 60_000
    base = {"collectionName": "ext_edge", "externalSource": ""}
    records = [
        base | {"jobId": 1, "state": "RefreshInProgress", "progress": 50, "startTime": now - 10 * minute, "endTime": 0},
        base | {"jobId": 2, "state": "RefreshInProgress", "progress": 0, "startTime": now - minute, "endTime": 0},
        base | {"jobId": 3, "state": "RefreshInProgress", "progress": 100, "startTime": now - minute, "endTime": 0},
        base | {"jobId": 4, "state": "RefreshInProgress", "progress": 40, "startTime": 0, "endTime": 0},
        base | {"jobId": 5, "state": "RefreshPending", "progress": 0, "startTime": 0, "endTime": 0},
        base
        | {"jobId": 6, "state": "RefreshCompleted", "progress": 100, "startTime": now - 9 * minute, "endTime": now},
        base
        | {
            "jobId": 7,
            "state": "RefreshFailed",
            "progress": 30,
            "startTime": now - 9 * minute,
            "endTime": now,
            "reason": "permission denied",
        },
        base | {"jobId": 8, "state": "RefreshInProgress", "progress": 50, "startTime": now + minute, "endTime": 0},
    ]
    answer = Fault.raw(json.dumps({"code": 0, "data": {"records": records}}))
    answer.route = LIST_ROUTE
    cluster.inject(answer)
    async with connected(mcp_server) as client:
        listing = await call(client)
    estimates = {job["jobId"]: job["estimatedEndAt"] for job in listing["jobs"]}
    assert estimates.pop("1") == datetime.fromtimestamp((now + 10 * minute) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert estimates == dict.fromkeys("2345678")


# --- a 10,000-job cluster: the answer stays small --------------------------------------------------


@pytest.fixture
def big_simulator(clock: FakeClock) -> Iterator[SimulatorServer]:
    with SimulatorServer(bulk_cluster(BIG, clock=clock)) as server:
        yield server


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_ten_thousand_jobs_default_answer_is_under_24_kb(
    big_simulator: SimulatorServer, clock: FakeClock, mode: str
) -> None:
    server = build_server(settings_for(big_simulator, timeout_seconds=30.0), clock=clock)
    async with connected(server, mode=mode) as client:
        result = await client.call_tool(TOOL, {})
    assert not result.is_error, text_of(result)
    size = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
    assert size < WIRE_BUDGET, f"{size} bytes"
    listing = result.structured_content
    assert listing is not None
    assert listing["summary"]["total"] == BIG
    assert listing["summary"]["byState"] == by_state(truth(big_simulator.cluster))
    assert listing["page"]["returned"] == DEFAULT_LIMIT
    assert listing["page"]["remaining"] == BIG - DEFAULT_LIMIT


async def default_answer_within_budget(cluster: SimulatedCluster, clock: FakeClock) -> CallToolResult:
    """list_refresh_jobs with default arguments over ``cluster``, checked to be a result of under 24 kB."""
    with SimulatorServer(cluster) as simulator:
        server = build_server(settings_for(simulator, timeout_seconds=30.0), clock=clock)
        async with connected(server) as client:
            result = await client.call_tool(TOOL, {})
    assert not result.is_error, text_of(result)
    size = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
    assert size < WIRE_BUDGET, f"{size} bytes"
    return result


async def test_ten_thousand_jobs_with_every_failure_its_own_reason_stay_under_24_kb(clock: FakeClock) -> None:
    """Real failure reasons name a file or a shard, so they rarely repeat; the summary must not grow with them."""
    cluster = SimulatedCluster(clock=clock)
    for i in range(BIG):
        failing = i % 10 == 0
        cluster.add_job(
            "default",
            f"ext_tenant_{i:05d}",
            started_minutes_ago=60 + i,
            duration_minutes=10,
            fail_at_progress=50 if failing else None,
            reason=f"failed to read volume://my-volume/tenant_{i:05d}/part-{i % 97:04d}.parquet: permission denied",
        )
    result = await default_answer_within_budget(cluster, clock)
    summary = (result.structured_content or {})["summary"]
    assert summary["byState"]["RefreshFailed"] == BIG // 10
    assert sum(group["count"] for group in summary["failures"]) == BIG // 10, "every failure is still counted"


async def test_ten_thousand_jobs_with_long_names_and_reasons_of_control_characters_stay_under_24_kb(
    clock: FakeClock,
) -> None:
    """Names as long as Milvus allows, and reasons of control characters (a log's colours, a file's bytes), which
    JSON writes in six bytes each: five groups' reasons of 500 characters took 15 kB, and the answer 28 kB."""
    controls = "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\v\f\r")
    kinds = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
    cluster = SimulatedCluster(clock=clock)
    for i in range(BIG):
        cluster.add_job(
            "default",
            f"ext_{i:05d}_".ljust(255, "a"),
            started_minutes_ago=60 + i,
            duration_minutes=10,
            fail_at_progress=40 if i % 10 == 0 else None,
            reason=f"{kinds[i % 7]} failure " + controls * 50,
        )
    result = await default_answer_within_budget(cluster, clock)
    failures = (result.structured_content or {})["summary"]["failures"]
    assert len(failures) == 5 and sum(group["count"] for group in failures) == BIG // 10
    for group in failures[:4]:  # the fifth sums the other reasons
        reason = group["reason"]
        assert len(json.dumps(reason, ensure_ascii=False).encode()) <= REASON_BYTES + 2
        whole = (f"{reason.split()[0]} failure " + controls * 50).strip()  # \x1c-\x1f are blanks to str.strip
        gap = re.search(r" \[\.\.\. (\d+) characters cut; get_refresh_job shows more \.\.\.\] ", reason)
        assert gap is not None, reason
        head, tail = reason[: gap.start()], reason[gap.end() :]
        assert whole.startswith(head) and whole.endswith(tail) and len(head) + int(gap[1]) + len(tail) == len(whole)
    block = text_of(result).split("Why they failed (all 1000 failed jobs, by reason):\n")[1].split("\n- Refresh")[0]
    shown = [line for line in block.splitlines() if re.match(r"- \d+ failed in ", line)]
    left = BIG // 10 - sum(int(line.split()[1]) for line in shown)
    closing = block.splitlines()[-1]
    if any(not re.search(r": \d+ other reasons[,;]", line) for line in shown):  # the left out: of other reasons
        assert closing.startswith(f"- and {left} more failed jobs, of other reasons; ")
    else:  # no reason shown: "other" would have nothing to be other than
        assert closing.startswith(f"- {left} failed jobs of reasons too long to show here; ")


@pytest.mark.parametrize("kind", ["control characters", "bidi marks", "emoji", "CJK"])
async def test_ten_thousand_jobs_whose_newest_failures_are_long_in_bytes_stay_under_24_kb(
    clock: FakeClock, kind: str
) -> None:
    """Lists cut a job's reason, source and spec by the bytes JSON writes them in, not only by characters, and the
    summary shortens names that break the Milvus rule (a character of them may take six bytes): with ten such
    failures first, and collections so named, one job's record alone took 15 kB, and the answer 27 to 43 kB."""
    unit = {"control characters": "\x01", "bidi marks": "\u202e", "emoji": "\U0001f600", "CJK": "\u6570"}[kind]
    cluster = SimulatedCluster(clock=clock)
    odd_names = [f"{unit * 250}_{k}" for k in range(10)]
    for k, name in enumerate(odd_names):
        cluster.add_collection("default", name, source=json.dumps([unit * 1200]))
        cluster.add_job(
            "default",
            name,
            started_minutes_ago=30,
            duration_minutes=10 + k,
            fail_at_progress=40,
            reason=f"kind{k} " + unit * 700,
            spec=unit * 1200,
        )
    for i in range(BIG - len(odd_names)):
        cluster.add_job("default", f"ext_{i % 50}", started_minutes_ago=60 + i, duration_minutes=10)
    result = await default_answer_within_budget(cluster, clock)
    listing = result.structured_content or {}
    assert listing["summary"]["total"] == BIG
    assert 1 <= listing["page"]["returned"] <= DEFAULT_LIMIT
    shown = listing["jobs"][0]
    assert shown["state"] == "RefreshFailed" and shown["collectionName"] in odd_names, "a record names it whole"
    assert "get_refresh_job shows" in shown["reason"] and "get_refresh_job shows all of it" in shown["externalSpec"]


def _words_at_every_bound(now_ms: int) -> list[dict[str, Any]]:
    """10,000 records whose upstream words are each at a bound, and long in bytes: a current failure of a name of
    bidi marks with a reason, source and spec of control and bidi characters; failures with long valid names; four
    reasons of failures fixed since, in collections named in control characters (``refreshedSince`` names them
    again); running jobs with long valid names; six states this server does not know, of bidi marks; an id two
    collections of emoji names share; an unreadable record."""
    minute = 60_000
    records: list[dict[str, Any]] = []

    def job(name: str, state: str, started: int, ended: int | None = None, **fields: Any) -> dict[str, Any]:
        record = {"jobId": 1_000_000 + len(records), "collectionName": name, "state": state, "progress": 40}
        record |= {"startTime": now_ms - started * minute, "endTime": now_ms - ended * minute if ended else 0}
        records.append(record | fields)
        return records[-1]

    def valid(tag: str) -> str:
        return f"{tag}_".ljust(255, "v")

    current = "kind1 " + "\u202e" * 700
    job(
        "\u202e" * 255,
        "RefreshFailed",
        20,
        10,
        reason=current,
        externalSource="\x01" * 1500,
        externalSpec="\x01" * 1500,
    )
    for k in range(3):
        job(valid(f"curr{k}"), "RefreshFailed", 21 + k, 11 + k, reason=current)
    for group in range(2, 6):
        for k in range(5):
            name = "\x01" * 250 + f"_{group}{k}"
            job(
                name, "RefreshFailed", 300 + group * 10 + k, 290 + group * 10 + k, reason=f"kind{group} " + "\x01" * 700
            )
            job(name, "RefreshCompleted", 200, 190, progress=100)
    for k in range(3):
        job(valid(f"run{k}"), "RefreshInProgress", 5 + k, progress=50)
    job(valid("last"), "RefreshCompleted", 3, 1, progress=100)
    for k in range(6):
        job("ext_odd", "\u202e" * 63 + "abcdef"[k], 500, 490)
    for k in range(2):
        job("\U0001f600" * 250 + str(k), "RefreshCompleted", 600, 590)["jobId"] = "shared-" + "x" * 121
    job("ext_bad", "RefreshCompleted", 700, 690)["progress"] = "\U0001f600" * 50
    while len(records) < BIG:
        job(f"ext_{len(records) % 50}", "RefreshCompleted", 1000 + len(records), 990 + len(records), progress=100)
    return records


async def test_ten_thousand_jobs_with_upstream_words_at_every_bound_stay_under_24_kb(clock: FakeClock) -> None:
    """Each part of the summary is bounded in bytes, and a page of one job cuts that job's words shorter: with
    every bound reached at once, the answer took 38 kB (``refreshedSince`` names counted apart from the group's room,
    states of bidi marks named whole, the one job's reason, source and spec as long as a page of ten may have)."""
    cluster = SimulatedCluster(clock=clock)
    answer = json.dumps({"code": 0, "data": {"records": _words_at_every_bound(clock())}})
    cluster.inject(Fault.raw(answer))
    result = await default_answer_within_budget(cluster, clock)
    listing = result.structured_content or {}
    assert listing["summary"]["total"] == BIG - 1 and listing["summary"]["unreadable"] == 1
    assert listing["page"]["returned"] >= 1 and listing["jobs"][0]["collectionName"] == "\u202e" * 255
    assert sum(listing["summary"]["byState"].values()) == BIG - 1


async def _read_response(stream: BufferedByteReceiveStream, request_id: int) -> bytes:
    while True:
        line = await stream.receive_until(b"\n", 16 * 1024 * 1024)
        if json.loads(line).get("id") == request_id:
            return line + b"\n"


@pytest.mark.e2e
@pytest.mark.parametrize("era", ["2025-11-25", "2026-07-28"])
async def test_ten_thousand_jobs_default_answer_is_under_24_kb_on_the_stdio_wire(
    big_simulator: SimulatorServer, era: str
) -> None:
    """The exact bytes the real console script writes for one tools/call, in both protocol eras."""
    env = os.environ | {
        "ZILLIZ_CLUSTER_ENDPOINT": big_simulator.url,
        "ZILLIZ_TOKEN": big_simulator.cluster.token,
        "ZILLIZ_TIMEOUT_SECONDS": "60",
    }
    client_info = {"name": "paging-test", "version": "1"}
    if era == "2026-07-28":
        meta = {
            "io.modelcontextprotocol/protocolVersion": era,
            "io.modelcontextprotocol/clientInfo": client_info,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        opening = [{"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}}]
        params: dict[str, Any] = {"name": TOOL, "arguments": {}, "_meta": meta}
    else:
        init = {"protocolVersion": era, "capabilities": {}, "clientInfo": client_info}
        opening = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
        ]
        params = {"name": TOOL, "arguments": {}}
    call_request = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params}

    with anyio.fail_after(120):
        async with await anyio.open_process(
            [sys.executable, "-m", "zilliz_refresh_mcp"], env=env, stderr=None
        ) as process:
            assert process.stdin is not None and process.stdout is not None
            stdout = BufferedByteReceiveStream(process.stdout)
            await process.stdin.send(json.dumps(opening[0]).encode() + b"\n")
            await _read_response(stdout, 1)
            for message in [*opening[1:], call_request]:
                await process.stdin.send(json.dumps(message).encode() + b"\n")
            wire = await _read_response(stdout, 2)
            await process.stdin.aclose()
            await process.wait()

    response = json.loads(wire)
    assert "error" not in response, response
    result = response["result"]
    assert not result.get("isError"), result
    assert result["structuredContent"]["summary"]["total"] == BIG
    assert len(wire) < WIRE_BUDGET, f"{len(wire)} bytes on the wire"


def stack_trace(i: int) -> str:
    """A failure reason as a Java cluster writes one: ~4 kB."""
    frames = "".join(f"\n\tat io.milvus.external.Reader{n}.read(Reader{n}.java:{100 + n})" for n in range(60))
    return f"java.io.IOException: failed to read part-{i:04d}.parquet: Access Denied (Status Code: 403){frames}"


def wide_spec(columns: int) -> str:
    """A source spec of many columns, as JSON text: ~3.4 kB for 60."""
    return json.dumps(
        {"format": "parquet", "columns": [{"name": f"column_{c:03d}", "type": "Float"} for c in range(columns)]}
    )


@pytest.mark.parametrize(("limit", "budget"), [(None, 24_000), (50, 64_000)])
async def test_jobs_with_long_reasons_and_specs_get_a_shorter_page_not_a_larger_answer(
    clock: FakeClock, limit: int | None, budget: int
) -> None:
    """40 failures carrying stack traces and wide specs: a page holds fewer jobs to stay within the budget, says
    why, and the cursor still reaches every job exactly once."""
    cluster = SimulatedCluster(clock=clock)
    for i in range(40):
        job = cluster.add_job(
            "default",
            f"ext_wide_{i:02d}",
            started_minutes_ago=60 + i,
            duration_minutes=10,
            fail_at_progress=50,
            reason=stack_trace(i),
        )
        job.spec = wide_spec(60)
    arguments = {} if limit is None else {"limit": limit}
    with SimulatorServer(cluster) as simulator:
        async with connected(build_server(settings_for(simulator), clock=clock)) as client:
            first = await client.call_tool(TOOL, arguments)
            pages = await walk(client, **arguments)
    size = len(first.model_dump_json(by_alias=True, exclude_none=True).encode())
    assert size < budget, f"{size} bytes"
    page = pages[0]["page"]
    would = min(limit or DEFAULT_LIMIT, 40)  # what the page would have held
    assert 1 <= page["returned"] < would and page["remaining"] == 40 - page["returned"]
    kept = f"to keep the answer under {20 if limit is None else 60} kB"  # a page of 10 jobs, or of more
    assert f"this page holds {page['returned']}, not {would}, {kept}" in page["hint"]
    listed = [job["jobId"] for listing in pages for job in listing["jobs"]]
    assert sorted(listed) == sorted(ids(truth(cluster))) and len(set(listed)) == 40


async def test_jobs_that_change_after_the_cursor_leave_the_next_page_whole_and_it_says_nothing(
    mcp_server: MCPServer[Any], cluster: SimulatedCluster
) -> None:
    """A new completed job and another that ended, both after the cursor: the counts changed, but no job up to the
    cursor did, so the next page holds exactly the jobs not yet shown, and no warning is due."""
    running, completed = "RefreshInProgress", "RefreshCompleted"
    cluster.inject(
        _list_answer((3, "ext_c", running), (2, "ext_b", running), (10, "ext_10", completed)),
        _list_answer(
            (3, "ext_c", running), (2, "ext_b", completed), (10, "ext_10", completed), (20, "ext_20", completed)
        ),
    )
    async with connected(mcp_server) as client:
        first = await call(client, limit=1)
        second = await call(client, limit=10, cursor=first["page"]["nextCursor"])
    assert [job["jobId"] for job in first["jobs"]] == ["3"]
    assert [job["jobId"] for job in second["jobs"]] == ["20", "10", "2"]
    assert second["summary"]["byState"] != first["summary"]["byState"]
    assert "changed since the page before" not in second["summary"]["text"]
