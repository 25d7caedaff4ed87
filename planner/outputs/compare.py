"""Follow-up over time: compare the coverage of two plan output folders.

``planner compare RUN_A RUN_B`` answers "what changed between last year's
stations and this year's?" (or between two scenarios). Each run is a folder
written by ``planner plan`` (:func:`planner.run.pipeline.write_coverage`, and
:func:`planner.run.pipeline.write_optimise` in ``optimise/``)::

    <run>/manifest.json                  name, planner_version, created (optional)
    <run>/coverage_total.csv             state "before": the run's stations
    <run>/coverage_municipality.csv
    <run>/coverage.gpkg                  layers demand, boundaries (optional) ...
    <run>/optimise/coverage_after_total.csv         state "after": proposed
    <run>/optimise/coverage_after_municipality.csv  sites added

For every municipality in either run the comparison gives, for each metric,
its value in A (``<metric>_a``), in B (``<metric>_b``) and the change
``<metric>_change`` = B - A. The metrics are the demand (weight), the
unreachable share, the share within each threshold (0-1), the median and
90th-percentile response time of the reached demand (minutes) and the Gini
coefficient of response times (equity; lower is more equal). A municipality
found in only one run is kept, flagged in ``present_in`` (``"both"``,
``"A only"``, ``"B only"``), with empty B (or A) values and change.

Thresholds: only the thresholds both runs report are compared. Those only one
run has are dropped and named in :attr:`Comparison.dropped_thresholds_min` and
in :attr:`Comparison.notes` (which the command line prints); runs with no
threshold in common are refused.

The map layer holds the municipality polygons of the runs' ``boundaries``
layer (``level == "municipality"``, EPSG:3006) with all comparison columns.
Without boundaries (a run outside Sweden, or a hand-made folder), it holds
the demand points of both runs matched by ``demand_id`` with
``response_min_a``, ``response_min_b`` and ``change_min``; that needs per-point
times, which the run folder has only for state "before".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner import constants
from planner.errors import InputFileError, MissingFileError, ParameterError
from planner.network.crs import metric_crs_of
from planner.outputs.export import (
    export_metadata,
    write_layers,
    write_table,
    write_workbook,
)
from planner.staging import OutputTarget, stage_outputs, staged_path

__all__ = ["STATES", "Comparison", "compare_runs", "read_run_tables", "write_comparison"]

#: Which coverage of a run to compare: its stations ("before") or its stations
#: with the proposed sites added ("after", needs ``optimise/``).
STATES = ("before", "after")

#: Metrics compared besides the shares within each threshold.
_METRICS_BEFORE = ("demand", "share_unreachable")
_METRICS_AFTER = ("median_min", "p90_min", "gini")

_KEYS = ("municipality_code", "municipality", "region_code")
_SHARE = re.compile(r"^share_within_(.+)_min$")

_LAYER_POLYGONS = "municipality_change"
_LAYER_POINTS = "demand_change"


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two runs' coverage side by side (shares 0-1, times in minutes, EPSG:3006;
    demand points in their metric CRS).

    Attributes
    ----------
    run_a, run_b
        The runs' names (``manifest.json`` ``name``, else the folder name).
    state_a, state_b
        ``"before"`` (the run's stations) or ``"after"`` (proposed sites added).
    municipality
        One row per municipality in either run: ``municipality_code``,
        ``municipality``, ``region_code``, ``present_in`` and, per metric,
        ``<metric>_a``, ``<metric>_b``, ``<metric>_change`` (B - A).
    total
        The same columns (without the keys) for all demand, one row.
    layer
        Municipality polygons with the ``municipality`` columns, or, without
        boundaries, the demand points matched by ``demand_id``; EPSG:3006.
        Empty when neither can be made (see :attr:`notes`).
    thresholds_min
        The thresholds compared, minutes.
    dropped_thresholds_min
        Thresholds only one run reports (not compared).
    notes
        What a reader should know (dropped thresholds, no map layer ...).
    metadata
        Both runs' folders, names, states, versions and OSM data dates.
    """

    run_a: str
    run_b: str
    state_a: str
    state_b: str
    municipality: pd.DataFrame
    total: pd.DataFrame
    layer: gpd.GeoDataFrame
    thresholds_min: tuple[float, ...] = ()
    dropped_thresholds_min: tuple[float, ...] = ()
    notes: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Reading a run folder
