"""Uncertain drive times: a lognormal spread around the modelled time.

The modelled (network) drive time :math:`m` is taken as the *median* of a
lognormal drive time :math:`D` with coefficient of variation ``cv``
(:data:`planner.constants.DRIVE_TIME_CV`, Budge, Ingolfsson & Erkut 2010;
Westgate et al. 2016):

.. math::

    \\ln D \\sim N(\\ln m, \\sigma^2), \\qquad \\sigma = \\sqrt{\\ln(1 + cv^2)},

so :math:`E[D] = m\\, e^{\\sigma^2/2}` and :math:`P(D \\le L) = \\Phi(\\ln(L/m)/\\sigma)`.
With the median as the modelled time, a point is deterministically "within
T" exactly when its probability of being reached within T is at least one
half. ``cv = 0`` gives back the deterministic model (probability 1 or 0).

:func:`probability_within` turns "within T" into a probability (coverage
tables, the optimiser's expected coverage); :func:`draw_drive_times` draws
drive times from the same distribution with a seed (the simulation). Times in s.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from planner import constants
from planner.errors import ParameterError

__all__ = ["check_cv", "draw_drive_times", "lognormal_sigma", "probability_within"]

#: Highest accepted coefficient of variation (validation limit): a spread of
#: more than three times the median is no longer a drive time model.
MAX_CV = 3.0


def check_cv(cv: float, *, argument: str = "drive_time_cv") -> float:
    """``cv`` as a float in [0, MAX_CV]; else a ParameterError naming ``argument``."""
    if isinstance(cv, bool):
        raise ParameterError(f"{argument} = {cv!r}: give a number such as 0.3")
    try:
        value = float(cv)
    except (TypeError, ValueError):
        raise ParameterError(f"{argument} = {cv!r}: give a number such as 0.3") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_CV):
        raise ParameterError(
            f"{argument} = {cv!r}: the coefficient of variation must be between 0 and {MAX_CV:g}"
        )
    return value


def lognormal_sigma(cv: float) -> float:
    """Standard deviation of ``ln D`` for coefficient of variation ``cv``: ``sqrt(ln(1 + cv²))``."""
    return math.sqrt(math.log1p(check_cv(cv) ** 2))


def probability_within(
    median_s: np.ndarray | float,
    limit_s: np.ndarray | float,
    *,
    cv: float = constants.DRIVE_TIME_CV,
) -> np.ndarray:
    """Probability that a lognormal drive time with median ``median_s`` is at most ``limit_s``.

    Parameters
    ----------
    median_s
        Modelled drive times, s (``inf``: never reached, probability 0).
    limit_s
        Time available for the drive, s (broadcasts with ``median_s``; 0 or
        less: probability 0).
    cv
        Coefficient of variation of the drive time (0: deterministic,
        ``median_s <= limit_s``).

    Returns
    -------
    numpy.ndarray
        Probabilities in [0, 1], the broadcast shape of the inputs.
    """
    m = np.asarray(median_s, dtype=float)
    limit = np.asarray(limit_s, dtype=float)
    sigma = lognormal_sigma(cv)
    if sigma == 0:
        return np.asarray((m <= limit) & np.isfinite(m) & (limit > 0), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (np.log(np.maximum(limit, 0.0)) - np.log(m)) / sigma
    p = ndtr(np.where(np.isnan(z), -np.inf, z))
    zero_drive = (m == 0) & (limit >= 0)  # a drive of 0 s arrives at once
    return np.asarray(np.where(zero_drive, 1.0, np.where(limit > 0, p, 0.0)), dtype=float)


def draw_drive_times(
    median_s: np.ndarray | float,
    *,
    cv: float = constants.DRIVE_TIME_CV,
    seed: int | np.random.Generator,
    size: int | tuple[int, ...] | None = None,
) -> np.ndarray:
    """Draw lognormal drive times, s, with the given medians and coefficient of variation.

    Parameters
    ----------
    median_s
        Modelled drive times (the medians), s; ``inf`` stays ``inf``.
    cv
        Coefficient of variation (0: the medians themselves).
    seed
        A seed, or a :class:`numpy.random.Generator` to draw from (its state
        advances).
    size
        Output shape (default: the shape of ``median_s``); ``median_s``
        broadcasts to it.

    Returns
    -------
    numpy.ndarray
        ``median_s * exp(sigma * Z)``, Z standard normal.
    """
    m = np.asarray(median_s, dtype=float)
    if (m < 0).any() or np.isnan(m).any():
        raise ParameterError("median_s: drive times must be >= 0 s (inf for unreachable)")
    sigma = lognormal_sigma(cv)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    shape = m.shape if size is None else size
    z = rng.standard_normal(shape)
    return np.asarray(np.broadcast_to(m, np.shape(z)) * np.exp(sigma * z), dtype=float)
