"""HRTEM: column heights from high-resolution TEM images (Ragone et al., Comput. Mater. Sci. 2020).

* :mod:`~atomcount.hrtem.microscope` — imaging parameters, their ranges, CTF and envelopes.
* :mod:`~atomcount.hrtem.imaging` — exit waves (abTEM multislice) and image formation.
* :mod:`~atomcount.hrtem.labels` — column-height targets.
* :mod:`~atomcount.hrtem.dataset` — resumable generation of simulated data sets.
* :mod:`~atomcount.hrtem.nn`, :mod:`~atomcount.hrtem.training` — the network and its training.
* :mod:`~atomcount.hrtem.evaluation` — metrics, test sets, whole-frame trust evaluation.
* :mod:`~atomcount.hrtem.analysis` — :func:`~atomcount.hrtem.analysis.count.count_columns`.

``atomcount.hrtem`` imports :mod:`atomcount.core` but never :mod:`atomcount.stem`.
"""
