"""Real run (c): white-box distillation of SmolLM2-135M-Instruct into a 4-layer student derived from it.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/whitebox_runs.py --seeds 0 1 2
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/whitebox_runs.py --quick      # one seed, fewer steps

Same prompts (synthetic arithmetic word problems, chat-formatted), same steps, same initialisation for
every method:

    sft       cross-entropy on the gold step-by-step solutions
    fkl       word-level KD, forward KL(p||q), on the gold solutions (teacher-forced)
    rkl       word-level KD, reverse KL(q||p), on the gold solutions
    seqkd     SFT on the teacher's greedy outputs
    gkd       GKD, λ = 1 (on-policy student samples), β = 0.5 (JSD)
    minillm   sequence-level reverse KL by policy gradient (single-step, α = 0.2, length norm)

Scores on held-out prompts: teacher log-likelihood per token of the student's sampled answers
(higher = the teacher finds them likelier), ROUGE-L of greedy answers against the teacher's greedy
answers, distinct-2 of the samples. Prints a table (mean ± std over seeds) and a last line
`RESULT key=value ...`.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time

import torch

import labkit as lk
from labkit.lab import whitebox

METHODS = {
    "sft": ("sft", {}),
    "fkl": ("kd", {"kind": "forward_kl"}),
    "rkl": ("kd", {"kind": "reverse_kl"}),
    "seqkd": ("seqkd", {}),
    "gkd": ("gkd", {"lmbda": 1.0, "beta": 0.5}),
    "minillm": ("minillm", {"single_step": True, "teacher_mix": 0.2, "length_norm": True}),
}


def run_seed(seed, args, teacher, student_init, tok, data, teacher_train, teacher_eval):
    config = lk.loop.TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=seed,
                                  bf16="auto", max_len=256, progress=False, log_every=max(1, args.steps // 4))
    rows = []
    students = {}
    for name in args.methods:
        method, switches = METHODS[name]
        s = copy.deepcopy(student_init)
        t0 = time.perf_counter()
        h = whitebox.train_method(method, s, teacher, tok, data, config=config, max_new_tokens=args.max_new_tokens,
                            teacher_train=teacher_train, **switches)
        students[name] = (s, time.perf_counter() - t0, h)
    scored, _ = whitebox.evaluate_students({n: v[0] for n, v in students.items()}, teacher, tok, data["eval_prompts"],
                                     teacher_eval, max_new_tokens=args.max_new_tokens, seed=seed)
    for r in scored:
        _, secs, h = students[r["method"]]
        rows.append({**r, "seed": seed, "train_s": secs, "loss_first": h.series("loss")[0], "loss_last": h.last("loss")})
        print(f"  seed {seed} {r['method']:8s} loglik {r['teacher_loglik']:.3f} rougeL {r['rouge_l']:.3f} "
              f"distinct2 {r['distinct_2']:.3f} train {secs:.0f}s", flush=True)
    return rows


def mean_std(xs):
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--teacher", default="smollm2-135m-instruct")
    ap.add_argument("--student", default="smollm2-135m-instruct@layers=4")
    ap.add_argument("--dataset", default="synthetic:arithmetic")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--n-train", type=int, default=64)
    ap.add_argument("--n-eval", type=int, default=24)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on the shared 2-core box)")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--quick", action="store_true", help="one seed, 10 steps, 16 eval prompts")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.steps, args.n_eval = [0], 10, 16
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    teacher, student_init, tok = whitebox.load_teacher_student(args.teacher, args.student)
    data = whitebox.whitebox_data(args.dataset, tok, chat=lk.models.is_chat_model(args.teacher), n_train=args.n_train,
                            n_eval=args.n_eval, seed=0)
    cfg = lk.loop.TrainConfig(bf16="auto", max_len=256, progress=False)
    t0 = time.perf_counter()
    teacher_train = whitebox.teacher_outputs(teacher, tok, data["train_prompts"], max_new_tokens=args.max_new_tokens, config=cfg)
    teacher_eval = whitebox.rollout_texts(tok, whitebox.teacher_outputs(teacher, tok, data["eval_prompts"],
                                                            max_new_tokens=args.max_new_tokens, config=cfg))
    print(f"teacher outputs: {time.perf_counter() - t0:.0f}s; e.g. {teacher_eval[0]!r}", flush=True)
    base_rows, _ = whitebox.evaluate_students({"student (init)": student_init, "teacher": teacher}, teacher, tok,
                                        data["eval_prompts"], teacher_eval, max_new_tokens=args.max_new_tokens, seed=0)
    rows = []
    for seed in args.seeds:
        rows += run_seed(seed, args, teacher, student_init, tok, data, teacher_train, teacher_eval)

    print(f"\n{args.teacher} -> {args.student}, {args.dataset}, {args.n_train} train / {args.n_eval} eval prompts, "
          f"{args.steps} steps x batch {args.batch_size}, lr {args.lr}, {args.max_new_tokens} new tokens, "
          f"seeds {args.seeds}, threads {args.threads}")
    print("| method | teacher log-lik / token ↑ | ROUGE-L vs teacher ↑ | distinct-2 | train s |")
    print("|---|---|---|---|---|")
    for r in base_rows:
        print(f"| {r['method']} | {r['teacher_loglik']:.3f} | {r['rouge_l']:.3f} | {r['distinct_2']:.3f} | - |")
    summary = {}
    for name in args.methods:
        rs = [r for r in rows if r["method"] == name]
        ll, rl, d2, ts = (mean_std([r[k] for r in rs]) for k in ("teacher_loglik", "rouge_l", "distinct_2", "train_s"))
        summary[name] = ll[0], rl[0]
        print(f"| {name} | {ll[0]:.3f} ± {ll[1]:.3f} | {rl[0]:.3f} ± {rl[1]:.3f} | {d2[0]:.3f} ± {d2[1]:.3f} | "
              f"{ts[0]:.0f} |")
    total = time.perf_counter() - t_start
    print("RESULT " + " ".join(f"{n}_loglik={v[0]:.3f} {n}_rougeL={v[1]:.3f}" for n, v in summary.items())
          + f" seeds={len(args.seeds)} steps={args.steps} wall_s={total:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
