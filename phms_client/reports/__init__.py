"""Reports: sandboxed template rendering, body measures, tables to CSV/XLSX, PDF.

Nothing here imports Qt or touches the database, except :mod:`.pdf`, which
uses QtGui's own HTML layout (the same one the preview and the printer use).
"""
