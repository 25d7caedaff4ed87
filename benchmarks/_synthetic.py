"""SYNTHETIC road networks for benchmarks (not real roads, not real data).

:func:`make_synthetic_network` builds a large, road-like, strongly connected
OSMnx-style ``MultiDiGraph`` quickly with numpy, so that travel-time code can
be timed at the scale of a large Swedish region (hundreds of thousands of
nodes) on a machine without internet. Nothing in it is derived from
OpenStreetMap or any other source: every graph it returns carries the graph
attributes ``synthetic=True`` and a ``name`` starting with ``"SYNTHETIC"``,
and every edge has ``highway`` set to ``"synthetic_arterial"`` or
``"synthetic_local"``. Never present results on it as results for a real
place.

The layout is a perturbed square grid:

* nodes about 150 m apart in SWEREF 99 TM (EPSG:3006) metres, from an origin
  near Stockholm (x = 650 000, y = 6 600 000), each moved by up to ±40 m;
* a random spanning tree of the grid is always kept, in both directions, so
  the graph is strongly connected by construction; of the other local grid
  edges about 30 % are removed and about 5 % of the rest become one-way
  (either direction);
* every 10th row and column is an arterial (70–90 km/h, one speed per line,
  never removed, always two-way); local streets get 30–50 km/h per edge;
* every edge has ``length`` (m, Euclidean between its end nodes),
  ``speed_kph`` (km/h) and ``travel_time`` (s, ``length / speed``).

Node ids are ``1_000_000_000 + row-major position`` (so they look like OSM
ids and never collide with small test ids).
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import minimum_spanning_tree

__all__ = ["SYNTHETIC_ORIGIN", "make_synthetic_network"]

#: South-west corner of every synthetic grid, EPSG:3006 metres (near Stockholm).
SYNTHETIC_ORIGIN = (650_000.0, 6_600_000.0)

_SPACING_M = 150.0
_JITTER_M = 40.0
_ARTERIAL_EVERY = 10
_REMOVE_FRACTION = 0.30
_ONEWAY_FRACTION = 0.05
_ID_OFFSET = 1_000_000_000


def make_synthetic_network(n_nodes: int, *, seed: int = 0) -> nx.MultiDiGraph:
    """A SYNTHETIC road-like, strongly connected network of exactly ``n_nodes`` nodes.

    Parameters
    ----------
    n_nodes
        Number of nodes (>= 4). The grid has ``floor(sqrt(n_nodes))`` columns
        and as many rows as needed; the last row may be partial.
    seed
        Seed of every random choice (same seed, same graph).

    Returns
    -------
    networkx.MultiDiGraph
        Nodes with ``x``, ``y`` (m, EPSG:3006); edges with ``length`` (m),
        ``speed_kph``, ``travel_time`` (s), ``highway``, ``oneway``; graph
        attributes ``crs="EPSG:3006"``, ``synthetic=True`` and ``name``.
    """
    if n_nodes < 4:
        raise ValueError(f"n_nodes = {n_nodes}: need at least 4 nodes")
    rng = np.random.default_rng(seed)
    n_cols = math.isqrt(n_nodes)
    idx = np.arange(n_nodes, dtype=np.int64)
    row, col = np.divmod(idx, n_cols)

    x = SYNTHETIC_ORIGIN[0] + col * _SPACING_M + rng.uniform(-_JITTER_M, _JITTER_M, n_nodes)
    y = SYNTHETIC_ORIGIN[1] + row * _SPACING_M + rng.uniform(-_JITTER_M, _JITTER_M, n_nodes)

    # undirected grid edges (a < b): horizontal, then vertical
    h = idx[(col < n_cols - 1) & (idx + 1 < n_nodes)]
    v = idx[idx + n_cols < n_nodes]
    a = np.concatenate([h, v])
    b = np.concatenate([h + 1, v + n_cols])
    horizontal = np.zeros(len(a), dtype=bool)
    horizontal[: len(h)] = True
    # an edge lies on an arterial line if it runs along an arterial row/column
    line_row = row[a]
    line_col = col[a]
    arterial = np.where(
        horizontal, line_row % _ARTERIAL_EVERY == 0, line_col % _ARTERIAL_EVERY == 0
    )

    # random spanning tree (minimum spanning tree of random weights): always kept
    m = len(a)
    weights = rng.uniform(1.0, 2.0, m)
    tree = minimum_spanning_tree(sp.coo_array((weights, (a, b)), shape=(n_nodes, n_nodes)))
    tree = sp.coo_array(tree)
    in_tree = np.zeros(m, dtype=bool)
    keys = a * n_nodes + b
    order = np.argsort(keys)
    tu, tv = np.minimum(tree.row, tree.col), np.maximum(tree.row, tree.col)
    in_tree[order[np.searchsorted(keys[order], tu.astype(np.int64) * n_nodes + tv)]] = True

    optional = ~in_tree & ~arterial
    removed = optional & (rng.random(m) < _REMOVE_FRACTION)
    keep = ~removed
    oneway = optional & keep & (rng.random(m) < _ONEWAY_FRACTION)
    flip = rng.random(m) < 0.5  # direction of a one-way edge

    a, b = a[keep], b[keep]
    arterial, oneway, flip = arterial[keep], oneway[keep], flip[keep]
    horizontal = horizontal[keep]
    m = len(a)

    # speeds: one per arterial line, one per local edge
    n_lines = max(int(row.max()), n_cols) + 1
    line_speed_h = rng.uniform(70.0, 90.0, n_lines)
    line_speed_v = rng.uniform(70.0, 90.0, n_lines)
    speed = rng.uniform(30.0, 50.0, m)
    speed = np.where(
        arterial,
        np.where(horizontal, line_speed_h[row[a]], line_speed_v[col[a]]),
        speed,
    )
    length = np.hypot(x[a] - x[b], y[a] - y[b])
    travel = length / (speed / 3.6)

    # directed edges: two-way edges both ways, one-way edges in one direction
    two = ~oneway
    fwd = two | (oneway & ~flip)
    bwd = two | (oneway & flip)
    src = np.concatenate([a[fwd], b[bwd]])
    dst = np.concatenate([b[fwd], a[bwd]])
    sel = np.concatenate([np.flatnonzero(fwd), np.flatnonzero(bwd)])

    node_ids = idx + _ID_OFFSET
    graph = nx.MultiDiGraph(
        crs="EPSG:3006",
        synthetic=True,
        name=f"SYNTHETIC perturbed grid, {n_nodes} nodes, seed {seed}",
    )
    graph.add_nodes_from(
        (int(i), {"x": float(px), "y": float(py)})
        for i, px, py in zip(node_ids.tolist(), x.tolist(), y.tolist(), strict=True)
    )
    hw = np.where(arterial, "synthetic_arterial", "synthetic_local")
    graph.add_edges_from(
        (
            u,
            w,
            0,
            {
                "length": ln,
                "speed_kph": sk,
                "travel_time": tt,
                "highway": hy,
                "oneway": ow,
            },
        )
        for u, w, ln, sk, tt, hy, ow in zip(
            (src + _ID_OFFSET).tolist(),
            (dst + _ID_OFFSET).tolist(),
            length[sel].tolist(),
            speed[sel].tolist(),
            travel[sel].tolist(),
            hw[sel].tolist(),
            oneway[sel].tolist(),
            strict=True,
        )
    )
    return graph


if __name__ == "__main__":  # pragma: no cover - manual check
    import sys
    import time

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    t0 = time.perf_counter()
    g = make_synthetic_network(size)
    dt = time.perf_counter() - t0
    print(
        f"{g.graph['name']}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges, {dt:.1f} s"
    )
    print("strongly connected:", nx.is_strongly_connected(g))
