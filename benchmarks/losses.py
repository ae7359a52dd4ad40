"""Memory and time of the JSD distillation loss: labkit vs a naive float32 version vs TRL.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/losses.py            # N=4096, V=49152 + V=262144
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/losses.py --quick    # small sizes, seconds

Each (variant, N, V) runs in its own subprocess so that peak memory is that variant's alone: the worker
builds the inputs (student logits with requires_grad, teacher logits, float32), resets the kernel's peak-RSS
counter (/proc/self/clear_refs), runs forward + backward of JSD(beta=0.5) averaged over tokens, and reports
peak RSS minus the RSS just before (so "extra" includes the N x V float32 gradient of the student logits,
which every variant must produce). The time is the best of --reps forward+backward runs.

TRL is not a labkit dependency. Install it outside .venv, for the benchmark only:
    .venv/bin/pip install --no-deps --target /tmp/trl-bench trl==1.16.0 datasets pyarrow dill xxhash multiprocess pandas
and point --trl-path at that folder (default /tmp/trl-bench). The TRL variant calls the real
``trl.experimental.gkd.GKDTrainer.generalized_jsd_loss`` on (1, N, V) tensors with labels counting every
token (its "batchmean" then divides by N, a per-token mean like labkit's). If TRL cannot be imported, its
rows say so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

BETA = 0.5
GB = 1024**3


# --------------------------------------------------------------------------------------------------
# Worker side (one variant, one size, in its own process)
# --------------------------------------------------------------------------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def naive_jsd(student_logits, teacher_logits, beta=BETA):
    """What one writes first: float32 softmaxes, the mixture, the two KLs, all kept for autograd."""
    import torch

    log_q = torch.log_softmax(student_logits, dim=-1)
    log_p = torch.log_softmax(teacher_logits, dim=-1)
    q, p = log_q.exp(), log_p.exp()
    log_m = torch.log(beta * p + (1 - beta) * q)
    jsd = beta * (p * (log_p - log_m)).sum(-1) + (1 - beta) * (q * (log_q - log_m)).sum(-1)
    return jsd.mean()


def _loss_fn(variant: str, trl_path: str):
    import torch

    if variant == "labkit":
        from labkit.losses import divergence

        return lambda z, t: divergence(z, t, kind="jsd", beta=BETA)
    if variant == "naive":
        return naive_jsd
    if variant == "trl":
        sys.path.insert(0, trl_path)
        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
        import trl
        from trl.experimental.gkd import GKDTrainer

        global TRL_VERSION
        TRL_VERSION = trl.__version__

        # (N, V) -> (1, N, V) with labels marking every token as counted, as in GKD training; TRL's
        # "batchmean" then divides by the number of counted tokens, N (a per-token mean, like labkit's)
        def trl_loss(z, t):
            labels = torch.zeros(1, z.shape[0], dtype=torch.long)
            return GKDTrainer.generalized_jsd_loss(z[None], t[None], labels=labels, beta=BETA)

        return trl_loss
    raise ValueError(variant)


TRL_VERSION = None


def worker(variant: str, n: int, v: int, reps: int, trl_path: str) -> dict:
    import torch

    torch.manual_seed(0)
    loss_fn = _loss_fn(variant, trl_path)
    # warm up kernels and lazy initialisation on a tiny problem, so they are not counted
    small = torch.randn(4, v, requires_grad=True)
    loss_fn(small, torch.randn(4, v)).backward()
    del small
    student = (torch.randn(n, v) * 2.0).requires_grad_(True)  # (N, V)
    teacher = torch.randn(n, v) * 2.0  # (N, V)
    times, value, grad_norm = [], None, None
    base = _rss_bytes()
    can_reset = _reset_peak()
    for _ in range(reps):
        student.grad = None
        start = time.perf_counter()
        loss = loss_fn(student, teacher)
        loss.backward()
        times.append(time.perf_counter() - start)
        value = float(loss.detach())
        del loss
    peak = _peak_bytes()  # before the float64 norm below allocates
    grad_norm = float(student.grad.norm(dtype=torch.float64))
    return {
        "variant": variant,
        "n": n,
        "v": v,
        "extra_gb": (peak - base) / GB,
        "time_s": min(times),
        "times": times,
        "loss": value,
        "grad_norm": grad_norm,
        "peak_reset": can_reset,
        "trl_version": TRL_VERSION,
        "threads": torch.get_num_threads(),
    }


# --------------------------------------------------------------------------------------------------
# Driver side
# --------------------------------------------------------------------------------------------------


def _available_gb() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024**2
    return float("inf")


def run_one(variant, n, v, reps, trl_path, need_gb, timeout):
    avail = _available_gb()
    if avail < need_gb:
        return {"variant": variant, "n": n, "v": v, "skipped": f"needs ~{need_gb:.0f} GB, {avail:.1f} GB available"}
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        variant,
        "--n",
        str(n),
        "--v",
        str(v),
        "--reps",
        str(reps),
        "--trl-path",
        trl_path,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "n": n, "v": v, "skipped": f"timed out after {timeout} s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"variant": variant, "n": n, "v": v, "skipped": f"failed: {last[:120]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--v", type=int, default=49152)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--trl-path", default="/tmp/trl-bench")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--skip-big", action="store_true", help="only the N=4096, V=49152 comparison")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per variant process")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.v, args.reps, args.trl_path)))
        return 0

    # (variant, N, V, rough GB needed: number of N x V float32 copies alive at the peak)
    main_n, main_v = (512, 8192) if args.quick else (args.n, args.v)
    plan = [(var, main_n, main_v, copies) for var, copies in (("labkit", 4), ("naive", 12), ("trl", 16))]
    if not args.skip_big:
        big_v = 32768 if args.quick else 262144
        small_n = 64 if args.quick else 256
        big_n = 256 if args.quick else 1024
        plan += [(var, small_n, big_v, c) for var, c in (("labkit", 4), ("naive", 12), ("trl", 16))]
        plan += [("labkit", big_n, big_v, 4), ("naive", big_n, big_v, 12)]
    rows = []
    for variant, n, v, copies in plan:
        need = copies * n * v * 4 / GB + 0.5
        row = run_one(variant, n, v, args.reps, args.trl_path, need, args.timeout)
        rows.append(row)
        print(
            f"  done {variant:7s} N={n} V={v}: "
            + (row.get("skipped") or f"{row['extra_gb']:.2f} GB, {row['time_s']:.2f} s"),
            flush=True,
        )

    # table, with ratios against TRL (or naive) at the same size
    print()
    header = (
        f"{'variant':8s} {'N':>6s} {'V':>7s} {'extra RSS GB':>13s} {'fwd+bwd s':>10s} "
        f"{'loss':>14s} {'rel diff':>9s} {'mem/ref':>8s} {'time/ref':>9s}  ref"
    )
    print(header)
    print("-" * len(header))
    by_size = {}
    for r in rows:
        by_size.setdefault((r["n"], r["v"]), {})[r["variant"]] = r
    for r in rows:
        if "skipped" in r:
            print(f"{r['variant']:8s} {r['n']:>6d} {r['v']:>7d}  skipped: {r['skipped']}")
            continue
        peers = by_size[(r["n"], r["v"])]
        ref_name = next((k for k in ("trl", "naive") if k in peers and "skipped" not in peers[k]), None)
        ref = peers[ref_name] if ref_name else r
        rel = abs(r["loss"] - ref["loss"]) / abs(ref["loss"])
        print(
            f"{r['variant']:8s} {r['n']:>6d} {r['v']:>7d} {r['extra_gb']:>13.3f} {r['time_s']:>10.2f} "
            f"{r['loss']:>14.8f} {rel:>9.1e} {r['extra_gb'] / ref['extra_gb']:>8.3f} "
            f"{r['time_s'] / ref['time_s']:>9.3f}  {ref_name}"
        )
    trl_version = next((r.get("trl_version") for r in rows if r.get("trl_version")), None)
    print(
        f"\nJSD beta={BETA}, float32 inputs, {rows[0].get('threads', '?')} torch threads, "
        f"best of {args.reps} runs; trl {trl_version or 'not available'}."
    )

    main_rows = by_size[(main_n, main_v)]
    lab, trl_row, naive = (main_rows.get(k, {}) for k in ("labkit", "trl", "naive"))
    fields = {"n": main_n, "v": main_v}
    if "extra_gb" in lab:
        fields.update(labkit_gb=f"{lab['extra_gb']:.3f}", labkit_s=f"{lab['time_s']:.2f}")
    if "extra_gb" in naive:
        fields.update(naive_gb=f"{naive['extra_gb']:.3f}", naive_s=f"{naive['time_s']:.2f}")
    if "extra_gb" in trl_row and "extra_gb" in lab:
        fields.update(
            trl_gb=f"{trl_row['extra_gb']:.3f}",
            trl_s=f"{trl_row['time_s']:.2f}",
            mem_ratio=f"{lab['extra_gb'] / trl_row['extra_gb']:.3f}",
            time_ratio=f"{lab['time_s'] / trl_row['time_s']:.3f}",
            rel_diff=f"{abs(lab['loss'] - trl_row['loss']) / abs(trl_row['loss']):.1e}",
            grad_rel_diff=f"{abs(lab['grad_norm'] - trl_row['grad_norm']) / trl_row['grad_norm']:.1e}",
        )
        ok = (
            lab["extra_gb"] <= 0.25 * trl_row["extra_gb"]
            and lab["time_s"] <= trl_row["time_s"]
            and abs(lab["loss"] - trl_row["loss"]) <= 1e-5 * abs(trl_row["loss"])
        )
        fields["targets_met"] = "yes" if ok else "no"
    big = by_size.get((big_n, big_v), {}) if not args.skip_big else {}
    if "extra_gb" in big.get("labkit", {}):
        fields.update(
            big_n=big_n,
            big_v=big_v,
            big_labkit_gb=f"{big['labkit']['extra_gb']:.3f}",
            big_labkit_s=f"{big['labkit']['time_s']:.2f}",
        )
    if "extra_gb" in big.get("naive", {}):
        fields.update(big_naive_gb=f"{big['naive']['extra_gb']:.3f}", big_naive_s=f"{big['naive']['time_s']:.2f}")
    print("RESULT " + " ".join(f"{k}={v}" for k, v in fields.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
