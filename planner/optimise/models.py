"""Location models: what the optimiser maximises or minimises.

Each model is a frozen dataclass with

``name``
    Short name used in :class:`~planner.optimise.solution.Solution`.
``sense``
    ``"max"`` or ``"min"``.
``evaluate(instance, x)``
    The objective for ``x``: a bool open mask per site (site models) or the
    total unit count per site (:class:`MEXCLP`). Brute force, the heuristic
    and the tests all use it, so it is the single definition of each
    objective; the MILP in :mod:`planner.optimise.exact` is checked against it.

Common notation
---------------
:math:`I` demand points with weight :math:`w_i \\ge 0`; :math:`J` candidate
sites; :math:`R \\subseteq J` required (existing) sites; :math:`c_{ij}` the
response time, s (``inf`` if unreachable); :math:`p` the number of sites (or
units) to add; :math:`x_j \\in \\{0, 1\\}` site j open. Demand no candidate
reaches (a row of ``inf``) is excluded from every objective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from planner import constants
from planner.errors import InfeasibleError, ParameterError
from planner.network.dispersion import check_cv, probability_within
from planner.optimise.sparse import AnyInstance

__all__ = [
    "DEFAULT_SURVIVAL_COEFFICIENTS",
    "LSCP",
    "MCLP",
    "MEXCLP",
    "UNREACHED_PENALTY_S",
    "ExpectedCoverage",
    "InfeasibleError",
    "MaxSurvival",
    "Model",
    "PCenter",
    "PMedian",
    "SiteModel",
    "SurvivalGroup",
    "swedish_survival_groups",
    "unreached_cost_s",
]

UNREACHED_PENALTY_S = constants.UNREACHED_PENALTY_S
DEFAULT_SURVIVAL_COEFFICIENTS = constants.SURVIVAL_COEFFICIENTS


def unreached_cost_s(instance: AnyInstance) -> float:
    """Cost U, s, of a demand point no open site reaches (p-median and p-center).

    ``U = max(P, longest)``: :data:`UNREACHED_PENALTY_S` (P, 2 h), or the
    instance's longest finite response time when that is longer. U is never
    below a finite time, so reaching a point never scores worse than leaving
    it unreached, and finite times count in full, however long and in
    whatever unit they are given (no cap). Demand that no candidate reaches
    at all is excluded from the objectives instead.
    """
    return max(UNREACHED_PENALTY_S, float(instance.longest_s))


def _check_threshold(threshold_s: float) -> float:
    t = float(threshold_s)
    if not math.isfinite(t) or t <= 0:
        raise ParameterError(f"threshold_s = {threshold_s!r}: give a positive time, s")
    return t


def _ids_message(instance: AnyInstance, rows: np.ndarray) -> str:
    ids = [instance.demand_ids[i] for i in rows[:10]]
    more = f" (first 10 of {len(rows)})" if len(rows) > 10 else f" ({len(rows)})"
    return f"{ids}{more}"


class _SiteModel:
    """A model whose objective depends only on each point's nearest open site."""

    name: ClassVar[str]
    sense: ClassVar[Literal["max", "min"]]

    def score(self, instance: AnyInstance, times: np.ndarray) -> np.ndarray:
        """Objective for nearest-open-site times ``(n_demand,)`` or ``(n_demand, k)``, s."""
        raise NotImplementedError

    def evaluate(self, instance: AnyInstance, open_mask: np.ndarray) -> float:
        """The objective when exactly the sites in ``open_mask`` are open."""
        return float(self.score(instance, instance.open_times(open_mask)))


