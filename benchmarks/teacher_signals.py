"""Teacher signals captured once (labkit.signals): bytes per token, capture speed, and the error of top-k and
sampled forward KL (value and gradient) against the exact one, on a real teacher (SmolLM2-135M-Instruct); then
the wall time of notebook 04's β × λ grid at profile default with the live teacher vs captured signals.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/teacher_signals.py --quick    # ~1-2 min + the grid
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/teacher_signals.py --k 64 --samples 32
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/teacher_signals.py --quick --no-grid

Data: the synthetic arithmetic task's prompts and gold solutions (responses); student: SmolLM2 with 4 of its 30
layers (labkit's derived student). The store is written to a temporary folder. Dense float32 logits would take
4 * V bytes per response token (V = 49,152: 196,608 bytes).

Grid: what notebook 04's grid cell runs at profile default (the task teacher kit, λ ∈ {0, 1} × β ∈ {0, 0.5, 1},
3 seeds, 30 steps, plus the "student (init)" scores; labkit.lab.arms.run on every core), once with
teacher_signals="live" and once "captured" into a fresh store (capture and the teacher's greedy outputs, which
both need, included in both times). Also: one off-policy step's parts (teacher forward, student
forward + backward, store read + top-k loss) and one scoring pass, on one thread, to show where the time goes.
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
    p.add_argument("--no-grid", dest="grid", action="store_false", help="skip notebook 04's grid timing")
    p.add_argument("--grid-seeds", type=int, nargs="+", default=None, help="seeds of the grid (profile default: 3)")
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
        store = signals.capture(
            teacher,
            tok,
            rollouts,
            tmp,
            teacher_name=TEACHER,
            k=args.k,
            samples=args.samples,
            autocast=lambda: models.autocast("cpu"),
        )
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
    rows = signals.estimator_errors(
        s_rows, t_rows, ks=(1, 8, args.k, 512), sample_counts=(1, 8, args.samples, 256), repeats=args.repeats
    )
    print(
        f"teacher {TEACHER}, student {STUDENT}, {len(rollouts)} sequences, {n_tokens} response tokens, "
        f"V={t_rows.shape[-1]}; store k={args.k}, samples={args.samples}: {bytes_per_token:.0f} bytes/token "
        f"({bytes_per_token / dense:.2%} of dense float32, {dense} B); capture {capture_s:.1f} s "
        f"({n_tokens / capture_s:.0f} tok/s), read back {read_s:.2f} s"
    )
    print()
    print(
        "| estimator | k or m | forward KL | exact | |bias| / exact | sd of one draw / exact | grad rel. error | "
        "grad cos |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['estimator']} | {r['size']} | {r['loss']:.4f} | {r['exact_loss']:.4f} | {r['loss_rel_err']:.2e} | "
            f"{r['loss_rel_sd']:.2e} | {r['grad_rel_err']:.3f} | {r['grad_cos']:.4f} |"
        )
    at_k = next(r for r in rows if r["estimator"] == "top-k + tail" and r["size"] == args.k)
    at_m = next(r for r in rows if r["estimator"] == "sampled" and r["size"] == args.samples)
    grid = grid_timing(args.grid_seeds) if args.grid else None
    speedup = f"{grid['speedup']:.2f}" if grid else "not_measured"
    tail = (
        f" grid_live_s={grid['live_s']:.1f} grid_captured_s={grid['captured_s']:.1f} "
        f"grid_capture_s={grid['capture_s']:.1f} grid_reused_speedup={grid['reused_speedup']:.2f} "
        f"grid_bytes_per_token={grid['bytes_per_token']:.0f} "
        f"task_topk_rel_err={grid['topk_rel_err']:.2e} teacher_step_fraction={grid['teacher_fraction']:.3f}"
        if grid
        else ""
    )
    print(
        f"RESULT grid_speedup={speedup} bytes_per_token={bytes_per_token:.0f} "
        f"topk_rel_err={at_k['loss_rel_err']:.4f} sampled_rel_err={at_m['loss_rel_err']:.4f} "
        f"dense_bytes_per_token={dense} topk_grad_rel_err={at_k['grad_rel_err']:.4f} "
        f"sampled_grad_rel_err={at_m['grad_rel_err']:.4f} capture_tok_s={n_tokens / capture_s:.0f}" + tail
    )
    return 0


def _mean_seconds(fn, repeats: int = 20) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def step_parts(K, rollouts, store, batch_size: int, beta: float = 0.5) -> dict:
    """Seconds of one off-policy GKD step's parts on one thread: the teacher forward, the student's forward +
    JSD_β + backward (live), the store read + top-k JSD_β (captured), and scoring one student (whitebox.score)."""
    from labkit import losses
    from labkit.lab import task_teacher, whitebox
    from labkit.methods.base import stored_divergence

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        idx = list(range(batch_size))
        b = S.collate_rollouts([rollouts[i] for i in idx], S.pad_id(K.tokenizer))
        student = task_teacher.fresh_student(K)
        t_logits = S.teacher_logits(K.teacher, b)

        def student_step():
            student.zero_grad()
            z = S.response_logits(student, b)
            losses.divergence(z, t_logits, kind="jsd", beta=beta, mask=b["response_mask"], reduction="sum").backward()

        def stored_step():
            student.zero_grad()
            z = S.response_logits(student, b)
            stored_divergence(
                z, b["response_mask"], store, idx, kind="jsd", beta=beta, temperature=1.0, estimator="topk"
            ).backward()

        t0 = time.perf_counter()
        whitebox.score(
            K.student_init,
            K,
            K.splits["test"],
            max_new_tokens=whitebox.GKDProfile.resolve("default").max_new_tokens,
            seed=0,
        )
        score_s = time.perf_counter() - t0
        return {
            "teacher": _mean_seconds(lambda: S.teacher_logits(K.teacher, b)),
            "student": _mean_seconds(student_step),
            "stored": _mean_seconds(stored_step),
            "score": score_s,
        }
    finally:
        torch.set_num_threads(before)


def grid_timing(seeds=None) -> dict:
    """Notebook 04's default grid, live vs captured (see the module docstring); prints a table, returns numbers."""
    from pathlib import Path

    from labkit.lab import arms as A
    from labkit.lab import task_teacher, whitebox

    P = whitebox.GKDProfile.resolve("default")
    K = task_teacher.task_kit(P.kit)
    seeds = seeds or P.seeds
    lmbdas, betas = P.lmbdas, P.betas
    arms = whitebox.gkd_arms(P)
    out = {}
    with tempfile.TemporaryDirectory() as root:
        for mode in ("live", "captured"):
            exp = whitebox.Experiment(K, P)  # each mode makes the teacher's outputs itself
            t0 = time.perf_counter()
            exp.prepare(arms)  # GKD's off-policy data, made before the workers fork
            t_outputs = time.perf_counter() - t0
            exp.signals = stores = whitebox.signal_stores(exp, arms, mode, root=Path(root))
            t_signals = time.perf_counter() - t0 - t_outputs
            rows = A.run(exp, arms, seeds)
            total = time.perf_counter() - t0
            per = {lm: sum(r.seconds for r in rows if r.arm.startswith(f"λ={lm} ")) for lm in lmbdas}
            out[mode] = {
                "total": total,
                "signals": t_signals,
                "outputs": t_outputs,
                "per_lmbda": per,
                "stores": stores,
                "init": sum(r.seconds for r in rows if r.arm == whitebox.INIT),
            }
        t0 = time.perf_counter()
        found = whitebox.signal_stores(exp, arms, "captured", root=Path(root))
        t_found = time.perf_counter() - t0
        assert not any(v["captured"] for v in found.values())  # the same key: nothing captured again
        cap = out["captured"]
        out["reused"] = {**cap, "signals": t_found, "total": cap["total"] - cap["signals"] + t_found}
        store_info = out["captured"]["stores"]["gkd"]
        rollouts = whitebox.off_policy_rollouts(exp, "gkd")
        store = signals.SignalStore(store_info["path"])
        parts = step_parts(K, rollouts, store, P.batch_size)
        b = S.collate_rollouts(rollouts[:64], S.pad_id(K.tokenizer))
        with torch.no_grad():
            t_rows = S.response_logits(K.teacher, b)[b["response_mask"]].float()
            s_rows = S.response_logits(K.student_init, b)[b["response_mask"]].float()
        err = signals.estimator_errors(s_rows, t_rows, ks=(whitebox.SIGNAL_K,), sample_counts=(), repeats=1)[0]
    live, cap, reused = out["live"], out["captured"], out["reused"]
    print()
    print(
        f"Notebook 04 grid at profile default: λ {lmbdas} × β {betas}, seeds {seeds}, {P.max_steps} steps, batch "
        f"{P.batch_size}, {len(K.splits['train'])} off-policy sequences, {P.kit} kit "
        f"(vocabulary {len(K.tokenizer)})"
    )
    print()
    print(
        "| teacher | wall time (s) | teacher's greedy outputs (s) | capture (s) | λ=0 jobs (s, summed) "
        "| λ=1 jobs (s, summed) | init scores (s, summed) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode, r in (
        ("live", live),
        ("captured (capture included)", cap),
        ("captured, store already there (a later run; capture time replaced by the key check)", reused),
    ):
        print(
            f"| {mode} | {r['total']:.1f} | {r['outputs']:.1f} | {r['signals']:.1f} | "
            f"{r['per_lmbda'][lmbdas[0]]:.1f} | "
            f"{r['per_lmbda'][lmbdas[-1]]:.1f} | {r['init']:.1f} |"
        )
    frac = parts["teacher"] / (parts["teacher"] + parts["student"])
    print()
    print(
        f"store: {store_info['sequences']} sequences, {store_info['tokens']} tokens, k={store_info['k']}: "
        f"{store_info['bytes_per_token']:.0f} bytes/token; top-{whitebox.SIGNAL_K} forward-KL bias on the task "
        f"teacher {err['loss_rel_err']:.2e} (grad rel. err {err['grad_rel_err']:.2e})"
    )
    print(
        f"one off-policy step, batch {P['batch_size']}, 1 thread: teacher forward {parts['teacher'] * 1e3:.1f} ms, "
        f"student forward + JSD + backward {parts['student'] * 1e3:.1f} ms (teacher = {frac:.1%} of a live step), "
        f"store read + top-k JSD + backward {parts['stored'] * 1e3:.1f} ms; scoring one student on the test "
        f"prompts {parts['score']:.1f} s (vs {P['max_steps']} steps ≈ "
        f"{P['max_steps'] * (parts['teacher'] + parts['student']):.1f} s)"
    )
    return {
        "speedup": live["total"] / cap["total"],
        "live_s": live["total"],
        "captured_s": cap["total"],
        "reused_s": reused["total"],
        "reused_speedup": live["total"] / reused["total"],
        "capture_s": cap["signals"],
        "bytes_per_token": store_info["bytes_per_token"],
        "topk_rel_err": err["loss_rel_err"],
        "teacher_fraction": frac,
    }


if __name__ == "__main__":
    sys.exit(main())
