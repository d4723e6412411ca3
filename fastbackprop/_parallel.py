"""How a training call uses the cores: batch shards, update chunks, BLAS.

A minibatch of 64-256 rows is too small for BLAS's own threads to pay off
(measured on the mnist workload: 334 ms per epoch with two BLAS threads,
345 ms with one). So each step of the training loop runs on Numba threads: the
batch is split into shards of consecutive rows (forward, loss, deltas),
then the parameters into chunks (gradients over the whole batch, then the
optimizer step), each computed by single-threaded BLAS on its own thread.
With one chunk (a small network, or an unsharded batch) there is no second
phase: each shard sums its own rows' gradients. With several chunks and a
large first weight matrix, the chunks also compute the input layer's
product before the shards run, split by input column, so each core's block
of that matrix stays in its own cache (``input_chunks``).
While that loop runs, BLAS is held to one thread, so the two kinds of
threads never compete for a core.

The numbers of shards and chunks depend on the machine, the batch size and
the number of parameters, never on
:func:`fastbackprop.set_num_threads`: with one thread the shards run one
after the other and give bit-identical results.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numba

#: A shard gets at least this many rows: below it a GEMM's packing overhead
#: outweighs what a second core brings.
MIN_SHARD_ROWS = 16

#: The optimizer step is split across threads from this many parameters up;
#: below it one core finishes before a second would wake.
MIN_CHUNK_PARAMS = 1 << 14

#: The update chunks compute the input layer's product when its weight
#: matrix has at least this many weights. There the split keeps each core's
#: block of it in its own cache; for a small matrix the step's extra
#: parallel region costs more (A/B: mnist's 784x128 gained 7-13% with Adam,
#: wide's 784x1024 4-10%, deep's 64x256 lost 6-14% with SGD).
MIN_SPLIT_INPUT_WEIGHTS = 1 << 16


def shard_count(batch_size: int) -> int:
    """How many row shards each batch of ``batch_size`` rows is split into."""
    cores = numba.config.NUMBA_NUM_THREADS
    return max(1, min(cores, int(batch_size) // MIN_SHARD_ROWS))


def update_chunks(n_params: int, n_shards: int) -> int:
    """How many parallel chunks the gradients and the optimizer step are
    split into.

    Only when the batch is sharded and the network is not small: otherwise
    BLAS keeps its own threads and Numba's must stay asleep. With one chunk,
    each shard sums its own rows' gradients instead (see ``train_epochs``).
    Like the shard count, this depends on the machine and the network,
    never on the thread setting, so results do not depend on the thread
    setting either.
    """
    if n_shards == 1 or n_params < MIN_CHUNK_PARAMS:
        return 1
    return n_shards


def input_chunks(layer_sizes, n_chunks: int) -> int:
    """``n_chunks`` when the update chunks also compute the input layer's
    product, split by input column (``kernels.train._input_block_product``),
    else 0: only with several chunks and a first weight matrix of at least
    ``MIN_SPLIT_INPUT_WEIGHTS`` weights. Like the chunk count, it depends on
    the machine and the network, never on the thread setting.
    """
    n_weights = int(layer_sizes[0]) * int(layer_sizes[1])
    return n_chunks if n_chunks > 1 and n_weights >= MIN_SPLIT_INPUT_WEIGHTS else 0


def row_parts(n_rows: int, block: int) -> list[tuple[int, int]]:
    """Split ``range(n_rows)`` into one part per core for a whole-data-set
    evaluation, at multiples of ``block`` rows (the kernel's chunk), so every
    chunk holds the same rows as in one serial pass and gives the same bits.

    Like the shards, the split depends on the machine, never on
    :func:`fastbackprop.set_num_threads`.
    """
    n_blocks = -(-int(n_rows) // block)
    n_parts = min(numba.config.NUMBA_NUM_THREADS, n_blocks)
    if n_parts <= 1:
        return [(0, int(n_rows))]
    per_part = -(-n_blocks // n_parts)
    bounds = [min(k * per_part * block, n_rows) for k in range(n_parts + 1)]
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def run_parts(task, parts):
    """``[task(lo, hi) for lo, hi in parts]``, the parts on as many Python
    threads as the caller's thread count (the kernels release the GIL),
    each thread's parts one after another, while BLAS is held to one
    thread; all on the calling thread when its thread count is 1. The parts
    themselves never depend on the thread count, so neither do the bits."""
    global _executor
    threads = min(numba.get_num_threads(), len(parts))
    if threads == 1:
        if len(parts) == 1:
            return [task(*parts[0])]
        with blas_single_threaded():
            return [task(lo, hi) for lo, hi in parts]

    def run_group(group):
        return [task(lo, hi) for lo, hi in group]

    groups = [parts[k::threads] for k in range(threads)]
    with blas_single_threaded():
        with _executor_lock:
            if _executor is None:
                workers = max(1, numba.config.NUMBA_NUM_THREADS - 1)
                _executor = ThreadPoolExecutor(workers, thread_name_prefix="fastbackprop")
        # the caller computes the first group itself
        futures = [_executor.submit(run_group, group) for group in groups[1:]]
        done = [run_group(groups[0])] + [future.result() for future in futures]
    results = [None] * len(parts)
    for k, group_results in enumerate(done):
        results[k::threads] = group_results
    return results


_lock = threading.Lock()
_holders = 0  # training calls currently inside blas_single_threaded
_saved_threads: list[int] = []
_libraries = None


def _blas_libraries():
    global _libraries
    if _libraries is None:
        from threadpoolctl import ThreadpoolController

        from . import _blas_provider

        _blas_provider.install()  # loads the BLAS the kernels call before looking

        _libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _libraries


@contextlib.contextmanager
def blas_single_threaded(active: bool = True):
    """Hold every loaded BLAS to one thread while the block runs.

    Shared between Python threads: the first caller in sets the limit and
    the last one out restores the thread counts it found.
    """
    global _holders
    if not active:
        yield
        return
    with _lock:
        if _holders == 0:
            _saved_threads[:] = [lib.num_threads for lib in _blas_libraries()]
            for lib in _blas_libraries():
                lib.set_num_threads(1)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                for lib, n in zip(_blas_libraries(), _saved_threads):
                    lib.set_num_threads(n)


def _dask_worker_threads() -> int | None:
    """The thread count of the Dask worker whose task is running on this
    thread, or None outside a worker's task. Dask's nanny sets the OpenMP
    and BLAS variables to it, but Numba reads only ``NUMBA_NUM_THREADS``
    and would take every core of the machine in each worker."""
    distributed = sys.modules.get("distributed")  # never imported for this
    if distributed is None:
        return None
    try:
        worker = distributed.get_worker()
    except ValueError:  # not in a worker's task
        return None
    return int(worker.state.nthreads)


@contextlib.contextmanager
def caller_threads():
    """Run the block with the calling thread's kernels held to its Dask
    worker's thread count when it is a worker's task (Numba's thread count
    is per calling thread); elsewhere, unchanged."""
    limit = _dask_worker_threads()
    if limit is None:  # outside Dask: Numba's threads are not even asked for
        yield
        return
    before = numba.get_num_threads()
    if limit >= before:
        yield
        return
    numba.set_num_threads(limit)
    try:
        yield
    finally:
        numba.set_num_threads(before)