@dataclass(frozen=True)
class MCLP(_SiteModel):
    """Maximal covering location problem (Church & ReVelle 1974).

    Sets: :math:`N_i = \\{j : c_{ij} \\le T\\}` the sites covering i.

    Parameters: :math:`T` threshold (``threshold_s``, s), :math:`w_i`, :math:`p`.

    Decision variables: :math:`x_j \\in \\{0,1\\}` open; :math:`z_i \\in [0,1]`
    demand i covered.

    .. math::

        \\max \\sum_i w_i z_i \\quad \\text{s.t.} \\quad
        z_i \\le \\sum_{j \\in N_i} x_j \\;\\forall i, \\quad
        \\sum_{j \\notin R} x_j = p, \\quad x_j = 1 \\;\\forall j \\in R.

    The objective is the covered demand weight (same units as ``weight``).
    """

    threshold_s: float
    name: ClassVar[str] = "mclp"
    sense: ClassVar[Literal["max", "min"]] = "max"

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold_s", _check_threshold(self.threshold_s))

    def score(self, instance: AnyInstance, times: np.ndarray) -> np.ndarray:
        """Covered weight for each column of nearest times, s."""
        return np.asarray(instance.weight @ (times <= self.threshold_s), dtype=float)


@dataclass(frozen=True)
class PMedian(_SiteModel):
    """p-median: minimise total demand-weighted response time (Hakimi 1964).

    Parameters: :math:`U` = :func:`unreached_cost_s`, the cost of a point no
    open site reaches, never below any finite :math:`c_{ij}`; :math:`I' =
    \\{i : \\exists j, c_{ij} < \\infty\\}` reachable demand.

    Decision variables: :math:`x_j \\in \\{0,1\\}`; :math:`y_{ij} \\in [0,1]`
    share of i served by j (only pairs with :math:`c_{ij} < U`); :math:`u_i
    \\in [0,1]` share of i left unreached (cost U).

    .. math::

        \\min \\sum_{i \\in I'} w_i \\Big(\\sum_j c_{ij} y_{ij} + U u_i\\Big)
        \\quad \\text{s.t.} \\quad
        \\sum_j y_{ij} + u_i = 1, \\quad y_{ij} \\le x_j, \\quad
        \\sum_{j \\notin R} x_j = p, \\quad x_j = 1 \\;\\forall j \\in R.

    Every finite response time counts in full, however long (no cap). A
    demand point that some candidate reaches but no open site does costs U
    (2 h, or the instance's longest finite time if that is longer).
    Objective units: weight x s.
    """

    name: ClassVar[str] = "p-median"
    sense: ClassVar[Literal["max", "min"]] = "min"

    def score(self, instance: AnyInstance, times: np.ndarray) -> np.ndarray:
        """Weighted response time for each column of nearest times (s), unreached as U."""
        w = np.where(instance.reachable(), instance.weight, 0.0)
        return np.asarray(w @ np.minimum(times, unreached_cost_s(instance)), dtype=float)


@dataclass(frozen=True)
class PCenter(_SiteModel):
    """p-center: minimise the worst response time (Hakimi 1964).

    Sets: :math:`I' = \\{i : w_i > 0, \\exists j\\, c_{ij} < \\infty\\}`.
    Parameters: :math:`U` = :func:`unreached_cost_s` (as in :class:`PMedian`).

    Decision variables: :math:`x_j \\in \\{0,1\\}`; :math:`y_{ij}, u_i \\in
    [0,1]` as in :class:`PMedian`; :math:`z` the worst time, s.

    .. math::

        \\min z \\quad \\text{s.t.} \\quad
        z \\ge \\sum_j c_{ij} y_{ij} + U u_i \\;\\forall i \\in I', \\quad
        \\sum_j y_{ij} + u_i = 1, \\quad y_{ij} \\le x_j, \\quad
        \\sum_{j \\notin R} x_j = p, \\quad x_j = 1 \\;\\forall j \\in R.

    Finite times count in full; unreached demand counts as U. Objective: s.
    0 if :math:`I'` is empty.

    The LP relaxation of this MILP is weak, so :func:`~planner.optimise.solve_exact`
    solves the equivalent decision problems instead (Minieka 1970): for a
    radius r, with :math:`N_i(r) = \\{j : c_{ij} \\le r\\}`, is there x with

    .. math::

        \\sum_{j \\in N_i(r)} x_j \\ge 1 \\;\\forall i \\in I', \\quad
        \\sum_{j \\notin R} x_j \\le p, \\quad x_j = 1 \\;\\forall j \\in R\\ ?

    It binary-searches r over the distinct :math:`c_{ij} < U` between a lower
    bound and the heuristic's radius (each step a set-covering MILP); the
    smallest feasible r is the optimum, and U if none is.
    """

    name: ClassVar[str] = "p-center"
    sense: ClassVar[Literal["max", "min"]] = "min"

    def score(self, instance: AnyInstance, times: np.ndarray) -> np.ndarray:
        """Worst response time, s (unreached as U), for each column of nearest times."""
        rows = instance.reachable() & (instance.weight > 0)
        t = np.minimum(np.asarray(times)[rows], unreached_cost_s(instance))
        if t.shape[0] == 0:
            return np.zeros(t.shape[1:]) if t.ndim > 1 else np.asarray(0.0)
        return np.asarray(t.max(axis=0), dtype=float)


