"""What each added unit buys: the gain curve and per-site contributions.

* :func:`gain_curve` solves the model for k = 1..K added units and reports the
  objective and its gain over the existing stations for each k, so a planner
  sees where the returns flatten.
* :func:`site_contributions` takes a solution's sites in the order they were
  added and reports, for each, what it adds on top of the ones before it:
  people (demand weight) newly within the threshold, person-minutes of
  response time saved, and expected survivors of out-of-hospital cardiac
  arrest per year under a survival model.

Response times are seconds inside and minutes in the tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from planner import constants
from planner.errors import ParameterError
from planner.optimise.models import MEXCLP, MaxSurvival, Model
from planner.optimise.solution import Solution
from planner.optimise.sparse import AnyInstance

__all__ = ["ContributionSettings", "gain_curve", "site_contributions", "survivors_table"]

Solver = Callable[[AnyInstance, Model, int], Solution]


def gain_curve(
    instance: AnyInstance,
    model: Model,
    *,
    k_max: int,
    solve: Solver,
    progress: bool = False,
) -> pd.DataFrame:
    """Objective and gain for k = 1..``k_max`` added units.

    Parameters
    ----------
    instance
        The cost matrix (response times, s) and demand.
    model
        The location model.
    k_max
        Largest number of units to add.
    solve
        ``solve(instance, model, k) -> Solution``, for example
        ``lambda i, m, k: solve_exact(i, m, p=k)``.
    progress
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per k: ``k``, ``objective``, ``gain`` (over the existing
        stations, in the model's sense: positive is better), ``gain_of_kth``
        (what the k-th unit adds), ``gap`` (proven relative gap, None without
        a bound), ``status`` (``"optimal"``, ``"within X %"`` or ``"feasible,
        no bound"``, then how the solver stopped), ``solve_time_s`` and
        ``sites`` (the chosen sites, ``;``-separated).
    """
    if not isinstance(k_max, int) or k_max < 1:
        raise ParameterError(f"k_max = {k_max!r}: give a whole number >= 1")
    sign = 1.0 if model.sense == "max" else -1.0
    rows = []
    previous = None
    for k in tqdm(range(1, k_max + 1), desc="gain curve", disable=not progress, leave=False):
        solution = solve(instance, model, k)
        gain = sign * (solution.objective_after - solution.objective_before)
        rows.append(
            {
                "k": k,
                "objective": solution.objective_after,
                "gain": gain,
                "gain_of_kth": gain if previous is None else gain - previous,
                "gap": solution.gap,
                "status": solution.status,
                "solve_time_s": solution.solve_time_s,
                "sites": ";".join(solution.chosen),
            }
        )
        previous = gain
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ContributionSettings:
    """How contributions are measured.

    Parameters
    ----------
    threshold_s
        Response-time target, s, for "people newly within T".
    survival
        Survival model for expected survivors.
    arrests_per_weight
        Out-of-hospital cardiac arrests per year per unit of demand weight.
        Default: the national incidence per person (for population weights);
        use 1 when the weights are themselves cardiac arrests per year.
    """

    threshold_s: float = constants.DEFAULT_THRESHOLDS_MIN[1] * 60.0
    survival: MaxSurvival = field(default_factory=MaxSurvival)
    arrests_per_weight: float = constants.OHCA_PER_PERSON_YEAR

    def __post_init__(self) -> None:
        if not np.isfinite(self.threshold_s) or self.threshold_s <= 0:
            raise ParameterError(f"threshold_s = {self.threshold_s!r}: give a positive time, s")
        if not np.isfinite(self.arrests_per_weight) or self.arrests_per_weight < 0:
            raise ParameterError(
                f"arrests_per_weight = {self.arrests_per_weight!r}: give a rate >= 0"
            )


def _open_after(instance: AnyInstance, solution: Solution, model: Model) -> list[np.ndarray]:
    """Open masks after each added site, in order (the first: existing only)."""
    names = {name: j for j, name in enumerate(instance.site_names)}
    base = instance.existing_units > 0 if isinstance(model, MEXCLP) else instance.required.copy()
    masks = [base.copy()]
    current = base.copy()
    for name in solution.chosen:
        current = current.copy()
        current[names[name]] = True
        masks.append(current)
    return masks


def site_contributions(
    instance: AnyInstance,
    solution: Solution,
    model: Model,
    *,
    settings: ContributionSettings | None = None,
) -> pd.DataFrame:
    """What each added site adds, in the order the sites were added.

    A site's contribution is measured against the stations before it (the
    existing ones plus the sites added earlier); every demand point is served
    by its nearest open site.

    Parameters
    ----------
    instance
        Cost matrix (response times, s) and demand weights.
    solution
        The solution whose ``chosen`` sites are measured.
    model
        The model solved (for MEXCLP a site may be added more than once; a
        second unit at the same site changes no nearest time and shows zero).
    settings
        Threshold, survival model and cardiac-arrest rate.

    Returns
    -------
    pandas.DataFrame
        One row per added site: ``order``, ``site``,
        ``demand_newly_within_<T>_min`` (weight), ``demand_newly_reached``
        (weight no open site reached before), ``person_minutes_saved``
        (weight × minutes, over demand reached before and after),
        ``mean_minutes_saved`` (per weight unit whose time improved),
        ``expected_survivors_per_year``.
    """
    settings = settings or ContributionSettings()
    threshold = settings.threshold_s
    w = instance.weight
    masks = _open_after(instance, solution, model)
    times = [instance.open_times(m) for m in masks]
    column = f"demand_newly_within_{threshold / 60:g}_min"
    rows = []
    for k, name in enumerate(solution.chosen, start=1):
        before, after = times[k - 1], times[k]
        was, now = np.isfinite(before), np.isfinite(after)
        both = was & now
        saved = np.zeros(len(w))
        saved[both] = (before[both] - after[both]) / 60.0
        improved = both & (saved > 0)
        gains = _survivor_gains(settings, before, after)
        rows.append(
            {
                "order": k,
                "site": name,
                column: float(w[(after <= threshold) & ~(before <= threshold)].sum()),
                "demand_newly_reached": float(w[now & ~was].sum()),
                "person_minutes_saved": float(np.dot(w, saved)),
                "mean_minutes_saved": float(
                    np.dot(w[improved], saved[improved]) / w[improved].sum()
                )
                if w[improved].sum() > 0
                else 0.0,
                "expected_survivors_per_year": float(
                    np.dot(w, sum(gains.values())) * settings.arrests_per_weight
                ),
            }
            | (
                {
                    f"expected_survivors_per_year_{group}": float(
                        np.dot(w, gain) * settings.arrests_per_weight
                    )
                    for group, gain in gains.items()
                }
                if settings.survival.groups is not None
                else {}
            )
        )
    return pd.DataFrame(rows)


def _survivor_gains(
    settings: ContributionSettings, before: np.ndarray, after: np.ndarray
) -> dict[str, np.ndarray]:
    """Survival gained per demand point and patient group, from response times in s."""
    was = settings.survival.survival_by_group(before / 60.0)
    now = settings.survival.survival_by_group(after / 60.0)
    return {group: now[group] - was[group] for group in now}


def survivors_table(
    response_s: dict[str, np.ndarray],
    weight: np.ndarray,
    *,
    survival: MaxSurvival,
    arrests_per_weight: float = constants.OHCA_PER_PERSON_YEAR,
) -> pd.DataFrame:
    """Expected cardiac-arrest survivors per year, per patient group and in total.

    Parameters
    ----------
    response_s
        Response time per demand point, s (``inf`` unreached), under each
        state, e.g. ``{"before": ..., "after": ...}``.
    weight
        Demand weight per point.
    survival
        Survival model; with ``groups`` one row per group.
    arrests_per_weight
        Cardiac arrests per year per unit of weight.

    Returns
    -------
    pandas.DataFrame
        ``group`` (``total`` last), ``share`` of the arrests, ``arrests_per_year``,
        then ``survivors_per_year_<state>`` for each state and, with exactly
        two states, ``survivors_gained_per_year`` (second minus first).
    """
    w = np.asarray(weight, dtype=float)
    arrests = float(w.sum()) * arrests_per_weight
    shares = (
        {g.name: g.share for g in survival.groups} if survival.groups is not None else {"all": 1.0}
    )
    table = pd.DataFrame(
        {
            "group": [*shares, "total"],
            "share": [*shares.values(), 1.0],
            "arrests_per_year": [arrests * s for s in shares.values()] + [arrests],
        }
    )
    for state, times in response_s.items():
        by_group = survival.survival_by_group(np.asarray(times, dtype=float) / 60.0)
        values = [float(w @ by_group[g]) * arrests_per_weight for g in shares]
        table[f"survivors_per_year_{state}"] = [*values, math.fsum(values)]
    states = list(response_s)
    if len(states) == 2:
        table["survivors_gained_per_year"] = (
            table[f"survivors_per_year_{states[1]}"] - table[f"survivors_per_year_{states[0]}"]
        )
    return table
