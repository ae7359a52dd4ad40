"""Tokens/s of labkit's rationale-supervised step vs a plain float32 Hugging Face `Trainer`.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/train_throughput.py --quick
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/train_throughput.py --steps 30

Same derived student (smollm2-135m-instruct@layers=4, full fine-tuning), same examples (SVAMP questions
with PaLM rationales when /work/shared/data is there, else synthetic arithmetic with gold solutions):
each record gives an "[answer]" and a "[rationale:<teacher>]" sequence, loss on target tokens only.
Same batch: labkit batch_size=B records (2B sequences) per step; Trainer per_device_train_batch_size=2B.
Throughput = non-padding tokens (prompt + target) per second of optimiser steps, after warm-up steps.
labkit's levers: bf16 autocast, length bucketing, the output head only on target positions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from labkit import data, models
from labkit import sequences as S
from labkit.loop import TrainConfig
from labkit.methods import tinyllm
from labkit.prompts import student_prompt, student_target

STUDENT = "smollm2-135m-instruct@layers=4"


def load_records(n: int):
    data_dir = Path(os.environ.get("LABKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if (data_dir / "dss" / "svamp").exists():
        return data.load_dataset("dss:svamp", "train", data_dir=data_dir, n=n), "palm-540b", "dss:svamp"
    recs = data.load_dataset("synthetic:arithmetic", "train", n=n)
    for r in recs:
        r.rationales["gold"] = r.solution
    return recs, "gold", "synthetic:arithmetic"


def run_labkit(tok, records, teacher, args) -> tuple[float, int, float]:
    model = models.load_model(STUDENT, device="cpu")
    cfg = TrainConfig(
        steps=args.warmup + args.steps,
        batch_size=args.batch_size,
        lr=5e-4,
        max_len=args.max_len,
        bf16="auto",
        progress=False,
        device="cpu",
        seed=0,
    )
    h = tinyllm.train(model, tok, records, alphas={teacher: 1.0}, config=cfg)
    rows = h.rows[args.warmup :]
    tokens, seconds = sum(r["tokens_seen"] for r in rows), sum(r["seconds"] for r in rows)
    return tokens / seconds, tokens, seconds


def run_trainer(tok, records, teacher, args) -> tuple[float, int, float]:
    from transformers import Trainer, TrainerCallback, TrainingArguments

    seqs = []
    for r in records:
        for task in ("answer", f"rationale:{teacher}"):
            target = student_target(r, task)
            if target is not None:
                seqs.append(S.encode_example(tok, student_prompt(r, task), target, args.max_len))
    counted = []

    def collator(features):  # right padding, labels -100 on prompt and padding
        batch = S.collate(features, tok.pad_token_id)
        counted.append(int(batch["attention_mask"].sum()))
        return batch

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times = []

        def on_step_begin(self, a, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_step_end(self, a, state, control, **kw):
            self.times.append(time.perf_counter() - self.t0)

    timer = StepTimer()
    model = models.load_model(STUDENT, device="cpu")
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=2 * args.batch_size,
            max_steps=args.warmup + args.steps,
            learning_rate=5e-4,
            lr_scheduler_type="linear",
            warmup_steps=0,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
            logging_steps=10_000,
            seed=0,
            remove_unused_columns=False,
        )
        Trainer(model=model, args=targs, train_dataset=seqs, data_collator=collator, callbacks=[timer]).train()
    # the collator runs once per step just before it (no workers, no prefetch on the main process)
    tokens, seconds = sum(counted[args.warmup : args.warmup + args.steps]), sum(timer.times[args.warmup :])
    return tokens / seconds, tokens, seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="6 timed steps each (about two minutes)")
    p.add_argument("--steps", type=int, default=20, help="timed optimiser steps per side")
    p.add_argument("--warmup", type=int, default=2, help="untimed first steps per side")
    p.add_argument("--batch-size", type=int, default=8, help="records per step (2 sequences each)")
    p.add_argument("--max-len", type=int, default=256)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave as is)")
    args = p.parse_args(argv)
    if args.quick:
        args.steps = 6
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tok = models.load_tokenizer(STUDENT)
    records, teacher, source = load_records(max(64, args.batch_size * (args.steps + args.warmup)))
    print(
        f"student {STUDENT}, data {source} ({len(records)} records, teacher {teacher}), batch {args.batch_size} "
        f"records = {2 * args.batch_size} sequences, {args.steps} timed steps after {args.warmup} warm-up, "
        f"torch threads {torch.get_num_threads()}, bf16 supported: {models.bf16_supported('cpu')}",
        flush=True,
    )
    base = run_trainer(tok, records, teacher, args)
    print(f"baseline HF Trainer fp32: {base[0]:.0f} tok/s", flush=True)
    lab = run_labkit(tok, records, teacher, args)
    print(f"labkit multi-task loop:   {lab[0]:.0f} tok/s", flush=True)
    print()
    print(f"| {'run':<44} | {'tokens':>7} | {'seconds':>7} | {'tok/s':>6} |")
    print(f"|{'-' * 46}|{'-' * 9}|{'-' * 9}|{'-' * 8}|")
    print(f"| {'HF Trainer, float32, random batches':<44} | {base[1]:>7} | {base[2]:>7.1f} | {base[0]:>6.0f} |")
    print(f"| {'labkit, bf16 autocast, bucketing, target head':<44} | {lab[1]:>7} | {lab[2]:>7.1f} | {lab[0]:>6.0f} |")
    print(f"RESULT labkit_tok_s={lab[0]:.0f} baseline_tok_s={base[0]:.0f} ratio={lab[0] / base[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
