"""Can a student learn to read in-context demonstrations? One ICL arm of notebook 05, one seed, on validation.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/icl_probe.py --format qa --steps 1000
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/icl_probe.py --format compact --steps 4000
    --source-tasks 512
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/icl_probe.py --format compact --pretrained
    smollm2-135m-instruct

Trains a from-scratch student (`--layers`, `--hidden`) on one arm of labkit.lab.survey.icl_arms (default Meta-ICT:
in-context training on `--source-tasks` lookup tasks), then scores it on the n_target_valid = 4 held-out items of
each of `--target-tasks` target tasks (3 phrasings each), never on their test items. With --pretrained NAME it
scores that embedded model untrained instead (step 0, no training).

Prompt formats (k = 4 demonstrations, one of them of the query's item):
- qa: the survey's default, "Q: Which box does the cup go in?\\nA: blue" (labkit.methods.icl, choices=False);
- compact: "cup: blue" per line, the query "kite:";
- adjacent: "cup blue" per line, the query "kite" (an induction head's textbook case).
The last line is `RESULT key=value ...`: valid accuracy, train loss, seconds.
"""

from __future__ import annotations

import argparse
import time

import torch

from labkit import models, tiny
from labkit.lab import survey as sv
from labkit.loop import TrainConfig
from labkit.methods import icl, sft

FORMATS = {
    "compact": (lambda r, demos: "".join(f"{d.meta['item']}: {d.answer}\n" for d in demos) + f"{r.meta['item']}:"),
    "adjacent": (lambda r, demos: "".join(f"{d.meta['item']} {d.answer}\n" for d in demos) + f"{r.meta['item']}"),
}


def use_format(name: str) -> None:
    """Swap labkit.methods.icl's prompt and target for one of FORMATS (qa: leave the library's own)."""
    if name == "qa":
        return
    fmt = FORMATS[name]
    icl.prompt = lambda record, demos, label_source="gold", *, choices=True: fmt(record, demos)
    icl.target = lambda record, label, *, choices=True: " " + label


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--format", choices=["qa", *FORMATS], default="qa")
    ap.add_argument("--arm", default="Meta-ICT", choices=["Meta-ICT", "Multitask-ICT", "fine-tuning (no context)"])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--source-tasks", type=int, default=24)
    ap.add_argument("--target-tasks", type=int, default=16, help="16: 192 validation records (4 items x 3 phrasings)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--pretrained", default="", help="score this embedded model untrained instead (e.g. smollm2-135m-instruct)"
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(2 if args.pretrained else 1)
    use_format(args.format)
    s = sv.icl_setup(
        n_source=args.source_tasks, n_target=args.target_tasks, n_target_train=6, n_target_valid=4, eval_split="valid"
    )
    arms = {a.label: a for a in sv.icl_arms(k=4, epochs=4)}
    x = sv.SurveyExperiment(s, f"scratch@layers={args.layers},hidden={args.hidden}", {})
    t0, loss = time.perf_counter(), float("nan")
    if args.pretrained:
        tok, model = (
            models.load_tokenizer(args.pretrained.split("@")[0]),
            models.load_model(args.pretrained, device="cpu"),
        )
    else:
        x.prepare([list(arms.values())])
        tok = s.tokenizer
        model = tiny.tiny_causal_lm(tok, n_layers=args.layers, hidden=args.hidden, heads=4, seed=args.seed)
        p, t = x.data(arms[args.arm])[0][0]
        cfg = TrainConfig(
            lr=args.lr,
            steps=args.steps,
            batch_size=args.batch_size,
            max_len=256,
            seed=args.seed,
            progress=False,
            device="cpu",
            bf16=False,
        )
        loss = sft.train(model, tok, p, t, config=cfg).last("loss")
    train_s = time.perf_counter() - t0
    acc = icl.accuracy(model, tok, s.test, s.support, k=4, choices=False)
    what = (
        f"{args.pretrained} untrained"
        if args.pretrained
        else f"{args.arm}, {args.layers}x{args.hidden}, {args.steps} steps at lr {args.lr:g}"
    )
    print(f"format {args.format}; {args.source_tasks} source tasks; {what}; {len(s.test)} valid records")
    print(f"valid accuracy {acc:.3f}  train loss {loss:.3f}  {train_s:.1f} s")
    print(f"RESULT valid_acc={acc:.4f} train_loss={loss:.4f} seconds={train_s:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
