"""Notebook 00's longer scenes as functions: the mode-seeking claims over seeds, and the errors of stored signals."""

from __future__ import annotations

import torch

from labkit import data, models, modeseek, signals
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.lab.claims import claim

STUDENT_KINDS = {"forward KL": ("forward_kl", 0.0), "reverse KL": ("reverse_kl", 1.0)}


def mode_seeking_over_seeds(n_seeds: int, *, noise: float, order: int, steps: int, eps: float):
    """Scene 4: per seed s, teacher ``modeseek.random_teacher(s)`` and one forward-KL and one reverse-KL student.

    Returns (per_seed {s: {"forward KL": summary, "reverse KL": summary}}, values {metric: {arm: [per seed]}},
    claims [the two claims of notebook 00]).
    """
    per_seed = {}
    for s in range(n_seeds):
        t = modeseek.random_teacher(s, noise)
        log_p, mode_ids = t.log_probs(), t.mode_indices()
        per_seed[s] = {
            label: modeseek.summary(
                modeseek.train_sequence_student(t, kind, b, order=order, steps=steps, seed=s)[1], log_p, mode_ids, eps
            )
            for label, (kind, b) in STUDENT_KINDS.items()
        }
    values = {
        m: {label: [per_seed[s][label][m] for s in per_seed] for label in STUDENT_KINDS}
        for m in ("void_mass", "modes_covered")
    }

    def diff(metric):
        return [f - r for f, r in zip(values[metric]["forward KL"], values[metric]["reverse KL"])]

    claims = [
        {
            **claim(
                "00.void_mass",
                "Reverse KL is mode-seeking: its student puts less mass where the teacher has none "
                "than the forward-KL student (Gu et al., MiniLLM, ICLR 2024, §2.1, Fig. 2)",
                "void mass (lower is better)",
                "reverse KL",
                "forward KL",
                diff("void_mass"),
            ),
            "headline": True,
        },
        claim(
            "00.modes",
            "Forward KL is mode-covering: its student covers more of the teacher's modes than the "
            "reverse-KL student (Gu et al., MiniLLM, §2.1)",
            "teacher modes covered",
            "forward KL",
            "reverse KL",
            diff("modes_covered"),
        ),
    ]
    return per_seed, values, claims


def signal_errors(teacher: str, student: str, *, n_sequences: int, repeats: int, seed: int = 0, device="cpu"):
    """Scene 5: a real teacher's and student's response logits on the synthetic task's solutions, and the
    forward-KL errors of top-k and sampled signals (``labkit.signals.estimator_errors``).

    Returns (rows, n_positions, vocabulary size).
    """
    t_model = models.load_model(teacher, device=device).eval()
    s_model = models.load_model(student, device=device).eval()
    tok = models.load_tokenizer(teacher)
    recs = data.load_dataset("synthetic:arithmetic", "train", n=n_sequences, seed=seed)
    batch = S.collate_rollouts(
        S.encode_rollouts(tok, [f"Q: {r.question}\nA:" for r in recs], [" " + r.solution for r in recs], 256),
        S.pad_id(tok),
    )
    with torch.no_grad():
        t_rows = S.response_logits(t_model, batch)[batch["response_mask"]].float()
        s_rows = S.response_logits(s_model, batch)[batch["response_mask"]].float()
    rows = signals.estimator_errors(
        s_rows, t_rows, ks=(1, 4, 16, 64, 256, 1024), sample_counts=(1, 4, 16, 64, 256), repeats=repeats
    )
    return rows, t_rows.shape[0], t_rows.shape[1]


TOPK_OBJECTIVES = ("full reverse KL", "top-k only", "top-k + tail")


def zipf_logits(vocab: int, *, exponent: float = 1.1, noise: float = 0.3, seed: int = 0) -> torch.Tensor:
    """(V,) float64 logits of a next-token distribution with a heavy tail, as a language model's: log-probabilities
    −exponent · log rank plus Gaussian noise of sd `noise` (seeded)."""
    g = torch.Generator().manual_seed(seed)
    rank = torch.arange(1, vocab + 1, dtype=torch.float64)
    return -exponent * rank.log() + noise * torch.randn(vocab, generator=g, dtype=torch.float64)


def topk_reverse_kl(teacher_logits: torch.Tensor, k: int, *, steps: int = 300, lr: float = 0.05) -> dict:
    """Scene 6: a student's next-token logits (V,), started at the teacher's own (a perfect student), trained by Adam
    on three reverse-KL objectives: the full one (``losses.divergence``), the teacher's top-k only
    (``signals.truncated_reverse_kl``) and the top-k plus the tail bin (``signals.topk_divergence``); exact (no
    sampling), the stored top-k log-probs in float32 as a store keeps them.

    Returns {"curves": {objective: {"outside": [the student's mass outside the teacher's top k, per step],
    "reverse_kl": [the full KL(q‖p) per step]}}, "teacher_outside": the teacher's own mass outside its top k,
    "truncated_optimum_outside": 1 − Σ_top-k p / e, where the truncated loss's minimum puts the student's outside mass,
    "rows": one row per objective at the last step}.
    """
    from labkit import losses

    p = teacher_logits.detach().double().reshape(1, -1)
    if not isinstance(k, int) or not 1 <= k < p.shape[-1]:
        raise LabkitError(f"parameter topk={k!r}: expected an integer 1 <= topk < {p.shape[-1]} (the vocabulary)")
    sig = signals.signals_from_logits(p, k=k, samples=0)  # what a served teacher returns (float32, as stored)
    top = sig.topk_ids[0]

    def outside(z):
        return float(1 - torch.softmax(z, -1)[0, top].sum())

    def loss(name, z):
        if name == "full reverse KL":
            return losses.divergence(z, p, kind="reverse_kl", reduction="mean")
        if name == "top-k only":
            return signals.truncated_reverse_kl(z, sig)
        return signals.topk_divergence(z, sig, kind="reverse_kl")

    curves = {}
    for name in TOPK_OBJECTIVES:
        z = p.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        out, kl = [], []
        for _ in range(steps + 1):
            with torch.no_grad():
                out.append(outside(z))
                kl.append(float(losses.divergence(z, p, kind="reverse_kl", reduction="mean")))
            opt.zero_grad()
            loss(name, z).backward()
            opt.step()
        curves[name] = {"outside": out, "reverse_kl": kl}
    teacher_outside = outside(p)
    optimum = 1 - (1 - teacher_outside) / torch.e
    rows = [
        {
            "objective": name,
            "student mass outside top-k": c["outside"][-1],
            "teacher's": teacher_outside,
            "full reverse KL": c["reverse_kl"][-1],
        }
        for name, c in curves.items()
    ]
    return {
        "curves": curves,
        "teacher_outside": teacher_outside,
        "truncated_optimum_outside": float(optimum),
        "rows": rows,
        "k": k,
        "vocab": p.shape[-1],
    }
