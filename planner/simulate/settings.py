"""Settings of a simulation: one frozen dataclass, every default with its source.

Times are seconds, rates per year, probabilities in [0, 1]. The defaults come
from :mod:`planner.constants` (section "Simulation"), where each is marked a
planning assumption or given its source; :func:`settings_table` lists them
with their units and sources for a report or a README.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from planner import constants
from planner.errors import ParameterError
from planner.network.dispersion import check_cv

__all__ = [
    "PRIORITIES",
    "Duration",
    "SimulationSettings",
    "hour_of_week_profile",
    "settings_table",
]

#: The priorities a call can have (1 most urgent).
PRIORITIES = (1, 2, 3)

DistributionName = Literal["lognormal", "exponential", "fixed"]
_DISTRIBUTIONS = ("lognormal", "exponential", "fixed")


@dataclass(frozen=True)
class Duration:
    """A random duration: its mean (s), coefficient of variation and distribution.

    Parameters
    ----------
    mean_s
        Mean, s (>= 0).
    cv
        Coefficient of variation (standard deviation / mean) of a lognormal;
        0 makes it fixed. Ignored by ``exponential`` (cv 1) and ``fixed``.
    distribution
        ``lognormal`` (the default: positive and right-skewed, as durations in
        ambulance journals are), ``exponential`` (for queueing-theory checks)
        or ``fixed``.
    """

    mean_s: float
    cv: float = 0.0
    distribution: DistributionName = "lognormal"

    def __post_init__(self) -> None:
        if self.distribution not in _DISTRIBUTIONS:
            raise ParameterError(
                f"distribution = {self.distribution!r}: use one of {', '.join(_DISTRIBUTIONS)}"
            )
        mean, cv = _number(self.mean_s, "mean_s"), _number(self.cv, "cv")
        if mean < 0 or mean > constants.ABSURD_CUTOFF_S:
            raise ParameterError(f"mean_s = {self.mean_s!r}: must be 0 to 24 hours (s)")
        if cv < 0 or cv > 10:
            raise ParameterError(f"cv = {self.cv!r}: must be between 0 and 10")
        object.__setattr__(self, "mean_s", mean)
        object.__setattr__(self, "cv", cv)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws, s (float64)."""
        if self.distribution == "exponential":
            return rng.exponential(self.mean_s, n) if self.mean_s > 0 else np.zeros(n)
        if self.distribution == "fixed" or self.cv == 0 or self.mean_s == 0:
            # draw anyway, so that the stream of random numbers does not depend on it
            rng.standard_normal(n)
            return np.full(n, self.mean_s)
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean_s) - sigma2 / 2
        return np.exp(mu + math.sqrt(sigma2) * rng.standard_normal(n))

    def describe(self) -> str:
        """``"20 min, lognormal cv 0.5"`` and the like, for tables."""
        mean = f"{self.mean_s / 60:g} min"
        if self.distribution == "exponential":
            return f"{mean}, exponential"
        if self.distribution == "fixed" or self.cv == 0:
            return f"{mean}, fixed"
        return f"{mean}, lognormal cv {self.cv:g}"


def _lognormal(means: Sequence[float], cv: float) -> tuple[Duration, Duration, Duration]:
    first, second, third = (Duration(m, cv) for m in means)
    return first, second, third


def hour_of_week_profile(
    hourly: Sequence[float] = constants.SIM_HOURLY_PROFILE,
    weekday: Sequence[float] = constants.SIM_WEEKDAY_FACTORS,
) -> tuple[float, ...]:
    """The 168 relative call rates of a week (Monday 00-01 first), mean 1.

    Parameters
    ----------
    hourly
        24 relative rates by hour of the day.
    weekday
        7 factors, Monday to Sunday.
    """
    h = np.asarray(hourly, dtype=float)
    w = np.asarray(weekday, dtype=float)
    if h.shape != (24,) or w.shape != (7,):
        raise ParameterError("hour_of_week_profile: give 24 hourly rates and 7 weekday factors")
    week = (w[:, None] * h[None, :]).ravel()
    return tuple((week / week.mean()).tolist())


