"""Notebook 05's budget, chosen on validation: each survey miniature at a few step counts, 3 seeds.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/survey_budget.py --untrained --steps 200 400
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/survey_budget.py --methods icl --steps 100 200 --lr 1e-3
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/survey_budget.py --methods lion --steps 250 --lion-steps
    100

For Lion, --steps is the imitation on the pool (the first --lion-pool training questions) and --lion-steps the
training after the pool grows by --lion-new questions.

Everything not on the command line is the SURVEY "default" profile row (labkit.lab.profiles): student, max_len,
k paths, temperature, ICL k and epochs, task counts, n_target_valid. Scores the held-out validation questions
(synthetic:arithmetic "valid" split; for ICL, the n_target_valid held-out items of each target task, which are
neither its training nor its test items), never the test split. Runs every (arm, seed) as notebook 05 does
(labkit.lab.survey.SurveyExperiment through labkit.lab.arms.run, forked workers on the CPU's cores). --untrained
first scores fresh, untrained students (steps = 0), the floor a trained student must clear. Prints one row per
(miniature, steps, arm, metric): mean and per-seed values, seconds per run; then each miniature's wall time per step
count; the last line is
`RESULT key=value ...` with each arm's mean validation accuracy and the wall time of each miniature.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from labkit.lab import arms as A
from labkit.lab import profiles
from labkit.lab import survey as sv


def setups(P: dict, n_train: int, n_valid: int):
    kw = dict(
        n_train=n_train, n_test=n_valid, teachers=[P["noisy"], P["clean"]], dataset=P["dataset"], eval_split="valid"
    )
    cot, soc = sv.cot_setup(task_steps=P["task_steps"], **kw), sv.cot_setup(task_steps=P["socratic_steps"], **kw)
    icl = sv.icl_setup(
        n_source=P["n_source_tasks"],
        n_target=P["n_target_tasks"],
        n_target_train=P["n_target_train"],
        n_target_valid=P["n_target_valid"],
        eval_split="valid",
    )
    return {"finetune_cot": cot, "scott": cot, "socratic": soc, "lion": cot, "icl": icl}


def main(argv=None) -> int:
    P = profiles.SURVEY["default"]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--methods", nargs="+", default=list(P["methods"]))
    ap.add_argument("--steps", nargs="+", type=int, default=[200, 400])
    ap.add_argument("--untrained", action="store_true", help="also score untrained students (steps 0)")
    ap.add_argument("--batch-size", type=int, default=P["batch_size"])
    ap.add_argument("--lr", type=float, default=P["lr"])
    ap.add_argument("--n-train", type=int, default=P["n_train"])
    ap.add_argument("--n-valid", type=int, default=P["n_test"], help="validation questions (the profile's n_test)")
    ap.add_argument("--seeds", nargs="+", type=int, default=list(P["seeds"]))
    ap.add_argument("--lion-pool", type=int, default=P["lion_pool"])
    ap.add_argument("--lion-new", type=int, default=P["lion_new"])
    ap.add_argument("--lion-steps", type=int, default=P["lion_steps"], help="Lion: steps after the pool grows")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t_data = time.perf_counter()
    S = setups(P, args.n_train, args.n_valid)
    print(
        f"# data {time.perf_counter() - t_data:.1f}s; lr={args.lr} batch_size={args.batch_size} "
        f"n_train={args.n_train} n_valid={args.n_valid} (ICL: {len(S['icl'].test)} valid records) "
        f"seeds={args.seeds} student={P['student']} max_len={P['max_len']}",
        flush=True,
    )
    result, print_rows, walls = {}, [], []
    for m in args.methods:
        Q = sv.SurveyProfile.resolve(
            "default",
            lion_pool=args.lion_pool,
            lion_new=args.lion_new,
            lion_steps=args.lion_steps,
            n_train=args.n_train,
        )
        arms = sv.arms_for(m, Q)
        S[m].tokenizer = None  # each miniature's own tokenizer (scott shares cot's data)
        sv.SurveyExperiment(S[m], P["student"], {}).prepare([arms])
        for steps in ([0] if args.untrained else []) + args.steps:
            cfg = dict(lr=args.lr, steps=steps, batch_size=args.batch_size, max_len=P["max_len"], bf16=False)
            x = sv.SurveyExperiment(S[m], P["student"], cfg, step0_seeds=args.seeds)
            t0 = time.perf_counter()
            rows = (
                [A.Run(a.label, s, {"test": x.untrained(a, s)}) for a in arms for s in args.seeds]
                if steps == 0
                else A.run(x, arms, args.seeds)
            )
            wall = time.perf_counter() - t0
            walls.append((m, steps, wall))
            metrics = ("accuracy", "faithfulness") if m == "scott" else ("accuracy",)
            for a in arms:
                rs = sorted((r for r in rows if r.arm == a.label), key=lambda r: r.seed)
                for k in metrics + (("hard",) if m == "lion" and steps else ()):
                    vals = [r.extra[k] if k == "hard" else r.value(k) for r in rs]
                    print_rows.append(
                        (
                            m,
                            steps,
                            a.label,
                            k,
                            statistics.mean(vals),
                            vals,
                            statistics.mean(r.seconds + r.extra.get("eval_seconds", 0) for r in rs),
                        )
                    )
                key = a.label.split(" (")[0].replace(" ", "_")
                result[f"{m}/{steps}/{key}"] = round(statistics.mean(r.value("accuracy") for r in rs), 3)
            result[f"{m}/{steps}/wall_s"] = round(wall, 1)
            print(f"# {m} steps={steps}: {wall:.1f}s", flush=True)
    print(f"{'miniature':<13} {'steps':>5}  {'arm':<36} {'metric':<12} {'mean':>6}  {'per seed':<22} s/run")
    for m, steps, a, k, mean, vals, sec in print_rows:
        print(f"{m:<13} {steps:>5}  {a:<36} {k:<12} {mean:6.3f}  {[round(v, 3) for v in vals]!s:<22} {sec:5.1f}")
    for steps in sorted({s for _, s, _ in walls}):
        print(
            f"# wall at steps={steps}: "
            + ", ".join(f"{m} {w:.1f}s" for m, s, w in walls if s == steps)
            + f"; all {sum(w for _, s, w in walls if s == steps):.1f}s"
        )
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
