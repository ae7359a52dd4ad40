"""Budget for notebooks 01/02 at profile default: their arms x seeds, on 2 one-thread workers, validation curves.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/students_budget.py --notebook 01 --steps 400 --batch 16

Prints, per arm, mean validation accuracy at step 0, every --eval-every steps and at the end (the test split
is not read), the per-seed final validation accuracies, train seconds per run, and the wall time of the lot.
Uses the notebooks' own code: labkit.lab.students (prepare, dss_arms / tinyllm_arms, run_arms).
"""

import argparse
import json
import os
import statistics
import time

from labkit.lab import arms as A
from labkit.lab import students


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--notebook", choices=["01", "02"], default="01")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--student", default="scratch@layers=2,hidden=64")
    ap.add_argument("--arms", default="", help="comma-separated subset of the notebook's arms")
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--max-len", type=int, default=160)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    teachers = ["noisy-oracle@p=0.2"] if a.notebook == "01" else ["noisy-oracle@p=0.2", "oracle@style=terse"]
    t0 = time.perf_counter()
    S = students.prepare(
        "synthetic:arithmetic", teachers, student=a.student, n_train=1000, n_valid=200, n_test=200, task_steps=1
    )
    arms = (
        students.dss_arms(teachers[0], 1.0, [0.5, 1.0])
        if a.notebook == "01"
        else students.tinyllm_arms({t: a.alpha for t in teachers})
    )
    if a.arms:
        arms = [x for x in arms if x.label in a.arms.split(",")]
    config = dict(lr=a.lr, steps=a.steps, batch_size=a.batch, max_len=a.max_len)
    rows = A.run(students.Experiment(S, config, eval_every=a.eval_every), arms, seeds)
    wall = time.perf_counter() - t0
    print(
        f"notebook {a.notebook}: steps {a.steps} batch {a.batch} lr {a.lr} seeds {seeds}; wall {wall:.0f} s; "
        f"load {os.getloadavg()[0]:.2f}; teacher acc {S.teacher_accuracy}"
    )
    for name in A.arm_labels(rows):
        rs = [r for r in rows if r.arm == name]
        steps = [s for s, _ in rs[0].curves["valid accuracy"]]
        curve = " ".join(
            f"{s}:{statistics.mean(r.curves['valid accuracy'][i][1] for r in rs):.3f}" for i, s in enumerate(steps)
        )
        print(
            f"  {name:34s} {curve} | final valid per seed {[r.metrics['valid']['accuracy'] for r in rs]} "
            f"| train s {statistics.mean(r.seconds for r in rs):.1f}"
        )
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "wall": wall, "rows": A.to_json(rows)}, f)


if __name__ == "__main__":
    main()
