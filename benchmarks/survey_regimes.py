"""Notebook 05's regime sweeps on validation: each miniature's effect at each value of its knob, over seeds.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/survey_regimes.py
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/survey_regimes.py --methods scott --set max_steps=300

Everything not on the command line is the SURVEY "default" profile row (labkit.lab.profiles); --set NAME=VALUE
overrides a profile field (a Python literal: --set "scott_noise=[0.0, 0.45]"). Scores the synthetic:arithmetic
"valid" split, never the test split, with the notebook's own code (labkit.lab.survey_regimes.sweep, then
labkit.lab.arms.run over the CPU's cores). Prints each claim at each knob value (mean effect, 95 % interval, per
seed), each arm's mean metrics, the wall time per miniature, and a last line `RESULT key=value ...`.
"""

from __future__ import annotations

import argparse
import ast
import time

import torch

from labkit.lab import arms as A
from labkit.lab import survey as sv
from labkit.lab import survey_regimes as R


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--methods", nargs="+", default=list(R.REGIMES))
    ap.add_argument("--set", nargs="*", default=[], help="profile overrides NAME=VALUE (Python literals)")
    args = ap.parse_args(argv)
    over = {k: ast.literal_eval(v) for k, v in (x.split("=", 1) for x in args.set)}
    P = sv.SurveyProfile.resolve("default", **over)
    torch.set_num_threads(1)
    print(
        f"# steps={P.max_steps} batch={P.batch_size} lr={P.lr} n_train={P.n_train} seeds={P.seeds} "
        f"headline_seeds={P.headline_seeds} {over}",
        flush=True,
    )
    result, runs, sweeps = {}, {}, {}
    t0 = time.perf_counter()
    for m in args.methods:
        sweeps[m] = R.sweep(P, m, eval_split="valid")
    t1 = time.perf_counter()
    got = A.run(
        R.RegimeExperiment.merge(x for x, _ in sweeps.values()), [a for _, arms in sweeps.values() for a in arms]
    )
    wall = time.perf_counter() - t0
    result["wall_s"], result["data_s"] = round(wall, 1), round(t1 - t0, 1)
    for m, (_, arms) in sweeps.items():
        runs[m] = [r for r in got if r.arm in {a.label for a in arms}]
        metrics = ["accuracy", "faithfulness"] if m == "scott" else ["accuracy"]
        for row in A.summary(runs[m], metrics):
            cells = "  ".join(f"{k}={row[k]:.3f} {row[k + ' per seed']}" for k in metrics if k in row)
            print(f"  {row['arm']:55s} {cells} {row['seconds']:.1f}s/run")
        if m == "lion":
            print("  share of the pool solved after imitation:", R.solved_share(runs[m]))
        core = sum(r.seconds + r.extra.get("eval_seconds", 0) for r in runs[m])
        result[f"{m}_core_s"] = round(core, 1)
    print(f"# all miniatures on the cores at once: data+tokenizers {t1 - t0:.1f}s, wall {wall:.1f}s", flush=True)
    claims = R.claims_of(runs, P)
    for c in claims:
        v = ", ".join(f"{x:+.3f}" for x in c["values"])
        print(
            f"{c['id']:42s} {c['mean']:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}] "
            f"{'holds' if c['holds'] else '-'}  ({v})"
        )
        result[c["id"].replace(" ", "")] = round(c["mean"], 3)
    for text in R.where_it_holds(claims).values():
        print("*", text)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
