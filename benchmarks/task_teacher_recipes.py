"""Notebooks 03/04's task teacher: recipe variants, their build time and validation accuracy, and what one arm run
costs with each kit (RESULTS.md "Notebooks 03/04: a task teacher in half the build time?").

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/task_teacher_recipes.py \\
        --variant 2000:2000:3e-3 --variant 8000:1000:3e-3 --time-arms

Each --variant N_TRAIN:TEACHER_STEPS:TEACHER_LR is labkit.lab.task_teacher.RECIPES["default"] with those three
keys changed, built once by task_kit (cached under $LABKIT_HOME/task_teachers, or --root; a cached kit loads and
reports the build time it recorded). Prints each kit's teacher valid accuracy, build seconds and last training
loss, the mean tokens of a test question with its tokenizer, and with --time-arms the seconds of one SFT run and
one MiniLLM run (notebook 03's default settings: 60 steps, batch 8, lr 2e-3, 48 new tokens; seed 0, one process,
scored on valid). Last line: RESULT key=value ...
"""

from __future__ import annotations

import argparse
import statistics
import time

from labkit.lab import arms as A
from labkit.lab import task_teacher, whitebox


def variant(spec: str) -> dict:
    n_train, steps, lr = spec.split(":")
    return {
        **task_teacher.RECIPES["default"],
        "n_train": int(n_train),
        "teacher_steps": int(steps),
        "teacher_lr": float(lr),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", action="append", default=[], help="N_TRAIN:TEACHER_STEPS:TEACHER_LR (repeatable)")
    ap.add_argument("--root", default=None, help="kit cache (default $LABKIT_HOME/task_teachers)")
    ap.add_argument("--time-arms", action="store_true")
    a = ap.parse_args()
    P = whitebox.MiniLLMProfile.resolve("default", methods=["sft", "minillm"], ablations=False)
    arms = {a.label: a for a in whitebox.minillm_arms(P) if a.trains}
    result = {}
    print(
        f"{'variant':18s} {'valid acc':>9s} {'build s':>8s} {'last loss':>10s} {'tok/question':>12s} "
        f"{'sft s':>6s} {'minillm s':>9s}"
    )
    for spec in a.variant or ["2000:2000:3e-3"]:
        kit = task_teacher.task_kit(variant(spec), root=a.root)
        m = kit.manifest
        tokens = statistics.mean(
            len(kit.tokenizer(task_teacher.prompt_of(r) + task_teacher.target_of(r)).input_ids)
            for r in kit.splits["test"]
        )
        secs = {}
        if a.time_arms:
            for name, arm in arms.items():
                t = time.perf_counter()
                A.run(whitebox.Experiment(kit, P, split="valid"), [arm], [0], processes=1)
                secs[name] = time.perf_counter() - t
        print(
            f"{spec:18s} {m['teacher_valid_accuracy']:9.3f} {m['teacher_seconds']:8.1f} {m['teacher_loss_last']:10.2g} "
            f"{tokens:12.1f} {secs.get('sft', float('nan')):6.1f} {secs.get('minillm', float('nan')):9.1f}",
            flush=True,
        )
        key = spec.replace(":", "_")
        result.update(
            {
                f"{key}/valid_acc": round(m["teacher_valid_accuracy"], 3),
                f"{key}/build_s": m["teacher_seconds"],
                f"{key}/tokens": round(tokens, 1),
                **{f"{key}/{k}_s": round(v, 1) for k, v in secs.items()},
            }
        )
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
