"""Tests of planner.distributed on a real local Dask cluster (2 worker processes, 127.0.0.1).

Results computed on the cluster must equal the in-process results bit for
bit, also when a worker is killed in the middle of a run (its block is
computed again elsewhere). The in-process executor must not import Dask.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import snapped_near_nodes

from planner.distributed import DaskExecutor, InProcessExecutor, make_executor
from planner.errors import ParameterError
from planner.network import matrix as matrix_mod
from planner.network.matrix import compute_matrix, compute_nearest
from planner.network.road_network import RoadNetwork
from planner.network.snapping import SnappedPoints
from planner.network.travel_times import TravelTimeGraph, build_travel_time_graph, point_times

distributed = pytest.importorskip("distributed")

CUTOFF_S = 900.0


@pytest.fixture(scope="module")
def ttg(andorra_net: RoadNetwork) -> TravelTimeGraph:
    return build_travel_time_graph(andorra_net.graph)


@pytest.fixture(scope="module")
def stations(andorra_net: RoadNetwork) -> SnappedPoints:
    return snapped_near_nodes(andorra_net.graph, 60, seed=11)


@pytest.fixture(scope="module")
def demand(andorra_net: RoadNetwork) -> SnappedPoints:
    return snapped_near_nodes(andorra_net.graph, 400, seed=12)


def test_cluster_is_two_processes_on_loopback(cluster: DaskExecutor) -> None:
    workers = cluster.client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in workers)
    assert cluster.client.scheduler.address.startswith("tcp://127.0.0.1:")
    pids = cluster.client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    assert cluster.concurrency == 2


def test_cluster_equals_in_process(
    cluster: DaskExecutor, ttg: TravelTimeGraph, stations: SnappedPoints, demand: SnappedPoints
) -> None:
    local = compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=7)
    remote = compute_matrix(
        ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=7, executor=cluster
    )
    assert remote.computed_blocks == tuple(range(9))
    assert remote.same_times(local)
    dense = point_times(ttg, stations, destinations=demand, cutoff_s=CUTOFF_S)
    np.testing.assert_array_equal(remote.to_dense(), dense)
    for a, b in zip(remote.nearest(), local.nearest(), strict=True):
        np.testing.assert_array_equal(a, b)
    near = compute_nearest(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=3, executor=cluster)
    for a, b in zip((near.times, near.origin), local.nearest(), strict=True):
        np.testing.assert_array_equal(a, b)
    # node origins to every node, no cutoff
    ids = np.random.default_rng(3).choice(ttg.node_ids, size=40, replace=False)
    local_n = compute_matrix(ttg, ids, None, cutoff_s=None, block_size=16)
    remote_n = compute_matrix(ttg, ids, None, cutoff_s=None, block_size=16, executor=cluster)
    assert remote_n.same_times(local_n)


def test_existing_cluster_by_address(
    cluster: DaskExecutor, ttg: TravelTimeGraph, stations: SnappedPoints, tmp_path: Path
) -> None:
    address = cluster.client.scheduler.address
    with make_executor(scheduler=address) as ex:
        assert isinstance(ex, DaskExecutor) and ex.cluster is None
        got = compute_matrix(
            ttg, stations, stations, cutoff_s=CUTOFF_S, block_size=20, executor=ex, store=tmp_path
        )
    # the cluster is still running after that executor was closed
    assert len(cluster.client.scheduler_info()["workers"]) == 2
    # blocks stored by the cluster run are reused in process
    again = compute_matrix(
        ttg, stations, stations, cutoff_s=CUTOFF_S, block_size=20, store=tmp_path
    )
    assert again.computed_blocks == () and again.same_times(got)


class _Stop(Exception):
    pass


def test_interrupted_cluster_run_resumes_in_process(
    cluster: DaskExecutor, ttg: TravelTimeGraph, stations: SnappedPoints, tmp_path: Path
) -> None:
    seen: list[int] = []

    def stop_after_3(index: int) -> None:
        seen.append(index)
        if len(seen) == 3:
            raise _Stop

    with pytest.raises(_Stop):
        compute_matrix(
            ttg,
            stations,
            stations,
            cutoff_s=CUTOFF_S,
            block_size=5,
            executor=cluster,
            store=tmp_path,
            on_block=stop_after_3,
        )
    assert sorted(int(p.stem.split("-")[1]) for p in tmp_path.glob("block-*.npz")) == sorted(seen)
    resumed = compute_matrix(
        ttg, stations, stations, cutoff_s=CUTOFF_S, block_size=5, store=tmp_path
    )
    assert resumed.loaded_blocks == tuple(sorted(seen))
    assert resumed.computed_blocks == tuple(b for b in range(12) if b not in seen)
    assert resumed.same_times(
        compute_matrix(ttg, stations, stations, cutoff_s=CUTOFF_S, block_size=5)
    )
    # the cancelled blocks leave nothing running on the cluster (cancelling is asynchronous)
    deadline = time.monotonic() + 10
    while any(cluster.client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(cluster.client.processing().values())


def test_block_errors_are_raised(cluster: DaskExecutor) -> None:
    with pytest.raises(ZeroDivisionError):
        list(cluster.map_blocks(_divide, 1, [(0, 1), (1, 0), (2, 2)]))
    assert sorted(cluster.map_blocks(_divide, 6, [(0, 1), (1, 2), (2, 3)])) == [
        (0, 6.0),
        (1, 3.0),
        (2, 2.0),
    ]


def _divide(shared: int, task: int) -> float:
    return shared / task


def test_killed_worker_costs_only_its_block(
    cluster: DaskExecutor,
    ttg: TravelTimeGraph,
    stations: SnappedPoints,
    demand: SnappedPoints,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=4)
    client = cluster.client
    pids = client.run(os.getpid)
    # slow blocks (test hook): 15 blocks of 0.4 s on 2 workers, ~3 s
    monkeypatch.setattr(matrix_mod, "_BLOCK_DELAY_S", 0.4)
    killed: dict[str, list[str]] = {}
    finished: list[int] = []

    def kill_a_busy_worker(index: int) -> None:
        finished.append(index)
        if killed:
            return
        busy = {w: keys for w, keys in client.processing().items() if keys}
        if not busy:
            return
        worker, keys = sorted(busy.items())[0]
        killed[worker] = [str(k) for k in keys]
        os.kill(pids[worker], signal.SIGKILL)

    got = compute_matrix(
        ttg,
        stations,
        demand,
        cutoff_s=CUTOFF_S,
        block_size=4,
        executor=cluster,
        on_block=kill_a_busy_worker,
    )
    assert killed, "no worker was busy to kill"
    [(worker, keys)] = killed.items()
    assert keys  # it was running a block when it died ...
    lost = {int(k.split("-")[3]) for k in keys}
    assert lost <= set(got.computed_blocks)  # ... which was computed again elsewhere
    assert sorted(finished) == list(range(15))  # every block exactly once
    assert got.same_times(expected)
    # the nanny starts a replacement worker; the cluster is usable again
    client.wait_for_workers(2, timeout=60)
    assert worker not in client.scheduler_info()["workers"]


def test_in_process_needs_no_dask() -> None:
    code = (
        "import sys\n"
        "from planner.distributed import make_executor\n"
        "from planner.network.matrix import compute_matrix\n"
        "ex = make_executor()\n"
        "assert type(ex).__name__ == 'InProcessExecutor'\n"
        "assert not any(m == 'dask' or m.startswith(('dask.', 'distributed'))"
        " for m in sys.modules), 'dask imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_make_executor_arguments() -> None:
    assert isinstance(make_executor(), InProcessExecutor)
    with pytest.raises(ParameterError, match="give one of them, not both"):
        make_executor(scheduler="tcp://127.0.0.1:1", workers=2)
    with pytest.raises(ParameterError, match="workers = 0"):
        make_executor(workers=0)
    with pytest.raises(ParameterError, match="scheduler = 'localhost'"):
        make_executor(scheduler="localhost")
    with pytest.raises(ParameterError, match="retries = -1"):
        make_executor(retries=-1)
