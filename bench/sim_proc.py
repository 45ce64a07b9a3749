"""A simulated cluster in its own process (so it does not share the benchmark's GIL).

``python bench/sim_proc.py 4`` serves one job in each state; ``python bench/sim_proc.py 10000`` serves
``bulk_cluster(10000)``. Prints ``{"url": ..., "token": ...}`` on stdout, serves until stdin closes.
"""

from __future__ import annotations

import json
import sys

from zilliz_refresh_mcp.simulator import SimulatedCluster, SimulatorServer, bulk_cluster


def four_jobs() -> SimulatedCluster:
    cluster = SimulatedCluster()
    cluster.add_job("default", "ext_books", started_minutes_ago=120, duration_minutes=10)
    cluster.add_job(
        "default",
        "ext_music",
        started_minutes_ago=60,
        duration_minutes=30,
        fail_at_progress=37,
        reason="failed to read volume://my-volume/music/part-0007.parquet: permission denied",
    )
    cluster.add_job("default", "ext_movies", started_minutes_ago=12.6, duration_minutes=30)
    cluster.add_job("default", "ext_news", started_minutes_ago=-3, duration_minutes=4)
    return cluster


def main() -> None:
    count = int(sys.argv[1])
    cluster = four_jobs() if count == 4 else bulk_cluster(count)
    server = SimulatorServer(cluster)
    with server:
        print(json.dumps({"url": server.url, "token": cluster.token}), flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin


if __name__ == "__main__":
    main()
