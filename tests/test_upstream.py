"""The REST client on its own, against the simulator on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from functools import partial

import anyio
import anyio.abc
import httpx2
import pytest

from zilliz_refresh_mcp import upstream
from zilliz_refresh_mcp.errors import UpstreamAPIError, UpstreamBadResponse, UpstreamHTTPError
from zilliz_refresh_mcp.redaction import redact_json
from zilliz_refresh_mcp.simulator import Fault, SimulatedCluster, SimulatorServer
from zilliz_refresh_mcp.upstream import LIST_ROUTE, ZillizClient

from .conftest import half_answering_upstream, only_https_proxy

pytestmark = pytest.mark.anyio


async def test_a_cancelled_caller_leaves_the_shared_call_to_the_others(
    simulator: SimulatorServer, cluster: SimulatedCluster
) -> None:
    release = threading.Event()
    cluster.inject(Fault.hold(release, route=LIST_ROUTE))
    answers: list[int] = []
    leader_scope = anyio.CancelScope()
    leading, joined, leader_gone = anyio.Event(), anyio.Event(), anyio.Event()

    async with ZillizClient(endpoint=simulator.url, token=cluster.token) as client:

        async def lead() -> None:
            with leader_scope:
                leading.set()  # the call below registers before this task next yields
                await client.list_jobs("default")
            leader_gone.set()

        async def follow() -> None:
            joined.set()
            answers.append(len(await client.list_jobs("default")))

        async with anyio.create_task_group() as tg:
            tg.start_soon(lead)
            await leading.wait()
            tg.start_soon(follow)
            await joined.wait()
            leader_scope.cancel()  # the first caller gives up while upstream still holds the request
            await leader_gone.wait()
            release.set()
    assert leader_scope.cancelled_caught
    assert answers == [len(cluster.records("default"))]
    assert len([r for r in cluster.requests if r.route == LIST_ROUTE]) == 1


@pytest.mark.parametrize(("first_answer_seconds", "requests"), [(0.0, 2), (1.2, 1)])
async def test_the_retry_budget_counts_from_the_first_attempt(
    simulator: SimulatorServer, cluster: SimulatedCluster, first_answer_seconds: float, requests: int
) -> None:
    """A 503 answered at once is retried; one answered after the 1 s budget is not: no retry starts past it."""
    cluster.inject(Fault(status=503, body=b"busy", delay_seconds=first_answer_seconds))
    async with ZillizClient(
        endpoint=simulator.url, token=cluster.token, retry_budget_seconds=1.0, max_backoff_seconds=0.05
    ) as client:
        if requests == 1:
            with pytest.raises(UpstreamHTTPError) as caught:
                await client.list_jobs("default")
            assert caught.value.status == 503 and caught.value.attempts == 1
        else:
            assert len(await client.list_jobs("default")) == len(cluster.records("default"))
    assert len([r for r in cluster.requests if r.route == LIST_ROUTE]) == requests


@pytest.mark.parametrize(
    "value",
    [
        "inf",
        "1e400",
        "nan",
        "Mon, 01 Jan 2035 00:00:00 +99999999999999999999",  # a date whose zone overflows
        "Mon, 01 Jan 99999999999 00:00:00 GMT",
    ],
)
async def test_a_non_finite_retry_after_is_ignored_not_a_crash(
    simulator: SimulatorServer, cluster: SimulatedCluster, value: str
) -> None:
    cluster.inject(Fault.http(503, "<html>busy</html>", **{"Retry-After": value}))
    async with ZillizClient(endpoint=simulator.url, token=cluster.token, max_backoff_seconds=0.05) as client:
        records = await client.list_jobs("default")  # retried with the ordinary backoff, then answered
    assert len(records) == len(cluster.records("default"))
    assert len([r for r in cluster.requests if r.route == LIST_ROUTE]) == 2


async def test_a_rate_below_one_request_a_second_spaces_the_requests_instead_of_failing_them(
    simulator: SimulatorServer, cluster: SimulatedCluster
) -> None:
    """ZILLIZ_RATE_LIMIT_PER_SECOND=0.5: one request every 2 s (a bucket under one request never granted any)."""
    async with ZillizClient(endpoint=simulator.url, token=cluster.token, rate_limit_per_second=0.5) as client:
        started = anyio.current_time()
        first = await client.list_jobs("default")
        second = await client.list_jobs("analytics")  # another question: its own request, after the first
        waited = anyio.current_time() - started
    assert len(first) == len(cluster.records("default")) and len(second) == len(cluster.records("analytics"))
    assert waited >= 1.5  # the second request waited for its turn


async def test_an_answer_that_breaks_off_is_told_as_such_not_as_an_unreachable_cluster() -> None:
    """A raw server on 127.0.0.1 that promises 100 bytes, sends 9 and closes: retried, then reported for what it is."""
    async with (
        half_answering_upstream() as upstream,
        ZillizClient(endpoint=upstream.url, token="k" * 20, max_backoff_seconds=0.05) as client,
    ):
        with pytest.raises(UpstreamBadResponse) as caught:
            await client.list_jobs("default")
    message = str(caught.value)
    assert "broke off or was not valid HTTP" in message and "Could not reach" not in message
    assert caught.value.transient and upstream.answered == 4  # retried as a passing fault


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (200, {"code": 1100, "message": "job 42 does not exist"}, "job 42 does not exist"),  # a body code
        (500, {"code": 1100, "message": "refresh already running: TOKEN"}, "refresh already running: ***"),
        (200, {"code": 65535, "message": ""}, None),  # no words of its own
        (500, "<html>busy</html>", None),
    ],
)
async def test_an_error_keeps_the_clusters_own_words_apart_redacted(
    simulator: SimulatorServer, cluster: SimulatedCluster, status: int, body: object, words: str | None
) -> None:
    """What the cluster said is read from ``upstream_message``, not picked out of our sentence around it."""
    text = body if isinstance(body, str) else json.dumps(body).replace("TOKEN", cluster.token)
    cluster.inject(Fault.raw(text, status=status))
    async with ZillizClient(endpoint=simulator.url, token=cluster.token, max_attempts=1) as client:
        with pytest.raises((UpstreamAPIError, UpstreamHTTPError)) as caught:
            await client.describe_job(42)
    assert caught.value.upstream_message == words
    assert cluster.token not in caught.value.detail


@pytest.mark.parametrize("endpoint", ["https://C.Example.com/milvus", "https://c.example.com:8443/milvus/"])
async def test_a_redirect_to_the_endpoint_itself_in_another_spelling_points_to_the_proxy(endpoint: str) -> None:
    """A host in capitals, a trailing slash: the same URL, so setting the endpoint to it would change nothing."""
    async with ZillizClient(endpoint=endpoint, token="k" * 20) as client:
        request = httpx2.Request("POST", endpoint.rstrip("/") + LIST_ROUTE)
        location = endpoint.lower().rstrip("/") + LIST_ROUTE
        response = httpx2.Response(302, headers={"location": location}, request=request)
        error = client._status_error(LIST_ROUTE, {}, response, b"")
    assert error.hint is not None and "the URL it was asked; check the proxy or gateway before it" in error.hint


@pytest.mark.parametrize(
    "page",
    [
        b"<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head><body>nginx</body></html>",
        b"Client sent an HTTP request to an HTTPS server.\n",  # Go's net/http: Milvus's own REST server
    ],
    ids=["nginx", "go"],
)
async def test_a_tls_port_that_refuses_plain_http_is_told_to_use_https(page: bytes) -> None:
    async with ZillizClient(endpoint="http://10.0.0.5:19530", token="k" * 20) as client:
        request = httpx2.Request("POST", "http://10.0.0.5:19530" + LIST_ROUTE)
        error = client._status_error(LIST_ROUTE, {}, httpx2.Response(400, request=request), page)
    assert "the port expects TLS, and the request came in plain HTTP" in str(error)
    assert error.hint == "Use https:// for this endpoint in ZILLIZ_CLUSTER_ENDPOINT, or check the port."
    assert not error.transient


async def test_a_pool_with_every_connection_busy_is_not_told_as_a_network_fault() -> None:
    """Our own requests hold every connection (a hanging cluster): the endpoint and the network are fine."""
    async with ZillizClient(endpoint="https://c.example.com", token="k" * 20) as client:
        error = client._unreachable(LIST_ROUTE, httpx2.PoolTimeout("no connection free"), sent=False)
    assert "all 16 connections to it are busy" in str(error) and error.hint and "may be hanging" in error.hint
    assert error.transient and "network" not in error.detail


async def test_a_caller_that_gives_up_while_its_answer_is_cleaned_apart_goes_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wait's read (its own, with a deadline: not shared) does not outlast the wait by the seconds of cleaning
    that no one will read."""
    cleaning, done = threading.Event(), threading.Event()

    def endless(value: object, secret: str) -> object:
        cleaning.set()
        done.wait(30)  # until the test has seen the caller go
        return redact_json(value, secret)

    monkeypatch.setattr(upstream, "redact_json", endless)
    monkeypatch.setattr(upstream, "CLEANED_APART_BYTES", 0)  # this small answer is cleaned apart too
    cluster = SimulatedCluster()
    job = cluster.add_job(
        "default", "ext_a", started_minutes_ago=30, duration_minutes=10, fail_at_progress=50, reason=cluster.token
    )
    try:
        with SimulatorServer(cluster) as simulator:
            async with ZillizClient(endpoint=simulator.url, token=cluster.token) as client:
                with anyio.fail_after(10):  # without abandoning the thread: until ``done``, 30 s
                    with anyio.CancelScope() as scope:
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(partial(client.describe_job, job.job_id, deadline=anyio.current_time() + 9))
                            assert await anyio.to_thread.run_sync(cleaning.wait, 5)
                            scope.cancel()
        assert scope.cancelled_caught
    finally:
        done.set()


