"""A MultiDiGraph and numeric tables as Parquet files that cannot run code when read.

:func:`save_graph` writes ``nodes.parquet`` (node id and every node
attribute), ``edges.parquet`` (``u``, ``v``, ``key`` and every edge
attribute) and ``graph.json`` (graph attributes and how each attribute is
stored). An attribute is stored in a typed column when its values are of one
type:

``bool``, ``int64``, ``float64``, ``str``
    Python (or numpy) values of that type; read back as ``bool``, ``int``,
    ``float`` (NaN kept) and ``str``.
``wkb``
    Shapely geometries, as WKB (coordinates bit for bit).

Values of any other type (OSMnx's lists of merged values, ``None``) go to a
second column of JSON texts; an attribute whose values are mostly of one
type (``osmid``: whole numbers, some lists) keeps those in the typed column
and only the rest in JSON. A cell that is null in both columns means the
element does not have the attribute, so each node and edge gets back exactly
the attributes it had, with equal values of the same types, in the same order
of nodes and edges. Each file records the cache key it was made for (Parquet
key-value metadata ``planner_cache_key``), and a read checks it. Nothing here
uses pickle, and Parquet is read column by column into plain values (no
pandas metadata, no extension types).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
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

#: Python types stored in a typed column, by encoding.
_SCALARS: dict[str, tuple[type, ...]] = {
    "bool": (bool, np.bool_),
    "int64": (int, np.int64, np.int32),
    "float64": (float, np.float64),
    "str": (str,),
}
_ARROW_TYPES = {
    "bool": pa.bool_(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "str": pa.string(),
    "wkb": pa.binary(),
}


class GraphFileError(ValueError):
    """A graph or table file is not one this module wrote for the expected key."""


def _plain(value: Any) -> Any:
    """JSON fallback: numpy scalars as Python values; anything else is not storable."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} value {value!r} cannot be stored in the cache")


def _typed(encoding: str, value: Any) -> bool:
    """Whether ``value`` is stored exactly in a column of ``encoding``."""
    if encoding == "wkb":
        return isinstance(value, BaseGeometry)
    if type(value) not in _SCALARS[encoding]:
        return False
    return encoding != "int64" or _INT64[0] <= value <= _INT64[1]


def _kind(kind: type) -> str | None:
    """The typed encoding that holds values of Python type ``kind``, if any."""
    if issubclass(kind, BaseGeometry):
        return "wkb"
    return next((encoding for encoding, types in _SCALARS.items() if kind in types), None)


def _choose(values: Sequence[Any]) -> tuple[str | None, list[bool] | None]:
    """The typed encoding for most of ``values``, or ``None``, and which values it holds.

    The second item is ``None`` when the typed column holds every value.
    """
    kinds = Counter(map(type, values))
    counts: Counter[str] = Counter()
    for kind, count in kinds.items():
        encoding = _kind(kind)
        if encoding is not None:
            counts[encoding] += count
    if not counts:
        return None, [False] * len(values)
    encoding = counts.most_common(1)[0][0]
    uniform = all(_kind(kind) == encoding for kind in kinds)
    if uniform and encoding == "int64":
        uniform = _INT64[0] <= min(values) and max(values) <= _INT64[1]
    if uniform:
        return encoding, None
    return encoding, [_typed(encoding, v) for v in values]


def _sparse(rows: Sequence[dict[str, Any]]) -> dict[str, tuple[list[int], list[Any]]]:
    """Per attribute (in order of first appearance): the rows that have it and its values."""
    columns: dict[str, tuple[list[int], list[Any]]] = {}
    for i, row in enumerate(rows):
        for name, value in row.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = ([], [])
            column[0].append(i)
            column[1].append(value)
    return columns


def _arrow(n: int, rows: list[int], values: list[Any], encoding: str) -> pa.Array:
    """A column of ``n`` cells, ``values`` at ``rows`` and null elsewhere."""
    at = np.asarray(rows, dtype=np.int64)
    missing = np.ones(n, dtype=bool)
    missing[at] = False
    if encoding in ("bool", "int64", "float64"):
        dtype = {"bool": bool, "int64": np.int64, "float64": np.float64}[encoding]
        full = np.zeros(n, dtype=dtype)
        full[at] = np.asarray(values, dtype=dtype)
        return pa.array(full, mask=missing, type=_ARROW_TYPES[encoding])  # NaN stays a value
    cells = np.full(n, None, dtype=object)
    if encoding == "wkb":
        cells[at] = shapely.to_wkb(np.asarray(values, dtype=object))
    else:
        cells[at] = np.asarray(values, dtype=object)
    return pa.array(cells, type=_ARROW_TYPES.get(encoding, pa.string()), from_pandas=False)


