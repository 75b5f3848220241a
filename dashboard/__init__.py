"""The results dashboard: a read-only Streamlit app over a study database.

``automl dashboard`` runs :mod:`dashboard.app` with ``streamlit run``; the app reads through
:mod:`automl.storage` only and never writes. Pure parts, tested without Streamlit:
:mod:`dashboard.frames` (records to DataFrames), :mod:`dashboard.specs` (spec diffs, the
export command), :mod:`dashboard.archviz` (diagram and layer table), :mod:`dashboard.figures`
(Plotly). Streamlit parts: :mod:`dashboard.loaders` (cached loading), :mod:`dashboard.ui`,
:mod:`dashboard.sections`, and one script per page in ``dashboard/views/``.
"""
