"""Pieces shared by the HRTEM and ADF-STEM pipelines.

* :mod:`~atomcount.core.errors` — :class:`AtomcountError` and :func:`check_range`.
* :mod:`~atomcount.core.units` — electron wavelength.
* :mod:`~atomcount.core.crystals` — fcc metals and zone axes.
* :mod:`~atomcount.core.particles` — Wulff-construction particles.
* :mod:`~atomcount.core.columns` — atomic columns along a zone axis (ground truth).
* :mod:`~atomcount.core.parallel` — task maps over Dask.
* :mod:`~atomcount.core.figures` — shared plots (overlays, 3-D columns).
* :mod:`~atomcount.core.provenance` — machine description, sections of ``BENCHMARKS.md``.

``atomcount.core`` imports neither :mod:`atomcount.hrtem` nor :mod:`atomcount.stem`
(``tests/test_layout.py`` checks it).
"""
