"""Getting a cluster's workers ready: kernels compiled or loaded, versions checked."""

from __future__ import annotations


def _warm_worker(dtypes) -> dict:
    """On a worker: compile or load the kernels; what the worker runs."""
    import numba

    import fastbackprop

    from .._parallel import caller_threads

    with caller_threads():
        report = fastbackprop.compile(dtypes)
        threads = numba.get_num_threads()
    # the estimators' modules too (scikit-learn's import takes about half a
    # second, which the first round of a fit would otherwise pay)
    from .. import estimators  # noqa: F401

    return {
        "version": fastbackprop.__version__,
        "numba": numba.__version__,
        "seconds": report["seconds"],
        "cache_dir": report["cache_dir"],
        "threads": threads,
    }


def warm_up(client=None, dtypes=("float64", "float32")) -> dict:
    """Compile the kernels on every worker of the cluster, or load them
    from each worker's cache, and check that every worker runs the same
    fastbackprop and Numba as this process.

    Parameters
    ----------
    client : distributed.Client, optional
        Default: the current client.
    dtypes : str or sequence of str, default ("float64", "float32")
        As :func:`fastbackprop.compile`.

    Returns
    -------
    dict
        ``{worker address: {"version", "numba", "seconds", "cache_dir",
        "threads"}}``; ``threads`` is the thread count the kernels use in
        that worker's tasks.

    Raises
    ------
    RuntimeError
        When a worker runs another fastbackprop or Numba version (named).
    """
    import numba

    import fastbackprop

    from ._run import current_client

    client = current_client(client)
    # as tasks, on the workers' task threads: a compile may take a minute,
    # too long to block a worker's event loop (client.run would)
    workers = sorted(client.scheduler_info()["workers"])
    futures = [
        client.submit(_warm_worker, dtypes, workers=[worker], allow_other_workers=False, pure=False)
        for worker in workers
    ]
    reports = dict(zip(workers, client.gather(futures)))
    wanted = (fastbackprop.__version__, numba.__version__)
    different = {
        worker: (report["version"], report["numba"])
        for worker, report in reports.items()
        if (report["version"], report["numba"]) != wanted
    }
    if different:
        raise RuntimeError(
            f"workers run other versions than this process (fastbackprop {wanted[0]}, numba "
            f"{wanted[1]}): "
            + ", ".join(f"{w}: fastbackprop {a}, numba {b}" for w, (a, b) in different.items())
        )
    return reports
