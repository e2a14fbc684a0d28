"""One module per file format; see :mod:`atomcount.io._registry` for the plugin contract."""
