"""A national-scale instance: response times stored only up to a cutoff.

A dense :class:`~planner.optimise.instance.Instance` holds every demand ×
site response time: 100,000 demand cells × 5,000 candidate sites is 4 GB of
float64, more than the optimiser should ask of one machine. A
:class:`SparseInstance` holds

* ``cost_s``: a ``scipy.sparse.csc_array`` of shape ``(n_demand, n_sites)``
  whose **stored entries** are the response times (s, turn-out included) of
  the pairs within ``cutoff_s``. A pair that is not stored is beyond the
  cutoff or unreachable, and the optimiser treats it as ``inf``: a site
  never serves a point from beyond the cutoff. Stored zeros are real times
  (never drop them);
* ``base_s``: the exact response time (s, no cutoff) from the nearest
  required site (existing station) to each point, and ``base_site``, which
  one. Required sites are always open, so every objective starts from these
  times, however far the existing stations are.

Memory is the number of stored pairs × 12 bytes. The cutoff must be at least
the model's threshold (MCLP, LSCP, MEXCLP); for p-median and maximum
survival a larger cutoff lets a new site improve points farther away (a new
unit more than ``cutoff_s`` from a point is assumed not to serve it). The
objective values reported for a solution are evaluated on these same times.

The heuristic (:func:`planner.optimise.solve_heuristic`: greedy, then swaps
in a VNS) runs on a sparse instance in candidate blocks, in process or on a
Dask cluster; the exact solver takes a sparse instance for MCLP (Benders
decomposition) and needs a dense one for the other models.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.errors import DataError, ParameterError
from planner.optimise.instance import (
    Instance,
    check_demand,
    check_sites,
    readonly,
    required_mask,
)

__all__ = ["AnyInstance", "SparseInstance", "make_sparse_instance"]


@dataclass(frozen=True)
class SparseInstance:
    """A facility-location instance with response times up to a cutoff.

    Attributes
    ----------
    cost_s
        ``(n_demand, n_sites)`` CSC array of response times, s (turn-out
        included), stored for the pairs within ``cutoff_s`` (stored zeros
        count); absent pairs are treated as unreachable (``inf``).
    cutoff_s
        Largest stored response time, s.
    base_s
        ``(n_demand,)`` exact response time, s, from the nearest required
        site, ``inf`` where none reaches the point (or there is none).
    base_site
        ``(n_demand,)`` index of that required site, -1 where none.
    weight, site_names, required, existing_units, demand_ids
        As in :class:`~planner.optimise.instance.Instance`.
    """

    cost_s: sp.csc_array
    cutoff_s: float
    base_s: np.ndarray
    base_site: np.ndarray
    weight: np.ndarray
    site_names: tuple[str, ...]
    required: np.ndarray
    existing_units: np.ndarray
    demand_ids: tuple[Hashable, ...]

    def __post_init__(self) -> None:
        cost = self.cost_s
        if not isinstance(cost, sp.csc_array | sp.csc_matrix):
            raise ParameterError(f"cost_s must be a scipy.sparse CSC array, got {type(cost)}")
        n_demand, n_sites = (int(n) for n in cost.shape)
        cutoff = float(self.cutoff_s)
        if not cutoff > 0:
            raise ParameterError(f"cutoff_s = {self.cutoff_s!r}: give a positive time, s")
        names, ids, weight = check_demand(
            self.site_names, self.demand_ids, self.weight, n_demand, n_sites
        )
        data = np.asarray(cost.data, dtype=np.float64)
        bad = np.flatnonzero(~(data >= 0) | (data > cutoff))
        if len(bad):
            k = int(bad[0])
            j = int(np.searchsorted(cost.indptr, k, side="right") - 1)
            i = int(cost.indices[k])
            raise DataError(
                f"cost_s holds {len(bad)} times that are NaN, negative or above the cutoff "
                f"({cutoff:g} s), first {float(data[k])!r} at demand {ids[i]!r} and "
                f"site {names[j]!r}"
            )
        required, units = check_sites(self.required, self.existing_units, names)
        base = np.asarray(self.base_s, dtype=np.float64)
        site = np.asarray(self.base_site)
        if base.shape != (n_demand,) or site.shape != (n_demand,):
            raise ParameterError(
                f"base_s and base_site need shape ({n_demand},), got {base.shape} and {site.shape}"
            )
        if np.isnan(base).any() or (base < 0).any():
            raise DataError("base_s holds NaN or negative times")
        if not np.issubdtype(site.dtype, np.integer):
            raise ParameterError("base_site must hold integer site indices")
        finite = np.isfinite(base)
        if (finite != (site >= 0)).any():
            raise ParameterError("base_site must be -1 exactly where base_s is inf")
        if finite.any() and not required[site[finite]].all():
            raise ParameterError("base_site must name required sites")
        index = np.int32 if max(len(data), n_demand) < 2**31 else np.int64  # 12 bytes a pair
        # views: the read-only flags set below must not reach the caller's arrays
        csc = sp.csc_array(
            (
                data.view(),
                np.asarray(cost.indices, dtype=index).view(),
                np.asarray(cost.indptr, dtype=index).view(),
            ),
            shape=(n_demand, n_sites),
        )
        if not csc.has_sorted_indices:
            csc = csc.copy()
            csc.sort_indices()
        for a in (csc.data, csc.indices, csc.indptr):
            a.flags.writeable = False
        object.__setattr__(self, "cost_s", csc)
        object.__setattr__(self, "cutoff_s", cutoff)
        object.__setattr__(self, "base_s", readonly(base))
        object.__setattr__(self, "base_site", readonly(site.astype(np.int64)))
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "site_names", names)
        object.__setattr__(self, "required", required)
        object.__setattr__(self, "existing_units", units)
        object.__setattr__(self, "demand_ids", ids)
        stored = np.bincount(csc.indices, minlength=n_demand) > 0
        object.__setattr__(self, "_reachable", readonly(np.isfinite(base) | stored))
        longest = max(float(data.max(initial=0.0)), float(base[finite].max(initial=0.0)))
        object.__setattr__(self, "_longest_s", longest)

    @property
    def n_demand(self) -> int:
        """Number of demand points."""
        return int(self.cost_s.shape[0])

    @property
    def n_sites(self) -> int:
        """Number of candidate sites (required ones included)."""
        return int(self.cost_s.shape[1])

    @property
    def longest_s(self) -> float:
        """Longest finite response time, s: stored or from a required site (0 if none)."""
        return self._longest_s  # type: ignore[attr-defined]

    @property
    def nbytes(self) -> int:
        """Memory of the stored times, bytes."""
        c = self.cost_s
        return int(c.data.nbytes + c.indices.nbytes + c.indptr.nbytes + 3 * self.base_s.nbytes)

    def entries(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and times, s, stored for site ``j``."""
        lo, hi = self.cost_s.indptr[j], self.cost_s.indptr[j + 1]
        return self.cost_s.indices[lo:hi], self.cost_s.data[lo:hi]

    def reachable(self) -> np.ndarray:
        """Bool per demand point: a required site reaches it, or a site within the cutoff."""
        return self._reachable  # type: ignore[attr-defined]

    def unreachable_demand(self) -> tuple[Hashable, ...]:
        """Ids of demand points no site reaches (within the cutoff); left out of every objective."""
        return tuple(self.demand_ids[i] for i in np.flatnonzero(~self.reachable()))

    def _check_mask(self, open_mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(open_mask, dtype=bool)
        if mask.shape != (self.n_sites,):
            raise ParameterError(f"open_mask needs {self.n_sites} booleans, got {mask.shape}")
        if (self.required & ~mask).any():
            raise ParameterError(
                "open_mask: a sparse instance keeps every required site open; "
                "its base times come from all of them"
            )
        return mask

    def open_times(self, open_mask: np.ndarray) -> np.ndarray:
        """Response time, s, from the nearest open site per point (``inf`` if none).

        ``open_mask`` must include every required site.
        """
        return self._open(open_mask)[0]

    def assignment(self, open_mask: np.ndarray) -> np.ndarray:
        """Index of the nearest open site per point, -1 if none; the lowest index among equals."""
        return self._open(open_mask)[1]

    def _open(self, open_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = self._check_mask(open_mask)
        t = self.base_s.copy()
        best = self.base_site.copy()
        for j in np.flatnonzero(mask & ~self.required):
            rows, c = self.entries(int(j))
            better = (c < t[rows]) | ((c == t[rows]) & (j < best[rows]))
            t[rows[better]] = c[better]
            best[rows[better]] = j
        return t, best

    def check_threshold(self, threshold_s: float | None) -> None:
        """Refuse a model threshold (s) above the cutoff: coverage beyond it is unknown."""
        if threshold_s is not None and threshold_s > self.cutoff_s:
            raise ParameterError(
                f"threshold {threshold_s / 60:g} min is above the sparse instance's cutoff "
                f"({self.cutoff_s / 60:g} min): rebuild it with a cutoff >= the threshold"
            )

    def within(self, threshold_s: float) -> sp.csc_array:
        """``(n_demand, n_sites)`` sparse 0/1: site j reaches point i within the threshold.

        Raises
        ------
        ParameterError
            If the threshold is above the cutoff (coverage beyond it is unknown).
        """
        self.check_threshold(threshold_s)
        c = self.cost_s
        keep = c.data <= threshold_s
        kept_before = np.r_[0, np.cumsum(keep, dtype=np.int64)]  # kept pairs before each pair
        indptr = kept_before[c.indptr]
        return sp.csc_array(
            (np.ones(int(keep.sum())), c.indices[keep], indptr), shape=(self.n_demand, self.n_sites)
        )


def make_sparse_instance(
    cost_s: Any,
    *,
    cutoff_s: float,
    base_s: Any = None,
    base_site: Any = None,
    weight: Any = None,
    site_names: Sequence[str] | None = None,
    required: Any = None,
    existing_units: Any = None,
    demand_ids: Sequence[Hashable] | None = None,
) -> SparseInstance:
    """Build a validated :class:`SparseInstance`.

    Parameters
    ----------
    cost_s
        ``(n_demand, n_sites)`` scipy sparse array of response times, s;
        stored entries within ``cutoff_s`` (larger stored times are dropped).
        Any sparse format; or a dense array with ``inf`` for unreachable
        pairs (tests and small runs).
    cutoff_s
        Largest response time kept, s.
    base_s, base_site
        Exact times, s, from the nearest required site and its index per
        demand point (give both). Default: computed from the required
        sites' stored entries (exact only where a required site is within
        the cutoff; farther points get ``inf``).
    weight, site_names, required, existing_units, demand_ids
        As in :func:`planner.optimise.make_instance`.

    Returns
    -------
    SparseInstance
    """
    csc: sp.csc_array | None = None
    if sp.issparse(cost_s):
        csc = sp.csc_array(cost_s)  # no copy for a CSC input
        if not (csc.data <= cutoff_s).all():  # keep only the pairs within the cutoff
            coo = csc.tocoo()
            rows, cols, data = coo.row, coo.col, np.asarray(coo.data, dtype=np.float64)
            csc = None
    else:
        dense = np.asarray(cost_s, dtype=np.float64)
        if dense.ndim != 2:
            raise ParameterError(f"cost_s must be 2-D (demand x sites), got shape {dense.shape}")
        rows, cols = np.nonzero(~(dense > cutoff_s))  # NaN kept: the instance names it
        data = dense[rows, cols]
    n_demand, n_sites = (int(n) for n in np.shape(cost_s))
    if csc is None:
        keep = ~(data > cutoff_s)  # NaN kept: the instance names it
        csc = sp.csc_array((data[keep], (rows[keep], cols[keep])), shape=(n_demand, n_sites))
    names = tuple(f"site_{j}" for j in range(n_sites)) if site_names is None else tuple(site_names)
    req = required_mask(required, names)
    if base_s is None:
        base = np.full(n_demand, np.inf)
        site = np.full(n_demand, -1, dtype=np.int64)
        for j in np.flatnonzero(req) if req.shape == (n_sites,) else ():
            lo, hi = csc.indptr[j], csc.indptr[j + 1]
            r, c = csc.indices[lo:hi], csc.data[lo:hi]
            better = c < base[r]
            base[r[better]] = c[better]
            site[r[better]] = j
    else:
        if base_site is None:
            raise ParameterError("base_s: give base_site (the required site of each time) too")
        base, site = np.asarray(base_s, dtype=np.float64), np.asarray(base_site)
    return SparseInstance(
        cost_s=csc,
        cutoff_s=cutoff_s,
        base_s=base,
        base_site=site,
        weight=np.ones(n_demand) if weight is None else weight,
        site_names=names,
        required=req,
        existing_units=np.zeros(n_sites, dtype=np.int64)
        if existing_units is None
        else existing_units,
        demand_ids=tuple(range(n_demand)) if demand_ids is None else tuple(demand_ids),
    )


#: What the models and the heuristic accept: a dense or a sparse instance.
AnyInstance = Instance | SparseInstance
