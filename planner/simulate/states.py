"""Several simulated states of one system side by side: before and after, with and without PAM.

Each state is a :class:`~planner.simulate.run.ReplicationsResult` run with the
same settings' seed and replications, so every state saw the same calls
(common random numbers) and the paired differences of
:func:`~planner.simulate.run.paired_differences` apply. The functions here put
their tables together for files, maps and reports; they compute nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from planner.errors import ParameterError
from planner.simulate.run import ReplicationsResult

__all__ = [
    "CI_SUFFIXES",
    "headline_figures",
    "stacked_logs",
    "stacked_table",
    "summary_comparison",
]

#: Suffixes of a figure's confidence bounds in every table.
CI_SUFFIXES = ("_ci_low", "_ci_high")


def _check_runs(runs: Mapping[str, ReplicationsResult]) -> None:
    if not runs:
        raise ParameterError("runs: give at least one simulated state")
    settings = {(r.settings.seed, r.settings.replications) for r in runs.values()}
    if len(settings) != 1:
        raise ParameterError(
            "runs: the states need the same seed and replications (common random numbers)"
        )


def stacked_table(runs: Mapping[str, ReplicationsResult], table: str) -> pd.DataFrame:
    """One of the tables of every state, stacked, with a leading ``state`` column.

    Parameters
    ----------
    runs
        State name (``before``, ``after`` ...) -> its replications.
    table
        ``total``, ``region``, ``municipality``, ``units``, ``stations`` or
        ``summary`` (see :class:`~planner.simulate.run.SimulationResult`).
    """
    _check_runs(runs)
    frames = []
    for name, run in runs.items():
        if table not in run.tables:
            raise ParameterError(f"table = {table!r}: use one of {', '.join(run.tables)}")
        frames.append(run.tables[table].assign(state=name))
    out = pd.concat(frames, ignore_index=True)
    return out[["state", *[c for c in out.columns if c != "state"]]]


def summary_comparison(
    runs: Mapping[str, ReplicationsResult], difference: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every summary figure of the states side by side, with their paired difference.

    Parameters
    ----------
    runs
        State name -> its replications, in the order of the columns.
    difference
        :func:`~planner.simulate.run.paired_differences` of two of them (its
        ``difference`` is the later state minus the earlier), or None.

    Returns
    -------
    pandas.DataFrame
        One row per figure (``figure``): for each state ``<state>``,
        ``<state>_ci_low`` and ``<state>_ci_high`` (the mean over the
        replications and its confidence interval), then ``difference``,
        ``difference_ci_low`` and ``difference_ci_high`` when given.
    """
    _check_runs(runs)
    out: pd.DataFrame | None = None
    for name, run in runs.items():
        row = run.tables["summary"].iloc[0]
        figures = [c for c in row.index if c != "replications" and not c.endswith(CI_SUFFIXES)]
        part = pd.DataFrame(
            {
                "figure": figures,
                name: [float(row[f]) for f in figures],
                f"{name}_ci_low": [float(row[f"{f}_ci_low"]) for f in figures],
                f"{name}_ci_high": [float(row[f"{f}_ci_high"]) for f in figures],
            }
        )
        out = part if out is None else out.merge(part, on="figure", how="left", sort=False)
    assert out is not None
    if difference is not None:
        paired = difference.set_index("figure")
        for column in ("difference", "difference_ci_low", "difference_ci_high"):
            out[column] = out["figure"].map(paired[column]).astype(float)
    return out


def headline_figures(thresholds_min: tuple[float, ...], *, psychiatric: bool) -> list[str]:
    """The summary figures a reader looks at first, in reading order.

    The prio-1 median, 90th percentile and share within each threshold from
    queue entry to arrival (the Swedish measure), waiting, mutual aid,
    ambulance utilisation and expected cardiac-arrest survivors; with a
    psychiatric fleet also its share of psychiatric calls and their median,
    and the regular fleet's prio-1 median.
    """
    figures = ["prio1_median_min", "prio1_p90_min"]
    figures += [f"prio1_share_within_{t:g}_min" for t in thresholds_min]
    if psychiatric:
        figures += ["regular_prio1_median_min", "psychiatric_median_min", "psychiatric_by_pam"]
    figures += [
        "share_waited",
        "mean_wait_min",
        "share_from_other_municipality",
        "ambulance_utilisation",
        "expected_survivors_per_year",
        "calls_per_day",
    ]
    return figures


def stacked_logs(runs: Mapping[str, ReplicationsResult]) -> pd.DataFrame:
    """The kept call logs of every state in one table.

    Columns ``state`` and ``replication`` first, then the log's own columns
    (:class:`~planner.simulate.run.SimulationResult`). Under common random
    numbers the rows of one replication describe the same calls in every
    state: equal ``call``, ``t_call``, ``point``, ``priority`` and
    ``psychiatric``.
    """
    _check_runs(runs)
    frames = [
        log.assign(state=name, replication=np.int64(r))
        for name, run in runs.items()
        for r, log in enumerate(run.logs)
    ]
    if not frames:
        return pd.DataFrame({"state": [], "replication": []})
    out = pd.concat(frames, ignore_index=True)
    return out[
        ["state", "replication", *[c for c in out.columns if c not in ("state", "replication")]]
    ]
