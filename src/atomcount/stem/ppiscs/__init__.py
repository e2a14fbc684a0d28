"""ADF-STEM probe-position-integrated scattering cross-sections (PPISCS).

* :mod:`~atomcount.stem.ppiscs.simulation` — frozen-phonon plane-wave multislice of one entry.
* :mod:`~atomcount.stem.ppiscs.library` — the entry files, PPISCS from them, generation at scale.
* :mod:`~atomcount.stem.ppiscs.curve` — :func:`ppiscs_curve`, the public entry point.
* :mod:`~atomcount.stem.ppiscs.validation` — probe-scan identity, convergence, analytic checks.
* :mod:`~atomcount.stem.ppiscs.cli` — ``atomcount ppiscs …``.
"""
