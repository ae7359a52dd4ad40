"""Cross-tokenizer KD: alignment throughput, and the ULD loss's memory and time against a naive dense version.

    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/cross_tokenizer.py --quick   # N=256, a few minutes
    flock /tmp/labkit-heavy.lock .venv/bin/python benchmarks/cross_tokenizer.py           # N=2048

Alignment: Gemma-3-270m (teacher, 262,144 entries) and SmolLM2-135M (student, 49,152) tokenize the same
texts (the synthetic tasks' solutions, and TinyLLM's OBQA rationales when ../shared/data is there);
``labkit.alignment.align`` aligns them; throughput = student tokens aligned per second, tokenization
included. Counts of exact vs merged chunks are printed, with the merged numbers (X-Token's complaint).

Loss: forward + backward of ULD at teacher V_t = 262,144, student V_s = 49,152, N rows, each variant in its
own process; "extra" = peak RSS during the step minus RSS before it (includes the N x V_s float32 gradient
every variant must return). labkit = ``labkit.losses.uld`` (rows in chunks, analytic gradient); naive =
softmax + full sort + autograd on (N, V) tensors.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

GB = 1024**3
V_T, V_S = 262_144, 49_152


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def naive_uld(z, t):
    import torch

    q = torch.softmax(z, -1).sort(-1, descending=True).values
    p = torch.softmax(t, -1).sort(-1, descending=True).values
    k = min(q.shape[-1], p.shape[-1])
    return ((q[:, :k] - p[:, :k]).abs().sum(-1) + q[:, k:].sum(-1) + p[:, k:].sum(-1)).mean()


def worker(variant: str, n: int) -> dict:
    import torch

    from labkit import losses

    fn = (lambda z, t: losses.uld(z, t)) if variant == "labkit" else naive_uld
    small = torch.randn(4, V_S, requires_grad=True)
    fn(small, torch.randn(4, V_T)).backward()
    torch.manual_seed(0)
    z = (torch.randn(n, V_S) * 2).requires_grad_(True)
    t = torch.randn(n, V_T) * 2
    base = _rss()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    t0 = time.perf_counter()
    loss = fn(z, t)
    loss.backward()
    seconds = time.perf_counter() - t0
    return {
        "variant": variant,
        "n": n,
        "extra_gb": (_peak() - base) / GB,
        "time_s": seconds,
        "loss": float(loss.detach()),
        "grad_norm": float(z.grad.norm()),
    }


def run_worker(variant: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", variant, "--n", str(n)], capture_output=True, text=True)
    if out.returncode != 0:
        return {"variant": variant, "n": n, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def texts(limit: int) -> list[str]:
    from labkit import data

    out = [r.solution for r in data.load_dataset("synthetic:arithmetic", "train", n=limit // 2)]
    root = Path(os.environ.get("LABKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if (root / "tinyllm" / "obqa").is_dir():
        recs = data.load_dataset("tinyllm:obqa", "train", data_dir=root, n=limit // 2)
        out += [r.rationales["flan-t5-xl"] for r in recs if r.rationales.get("flan-t5-xl")]
    return out


def alignment_throughput(limit: int) -> dict:
    from labkit import alignment, models

    teacher, student = models.load_tokenizer("gemma3-270m"), models.load_tokenizer("smollm2-135m-instruct")
    alignment.token_bytes(teacher), alignment.token_bytes(student)  # built once per tokenizer
    docs = texts(limit)
    t0 = time.perf_counter()
    totals, merged_numbers = {"exact": 0, "merged": 0, "student_tokens": 0, "teacher_tokens": 0}, 0
    for text in docs:
        al = alignment.align(teacher, student, text)
        for k in totals:
            totals[k] += al.counts()[k]
        merged_numbers += sum(
            c.kind == "merged" and any(ch.isdigit() for ch in c.text.decode("utf-8", "replace")) for c in al.chunks
        )
    seconds = time.perf_counter() - t0
    return {
        "texts": len(docs),
        **totals,
        "merged_with_digits": merged_numbers,
        "seconds": seconds,
        "tok_s": totals["student_tokens"] / seconds,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="N=256 rows, 200 texts")
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--texts", type=int, default=1000)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n)))
        return 0
    if args.quick:
        args.n, args.texts = 256, 200
    a = alignment_throughput(args.texts)
    print(
        f"alignment, Gemma-3 (teacher) vs SmolLM2 (student), {a['texts']} texts: {a['student_tokens']} student / "
        f"{a['teacher_tokens']} teacher tokens, {a['exact']} exact + {a['merged']} merged chunks "
        f"({a['merged_with_digits']} merged chunks contain digits), {a['tok_s']:.0f} student tok/s"
    )
    rows = [run_worker(v, args.n) for v in ("labkit", "naive")]
    print()
    print("| variant | N | V_t | V_s | extra GiB | time s | loss |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['variant']} | {r['n']} | {V_T} | {V_S} | failed: {r['error']} | | |")
        else:
            print(
                f"| {r['variant']} | {r['n']} | {V_T} | {V_S} | {r['extra_gb']:.2f} | {r['time_s']:.2f} | "
                f"{r['loss']:.6f} |"
            )
    lab, naive = rows
    ratio = lab["extra_gb"] / naive["extra_gb"] if "error" not in lab and "error" not in naive else float("nan")
    same = abs(lab.get("loss", 0) - naive.get("loss", 1)) < 1e-4
    print(
        f"RESULT align_tok_s={a['tok_s']:.0f} merged_fraction={a['merged'] / max(a['exact'] + a['merged'], 1):.3f} "
        f"n={args.n} labkit_gb={lab.get('extra_gb', float('nan')):.2f} "
        f"naive_gb={naive.get('extra_gb', float('nan')):.2f} "
        f"memory_ratio={ratio:.3f} same_loss={same}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
