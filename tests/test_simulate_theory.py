"""The simulation against queueing theory: Erlang C and Larson's hypercube model.

Both are checked within the simulation's own confidence interval over
independent replications (99 %, so that a correct engine fails only rarely
on a new seed; the seeds here are fixed). The theoretical values are
computed here, independently of the engine: the Erlang-C formulas in closed
form, and the hypercube model as the exact continuous-time Markov chain,
solved with numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from planner.simulate import (
    Duration,
    SimulationSettings,
    SimulationTimes,
    build_model,
    run_replications,
)

HOUR = 3600.0
FIXED_ZERO = Duration(0.0, 0.0, "fixed")


def theory_settings(
    *, calls_per_hour: float, days: float, mean_service_s: float = HOUR, **changes: object
) -> SimulationSettings:
    """Poisson calls at a flat rate, exponential service, no handling or turn-out."""
    service = Duration(mean_service_s, distribution="exponential")
    base: dict[str, object] = {
        "calls_per_year": calls_per_hour * 24 * 365,
        "days": days,
        "hour_of_week": (1.0,) * 168,
        "priority_shares": (1.0, 0.0, 0.0),
        "psychiatric_share": 0.0,
        "call_handling": (FIXED_ZERO,) * 3,
        "turnout": FIXED_ZERO,
        "on_scene": (service,) * 3,
        "psychiatric_on_scene": service,
        "transport_probability": (0.0, 0.0, 0.0),
        "psychiatric_transport_probability": 0.0,
        "return_time_factor": 1.0,
        "warmup_s": 3 * 86400.0,
        "confidence": 0.99,
    }
    base.update(changes)
    return SimulationSettings(**base)  # type: ignore[arg-type]


def hand_model(
    station_to_point: np.ndarray,
    units: list[int],
    settings: SimulationSettings,
    *,
    weights: list[float] | None = None,
):
    """A model from a hand-made matrix of drive times (s), no hospitals."""
    times = np.asarray(station_to_point, dtype=float)
    n_st, n_pt = times.shape
    sim_times = SimulationTimes(
        station_to_point=times,
        hospital_to_point=np.zeros((0, n_pt)),
        point_to_hospital=np.zeros((n_pt, 0)),
        point_to_station=times.T.copy(),
        hospital_to_station=np.zeros((0, n_st)),
    )
    stations = pd.DataFrame(
        {"name": [f"st{i}" for i in range(n_st)], "fleet": "ambulance", "units": units}
    )
    points = pd.DataFrame({"weight": weights if weights is not None else [1.0] * n_pt})
    return build_model(stations, points, [], sim_times, settings=settings)


def mean_ci(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Mean and two-sided t interval over replications (rows)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    half = stats.t.ppf((1 + confidence) / 2, n - 1) * values.std(ddof=1, axis=0) / math.sqrt(n)
    mean = values.mean(axis=0)
    return mean, mean - half, mean + half


# --------------------------------------------------------------------------
# Erlang C
# --------------------------------------------------------------------------
def erlang_c(c: int, offered: float) -> float:
    """Probability that a call waits in an M/M/c queue with offered load ``offered`` erlangs."""
    rho = offered / c
    top = offered**c / math.factorial(c) / (1 - rho)
    bottom = sum(offered**k / math.factorial(k) for k in range(c)) + top
    return top / bottom


@pytest.mark.parametrize(
    ("units", "rho", "days"),
    [(1, 0.7, 120), (3, 0.5, 120), (3, 0.8, 150), (5, 0.9, 150)],
)
def test_erlang_c_wait_probability_and_mean_wait(units: int, rho: float, days: int) -> None:
    """One station, c units, zero travel: P(wait) and mean wait match Erlang C."""
    lam = rho * units  # calls per hour with a mean service of one hour
    settings = theory_settings(calls_per_hour=lam, days=days, replications=12, seed=units * 10)
    model = hand_model(np.zeros((1, 1)), [units], settings)
    run = run_replications(model, settings, keep_logs=0)
    summary = run.tables["summary"].iloc[0]

    p_wait = erlang_c(units, lam)
    mean_wait_min = p_wait / (units - lam) * 60.0  # Wq = C / (c mu - lambda), hours -> min
    assert summary["share_waited_ci_low"] <= p_wait <= summary["share_waited_ci_high"]
    assert summary["mean_wait_min_ci_low"] <= mean_wait_min <= summary["mean_wait_min_ci_high"]
    # the interval is narrow enough to tell the loads apart
    assert summary["share_waited_ci_high"] - summary["share_waited_ci_low"] < 0.1
    # every unit is busy rho of the time (utilisation of an M/M/c queue)
    utilisation = summary["ambulance_utilisation"]
    assert abs(utilisation - rho) < 0.03


# --------------------------------------------------------------------------
# The hypercube model (Larson 1974)
# --------------------------------------------------------------------------
#: Preference (dispatch) order of the units in each of four zones.
PREFERENCES = ((0, 1, 2), (1, 0, 2), (2, 1, 0), (0, 2, 1))
ZONE_SHARES = (0.4, 0.3, 0.2, 0.1)


def hypercube(
    rates: np.ndarray, mu: float, n_units: int, *, queue: bool, max_queue: int = 400
) -> tuple[np.ndarray, np.ndarray]:
    """Exact busy fractions and zone-by-unit service shares of the hypercube model.

    States are the busy sets (bit i = unit i busy) and, with a queue, the
    numbers of calls waiting while all are busy. A call of zone j goes to the
    first free unit in its preference order; when all are busy it is lost, or
    waits (FCFS) for the first unit to free, each unit equally likely
    (memoryless service at equal rates).

    Returns
    -------
    busy, share
        ``busy[i]``: fraction of time unit i is busy; ``share[j, i]``:
        fraction of zone j's calls served by unit i.
    """
    full = 2**n_units - 1
    n_states = 2**n_units + (max_queue if queue else 0)
    q = np.zeros((n_states, n_states))
    for state in range(2**n_units):
        for j, prefs in enumerate(PREFERENCES):
            free = [i for i in prefs if not state >> i & 1]
            if free:
                q[state, state | 1 << free[0]] += rates[j]
            elif queue:
                q[state, 2**n_units] += rates[j]
        for i in range(n_units):
            if state >> i & 1:
                q[state, state & ~(1 << i)] += mu
    for k in range(max_queue if queue else 0):  # all busy, k + 1 waiting
        s = 2**n_units + k
        below = full if k == 0 else s - 1
        q[s, below] += n_units * mu
        if k + 1 < max_queue:
            q[s, s + 1] += rates.sum()
    np.fill_diagonal(q, -q.sum(axis=1))
    a = np.vstack([q.T, np.ones(n_states)])
    b = np.zeros(n_states + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    binary = pi[: 2**n_units]
    all_busy = pi[full] + pi[2**n_units :].sum()
    busy = np.array(
        [binary[[s for s in range(2**n_units) if s >> i & 1]].sum() for i in range(n_units)]
    )
    busy += pi[2**n_units :].sum()
    share = np.zeros((len(PREFERENCES), n_units))
    for state, p in enumerate(binary):
        for j, prefs in enumerate(PREFERENCES):
            free = [i for i in prefs if not state >> i & 1]
            if free:
                share[j, free[0]] += p
    if queue:
        share += all_busy / n_units
    return busy, share


def test_hypercube_solver_matches_erlang_loss() -> None:
    """The test's CTMC is right: its total busy time equals Erlang B's carried load."""
    rates = np.array(ZONE_SHARES) * 2.0
    busy, share = hypercube(rates, 1.0, 3, queue=False)
    offered = 2.0
    blocking = (offered**3 / 6) / sum(offered**k / math.factorial(k) for k in range(4))
    assert busy.sum() == pytest.approx(offered * (1 - blocking), rel=1e-9)
    assert share.sum(axis=1) == pytest.approx([1 - blocking] * 4, rel=1e-9)


@pytest.mark.parametrize("queue", [False, True])
def test_hypercube_busy_fractions_and_dispatch_shares(queue: bool) -> None:
    """3 units, 4 zones, nearest available: the simulation matches the exact chain."""
    n_units, mu = 3, 1.0  # service rate per hour
    lam = 1.8  # calls per hour: 60 % of capacity
    # tiny drive times that give each zone its preference order (s)
    times = np.zeros((n_units, len(PREFERENCES)))
    for j, prefs in enumerate(PREFERENCES):
        for rank, unit in enumerate(prefs):
            times[unit, j] = 0.001 * (rank + 1)
    settings = theory_settings(
        calls_per_hour=lam, days=150, replications=10, seed=7 + queue, queue_calls=queue
    )
    model = hand_model(times, [1, 1, 1], settings, weights=list(ZONE_SHARES))
    run = run_replications(model, settings, keep_logs=settings.replications)

    busy_theory, share_theory = hypercube(np.array(ZONE_SHARES) * lam, mu, n_units, queue=queue)
    busy_sim = np.array(
        [rep["units"].sort_values("unit")["utilisation"].to_numpy() for rep in run.per_replication]
    )
    shares_sim = []
    for log in run.logs:
        counted = log.loc[log["counted"]]
        table = pd.crosstab(counted["point"], counted["unit"]).reindex(
            index=range(4), columns=range(n_units), fill_value=0
        )
        counts = table.to_numpy()
        shares_sim.append(counts / counted["point"].value_counts().sort_index().to_numpy()[:, None])
    for observed, theory in ((busy_sim, busy_theory), (np.array(shares_sim), share_theory)):
        # Bonferroni: every entry of the family within a 99 % family-wise interval
        confidence = 1 - (1 - settings.confidence) / theory.size
        mean, low, high = mean_ci(observed, confidence)
        assert np.all((low <= theory) & (theory <= high)), (mean, theory)
        assert np.max(high - low) < 0.08  # tight enough to tell units and zones apart
    # the orders matter: zone 0's first choice serves far more of it than its last
    assert share_theory[0, 0] > 2 * share_theory[0, 2]
    if not queue:
        lost = np.mean([np.mean(log.loc[log["counted"], "status"] == "lost") for log in run.logs])
        assert lost == pytest.approx(1 - share_theory[0].sum(), abs=0.02)
