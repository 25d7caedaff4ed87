"""Caches that cannot run code: planted, foreign and damaged entries are rebuilt, never used.

Every test builds real networks (Andorra, Södermalm) or real travel-time
blocks and plants into the cache what an attacker or an accident would leave
there: a crafted pickle that creates a marker file when unpickled (under the
names the old pickle cache and the new format look at), the entry of another
network under Andorra's key, and truncated or altered files. The results are
compared with a fresh build without a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import snapped_near_nodes

from planner import cache as _cache
from planner.errors import CacheWarning, UnsafeCacheError
from planner.network.graph_files import load_graph, save_graph
from planner.network.matrix import compute_matrix
from planner.network.road_network import RoadNetwork, build_network
from planner.network.travel_times import build_travel_time_graph, point_times
from planner.run.cli import main

ROOT = Path(__file__).resolve().parents[1]
ENTRY_FILES = (
    "components.parquet",
    "edges.parquet",
    "entry.json",
    "graph.json",
    "network.json",
    "nodes.parquet",
)


class Payload:
    """Unpickling this runs code: it writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        code = f"with open({str(self.marker)!r}, 'w') as f: f.write('planted code ran')"
        return (exec, (code,))


def crafted_pickle(marker: Path) -> bytes:
    """A pickle that creates ``marker`` when loaded (checked on a probe first)."""
    probe = marker.with_name(marker.name + ".probe")
    payload = pickle.dumps(Payload(probe))
    pickle.loads(payload)  # proves the payload really runs code
    assert probe.read_text() == "planted code ran"
    probe.unlink()
    return pickle.dumps(Payload(marker))


def assert_identical(a: RoadNetwork, b: RoadNetwork) -> None:
    """Same nodes, edges and attributes in the same order, with the same types and values."""
    assert list(a.graph.nodes) == list(b.graph.nodes)
    for (_, da), (_, db) in zip(a.graph.nodes(data=True), b.graph.nodes(data=True), strict=True):
        assert da == db
        assert [type(v) for v in da.values()] == [type(db[k]) for k in da]
    ea = list(a.graph.edges(keys=True, data=True))
    eb = list(b.graph.edges(keys=True, data=True))
    assert [e[:3] for e in ea] == [e[:3] for e in eb]
    for (*_, da), (*_, db) in zip(ea, eb, strict=True):
        assert da.keys() == db.keys()
        for name, value in da.items():
            other = db[name]
            assert type(value) is type(other), name
            if isinstance(value, shapely.Geometry):
                assert shapely.equals_exact(value, other, tolerance=0.0)
            elif isinstance(value, float) and np.isnan(value):
                assert np.isnan(other)
            else:
                assert value == other, name
    assert a.graph.graph == b.graph.graph
    pd.testing.assert_frame_equal(a.components, b.components)
    for f in fields(RoadNetwork):
        if f.name not in ("graph", "components", "from_cache"):
            assert getattr(a, f.name) == getattr(b, f.name), f.name


