"""The outputs stage: results written as files people open.

Takes tables (DataFrames), layers (GeoDataFrames) and the metadata of a run,
and hands on files, each written atomically inside an all-or-nothing run
(:mod:`planner.staging`) and carrying its inputs, settings, versions and the
OSM attribution: CSV, Parquet, XLSX, GeoPackage and GeoJSON
(:mod:`planner.outputs.export`), the interactive folium map with its offline
assets (:mod:`planner.outputs.maps`), the one-page HTML report
(:mod:`planner.outputs.report`) and the comparison of two plan runs
(:mod:`planner.outputs.compare`). Importing the package loads none of its
modules.
"""
