"""Which student learns the papers' real data on this CPU? (issue 13, the "real" profile of notebooks 01/02)

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/real_students.py --dataset dss:cqa \
        --students smollm2-135m-instruct smollm2-135m-instruct@layers=10 --arms fine-tuning step-by-step \
        --steps 40 --seeds 0

Trains each (student, arm, seed) with the notebooks' own code (labkit.lab.students: prepare, the arms of
notebook 01 / 02, run_jobs on every core, one thread per run) and scores the **validation** questions only
(the dataset's valid split, or n_valid training rows held out after the training rows when it has none):
the test split is never read here, so the real profile's settings are chosen on validation. Prints one row
per (student, arm): step 0 (the untrained student) and the final accuracy over seeds, seconds per run.
Last line: RESULT key=value ...
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from labkit import data
from labkit.lab import arms as A
from labkit.lab import students


def data_dir() -> str:
    return os.environ.get("LABKIT_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))


def arms_for(dataset: str, names: list[str], lam: float) -> list:
    teachers = data.teachers_of(dataset)
    if dataset.startswith("dss:"):
        every = {a.label: a for a in students.dss_arms(teachers[0], lam, (1.0,))}
    else:
        every = {a.label: a for a in students.tinyllm_arms({t: lam for t in teachers})}
    unknown = [n for n in names if n not in every]
    if unknown:
        raise SystemExit(f"--arms {unknown}: expected among {list(every)}")
    return [every[n] for n in names]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="dss:cqa")
    ap.add_argument("--students", nargs="+", default=["smollm2-135m-instruct", "smollm2-135m-instruct@layers=10"])
    ap.add_argument("--arms", nargs="+", default=["fine-tuning", "step-by-step"])
    ap.add_argument("--lam", type=float, default=1.0, help="rationale weight (λ, or α per teacher)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--n-train", type=int, default=800)
    ap.add_argument("--n-valid", type=int, default=100)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()

    rows_out, t_all = [], time.perf_counter()
    teachers = data.teachers_of(args.dataset)
    for student in args.students:
        t0 = time.perf_counter()
        S = students.prepare(
            args.dataset,
            teachers,
            student=student,
            n_train=args.n_train,
            n_valid=args.n_valid,
            n_test=0,
            data_dir=data_dir(),
        )
        S.test = S.valid  # score validation only; the test split is never loaded
        S.chance = statistics.mean(1 / len(r.choices) for r in S.valid) if S.valid[0].choices else None
        config = dict(lr=args.lr, steps=args.steps, batch_size=args.batch_size, max_len=args.max_len)
        rows = A.run(students.Experiment(S, config).prepare(), arms_for(args.dataset, args.arms, args.lam), args.seeds)
        for arm in args.arms:
            rs = [r for r in rows if r.arm == arm]
            fin = [r.metrics["test"]["accuracy"] for r in rs]
            rows_out.append(
                dict(
                    student=student,
                    arm=arm,
                    step0=statistics.mean(r.step0["test"]["accuracy"] for r in rs),
                    final=statistics.mean(fin),
                    sd=statistics.stdev(fin) if len(fin) > 1 else 0.0,
                    per_seed=fin,
                    train_s=statistics.mean(r.seconds for r in rs),
                    eval_s=statistics.mean(r.extra["eval_seconds"] for r in rs),
                )
            )
        print(f"# {student}: {time.perf_counter() - t0:.0f} s wall, chance {S.chance}", flush=True)

    print(
        f"\n{args.dataset}, {len(S.valid)} validation questions, {args.steps} steps x {args.batch_size}, "
        f"lr {args.lr}, seeds {args.seeds}\n"
    )
    print("| student | arm | step 0 | final (mean ± sd) | per seed | train s/run | eval s/run |")
    print("|---|---|---|---|---|---|---|")
    for r in rows_out:
        print(
            f"| {r['student']} | {r['arm']} | {r['step0']:.3f} | {r['final']:.3f} ± {r['sd']:.3f} | "
            f"{' '.join(f'{v:.3f}' for v in r['per_seed'])} | {r['train_s']:.0f} | {r['eval_s']:.0f} |"
        )
    best = max(rows_out, key=lambda r: r["final"] - r["step0"])
    print(
        f"RESULT dataset={args.dataset} steps={args.steps} best_gain={best['final'] - best['step0']:.3f} "
        f"best_student={best['student']} best_arm={best['arm'].replace(' ', '_')} "
        f"wall_s={time.perf_counter() - t_all:.0f}"
    )


if __name__ == "__main__":
    main()
