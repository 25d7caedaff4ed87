"""The optimiser's view of a region: a response-time matrix and demand weights.

The cost matrix is the only thing the optimiser sees of the road network. It
comes from :func:`planner.network.travel_times.point_times` (transposed, with the
turn-out time added): response times in seconds, ``inf`` where a site cannot
reach a demand point, never NaN.

Demand points that *no* candidate site reaches at all (a row of ``inf``) are
reported by :meth:`Instance.unreachable_demand` and excluded from every
objective: no choice of sites can change how they are served, so counting
them would only shift every objective by the same constant (or make p-center
meaningless).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import DataError, ParameterError

__all__ = ["Instance", "check_demand", "check_sites", "make_instance", "required_mask"]


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class Instance:
    """A facility-location instance.

    Attributes
    ----------
    cost_s
        ``(n_demand, n_sites)`` response times, s (turn-out included);
        ``inf`` where the site cannot reach the demand point.
    weight
        ``(n_demand,)`` demand weight (people, calls ...), finite, >= 0.
    site_names
        One unique name per candidate site.
    required
        ``(n_sites,)`` bool: existing stations, always open.
    existing_units
        ``(n_sites,)`` int >= 0: units already standing at each site (MEXCLP).
    demand_ids
        One identifier per demand point, used in messages.
    """

    cost_s: np.ndarray
    weight: np.ndarray
    site_names: tuple[str, ...]
    required: np.ndarray
    existing_units: np.ndarray
    demand_ids: tuple[Hashable, ...]

    def __post_init__(self) -> None:
        cost = np.asarray(self.cost_s, dtype=np.float64)
        if cost.ndim != 2:
            raise ParameterError(f"cost_s must be 2-D (demand x sites), got shape {cost.shape}")
        n_demand, n_sites = cost.shape
        names, ids, weight = check_demand(
            self.site_names, self.demand_ids, self.weight, n_demand, n_sites
        )
        nan = np.argwhere(np.isnan(cost))
        if len(nan):
            i, j = nan[0]
            raise DataError(
                f"cost_s holds NaN ({len(nan)} pairs), first at demand {ids[i]!r} and site "
                f"{names[j]!r}; unreachable pairs must be inf"
            )
        neg = np.argwhere(cost < 0)
        if len(neg):
            i, j = neg[0]
            raise DataError(
                f"cost_s holds negative times ({len(neg)} pairs), first "
                f"{cost[i, j]:g} s at demand {ids[i]!r} and site {names[j]!r}"
            )
        required, units = check_sites(self.required, self.existing_units, names)
        object.__setattr__(self, "cost_s", _readonly(cost))
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "site_names", names)
        object.__setattr__(self, "required", required)
        object.__setattr__(self, "existing_units", units)
        object.__setattr__(self, "demand_ids", ids)
        longest = float(np.max(cost, where=np.isfinite(cost), initial=0.0))
        object.__setattr__(self, "_longest_s", longest)

    @property
    def longest_s(self) -> float:
        """Longest finite response time, s, in ``cost_s`` (0 if there is none)."""
        return self._longest_s  # type: ignore[attr-defined]

    @property
    def n_demand(self) -> int:
        """Number of demand points."""
        return int(self.cost_s.shape[0])

    @property
    def n_sites(self) -> int:
        """Number of candidate sites (required ones included)."""
        return int(self.cost_s.shape[1])

    def reachable(self) -> np.ndarray:
        """Bool per demand point: some candidate site reaches it (finite cost)."""
        return np.isfinite(self.cost_s).any(axis=1)

    def unreachable_demand(self) -> tuple[Hashable, ...]:
        """Ids of demand points no candidate site reaches; excluded from every objective."""
        return tuple(self.demand_ids[i] for i in np.flatnonzero(~self.reachable()))

    def within(self, threshold_s: float) -> np.ndarray:
        """``(n_demand, n_sites)`` float 0/1: site j reaches point i within the threshold (s)."""
        return (self.cost_s <= threshold_s).astype(np.float64)

    def open_times(self, open_mask: np.ndarray) -> np.ndarray:
        """Response time, s, from the nearest open site per demand point (``inf`` if none)."""
        mask = np.asarray(open_mask, dtype=bool)
        if not mask.any():
            return np.full(self.n_demand, np.inf)
        return self.cost_s[:, mask].min(axis=1)

    def assignment(self, open_mask: np.ndarray) -> np.ndarray:
        """Index of the nearest open site per demand point, -1 if no open site reaches it."""
        mask = np.asarray(open_mask, dtype=bool)
        out = np.full(self.n_demand, -1, dtype=np.int64)
        if not mask.any():
            return out
        cols = np.flatnonzero(mask)
        sub = self.cost_s[:, cols]
        best = cols[np.argmin(sub, axis=1)]
        reached = np.isfinite(sub).any(axis=1)
        out[reached] = best[reached]
        return out


def check_demand(
    site_names: Sequence[str],
    demand_ids: Sequence[Hashable],
    weight: Any,
    n_demand: int,
    n_sites: int,
) -> tuple[tuple[str, ...], tuple[Hashable, ...], np.ndarray]:
    """Validated site names, demand ids and read-only weights of an instance."""
    if n_sites == 0:
        raise DataError("cost_s has no candidate sites (no columns)")
    names = tuple(str(s) for s in site_names)
    ids = tuple(demand_ids)
    if len(names) != n_sites:
        raise ParameterError(f"site_names has {len(names)} names for {n_sites} sites")
    if len(set(names)) != n_sites:
        dupes = sorted({s for s in names if names.count(s) > 1})
        raise ParameterError(f"site_names must be unique; repeated: {dupes[:10]}")
    if len(ids) != n_demand:
        raise ParameterError(f"demand_ids has {len(ids)} ids for {n_demand} demand points")
    w = np.asarray(weight, dtype=np.float64)
    if w.shape != (n_demand,):
        raise ParameterError(f"weight has shape {w.shape}, expected ({n_demand},)")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise DataError(
            f"weight must be finite and >= 0; demand {ids[bad[0]]!r} has {w[bad[0]]!r} "
            f"({len(bad)} bad weights)"
        )
    return names, ids, _readonly(w)


def check_sites(
    required: Any, existing_units: Any, names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Validated read-only ``required`` (bool) and ``existing_units`` (int64) per site."""
    n_sites = len(names)
    req = np.asarray(required)
    if req.shape != (n_sites,) or req.dtype != bool:
        raise ParameterError(f"required must be {n_sites} booleans, got {required!r}")
    units = np.asarray(existing_units)
    if units.shape != (n_sites,) or not np.issubdtype(units.dtype, np.integer):
        raise ParameterError(f"existing_units must be {n_sites} integers, got {units!r}")
    if (units < 0).any():
        j = int(np.flatnonzero(units < 0)[0])
        raise ParameterError(f"existing_units at site {names[j]!r} is {units[j]} (< 0)")
    return _readonly(req), _readonly(units.astype(np.int64))


