"""Notebooks 03/04 on the known teacher (kit="known"), scored on the VALIDATION prompts: the settings sweep.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/known_whitebox_validation.py 03 --steps 100 --lr 2e-3
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/known_whitebox_validation.py 04 --steps 100 --lr 2e-3

Runs the notebook's arms at profile "default" with kit="known" and the given overrides over --seeds on both cores,
prints each arm's validation means (void mass, modes covered, reverse/forward KL, divergence on the student's own
prefixes, exposure gap), the claims measured on the validation split and the wall time of the arms.
Last line: RESULT key=value ...
"""

from __future__ import annotations

import argparse
import time

from labkit.lab import arms as A
from labkit.lab import whitebox as W


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook", choices=["03", "04"])
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--new", type=int, default=0, help="max_new_tokens")
    ap.add_argument("--modes", type=int, default=0)
    ap.add_argument("--eta", type=float, default=0.0)
    ap.add_argument("--no-ablations", action="store_true")
    args = ap.parse_args()
    common = dict(kit="known", seeds=list(range(args.seeds)), max_steps=args.steps, lr=args.lr,
                  batch_size=args.batch, max_new_tokens=args.new, modes=args.modes, eta=args.eta)  # fmt: skip
    t0 = time.perf_counter()
    if args.notebook == "03":
        P = W.MiniLLMProfile.resolve("default", ablations=not args.no_ablations, **common)
        arms = W.minillm_arms(P)
    else:
        P = W.GKDProfile.resolve("default", **common)
        arms = W.gkd_arms(P)
    K = W.load_kit(P)
    t1 = time.perf_counter()
    runs = A.run(W.Experiment(K, P, split="valid").prepare(arms), arms, P.seeds)
    t2 = time.perf_counter()
    print(f"profile: {P}\nkit {t1 - t0:.1f} s, arms x seeds {t2 - t1:.1f} s; kit manifest {K.manifest}")
    for row in A.summary(runs, W.KNOWN_METRICS, "valid"):
        print(f"{row['arm']:22s} " + " ".join(f"{m} {row[m]:.3f}±{row[m + ' sd']:.3f}" for m in W.KNOWN_METRICS))
    for r in runs:  # the claims read the split named "test": hand them the validation numbers under that name
        r.metrics = {"test": r.metrics["valid"]}
    C = W.minillm_claims(runs, arms, P) if args.notebook == "03" else W.gkd_claims(runs, P)
    for c in C:
        print(f"{'H ' if c.get('headline') else '  '}{c['id']:45s} {c['mean']:+.3f} [{c['ci95'][0]:+.3f}, "
              f"{c['ci95'][1]:+.3f}] {'holds' if c['holds'] else '-'}")  # fmt: skip
    print(f"RESULT notebook={args.notebook} kit_s={t1 - t0:.1f} arms_s={t2 - t1:.1f} steps={P.max_steps} lr={P.lr}")


if __name__ == "__main__":
    main()