# ---------------------------------------------------------------------------


def _check_state(state: Any, argument: str) -> str:
    if state not in STATES:
        raise ParameterError(f"{argument} = {state!r}: use one of {', '.join(STATES)}")
    return str(state)


def _check_run(run: Path) -> Path:
    run = Path(run)
    if not run.exists():
        raise MissingFileError(f"{run}: not a planner run folder: the folder does not exist")
    if not run.is_dir():
        raise InputFileError(f"{run}: not a planner run folder: it is a file, not a folder")
    return run


def _manifest(run: Path) -> dict[str, Any]:
    path = run / "manifest.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputFileError(f"{path}: cannot read the manifest: {error}") from None
    if not isinstance(data, dict):
        raise InputFileError(f"{path}: the manifest must be a JSON object")
    return data


def _run_name(run: Path, manifest: Mapping[str, Any]) -> str:
    name = manifest.get("name")
    return str(name) if isinstance(name, str) and name.strip() else run.resolve().name


def _table_paths(run: Path, state: str) -> tuple[Path, Path]:
    if state == "before":
        paths = (run / "coverage_municipality.csv", run / "coverage_total.csv")
        for path in paths:
            if not path.exists():
                raise MissingFileError(f"{run}: not a planner run folder: {path.name} is missing")
        return paths
    optimise = run / "optimise"
    paths = (
        optimise / "coverage_after_municipality.csv",
        optimise / "coverage_after_total.csv",
    )
    if not optimise.is_dir():
        raise MissingFileError(
            f"{run}: state 'after' needs the optimise/ folder of a run that proposed "
            "sites; this run has none (use state 'before')"
        )
    for path in paths:
        if not path.exists():
            raise MissingFileError(f"{run}: state 'after': optimise/{path.name} is missing")
    return paths


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(
            path, dtype={key: str for key in _KEYS}, keep_default_na=False, na_values=[""]
        )
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise InputFileError(f"{path}: cannot read the table: {e}") from None
    return table


def _check_numeric(table: pd.DataFrame, path: Path, columns: list[str]) -> None:
    for column in columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            bad = pd.to_numeric(table[column], errors="coerce").isna() & table[column].notna()
            raise InputFileError(
                f"{path}: column {column!r} must hold numbers "
                f"(row {int(np.argmax(bad.to_numpy())) + 2} holds "
                f"{table[column][bad].iloc[0]!r})"
            )


def _thresholds(table: pd.DataFrame, path: Path) -> dict[float, str]:
    """Threshold (minutes) -> its share column."""
    found: dict[float, str] = {}
    for column in table.columns:
        match = _SHARE.match(str(column))
        if match is None:
            continue
        try:
            found[float(match.group(1))] = str(column)
        except ValueError:
            raise InputFileError(f"{path}: column {column!r} has no threshold in minutes") from None
    if not found:
        raise InputFileError(f"{path}: no share_within_<T>_min column; is it a coverage table?")
    return found