def _attribute_table(
    ids: dict[str, pa.Array], rows: Sequence[dict[str, Any]]
) -> tuple[dict[str, pa.Array], list[list[Any]]]:
    """Arrow columns of the attribute dicts ``rows``, and how each attribute is stored.

    Each attribute is ``[name, typed encoding or None, JSON column or None]``.
    """
    n = len(rows)
    columns = dict(ids)
    layout: list[list[Any]] = []
    sparse = _sparse(rows)
    for number, (name, (at, values)) in enumerate(sparse.items()):
        if not isinstance(name, str) or name in ids or name.startswith("__json_"):
            raise TypeError(f"attribute name {name!r} cannot be stored in the cache")
        encoding, typed = _choose(values)
        json_column = None
        if typed is None:
            assert encoding is not None
            columns[name] = _arrow(n, at, values, encoding)
        else:
            if encoding is not None:
                keep = [i for i, t in enumerate(typed) if t]
                typed_at, typed_values = [at[i] for i in keep], [values[i] for i in keep]
                columns[name] = _arrow(n, typed_at, typed_values, encoding)
            rest = [i for i, t in enumerate(typed) if not t]
            text = [json.dumps(values[i], default=_plain, allow_nan=True) for i in rest]
            json_column = f"__json_{number}"
            columns[json_column] = _arrow(n, [at[i] for i in rest], text, "json")
        layout.append([name, encoding, json_column])
    return columns, layout


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


def _present(column: pa.ChunkedArray) -> tuple[list[int], pa.Array]:
    """The rows where ``column`` is not null, and its values there."""
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    return np.flatnonzero(valid).tolist(), column.drop_null()


def _rows(table: pa.Table, layout: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The attribute dict of every row: only the attributes present in it, in column order."""
    rows: list[dict[str, Any]] = [{} for _ in range(table.num_rows)]
    for name, encoding, json_column in layout:
        parts = []
        if encoding is not None:
            at, present = _present(table.column(name))
            if encoding == "wkb":
                values = list(shapely.from_wkb(present.to_numpy(zero_copy_only=False)))
            else:
                values = present.to_pylist()
            parts.append((at, values))
        if json_column is not None:
            at, present = _present(table.column(json_column))
            parts.append((at, json.loads("[" + ",".join(present.to_pylist()) + "]")))
        if len(parts) == 2 and set(parts[0][0]) & set(parts[1][0]):
            raise GraphFileError(f"attribute {name!r} has two values in one row")
        for at, values in parts:
            for i, value in zip(at, values, strict=True):
                rows[i][name] = value
    return rows


def _columns(layout: Sequence[Sequence[Any]]) -> dict[str, pa.DataType]:
    """The Parquet columns (and their types) that ``layout`` says a file has."""
    out: dict[str, pa.DataType] = {}
    for name, encoding, json_column in layout:
        if encoding is not None:
            out[name] = _ARROW_TYPES[encoding]
        if json_column is not None:
            out[json_column] = pa.string()
    return out


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
    if not all(_typed("int64", n) for n in node_ids):
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


def _layout(doc: dict[str, Any], part: str) -> list[list[Any]]:
    """How ``graph.json`` says each attribute of ``part`` is stored, checked."""
    layout = doc.get(part)
    ok = isinstance(layout, list) and all(
        isinstance(e, list)
        and len(e) == 3
        and isinstance(e[0], str)
        and (e[1] is None or e[1] in _ARROW_TYPES)
        and (e[2] is None or (isinstance(e[2], str) and e[2].startswith("__json_")))
        and (e[1], e[2]) != (None, None)
        for e in layout
    )
    if not ok:
        raise GraphFileError(f"graph.json: bad layout of the {part}")
    return layout  # type: ignore[return-value]


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
    node_enc, edge_enc = _layout(doc, "nodes"), _layout(doc, "edges")
    if not isinstance(doc.get("graph"), dict):
        raise GraphFileError("graph.json: no graph attributes")
    nodes = _read_parquet(folder / "nodes.parquet", key, {"node": pa.int64(), **_columns(node_enc)})
    edges = _read_parquet(
        folder / "edges.parquet",
        key,
        {n: pa.int64() for n in ("u", "v", "key")} | _columns(edge_enc),
    )
    if doc.get("counts") != [nodes.num_rows, edges.num_rows]:
        raise GraphFileError("graph.json and the Parquet files disagree on the counts")
    ends = [edges.column(n) for n in ("u", "v", "key")]
    if any(end.null_count for end in ends):
        raise GraphFileError("edges.parquet has edges without ends")
    if pd.DataFrame({n: e.to_numpy() for n, e in zip("uvk", ends, strict=True)}).duplicated().any():
        raise GraphFileError("edges.parquet repeats an edge")
    graph = nx.MultiDiGraph(**doc["graph"])
    graph.add_nodes_from(zip(nodes.column("node").to_pylist(), _rows(nodes, node_enc), strict=True))
    u, v, k = (end.to_pylist() for end in ends)
    if graph.number_of_nodes() != nodes.num_rows:
        raise GraphFileError("nodes.parquet repeats a node")
    known = set(graph)
    if not (known.issuperset(u) and known.issuperset(v)):
        raise GraphFileError("edges.parquet has an edge to a node that is not in nodes.parquet")
    graph.add_edges_from(zip(u, v, k, _rows(edges, edge_enc), strict=True))
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
