"""Cross-tokenizer white-box KD: a teacher and a student with different vocabularies (Gemma-3 -> SmolLM2).

Token-level KD compares p(·|y_<t) and q(·|y_<t) entry by entry, which needs one vocabulary. With two
tokenizers the same response text is cut into different tokens, so the lab first aligns the two
tokenizations by bytes (labkit.alignment): a *chunk* is a stretch of text where both sides have a
token boundary at its start and end; "exact" chunks are one token on each side, "merged" ones are
not (a word or a multi-byte character cut differently). Then, per chunk (docs/methods.md §6):

- ``loss="uld"`` (Boizard et al., 2024, Universal Logit Distillation): at the first token of every
  chunk, Σ_i |p_(i) - q_(i)| between the sorted probability vectors (labkit.losses.uld). No token
  identities: it teaches how confident to be, not what to say.
- ``loss="hybrid"`` (after TRL's GOLD): exact chunks compare identities where the vocabularies agree.
  With M the tokens spelled the same on both sides (labkit.alignment.vocab_map), both distributions
  are projected on M plus one "rest" bin holding the mass outside M, and compared by JSD_β
  (labkit.losses.divergence); the mass outside M is compared by ULD on the sorted tails. Merged
  chunks compare the probability of the chunk's text, P = Π p(teacher tokens), Q = Π q(student
  tokens) (split tokens merged by the product of their conditional probabilities), as JSD_β between
  Bernoulli(P) and Bernoulli(Q), plus ULD at the chunk's first tokens.

With identical tokenizers every chunk is exact, M is the whole vocabulary, the rest bin and the
tails are empty, and the hybrid loss is exactly the plain token-level JSD_β (a test checks it).
The training loss is ``ce_weight * CE + (1 - ce_weight) * KD``, CE on the student's own tokens of
the target (end of text included, which no teacher token matches).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from labkit import alignment, losses
from labkit import sequences as S
from labkit.loop import History, Objective, TrainConfig, prepare_model, resolve, run_loop
from labkit.methods.base import is_unit, need, settings_of

NAME = "xtok"
LOSSES = ("uld", "hybrid")
_REST_FLOOR = -1e30  # log of an empty rest bin on the student side: zero mass, finite arithmetic


@dataclass
class XTokSettings:
    """Args:
    loss: "uld" or "hybrid".
    beta: β of JSD_β for the hybrid's identity terms (0 = forward KL, 1 = reverse KL).
    temperature: τ of both distributions.
    ce_weight: weight of the student's cross-entropy on the targets, in [0, 1].
    uld_weight: weight of the ULD terms inside the hybrid loss (>= 0).
    rows_per_chunk: exact chunks processed together (bounds the (rows, V_teacher) memory).
    """

    loss: str = "hybrid"
    beta: float = 0.5
    temperature: float = 1.0
    ce_weight: float = 0.5
    uld_weight: float = 1.0
    rows_per_chunk: int = 64

    def __post_init__(self):
        need(self, "loss", self.loss in LOSSES, f"one of {', '.join(LOSSES)}")
        need(self, "beta", is_unit(self.beta), "a number in [0, 1]")
        need(self, "temperature", isinstance(self.temperature, (int, float)) and self.temperature > 0, "a number > 0")
        need(self, "ce_weight", is_unit(self.ce_weight), "a number in [0, 1]")
        need(self, "uld_weight", isinstance(self.uld_weight, (int, float)) and self.uld_weight >= 0, "a number >= 0")
        need(
            self, "rows_per_chunk", isinstance(self.rows_per_chunk, int) and self.rows_per_chunk >= 1, "an integer >= 1"
        )


Settings = XTokSettings


# --------------------------------------------------------------------------- the plan of a batch


@dataclass
class Plan:
    """Which rows of the flattened (N, V) logits each chunk uses (rows = response positions, row-major).

    exact_s, exact_t: (E,) student/teacher rows of exact chunks.
    merged: list of (student rows, teacher rows) per merged chunk, in token order.
    """

    exact_s: torch.Tensor
    exact_t: torch.Tensor
    merged: list[tuple[list[int], list[int]]]

    @property
    def n_chunks(self) -> int:
        return len(self.exact_s) + len(self.merged)

    @property
    def first_s(self) -> torch.Tensor:
        return torch.cat([self.exact_s, torch.tensor([s[0] for s, _ in self.merged], dtype=torch.long)])

    @property
    def first_t(self) -> torch.Tensor:
        return torch.cat([self.exact_t, torch.tensor([t[0] for _, t in self.merged], dtype=torch.long)])


def make_plan(alignments: list[alignment.Alignment], s_width: int, t_width: int) -> Plan:
    """The plan of a batch whose row b has alignment alignments[b], responses padded to the widths."""
    exact_s, exact_t, merged = [], [], []
    for b, al in enumerate(alignments):
        for c in al.chunks:
            s_rows = [b * s_width + j for j in range(*c.student)]
            t_rows = [b * t_width + i for i in range(*c.teacher)]
            if c.kind == "exact":
                exact_s.append(s_rows[0])
                exact_t.append(t_rows[0])
            else:
                merged.append((s_rows, t_rows))
    as_long = lambda x: torch.tensor(x, dtype=torch.long)  # noqa: E731
    return Plan(as_long(exact_s), as_long(exact_t), merged)


# --------------------------------------------------------------------------- losses


def _sorted_l1(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Σ_i |p_(i) - q_(i)| per row for sub-distributions of any widths (zero padding); grad through q."""
    ps, qs = p.sort(-1, descending=True).values, q.sort(-1, descending=True).values
    k = min(ps.shape[-1], qs.shape[-1])
    return (qs[:, :k] - ps[:, :k]).abs().sum(-1) + qs[:, k:].sum(-1) + ps[:, k:].sum(-1)


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x <= 0, stable at both ends."""
    x = x.clamp(max=-1e-7)
    return torch.where(x > -0.693, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def exact_terms(
    student_rows: torch.Tensor,
    teacher_rows: torch.Tensor,
    vmap: alignment.VocabMap,
    *,
    beta: float,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(JSD_β on the matched vocabulary + rest bin, ULD on the unmatched tails), each summed over rows.

    student_rows (E, V_s), teacher_rows (E, V_t): the logits of exact chunks.
    """
    device = student_rows.device
    s2t = vmap.student_to_teacher.to(device)
    matched_s = (s2t >= 0).nonzero()[:, 0]  # student ids with a teacher twin
    matched_t = s2t[matched_s]
    lq = F.log_softmax(student_rows.float() / temperature, -1)  # (E, V_s), differentiable
    lp = F.log_softmax(teacher_rows.detach().float() / temperature, -1)  # (E, V_t)
    s_rest = torch.ones(lq.shape[-1], dtype=torch.bool, device=device)
    s_rest[matched_s] = False
    t_rest = torch.ones(lp.shape[-1], dtype=torch.bool, device=device)
    t_rest[matched_t] = False
    q_m, p_m = lq[:, matched_s], lp[:, matched_t]  # (E, |M|), same order
    if bool(s_rest.any()) or bool(t_rest.any()):  # one more bin: the mass outside M
        q_rest = torch.logsumexp(lq[:, s_rest], -1, keepdim=True).clamp(min=_REST_FLOOR)
        p_rest = torch.logsumexp(lp[:, t_rest], -1, keepdim=True)
        q_m, p_m = torch.cat([q_m, q_rest], -1), torch.cat([p_m, p_rest], -1)
    jsd = losses.divergence(q_m, p_m, kind="jsd", beta=beta, reduction="sum")
    tails = _sorted_l1(lp[:, t_rest].exp(), lq[:, s_rest].exp()).sum()
    return jsd, tails