@pytest.mark.parametrize("failures", [3, 3000])
async def test_a_large_answer_that_spells_the_token_is_cleaned_off_the_event_loop(
    failures: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cleaning tens of MB that echo the token takes seconds: in the event loop's thread, no other call would be
    answered meanwhile. A small answer is cleaned where it is (a thread costs more than the cleaning)."""
    cleaned_in: list[int] = []

    def recording(value: object, secret: str) -> object:
        cleaned_in.append(threading.get_ident())
        return redact_json(value, secret)

    monkeypatch.setattr(upstream, "redact_json", recording)
    cluster = SimulatedCluster()
    for at in range(failures):
        cluster.add_job(
            "default",
            f"ext_{at % 7}",
            started_minutes_ago=30,
            duration_minutes=10,
            fail_at_progress=50,
            reason=f"denied for Bearer {cluster.token} " + "x" * 300,
        )
    with SimulatorServer(cluster) as simulator:
        async with ZillizClient(endpoint=simulator.url, token=cluster.token) as client:
            records = await client.list_jobs("default")
    assert len(records) == failures and all(cluster.token not in json.dumps(record) for record in records)
    apart = failures * 400 > upstream.CLEANED_APART_BYTES
    assert cleaned_in and (cleaned_in[0] != threading.get_ident()) is apart


@pytest.mark.parametrize(
    ("proxy", "no_proxy", "asked_over_tls"),
    [
        ("https://proxy.internal:3129", "", True),
        ("http://proxy.internal:3128", "", False),
        ("https://p:1", "zillizcloud.com", False),
    ],
)
def test_only_a_proxy_asked_over_tls_may_be_what_met_the_handshake(
    monkeypatch: pytest.MonkeyPatch, proxy: str, no_proxy: str, asked_over_tls: bool
) -> None:
    """From a review: through a plain CONNECT proxy (http://), a handshake that met plain HTTP met the cluster's port;
    the proxy was blamed, and the user told to write it http://, as it already was."""
    only_https_proxy(monkeypatch, proxy, no_proxy=no_proxy)
    assert upstream._proxied("https://in03-abc.api.gcp-us-west1.zillizcloud.com") is asked_over_tls
