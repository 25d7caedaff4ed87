"""OR-Library p-median instances (Beasley 1985), to check the solvers on published optima.

J. E. Beasley's OR-Library holds 40 uncapacitated p-median test problems,
``pmed1.txt`` … ``pmed40.txt`` (n = 100–900 nodes, p = 5–200), and their
optimal p-median values (``pmedopt.txt``). Reference: J. E. Beasley, "A note
on solving large p-median problems", European Journal of Operational Research
21 (1985) 270–273. The same graphs are the standard benchmark of the vertex
p-center problem; :data:`PCENTER_OPTIMA` holds the published optimal radii.

Each file starts with ``n m p`` (nodes, edges, medians) followed by ``m``
lines ``i j cost``: an undirected edge between nodes i and j (1-based). Where
an edge is listed twice, the last copy holds (the OR-Library rule). The
distance between two nodes is the shortest-path distance over these edges;
every node is a demand point (weight 1) and a candidate site. Distances are
in the instance's own units, not seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from planner.errors import InputFileError, MissingFileError

__all__ = ["PCENTER_OPTIMA", "OrlibInstance", "read_orlib_optima", "read_orlib_pmed"]

#: Optimal vertex p-center radii of the 40 OR-Library pmed instances, as
#: tabulated by W. Pullan, "A memetic genetic algorithm for the vertex
#: p-center problem", Evolutionary Computation 16(3) (2008) 417–436 (proven
#: optimal by exact methods, e.g. Elloumi, Labbé & Pochet, INFORMS Journal on
#: Computing 16(1) (2004) 84–94). The test suite and
#: ``benchmarks/optimise.py`` reprove them with ``solve_exact``.
PCENTER_OPTIMA: dict[str, float] = {
    "pmed1": 127, "pmed2": 98, "pmed3": 93, "pmed4": 74, "pmed5": 48,
    "pmed6": 84, "pmed7": 64, "pmed8": 55, "pmed9": 37, "pmed10": 20,
    "pmed11": 59, "pmed12": 51, "pmed13": 36, "pmed14": 26, "pmed15": 18,
    "pmed16": 47, "pmed17": 39, "pmed18": 28, "pmed19": 18, "pmed20": 13,
    "pmed21": 40, "pmed22": 38, "pmed23": 22, "pmed24": 15, "pmed25": 11,
    "pmed26": 38, "pmed27": 32, "pmed28": 18, "pmed29": 13, "pmed30": 9,
    "pmed31": 30, "pmed32": 29, "pmed33": 15, "pmed34": 11, "pmed35": 30,
    "pmed36": 27, "pmed37": 15, "pmed38": 29, "pmed39": 23, "pmed40": 13,
}  # fmt: skip


@dataclass(frozen=True)
class OrlibInstance:
    """One OR-Library p-median problem.

    Attributes
    ----------
    name
        File name without extension, e.g. ``"pmed1"``.
    p
        Number of medians (centres) to open.
    distance
        ``(n, n)`` read-only shortest-path distances between the nodes, in the
        instance's units; ``inf`` between nodes the edges do not connect.
    """

    name: str
    p: int
    distance: np.ndarray

    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.distance.shape[0])


def _numbers(path: Path, line_no: int, line: str, count: int) -> list[float]:
    parts = line.split()
    try:
        values = [float(v) for v in parts]
    except ValueError:
        values = []
    if len(values) != count:
        raise InputFileError(f"{path}: line {line_no}: expected {count} numbers, got {line!r}")
    return values


def read_orlib_pmed(path: Path | str) -> OrlibInstance:
    """Read an OR-Library ``pmedN.txt`` file and compute its shortest-path distances.

    Parameters
    ----------
    path
        The instance file.

    Returns
    -------
    OrlibInstance

    Raises
    ------
    MissingFileError
        The file does not exist.
    InputFileError
        A line is not ``n m p`` / ``i j cost``, a node is out of range, a
        cost is negative, or edges are missing.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such OR-Library file")
    lines = [(k, s) for k, s in enumerate(path.read_text().splitlines(), start=1) if s.strip()]
    if not lines:
        raise InputFileError(f"{path}: empty file")
    n, m, p = (int(v) for v in _numbers(path, *lines[0], 3))
    if len(lines) - 1 < m:
        raise InputFileError(
            f"{path}: the header promises {m} edges, the file has {len(lines) - 1}"
        )
    edges: dict[tuple[int, int], float] = {}
    for k, line in lines[1 : m + 1]:
        i, j, c = _numbers(path, k, line, 3)
        if not (1 <= i <= n and 1 <= j <= n) or c < 0:
            raise InputFileError(f"{path}: line {k}: bad edge {line.strip()!r} (n = {n})")
        edges[(int(min(i, j)) - 1, int(max(i, j)) - 1)] = c  # the last copy holds
    ij = np.array(list(edges), dtype=np.int64).reshape(-1, 2)
    cost = np.array(list(edges.values()), dtype=np.float64)
    graph = sp.csr_array((cost, (ij[:, 0], ij[:, 1])), shape=(n, n))
    distance = shortest_path(graph, method="D", directed=False)
    distance.flags.writeable = False
    return OrlibInstance(name=path.stem, p=p, distance=distance)


def read_orlib_optima(path: Path | str) -> dict[str, float]:
    """Read ``pmedopt.txt``: instance name -> optimal p-median value.

    Raises
    ------
    MissingFileError, InputFileError
        The file does not exist or holds no ``pmedN value`` line.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such OR-Library file")
    optima: dict[str, float] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("pmed"):
            optima[parts[0]] = float(parts[1])
    if not optima:
        raise InputFileError(f"{path}: no 'pmedN value' lines")
    return optima
