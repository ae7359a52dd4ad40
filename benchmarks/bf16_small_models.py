"""bf16 autocast on vs off on this CPU, for the models the default profiles of notebooks 01-04 train and score.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/bf16_small_models.py            # ~2 min
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/bf16_small_models.py --no-smollm

Training: ms per optimiser step of labkit.methods.sft (run_loop, "Q: ...\\nA:" -> " <solution>" on synthetic
arithmetic, ~45 tokens a sequence), batch 32 (the scratch student of 01/02 trains at 16; 32 is the kit's
batch), 1 torch thread (the notebooks' seed workers are single-threaded), median over steps after warm-up.
Evaluation: seconds to score the same records by greedy generation (labkit.evaluate.generate, 48 new tokens,
batch 64) and by option log-likelihood (labkit.evaluate.continuation_logprobs), bf16 on vs off.
Models: the scratch student of 01/02 ("scratch@layers=2,hidden=64", vocab 512), the 03/04 task kit's
teacher (4 layers, hidden 128) and student (2 layers, hidden 64), a ladder of larger tiny Llamas, and
smollm2-135m-instruct@layers=4 (the 42M-parameter derived student; --no-smollm skips it).
The last line: RESULT <model>_train_ratio=<bf16 ms / fp32 ms> ... (ratio > 1: bf16 slower).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from labkit import data, evaluate, models, tiny
from labkit.loop import TrainConfig
from labkit.methods import sft


def records(n: int):
    return data.generate_synthetic("arithmetic", "train", n=n, steps=1, seed=0)


def texts(recs):
    return [f"Q: {r.question}\nA:" for r in recs], [" " + (r.solution or r.answer) for r in recs]


def train_ms(make, tok, prompts, targets, *, bf16, steps, warmup, batch_size) -> float:
    model = make()
    cfg = TrainConfig(
        steps=warmup + steps,
        batch_size=batch_size,
        lr=1e-3,
        max_len=160,
        bf16=bf16,
        device="cpu",
        progress=False,
        seed=0,
    )
    h = sft.train(model, tok, prompts, targets, config=cfg)
    return 1000 * statistics.median(r["seconds"] for r in h.rows[warmup:])


def eval_s(model, tok, prompts, targets, *, bf16, gen: bool) -> float:
    model.eval()
    t = time.perf_counter()
    if gen:
        evaluate.generate(
            model, tok, prompts, max_new_tokens=48, batch_size=64, device="cpu", bf16=bf16, stop_at_newline=False
        )
    else:
        evaluate.continuation_logprobs(model, tok, prompts, targets, batch_size=64, device="cpu", bf16=bf16)
    return time.perf_counter() - t


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--no-smollm", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    recs = records(256)
    prompts, targets = texts(recs)
    tok = tiny.train_tokenizer(prompts + targets, vocab_size=512)
    ladder = [
        ("scratch 2x64 (01/02 student, 03/04 kit student)", "s2x64", tok, 2, 64),
        ("tiny 4x128 (03/04 kit teacher)", "t4x128", tok, 4, 128),
        ("tiny 4x256", "t4x256", tok, 4, 256),
        ("tiny 6x512", "t6x512", tok, 6, 512),
    ]
    makers = [
        (label, key, t, (lambda t=t, L=L, H=H: tiny.tiny_causal_lm(t, n_layers=L, hidden=H, heads=4, seed=0)))
        for label, key, t, L, H in ladder
    ]
    if not args.no_smollm:
        stok = models.load_tokenizer("smollm2-135m-instruct")
        makers.append(
            (
                "smollm2-135m-instruct@layers=4",
                "smollm4",
                stok,
                lambda: models.load_model("smollm2-135m-instruct@layers=4", device="cpu"),
            )
        )
    rows, result = [], []
    for label, key, t, make in makers:
        size = n_params(make())
        bs = 32 if size < 5_000_000 else 8
        ms = {
            b: train_ms(make, t, prompts, targets, bf16=b, steps=args.steps, warmup=args.warmup, batch_size=bs)
            for b in (False, True)
        }
        ev = {}
        if size < 5_000_000:
            m = make()
            for gen in (False, True):
                for b in (False, True):
                    eval_s(m, t, prompts[:64], targets[:64], bf16=b, gen=gen)  # warm-up
                    ev[gen, b] = eval_s(m, t, prompts[:128], targets[:128], bf16=b, gen=gen)
        rows.append((label, size, bs, ms, ev))
        result.append(f"{key}_train_ratio={ms[True] / ms[False]:.2f}")
        if ev:
            result.append(f"{key}_gen_ratio={ev[True, True] / ev[True, False]:.2f}")
    print(
        "| model | params | batch | train ms/step fp32 | bf16 | bf16/fp32 | score 128 s fp32 | bf16 "
        "| generate 128 s fp32 | bf16 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, size, bs, ms, ev in rows:
        e = (
            f"{ev[False, False]:.2f} | {ev[False, True]:.2f} | {ev[True, False]:.2f} | {ev[True, True]:.2f}"
            if ev
            else "– | – | – | –"
        )
        print(
            f"| {label} | {size / 1e6:.2f}M | {bs} | {ms[False]:.1f} | {ms[True]:.1f} | "
            f"{ms[True] / ms[False]:.2f} | {e} |"
        )
    print("RESULT " + " ".join(result))


if __name__ == "__main__":
    main()
