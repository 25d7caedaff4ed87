"""The analysis stage: drive times turned into coverage tables and isochrones.

Takes stations and demand snapped to the road network and their drive times
(s, from :mod:`planner.network`), and hands on what a planner reads:
coverage tables per region, municipality and station with the weighted share
within each threshold, percentiles, the Gini index and the worst served
(:mod:`planner.analysis.coverage`, DataFrames whose columns carry their
unit), and isochrone band polygons per fleet, station and catchment in the
network's CRS (:mod:`planner.analysis.isochrones`). Large runs are computed
in blocks of stations on an executor, never holding the stations × nodes
times. Importing the package loads none of its modules.
"""
