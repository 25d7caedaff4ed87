"""The inputs stage: the files of a run read into point layers.

Takes station, demand and candidate-site files (CSV in Swedish or English
spelling, GeoJSON, GeoPackage, GeoParquet, OSM PBF/XML; an SCB population
grid; a calls file) and hands on validated GeoDataFrames in their metric CRS:
stations with ``name``, ``fleet`` and ``units``
(:mod:`planner.inputs.sites`); weighted demand points with their
municipality and region (:mod:`planner.inputs.demand`); and candidate sites
with ``name``, ``kind`` and ``required`` (:mod:`planner.inputs.candidates`).
Bad input gets a :class:`planner.errors.PlannerError` that names the file,
row and column. It may use the road network (a grid of road nodes,
distances to roads) but nothing later. Importing the package loads none of
its modules.
"""
