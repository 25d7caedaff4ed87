"""The road network stage: roads in, drive times out.

Takes a road source (an OSM PBF or XML file, or an Overpass download) and an
area (a Swedish region or municipality, :mod:`planner.network.regions`, or a
polygon file) with the emergency speed model
(:mod:`planner.network.speeds`), and hands on a drivable OSMnx-style
MultiDiGraph in the area's metric CRS (:mod:`planner.network.crs`: EPSG:3006
in Sweden) with ``length`` (m), ``speed_kph`` and ``travel_time`` (s) on
every edge (:mod:`planner.network.road_network`, cached); points snapped onto
its edges (:mod:`planner.network.snapping`); and drive times in seconds,
``inf`` where unreachable and never NaN: dense numpy arrays from many
sources (:mod:`planner.network.travel_times`, over the node-level engines of
:mod:`planner.network.engine`) or sparse matrices within a cutoff, computed
in blocks (:mod:`planner.network.matrix`). Importing the package loads none
of its modules.
"""
