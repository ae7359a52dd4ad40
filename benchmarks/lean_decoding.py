"""labkit.lean_llama's decoder against the transformers forward (LABKIT_LEAN_DECODE=0), same prompts, same seed.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/lean_decoding.py [--smollm]

Rows: notebooks 03/04's task kit (labkit.lab.task_teacher, "default" recipe, built on first use): its student
init, its teacher, the student sampling from MiniLLM's teacher mixture (α = 0.2), 64 valid prompts in batches of 8,
48 new tokens, temperature 1, one torch thread (what a notebook worker has); one MiniLLM arm (notebook 03's default
settings, seed 0, scored on valid). --smollm adds SmolLM2-135M-Instruct (the embedded catalog's, 30 layers) greedy
on 8 prompts, bf16 autocast, 2 threads. Each row reports both paths' seconds and whether they drew the same tokens.
Last line: RESULT key=value ...
"""
from __future__ import annotations

import argparse
import os
import time
from contextlib import contextmanager

import torch

from labkit import sequences as S


@contextmanager
def lean(on: bool):
    before = os.environ.get("LABKIT_LEAN_DECODE")
    os.environ["LABKIT_LEAN_DECODE"] = "1" if on else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LABKIT_LEAN_DECODE")
        else:
            os.environ["LABKIT_LEAN_DECODE"] = before


def timed(fn, repeats: int = 2):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smollm", action="store_true")
    a = ap.parse_args()
    from labkit.lab import profiles, task_teacher, whitebox
    torch.set_num_threads(1)
    kit = task_teacher.task_kit("default")
    prompts = [S.prompt_ids(kit.tokenizer, task_teacher.prompt_of(r)) for r in kit.splits["valid"][:64]]
    kw = dict(max_new_tokens=48, eos_id=kit.tokenizer.eos_token_id, pad=kit.tokenizer.pad_token_id, batch_size=8)
    cases = {"kit student": (kit.student_init, {}), "kit teacher": (kit.teacher, {}),
             "kit student, teacher mix 0.2": (kit.student_init, dict(teacher=kit.teacher, teacher_mix=0.2))}
    rows, result = [], {}
    for name, (model, extra) in cases.items():
        got = {}
        for on in (True, False):
            with lean(on):
                got[on] = timed(lambda: S.sample_responses(model, prompts, generator=torch.Generator().manual_seed(0),
                                                           **kw, **extra))
        tokens = sum(len(r) for r in got[True][1])
        rows.append((name, tokens, got[True][0], got[False][0], got[True][1] == got[False][1]))
    P = profiles.WHITEBOX["default"]
    arm = {"minillm": ("minillm", dict(single_step=True, teacher_mix=0.2, length_norm=True, lm_weight=0.0))}
    arm_s = {}
    for on in (True, False):
        with lean(on):
            arm_s[on], out = timed(lambda: whitebox.run_arms(kit, arm, [0], steps=P["max_steps"], lr=P["lr"],
                                                             batch_size=P["batch_size"],
                                                             max_new_tokens=P["max_new_tokens"], split="valid",
                                                             processes=1, with_init=False), repeats=1)
            arm_s[(on, "row")] = out
    same_arm = arm_s[(True, "row")][0]["final"] == arm_s[(False, "row")][0]["final"]
    rows.append(("MiniLLM arm, 60 steps (03 default)", 0, arm_s[True], arm_s[False], same_arm))
    if a.smollm:
        from labkit import models
        torch.set_num_threads(2)
        tok = models.load_tokenizer("smollm2-135m-instruct")
        model = models.load_model("smollm2-135m-instruct", device="cpu").eval()
        texts = [f"Once upon a time, in a village by the sea, there lived {n}" for n in
                 ("a fisherman", "two sisters", "an old baker", "a clever fox", "a young girl", "a teacher",
                  "a tailor", "a cat")]
        sp = [S.prompt_ids(tok, t) for t in texts]
        skw = dict(max_new_tokens=48, eos_id=tok.eos_token_id, pad=tok.pad_token_id or 0, greedy=True, batch_size=8,
                   autocast=lambda: models.autocast("cpu", model=model))
        got = {}
        for on in (True, False):
            with lean(on):
                got[on] = timed(lambda: S.sample_responses(model, sp, **skw), repeats=1)
        rows.append(("SmolLM2-135M greedy, 8 prompts", sum(len(r) for r in got[True][1]), got[True][0], got[False][0],
                     got[True][1] == got[False][1]))
    print(f"{'case':40s} {'tokens':>7s} {'lean s':>7s} {'hf s':>7s} {'speed-up':>8s} {'same tokens':>11s}")
    for name, tokens, s_lean, s_hf, same in rows:
        print(f"{name:40s} {tokens:7d} {s_lean:7.2f} {s_hf:7.2f} {s_hf / s_lean:8.2f} {str(same):>11s}")
        key = "_".join(name.lower().replace(",", "").split()[:5])
        result.update({f"{key}/lean_s": round(s_lean, 2), f"{key}/hf_s": round(s_hf, 2),
                       f"{key}/speedup": round(s_hf / s_lean, 2), f"{key}/same": same})
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
