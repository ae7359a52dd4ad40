"""Notebook 06's settings, chosen on the validation problems: every arm over seeds for a few (steps, lr, batch)
settings of the number-tokenizer miniature (labkit.lab.xtok), scored on the *valid* split.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/xtok_validation.py [--seeds 0 1] [--grid 120:1e-3:16 ...]

Prints one Markdown row per (setting, arm): accuracy and digit log-probability (mean over seeds), and the
wall time of the setting (both cores).
"""

from __future__ import annotations

import argparse
import time


def main(argv=None) -> int:
    from labkit.lab import xtok
    from labkit.lab.arms import run, summary

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kit", default="default")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--grid", nargs="+", default=["120:1e-3:16", "120:3e-3:16"], help="steps:lr:batch_size")
    p.add_argument("--ce-weight", type=float, default=0.5)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    kit = xtok.xtok_kit(args.kit)
    print(
        f"kit loaded/built in {time.perf_counter() - t0:.1f} s: "
        f"{ {k: v for k, v in kit.manifest.items() if k != 'recipe'} }"
    )
    print("| steps | lr | batch | arm | valid accuracy | digit log-prob | other log-prob | wall s |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|")
    for cell in args.grid:
        steps, lr, bs = cell.split(":")
        t0 = time.perf_counter()
        X = xtok.XTokExperiment(kit, steps=int(steps), lr=float(lr), batch_size=int(bs), split="valid")
        runs = run(X, xtok.xtok_arms(xtok.ARM_NAMES, ce_weight=args.ce_weight), args.seeds)
        wall = time.perf_counter() - t0
        for r in summary(runs, ["accuracy", "digit_logprob", "other_logprob"], split="valid"):
            print(
                f"| {steps} | {lr} | {bs} | {r['arm']} | {r['accuracy']:.3f} ± {r['accuracy sd']:.3f} | "
                f"{r['digit_logprob']:.3f} | {r['other_logprob']:.3f} | {wall:.0f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
