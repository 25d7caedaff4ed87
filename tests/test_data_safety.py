"""Spreadsheets without formulas from data, paths only from the user, a planted cache rebuilt.

The writers are tested with the OWASP CSV-injection payloads in every place a
text from data can land (cells, column names, index labels, categories, the
metadata sheet), read back with openpyxl and the csv module. The end-to-end
test runs ``planner plan`` on the real Andorra extract twice: once with a
clean cache, and once with a cache holding a crafted pickle, Södermalm's
network under Andorra's key and damaged matrix blocks, with station and
demand names that are formula and path payloads. Both runs must give the
same tables, no planted code may run, every spreadsheet cell from data must
be text, and nothing may be written outside the chosen output folders.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import ANDORRA_EXAMPLE
from test_cache_safety import Payload, crafted_pickle

from planner.errors import ParameterError
from planner.network.road_network import build_network
from planner.outputs.export import (
    child_path,
    neutralise_formula,
    plain_file_name,
    write_table,
    write_workbook,
)
from planner.run.cli import main

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PAYLOADS = (
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
)


def _neutralised(payload: str) -> str:
    """What a payload reads back as: a quote in front; CR as LF (CSV writer, XML parser)."""
    return "'" + payload.replace("\r", "\n")


def _payload_table() -> pd.DataFrame:
    n = len(PAYLOADS)
    return pd.DataFrame(
        {
            "station": list(PAYLOADS),
            "fleet": pd.Categorical(list(PAYLOADS)),
            "drive_s": [-1.5, 0.0, -2.0, 3.5, -0.25, 7.0],  # negative numbers stay numbers
            "mixed": ["-5", -5, "ok", 2.5, "=1", None],
            PAYLOADS[0]: range(n),  # a column named by data
        },
        index=pd.Index(list(PAYLOADS), name="@id"),
    )


def _xlsx_cells(path: Path, sheet: str) -> list[list[Any]]:
    ws = openpyxl.load_workbook(path)[sheet]
    return [[cell for cell in row] for row in ws.iter_rows()]


def test_openpyxl_writes_formulas_unless_neutralised(tmp_path: Path) -> None:
    """The control: without the rule, the payload becomes a live formula in XLSX."""
    raw = tmp_path / "raw.xlsx"
    pd.DataFrame({"name": [PAYLOADS[0]]}).to_excel(raw, index=False)
    (_, (cell,)) = _xlsx_cells(raw, "Sheet1")
    assert cell.data_type == "f"


def test_xlsx_cells_from_data_are_strings(tmp_path: Path) -> None:
    table = _payload_table()
    path = write_table(
        table, tmp_path / "t.xlsx", metadata={"scenario": "=cmd()", "n": 3}, index=True
    )
    rows = _xlsx_cells(path, "data")
    header = [c.value for c in rows[0]]
    # known columns get readable headers (issue 14); names from data stay data, neutralised
    assert header == [
        "'@id", "Station", "Unit type", "Drive time, s", "mixed", _neutralised(PAYLOADS[0])
    ]  # fmt: skip
    for payload, row in zip(PAYLOADS, rows[1:], strict=True):
        index_cell, station, fleet, drive, _, named = row
        for cell in (index_cell, station, fleet):
            assert cell.data_type == "s"
            assert cell.value == _neutralised(payload)
        assert drive.data_type == "n" and isinstance(drive.value, int | float)
        assert named.data_type == "n"
    assert [c.value for c in rows[1]][3] == -1.5
    assert [r[4].value for r in rows[1:]] == ["'-5", -5, "ok", 2.5, "'=1", None]
    assert all(cell.data_type != "f" for row in rows for cell in row)
    meta = {r[0].value: r[1] for r in _xlsx_cells(path, "metadata")[1:]}
    assert meta["scenario"].value == "'=cmd()" and meta["scenario"].data_type == "s"
    assert meta["n"].value == "3"


def test_workbook_sheets_are_neutralised(tmp_path: Path) -> None:
    table = _payload_table().reset_index()
    path = write_workbook({"a": table, "b": table}, tmp_path / "w.xlsx", metadata={})
    for sheet in ("a", "b"):
        rows = _xlsx_cells(path, sheet)
        assert rows[0][0].value == "'@id"
        for payload, row in zip(PAYLOADS, rows[1:], strict=True):
            assert row[1].value == _neutralised(payload) and row[1].data_type == "s"
        assert all(cell.data_type != "f" for row in rows for cell in row)


def test_csv_cells_from_data_are_neutralised(tmp_path: Path) -> None:
    path = write_table(_payload_table(), tmp_path / "t.csv", metadata={}, index=True)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 1 + len(PAYLOADS)  # a carriage return never starts a row
    assert rows[0] == ["'@id", "station", "fleet", "drive_s", "mixed", _neutralised(PAYLOADS[0])]
    for payload, row in zip(PAYLOADS, rows[1:], strict=True):
        assert row[0] == row[1] == row[2] == _neutralised(payload)
    assert [r[3] for r in rows[1:]] == ["-1.5", "0.0", "-2.0", "3.5", "-0.25", "7.0"]
    assert [r[4] for r in rows[1:]] == ["'-5", "-5", "ok", "2.5", "'=1", ""]
    for row in rows:
        for cell in row:
            if cell.startswith(TRIGGERS):
                float(cell)  # only numbers may start with a trigger
    # pandas reads the numbers back as numbers
    back = pd.read_csv(path)
    assert back["drive_s"].tolist() == [-1.5, 0.0, -2.0, 3.5, -0.25, 7.0]


def test_parquet_keeps_the_original_text(tmp_path: Path) -> None:
    table = _payload_table().drop(columns="mixed")  # Arrow needs one type per column
    path = write_table(table, tmp_path / "t.parquet", metadata={})
    back = pq.read_table(path).to_pandas()
    assert back["station"].tolist() == list(PAYLOADS)
    assert PAYLOADS[0] in back.columns


def test_neutralise_formula() -> None:
    assert [neutralise_formula(p) for p in PAYLOADS] == ["'" + p for p in PAYLOADS]
    for kept in ("Visby", "'=1", " =1", "", "a=b", -2, -2.5, None, float("nan")):
        out = neutralise_formula(kept)
        assert out is kept or (out != out and kept != kept)


def test_xlsx_control_characters_do_not_break_the_write(tmp_path: Path) -> None:
    path = write_table(
        pd.DataFrame({"name": ["Vårdcentral\x01Norr", "=\x00"]}), tmp_path / "c.xlsx", metadata={}
    )
    rows = _xlsx_cells(path, "data")
    assert [r[0].value for r in rows[1:]] == ["Vårdcentral\ufffdNorr", "'=\ufffd"]


# ---------------------------------------------------------------------------
# Paths from data
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("../x", "holds a folder separator"),
        ("/etc/passwd", "holds a folder separator"),
        ("a\\b", "holds a folder separator"),
        ("C:x", "holds ':'"),
        ("..", "holds '..' or is only dots"),
        (".", "holds '..' or is only dots"),
        ("a..b", "holds '..'"),
        ("a\x00b", "holds a control character"),
        ("a\nb", "holds a control character"),
        ("a\u202eb", "holds a control character"),  # right-to-left override
        (" a", "starts or ends with a space"),
        ("å" * 101, "is longer than 200 bytes"),
    ],
)
def test_plain_file_name_refuses(name: str, problem: str) -> None:
    with pytest.raises(ParameterError, match=rf"^name = .* {problem}"):
        plain_file_name(name, argument="name")
    with pytest.raises(ParameterError, match=r"^name = "):
        child_path("out", name, argument="name")


@pytest.mark.parametrize("name", ["gotland", "Västra Götaland 2025", "a.b-c_d", ".hidden"])
def test_plain_file_name_accepts(name: str, tmp_path: Path) -> None:
    assert plain_file_name(name, argument="name") == name
    path = child_path(tmp_path, name, argument="name")
    assert path.parent == tmp_path and path.name == name


# ---------------------------------------------------------------------------
# End to end: a plan with payload names and a planted cache
# ---------------------------------------------------------------------------

STATION_NAMES = (
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "../../escape",
    "/tmp/planner-abs-escape",
)
STATION_LONLAT = (
    (1.5218, 42.5063),
    (1.5806, 42.5360),
    (1.4913, 42.4637),
    (1.5148, 42.5450),
    (1.5330, 42.5560),
    (1.6000, 42.5667),
)


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def _plan(folder: Path, out: str, cache: str) -> tuple[int, str]:
    err = io.StringIO()
    args = ["plan", str(folder / "andorra.toml"), "--out-dir", str(folder / out)]
    args += ["--map", str(folder / "maps" / f"{out}.html"), "--cache-dir", str(folder / cache)]
    with contextlib.redirect_stderr(err):
        code = main([*args, "--no-progress"])
    return code, err.getvalue()


def _plant(cache: Path, key: str, foreign: Path, marker: Path) -> None:
    """Södermalm's entry under Andorra's key, a pickle where 0.1 looked, damaged blocks."""
    networks = cache / "networks"
    shutil.rmtree(networks / key)
    shutil.copytree(foreign, networks / key)
    (networks / f"{key}.pickle").write_bytes(crafted_pickle(marker))
    (store,) = (cache / "blocks").glob("matrix-*")
    objects = np.empty(1, dtype=object)
    objects[0] = Payload(marker)
    with np.load(store / "block-000000.npz", allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    np.savez(store / "block-000000.npz", **{**arrays, "indptr": objects})
    shutil.copyfile(store / "block-000002.npz", store / "block-000001.npz")
    data = (store / "block-000003.npz").read_bytes()
    (store / "block-000003.npz").write_bytes(data[: len(data) // 2])


@pytest.fixture(scope="module")
def planted_runs(
    tmp_path_factory: pytest.TempPathFactory, andorra_pbf: Path, sodermalm_pbf: Path
) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("safety")
    folder = root / "scenario"
    folder.mkdir()
    for name in ("andorra.geojson", "demand.csv"):
        shutil.copyfile(ANDORRA_EXAMPLE / name, folder / name)
    demand = pd.read_csv(folder / "demand.csv", dtype={"demand_id": str})
    demand.loc[:2, "demand_id"] = ["=1+1", "@risk", "-p2"]
    demand.to_csv(folder / "demand.csv", index=False)
    lon, lat = zip(*STATION_LONLAT, strict=True)
    pd.DataFrame({"name": STATION_NAMES, "lon": lon, "lat": lat}).to_csv(
        folder / "stations.csv", index=False
    )
    text = (ANDORRA_EXAMPLE / "andorra.toml").read_text(encoding="utf-8")
    text = text.replace(
        '"../../../../shared/data/osm/andorra.osm.pbf"', f'"{andorra_pbf.as_posix()}"'
    )
    text += 'solver = "heuristic"\ncutoff_min = 60\n'  # sparse: matrix blocks in the cache
    (folder / "andorra.toml").write_text(text, encoding="utf-8")
    sodermalm = build_network(sodermalm_pbf, cache_dir=root / "other")
    marker = root / "PLANTED_CODE_RAN"
    outside = {p for p in Path("/tmp").glob("planner-abs*")}

    before = _files(root)
    clean = _plan(folder, "clean", "cache-clean")
    manifest = json.loads((folder / "clean" / "manifest.json").read_text())
    key = manifest["network"]["cache_key"]
    shutil.copytree(folder / "cache-clean", folder / "cache-planted")
    _plant(folder / "cache-planted", key, root / "other" / "networks" / sodermalm.cache_key, marker)
    planted_before = _files(folder / "cache-planted")
    planted = _plan(folder, "planted", "cache-planted")
    return {
        "root": root,
        "folder": folder,
        "clean": clean,
        "planted": planted,
        "key": key,
        "marker": marker,
        "new_files": _files(root) - before - planted_before,
        "outside_before": outside,
    }


def test_planted_cache_gives_the_same_plan_and_runs_no_code(planted_runs: dict) -> None:
    (code_a, err_a), (code_b, err_b) = planted_runs["clean"], planted_runs["planted"]
    assert (code_a, code_b) == (0, 0), (err_a, err_b)
    assert not planted_runs["marker"].exists()
    # the only warnings of the clean run are about the stations' own positions
    # (one stands on a road part cut off by the extract's edge) and the demand
    # points the simulation cannot serve or transport, in both runs alike
    station = [
        line
        for line in err_a.splitlines()
        if line.startswith(("warning: station ", "warning: simulation "))
    ]
    assert [line for line in err_a.splitlines() if line.startswith("warning:")] == station
    warnings = [
        line for line in err_b.splitlines() if line.startswith("warning:") and line not in station
    ]
    key = planted_runs["key"]
    assert len(warnings) == 4, warnings
    assert f"networks/{key} was made for another key" in warnings[0]
    assert "block-000000.npz is not usable (Object arrays cannot be loaded" in warnings[1]
    assert "block-000001.npz is not usable (it was made as another block" in warnings[2]
    assert "block-000003.npz is not usable" in warnings[3]
    folder = planted_runs["folder"]
    # the same tables, byte for byte
    clean = {p.relative_to(folder / "clean"): p for p in (folder / "clean").rglob("*.csv")}
    planted = {p.relative_to(folder / "planted"): p for p in (folder / "planted").rglob("*.csv")}
    assert len(clean) >= 20 and clean.keys() == planted.keys()
    for name, path in clean.items():
        if name.name == "gain_curve.csv":  # holds solve times: all but those are equal
            a, b = pd.read_csv(path), pd.read_csv(planted[name])
            pd.testing.assert_frame_equal(
                a.drop(columns="solve_time_s"), b.drop(columns="solve_time_s")
            )
        else:
            assert path.read_bytes() == planted[name].read_bytes(), name
    manifest = json.loads((folder / "planted" / "manifest.json").read_text())
    assert manifest["network"]["from_cache"] is False
    assert manifest["network"]["cache_key"] == key
    # every planted entry was rebuilt: a valid network entry, no old pickle, valid blocks
    cache = folder / "cache-planted"
    assert json.loads((cache / "networks" / key / "entry.json").read_text())["key"] == key
    assert not (cache / "networks" / f"{key}.pickle").exists()
    (store,) = (cache / "blocks").glob("matrix-*")
    store_key = json.loads((store / "manifest.json").read_text())["key"]
    for index in range(4):
        with np.load(store / f"block-{index:06d}.npz", allow_pickle=False) as f:
            assert str(f["store_key"]) == store_key and int(f["block_index"]) == index
            assert f["indptr"].dtype.kind == "i"


def test_spreadsheets_of_the_plan_hold_no_formulas(planted_runs: dict) -> None:
    out = planted_runs["folder"] / "clean"
    csvs, books = sorted(out.rglob("*.csv")), sorted(out.rglob("*.xlsx"))
    # coverage, after/coverage, optimise/optimise, simulate/simulation
    assert len(books) == 4
    for path in csvs:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    if cell.startswith(TRIGGERS):
                        float(cell)  # a number (e.g. -0.5), never text
    for path in books:
        for sheet in openpyxl.load_workbook(path).worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (path.name, sheet.title, cell.coordinate)
                    if isinstance(cell.value, str):
                        assert not cell.value.startswith(TRIGGERS), cell.value
    # the payload names are there, as text with a quote in front
    stations = pd.read_csv(out / "coverage_station.csv", keep_default_na=False)
    for name in STATION_NAMES[:4]:
        assert "'" + name in set(stations["station"])
    assert {"../../escape", "/tmp/planner-abs-escape"} <= set(stations["station"])
    sheet = _xlsx_cells(out / "coverage.xlsx", "Stations")  # readable sheet names (issue 14)
    names = {row[0].value for row in sheet[1:]}
    assert {"'" + n for n in STATION_NAMES[:4]} <= names
    # the simulation's tables quote them too (utilisation per station)
    sheet = _xlsx_cells(out / "simulate" / "simulation.xlsx", "Utilisation per station")
    column = [cell.value for cell in sheet[0]].index("Station")
    assert {"'" + n for n in STATION_NAMES[:4]} <= {row[column].value for row in sheet[1:]}
    simulated = pd.read_csv(out / "simulate" / "utilisation_stations.csv", keep_default_na=False)
    assert {"'" + n for n in STATION_NAMES[:4]} <= set(simulated["station"])
    places = pd.read_csv(out / "coverage_worst_places.csv", keep_default_na=False)
    assert not places["demand_id"].str.startswith(TRIGGERS).any()
    # Parquet and GeoPackage keep the names as they are
    demand = pd.read_parquet(out / "demand.parquet")
    assert {"=1+1", "@risk", "-p2"} <= set(demand["demand_id"])


def test_plan_writes_only_inside_its_output_folders(planted_runs: dict) -> None:
    root, folder = planted_runs["root"], planted_runs["folder"]
    allowed = [folder / d for d in ("clean", "planted", "maps", "cache-clean", "cache-planted")]
    stray = [p for p in planted_runs["new_files"] if not any(p.is_relative_to(a) for a in allowed)]
    assert stray == []
    assert {p.name for p in (folder / "maps").iterdir()} == {"clean.html", "planted.html"}
    assert not (root.parent / "escape").exists() and not (folder.parent / "escape").exists()
    assert set(Path("/tmp").glob("planner-abs*")) == planted_runs["outside_before"]
    assert sorted(os.listdir(folder / "clean")) == sorted(os.listdir(folder / "planted"))
