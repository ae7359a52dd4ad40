"""Choose notebook 03/04's default settings on the VALIDATION prompts (the notebooks report on test).

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/whitebox_runs.py --steps 40 80 --lr 1e-3 3e-3
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/whitebox_runs.py --arms gkd   # the GKD corners

The task teacher and the SFT-initialised student of labkit.lab.task_teacher (recipe --kit, built once and
cached), every arm from the same init, seeds in parallel (labkit.lab.parallel.map_runs, 2 one-thread workers).
Arms "mini" = sft, kd, minillm and its three ablations; "gkd" = GKD at λ ∈ {0, 1} × β ∈ {0, 0.5, 1}.
Prints, per (steps, lr): each arm's validation metrics (mean ± sd over seeds), its wall time, and a last line
`RESULT key=value ...`.
"""

from __future__ import annotations

import argparse
import statistics
import time

from labkit.lab import arms as A
from labkit.lab import task_teacher, whitebox


def arms_of(kind: str) -> list:
    if kind == "gkd":
        return [whitebox.gkd_arm(lm, b) for lm in (0.0, 1.0) for b in (0.0, 0.5, 1.0)] + [whitebox.init_arm()]
    return whitebox.minillm_arms(whitebox.MiniLLMProfile.resolve("default", methods=["sft", "kd", "minillm"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kit", default="default")
    ap.add_argument("--arms", default="mini", choices=["mini", "gkd"])
    ap.add_argument("--steps", type=int, nargs="+", default=[60])
    ap.add_argument("--lr", type=float, nargs="+", default=[1e-3])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--student-steps", type=int, default=0, help="SFT steps of the student init (0: recipe's)")
    a = ap.parse_args()
    t0 = time.perf_counter()
    recipe = dict(task_teacher.RECIPES[a.kit])
    if a.student_steps:
        recipe["student_steps"] = a.student_steps
    kit = task_teacher.task_kit(recipe)
    print(f"kit {kit.path} loaded in {time.perf_counter() - t0:.1f} s: {kit.manifest}")
    result = {}
    for steps in a.steps:
        for lr in a.lr:
            t = time.perf_counter()
            P = whitebox.MiniLLMProfile.resolve(
                "default", max_steps=steps, lr=lr, batch_size=a.batch_size, max_new_tokens=a.max_new_tokens
            )
            arms = arms_of(a.arms)
            rows = A.run(whitebox.Experiment(kit, P, split="valid").prepare(arms), arms, a.seeds)
            wall = time.perf_counter() - t
            print(f"\n## steps={steps} lr={lr} batch={a.batch_size} seeds={a.seeds}: {wall:.0f} s wall")
            print(
                f"{'arm':24s} {'acc':>12s} {'rougeL':>12s} {'t-loglik':>12s} {'dist-2':>12s} {'words':>8s} "
                f"{'s/run':>6s}"
            )
            for arm in A.arm_labels(rows):
                rs = [r for r in rows if r.arm == arm]

                def ms(k):
                    v = [r.metrics["valid"][k] for r in rs]
                    return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)

                cells = {k: ms(k) for k in ("accuracy", "rouge_l", "teacher_loglik", "distinct_2", "gen_words")}
                secs = statistics.mean(r.seconds for r in rs)
                print(
                    f"{arm:24s} "
                    + " ".join(f"{m:6.3f}±{s:5.3f}" for k, (m, s) in cells.items() if k != "gen_words")
                    + f" {cells['gen_words'][0]:8.1f} {secs:6.1f}"
                )
                result[f"{steps}/{lr}/{arm}/acc"] = round(cells["accuracy"][0], 3)
                result[f"{steps}/{lr}/{arm}/rouge"] = round(cells["rouge_l"][0], 3)
                result[f"{steps}/{lr}/{arm}/tll"] = round(cells["teacher_loglik"][0], 3)
            result[f"{steps}/{lr}/wall_s"] = round(wall)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
