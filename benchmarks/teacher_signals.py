"""Teacher signals captured once (labkit.signals): bytes per token, capture speed, and the error of top-k and
sampled forward KL (value and gradient) against the exact one, on a real teacher (SmolLM2-135M-Instruct).

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/teacher_signals.py --quick    # ~1-2 min
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/teacher_signals.py --k 64 --samples 32

Data: the synthetic arithmetic task's prompts and gold solutions (responses); student: SmolLM2 with 4 of its 30
layers (labkit's derived student). The store is written to a temporary folder. Dense float32 logits would take
4 * V bytes per response token (V = 49,152: 196,608 bytes).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch

from labkit import data, models, signals
from labkit import sequences as S

TEACHER, STUDENT = "smollm2-135m-instruct", "smollm2-135m-instruct@layers=4"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="8 sequences, 4 repeats")
    p.add_argument("--sequences", type=int, default=32)
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--repeats", type=int, default=8)
    args = p.parse_args(argv)
    if args.quick:
        args.sequences, args.repeats = 8, 4
    torch.manual_seed(0)
    teacher = models.load_model(TEACHER, device="cpu").eval()
    student = models.load_model(STUDENT, device="cpu").eval()
    tok = models.load_tokenizer(TEACHER)
    recs = data.load_dataset("synthetic:arithmetic", "train", n=args.sequences)
    rollouts = S.encode_rollouts(tok, [f"Q: {r.question}\nA:" for r in recs], [" " + r.solution for r in recs], 256)
    n_tokens = sum(len(r["response"]) for r in rollouts)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = signals.capture(teacher, tok, rollouts, tmp, teacher_name=TEACHER, k=args.k, samples=args.samples,
                                autocast=lambda: models.autocast("cpu"))
        capture_s = time.perf_counter() - t0
        bytes_per_token = store.bytes_per_token()
        t0 = time.perf_counter()
        store.get(range(len(rollouts)))
        read_s = time.perf_counter() - t0
    b = S.collate_rollouts(rollouts, S.pad_id(tok))
    with torch.no_grad():
        t_rows = S.response_logits(teacher, b)[b["response_mask"]].float()
        s_rows = S.response_logits(student, b)[b["response_mask"]].float()
    dense = 4 * t_rows.shape[-1]
    rows = signals.estimator_errors(s_rows, t_rows, ks=(1, 8, args.k, 512), sample_counts=(1, 8, args.samples, 256),
                                    repeats=args.repeats)
    print(f"teacher {TEACHER}, student {STUDENT}, {len(rollouts)} sequences, {n_tokens} response tokens, "
          f"V={t_rows.shape[-1]}; store k={args.k}, samples={args.samples}: {bytes_per_token:.0f} bytes/token "
          f"({bytes_per_token / dense:.2%} of dense float32, {dense} B); capture {capture_s:.1f} s "
          f"({n_tokens / capture_s:.0f} tok/s), read back {read_s:.2f} s")
    print()
    print("| estimator | k or m | forward KL | exact | |bias| / exact | sd of one draw / exact | grad rel. error | grad cos |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['estimator']} | {r['size']} | {r['loss']:.4f} | {r['exact_loss']:.4f} | {r['loss_rel_err']:.2e} | "
              f"{r['loss_rel_sd']:.2e} | {r['grad_rel_err']:.3f} | {r['grad_cos']:.4f} |")
    at_k = next(r for r in rows if r["estimator"] == "top-k + tail" and r["size"] == args.k)
    at_m = next(r for r in rows if r["estimator"] == "sampled" and r["size"] == args.samples)
    print(f"RESULT bytes_per_token={bytes_per_token:.0f} dense_bytes_per_token={dense} "
          f"topk_rel_err={at_k['loss_rel_err']:.4f} topk_grad_rel_err={at_k['grad_rel_err']:.4f} "
          f"sampled_rel_err={at_m['loss_rel_err']:.4f} sampled_grad_rel_err={at_m['grad_rel_err']:.4f} "
          f"capture_tok_s={n_tokens / capture_s:.0f} grid_speedup=not_measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
