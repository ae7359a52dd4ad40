"""labkit.lab.parallel: forked workers give the same results as a plain loop, in job order, one thread each."""

from __future__ import annotations

import os

import torch

from labkit.lab import parallel

STATE = {"offset": 10}  # module state a forked worker inherits


def _work(seed: int, scale: float):
    g = torch.Generator().manual_seed(seed)
    return {
        "seed": seed,
        "value": float(torch.randn(3, generator=g).sum() * scale) + STATE["offset"],
        "pid": os.getpid(),
        "threads": torch.get_num_threads(),
    }


def test_map_runs_matches_a_loop_in_order():
    jobs = [dict(seed=s, scale=2.0) for s in (3, 1, 2, 0)]
    forked = parallel.map_runs(_work, jobs, processes=2)
    inline = parallel.map_runs(_work, jobs, processes=1)
    assert [r["seed"] for r in forked] == [3, 1, 2, 0]
    assert [r["value"] for r in forked] == [r["value"] for r in inline]
    assert all(r["pid"] != os.getpid() and r["threads"] == 1 for r in forked)
    assert all(r["pid"] == os.getpid() for r in inline)
