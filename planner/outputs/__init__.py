"""The outputs stage: results written as files people open.

Takes tables (DataFrames), layers (GeoDataFrames) and the metadata of a run,
and hands on files, each written atomically inside an all-or-nothing run
(:mod:`planner.staging`) and carrying its inputs, settings, versions and the
OSM attribution: CSV, Parquet, XLSX, GeoPackage and GeoJSON
(:mod:`planner.outputs.export`; CSV in a standard or a Swedish-Excel dialect,
XLSX formatted by :mod:`planner.outputs.spreadsheet` with the readable names
of :mod:`planner.outputs.labels`), the interactive folium map with Leaflet
inlined (:mod:`planner.outputs.maps`), the HTML and PDF report
(:mod:`planner.outputs.report`) and the comparison of two plan runs
(:mod:`planner.outputs.compare`). What people read is in Swedish or English
(a ``language`` passed to each writer, :mod:`planner.i18n`); machine-readable
column names never change. Importing the package loads none of its modules.
"""
