"""Tiny students trained against a known teacher (labkit.known), scored with its exact measurements.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/known_teacher.py [--steps 60] [--modes 3] [--eta 0.05]

Teacher: labkit.known.arithmetic_task (train and test prompts from one draw, disjoint), K templates per prompt with
weights decay**k, noise η, on the tiny tokenizer (vocab 320). Student: a 1-layer tiny Llama (hidden 64), one seed.
Arms: SFT and word-level KD (forward KL) on one teacher sample per prompt (ids, never re-tokenised), SeqKD
(sampled teacher outputs), MiniLLM (default stabilisers), GKD (λ = 1, β = 0.5), each `--steps` steps at batch 8.
Rows on the test prompts: the teacher's own samples first (reference), then each arm: void mass (max_noise = 2),
modes covered (share of K), reverse and forward KL by Monte Carlo (SE), exposure bias (forward KL per token on the
student's own vs the teacher's prefixes, and the gap), training seconds. Also the teacher's decoding speed.
A look at the numbers for notebooks 03/04's wiring: one seed, no claims.
Last line: RESULT key=value ...
"""

from __future__ import annotations

import argparse
import time

import torch

from labkit import known as K
from labkit import sequences as S
from labkit import tiny
from labkit.loop import TrainConfig
from labkit.methods import gkd, minillm, seqkd, sft, wordkd
from labkit.methods.base import teacher_outputs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--modes", type=int, default=3)
    ap.add_argument("--eta", type=float, default=0.05)
    ap.add_argument("--decay", type=float, default=0.6)
    ap.add_argument("--n", type=int, default=8, help="samples per test prompt")
    args = ap.parse_args()
    torch.set_num_threads(1)
    tok = tiny.train_tokenizer(tiny.default_corpus(n=120), vocab_size=320)
    task = K.arithmetic_task(48, n_modes=args.modes, decay=args.decay, steps=1, seed=0)
    teacher = K.KnownTeacher.from_templates(tok, task, eta=args.eta)
    texts = list(task)
    train, test = texts[:32], texts[32:]
    test_ids = [S.prompt_ids(tok, x) for x in test]
    eos, new = tok.eos_token_id, 32
    cfg = TrainConfig(
        steps=args.steps, batch_size=8, lr=5e-3, progress=False, max_len=96, bf16=False, warmup=0, log_every=10, seed=0
    )

    t0 = time.perf_counter()
    ps, ys = K.sample(teacher, test_ids, args.n, max_new_tokens=new, eos_id=eos)
    speed = sum(map(len, ys)) / (time.perf_counter() - t0)
    void, se = K.void_mass(teacher, ps, ys)
    cov = K.modes_covered(teacher, ps, ys)
    print(f"teacher  void {void:.3f}±{se:.3f}  modes {cov['share']:.2f}  decoding {speed:.0f} tokens/s")

    data = teacher_outputs(teacher, tok, [S.prompt_ids(tok, x) for x in train], cfg, max_new_tokens=new, do_sample=True)
    arms = {
        "sft": lambda s: sft.train(s, tok, config=cfg, rollouts=data),
        "wordkd": lambda s: wordkd.train(s, teacher, tok, config=cfg, rollouts=data),
        "seqkd": lambda s: seqkd.train(s, teacher, tok, train, config=cfg, do_sample=True, max_new_tokens=new),
        "minillm": lambda s: minillm.train(s, teacher, tok, train, config=cfg, max_new_tokens=new),
        "gkd": lambda s: gkd.train(s, teacher, tok, train, config=cfg, lmbda=1.0, beta=0.5, max_new_tokens=new),
    }
    result = {"teacher_void": round(void, 3)}
    for name, run in arms.items():
        student = tiny.tiny_causal_lm(tok, n_layers=1, hidden=64, heads=4, seed=2)
        t0 = time.perf_counter()
        run(student)
        secs = time.perf_counter() - t0
        ps, ys = K.sample(student, test_ids, args.n, max_new_tokens=new, eos_id=eos, seed=1)
        void, vse = K.void_mass(teacher, ps, ys)
        cov = K.modes_covered(teacher, ps, ys)
        rkl = K.kl_monte_carlo(teacher, student, test_ids, direction="reverse", n=args.n, max_new_tokens=new, seed=2)
        fkl = K.kl_monte_carlo(teacher, student, test_ids, direction="forward", n=args.n, max_new_tokens=new, seed=3)
        eb = K.exposure_bias(teacher, student, test_ids, n=args.n, max_new_tokens=new, seed=4)
        print(
            f"{name:8s} void {void:.3f}±{vse:.3f}  modes {cov['share']:.2f}  KL(q|p) {rkl[0]:.1f}±{rkl[1]:.1f}  "
            f"KL(p|q) {fkl[0]:.1f}±{fkl[1]:.1f}  per-token KL own {eb['student_prefixes'][0]:.3f} "
            f"teacher's {eb['teacher_prefixes'][0]:.3f} gap {eb['gap'][0]:+.3f}±{eb['gap'][1]:.3f}  {secs:.1f} s",
            flush=True,
        )
        result.update(
            {
                f"{name}_void": round(void, 3),
                f"{name}_modes": round(cov["share"], 2),
                f"{name}_rkl": round(rkl[0], 1),
                f"{name}_gap": round(eb["gap"][0], 3),
            }
        )
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