def _require(table: pd.DataFrame, path: Path, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputFileError(
            f"{path}: column {missing[0]!r} is missing; is it a planner coverage table?"
        )


def read_run_tables(run: Path, *, state: str = "before") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The municipality and total coverage tables of a run folder.

    Parameters
    ----------
    run
        A plan output folder.
    state
        ``"before"`` (the run's stations) or ``"after"`` (``optimise/``).

    Returns
    -------
    municipality, total
        The tables as written by the pipeline (codes as text, times minutes,
        unreachable-only groups with empty times).

    Raises
    ------
    MissingFileError
        If the folder or a table is missing (the message names them).
    InputFileError
        If a table cannot be read or lacks a coverage column.
    ParameterError
        If ``state`` is not one of :data:`STATES`.
    """
    state = _check_state(state, "state")
    run = _check_run(run)
    municipality_path, total_path = _table_paths(run, state)
    municipality = _read_csv(municipality_path)
    total = _read_csv(total_path)
    needed = (*_METRICS_BEFORE, *_METRICS_AFTER)
    _require(municipality, municipality_path, ("municipality_code", *needed))
    _require(total, total_path, needed)
    _check_numeric(
        municipality,
        municipality_path,
        [*needed, *_thresholds(municipality, municipality_path).values()],
    )
    _check_numeric(total, total_path, [*needed, *_thresholds(total, total_path).values()])
    if len(total) != 1:
        raise InputFileError(f"{total_path}: expected one row, found {len(total)}")
    codes = municipality["municipality_code"].fillna("(none)")
    duplicated = codes[codes.duplicated()]
    if len(duplicated):
        raise InputFileError(
            f"{municipality_path}: municipality_code {duplicated.iloc[0]!r} appears twice"
        )
    municipality = municipality.assign(municipality_code=codes)
    return municipality, total


def _sidecar(path: Path) -> dict[str, Any]:
    side = path.with_name(path.name + ".meta.json")
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------


def _metric_columns(thresholds: dict[float, str], shared: list[float]) -> list[str]:
    return [*_METRICS_BEFORE, *(thresholds[t] for t in shared), *_METRICS_AFTER]


def _side_by_side(
    a: pd.DataFrame,
    b: pd.DataFrame,
    metrics_a: list[str],
    metrics_b: list[str],
    names: list[str],
) -> pd.DataFrame:
    """Columns ``<name>_a``, ``<name>_b``, ``<name>_change`` per metric (rows aligned)."""
    out: dict[str, Any] = {}
    for name, col_a, col_b in zip(names, metrics_a, metrics_b, strict=True):
        va = pd.to_numeric(a[col_a], errors="coerce").to_numpy(dtype=float)
        vb = pd.to_numeric(b[col_b], errors="coerce").to_numpy(dtype=float)
        out[f"{name}_a"] = va
        out[f"{name}_b"] = vb
        with np.errstate(invalid="ignore"):
            out[f"{name}_change"] = vb - va
    return pd.DataFrame(out)


def _municipality_frame(
    a: pd.DataFrame,
    b: pd.DataFrame,
    columns_a: list[str],
    columns_b: list[str],
    names: list[str],
) -> pd.DataFrame:
    key = "municipality_code"
    codes = sorted(set(a[key]) | set(b[key]))
    ia = a.set_index(key).reindex(codes)
    ib = b.set_index(key).reindex(codes)
    in_a = np.isin(codes, a[key].to_numpy())
    in_b = np.isin(codes, b[key].to_numpy())
    present = np.where(in_a & in_b, "both", np.where(in_a, "A only", "B only"))
    keys = pd.DataFrame({key: codes})
    for column in ("municipality", "region_code"):
        va = ia[column] if column in ia else pd.Series(None, index=ia.index, dtype=object)
        vb = ib[column] if column in ib else pd.Series(None, index=ib.index, dtype=object)
        keys[column] = vb.where(vb.notna(), va).astype(object).to_numpy()
    keys["present_in"] = present
    values = _side_by_side(ia.reset_index(), ib.reset_index(), columns_a, columns_b, names)
    return pd.concat([keys, values], axis=1)


def _boundaries(runs: list[Path]) -> gpd.GeoDataFrame | None:
    """Municipality polygons from the runs' ``boundaries`` layers (B first), EPSG:3006."""
    import pyogrio

    frames = []
    for run in runs:
        path = run / "coverage.gpkg"
        if not path.exists():
            continue
        try:
            layers = {str(name) for name, _ in pyogrio.list_layers(path)}
        except Exception as error:  # pyogrio raises its own DataSourceError
            raise InputFileError(f"{path}: cannot read the GeoPackage: {error}") from None
        if "boundaries" not in layers:
            continue
        layer = gpd.read_file(path, layer="boundaries", engine="pyogrio")
        _require(layer, path, ("code", "level"))
        layer = layer[layer["level"].astype(str) == "municipality"]
        if layer.empty:
            continue
        if layer.crs is None:
            raise InputFileError(f"{path}: layer 'boundaries' has no CRS")
        frames.append(layer.to_crs(constants.ANALYSIS_CRS))
    if not frames:
        return None
    merged = pd.concat(frames, ignore_index=True)
    merged = merged.assign(code=merged["code"].astype(str)).drop_duplicates("code", keep="first")
    return gpd.GeoDataFrame(merged, geometry=merged.geometry.name, crs=constants.ANALYSIS_CRS)


def _polygon_layer(municipality: pd.DataFrame, polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    shapes = polygons.set_index("code").geometry
    geometry = gpd.GeoSeries(
        shapes.reindex(municipality["municipality_code"]).to_numpy(), crs=constants.ANALYSIS_CRS
    )
    return gpd.GeoDataFrame(
        municipality.reset_index(drop=True), geometry=geometry.to_numpy(), crs=geometry.crs
    )


def _demand_points(run: Path) -> gpd.GeoDataFrame:
    path = run / "coverage.gpkg"
    try:
        points = gpd.read_file(path, layer="demand", engine="pyogrio")
    except Exception as error:  # pyogrio raises its own DataSourceError
        raise InputFileError(f"{path}: cannot read layer 'demand': {error}") from None
    _require(points, path, ("demand_id", "weight", "response_min"))
    if points.crs is None:
        raise InputFileError(f"{path}: layer 'demand' has no CRS")
    points = points.assign(demand_id=points["demand_id"].astype(str))
    duplicated = points["demand_id"][points["demand_id"].duplicated()]
    if len(duplicated):
        raise InputFileError(f"{path}: demand_id {duplicated.iloc[0]!r} appears twice")
    return points.to_crs(metric_crs_of(points))


def _point_layer(run_a: Path, run_b: Path) -> gpd.GeoDataFrame:
    b = _demand_points(run_b)
    a = _demand_points(run_a).to_crs(b.crs)
    keep = ["demand_id", "weight", "municipality_code", "response_min", "geometry"]
    a = a[[c for c in keep if c in a.columns]].set_index("demand_id")
    b = b[[c for c in keep if c in b.columns]].set_index("demand_id")
    ids = sorted(set(a.index) | set(b.index))
    in_a, in_b = np.isin(ids, a.index.to_numpy()), np.isin(ids, b.index.to_numpy())
    a, b = a.reindex(ids), b.reindex(ids)
    ta = a["response_min"].to_numpy(dtype=float)
    tb = b["response_min"].to_numpy(dtype=float)
    reach_a, reach_b = np.isfinite(ta), np.isfinite(tb)
    status = np.select(
        [
            ~in_a,
            ~in_b,
            reach_a & reach_b,
            ~reach_a & reach_b,
            reach_a & ~reach_b,
        ],
        ["B only", "A only", "reached in both", "newly reached", "no longer reached"],
        default="unreachable in both",
    )
    change = np.full(len(ids), np.nan)
    both = reach_a & reach_b
    change[both] = tb[both] - ta[both]
    geometry = np.where(in_b, b.geometry.to_numpy(), a.geometry.to_numpy())
    none = pd.Series(None, index=b.index, dtype=object)
    municipality = b.get("municipality_code", none).astype(object)
    municipality = municipality.where(in_b, a.get("municipality_code", none).astype(object))
    weight = b["weight"].where(in_b, a["weight"])
    return gpd.GeoDataFrame(
        {
            "demand_id": ids,
            "municipality_code": municipality.astype(object).to_numpy(),
            "weight_a": a["weight"].to_numpy(dtype=float),
            "weight_b": b["weight"].to_numpy(dtype=float),
            "weight": weight.to_numpy(dtype=float),
            "response_min_a": ta,
            "response_min_b": tb,
            "change_min": change,
            "status": status,
        },
        geometry=gpd.GeoSeries(geometry, crs=b.crs).to_numpy(),
        crs=b.crs,
    )


def _format_minutes(values: list[float]) -> str:
    return ", ".join(f"{t:g}" for t in values) + " min"


def compare_runs(
    run_a: Path, run_b: Path, *, state_a: str = "before", state_b: str = "before"
) -> Comparison:
    """Compare the coverage of two plan output folders per municipality.

    Parameters
    ----------
    run_a, run_b
        Plan output folders (A: earlier or reference, B: later or proposal).
    state_a, state_b
        ``"before"``: the run's stations; ``"after"``: the run's stations with
        its proposed sites added (reads ``optimise/``).

    Returns
    -------
    Comparison
        Changes are B - A: a positive share change or a negative time change
        is an improvement; a negative Gini change is more equal.

    Raises
    ------
    ParameterError
        If a state is not one of :data:`STATES`, or the runs share no threshold.
    MissingFileError
        If a folder is not a run (names the missing file), or state "after"
        is asked of a run that did not optimise.
    InputFileError
        If a table or layer cannot be read.
    """
    state_a = _check_state(state_a, "state_a")
    state_b = _check_state(state_b, "state_b")
    run_a, run_b = _check_run(Path(run_a)), _check_run(Path(run_b))
    muni_a, total_a = read_run_tables(run_a, state=state_a)
    muni_b, total_b = read_run_tables(run_b, state=state_b)
    manifest_a, manifest_b = _manifest(run_a), _manifest(run_b)
    path_a, path_b = _table_paths(run_a, state_a)[0], _table_paths(run_b, state_b)[0]
    thr_a, thr_b = _thresholds(muni_a, path_a), _thresholds(muni_b, path_b)
    shared = sorted(set(thr_a) & set(thr_b))
    dropped = sorted(set(thr_a) ^ set(thr_b))
    if not shared:
        raise ParameterError(
            f"{run_a} reports {_format_minutes(sorted(thr_a))} and {run_b} "
            f"{_format_minutes(sorted(thr_b))}: no threshold in common to compare"
        )
    notes: list[str] = []
    if dropped:
        only_a = [t for t in dropped if t in thr_a]
        only_b = [t for t in dropped if t in thr_b]
        parts = []
        if only_a:
            parts.append(f"{_format_minutes(only_a)} only in A ({run_a.name})")
        if only_b:
            parts.append(f"{_format_minutes(only_b)} only in B ({run_b.name})")
        notes.append("thresholds not compared (a run does not report them): " + "; ".join(parts))
    columns_a = _metric_columns(thr_a, shared)
    columns_b = _metric_columns(thr_b, shared)
    names = _metric_columns({t: f"share_within_{t:g}_min" for t in shared}, shared)
    municipality = _municipality_frame(muni_a, muni_b, columns_a, columns_b, names)
    total = _side_by_side(total_a, total_b, columns_a, columns_b, names)
    layer = _map_layer(run_a, run_b, municipality, state_a, state_b, notes)
    name_a, name_b = _run_name(run_a, manifest_a), _run_name(run_b, manifest_b)
    meta_a, meta_b = _sidecar(path_a), _sidecar(path_b)
    metadata = {
        "run_a": str(run_a.resolve()),
        "run_b": str(run_b.resolve()),
        "name_a": name_a,
        "name_b": name_b,
        "state_a": state_a,
        "state_b": state_b,
        "created_a": manifest_a.get("created"),
        "created_b": manifest_b.get("created"),
        "planner_version_a": manifest_a.get("planner_version", meta_a.get("planner_version")),
        "planner_version_b": manifest_b.get("planner_version", meta_b.get("planner_version")),
        "osm_data_date_a": meta_a.get("osm_data_date"),
        "osm_data_date_b": meta_b.get("osm_data_date"),
        "thresholds_min": shared,
        "dropped_thresholds_min": dropped,
        "change": "B - A; shares 0-1, times in minutes of the reached demand",
        "notes": notes,
    }
    return Comparison(
        run_a=name_a,
        run_b=name_b,
        state_a=state_a,
        state_b=state_b,
        municipality=municipality,
        total=total,
        layer=layer,
        thresholds_min=tuple(shared),
        dropped_thresholds_min=tuple(dropped),
        notes=tuple(notes),
        metadata=metadata,
    )


def _map_layer(
    run_a: Path,
    run_b: Path,
    municipality: pd.DataFrame,
    state_a: str,
    state_b: str,
    notes: list[str],
) -> gpd.GeoDataFrame:
    """The comparison's map layer: municipality polygons, else demand points; notes appended."""
    polygons = _boundaries([run_b, run_a])
    if polygons is not None:
        layer = _polygon_layer(municipality, polygons)
        unmatched = layer.loc[layer.geometry.isna(), "municipality_code"].tolist()
        if unmatched:
            notes.append(
                "no boundary for municipality code(s) "
                + ", ".join(map(str, unmatched))
                + "; their rows have no geometry in the map layer"
            )
    elif state_a != "before" or state_b != "before":
        layer = gpd.GeoDataFrame(geometry=[], crs=constants.ANALYSIS_CRS)
        notes.append(
            "no map layer: no municipality boundaries in either run, and per-point "
            "response times exist only for state 'before'"
        )
    elif not ((run_a / "coverage.gpkg").exists() and (run_b / "coverage.gpkg").exists()):
        layer = gpd.GeoDataFrame(geometry=[], crs=constants.ANALYSIS_CRS)
        notes.append("no map layer: a run has no coverage.gpkg (no boundaries, no demand points)")
    else:
        layer = _point_layer(run_a, run_b)
        notes.append("no municipality boundaries in either run: the map layer holds demand points")
    return layer


def write_comparison(
    comparison: Comparison, out_dir: Path, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write a comparison: CSV, XLSX and a GeoPackage layer, with metadata.

    Parameters
    ----------
    comparison
        From :func:`compare_runs`.
    out_dir
        Output folder, written as one all-or-nothing run
        (:func:`planner.staging.stage_outputs`).
    overwrite
        Replace an existing output folder whole; otherwise an existing
        folder is refused and nothing is written.

    Returns
    -------
    dict
        ``"csv"``: ``comparison.csv`` (the municipality table, with a
        ``.meta.json`` sidecar); ``"xlsx"``: ``comparison.xlsx`` (sheets
        ``municipality``, ``total`` and ``metadata``); ``"gpkg"``:
        ``comparison.gpkg`` (EPSG:3006; layer ``municipality_change`` or,
        without boundaries, ``demand_change``), left out when the comparison
        has no map layer.
    """
    out_dir = Path(out_dir)
    meta = export_metadata(**comparison.metadata)
    paths = {
        "csv": out_dir / "comparison.csv",
        "xlsx": out_dir / "comparison.xlsx",
    }
    if not comparison.layer.empty:
        paths["gpkg"] = out_dir / "comparison.gpkg"
    with stage_outputs([OutputTarget(out_dir)], overwrite=overwrite):
        staged_path(out_dir).mkdir(parents=True, exist_ok=True)
        write_table(comparison.municipality, paths["csv"], metadata=meta)
        write_workbook(
            {"municipality": comparison.municipality, "total": comparison.total},
            paths["xlsx"],
            metadata=meta,
        )
        if "gpkg" in paths:
            polygons = comparison.layer.geom_type.isin(["Polygon", "MultiPolygon"]).any()
            name = _LAYER_POLYGONS if polygons else _LAYER_POINTS
            write_layers({name: comparison.layer}, paths["gpkg"], metadata=meta)
    return paths
