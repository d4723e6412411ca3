"""One engine of ``fastbackprop.bench`` in a process of its own.

Timed in one process, the engines disturb each other: after its turn, an
engine's thread pool (torch's OpenMP team, XLA's workers) keeps spinning on
the cores for a while, and the next engine's threads share those cores.
Measured on the ``large`` workload (2-core Xeon): fastbackprop's epoch took
3.2 s alone and 5.4 s with torch and JAX loaded beside it. So each engine
runs in its own process, and the bench still takes turns between them.

Protocol: one JSON object per line on stdin; each answer is one line on
stdout starting with ``ANSWER_PREFIX``. The worker's own prints go to
stderr.

- ``{"build": {"workload", "n_samples", "dtype", "epochs", "engine"}}`` ->
  ``{"ready": true}``, or ``{"ready": false}`` when the engine's library is
  not installed;
- ``{"run": true}`` -> ``{"seconds": s, "loss": l}``: one unit, timed here;
- end of input: the process exits.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

ANSWER_PREFIX = "@fastbackprop-bench "


_answers = sys.stdout  # serve() gives the answers a descriptor of their own


def _answer(message: dict) -> None:
    _answers.write(ANSWER_PREFIX + json.dumps(message) + "\n")
    _answers.flush()


def serve(stream=None) -> None:
    """Answer requests from ``stream`` (default stdin) until it ends. The
    answers keep the original stdout; anything a library prints goes to
    stderr, so it can never split or hide an answer."""
    global _answers
    if stream is None:
        sys.stdout.flush()
        _answers = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)
    from . import _peers
    from .workloads import WORKLOADS, make_data

    unit = None
    for line in stream or sys.stdin:
        request = json.loads(line)
        if "build" in request:
            spec = request["build"]
            workload = WORKLOADS[spec["workload"]]
            X, y = make_data(workload, n_samples=spec["n_samples"], dtype=spec["dtype"])
            builder = _peers.PEERS[spec["engine"]]
            unit = builder(workload, X, y, epochs=spec["epochs"])
            _answer({"ready": unit is not None})
        elif "run" in request:
            gc.collect()
            start = time.perf_counter()
            loss = unit()
            seconds = time.perf_counter() - start
            _answer({"seconds": seconds, "loss": float(loss)})


if __name__ == "__main__":
    serve()
