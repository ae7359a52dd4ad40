"""Teacher signals captured once: top-k log-probabilities with the tail mass, and sampled tokens.

    import labkit as lk
    store = lk.signals.capture(teacher, tok, rollouts, out_dir, k=64, samples=32, teacher_name="smollm2")
    store, captured = lk.signals.capture_keyed(teacher, tok, rollouts, root, k=64, samples=0)  # root/<content key>
    sig = store.get([3, 7])           # the signals of rollouts 3 and 7, rows in response-token order
    lk.signals.topk_divergence(student_logits, sig, kind="forward_kl", mask=mask)
    lk.signals.sampled_forward_kl(student_logits, sig, mask=mask)

What is kept, per response position of each sequence (T = the teacher's distribution at temperature τ):

- ``topk_ids`` (k,) int32 and ``topk_logprobs`` (k,) float32: the k likeliest tokens and their log T;
- ``tail_logmass`` float32: log of the mass outside the top k, log(1 - Σ_topk T);
- ``sample_ids`` (m,) int32 and ``sample_logprobs`` (m,): m tokens drawn from T itself, with their log T.

Storage. One safetensors file per chunk of sequences (``chunk-00000.safetensors``...), written to a
temporary name and renamed, plus ``signals.json`` with the settings and a content key. safetensors
because it is the format the model weights already use here: no pickle (nothing executes on load),
memory-mapped zero-copy reads of just the tensors asked for, and a file that is complete or absent.
A killed capture keeps its finished chunks; the next call computes only the missing ones. The key
covers everything that changes the signal (teacher weights, tokenizer, the exact token ids of every
sequence, τ, k, m, seed): a store captured under other settings is refused with the differences
named (reading a top-64 store as top-128, or another teacher's, silently trains on the wrong target).

Bias (docs/methods.md §7). Top-k with a tail bin is a coarse-graining of both distributions: every
f-divergence (KL either way, JSD_β, TVD) can only shrink under it, so the top-k loss is biased low,
and exact when k = V. The sampled forward KL (1/m) Σ_j [log T(x_j) - log q(x_j)], x_j ~ T, is an
unbiased estimate of KL(T‖q) and its gradient q - (counts/m) an unbiased estimate of q - T. There is
no unbiased sampled reverse KL from teacher samples (it needs T at the student's tokens).
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

from labkit import alignment, losses
from labkit import sequences as S
from labkit.errors import LabkitError

FORMAT = "labkit-signals-1"


@dataclass(frozen=True)
class SignalSettings:
    """Everything that changes a captured signal (compared field by field when a store is opened)."""

    teacher: str
    teacher_weights: str  # SHA-256 of the teacher's parameters
    tokenizer: str  # labkit.alignment.tokenizer_fingerprint
    sequences: str  # SHA-256 of every rollout's prompt and response ids
    n_sequences: int
    k: int
    samples: int
    temperature: float
    seed: int


def weights_fingerprint(model) -> str:
    """SHA-256 over the parameters' names, shapes and bytes (float32)."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(p.shape)).encode())
        h.update(p.detach().to(torch.float32).cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def sequences_fingerprint(rollouts: list[dict]) -> str:
    h = hashlib.sha256()
    for r in rollouts:
        h.update(json.dumps([r["prompt"], r["response"]]).encode())
    return h.hexdigest()


@dataclass
class Signals:
    """Signals of some sequences, flattened over their response positions (row-major, no padding)."""

    topk_ids: torch.Tensor  # (N, k) int64
    topk_logprobs: torch.Tensor  # (N, k) float32
    tail_logmass: torch.Tensor  # (N,) float32
    sample_ids: torch.Tensor  # (N, m) int64
    sample_logprobs: torch.Tensor  # (N, m) float32

    def to(self, device) -> Signals:
        return Signals(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def _capture_rows(
    teacher_logits: torch.Tensor, k: int, samples: int, temperature: float, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """(N, V) teacher logits -> the stored fields for those N positions."""
    lp = F.log_softmax(teacher_logits.float() / temperature, -1)  # (N, V)
    top_lp, top_ids = lp.topk(min(k, lp.shape[-1]), dim=-1)  # (N, k)
    tail = (
        torch.log1p(-top_lp.exp().sum(-1).clamp(max=1.0 - 1e-7))
        if k < lp.shape[-1]
        else torch.full(lp.shape[:1], float("-inf"))
    )
    out = {"topk_ids": top_ids.to(torch.int32), "topk_logprobs": top_lp, "tail_logmass": tail.float()}
    if samples:
        ids = torch.multinomial(lp.exp(), samples, replacement=True, generator=generator)  # (N, m)
        out["sample_ids"] = ids.to(torch.int32)
        out["sample_logprobs"] = lp.gather(-1, ids)
    else:
        out["sample_ids"] = torch.zeros(lp.shape[0], 0, dtype=torch.int32)
        out["sample_logprobs"] = torch.zeros(lp.shape[0], 0)
    return out


class SignalStore:
    """A captured store on disk; ``get(indices)`` returns the Signals of those sequences."""

    def __init__(self, path, settings: SignalSettings | None = None):
        self.path = Path(path)
        doc_path = self.path / "signals.json"
        if not doc_path.is_file():
            raise LabkitError(f"{self.path}: no signals.json (not a captured teacher-signal store)")
        doc = json.loads(doc_path.read_text())
        if doc.get("format") != FORMAT:
            raise LabkitError(f"{doc_path}: format {doc.get('format')!r}, expected {FORMAT!r}")
        self.settings = SignalSettings(**doc["settings"])
        if settings is not None and settings != self.settings:
            diff = [
                f"{f}: stored {getattr(self.settings, f)!r}, asked {getattr(settings, f)!r}"
                for f in self.settings.__dataclass_fields__
                if getattr(self.settings, f) != getattr(settings, f)
            ]
            raise LabkitError(
                f"{self.path}: captured under other settings, refusing to serve it ("
                + "; ".join(diff)
                + "). Capture again with these settings."
            )
        self.chunk_size = doc["chunk_size"]
        self.lengths = doc["response_lengths"]

    def _chunk_file(self, c: int) -> Path:
        return self.path / f"chunk-{c:05d}.safetensors"

    def complete(self) -> bool:
        n_chunks = -(-self.settings.n_sequences // self.chunk_size)
        return all(self._chunk_file(c).is_file() for c in range(n_chunks))

    def get(self, indices) -> Signals:
        parts = []
        for i in indices:
            c, j = divmod(int(i), self.chunk_size)
            with safe_open(self._chunk_file(c), framework="pt") as f:
                offsets = f.get_tensor("offsets")
                a, b = int(offsets[j]), int(offsets[j + 1])
                parts.append(
                    {
                        name: f.get_slice(name)[a:b]
                        for name in ("topk_ids", "topk_logprobs", "tail_logmass", "sample_ids", "sample_logprobs")
                    }
                )
        cat = {name: torch.cat([p[name] for p in parts]) for name in parts[0]}
        return Signals(
            cat["topk_ids"].long(),
            cat["topk_logprobs"],
            cat["tail_logmass"],
            cat["sample_ids"].long(),
            cat["sample_logprobs"],
        )

    def bytes_per_token(self) -> float:
        total = sum(p.stat().st_size for p in self.path.glob("chunk-*.safetensors"))
        return total / max(sum(self.lengths), 1)


def settings_for(
    teacher,
    tokenizer,
    rollouts: list[dict],
    *,
    teacher_name: str = "teacher",
    k: int = 64,
    samples: int = 32,
    temperature: float = 1.0,
    seed: int = 0,
) -> SignalSettings:
    """The SignalSettings that ``capture`` would record for these arguments (hashes the teacher's weights)."""
    if k < 1 or samples < 0:
        raise LabkitError(f"capture: k={k!r} must be >= 1 and samples={samples!r} >= 0")
    return SignalSettings(
        teacher=teacher_name,
        teacher_weights=weights_fingerprint(teacher),
        tokenizer=alignment.tokenizer_fingerprint(tokenizer),
        sequences=sequences_fingerprint(rollouts),
        n_sequences=len(rollouts),
        k=k,
        samples=samples,
        temperature=float(temperature),
        seed=seed,
    )


def content_key(settings: SignalSettings) -> str:
    """A short SHA-256 of every setting: the folder name of a content-keyed store (``capture_keyed``)."""
    return hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode()).hexdigest()[:16]


def capture_keyed(teacher, tokenizer, rollouts: list[dict], root, **kw) -> tuple[SignalStore, bool]:
    """``capture`` into ``root/<content_key>``: (store, captured), captured False when a complete store with
    exactly these settings was already there (then the teacher is not run at all).

    Several processes asking for the same key at once (grid points of a batch) take turns on a lock file in
    `root`: the first captures, the others find it complete.
    """
    import fcntl

    capture_kw = {n: kw.pop(n) for n in ("chunk_size", "batch_size", "autocast") if n in kw}
    settings = settings_for(teacher, tokenizer, rollouts, **kw)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / content_key(settings)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (path / "signals.json").is_file():
            store = SignalStore(path, settings)
            if store.complete():
                return store, False
        return capture(teacher, tokenizer, rollouts, path, settings=settings, **kw, **capture_kw), True


def capture(
    teacher,
    tokenizer,
    rollouts: list[dict],
    out_dir,
    *,
    teacher_name: str = "teacher",
    k: int = 64,
    samples: int = 32,
    temperature: float = 1.0,
    seed: int = 0,
    chunk_size: int = 64,
    batch_size: int = 16,
    autocast=None,
    settings: SignalSettings | None = None,
) -> SignalStore:
    """Run `teacher` once over `rollouts` (prompt + response ids) and store its signals in `out_dir`.

    Resumable: chunks already on disk are kept; a store captured under other settings is refused.
    settings: what ``settings_for`` returned for these same arguments (saves hashing the weights twice).
    """
    settings = settings or settings_for(
        teacher,
        tokenizer,
        rollouts,
        teacher_name=teacher_name,
        k=k,
        samples=samples,
        temperature=temperature,
        seed=seed,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": FORMAT,
        "settings": asdict(settings),
        "chunk_size": chunk_size,
        "response_lengths": [len(r["response"]) for r in rollouts],
    }
    if (out / "signals.json").is_file():
        SignalStore(out, settings)  # refuses other settings, names the difference
    else:
        tmp = out / "signals.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, out / "signals.json")
    store = SignalStore(out, settings)
    device = S.model_device(teacher)
    pad = S.pad_id(tokenizer)
    teacher.eval()
    for c in range(0, len(rollouts), chunk_size):
        file = store._chunk_file(c // chunk_size)
        if file.is_file():
            continue
        generator = torch.Generator().manual_seed(seed * 1_000_003 + c)
        fields, offsets = [], [0]
        for b in range(c, min(c + chunk_size, len(rollouts)), batch_size):
            batch = rollouts[b : min(b + batch_size, c + chunk_size, len(rollouts))]
            coll = S.collate_rollouts(batch, pad, device)
            with torch.inference_mode(), autocast() if autocast else nullcontext():
                logits = S.response_logits(teacher, coll)  # (B, R, V)
            rows = logits[coll["response_mask"]].cpu()  # (n, V), row-major
            fields.append(_capture_rows(rows, k, samples, temperature, generator))
            for r in batch:
                offsets.append(offsets[-1] + len(r["response"]))
        tensors = {name: torch.cat([f[name] for f in fields]).contiguous() for name in fields[0]}
        tensors["offsets"] = torch.tensor(offsets, dtype=torch.int64)
        tmp = file.with_suffix(".tmp")
        save_file(tensors, str(tmp))
        os.replace(tmp, file)
    return store


# --------------------------------------------------------------------------- losses that read a store


def topk_divergence(
    student_logits: torch.Tensor,
    sig: Signals,
    *,
    kind: str = "forward_kl",
    beta: float = 0.5,
    temperature: float = 1.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """D(T_k ‖ q_k) on the top-k tokens plus one tail bin (both sides coarse-grained the same way).

    student_logits (..., V) with `mask` (...) selecting the N rows the signals describe (row-major).
    Biased low for every kind (coarse-graining shrinks f-divergences); exact when k = V.
    """
    z, mask, lead = _counted_rows(student_logits, mask, sig, reduction, "topk_divergence")
    lq = F.log_softmax(z.float() / temperature, -1)  # (N, V)
    lq_k = lq.gather(-1, sig.topk_ids)  # (N, k)
    student, teacher = lq_k, sig.topk_logprobs
    if sig.topk_ids.shape[-1] < lq.shape[-1]:  # one more bin: the tail
        lq_tail = torch.log1p(-lq_k.exp().sum(-1).clamp(max=1.0 - 1e-7))  # (N,)
        student = torch.cat([lq_k, lq_tail[:, None]], -1)
        teacher = torch.cat([sig.topk_logprobs, sig.tail_logmass[:, None]], -1)
    per_row = losses.divergence(student, teacher, kind=kind, beta=beta, reduction="none")  # (N,)
    return _reduce_rows(per_row, mask, lead, reduction)


def truncated_reverse_kl(
    student_logits: torch.Tensor,
    sig: Signals,
    *,
    temperature: float = 1.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Σ_{i ∈ top-k} q_i log(q_i / T_i): the reverse KL summed over the teacher's top-k tokens only, with no tail bin,
    what a loss computes that reads nothing but a served teacher's top-k log-probs (the top-k reverse KL that verl's
    on-policy distillation pull request 5041 tried and removed as unstable).

    Not a divergence: each term q_i log(q_i/T_i) is smallest at q_i = T_i / e, so the loss is minimised with the
    top-k tokens at T_i / e and the rest of the student's mass, at least 1 − 1/e, pushed *outside* the teacher's top
    k, and its gradient at q = T is not zero. ``topk_divergence(kind="reverse_kl")`` adds the tail bin and is
    minimised at q = T on the k + 1 bins (notebook 00, scene 6). Shown for comparison, not for training.
    """
    z, mask, lead = _counted_rows(student_logits, mask, sig, reduction, "truncated_reverse_kl")
    lq_k = F.log_softmax(z.float() / temperature, -1).gather(-1, sig.topk_ids)  # (N, k)
    per_row = (lq_k.exp() * (lq_k - sig.topk_logprobs)).sum(-1)
    return _reduce_rows(per_row, mask, lead, reduction)


def sampled_forward_kl(
    student_logits: torch.Tensor,
    sig: Signals,
    *,
    temperature: float = 1.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """(1/m) Σ_j [log T(x_j) - log q(x_j)], x_j ~ T: an unbiased estimate of KL(T‖q), gradient q - counts/m."""
    if sig.sample_ids.shape[-1] == 0:
        raise LabkitError("sampled_forward_kl: the store holds no samples (captured with samples=0)")
    z, mask, lead = _counted_rows(student_logits, mask, sig, reduction, "sampled_forward_kl")
    lq = F.log_softmax(z.float() / temperature, -1).gather(-1, sig.sample_ids)  # (N, m)
    per_row = (sig.sample_logprobs - lq).mean(-1)
    return _reduce_rows(per_row, mask, lead, reduction)


def _counted_rows(student_logits: torch.Tensor, mask, sig: Signals, reduction: str, who: str):
    """(the counted student rows (N, V), the checked mask, the leading shape); N must be the store's row count."""
    losses.check_reduction(reduction)
    lead = student_logits.shape[:-1]
    mask = losses.check_mask(mask, lead)
    z = student_logits.reshape(-1, student_logits.shape[-1])
    if mask is not None:
        z = z[mask.reshape(-1)]
    if z.shape[0] != sig.topk_ids.shape[0]:
        raise LabkitError(
            f"{who}: {z.shape[0]} counted student rows but {sig.topk_ids.shape[0]} captured rows; "
            f"the mask must select exactly the captured response positions"
        )
    return z, mask, lead


def _reduce_rows(per_row: torch.Tensor, mask, lead: torch.Size, reduction: str) -> torch.Tensor:
    """Reductions as in labkit.losses: "mean" over counted rows, "sum", or "none" ((...) with zeros)."""
    if reduction == "sum":
        return per_row.sum()
    if reduction == "mean":
        return per_row.sum() / max(per_row.shape[0], 1)
    if mask is None:
        return per_row.reshape(lead)
    full = per_row.new_zeros(lead.numel())
    full[mask.reshape(-1)] = per_row
    return full.reshape(lead)


# --------------------------------------------------------------------------- how good is each approximation?


def signals_from_logits(
    teacher_logits: torch.Tensor, *, k: int, samples: int, temperature: float = 1.0, seed: int = 0
) -> Signals:
    """What ``capture`` would store for these (N, V) teacher logits (no disk): for error studies and tests."""
    rows = _capture_rows(teacher_logits, k, samples, temperature, torch.Generator().manual_seed(seed))
    return Signals(
        rows["topk_ids"].long(),
        rows["topk_logprobs"],
        rows["tail_logmass"],
        rows["sample_ids"].long(),
        rows["sample_logprobs"],
    )


def estimator_errors(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    ks=(1, 4, 16, 64, 256),
    sample_counts=(1, 4, 16, 64, 256),
    repeats: int = 8,
) -> list[dict]:
    """Forward-KL loss and gradient of top-k+tail and of sampled signals against the exact ones.

    student_logits, teacher_logits: (N, V) for the same positions. For each k (top-k) and each m
    (samples; `repeats` independent draws), returns rows {"estimator", "size", "loss", "exact_loss",
    "loss_rel_err" (|mean loss - exact| / exact: the bias), "loss_rel_sd" (spread of one draw, sampled only),
    "grad_rel_err" (‖g - g_exact‖ / ‖g_exact‖, mean over draws), "grad_cos"}.
    """
    z = student_logits.detach().float()

    def loss_and_grad(fn):
        zz = z.clone().requires_grad_(True)
        value = fn(zz)
        (grad,) = torch.autograd.grad(value, zz)
        return float(value.detach()), grad

    exact, g_exact = loss_and_grad(lambda zz: losses.divergence(zz, teacher_logits, kind="forward_kl"))
    rows = []

    def row(name, size, values, grads):
        mean = sum(values) / len(values)
        sd = (sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)) ** 0.5
        g_err = [float((g - g_exact).norm() / g_exact.norm()) for g in grads]
        cos = [float(torch.nn.functional.cosine_similarity(g.flatten(), g_exact.flatten(), dim=0)) for g in grads]
        rows.append(
            {
                "estimator": name,
                "size": size,
                "loss": mean,
                "exact_loss": exact,
                "loss_rel_err": abs(mean - exact) / exact,
                "loss_rel_sd": sd / exact,
                "grad_rel_err": sum(g_err) / len(g_err),
                "grad_cos": sum(cos) / len(cos),
            }
        )

    for k in ks:
        sig = signals_from_logits(teacher_logits, k=k, samples=0)
        v, g = loss_and_grad(lambda zz: topk_divergence(zz, sig, kind="forward_kl"))
        row("top-k + tail", k, [v], [g])
    for m in sample_counts:
        values, grads = [], []
        for r in range(repeats):
            sig = signals_from_logits(teacher_logits, k=1, samples=m, seed=r)
            v, g = loss_and_grad(lambda zz: sampled_forward_kl(zz, sig))
            values.append(v)
            grads.append(g)
        row("sampled", m, values, grads)
    return rows
