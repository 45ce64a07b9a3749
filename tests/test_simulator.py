"""The simulator's cached list answers are always what rendering every record afresh would say."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zilliz_refresh_mcp.simulator import SimulatedCluster, SimulatorServer
from zilliz_refresh_mcp.upstream import LIST_ROUTE, REFRESH_ROUTE

from .conftest import FakeClock

START_MS = 1_764_300_000_000

JOB = st.fixed_dictionaries(
    {
        "collection": st.sampled_from(["ext_a", "ext_b", "ext_c"]),
        "started_minutes_ago": st.floats(min_value=-5, max_value=30, allow_nan=False),
        "duration_minutes": st.floats(min_value=0.001, max_value=20, allow_nan=False),
        "fail_at_progress": st.none() | st.integers(min_value=0, max_value=120),
        "stall_at_progress": st.none() | st.integers(min_value=0, max_value=120),
    }
)


def fresh(cluster: SimulatedCluster, collection: str | None) -> list[dict[str, object]]:
    return cluster.records("default", collection)


def served(cluster: SimulatedCluster, collection: str | None) -> list[dict[str, object]]:
    answer = json.loads(cluster._list_body("default", collection))
    assert answer["code"] == 0
    records: list[dict[str, object]] = answer["data"]["records"]
    return records


@settings(max_examples=60, deadline=None)
@given(
    st.lists(JOB, min_size=1, max_size=12),
    st.lists(st.integers(min_value=0, max_value=400_000), min_size=1, max_size=25),
    st.data(),
)
def test_cached_list_answers_follow_the_clock_and_new_jobs(
    jobs: list[dict[str, object]], steps_ms: list[int], data: st.DataObject
) -> None:
    clock = FakeClock(START_MS)
    cluster = SimulatedCluster(clock=clock)
    for name in ("ext_a", "ext_b", "ext_c"):
        cluster.add_collection("default", name)
    for spec in jobs:
        cluster.add_job(
            "default",
            str(spec["collection"]),
            started_minutes_ago=float(spec["started_minutes_ago"]),  # type: ignore[arg-type]
            duration_minutes=float(spec["duration_minutes"]),  # type: ignore[arg-type]
            fail_at_progress=spec["fail_at_progress"],  # type: ignore[arg-type]
            stall_at_progress=spec["stall_at_progress"],  # type: ignore[arg-type]
        )
    for step in steps_ms:
        clock.now += step
        collection = data.draw(st.sampled_from([None, "ext_a", "ext_b"]))
        assert served(cluster, collection) == fresh(cluster, collection)
        assert served(cluster, collection) == fresh(cluster, collection)  # the same moment, served from cache
        if data.draw(st.booleans()):
            cluster.start_refresh("default", "ext_a")
            assert served(cluster, "ext_a") == fresh(cluster, "ext_a")


def test_a_stalled_job_runs_on_at_its_progress_for_ever() -> None:
    clock = FakeClock(START_MS)
    cluster = SimulatedCluster(clock=clock)
    cluster.add_job("default", "ext_a", started_minutes_ago=0, duration_minutes=10, stall_at_progress=40)
    seen = []
    for _ in range(5):
        clock.now += 10 * 60_000  # a whole planned run each time
        [record] = served(cluster, None)
        assert record == fresh(cluster, None)[0]
        seen.append((record["state"], record["progress"], record["endTime"]))
    assert seen == [("RefreshInProgress", 40, 0)] * 5


def test_a_job_is_seen_moving_at_every_percent() -> None:
    """Edges: the answer changes exactly when progress does, never later."""
    clock = FakeClock(START_MS)
    cluster = SimulatedCluster(clock=clock)
    cluster.add_job("default", "ext_a", started_minutes_ago=0, duration_minutes=1)  # 600 ms per percent
    seen: list[object] = []
    for _ in range(61_000 // 50):
        seen.append(served(cluster, None)[0]["progress"])
        assert served(cluster, None) == fresh(cluster, None)
        clock.now += 50
    assert set(seen) == set(range(101))


def test_the_simulator_answers_as_the_documented_api_does() -> None:
    """upstream-api.md: `reason` only when non-empty; a wrongly typed field is code 1801; externalSource and
    externalSpec go together or not at all."""
    clock = FakeClock(START_MS)
    cluster = SimulatedCluster(clock=clock)
    cluster.add_collection("default", "ext_a")
    cluster.add_job("default", "ext_a", started_minutes_ago=10, duration_minutes=5, fail_at_progress=50)
    cluster.add_job("default", "ext_a", started_minutes_ago=10, duration_minutes=5, fail_at_progress=50, reason="x")
    with SimulatorServer(cluster) as simulator, httpx2.Client(base_url=simulator.url) as http:

        def post(route: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = http.post(route, json=body, headers={"Authorization": f"Bearer {cluster.token}"})
            assert answer.status_code == 200
            parsed: dict[str, Any] = answer.json()
            return parsed

        records = post(LIST_ROUTE, {"dbName": "default"})["data"]["records"]
        assert [record["state"] for record in records] == ["RefreshFailed", "RefreshFailed"]
        assert ["reason" in record for record in records] == [False, True]
        assert post(LIST_ROUTE, {"dbName": 5})["code"] == 1801
        assert post(LIST_ROUTE, {"dbName": "default", "collectionName": 7})["code"] == 1801
        half = {"dbName": "default", "collectionName": "ext_a", "externalSource": "{}"}
        assert post(REFRESH_ROUTE, half)["code"] == 1100
        assert post(REFRESH_ROUTE, half | {"externalSpec": "{}"})["code"] == 0


@pytest.mark.parametrize("kept", [0, 10])
def test_a_cluster_that_keeps_the_latest_requests_stays_bounded(kept: int) -> None:
    """--demo keeps the cluster in the server's process for as long as the host runs: its request log is capped."""
    cluster = SimulatedCluster(keep_requests=kept)
    with SimulatorServer(cluster) as simulator, httpx2.Client(base_url=simulator.url) as http:
        for index in range(50):
            http.post(LIST_ROUTE, json={"dbName": f"db{index}"}, headers={"Authorization": f"Bearer {cluster.token}"})
    assert kept <= len(cluster.requests) <= 2 * kept
    if kept:
        assert cluster.requests[-1].body == {"dbName": "db49"}  # the latest are the ones kept
