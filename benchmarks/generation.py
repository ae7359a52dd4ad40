"""Teacher rationale generation: one prompt at a time vs labkit's batched path, and a warm cache.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/generation.py --quick   # ~2-5 min on 2 CPU cores
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/generation.py           # 32 prompts x 64 tokens

Same teacher-forced prompts (2 in-context examples, synthetic:arithmetic), greedy decoding:
  1. one at a time: plain `model.generate` per prompt (bf16 autocast, the same stop/cut rules);
  2. labkit: `generate_rationales` (left padding, length-sorted batches of 16, bf16 autocast,
     early stop at "\\n\\nQ:"), cold cache;
  3. labkit again on the same cache: must make zero model calls.
Tokens/s counts the tokens of the kept rationale text. Prints a table, then one `RESULT ...` line.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from labkit import data, models
from labkit import rationales as R


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", default="smollm2-135m-instruct")
    p.add_argument("--n", type=int, default=32, help="prompts")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--quick", action="store_true", help="16 prompts x 32 new tokens")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.max_new_tokens = 16, 32
    torch.set_num_threads(max(1, torch.get_num_threads()))

    records = data.load_dataset("synthetic:arithmetic", "test", n=args.n)
    pool = data.load_dataset("synthetic:arithmetic", "train", n=200)
    teacher = R.get_teacher(args.teacher)
    model, tok = teacher.model, teacher.tokenizer
    device = next(model.parameters()).device
    bf16 = models.bf16_supported(device)
    built = R._build_prompts(
        teacher, records, "teacher_forced", pool, 2, 0, args.max_new_tokens, {"dropped_examples": 0, "truncated": 0}
    )
    n_tokens = lambda texts: sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)

    teacher.generate([built[0][0]], max_new_tokens=2)  # warm-up (first-call overheads), not timed
    calls0 = teacher.calls

    # 1. one prompt at a time (the naive loop; same decoding rules as labkit's path)
    t0 = time.perf_counter()
    single = [teacher.generate([prompt], max_new_tokens=args.max_new_tokens)[0][0] for prompt, _ in built]
    t_single = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as cache_dir:
        # 2. labkit batched, cold cache
        t0 = time.perf_counter()
        res = R.generate_rationales(
            [teacher],
            records,
            pool=pool,
            k=2,
            cache_dir=cache_dir,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            progress=False,
        )
        t_batched = time.perf_counter() - t0
        batched = [t[teacher.name] for t in res.texts]
        # 3. warm cache: a fresh teacher object sharing the model; count its model calls
        warm_teacher = R.LiveTeacher(teacher.name, model=model, tokenizer=tok)
        t0 = time.perf_counter()
        warm = R.generate_rationales(
            [warm_teacher],
            records,
            pool=pool,
            k=2,
            cache_dir=cache_dir,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            progress=False,
        )
        t_warm = time.perf_counter() - t0

    same = sum(a == b for a, b in zip(single, batched))
    tok_single, tok_batched = n_tokens(single), n_tokens(batched)
    tps_single, tps_batched = tok_single / t_single, tok_batched / t_batched
    speedup = tps_batched / tps_single
    print(
        f"teacher={teacher.name} device={device} bf16={bf16} prompts={len(records)} "
        f"max_new_tokens={args.max_new_tokens} prompt_tokens_mean={sum(n for _, n in built) / len(built):.0f}"
    )
    print("| path | seconds | tokens | tok/s | model calls |")
    print("|---|---:|---:|---:|---:|")
    print(f"| one at a time (model.generate) | {t_single:.1f} | {tok_single} | {tps_single:.1f} | {len(records)} |")
    print(
        f"| labkit batched x{args.batch_size} | {t_batched:.1f} | {tok_batched} | {tps_batched:.1f} | "
        f"{teacher.calls - calls0 - len(records)} |"
    )
    print(f"| labkit warm cache | {t_warm:.2f} | {tok_batched} | - | {warm_teacher.calls} |")
    print(
        f"identical greedy text: {same}/{len(records)}; warm cache served "
        f"{warm.stats[teacher.name]['cached']}/{len(records)}"
    )
    for a, b in zip(single, batched):
        if a != b:
            print(f"first difference:\n  single : {a[:160]!r}\n  batched: {b[:160]!r}")
            break
    print(
        f"RESULT teacher={teacher.name} prompts={len(records)} single_tok_s={tps_single:.1f} "
        f"batched_tok_s={tps_batched:.1f} speedup={speedup:.1f}x identical={same}/{len(records)} "
        f"warm_model_calls={warm_teacher.calls} warm_s={t_warm:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
