"""A patient's chart: its window, clinical tabs, timeline, trend charts and (in
``record_forms/``) the clinical record forms."""
