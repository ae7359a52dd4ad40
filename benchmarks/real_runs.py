"""Real-data runs on CPU for rationale-supervised distillation (issue 5, runs a and b).

    # (a) distilling step-by-step on SVAMP (PaLM-540B rationales) vs standard fine-tuning, same steps
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/real_runs.py a --seeds 0 1 2
    # (b) TinyLLM on OBQA: both recorded teachers vs label-only vs each single teacher
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/real_runs.py b --seeds 0 1 2
    # summary table of everything finished so far
    .venv/bin/python benchmarks/real_runs.py summary

Each (run, arm, seed) writes runs/real/<run>/<arm>-s<seed>.json (history + metric) and is skipped
when it exists, so a long sweep can be done in several short locked calls (--only ARM).
Student: smollm2-135m-instruct@layers=4 (every 8th layer of SmolLM2-135M-Instruct, ~60M params
with the tied embeddings), full fine-tuning, bf16 autocast, one torch thread (faster than two on
the shared 2-core machine). Sizes are chosen for minutes of CPU per run; see --help.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from labkit import data, evaluate, methods, models
from labkit.loop import TrainConfig

STUDENT = "smollm2-135m-instruct@layers=4"
OUT = Path("runs/real")

ARMS = {
    "a": {  # dataset dss:svamp, one teacher (PaLM-540B)
        "standard-ft": ("dss", dict()),
        "dss": ("dss", dict(teacher="palm-540b", alpha=0.5)),
    },
    "b": {  # dataset tinyllm:obqa, two teachers
        "label-only": ("tinyllm", dict()),
        "flan-t5-xl": ("tinyllm", dict(alphas={"flan-t5-xl": 1.0})),
        "llama2-7b-chat": ("tinyllm", dict(alphas={"llama2-7b-chat": 1.0})),
        "both": ("tinyllm", dict(alphas={"flan-t5-xl": 1.0, "llama2-7b-chat": 1.0})),
    },
}
DATASET = {"a": "dss:svamp", "b": "tinyllm:obqa"}


def data_dir() -> Path:
    return Path(os.environ.get("LABKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def run_one(run: str, arm: str, seed: int, args) -> dict:
    path = Path(args.out) / run / f"{arm}-s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    name = DATASET[run]
    train_recs = data.load_dataset(name, "train", data_dir=data_dir(), n=args.n_train, shuffle=True, seed=0)
    test_recs = data.load_dataset(name, "test", data_dir=data_dir(), n=args.n_test)
    tok = models.load_tokenizer(STUDENT)
    model = models.load_model(STUDENT, device="cpu")
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        max_len=args.max_len,
        seed=seed,
        bf16="auto",
        device="cpu",
        progress=args.progress,
        warmup=0.1,
    )
    t0 = time.perf_counter()
    method, settings = ARMS[run][arm]
    hist = methods.train(method, model, tok, train_recs, config=cfg, **settings)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    if run == "a":
        metric, preds = evaluate.gen_accuracy(
            model, tok, test_recs, max_new_tokens=24, batch_size=25, device="cpu", bf16="auto", return_predictions=True
        )
        extra = {"predictions": preds[:20]}
    else:
        metric, extra = evaluate.mc_accuracy(model, tok, test_recs, batch_size=32, device="cpu", bf16="auto"), {}
    result = {
        "run": run,
        "arm": arm,
        "seed": seed,
        "dataset": name,
        "metric": metric,
        "metric_name": "svamp_accuracy" if run == "a" else "mc_accuracy",
        "settings": {**vars(args), "student": STUDENT, "method": method, "method_settings": settings},
        "train_seconds": t_train,
        "eval_seconds": time.perf_counter() - t0,
        "final_losses": {k: hist.mean(k, last_n=10) for k in ["loss", *hist.loss_terms()]},
        "history": hist.to_dict(),
        **extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=str))
    return result


def teacher_reference(run: str, n_test: int) -> str:
    """What the recorded teachers score on the same test questions (labels parsed from their text)."""
    test = data.load_dataset(DATASET[run], "test", data_dir=data_dir(), n=n_test)
    parts = []
    for teacher in data.teachers_of(DATASET[run]):
        acc, n = evaluate.teacher_label_accuracy(test, teacher)
        parts.append(f"{teacher} {acc:.3f} on {n} labelled of {len(test)}")
    return "; ".join(parts)


def summary(runs=("a", "b"), out=OUT) -> str:
    lines = []
    for run in runs:
        files = sorted((Path(out) / run).glob("*.json"))
        if not files:
            continue
        results = [json.loads(f.read_text()) for f in files]
        s = results[0]["settings"]
        lines.append(
            f"\n### Run ({run}) {DATASET[run]}: {results[0]['metric_name']} on the first {s['n_test']} test "
            f"questions; {s['n_train']} training records, {s['steps']} steps x batch {s['batch_size']}, "
            f"lr {s['lr']}, max_len {s['max_len']}\n"
        )
        lines.append("| arm | seeds | accuracy mean ± std | per seed | last-10-step losses (seed mean) | train s/run |")
        lines.append("|---|---|---|---|---|---|")
        for arm in ARMS[run]:
            rs = [r for r in results if r["arm"] == arm]
            if not rs:
                continue
            accs = [r["metric"] for r in rs]
            std = statistics.stdev(accs) if len(accs) > 1 else 0.0
            terms = sorted({k for r in rs for k in r["final_losses"]})
            loss = ", ".join(
                f"{k.removeprefix('loss/')} {statistics.mean(r['final_losses'][k] for r in rs):.2f}" for k in terms
            )
            lines.append(
                f"| {arm} | {len(rs)} | {statistics.mean(accs):.3f} ± {std:.3f} | "
                f"{' '.join(f'{a:.3f}' for a in accs)} | {loss} | "
                f"{statistics.mean(r['train_seconds'] for r in rs):.0f} |"
            )
        lines.append(f"\nTeachers on the same questions: {teacher_reference(run, s['n_test'])}.")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", choices=["a", "b", "summary"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--only", nargs="+", default=None, help="arms to run (default: all of the run)")
    p.add_argument("--n-train", type=int, default=400)
    p.add_argument("--n-test", type=int, default=200)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--max-len", type=int, default=192)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--progress", action="store_true")
    p.add_argument("--out", default=str(OUT), help="results folder")
    args = p.parse_args(argv)
    if args.run == "summary":
        print(summary(out=args.out))
        return 0
    torch.set_num_threads(args.threads)
    for seed in args.seeds:
        for arm in args.only or ARMS[args.run]:
            r = run_one(args.run, arm, seed, args)
            print(
                f"{args.run} {arm:<16} seed {seed}: {r['metric_name']} {r['metric']:.3f} "
                f"(train {r['train_seconds']:.0f}s, eval {r['eval_seconds']:.0f}s) {r['final_losses']}",
                flush=True,
            )
    print(summary([args.run], out=args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
