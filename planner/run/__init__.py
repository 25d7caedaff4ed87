"""The run layer: one command or one scenario, as a list of stage calls.

Takes what a user gives (command-line options, :mod:`planner.run.cli`, or a
TOML scenario file, :mod:`planner.run.scenario`, read into frozen settings)
and hands on written outputs: it calls the stages in order (network, inputs,
analysis, optimise, outputs) for one command (:mod:`planner.run.pipeline`:
``run_coverage``, ``run_isochrones``, ``run_optimise``) or a whole scenario
(:mod:`planner.run.plan`: ``plan_scenario``, ``write_plan``, the demo and
``plan_matrix``). Only :mod:`planner.run.cli` reads argv and the environment.
Importing the package loads none of its modules.
"""
