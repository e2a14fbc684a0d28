"""In-situ HRTEM movies: lazy frame reading, resumable counting, drift, tracking, fusion.

``atomcount movie MOVIE`` (:mod:`atomcount.commands.movie`) runs :func:`atomcount.movie.run.count_movie`:
frames are read lazily (:mod:`~atomcount.movie.frames`), counted with the HRTEM network,
their drift measured against the first frame (:mod:`~atomcount.movie.drift`), columns linked
into tracks (:mod:`~atomcount.movie.tracking`) and, on request, their heights fused over
time by a hidden Markov model (:mod:`~atomcount.movie.fusion`).
"""
