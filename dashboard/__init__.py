"""The results dashboard: a read-only Streamlit app over a study database.

``automl dashboard`` runs :mod:`dashboard.app` with ``streamlit run``; the app reads through
:mod:`automl.storage` only and never writes. Pure parts, tested without Streamlit:
:mod:`dashboard.frames` (records to DataFrames, ranking), :mod:`dashboard.analysis` (EDF,
hypervolume, rungs, timeline, densities and samples for big studies), :mod:`dashboard.specs`
(spec diffs, the export command), :mod:`dashboard.layers` (the layer table, without torch),
:mod:`dashboard.archviz` (diagram), :mod:`dashboard.numbers` (numbers for people),
:mod:`dashboard.figures` and :mod:`dashboard.charts` (Plotly). Streamlit parts:
:mod:`dashboard.loaders` (cached loading), :mod:`dashboard.ui`, :mod:`dashboard.sections` and
:mod:`dashboard.explore` (the study page's views), and one script per page in
``dashboard/views/``.
"""
