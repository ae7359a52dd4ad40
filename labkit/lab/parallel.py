"""Runs in parallel on the CPU's cores: one process per run, one torch thread each.

    results = lk.lab.parallel.map_runs(train_one_arm, [dict(arm="ft", seed=0), dict(arm="dss", seed=0), ...])

Small models train far faster as two one-thread processes than as one two-thread process (the
matrices are too small to split), so a notebook's seeds and arms go to a pool of ``processes``
workers started by fork: a worker inherits the notebook's state (loaded data, a teacher, functions
defined in the notebook), runs ``fn(**kwargs)`` and sends back its (picklable) result. Results come
back in the order of the jobs. ``processes=1`` runs everything in this process, in order.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import torch


def default_processes() -> int:
    """The cores this process may use (2 on the development machine)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def map_runs(fn: Callable, jobs: list[dict], *, processes: int | None = None, threads: int = 1) -> list:
    """[fn(**job) for job in jobs], computed by `processes` forked workers with `threads` torch threads each."""
    processes = default_processes() if processes is None else processes
    processes = max(1, min(processes, len(jobs)))
    if processes == 1:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return [fn(**job) for job in jobs]
        finally:
            torch.set_num_threads(before)
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(processes, mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as pool:
        futures = [pool.submit(fn, **job) for job in jobs]
        return [f.result() for f in futures]
