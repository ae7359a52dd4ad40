"""Learning curves for the default profile (issue 12): validation accuracy vs optimiser steps, over seeds.

Trains students with the lab's own multi-task loop (labkit.methods.base.train_multitask) on a synthetic
task with scripted teachers (labkit.rationales "oracle" / "noisy-oracle@p=..."), and scores the
answer task by option scoring (labkit.evaluate.mc_accuracy) on the VALIDATION split at step 0 and
every --eval-every steps (run_loop's on_step hook, so the curve is one run with the notebook's
warmup/linear-decay schedule; the last point is what a notebook would report).

Arms (the notebooks' names):
    ft          answer task, gold labels                             (standard fine-tuning)
    kd          answer task, the first teacher's labels              (standard distillation)
    dss         answer (teacher labels) + λ·rationale (first teacher) (distilling step-by-step)
    dss-gold    answer (gold labels)    + λ·rationale (first teacher)
    multi       answer (gold) + Σ_m α·rationale(T_m) over all teachers (TinyLLM "full")
    multi-<i>   as multi without teacher i                           (TinyLLM "w/o T_i")
    <arm>@<f>   the arm on the first fraction f of the training records (e.g. dss@0.5)

    .venv/bin/python benchmarks/learning_curves.py --quick
    .venv/bin/python benchmarks/learning_curves.py --task arithmetic --task-steps 2 --arms ft,kd,dss \\
        --teachers noisy-oracle@p=0.2 --n-train 1000 --train-steps 300 --seeds 0,1

The last line is `RESULT key=value ...` (final validation accuracy per arm, mean over seeds).
Numbers depend on the thread count (--threads, default 1: the shared 2-core development machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings

import torch

from labkit import data, evaluate, prompts, rationales, tiny
from labkit.loop import TrainConfig
from labkit.methods import base


def build_records(task, task_steps, n_train, n_valid, teachers, teacher_seed=0):
    train = data.generate_synthetic(task, "train", n=n_train, steps=task_steps)
    valid = data.generate_synthetic(task, "valid", n=n_valid, steps=task_steps)
    if teachers:
        res = rationales.generate_rationales(teachers, train, seed=teacher_seed, progress=False)
        train = res.attach(train)
    return train, valid


def build_tokenizer(records, teachers, vocab):
    corpus = []
    for r in records:
        corpus.append(prompts.student_prompt(r) + prompts.student_target(r))
        for t in teachers:
            corpus.append(
                prompts.student_prompt(r, f"rationale:{t}") + (prompts.student_target(r, f"rationale:{t}") or "")
            )
            corpus.append(prompts.student_target(r, "answer", t) or "")
    return tiny.train_tokenizer(corpus, vocab_size=vocab)


def arm_spec(arm, teachers, lam, alpha):
    """(tasks, label_source, fraction) of an arm name."""
    name, _, frac = arm.partition("@")
    frac = float(frac) if frac else 1.0
    t0 = teachers[0] if teachers else None
    if name == "ft":
        return {"answer": 1.0}, "gold", frac
    if name == "kd":
        return {"answer": 1.0}, t0, frac
    if name == "dss":
        return {"answer": 1.0, f"rationale:{t0}": lam}, t0, frac
    if name == "dss-gold":
        return {"answer": 1.0, f"rationale:{t0}": lam}, "gold", frac
    if name == "multi":
        return {"answer": 1.0, **{f"rationale:{t}": alpha for t in teachers}}, "gold", frac
    if name.startswith("multi-"):
        drop = int(name.split("-")[1])
        return {"answer": 1.0, **{f"rationale:{t}": alpha for i, t in enumerate(teachers) if i != drop}}, "gold", frac
    raise SystemExit(f"unknown arm {arm!r}")


def run_arm(arm, seed, train, valid, tok, args, teachers):
    tasks, label_source, frac = arm_spec(arm, teachers, args.lam, args.alpha)
    subset = train[: max(1, int(round(frac * len(train))))]
    model = tiny.tiny_causal_lm(tok, n_layers=args.layers, hidden=args.hidden, heads=args.heads, seed=seed)
    config = TrainConfig(
        steps=args.train_steps,
        batch_size=args.batch,
        lr=args.lr,
        seed=seed,
        device="cpu",
        bf16=args.bf16,
        progress=False,
        max_len=args.max_len,
        warmup=0.1,
    )
    curve, eval_s = [], [0.0]

    def score(step):
        t = time.perf_counter()
        acc = evaluate.mc_accuracy(model, tok, valid, device="cpu", batch_size=64)
        eval_s[0] += time.perf_counter() - t
        curve.append((step, acc))

    score(0)

    def on_step(step, history):
        if step % args.eval_every == 0 or step == config.steps:
            score(step)

    hist = base.train_multitask(model, tok, subset, tasks, label_source=label_source, config=config, on_step=on_step)
    train_s = sum(r["seconds"] for r in hist.rows)  # on_step (the evaluations) runs outside the timing
    tokens = sum(r["tokens_seen"] for r in hist.rows)
    return {
        "arm": arm,
        "seed": seed,
        "curve": curve,
        "tokens": tokens,
        "train_s": max(train_s, 1e-9),
        "eval_s": eval_s[0],
        "n_train": len(subset),
        "final_loss": hist.last("loss"),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="arithmetic", choices=sorted(data.SYNTHETIC_TASKS))
    ap.add_argument("--task-steps", type=int, default=2, help="reasoning steps of the synthetic task")
    ap.add_argument("--teachers", default="noisy-oracle@p=0.2", help="comma-separated scripted teachers")
    ap.add_argument("--arms", default="ft,kd,dss")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-valid", type=int, default=200)
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lam", type=float, default=1.0, help="λ of the rationale task (dss arms)")
    ap.add_argument("--alpha", type=float, default=1.0, help="α per teacher (multi arms)")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--bf16", default="false", choices=["auto", "true", "false"])
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default="", help="write all curves to this JSON file")
    ap.add_argument("--quick", action="store_true", help="a ~1 min check: 200 records, 40 steps, 1 seed")
    args = ap.parse_args(argv)
    if args.quick:
        args.n_train, args.n_valid, args.train_steps, args.eval_every, args.seeds = 200, 100, 40, 20, "0"
    warnings.filterwarnings("ignore", message=".*optimizer.step\\(\\)` has been overridden")
    args.bf16 = {"auto": "auto", "true": True, "false": False}[args.bf16]
    torch.set_num_threads(args.threads)
    teachers = []
    for part in filter(None, args.teachers.split(",")):  # "a@p=0.2,style=terse,b": options stay with their teacher
        if teachers and "=" in part and "@" not in part:
            teachers[-1] += "," + part
        else:
            teachers.append(part)
    seeds = [int(s) for s in args.seeds.split(",")]
    arms = args.arms.split(",")

    train, valid = build_records(args.task, args.task_steps, args.n_train, args.n_valid, teachers)
    tok = build_tokenizer(train, teachers, args.vocab)
    chance = statistics.mean(1 / len(r.choices) for r in valid)
    teacher_acc = {t: evaluate.teacher_label_accuracy(train, t)[0] for t in teachers}
    ex = train[0]
    n_tok = {
        t: len(tok(prompts.student_prompt(ex, t) + (prompts.student_target(ex, t) or ""))["input_ids"])
        for t in ["answer"] + [f"rationale:{x}" for x in teachers]
    }
    print(
        f"# {args.task} steps={args.task_steps} n_train={len(train)} n_valid={len(valid)} vocab={len(tok)} "
        f"student L{args.layers} H{args.hidden} lr={args.lr} batch={args.batch} threads={args.threads} "
        f"bf16={args.bf16} chance={chance:.3f} teacher label acc (train)={teacher_acc} tokens/example={n_tok}",
        flush=True,
    )

    results = []
    for arm in arms:
        for seed in seeds:
            r = run_arm(arm, seed, train, valid, tok, args, teachers)
            results.append(r)
            print(
                f"  {arm:>10} seed {seed}: "
                + " ".join(f"{s}:{a:.3f}" for s, a in r["curve"])
                + f"  tok/s {r['tokens'] / r['train_s']:.0f} train {r['train_s']:.1f}s eval {r['eval_s']:.1f}s",
                flush=True,
            )

    print("\n| arm | step | val acc (mean ± sd) | tok/s | train s |")
    print("|---|---|---|---|---|")
    summary = {}
    for arm in arms:
        rs = [r for r in results if r["arm"] == arm]
        for i, (step, _) in enumerate(rs[0]["curve"]):
            accs = [r["curve"][i][1] for r in rs]
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            last = i == len(rs[0]["curve"]) - 1
            toks = statistics.mean(r["tokens"] / r["train_s"] for r in rs)
            secs = statistics.mean(r["train_s"] for r in rs)
            print(
                f"| {arm} | {step} | {statistics.mean(accs):.3f} ± {sd:.3f} | {toks:.0f} | {secs:.1f} |"
                if last
                else f"| {arm} | {step} | {statistics.mean(accs):.3f} ± {sd:.3f} | | |"
            )
        summary[arm] = statistics.mean(r["curve"][-1][1] for r in rs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "chance": chance, "teacher_acc": teacher_acc, "results": results}, f)
    print(
        "RESULT "
        + " ".join(f"{k}={v:.3f}" for k, v in summary.items())
        + f" chance={chance:.3f} "
        + " ".join(f"teacher{i}={a:.3f}" for i, a in enumerate(teacher_acc.values()))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
