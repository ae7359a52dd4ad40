"""Notebook 00's longer scenes as functions: the mode-seeking claims over seeds, and the errors of stored signals."""

from __future__ import annotations

import torch

from labkit import data, models, modeseek, signals
from labkit import sequences as S
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
        claim(
            "00.void_mass",
            "Reverse KL is mode-seeking: its student puts less mass where the teacher has none "
            "than the forward-KL student (Gu et al., MiniLLM, ICLR 2024, §2.1, Fig. 2)",
            "void mass (lower is better)",
            "reverse KL",
            "forward KL",
            diff("void_mass"),
        ),
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
