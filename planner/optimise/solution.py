"""The result of an optimisation run, and what its status may claim.

A solution is called ``"optimal"`` only when its proven relative gap is at
most :data:`planner.constants.OPTIMAL_GAP` (1e-6). With a larger proven gap
its status says ``"within X %"`` (X rounded up, so the claim holds); a
solution without a bound (the heuristic) is ``"feasible, no bound"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner import constants
from planner.errors import ParameterError
from planner.optimise.models import LSCP, MEXCLP, Model
from planner.optimise.sparse import AnyInstance

__all__ = [
    "Solution",
    "check_p",
    "describe_optimality",
    "format_gap",
    "greedy_order",
    "make_solution",
]


def format_gap(gap: float) -> str:
    """A relative gap as a percentage rounded *up* to two significant digits.

    Rounding up keeps "within X %" true: a gap of 0.0213 is "2.2 %".
    """
    pct = 100.0 * float(gap)
    if pct <= 0:
        return "0 %"
    decimals = 1 - math.floor(math.log10(pct))
    scale = 10.0**decimals
    up = math.ceil(pct * scale * (1 - 1e-12)) / scale
    return f"{up:.{max(decimals, 0)}f} %"


def describe_optimality(gap: float | None) -> str:
    """``"optimal"``, ``"within X %"`` or ``"feasible, no bound"`` for a proven gap.

    Parameters
    ----------
    gap
        Proven relative gap, (value - bound) / |value| (for a maximum,
        (bound - value) / |value|), or None (or not finite) when there is
        no bound.
    """
    if gap is None or not math.isfinite(gap):
        return "feasible, no bound"
    if gap <= constants.OPTIMAL_GAP:
        return "optimal"
    return f"within {format_gap(gap)}"


@dataclass(frozen=True)
class Solution:
    """Sites (or units) to add and what they achieve.

    Attributes
    ----------
    model
        Model name (``"mclp"``, ``"p-median"`` ...).
    chosen
        Names of the sites added, in the order they were added (the heuristic's
        greedy order; for the exact solver, re-added greedily by marginal
        gain). For MEXCLP a name appears once per added unit.
    objective_before
        Objective with the required sites (existing units) only; for LSCP
        ``inf`` when they alone do not cover every point that must be covered.
    objective_after
        Objective with the chosen sites added.
    gap
        Proven relative gap of the exact solver: (value - bound) / |value|
        (for a maximum, (bound - value) / |value|), where the bound is what
        the solver proved no solution beats. ``None`` without a bound (the
        heuristic).
    solve_time_s
        Wall-clock time, s.
    status
        :func:`describe_optimality` of the gap, then how the solver stopped
        in brackets, e.g. ``"optimal"``, ``"within 2.2 % (time limit)"``,
        ``"feasible, no bound (heuristic: greedy + 3 swaps)"``.
    assignment
        Index of the site serving each demand point afterwards (nearest open
        site; for MEXCLP nearest site with a unit), -1 if none reaches it.
    units
        Units per site afterwards: for MEXCLP the unit counts, for the other
        models 1 at every open site and 0 elsewhere.
    """

    model: str
    chosen: tuple[str, ...]
    objective_before: float
    objective_after: float
    gap: float | None
    solve_time_s: float
    status: str
    assignment: np.ndarray
    units: np.ndarray

    def __post_init__(self) -> None:
        for name in ("assignment", "units"):
            a = np.array(getattr(self, name), dtype=np.int64, copy=True)
            a.flags.writeable = False
            object.__setattr__(self, name, a)
        object.__setattr__(self, "chosen", tuple(self.chosen))

    @property
    def optimal(self) -> bool:
        """Proven optimal: the gap is at most :data:`planner.constants.OPTIMAL_GAP`."""
        return describe_optimality(self.gap) == "optimal"

    @property
    def optimality(self) -> str:
        """``"optimal"``, ``"within X %"`` or ``"feasible, no bound"``: the status's claim."""
        return describe_optimality(self.gap)

    @property
    def open_mask(self) -> np.ndarray:
        """Bool per site: open (holds a unit, for MEXCLP) afterwards."""
        return np.asarray(self.units > 0)


def _before(instance: AnyInstance, model: Model) -> np.ndarray:
    if isinstance(model, MEXCLP):
        return np.asarray(instance.existing_units, dtype=np.int64).copy()
    return np.asarray(instance.required, dtype=np.int64).copy()


def greedy_order(instance: AnyInstance, model: Model, final: np.ndarray) -> list[int]:
    """Order the additions in ``final`` (units per site) greedily by marginal gain.

    Starts from the required sites (existing units) and repeatedly adds the
    remaining site (unit) that improves the objective most; ties go to the
    lowest index. For LSCP the gain is the number of newly covered points.
    """
    current = _before(instance, model)
    remaining = np.asarray(final, dtype=np.int64) - current
    remaining = np.maximum(remaining, 0)
    sign = 1.0 if model.sense == "max" else -1.0
    within = instance.within(model.threshold_s) if isinstance(model, LSCP) else None
    order: list[int] = []
    while remaining.sum() > 0:
        best_j, best_v = -1, -np.inf
        for j in np.flatnonzero(remaining > 0):
            trial = current.copy()
            trial[j] += 1
            if isinstance(model, MEXCLP):
                v = model.evaluate(instance, trial)
            elif within is not None:
                # more points covered is better, whatever the sense
                covered = within @ (trial > 0).astype(np.float64) > 0
                v = sign * float(np.count_nonzero(covered))
            else:
                v = model.evaluate(instance, trial > 0)
            if sign * v > best_v:
                best_j, best_v = int(j), sign * v
        order.append(best_j)
        current[best_j] += 1
        remaining[best_j] -= 1
    return order


def make_solution(
    instance: AnyInstance,
    model: Model,
    final_units: np.ndarray,
    *,
    order: list[int],
    gap: float | None,
    solve_time_s: float,
    detail: str = "",
) -> Solution:
    """Assemble a :class:`Solution` from the final units (or 0/1 open) per site.

    ``status`` is :func:`describe_optimality` of ``gap``, followed by
    ``detail`` (how the solver stopped) in brackets when given. A gap that
    is not finite is stored as None (no bound); a negative one (rounding)
    as 0.
    """
    if gap is not None:
        gap = max(float(gap), 0.0) if math.isfinite(gap) else None
    status = describe_optimality(gap) + (f" ({detail})" if detail else "")
    final = np.asarray(final_units, dtype=np.int64)
    before = _before(instance, model)
    if isinstance(model, MEXCLP):
        obj_before = model.evaluate(instance, before)
        obj_after = model.evaluate(instance, final)
    else:
        obj_before = model.evaluate(instance, before > 0)
        obj_after = model.evaluate(instance, final > 0)
    return Solution(
        model=model.name,
        chosen=tuple(instance.site_names[j] for j in order),
        objective_before=obj_before,
        objective_after=obj_after,
        gap=gap,
        solve_time_s=solve_time_s,
        status=status,
        assignment=instance.assignment(final > 0),
        units=final,
    )


def check_p(instance: AnyInstance, model: Model, p: int) -> int:
    """Validate p (sites or units to add) against the instance."""
    if isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 0:
        raise ParameterError(f"p = {p!r}: give a whole number >= 0 of sites (units) to add")
    optional = int(np.count_nonzero(~instance.required))
    if not isinstance(model, MEXCLP | LSCP) and p > optional:
        raise ParameterError(f"p = {p} but only {optional} candidate sites are not required")
    return int(p)