def drive_times(net: RoadNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Node order and drive times (s) from 25 seeded points snapped to the network."""
    ttg = build_travel_time_graph(net.graph)
    return ttg.node_ids, point_times(ttg, snapped_near_nodes(net.graph, 25, seed=11))


def assert_same_drive_times(a: RoadNetwork, b: RoadNetwork) -> None:
    ids_a, times_a = drive_times(a)
    ids_b, times_b = drive_times(b)
    np.testing.assert_array_equal(ids_a, ids_b)
    assert times_a.shape == (25, a.graph.number_of_nodes())
    assert np.isfinite(times_a).mean() > 0.9
    assert np.array_equal(times_a, times_b)  # exactly, inf where unreachable


# ---------------------------------------------------------------------------
# The format: no pickle, and a cached network equals a fresh one exactly
# ---------------------------------------------------------------------------


def test_cached_network_equals_a_fresh_build(
    andorra_pbf: Path, andorra_net: RoadNetwork, tmp_path: Path
) -> None:
    stored = build_network(andorra_pbf, cache_dir=tmp_path)
    loaded = build_network(andorra_pbf, cache_dir=tmp_path)
    assert (stored.from_cache, loaded.from_cache) == (False, True)
    assert_identical(loaded, andorra_net)
    assert_identical(stored, andorra_net)
    assert_same_drive_times(loaded, andorra_net)
    # the entry is Parquet and JSON, with the key and every file's digest; no pickle
    entry = tmp_path / "networks" / andorra_net.cache_key
    assert sorted(p.name for p in entry.iterdir()) == list(ENTRY_FILES)
    doc = json.loads((entry / "entry.json").read_text())
    assert doc["key"] == andorra_net.cache_key and doc["kind"] == "networks"
    for name in ENTRY_FILES:
        data = (entry / name).read_bytes()
        assert not data.startswith(b"\x80")  # pickle protocols 2-5 start so
        if name != "entry.json":
            assert doc["files"][name]["sha256"] == hashlib.sha256(data).hexdigest()
        assert data[:4] == b"PAR1" if name.endswith(".parquet") else json.loads(data)
    # edges without merged geometry stay without it, and edges with OSMnx lists keep them
    edges = list(loaded.graph.edges(data=True))
    assert any("geometry" not in d for *_, d in edges)
    assert any(isinstance(d["osmid"], list) for *_, d in edges)


def test_graph_files_keep_every_value_and_type(tmp_path: Path) -> None:
    """Odd attributes as OSMnx and users leave them: each comes back equal, of its type."""
    g = nx.MultiDiGraph(crs="EPSG:3006", simplified=True, note=[1, "a"])
    g.add_node(10, x=1.0, tag=None, mixed=3)
    g.add_node(2, x=float("nan"), mixed="three", big=2**70, neg=-(2**63))
    g.add_node(-3, x=-0.0, mixed=[1, [2, "b"]], flag=True)
    line = shapely.LineString([(0.1, 0.2), (1e6 + 1 / 3, -7e-9)])
    g.add_edge(10, 2, key=0, geometry=line, osmid=[5, 6], w=4, name="=x")
    g.add_edge(10, 2, key=7, geometry=None, osmid=5, w=-1, reversed=[True, False])
    g.add_edge(2, -3, key=0, oneway=False, length=0.1 + 0.2, speed=float("inf"))
    g.add_edge(-3, -3, key=3)  # a loop without attributes
    key = "f" * 64
    save_graph(g, tmp_path, key=key)
    h = load_graph(tmp_path, key=key)
    assert h.graph == g.graph
    assert list(h.nodes(data=True)) == [
        (10, {"x": 1.0, "tag": None, "mixed": 3}),
        (2, {"x": h.nodes[2]["x"], "mixed": "three", "big": 2**70, "neg": -(2**63)}),
        (-3, {"x": -0.0, "mixed": [1, [2, "b"]], "flag": True}),
    ]
    assert np.isnan(h.nodes[2]["x"]) and np.signbit(h.nodes[-3]["x"])
    assert list(h.edges(keys=True)) == list(g.edges(keys=True))
    pairs = zip(g.edges(keys=True, data=True), h.edges(keys=True, data=True), strict=True)
    for (*_, a), (*_, b) in pairs:
        assert a.keys() == b.keys()
        for name, value in a.items():
            assert type(b[name]) is type(value), name
            if isinstance(value, shapely.Geometry):
                assert shapely.equals_exact(value, b[name], tolerance=0.0)
            else:
                assert b[name] == value
    with pytest.raises(ValueError, match="another cache key"):
        load_graph(tmp_path, key="e" * 64)
    g.add_edge(2, 10, key=0, bad={1, 2})  # a set has no exact JSON form
    with pytest.raises(TypeError, match=r"set value .* cannot be stored"):
        save_graph(g, tmp_path / "x", key=key)


def test_no_pickle_is_read_anywhere() -> None:
    """No module reads pickle, joblib or cloudpickle, and every np.load refuses pickles."""
    offenders = []
    for path in sorted([*ROOT.glob("planner/**/*.py"), *ROOT.glob("benchmarks/*.py")]):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\bimport pickle\b", r"\bjoblib\b", r"\bcloudpickle\b", "read_pickle"):
            if re.search(pattern, text):
                offenders.append(f"{path.name}: {pattern}")
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if "np.load(" in line and "allow_pickle=False" not in " ".join(lines[i : i + 3]):
                offenders.append(f"{path.name} line {i + 1}: {line.strip()}")
    assert not offenders, offenders


# ---------------------------------------------------------------------------
# Planted entries: a crafted pickle, another network, damaged files
# ---------------------------------------------------------------------------


def test_crafted_pickle_is_never_loaded(
    andorra_pbf: Path, andorra_net: RoadNetwork, tmp_path: Path
) -> None:
    marker = tmp_path / "PLANTED_CODE_RAN"
    payload = crafted_pickle(marker)
    key = andorra_net.cache_key
    cache = tmp_path / "cache"
    networks = cache / "networks"
    networks.mkdir(parents=True)
    (networks / f"{key}.pickle").write_bytes(payload)  # where planner <= 0.1 looked
    entry = networks / key
    entry.mkdir()
    for name in ENTRY_FILES:  # where it looks now
        (entry / name).write_bytes(payload)
    with pytest.warns(
        CacheWarning,
        match=rf"cache entry {re.escape(str(entry))} has an unreadable entry\.json; "
        "it is not used and is built again",
    ):
        net = build_network(andorra_pbf, cache_dir=cache)
    assert not marker.exists()
    assert not net.from_cache
    assert_identical(net, andorra_net)
    assert not (networks / f"{key}.pickle").exists()  # the old entry is deleted unread
    assert build_network(andorra_pbf, cache_dir=cache).from_cache  # rebuilt entry is valid

    # a forged entry.json that lists the pickles with their true digests: still never
    # unpickled, because nothing in planner unpickles
    shutil.rmtree(entry)
    entry.mkdir()
    for name in ENTRY_FILES:
        if name != "entry.json":
            (entry / name).write_bytes(payload)
    files = {
        p.name: {"bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        for p in entry.iterdir()
    }
    forged = {"kind": "networks", "key": key, "format": _cache.CACHE_FORMAT, "files": files}
    (entry / "entry.json").write_text(json.dumps(forged))
    with pytest.warns(CacheWarning, match=r"cannot be read \(.*\); it is not used and is built"):
        again = build_network(andorra_pbf, cache_dir=cache)
    assert not marker.exists()
    assert not again.from_cache
    assert_identical(again, andorra_net)


def test_entry_of_another_network_is_refused(
    andorra_pbf: Path, sodermalm_pbf: Path, andorra_net: RoadNetwork, tmp_path: Path
) -> None:
    sodermalm = build_network(sodermalm_pbf, cache_dir=tmp_path)
    networks = tmp_path / "networks"
    foreign = networks / sodermalm.cache_key
    entry = networks / andorra_net.cache_key
    shutil.copytree(foreign, entry)  # Södermalm's entry, under Andorra's key
    with pytest.warns(
        CacheWarning,
        match=rf"{re.escape(str(entry))} was made for another key "
        rf"\({sodermalm.cache_key[:16]}\.\.\.\), not for {andorra_net.cache_key[:16]}",
    ):
        net = build_network(andorra_pbf, cache_dir=tmp_path)
    assert not net.from_cache
    assert_identical(net, andorra_net)
    assert_same_drive_times(net, andorra_net)

    # entry.json forged to Andorra's key: network.json still names Södermalm's
    shutil.rmtree(entry)
    shutil.copytree(foreign, entry)
    doc = json.loads((entry / "entry.json").read_text())
    doc["key"] = andorra_net.cache_key
    (entry / "entry.json").write_text(json.dumps(doc))
    with pytest.warns(CacheWarning, match=r"network\.json was written for another network"):
        net = build_network(andorra_pbf, cache_dir=tmp_path)
    assert not net.from_cache
    assert_identical(net, andorra_net)
    # Södermalm's own entry is untouched and still loads
    again = build_network(sodermalm_pbf, cache_dir=tmp_path)
    assert again.from_cache
    assert_identical(again, sodermalm)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda e: _truncate(e / "edges.parquet"), r"has edges\.parquet of the wrong size"),
        (lambda e: (e / "entry.json").write_bytes(b""), r"has an unreadable entry\.json"),
        (lambda e: _flip_a_byte(e / "nodes.parquet"), r"has nodes\.parquet whose content changed"),
        (lambda e: (e / "graph.json").unlink(), r"holds other files than its entry\.json lists"),
        (lambda e: (e / "extra.pickle").write_bytes(b"x"), r"holds other files than its"),
    ],
    ids=["truncated", "empty entry.json", "altered", "file missing", "file added"],
)
def test_damaged_entry_is_rebuilt(
    damage: object,
    message: str,
    umea_osm: Path,
    umea_net: RoadNetwork,
    tmp_path: Path,
) -> None:
    build_network(umea_osm, cache_dir=tmp_path)
    entry = tmp_path / "networks" / umea_net.cache_key
    damage(entry)  # type: ignore[operator]
    with pytest.warns(CacheWarning, match=message):
        net = build_network(umea_osm, cache_dir=tmp_path)
    assert not net.from_cache
    assert_identical(net, umea_net)
    assert build_network(umea_osm, cache_dir=tmp_path).from_cache


def test_planted_block_files_are_computed_again(andorra_net: RoadNetwork, tmp_path: Path) -> None:
    """A pickle inside a block, a block of another place and a truncated one: recomputed."""
    marker = tmp_path / "PLANTED_CODE_RAN"
    ttg = build_travel_time_graph(andorra_net.graph)
    stations = snapped_near_nodes(andorra_net.graph, 12, seed=3)
    demand = snapped_near_nodes(andorra_net.graph, 40, seed=4)
    store = tmp_path / "store"
    first = compute_matrix(ttg, stations, demand, cutoff_s=1800, block_size=4, store=store)
    assert first.computed_blocks == (0, 1, 2)

    # block 0: the right key and shapes, but an object array that unpickles the payload
    planted = store / "block-000000.npz"
    with np.load(planted, allow_pickle=False) as f:
        key = str(f["store_key"])
    objects = np.empty(1, dtype=object)
    objects[0] = Payload(marker)
    np.savez(
        planted,
        store_key=np.array(key),
        block_index=np.array(0),
        indptr=objects,
        indices=np.zeros(0, np.int32),
        data=np.zeros(0),
    )
    with np.load(planted, allow_pickle=True) as f:
        f["indptr"]  # unpickled: the payload is live
    assert marker.exists()
    marker.unlink()
    # block 1: block 2's file (same store, same shapes, another place)
    shutil.copyfile(store / "block-000002.npz", store / "block-000001.npz")
    # block 2: truncated
    _truncate(store / "block-000002.npz")

    with pytest.warns(CacheWarning) as record:
        again = compute_matrix(ttg, stations, demand, cutoff_s=1800, block_size=4, store=store)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 3
    assert (
        "000000.npz is not usable (Object arrays cannot be loaded when allow_pickle=False"
        in messages[0]
    )
    assert "block-000001.npz is not usable (it was made as another block" in messages[1]
    assert "block-000002.npz is not usable" in messages[2]
    assert not marker.exists()
    assert again.computed_blocks == (0, 1, 2)
    assert again.same_times(first)
    third = compute_matrix(ttg, stations, demand, cutoff_s=1800, block_size=4, store=store)
    assert third.loaded_blocks == (0, 1, 2) and third.same_times(first)


def test_block_of_another_store_is_computed_again(andorra_net: RoadNetwork, tmp_path: Path) -> None:
    ttg = build_travel_time_graph(andorra_net.graph)
    stations = snapped_near_nodes(andorra_net.graph, 8, seed=3)
    demand = snapped_near_nodes(andorra_net.graph, 20, seed=4)
    first = compute_matrix(ttg, stations, demand, cutoff_s=1800, block_size=4, store=tmp_path / "a")
    other = compute_matrix(ttg, stations, demand, cutoff_s=600, block_size=4, store=tmp_path / "b")
    assert not other.same_times(first)
    shutil.copyfile(tmp_path / "b" / "block-000001.npz", tmp_path / "a" / "block-000001.npz")
    with pytest.warns(CacheWarning, match=r"block-000001\.npz is not usable \(it was made for "):
        again = compute_matrix(
            ttg, stations, demand, cutoff_s=1800, block_size=4, store=tmp_path / "a"
        )
    assert again.computed_blocks == (1,)
    assert again.same_times(first)


# ---------------------------------------------------------------------------
# Who may write to the cache folder
# ---------------------------------------------------------------------------


def test_world_writable_cache_is_refused(
    umea_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    with pytest.raises(UnsafeCacheError, match=rf"cache folder {re.escape(str(cache))} can be "):
        build_network(umea_osm, cache_dir=cache)
    assert list(cache.iterdir()) == []  # nothing was written
    code = main(["network", "build", "--osm", str(umea_osm), "--cache-dir", str(cache)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines()[-1].startswith(f"error: cache folder {cache} can be written by every")
    assert f"chmod o-w {cache}" in err
    # the networks folder inside a private cache folder counts as much
    cache.chmod(0o700)
    (cache / "networks").mkdir()
    (cache / "networks").chmod(0o777)
    with pytest.raises(UnsafeCacheError, match=re.escape(str(cache / "networks"))):
        build_network(umea_osm, cache_dir=cache)


def test_sticky_world_writable_cache_warns(
    umea_osm: Path, umea_net: RoadNetwork, tmp_path: Path
) -> None:
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o1777)
    with pytest.warns(CacheWarning, match=r"every user can add files to it \(sticky bit\)"):
        net = build_network(umea_osm, cache_dir=cache)
    assert_identical(net, umea_net)
    # the folder planner made inside it is private to its owner
    assert stat.S_IMODE((cache / "networks").stat().st_mode) & 0o077 == 0


needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing a folder's owner needs root"
)


@needs_root
def test_cache_of_another_user_or_group_warns(
    umea_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "team"
    cache.mkdir()
    os.chown(cache, 4242, 4343)
    cache.chmod(0o2775)
    with pytest.warns(CacheWarning) as record:
        build_network(umea_osm, cache_dir=cache)
    text = str(record[0].message)
    assert text.startswith(f"cache folder {cache}: it belongs to another user, uid 4242; ")
    assert "group gid 4343 can write to it" in text
    assert "share it only with people you trust" in text
    # a new subfolder takes the team's group permissions, never other users'
    assert stat.S_IMODE((cache / "networks").stat().st_mode) & 0o007 == 0
    # the command line shows it as one warning line and goes on
    code = main(["network", "build", "--osm", str(umea_osm), "--cache-dir", str(cache)])
    err = capsys.readouterr().err
    assert code == 0
    assert err.count(f"warning: cache folder {cache}: it belongs to another user") == 1


@needs_root
def test_private_group_is_not_a_shared_folder(umea_osm: Path, tmp_path: Path) -> None:
    import grp
    import pwd

    me = pwd.getpwuid(os.getuid())
    group = grp.getgrgid(me.pw_gid)
    if group.gr_name != me.pw_name or set(group.gr_mem) - {me.pw_name}:
        pytest.skip("the user has no private group")
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o770)  # group-writable, but the group is the user's own
    assert build_network(umea_osm, cache_dir=cache).graph.number_of_nodes() == 37


# ---------------------------------------------------------------------------
# Temporary files of killed runs
# ---------------------------------------------------------------------------


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_killed_writer_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGKILL while an entry is being written: the next run removes the temporary folder."""
    key = hashlib.sha256(b"entry").hexdigest()
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from planner.cache import cached\n"
        "def save(value, folder):\n"
        "    (folder / 'part.bin').write_bytes(b'x' * 1000)\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(600)\n"
        f"cached(Path(sys.argv[1]), 'things', {key!r}, lambda: 1, save=save, load=None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == "writing\n"
        things = tmp_path / "things"
        (temp,) = things.glob(".*.tmp")
        assert temp.name.startswith(f".{key}.{writer.pid}@")
        assert _cache.remove_orphans(things) == []  # a live writer's folder is kept
        assert temp.is_dir()
    finally:
        writer.kill()
        writer.wait()
        if writer.stdout is not None:
            writer.stdout.close()

    def save(value: int, folder: Path) -> None:
        (folder / "value.json").write_text(json.dumps(value))

    def load(folder: Path) -> int:
        return int(json.loads((folder / "value.json").read_text()))

    value, hit = _cache.cached(tmp_path, "things", key, lambda: 41, save=save, load=load)
    assert (value, hit) == (41, False)
    assert sorted(p.name for p in things.iterdir()) == [key]  # the orphan is gone
    assert _cache.cached(tmp_path, "things", key, lambda: 0, save=save, load=load) == (41, True)


def test_orphans_are_removed_by_age_or_dead_writer(tmp_path: Path) -> None:
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())
    dead = _dead_pid()
    old = time.time() - 2 * 86400
    names = {
        f".abc.{dead}@{host}.0a1b.tmp": ("dead writer here", None, True),
        f".abc.{os.getpid()}@{host}.0a1c.tmp": ("live writer (this process)", None, False),
        f".abc.{dead}@other-host.0a1d.tmp": ("another machine, fresh", None, False),
        f".abc.{dead}@other-host.0a1e.tmp ": ("not a temporary name", old, False),
        f".abc.{dead}@other-host.0a1f.tmp": ("another machine, two days old", old, True),
        ".abc.pickle.k2j3h4.tmp": ("old planner, fresh", None, False),
        ".abc.pickle.z9y8x7.tmp": ("old planner, two days old", old, True),
        "abc": ("an entry", old, False),
    }
    for name, (_, mtime, _) in names.items():
        (tmp_path / name).write_text("x")
        if mtime is not None:
            os.utime(tmp_path / name, (mtime, mtime))
    folder = tmp_path / f".abc.{dead}@{host}.0b00.tmp"  # a temporary entry folder
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "edges.parquet").write_text("x")
    removed = _cache.remove_orphans(tmp_path)
    expected = {name for name, (_, _, gone) in names.items() if gone} | {folder.name}
    assert {p.name for p in removed} == expected
    assert {p.name for p in tmp_path.iterdir()} == set(names) - expected


def test_block_store_removes_orphans(andorra_net: RoadNetwork, tmp_path: Path) -> None:
    ttg = build_travel_time_graph(andorra_net.graph)
    stations = snapped_near_nodes(andorra_net.graph, 8, seed=3)
    first = compute_matrix(ttg, stations, stations, cutoff_s=900, block_size=4, store=tmp_path)
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())
    orphan = tmp_path / f".block-000001.npz.{_dead_pid()}@{host}.1234.tmp"
    orphan.write_bytes(b"half a block")
    again = compute_matrix(ttg, stations, stations, cutoff_s=900, block_size=4, store=tmp_path)
    assert not orphan.exists()
    assert again.loaded_blocks == (0, 1) and again.same_times(first)
