"""A MultiDiGraph and numeric tables as Parquet files that cannot run code when read.

:func:`save_graph` writes ``nodes.parquet`` (node id and every node
attribute), ``edges.parquet`` (``u``, ``v``, ``key`` and every edge
attribute) and ``graph.json`` (graph attributes and how each column is
encoded). Every attribute becomes one column, in one of these encodings:

``bool``, ``int64``, ``float64``, ``str``
    Every value of the attribute is of that Python (or numpy) type; read
    back as ``bool``, ``int``, ``float`` (NaN kept) and ``str``.
``wkb``
    Shapely geometries, as WKB (coordinates bit for bit).
``json``
    Anything else (OSMnx's lists of merged values, mixed types, ``None``):
    one JSON text per value.

A null cell means the element does not have the attribute, so each node and
edge gets back exactly the attributes it had, with equal values of the same
types, in the same order of nodes and edges. Each file records the cache key
it was made for (Parquet key-value metadata ``planner_cache_key``), and a
read checks it. Nothing here uses pickle, and Parquet is read column by
column into plain values (no pandas metadata, no extension types).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["load_frame", "load_graph", "save_frame", "save_graph"]

_KEY_FIELD = b"planner_cache_key"
_INT64 = (-(2**63), 2**63 - 1)
_ABSENT = object()


class GraphFileError(ValueError):
    """A graph or table file is not one this module wrote for the expected key."""


def _plain(value: Any) -> Any:
    """JSON fallback: numpy scalars as Python values; anything else is not storable."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} value {value!r} cannot be stored in the cache")


def _encoding(values: Sequence[Any]) -> str:
    """The column encoding of an attribute's present values (see the module docstring)."""
    kinds = {type(v) for v in values}
    if kinds <= {bool, np.bool_}:
        return "bool"
    if kinds <= {int, np.int64, np.int32} and all(_INT64[0] <= v <= _INT64[1] for v in values):
        return "int64"
    if kinds <= {float, np.float64}:
        return "float64"
    if kinds <= {str}:
        return "str"
    if all(isinstance(v, BaseGeometry) for v in values):
        return "wkb"
    return "json"


def _column(values: list[Any], encoding: str) -> pa.Array:
    """One Arrow column; ``_ABSENT`` entries become nulls."""
    absent = np.fromiter((v is _ABSENT for v in values), dtype=bool, count=len(values))
    if encoding == "float64":
        filled = np.array([0.0 if v is _ABSENT else v for v in values], dtype=np.float64)
        return pa.array(filled, mask=absent, type=pa.float64())  # NaN stays a value
    present = [None if v is _ABSENT else v for v in values]
    if encoding == "bool":
        return pa.array([None if v is None else bool(v) for v in present], type=pa.bool_())
    if encoding == "int64":
        return pa.array([None if v is None else int(v) for v in present], type=pa.int64())
    if encoding == "str":
        return pa.array(present, type=pa.string())
    if encoding == "wkb":
        wkb = shapely.to_wkb(np.array(present, dtype=object))
        return pa.array(list(wkb), type=pa.binary())
    text = [None if v is _ABSENT else json.dumps(v, default=_plain, allow_nan=True) for v in values]
    return pa.array(text, type=pa.string())


def _values(column: pa.ChunkedArray, encoding: str) -> tuple[np.ndarray, list[Any]]:
    """Which cells are present (not null), and the column as Python values."""
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    if encoding == "float64":
        raw: list[Any] = column.fill_null(0.0).to_numpy().tolist()
    elif encoding == "wkb":
        raw = list(shapely.from_wkb(np.array(column.to_pylist(), dtype=object)))
    elif encoding == "json":
        raw = [None if t is None else json.loads(t) for t in column.to_pylist()]
    elif encoding in ("bool", "int64", "str"):
        raw = column.to_pylist()
    else:
        raise GraphFileError(f"unknown column encoding {encoding!r}")
    return valid, raw


