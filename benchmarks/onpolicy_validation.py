"""Notebook 07's settings, chosen on the validation prompts: every arm over a few seeds for each (lr, steps) given,
with the compute ratio and the equal-compute comparison measured on validation (the test prompts are not read).

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/onpolicy_validation.py --lr 2e-4 6e-4 --steps 100

Prints one table per setting and a RESULT line per setting.
"""

from __future__ import annotations

import argparse
import statistics
import time

from labkit.lab import arms as A
from labkit.lab import onpolicy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lr", type=float, nargs="+", default=[5e-4])
    ap.add_argument("--steps", type=int, nargs="+", default=[100])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", nargs="*", default=[], help="profile overrides name=value (ints/floats)")
    args = ap.parse_args()
    extra = {k: (float(v) if "." in v or "e" in v else int(v)) for k, v in (s.split("=", 1) for s in args.set)}
    P0 = onpolicy.OnPolicyProfile.resolve("default", seeds=args.seeds, sweep_seeds=args.seeds, **extra)
    t0 = time.perf_counter()
    K = onpolicy.load_kit(P0)
    print(f"kit {time.perf_counter() - t0:.1f} s; teacher accuracy {K.teacher_accuracy}")
    for lr in args.lr:
        for steps in args.steps:
            P = P0.replace(lr=lr, max_steps=steps)
            t0 = time.perf_counter()
            runs = A.run(onpolicy.Experiment(K, P, split="valid"), onpolicy.arms_of(P), P.seeds)
            print(f"\nlr={lr:g} steps={steps}: {time.perf_counter() - t0:.0f} s")
            print("| arm | valid accuracy (mean ± sd) | per seed | FLOPs |")
            print("|---|---|---|---|")
            for row in A.summary(runs, ["accuracy", "flops"], split="valid"):
                print(
                    f"| {row['arm']} | {row['accuracy']:.3f} ± {row['accuracy sd']:.3f} | {row['accuracy per seed']} "
                    f"| {row['flops']:.3g} |"
                )
            ratio = onpolicy.compute_ratio(runs)
            eq = onpolicy.at_equal_compute(runs, "opd", "sft")
            d = [eq["opd"][s] - eq["sft"][s] for s in eq["opd"]]
            print(
                f"RESULT lr={lr:g} steps={steps} ratio={ratio.get('ratio', float('nan')):.2f} "
                f"ci={ratio.get('ci95')} reached={sum(ratio['reached'].values())}/{len(ratio['reached'])} "
                f"opd-sft@compute={statistics.mean(d):+.3f}"
            )


if __name__ == "__main__":
    main()