def merged_terms(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    student_tokens: torch.Tensor,
    teacher_tokens: torch.Tensor,
    plan: Plan,
    *,
    beta: float,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Σ over merged chunks of JSD_β(Bernoulli(P) ‖ Bernoulli(Q)), P = Π teacher token probs of the chunk,
    Q = Π student token probs (flattened (N, V) logits and (N,) tokens)."""
    if not plan.merged:
        return student_logits.sum() * 0.0
    s_rows = torch.tensor([j for s, _ in plan.merged for j in s], dtype=torch.long, device=student_logits.device)
    t_rows = torch.tensor([i for _, t in plan.merged for i in t], dtype=torch.long, device=teacher_logits.device)
    s_owner = torch.tensor([m for m, (s, _) in enumerate(plan.merged) for _ in s], device=student_logits.device)
    t_owner = torch.tensor([m for m, (_, t) in enumerate(plan.merged) for _ in t], device=teacher_logits.device)
    lq_tok = losses.token_logprobs(student_logits[s_rows], student_tokens[s_rows], temperature)  # (n_s,)
    with torch.no_grad():
        lp_tok = losses.token_logprobs(teacher_logits[t_rows].float(), teacher_tokens[t_rows], temperature)
    n = len(plan.merged)
    log_q = torch.zeros(n, device=student_logits.device).index_add(0, s_owner, lq_tok)  # log Q per chunk
    log_p = torch.zeros(n, device=teacher_logits.device).index_add(0, t_owner, lp_tok.float()).to(log_q.device)
    q2 = torch.stack([log_q, _log1mexp(log_q)], -1)  # Bernoulli(Q) as log-probs
    p2 = torch.stack([log_p, _log1mexp(log_p)], -1)
    return losses.divergence(q2, p2, kind="jsd", beta=beta, reduction="sum")


def xtok_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    student_tokens: torch.Tensor,
    teacher_tokens: torch.Tensor,
    plan: Plan,
    vmap: alignment.VocabMap | None,
    settings: XTokSettings,
) -> torch.Tensor:
    """The KD term summed over the plan's chunks (divide by plan.n_chunks for the mean).

    student_logits (N_s, V_s) and teacher_logits (N_t, V_t) are flattened response logits, tokens (N_s,),
    (N_t,) the response tokens they predict.
    """
    s = settings
    if plan.n_chunks == 0:
        return student_logits.sum() * 0.0
    if s.loss == "uld":
        first_s, first_t = plan.first_s.to(student_logits.device), plan.first_t.to(teacher_logits.device)
        return losses.uld(student_logits[first_s], teacher_logits[first_t], temperature=s.temperature, reduction="sum")
    total = merged_terms(
        student_logits, teacher_logits, student_tokens, teacher_tokens, plan, beta=s.beta, temperature=s.temperature
    )
    if plan.merged and s.uld_weight > 0:
        firsts = torch.tensor([m[0][0] for m in plan.merged], device=student_logits.device)
        firstt = torch.tensor([m[1][0] for m in plan.merged], device=teacher_logits.device)
        total = total + s.uld_weight * losses.uld(
            student_logits[firsts], teacher_logits[firstt], temperature=s.temperature, reduction="sum"
        )
    for a in range(0, len(plan.exact_s), s.rows_per_chunk):  # bounded (rows, V_t) memory
        rows_s = plan.exact_s[a : a + s.rows_per_chunk].to(student_logits.device)
        rows_t = plan.exact_t[a : a + s.rows_per_chunk].to(teacher_logits.device)
        jsd, tails = exact_terms(
            student_logits[rows_s], teacher_logits[rows_t], vmap, beta=s.beta, temperature=s.temperature
        )
        total = total + jsd + s.uld_weight * tails
    return total


# --------------------------------------------------------------------------- the method


class XTokObjective(Objective):
    """Student and teacher see the same (prompt, target) texts, each through its own tokenizer."""

    name = NAME

    def __init__(
        self,
        student,
        teacher,
        student_tok,
        teacher_tok,
        config: TrainConfig,
        prompts,
        targets,
        settings: XTokSettings,
        teacher_prompts=None,
    ):
        super().__init__()
        self.student, self.teacher, self.s, self.config = student, teacher, settings, config
        self.device, _ = resolve(student, config)
        teacher.to(self.device).eval()
        self.s_pad, self.t_pad = S.pad_id(student_tok), S.pad_id(teacher_tok)
        self.vmap = alignment.vocab_map(teacher_tok, student_tok) if settings.loss == "hybrid" else None
        teacher_prompts = teacher_prompts or prompts
        self.student_data, self.teacher_data, self.alignments = [], [], []
        for p, tp, y in zip(prompts, teacher_prompts, targets):
            s_resp = alignment.encode_plain(student_tok, y)
            t_resp = alignment.encode_plain(teacher_tok, y)
            al = alignment.align_ids(teacher_tok, student_tok, t_resp, s_resp)
            eos = [student_tok.eos_token_id] if student_tok.eos_token_id is not None else []
            self.student_data.append(S.make_rollout(S.prompt_ids(student_tok, p), s_resp + eos, 10**9))
            self.teacher_data.append(S.make_rollout(S.prompt_ids(teacher_tok, tp), t_resp, 10**9))
            self.alignments.append(al)
        counts = [al.counts() for al in self.alignments]
        self.meta = {
            "n_examples": len(prompts),
            **vars(settings),
            "chunks": {k: sum(c[k] for c in counts) for k in ("exact", "merged")},
            "vocab_matched": self.vmap.n_matched if self.vmap is not None else None,
        }

    def lengths(self):
        return [len(r["prompt"]) + len(r["response"]) for r in self.student_data]

    def prepare(self, indices):
        return {
            "kd": sum(len(self.alignments[i].chunks) for i in indices),
            "ce": sum(len(self.student_data[i]["response"]) for i in indices),
        }

    def loss(self, indices, totals):
        sb = S.collate_rollouts([self.student_data[i] for i in indices], self.s_pad, self.device)
        tb = S.collate_rollouts([self.teacher_data[i] for i in indices], self.t_pad, self.device)
        s_logits = S.response_logits(self.student, sb)  # (B, R_s, V_s)
        t_logits = S.teacher_logits(self.teacher, tb)  # (B, R_t, V_t)
        plan = make_plan([self.alignments[i] for i in indices], s_logits.shape[1], t_logits.shape[1])
        kd = xtok_loss(
            s_logits.reshape(-1, s_logits.shape[-1]),
            t_logits.reshape(-1, t_logits.shape[-1]),
            sb["response"].reshape(-1),
            tb["response"].reshape(-1),
            plan,
            self.vmap,
            self.s,
        )
        kd = kd / max(totals["kd"], 1)
        labels = sb["response"].masked_fill(~sb["response_mask"], losses.IGNORE_INDEX)
        ce = losses.token_cross_entropy(s_logits.float(), labels, reduction="sum") / max(totals["ce"], 1)
        loss = self.s.ce_weight * ce + (1 - self.s.ce_weight) * kd
        return loss, {"kd": float(kd.detach()), "ce": float(ce.detach())}


def train(
    student,
    teacher,
    student_tokenizer,
    teacher_tokenizer,
    prompts: list[str],
    targets: list[str],
    *,
    teacher_prompts: list[str] | None = None,
    config: TrainConfig | None = None,
    **settings,
) -> History:
    """Cross-tokenizer KD of `teacher` into `student` on prompt -> target texts.

    teacher_prompts: the prompts as the teacher should see them (e.g. without a chat template for a
    base model); default: the same texts. settings: see ``XTokSettings``.
    Returns: History with "loss", "loss/kd" (mean per chunk), "loss/ce" (mean per student token);
    meta["chunks"] = exact and merged chunk counts over the data.
    """
    config, s = config or TrainConfig(), settings_of(XTokSettings, settings)
    student = prepare_model(student, config)
    return run_loop(
        student,
        config,
        XTokObjective(
            student, teacher, student_tokenizer, teacher_tokenizer, config, prompts, targets, s, teacher_prompts
        ),
    )