def _logistic(coefficients: tuple[float, float], minutes: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(a + b t))`` for t in minutes, 0 where t is ``inf``."""
    a, b = coefficients
    t = np.asarray(minutes, dtype=float)
    with np.errstate(over="ignore"):
        return np.where(np.isfinite(t), 1.0 / (1.0 + np.exp(a + b * np.minimum(t, 1e6))), 0.0)


def _check_coefficients(coefficients: tuple[float, float], label: str) -> tuple[float, float]:
    try:
        a, b = (float(c) for c in coefficients)
    except (TypeError, ValueError):
        raise ParameterError(f"{label} = {coefficients!r}: give two numbers [a, b]") from None
    if not (math.isfinite(a) and math.isfinite(b) and b > 0):
        raise ParameterError(f"{label} = {coefficients!r}: need finite a and b > 0")
    return a, b


@dataclass(frozen=True)
class SurvivalGroup:
    """A patient group with its own survival curve and share of the cardiac arrests.

    Parameters
    ----------
    name
        Short name, used in column names (``shockable_cpr``).
    share
        Share of the arrests in this group, in [0, 1]; a model's groups sum to 1.
    coefficients
        (a, b) of :math:`S(t) = 1 / (1 + e^{a + b t})`, t in minutes, b > 0.
    """

    name: str
    share: float
    coefficients: tuple[float, float]

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ParameterError(
                f"survival group name {self.name!r}: use letters, digits and _ only"
            )
        share = float(self.share)
        if not (math.isfinite(share) and 0 <= share <= 1):
            raise ParameterError(f"survival group {self.name}: share = {self.share!r}: need 0..1")
        object.__setattr__(self, "share", share)
        coefficients = _check_coefficients(
            self.coefficients, f"survival group {self.name}: coefficients"
        )
        object.__setattr__(self, "coefficients", coefficients)

    def survival(self, minutes: np.ndarray) -> np.ndarray:
        """Survival probability of the group for response times in minutes (``inf`` -> 0)."""
        return _logistic(self.coefficients, minutes)


def _group_intercept(survival: float, slope: float, reference_min: float) -> float:
    """The a of a logistic curve with slope b that passes through ``survival`` at the reference."""
    return math.log(1.0 / survival - 1.0) - slope * reference_min


def swedish_survival_groups() -> tuple[SurvivalGroup, ...]:
    """The default patient groups: rhythm (shockable or not) × bystander CPR (yes or no).

    Each group's curve has the slope b of :data:`DEFAULT_SURVIVAL_COEFFICIENTS`
    (De Maio et al. 2003) and passes, at
    :data:`~planner.constants.SURVIVAL_REFERENCE_MIN`, through the group's
    30-day survival: with CPR :data:`~planner.constants.SURVIVAL_WITH_CPR`
    (10.5 %), without :data:`~planner.constants.SURVIVAL_WITHOUT_CPR` (4.0 %)
    (Hasselqvist-Ax et al. 2015), split between the rhythms so that a
    shockable rhythm has :data:`~planner.constants.SHOCKABLE_SURVIVAL_RATIO`
    times the survival of a non-shockable one and the shares
    (:data:`~planner.constants.SHOCKABLE_SHARE`) average back to the CPR
    group's figure: :math:`s_{ns} = s_{cpr} / (1 - q + q R)`,
    :math:`s_{sh} = R s_{ns}`. Shares: :data:`~planner.constants.BYSTANDER_CPR_SHARE`
    × rhythm share, rhythm and CPR taken as independent (planning assumption).
    """
    b = constants.SURVIVAL_COEFFICIENTS[1]
    q, ratio = constants.SHOCKABLE_SHARE, constants.SHOCKABLE_SURVIVAL_RATIO
    cpr = constants.BYSTANDER_CPR_SHARE
    groups = []
    for cpr_name, cpr_share, level in (
        ("cpr", cpr, constants.SURVIVAL_WITH_CPR),
        ("no_cpr", 1.0 - cpr, constants.SURVIVAL_WITHOUT_CPR),
    ):
        non_shockable = level / (1.0 - q + q * ratio)
        for rhythm, share, s in (
            ("shockable", q, ratio * non_shockable),
            ("non_shockable", 1.0 - q, non_shockable),
        ):
            a = _group_intercept(s, b, constants.SURVIVAL_REFERENCE_MIN)
            groups.append(SurvivalGroup(f"{rhythm}_{cpr_name}", share * cpr_share, (a, b)))
    return tuple(groups)


@dataclass(frozen=True)
class MaxSurvival(_SiteModel):
    """Maximum expected survival (Erkut, Ingolfsson & Erdoğan 2008).

    Parameters: :math:`t_{ij} = c_{ij} / 60` response time, min;
    :math:`s_{ij} = S(t_{ij})` survival probability, :math:`S(\\infty) = 0`.
    By default :math:`S(t) = 1 / (1 + e^{a + b t})` with (a, b) =
    :data:`DEFAULT_SURVIVAL_COEFFICIENTS` (De Maio et al. 2003); with ``steps``
    :math:`S(t)` is the probability of the first band whose upper bound (min)
    is :math:`\\ge t`, and 0 beyond the last band.

    Decision variables: :math:`x_j \\in \\{0,1\\}`; :math:`y_{ij} \\in [0,1]`
    i served by j (pairs with :math:`s_{ij} > 0`).

    .. math::

        \\max \\sum_i w_i \\sum_j s_{ij} y_{ij} \\quad \\text{s.t.} \\quad
        \\sum_j y_{ij} \\le 1, \\quad y_{ij} \\le x_j, \\quad
        \\sum_{j \\notin R} x_j = p, \\quad x_j = 1 \\;\\forall j \\in R.

    With ``groups`` (patient groups, e.g. :func:`swedish_survival_groups`)
    :math:`S(t) = \\sum_g \\pi_g S_g(t)`, the groups' curves weighted by their
    shares :math:`\\pi_g` of the arrests: still non-increasing, so the same
    formulation holds, and :meth:`survival_by_group` splits the survivors.

    S is non-increasing, so each point is served by its nearest open site.
    Objective: expected survivors (weight units).

    Parameters
    ----------
    coefficients
        (a, b) of the logistic curve, b > 0 (b per minute).
    steps
        Optional ``((upper_min, probability), ...)`` bands, increasing upper
        bounds, non-increasing probabilities in [0, 1]; replaces the curve.
    groups
        Optional patient groups whose shares sum to 1; replace the curve.
    """

    coefficients: tuple[float, float] = DEFAULT_SURVIVAL_COEFFICIENTS
    steps: tuple[tuple[float, float], ...] | None = None
    groups: tuple[SurvivalGroup, ...] | None = None
    name: ClassVar[str] = "max-survival"
    sense: ClassVar[Literal["max", "min"]] = "max"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "coefficients", _check_coefficients(self.coefficients, "coefficients")
        )
        if self.groups is not None:
            self._check_groups()
        if self.steps is not None:
            steps = tuple((float(u), float(s)) for u, s in self.steps)
            if not steps:
                raise ParameterError("steps: give at least one (upper_min, probability) band")
            for k, (u, s) in enumerate(steps):
                if not (u > 0 and 0 <= s <= 1):
                    raise ParameterError(f"steps[{k}] = {(u, s)}: need upper > 0, 0 <= p <= 1")
                if k and (u <= steps[k - 1][0] or s > steps[k - 1][1]):
                    raise ParameterError(
                        "steps: upper bounds must increase and probabilities not increase"
                    )
            object.__setattr__(self, "steps", steps)

    def _check_groups(self) -> None:
        groups = tuple(self.groups or ())
        if not groups or not all(isinstance(g, SurvivalGroup) for g in groups):
            raise ParameterError("groups: give at least one SurvivalGroup")
        if self.steps is not None:
            raise ParameterError("steps and groups: give one of them")
        names = [g.name for g in groups]
        if len(set(names)) != len(names):
            raise ParameterError(f"groups: names repeat ({', '.join(names)})")
        total = math.fsum(g.share for g in groups)
        if abs(total - 1.0) > 1e-6:
            raise ParameterError(f"groups: the shares sum to {total:g}, not 1")
        object.__setattr__(self, "groups", groups)

    def survival(self, minutes: np.ndarray) -> np.ndarray:
        """Survival probability for response times in minutes (``inf`` -> 0)."""
        t = np.asarray(minutes, dtype=float)
        if self.groups is not None:
            return np.asarray(sum(g.share * g.survival(t) for g in self.groups), dtype=float)
        if self.steps is not None:
            uppers = np.array([u for u, _ in self.steps])
            probs = np.array([s for _, s in self.steps] + [0.0])
            return probs[np.searchsorted(uppers, t, side="left")]
        return _logistic(self.coefficients, t)

    def survival_by_group(self, minutes: np.ndarray) -> dict[str, np.ndarray]:
        """Each group's share × survival for response times in minutes (sums to :meth:`survival`).

        Without groups: one entry, ``all``.
        """
        if self.groups is None:
            return {"all": self.survival(minutes)}
        return {g.name: g.share * g.survival(minutes) for g in self.groups}

    def score(self, instance: AnyInstance, times: np.ndarray) -> np.ndarray:
        """Expected survivors for each column of nearest times, s."""
        return np.asarray(instance.weight @ self.survival(times / 60.0), dtype=float)


@dataclass(frozen=True, repr=False)
class ExpectedCoverage(MaxSurvival):
    """Maximum expected coverage with uncertain drive times (MCLP with reliability).

    The drive time from site j to point i is lognormal with the modelled time
    as its median and coefficient of variation ``drive_time_cv``
    (:mod:`planner.network.dispersion`); the turn-out time is fixed. The
    probability that j reaches i within T is

    .. math::

        p_{ij} = P(D_{ij} \\le T - \\tau) = \\Phi\\Big(\\frac{\\ln((T - \\tau) /
        (c_{ij} - \\tau))}{\\sigma}\\Big), \\quad \\sigma = \\sqrt{\\ln(1 + cv^2)},

    :math:`\\tau` the turn-out time, :math:`p_{ij} = 0` where :math:`c_{ij} = \\infty`.

    Decision variables: :math:`x_j \\in \\{0,1\\}`; :math:`y_{ij} \\in [0,1]`
    i served by j.

    .. math::

        \\max \\sum_i w_i \\sum_j p_{ij} y_{ij} \\quad \\text{s.t.} \\quad
        \\sum_j y_{ij} \\le 1, \\quad y_{ij} \\le x_j, \\quad
        \\sum_{j \\notin R} x_j = p, \\quad x_j = 1 \\;\\forall j \\in R.

    With fixed per-pair probabilities the objective is linear in the
    assignment; :math:`p_{ij}` falls with :math:`c_{ij}`, so each point is
    served by its nearest open site (the one dispatched), exactly as in
    :class:`MaxSurvival`, whose formulation and solvers this model shares:
    :meth:`survival` gives :math:`p_{ij}` in place of the survival curve.
    Objective: expected covered demand (weight units). ``cv = 0`` is MCLP.

    Parameters
    ----------
    threshold_s
        Response-time target T, s.
    drive_time_cv
        Coefficient of variation of the drive time
        (default :data:`planner.constants.DRIVE_TIME_CV`).
    turnout_s
        Turn-out time :math:`\\tau` included in the instance's times, s.
    """

    threshold_s: float = field(default=constants.DEFAULT_THRESHOLDS_MIN[1] * 60.0, kw_only=True)
    drive_time_cv: float = field(default=constants.DRIVE_TIME_CV, kw_only=True)
    turnout_s: float = field(default=0.0, kw_only=True)
    name: ClassVar[str] = "expected-coverage"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "threshold_s", _check_threshold(self.threshold_s))
        object.__setattr__(self, "drive_time_cv", check_cv(self.drive_time_cv))
        turnout = float(self.turnout_s)
        if not (math.isfinite(turnout) and 0 <= turnout < self.threshold_s):
            raise ParameterError(
                f"turnout_s = {self.turnout_s!r}: need 0 <= turn-out < threshold_s"
            )
        object.__setattr__(self, "turnout_s", turnout)

    def __repr__(self) -> str:
        return (
            f"ExpectedCoverage(threshold_s={self.threshold_s!r}, "
            f"drive_time_cv={self.drive_time_cv!r}, turnout_s={self.turnout_s!r})"
        )

    def survival(self, minutes: np.ndarray) -> np.ndarray:
        """Probability of a response within T for modelled response times in minutes."""
        drive = np.maximum(np.asarray(minutes, dtype=float) * 60.0 - self.turnout_s, 0.0)
        return probability_within(drive, self.threshold_s - self.turnout_s, cv=self.drive_time_cv)

    def survival_by_group(self, minutes: np.ndarray) -> dict[str, np.ndarray]:
        """One entry, ``all``: the probability of a response within T."""
        return {"all": self.survival(minutes)}


@dataclass(frozen=True)
class LSCP:
    """Location set covering problem (Toregas et al. 1971).

    Sets: :math:`N_i = \\{j : c_{ij} \\le T\\}`; :math:`I' = \\{i : w_i > 0,
    N_i \\ne \\emptyset\\}` demand that can be covered.

    Decision variables: :math:`x_j \\in \\{0,1\\}`.

    .. math::

        \\min \\sum_{j \\notin R} x_j \\quad \\text{s.t.} \\quad
        \\sum_{j \\in N_i} x_j \\ge 1 \\;\\forall i \\in I', \\quad
        \\sum_{j \\notin R} x_j \\le p, \\quad x_j = 1 \\;\\forall j \\in R.

    Here p is a *cap* on the added sites. The objective is the number of added
    sites; ``evaluate`` returns ``inf`` when a point of :math:`I'` is not covered.

    Parameters
    ----------
    threshold_s
        Coverage threshold T, s.
    require_all
        If true (default), demand with weight > 0 that no site reaches within
        T raises :class:`InfeasibleError` naming it; if false it is left out of
        :math:`I'`.
    """

    threshold_s: float
    require_all: bool = True
    name: ClassVar[str] = "lscp"
    sense: ClassVar[Literal["max", "min"]] = "min"

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold_s", _check_threshold(self.threshold_s))

    def must_cover(self, instance: AnyInstance) -> np.ndarray:
        """Bool per demand point in :math:`I'`; raises if ``require_all`` and some cannot be."""
        within = instance.within(self.threshold_s) @ np.ones(instance.n_sites) > 0
        positive = instance.weight > 0
        missing = np.flatnonzero(positive & ~within)
        if self.require_all and len(missing):
            raise InfeasibleError(
                f"LSCP: no site reaches {len(missing)} demand points within "
                f"{self.threshold_s / 60:g} min: {_ids_message(instance, missing)}; "
                "add candidate sites, raise the threshold or pass require_all=False"
            )
        return positive & within

    def evaluate(self, instance: AnyInstance, open_mask: np.ndarray) -> float:
        """Added sites if every point of :math:`I'` is covered, else ``inf``."""
        mask = np.asarray(open_mask, dtype=bool)
        need = self.must_cover(instance)
        covered = instance.within(self.threshold_s) @ mask.astype(np.float64) > 0
        if (need & ~covered).any():
            return math.inf
        return float(np.count_nonzero(mask & ~instance.required))


@dataclass(frozen=True)
class MEXCLP:
    """Maximum expected covering location problem (Daskin 1983).

    Sets: :math:`N_i = \\{j : c_{ij} \\le T\\}`. Parameters: busy fraction
    :math:`q`; existing units :math:`e_j`; :math:`K_i = p + \\sum_{j \\in N_i} e_j`
    the most units that can cover i.

    Decision variables: :math:`u_j \\in \\mathbb{Z}, e_j \\le u_j \\le e_j + p`
    units at j; :math:`y_{ik} \\in [0,1]` i covered by at least k units.

    .. math::

        \\max \\sum_i w_i \\sum_{k=1}^{K_i} (1-q) q^{k-1} y_{ik} \\quad \\text{s.t.}
        \\quad \\sum_k y_{ik} \\le \\sum_{j \\in N_i} u_j, \\quad
        \\sum_j (u_j - e_j) = p.

    The coefficients decrease in k, so the LP relaxation in y is exact and the
    objective equals :math:`\\sum_i w_i (1 - q^{n_i})`, :math:`n_i = \\sum_{j \\in
    N_i} u_j`. ``evaluate`` takes total units per site (existing included).
    ``required`` plays no part: existing units are what is fixed.

    Parameters
    ----------
    threshold_s
        Coverage threshold T, s.
    busy_fraction
        Probability q in [0, 1) that a unit is busy.
    """

    threshold_s: float
    busy_fraction: float = 0.3
    name: ClassVar[str] = "mexclp"
    sense: ClassVar[Literal["max", "min"]] = "max"

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold_s", _check_threshold(self.threshold_s))
        q = float(self.busy_fraction)
        if not (0 <= q < 1):
            raise ParameterError(f"busy_fraction = {self.busy_fraction!r}: need 0 <= q < 1")
        object.__setattr__(self, "busy_fraction", q)

    def cover_matrix(self, instance: AnyInstance) -> np.ndarray | sp.csc_array:
        """``(n_demand, n_sites)`` float 0/1, dense or sparse: site j within T of point i."""
        return instance.within(self.threshold_s)

    def evaluate(self, instance: AnyInstance, units: np.ndarray) -> float:
        """Expected covered demand for total units per site."""
        u = np.asarray(units, dtype=float)
        n = self.cover_matrix(instance) @ u
        return float(instance.weight @ (1.0 - self.busy_fraction**n))


#: Models whose objective depends only on each point's nearest open site
#: (:class:`ExpectedCoverage` is a :class:`MaxSurvival`).
SiteModel = MCLP | PMedian | PCenter | MaxSurvival
#: Any location model.
Model = MCLP | PMedian | PCenter | MaxSurvival | LSCP | MEXCLP
