"""Where to add ambulance stations (units): location models, exact and heuristic solvers.

The cost matrix of response times (s) is the only thing the optimiser sees of
the road network; see :mod:`planner.optimise.instance`. National runs hold it
sparse, only the pairs within a cutoff (:mod:`planner.optimise.sparse`), and
run the heuristic's rounds in blocks of candidates on an executor of
:mod:`planner.distributed`.
"""

from __future__ import annotations

from planner.optimise.exact import solve_exact
from planner.optimise.heuristic import solve_heuristic
from planner.optimise.instance import Instance, make_instance
from planner.optimise.marginal import (
    ContributionSettings,
    gain_curve,
    site_contributions,
    survivors_table,
)
from planner.optimise.models import (
    DEFAULT_SURVIVAL_COEFFICIENTS,
    LSCP,
    MCLP,
    MEXCLP,
    UNREACHED_PENALTY_S,
    ExpectedCoverage,
    InfeasibleError,
    MaxSurvival,
    Model,
    PCenter,
    PMedian,
    SurvivalGroup,
    swedish_survival_groups,
)
from planner.optimise.solution import Solution
from planner.optimise.sparse import SparseInstance, make_sparse_instance

__all__ = [
    "DEFAULT_SURVIVAL_COEFFICIENTS",
    "LSCP",
    "MCLP",
    "MEXCLP",
    "UNREACHED_PENALTY_S",
    "ContributionSettings",
    "ExpectedCoverage",
    "InfeasibleError",
    "Instance",
    "MaxSurvival",
    "Model",
    "PCenter",
    "PMedian",
    "Solution",
    "SparseInstance",
    "SurvivalGroup",
    "gain_curve",
    "make_instance",
    "make_sparse_instance",
    "site_contributions",
    "solve_exact",
    "solve_heuristic",
    "survivors_table",
    "swedish_survival_groups",
]