@dataclass(frozen=True)
class SimulationSettings:
    """Every parameter of a simulation (see :func:`settings_table` for the sources).

    Calls (generated; see :func:`planner.simulate.generate_calls`)
        ``calls_per_year`` (None: ``calls_per_1000`` × inhabitants / 1,000),
        ``calls_per_1000`` (per year), ``days`` simulated,
        ``hour_of_week`` (168 relative rates from Monday 00:00),
        ``priority_shares`` (prio 1, 2, 3) and ``psychiatric_share``.
    Unit cycle
        ``call_handling`` (per priority: queue entry to dispatch), ``turnout``
        (dispatch to rolling, for a unit at its station; a unit already out
        rolls at once), ``drive_time_cv`` (coefficient of variation of
        lognormal drive times whose median is the network time, on each drive
        to a scene and to hospital: the distribution of
        :func:`planner.network.dispersion.draw_drive_times`, as in the
        coverage tables; None or 0 = network times),
        ``on_scene`` (per priority) and ``psychiatric_on_scene``,
        ``transport_probability`` (per priority) and
        ``psychiatric_transport_probability``, ``handover`` at the hospital,
        ``return_time_factor`` (the drive home at normal speed).
    Resources and dispatch
        ``psychiatric_hours`` (start, end hour of the psychiatric fleet's
        shifts unless a station has its own), ``psychiatric_wait_priorities``
        (psychiatric calls of these priorities wait for a psychiatric unit
        while one is on duty), ``mutual_aid`` (False: units serve only their
        own region), ``queue_calls`` (False: a call that finds no free unit
        is referred elsewhere and lost, as in a loss system).
    Output
        ``warmup_s`` (calls entering the queue before it are left out of the
        figures), ``thresholds_min``, ``replications``, ``confidence``,
        ``seed``, ``arrests_per_person_year`` and ``survival_coefficients``
        (expected cardiac-arrest survivors), ``max_queue`` (more calls
        waiting at once stop the run: the queue grows without bound).
    """

    calls_per_year: float | None = None
    calls_per_1000: float = constants.SIM_CALLS_PER_1000
    days: float = constants.SIM_DAYS
    hour_of_week: tuple[float, ...] = field(default_factory=hour_of_week_profile)
    priority_shares: tuple[float, float, float] = constants.SIM_PRIORITY_SHARES
    psychiatric_share: float = constants.SIM_PSYCHIATRIC_SHARE
    call_handling: tuple[Duration, Duration, Duration] = field(
        default_factory=lambda: _lognormal(
            constants.SIM_CALL_HANDLING_S, constants.SIM_CALL_HANDLING_CV
        )
    )
    turnout: Duration = field(default_factory=lambda: Duration(constants.ROLL_OUT_S, 0.0, "fixed"))
    drive_time_cv: float | None = None
    on_scene: tuple[Duration, Duration, Duration] = field(
        default_factory=lambda: _lognormal(constants.SIM_ON_SCENE_S, constants.SIM_ON_SCENE_CV)
    )
    psychiatric_on_scene: Duration = field(
        default_factory=lambda: Duration(
            constants.SIM_PSYCHIATRIC_ON_SCENE_S, constants.SIM_ON_SCENE_CV
        )
    )
    transport_probability: tuple[float, float, float] = constants.SIM_TRANSPORT_PROBABILITY
    psychiatric_transport_probability: float = constants.SIM_PSYCHIATRIC_TRANSPORT_PROBABILITY
    handover: Duration = field(
        default_factory=lambda: Duration(constants.SIM_HANDOVER_S, constants.SIM_HANDOVER_CV)
    )
    return_time_factor: float = constants.SIM_RETURN_TIME_FACTOR
    psychiatric_hours: tuple[int, int] | None = constants.SIM_PSYCHIATRIC_HOURS
    psychiatric_wait_priorities: tuple[int, ...] = ()
    mutual_aid: bool = True
    queue_calls: bool = True
    warmup_s: float = constants.SIM_WARMUP_S
    thresholds_min: tuple[float, ...] = constants.DEFAULT_THRESHOLDS_MIN
    replications: int = constants.SIM_REPLICATIONS
    confidence: float = constants.SIM_CONFIDENCE
    seed: int = 0
    arrests_per_person_year: float = constants.OHCA_PER_PERSON_YEAR
    survival_coefficients: tuple[float, float] = constants.SURVIVAL_COEFFICIENTS
    max_queue: int = constants.SIM_MAX_QUEUE

    def __post_init__(self) -> None:
        self._check_calls()
        self._check_cycle()
        self._check_dispatch()
        self._check_output()

    # -- checks -----------------------------------------------------------
    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _check_calls(self) -> None:
        if self.calls_per_year is not None:
            self._set("calls_per_year", _positive(self.calls_per_year, "calls_per_year", zero=True))
        self._set("calls_per_1000", _positive(self.calls_per_1000, "calls_per_1000", zero=True))
        days = _positive(self.days, "days")
        if days > 10 * 366:
            raise ParameterError(f"days = {self.days!r}: simulate at most 10 years")
        self._set("days", days)
        profile = tuple(_number(v, "hour_of_week") for v in self.hour_of_week)
        if len(profile) != 168 or min(profile) < 0 or sum(profile) <= 0:
            raise ParameterError(
                "hour_of_week: give 168 relative call rates >= 0 (Monday 00-01 first), "
                f"not all 0; got {len(profile)} values"
            )
        self._set("hour_of_week", profile)
        self._set("priority_shares", _shares(self.priority_shares, "priority_shares"))
        self._set("psychiatric_share", _probability(self.psychiatric_share, "psychiatric_share"))

    def _check_cycle(self) -> None:
        for name in ("call_handling", "on_scene"):
            value = tuple(getattr(self, name))
            if len(value) != 3 or not all(isinstance(d, Duration) for d in value):
                raise ParameterError(f"{name}: give one Duration per priority 1, 2, 3")
            self._set(name, value)
        for name in ("turnout", "psychiatric_on_scene", "handover"):
            if not isinstance(getattr(self, name), Duration):
                raise ParameterError(f"{name}: must be a Duration")
        if self.drive_time_cv is not None:
            self._set("drive_time_cv", check_cv(self.drive_time_cv))
        probs = tuple(self.transport_probability)
        if len(probs) != 3:
            raise ParameterError("transport_probability: give one probability per priority 1, 2, 3")
        self._set(
            "transport_probability",
            tuple(_probability(p, "transport_probability") for p in probs),
        )
        self._set(
            "psychiatric_transport_probability",
            _probability(
                self.psychiatric_transport_probability, "psychiatric_transport_probability"
            ),
        )
        factor = _positive(self.return_time_factor, "return_time_factor", zero=True)
        if factor > 10:
            raise ParameterError(f"return_time_factor = {factor!r}: must be at most 10")
        self._set("return_time_factor", factor)

    def _check_dispatch(self) -> None:
        hours = self.psychiatric_hours
        if hours is not None:
            pair = tuple(hours)
            if len(pair) != 2 or not all(_is_hour(h) for h in pair) or pair[0] == pair[1]:
                raise ParameterError(
                    f"psychiatric_hours = {hours!r}: give (start, end) whole hours 0-24 that "
                    "differ, e.g. (14, 2) for 14:00-02:00; None for round the clock"
                )
            self._set("psychiatric_hours", (int(pair[0]) % 24, int(pair[1]) % 24))
        wait = tuple(self.psychiatric_wait_priorities)
        if any(p not in PRIORITIES for p in wait):
            raise ParameterError(
                f"psychiatric_wait_priorities = {self.psychiatric_wait_priorities!r}: "
                "priorities are 1, 2 and 3"
            )
        self._set("psychiatric_wait_priorities", tuple(sorted(set(wait))))
        for name in ("mutual_aid", "queue_calls"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{name} = {getattr(self, name)!r}: must be true or false")

    def _check_output(self) -> None:
        self._set("warmup_s", _positive(self.warmup_s, "warmup_s", zero=True))
        if self.warmup_s >= self.days * 86400:
            raise ParameterError(
                f"warmup_s = {self.warmup_s:g} s: must be shorter than the {self.days:g} days "
                "simulated"
            )
        thresholds = tuple(_positive(t, "thresholds_min") for t in self.thresholds_min)
        if not thresholds or any(b <= a for a, b in itertools.pairwise(thresholds)):
            raise ParameterError(
                f"thresholds_min = {self.thresholds_min!r}: give increasing minutes, e.g. (10, 20)"
            )
        self._set("thresholds_min", thresholds)
        for name, low in (("replications", 1), ("max_queue", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(f"{name} = {value!r}: must be a whole number >= {low}")
        if not 0.5 <= _number(self.confidence, "confidence") < 1:
            raise ParameterError(f"confidence = {self.confidence!r}: must be in [0.5, 1)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ParameterError(f"seed = {self.seed!r}: must be a whole number >= 0")
        self._set(
            "arrests_per_person_year",
            _probability(self.arrests_per_person_year, "arrests_per_person_year"),
        )
        a, b = (_number(c, "survival_coefficients") for c in self.survival_coefficients)
        if b <= 0:
            raise ParameterError("survival_coefficients: b must be > 0 (survival falls with time)")
        self._set("survival_coefficients", (a, b))

    def replace(self, **changes: Any) -> SimulationSettings:
        """A copy with some settings changed (checked again)."""
        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------
# Sources, for reports and documentation
# --------------------------------------------------------------------------
_SOURCES: dict[str, tuple[str, str]] = {
    "calls_per_year": ("calls/year", "user; None uses calls_per_1000"),
    "calls_per_1000": (
        "calls/1,000 people/year",
        "planning assumption (constants.SIM_CALLS_PER_1000)",
    ),
    "days": ("days", "planning choice: one year"),
    "hour_of_week": ("relative rate", "planning assumption, shape after Channouf et al. 2007"),
    "priority_shares": ("share", "planning assumption (constants.SIM_PRIORITY_SHARES)"),
    "psychiatric_share": ("share", "planning assumption (constants.SIM_PSYCHIATRIC_SHARE)"),
    "call_handling": ("s", "prio 1: constants.DISPATCH_S; prio 2-3: planning assumption"),
    "turnout": ("s", "constants.ROLL_OUT_S (planning assumption)"),
    "drive_time_cv": (
        "cv",
        "none: network times; else lognormal around them (constants.DRIVE_TIME_CV: "
        "Budge, Ingolfsson & Erkut 2010)",
    ),
    "on_scene": ("s", "planning assumption (constants.SIM_ON_SCENE_S)"),
    "psychiatric_on_scene": ("s", "planning assumption (constants.SIM_PSYCHIATRIC_ON_SCENE_S)"),
    "transport_probability": ("probability", "planning assumption"),
    "psychiatric_transport_probability": ("probability", "planning assumption"),
    "handover": ("s", "planning assumption (constants.SIM_HANDOVER_S)"),
    "return_time_factor": ("factor", "constants.BLUE_LIGHT_FACTOR: home at normal speed"),
    "psychiatric_hours": ("hours", "planning assumption: the issue's 14-02 example"),
    "psychiatric_wait_priorities": ("priorities", "planning choice: none wait"),
    "mutual_aid": ("", "planning choice: units cross region borders"),
    "queue_calls": ("", "calls wait for a free unit"),
    "warmup_s": ("s", "planning choice: one day"),
    "thresholds_min": ("min", "constants.DEFAULT_THRESHOLDS_MIN"),
    "replications": ("", "planning choice"),
    "confidence": ("", "planning choice"),
    "seed": ("", "reproducibility"),
    "arrests_per_person_year": (
        "1/person/year",
        "Svenska HLR-registret (constants.OHCA_PER_PERSON_YEAR)",
    ),
    "survival_coefficients": (
        "a, b (1/min)",
        "De Maio et al. 2003 (constants.SURVIVAL_COEFFICIENTS)",
    ),
    "max_queue": ("calls", "planning choice (constants.SIM_MAX_QUEUE)"),
}


def settings_table(settings: SimulationSettings) -> pd.DataFrame:
    """Every setting with its value, unit and source, one row each.

    Returns
    -------
    pandas.DataFrame
        Columns ``setting``, ``value`` (text), ``unit``, ``source``.
    """
    rows = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, Duration):
            text = value.describe()
        elif isinstance(value, tuple) and value and isinstance(value[0], Duration):
            pairs = zip(PRIORITIES, value, strict=True)
            text = "; ".join(f"prio {p}: {d.describe()}" for p, d in pairs)
        elif f.name == "hour_of_week":
            text = f"168 values, min {min(value):.2f}, max {max(value):.2f} (mean 1)"
        else:
            text = str(value)
        unit, source = _SOURCES[f.name]
        rows.append({"setting": f.name, "value": text, "unit": unit, "source": source})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ParameterError(f"{name} = {value!r}: not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} = {value!r}: not a number") from None
    if not math.isfinite(number):
        raise ParameterError(f"{name} = {value!r}: not a finite number")
    return number


def _positive(value: Any, name: str, *, zero: bool = False) -> float:
    number = _number(value, name)
    if number < 0 or (number == 0 and not zero):
        raise ParameterError(f"{name} = {value!r}: must be {'>= 0' if zero else '> 0'}")
    return number


def _probability(value: Any, name: str) -> float:
    number = _number(value, name)
    if not 0 <= number <= 1:
        raise ParameterError(f"{name} = {value!r}: must be a probability between 0 and 1")
    return number


def _shares(values: Any, name: str) -> tuple[float, float, float]:
    shares = tuple(_probability(v, name) for v in values)
    if len(shares) != 3 or abs(sum(shares) - 1) > 1e-6:
        raise ParameterError(f"{name} = {values!r}: give three shares (prio 1, 2, 3) that sum to 1")
    return shares[0], shares[1], shares[2]


def _is_hour(value: Any) -> bool:
    return bool(
        not isinstance(value, bool) and isinstance(value, int | np.integer) and 0 <= value <= 24
    )
