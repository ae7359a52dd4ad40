"""Notebook 01's training step at profile default: where its time goes, and what torch.compile would give.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/step_profile.py [--compile] [--interactive]

One step-by-step student (the notebook's default student, data, batch, lr; seed 0; one torch thread, what a
notebook worker has): seconds per optimiser step after warm-up, tokens per step (all, and those carrying loss),
and by torch.profiler the share of the step in matrix products (aten::mm) and attention, with the products'
GFLOP/s. --compile runs the same steps with the model's forward under torch.compile (dynamic shapes) and reports
the first ten steps (compilation) and the per-step time after. --interactive times the notebook's one-seed
interactive cell (fine-tuning and step-by-step, one process each). Last line: RESULT key=value ...
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from labkit.lab import arms as A
from labkit.lab import profiles, students
from labkit.loop import TrainConfig


def setup():
    P = profiles.DSS["default"]
    S = students.prepare(
        P["dataset"],
        [P["teacher"]],
        student=P["student"],
        n_train=P["n_train"],
        n_valid=P["n_valid"],
        n_test=P["n_test"],
        task_steps=P["task_steps"],
    )
    return P, S, {a.label: a for a in students.dss_arms(P["teacher"], 1.0, P["fractions"])}


def train(P, S, arm, steps: int, compile_: bool = False):
    model = students.new_student(S, 0, "cpu")
    if compile_:
        model.model.forward = torch.compile(model.model.forward, dynamic=True)
    cfg = TrainConfig(
        lr=P["lr"], steps=steps, batch_size=P["batch_size"], max_len=P["max_len"], seed=0, device="cpu", progress=False
    )
    return model, A.train(arm, student=model, tokenizer=S.tokenizer, records=S.train, config=cfg)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--interactive", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    P, S, arms = setup()
    spec = arms["step-by-step"]
    _, h = train(P, S, spec, a.steps)
    step_s = statistics.mean(r["seconds"] for r in h.rows[10:])
    tokens = statistics.mean(r["tokens_seen"] for r in h.rows)
    loss_tokens = statistics.mean(r["tokens"] for r in h.rows)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        train(P, S, spec, 20)
    ops = {e.key: e for e in prof.key_averages()}
    total = sum(e.self_cpu_time_total for e in ops.values())
    mm = ops.get("aten::mm")
    attention = sum(e.self_cpu_time_total for k, e in ops.items() if "scaled_dot_product" in k)
    mm_share, attention_share = mm.self_cpu_time_total / total, attention / total
    gflops = mm.flops / (mm.self_cpu_time_total * 1e-6) / 1e9 if mm.flops else float("nan")
    print(
        f"step-by-step step: {step_s * 1e3:.0f} ms, {tokens:.0f} tokens ({loss_tokens:.0f} carrying loss); "
        f"matrix products {mm_share:.0%} of the step at {gflops:.0f} GFLOP/s, attention {attention_share:.0%}"
    )
    result = {
        "step_ms": round(step_s * 1e3),
        "tokens": round(tokens),
        "loss_tokens": round(loss_tokens),
        "mm_share": round(mm_share, 2),
        "mm_gflops": round(gflops),
        "attention_share": round(attention_share, 2),
    }
    if a.compile:
        t = time.perf_counter()
        _, hc = train(P, S, spec, a.steps, compile_=True)
        first10 = sum(r["seconds"] for r in hc.rows[:10])
        compiled = statistics.mean(r["seconds"] for r in hc.rows[20:])
        print(
            f"torch.compile: first 10 steps {first10:.1f} s, then {compiled * 1e3:.0f} ms a step "
            f"({step_s / compiled:.2f}x eager); total {time.perf_counter() - t:.1f} s"
        )
        result.update(
            compile_first10_s=round(first10, 1),
            compile_step_ms=round(compiled * 1e3),
            compile_speedup=round(step_s / compiled, 2),
        )
    if a.interactive:
        config = dict(lr=P["lr"], steps=P["max_steps"], batch_size=P["batch_size"], max_len=P["max_len"])
        t = time.perf_counter()
        rows = A.run(students.Experiment(S, config), [arms[k] for k in ("fine-tuning", "step-by-step")], [0])
        cell = time.perf_counter() - t
        print(
            f"interactive cell (fine-tuning + step-by-step, seed 0, {P['max_steps']} steps): {cell:.0f} s "
            + ", ".join(f"{r.arm} train {r.seconds:.0f} s" for r in rows)
        )
        result["interactive_s"] = round(cell)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