_ARROW_TYPES = {
    "bool": pa.bool_(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "str": pa.string(),
    "wkb": pa.binary(),
    "json": pa.string(),
}


def _attribute_table(
    ids: dict[str, pa.Array], rows: Sequence[dict[str, Any]]
) -> tuple[dict[str, pa.Array], list[list[str]]]:
    """Arrow columns of the attribute dicts ``rows``, in order of first appearance."""
    names: dict[str, None] = {}
    for row in rows:
        for name in row:
            names.setdefault(name, None)
    columns = dict(ids)
    encodings = []
    for name in names:
        if not isinstance(name, str) or name in columns:
            raise TypeError(f"attribute name {name!r} cannot be stored in the cache")
        values = [row.get(name, _ABSENT) for row in rows]
        encoding = _encoding([v for v in values if v is not _ABSENT])
        columns[name] = _column(values, encoding)
        encodings.append([name, encoding])
    return columns, encodings


def _write_parquet(columns: dict[str, pa.Array], path: Path, key: str) -> None:
    table = pa.table(columns).replace_schema_metadata({_KEY_FIELD: key.encode()})
    pq.write_table(table, path)


def _read_parquet(path: Path, key: str, expected: dict[str, pa.DataType] | None) -> pa.Table:
    """Read a Parquet file written for ``key`` whose columns have the expected types."""
    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    if meta.get(_KEY_FIELD) != key.encode():
        raise GraphFileError(f"{path.name} was written for another cache key")
    if expected is None:
        return table
    for name, kind in expected.items():
        if name not in table.column_names or table.schema.field(name).type != kind:
            raise GraphFileError(f"{path.name}: column {name!r} is missing or of another type")
    if set(table.column_names) != set(expected):
        raise GraphFileError(f"{path.name}: unexpected columns")
    return table


def _rows(table: pa.Table, encodings: Iterable[Sequence[str]]) -> list[dict[str, Any]]:
    """The attribute dict of every row: only the attributes present in it, in column order."""
    rows: list[dict[str, Any]] = [{} for _ in range(table.num_rows)]
    for name, encoding in encodings:
        valid, raw = _values(table.column(name), encoding)
        if valid.all():
            for row, value in zip(rows, raw, strict=True):
                row[name] = value
        else:
            for i in np.flatnonzero(valid).tolist():
                rows[i][name] = raw[i]
    return rows


def save_graph(graph: nx.MultiDiGraph, folder: Path, *, key: str) -> None:
    """Write ``graph`` as ``nodes.parquet``, ``edges.parquet`` and ``graph.json`` in ``folder``.

    Raises
    ------
    TypeError
        If an id, attribute name or value cannot be stored exactly (nothing
        OSMnx or planner puts on a graph).
    """
    if not isinstance(graph, nx.MultiDiGraph):
        raise TypeError(f"a {type(graph).__name__} is not stored; only a MultiDiGraph")
    node_ids = list(graph.nodes)
    if _encoding(node_ids) != "int64" and node_ids:
        raise TypeError("node ids must be whole numbers to be cached")
    nodes, node_enc = _attribute_table(
        {"node": pa.array(node_ids, type=pa.int64())}, [d for _, d in graph.nodes(data=True)]
    )
    edges = list(graph.edges(keys=True, data=True))
    ends = {
        name: pa.array([e[i] for e in edges], type=pa.int64())
        for i, name in enumerate(("u", "v", "key"))
    }
    edge_cols, edge_enc = _attribute_table(ends, [d for *_, d in edges])
    doc = {
        "key": key,
        "graph": graph.graph,
        "nodes": node_enc,
        "edges": edge_enc,
        "counts": [len(node_ids), len(edges)],
    }
    text = json.dumps(doc, default=_plain, allow_nan=True, indent=1)
    _write_parquet(nodes, folder / "nodes.parquet", key)
    _write_parquet(edge_cols, folder / "edges.parquet", key)
    (folder / "graph.json").write_text(text, encoding="utf-8")


def _encodings(doc: dict[str, Any], part: str) -> list[list[str]]:
    encodings = doc.get(part)
    ok = isinstance(encodings, list) and all(
        isinstance(e, list) and len(e) == 2 and e[1] in _ARROW_TYPES for e in encodings
    )
    if not ok:
        raise GraphFileError(f"graph.json: bad {part} encodings")
    return encodings  # type: ignore[return-value]


def load_graph(folder: Path, *, key: str) -> nx.MultiDiGraph:
    """Read a graph written by :func:`save_graph` for ``key``.

    Raises
    ------
    GraphFileError
        If a file was written for another key or is not laid out as expected.
    """
    doc = json.loads((folder / "graph.json").read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("key") != key:
        raise GraphFileError("graph.json was written for another cache key")
    node_enc, edge_enc = _encodings(doc, "nodes"), _encodings(doc, "edges")
    nodes = _read_parquet(
        folder / "nodes.parquet",
        key,
        {"node": pa.int64(), **{n: _ARROW_TYPES[e] for n, e in node_enc}},
    )
    edges = _read_parquet(
        folder / "edges.parquet",
        key,
        {n: pa.int64() for n in ("u", "v", "key")} | {n: _ARROW_TYPES[e] for n, e in edge_enc},
    )
    if doc.get("counts") != [nodes.num_rows, edges.num_rows]:
        raise GraphFileError("graph.json and the Parquet files disagree on the counts")
    if edges.column("u").null_count or edges.column("v").null_count:
        raise GraphFileError("edges.parquet has edges without ends")
    graph = nx.MultiDiGraph(**doc["graph"])
    graph.add_nodes_from(zip(nodes.column("node").to_pylist(), _rows(nodes, node_enc), strict=True))
    ends = [edges.column(n).to_pylist() for n in ("u", "v", "key")]
    known = set(graph)
    if not known.issuperset(ends[0]) or not known.issuperset(ends[1]):
        raise GraphFileError("edges.parquet has an edge to a node that is not in nodes.parquet")
    graph.add_edges_from(zip(*ends, _rows(edges, edge_enc), strict=True))
    if graph.number_of_edges() != edges.num_rows:
        raise GraphFileError("edges.parquet repeats an edge")
    return graph


def save_frame(frame: pd.DataFrame, path: Path, *, key: str) -> None:
    """Write a table of numeric and text columns (its index is not kept) as Parquet."""
    columns = {}
    for name in frame.columns:
        if not isinstance(name, str):
            raise TypeError(f"column name {name!r} cannot be stored in the cache")
        series = frame[name]
        if series.dtype.kind not in "biuf" and not pd.api.types.is_string_dtype(series):
            raise TypeError(f"column {name!r} of dtype {series.dtype} cannot be stored")
        columns[name] = pa.array(series.to_numpy(), from_pandas=False)
    _write_parquet(columns, path, key)


def load_frame(path: Path, *, key: str) -> pd.DataFrame:
    """Read a table written by :func:`save_frame` for ``key`` (numpy dtypes, a RangeIndex)."""
    table = _read_parquet(path, key, None)
    data = {}
    for name in table.column_names:
        column = table.column(name)
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
            if column.null_count:
                raise GraphFileError(f"{path.name}: column {name!r} has nulls")
            data[name] = column.to_numpy()
        elif pa.types.is_string(kind):
            data[name] = np.array(column.to_pylist(), dtype=object)
        else:
            raise GraphFileError(f"{path.name}: column {name!r} is of type {kind}")
    return pd.DataFrame(data)
