"""ADF-STEM probe-position-integrated scattering cross-sections (PPISCS).

* :mod:`~atomcount.ppiscs.simulation` — frozen-phonon plane-wave multislice of one entry.
* :mod:`~atomcount.ppiscs.library` — the entry files, PPISCS from them, generation at scale.
* :mod:`~atomcount.ppiscs.curve` — :func:`ppiscs_curve`, the public entry point.
* :mod:`~atomcount.ppiscs.validation` — probe-scan identity, convergence, analytic checks.
* :mod:`~atomcount.ppiscs.cli` — ``atomcount ppiscs …``.
"""
