"""labkit.lean_llama's decoder against the transformers forward (LABKIT_LEAN_DECODE=0), same prompts, same seed.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/lean_decoding.py [--smollm] [--profile-arm]

Rows: notebooks 03/04's task kit (labkit.lab.task_teacher, "default" recipe, built on first use): its student
init, its teacher, the student sampling from MiniLLM's teacher mixture (α = 0.2), 64 valid prompts in batches of 8,
48 new tokens, temperature 1, one torch thread (what a notebook worker has); one MiniLLM arm (notebook 03's default
settings, seed 0, scored on valid). --smollm adds SmolLM2-135M-Instruct (the embedded catalog's, 30 layers) greedy
on 8 prompts, bf16 autocast, 2 threads. Each row reports both paths' seconds (best of two for the samplers) and
whether they gave the same
tokens (the arm: the same scores). --profile-arm adds the share of the arm's time (transformers path) spent in
sequences.sample_responses, by cProfile.
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


def both(fn, repeats: int = 2):
    """fn() with the lean path on and off: (lean seconds, transformers seconds, lean output, same output), best of
    `repeats` each."""
    got = {}
    for on in (True, False):
        best, out = float("inf"), None
        with lean(on):
            for _ in range(repeats):
                t = time.perf_counter()
                out = fn()
                best = min(best, time.perf_counter() - t)
        got[on] = (best, out)
    return got[True][0], got[False][0], got[True][1], got[True][1] == got[False][1]


def sampling_share(fn) -> float:
    """Share of fn()'s time (transformers path) spent in labkit.sequences.sample_responses (cProfile)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    with lean(False):
        prof.runcall(fn)
    stats = pstats.Stats(prof).stats
    total = max(v[3] for v in stats.values())
    return (
        sum(
            v[3] for (file, _, name), v in stats.items() if name == "sample_responses" and file.endswith("sequences.py")
        )
        / total
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smollm", action="store_true")
    ap.add_argument("--profile-arm", action="store_true", help="also the share of the MiniLLM arm's time in sampling")
    a = ap.parse_args()
    from labkit.lab import task_teacher, whitebox
    from labkit.lab.arms import run

    torch.set_num_threads(1)
    kit = task_teacher.task_kit("default")
    prompts = [S.prompt_ids(kit.tokenizer, task_teacher.prompt_of(r)) for r in kit.splits["valid"][:64]]
    kw = dict(max_new_tokens=48, eos_id=kit.tokenizer.eos_token_id, pad=kit.tokenizer.pad_token_id, batch_size=8)

    def sampler(model, **extra):
        return lambda: S.sample_responses(model, prompts, generator=torch.Generator().manual_seed(0), **kw, **extra)

    P = whitebox.MiniLLMProfile.resolve("default", methods=["minillm"], ablations=False)
    arm = whitebox.minillm_arms(P)[0]

    def run_arm():
        return run(whitebox.Experiment(kit, P, split="valid"), [arm], [0], processes=1)[0].metrics["valid"]

    cases = [
        ("kit_student", "kit student, 64 prompts", sampler(kit.student_init), 2),
        ("kit_teacher", "kit teacher, 64 prompts", sampler(kit.teacher), 2),
        ("kit_mix", "kit student, teacher mix 0.2", sampler(kit.student_init, teacher=kit.teacher, teacher_mix=0.2), 2),
        ("minillm_arm", "MiniLLM arm, 60 steps (03 default)", run_arm, 1),
    ]
    if a.smollm:
        from labkit import models

        tok = models.load_tokenizer("smollm2-135m-instruct")
        model = models.load_model("smollm2-135m-instruct", device="cpu").eval()
        texts = [
            f"Once upon a time, in a village by the sea, there lived {n}"
            for n in (
                "a fisherman",
                "two sisters",
                "an old baker",
                "a clever fox",
                "a young girl",
                "a teacher",
                "a tailor",
                "a cat",
            )
        ]
        sp = [S.prompt_ids(tok, t) for t in texts]
        skw = dict(
            max_new_tokens=48,
            eos_id=tok.eos_token_id,
            pad=tok.pad_token_id or 0,
            greedy=True,
            batch_size=8,
            autocast=lambda: models.autocast("cpu", model=model),
        )

        def smollm():
            torch.set_num_threads(2)
            try:
                return S.sample_responses(model, sp, **skw)
            finally:
                torch.set_num_threads(1)

        cases.append(("smollm2", "SmolLM2-135M greedy, 8 prompts, 2 threads", smollm, 1))
    result = {}
    print(f"{'case':42s} {'tokens':>7s} {'lean s':>7s} {'hf s':>7s} {'speed-up':>8s} {'same output':>11s}")
    for slug, name, fn, repeats in cases:
        s_lean, s_hf, out, same = both(fn, repeats)
        tokens = sum(len(r) for r in out) if isinstance(out, list) else 0
        print(f"{name:42s} {tokens:7d} {s_lean:7.2f} {s_hf:7.2f} {s_hf / s_lean:8.2f} {str(same):>11s}", flush=True)
        result.update(
            {
                f"{slug}_lean_s": round(s_lean, 2),
                f"{slug}_hf_s": round(s_hf, 2),
                f"{slug}_speedup": round(s_hf / s_lean, 2),
                f"{slug}_same": same,
            }
        )
    if a.profile_arm:
        share = sampling_share(run_arm)
        print(f"MiniLLM arm, transformers path: {share:.0%} of its time in sequences.sample_responses")
        result["minillm_arm_sampling_share"] = round(share, 2)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