def required_mask(required: Any, names: tuple[str, ...]) -> np.ndarray:
    """``required`` as given to :func:`make_instance` (bools or site names) -> bool per site."""
    if required is None:
        return np.zeros(len(names), dtype=bool)
    req_in = list(required)
    if req_in and all(isinstance(r, str) for r in req_in):
        unknown = [r for r in req_in if r not in names]
        if unknown:
            raise ParameterError(f"required names unknown sites: {unknown[:10]}")
        return np.isin(np.array(names, dtype=object), np.array(req_in, dtype=object))
    return np.asarray(req_in, dtype=bool) if req_in else np.zeros(len(names), dtype=bool)


def make_instance(
    cost_s: Any,
    weight: Any = None,
    *,
    site_names: Sequence[str] | None = None,
    required: Any = None,
    existing_units: Any = None,
    demand_ids: Sequence[Hashable] | None = None,
) -> Instance:
    """Build a validated :class:`Instance` with sensible defaults.

    Parameters
    ----------
    cost_s
        ``(n_demand, n_sites)`` response times, s; ``inf`` where unreachable.
    weight
        Demand weight per point (default 1 each).
    site_names
        Site names (default ``"site_0"``, ``"site_1"`` ...).
    required
        Bool per site, or a sequence of site names, that are always open
        (default none).
    existing_units
        Units already at each site (default 0; MEXCLP only).
    demand_ids
        Ids of the demand points (default 0, 1, ...).

    Returns
    -------
    Instance

    Raises
    ------
    ParameterError, DataError
        Shapes, names, NaN or negative values that cannot be used.
    """
    cost = np.asarray(cost_s, dtype=np.float64)
    if cost.ndim != 2:
        raise ParameterError(f"cost_s must be 2-D (demand x sites), got shape {cost.shape}")
    n_demand, n_sites = cost.shape
    names = tuple(f"site_{j}" for j in range(n_sites)) if site_names is None else tuple(site_names)
    w = np.ones(n_demand) if weight is None else np.asarray(weight, dtype=np.float64)
    req = required_mask(required, names)
    units = (
        np.zeros(n_sites, dtype=np.int64) if existing_units is None else np.asarray(existing_units)
    )
    ids = tuple(range(n_demand)) if demand_ids is None else tuple(demand_ids)
    return Instance(
        cost_s=cost,
        weight=w,
        site_names=names,
        required=req,
        existing_units=units,
        demand_ids=ids,
    )
