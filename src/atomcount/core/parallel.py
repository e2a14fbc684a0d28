"""Running independent, resumable tasks on dask.distributed (or in this process).

Both simulation pipelines (HRTEM data sets, PPISCS library) hand their missing entries
to :func:`map_tasks`: a LocalCluster of single-threaded worker processes by default, any
running scheduler (e.g. an HPC cluster through dask-jobqueue) when an address is given,
and a plain loop for one worker.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence


def map_tasks(func: Callable, args: Sequence[tuple], workers: int = 1, scheduler: str | None = None,
              desc: str = "tasks", unit: str = "task", progress: bool = True, total: int | None = None,
              initial: int = 0) -> Iterator:
    """Yield ``func(*a)`` for every ``a`` in ``args`` as the results complete.

    Parameters
    ----------
    func : callable
        Picklable function run on the workers.
    args : sequence of tuple
        Arguments of each call.
    workers : int
        Worker processes of the LocalCluster; with 1 and no scheduler, runs here.
    scheduler : str, optional
        Address of a running dask.distributed scheduler.
    desc, unit : str
        Progress-bar labels.
    progress : bool
        Show a progress bar.
    total, initial : int, optional
        Progress-bar length and starting count (work already done before a resume).
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=total if total is not None else len(args), initial=initial, desc=desc, unit=unit,
               disable=not progress)
    try:
        if workers <= 1 and scheduler is None:
            for a in args:
                yield func(*a)
                bar.update()
            return
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster if cluster is not None else scheduler)
        try:
            for fut in as_completed([client.submit(func, *a, pure=False) for a in args]):
                yield fut.result()
                bar.update()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    finally:
        bar.close()
