"""planner: ambulance coverage planning for Swedish regions.

OpenStreetMap roads and region boundaries become emergency drive times from
stations, then coverage tables and proposed sites. Seconds and metres are used
inside the code, minutes in what users read; analysis is done in SWEREF 99 TM
(EPSG:3006).

The subpackages are the stages, in the order data flows through them and
none imports a later one: :mod:`planner.network` (roads -> graph -> drive
times), :mod:`planner.inputs` (stations, demand, candidate sites),
:mod:`planner.analysis` (coverage tables, isochrones), :mod:`planner.optimise`
(where to add units), :mod:`planner.simulate` (the fleet over time),
:mod:`planner.outputs` (files, map, report) and :mod:`planner.run` (commands
and scenarios). Below them, the ground floor every stage may use:
:mod:`planner.constants`, :mod:`planner.errors`, :mod:`planner.cache`,
:mod:`planner.staging` and :mod:`planner.distributed`. See ``docs/design.md``.

Importing the package does nothing but define names: no I/O, no network and
no reading of the environment.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("planner")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
