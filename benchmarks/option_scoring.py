"""Option scoring with the question read once (evaluate.shared_prompt_logprobs) vs pair by pair.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/option_scoring.py --n 40 --threads 1

Scores the first N CQA questions after the 800 training rows of the real profile (held-out validation rows,
5 options each) with SmolLM2-135M-Instruct: `evaluate.option_scores` (the prompt runs once with a KV cache,
its options as one batch) against `evaluate.continuation_logprobs` on every (prompt, option) pair (the old
path, batch 64, length-sorted). Prints seconds, the speed-up, how often both pick the same option and the
largest score difference. Last line: RESULT key=value ...
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from labkit import data, evaluate, models
from labkit.prompts import answer_text, student_prompt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bf16", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data_dir = os.environ.get("LABKIT_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    recs = data.load_dataset("dss:cqa", "train", data_dir=data_dir, n=800 + args.n)[800:]
    tok, model = models.load_tokenizer(args.model), models.load_model(args.model, device="cpu")
    bf16 = {"auto": "auto", "true": True, "false": False}[args.bf16.lower()]

    t = time.perf_counter()
    shared = evaluate.option_scores(model, tok, recs, device="cpu", bf16=bf16)
    t_shared = time.perf_counter() - t
    t = time.perf_counter()
    prompts, conts, owner = [], [], []
    for i, r in enumerate(recs):
        for c in r.choices:
            prompts.append(student_prompt(r))
            conts.append(" " + answer_text(r, c))
            owner.append(i)
    pairs = evaluate.continuation_logprobs(model, tok, prompts, conts, device="cpu", bf16=bf16, batch_size=64)
    t_pairs = time.perf_counter() - t
    old = [[] for _ in recs]
    for i, (s, n) in zip(owner, pairs):
        old[i].append(s / max(n, 1))

    def pick(scores):
        return max(range(len(scores)), key=scores.__getitem__)

    same = sum(pick(a) == pick(b) for a, b in zip(shared, old))
    diff = max(abs(x - y) for a, b in zip(shared, old) for x, y in zip(a, b))
    print(f"| path | seconds ({len(recs)} questions, {args.threads} thread(s), bf16={args.bf16}) |\n|---|---|")
    print(
        f"| prompt read once (option_scores) | {t_shared:.1f} |\n| pair by pair (continuation_logprobs) | "
        f"{t_pairs:.1f} |"
    )
    print(
        f"RESULT speedup={t_pairs / t_shared:.2f} shared_s={t_shared:.1f} pairs_s={t_pairs:.1f} "
        f"same_choice={same}/{len(recs)} max_abs_diff={diff:.2e}"
    )


if __name__ == "__main__":
    main()
