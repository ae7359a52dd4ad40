"""Mode-seeking made visible: the maths behind notebook 00.

Three scenes, each small enough to compute exactly:

1. One Gaussian q = N(μ, σ²) fitted to a two-mode mixture p on a grid
   (numeric integration), by forward KL, reverse KL or JSD(β).
2. A next-token distribution p over V tokens with several modes, and a
   capacity-limited student whose logits are a polynomial of degree d in the
   token index (d = 2: a discretised Gaussian, unimodal).
3. Whole sequences: a teacher language model over a tiny vocabulary whose
   sequence distribution is enumerated exactly (K**T sequences), a student
   n-gram model of lower order; "void mass" and "modes covered" as numbers.

Divergence convention (docs/methods.md §1, as labkit.losses): for β in [0, 1],
M = β p + (1-β) q, JSD_β = β KL(p‖M) + (1-β) KL(q‖M); β = 0 is forward KL(p‖q) and
β = 1 is reverse KL(q‖p), taken as exact special cases.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import torch

from labkit.errors import LabkitError
from labkit.losses import divergence

KINDS = ("forward_kl", "reverse_kl", "jsd")


# --------------------------------------------------------------------------- helpers


def single_thread(fn):
    """Run fn with one torch thread: these problems are tiny, and on a busy machine thread
    hand-offs cost ~100x the arithmetic (measured: 100 ms vs 0.5 ms per step)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapper


# --------------------------------------------------------------------------- reference divergences


def _kl(a: torch.Tensor, log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """Σ a (log a - log b) over the last axis, with 0 log 0 = 0."""
    return torch.where(a > 0, a * (log_a - log_b), torch.zeros_like(a)).sum(-1)


def discrete_divergence(log_q: torch.Tensor, log_p: torch.Tensor, kind: str, beta: float = 0.5) -> torch.Tensor:
    """Reference divergence between categorical distributions given as log-probabilities (..., V).

    Args:
        log_q: student log-probabilities (normalised over the last axis).
        log_p: teacher log-probabilities.
        kind: forward_kl = KL(p‖q), reverse_kl = KL(q‖p), jsd = JSD_β (β=0 forward, β=1 reverse).
    Returns:
        (...) divergences, in the dtype of the inputs (use float64 for references).
    """
    p, q = log_p.exp(), log_q.exp()
    if kind == "forward_kl" or (kind == "jsd" and beta == 0.0):
        return _kl(p, log_p, log_q)
    if kind == "reverse_kl" or (kind == "jsd" and beta == 1.0):
        return _kl(q, log_q, log_p)
    if kind != "jsd":
        raise LabkitError(f"kind={kind!r}: expected one of {', '.join(KINDS)}")
    if not 0.0 <= beta <= 1.0:
        raise LabkitError(f"beta={beta!r}: expected a number in [0, 1]")
    log_m = torch.logaddexp(log_p + math.log(beta), log_q + math.log(1 - beta))
    return beta * _kl(p, log_p, log_m) + (1 - beta) * _kl(q, log_q, log_m)


def _loss_fn(use_losses: bool):
    """labkit.losses.divergence (the lab's implementation) or the float64 reference above."""
    if use_losses:
        return lambda log_q, log_p, kind, beta: divergence(log_q, log_p, kind=kind, beta=beta)
    return lambda log_q, log_p, kind, beta: discrete_divergence(
        torch.log_softmax(log_q, -1), torch.log_softmax(log_p, -1), kind, beta
    ).mean()


# --------------------------------------------------------------------------- scene 1: Gaussians


def gaussian_pdf(x: torch.Tensor, mu, sigma) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def mixture_pdf(x: torch.Tensor, means, sigmas, weights) -> torch.Tensor:
    """Σ_k w_k N(x; μ_k, σ_k²)."""
    return sum(w * gaussian_pdf(x, m, s) for m, s, w in zip(means, sigmas, weights))


def two_modes(separation: float = 4.0, weight: float = 0.7, sigma: float = 1.0):
    """(means, sigmas, weights) of the lab's mixture: modes at ±separation/2, the left one weighing `weight`."""
    if not 0.0 < weight < 1.0:
        raise LabkitError(f"weight={weight!r}: expected a number in (0, 1)")
    return (-separation / 2, separation / 2), (sigma, sigma), (weight, 1 - weight)


def gaussian_kl(mu_p, sigma_p, mu_q, sigma_q) -> float:
    """Closed form KL(N(μp, σp²) ‖ N(μq, σq²)) = log σq/σp + (σp² + (μp-μq)²)/(2σq²) - 1/2."""
    return math.log(sigma_q / sigma_p) + (sigma_p**2 + (mu_p - mu_q) ** 2) / (2 * sigma_q**2) - 0.5


def grid(lo: float = -15.0, hi: float = 15.0, n: int = 3001) -> torch.Tensor:
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def grid_log_probs(density: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A density on a uniform grid as a categorical distribution over grid cells (log-probabilities)."""
    dx = x[1] - x[0]
    return torch.log(density * dx + 1e-300) - torch.log((density * dx).sum())


def numeric_divergence(p_density, q_density, x, kind: str, beta: float = 0.5) -> float:
    """∫ divergence by the rectangle rule on the grid x (densities, not log-probabilities)."""
    return float(discrete_divergence(grid_log_probs(q_density, x), grid_log_probs(p_density, x), kind, beta))


@single_thread
def fit_gaussian(
    x: torch.Tensor, p_density: torch.Tensor, kind: str, beta: float = 0.5, steps: int = 60
) -> tuple[float, float, float]:
    """Fit N(μ, σ²) to p on the grid by minimising the divergence (LBFGS from several starts).

    Several starts matter for reverse KL, whose objective has one local minimum per mode.
    Returns:
        (μ, σ, divergence at the optimum).
    """
    log_p = grid_log_probs(p_density, x)
    probs = log_p.exp()
    mean = float((probs * x).sum())
    std = float(((probs * (x - mean) ** 2).sum()).sqrt())
    peaks = [float(x[i]) for i in range(1, len(x) - 1) if probs[i] >= probs[i - 1] and probs[i] > probs[i + 1]]
    best = None
    starts = [(mean, std)]  # forward KL: the moment-matched Gaussian is the answer
    if kind != "forward_kl":
        starts += [(mu0, s0) for mu0 in [mean] + peaks for s0 in (std, std / 3)]
    for mu0, s0 in starts:
        mu = torch.tensor(mu0, dtype=torch.float64, requires_grad=True)
        log_s = torch.tensor(math.log(max(s0, 1e-2)), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([mu, log_s], max_iter=steps, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = discrete_divergence(grid_log_probs(gaussian_pdf(x, mu, log_s.exp()), x), log_p, kind, beta)
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            loss = float(discrete_divergence(grid_log_probs(gaussian_pdf(x, mu, log_s.exp()), x), log_p, kind, beta))
        if math.isfinite(loss) and (best is None or loss < best[2]):
            best = (float(mu.detach()), float(log_s.detach().exp()), loss)
    return best


# --------------------------------------------------------------------------- scene 2: one next token


def multimodal_next_token(vocab: int = 40, peaks=(8, 20, 32), weights=(0.5, 0.3, 0.2), width: float = 1.5):
    """Teacher next-token log-probabilities (V,): a mixture of discretised bumps at `peaks`."""
    v = torch.arange(vocab, dtype=torch.float64)
    p = sum(w * torch.exp(-0.5 * ((v - c) / width) ** 2) for c, w in zip(peaks, weights))
    p = p / p.sum()
    return torch.log(p)


def polynomial_features(vocab: int, degree: int, scale: float = 4.0) -> torch.Tensor:
    """(V, degree) features [u, u², ..., u^d] of the centred token index in units of `scale` tokens."""
    u = (torch.arange(vocab, dtype=torch.float64) - (vocab - 1) / 2) / scale
    return torch.stack([u**k for k in range(1, degree + 1)], dim=-1)


def _bump_theta(vocab: int, degree: int, center: float, width: float, scale: float) -> torch.Tensor:
    """θ whose polynomial logits -(u-c)²/(2w²) make a bump at token `center` (width in tokens)."""
    c = (center - (vocab - 1) / 2) / scale
    w = width / scale
    theta = torch.zeros(degree, dtype=torch.float64)
    theta[0], theta[1] = c / w**2, -0.5 / w**2
    return theta


@single_thread
def fit_next_token(
    teacher_log_probs: torch.Tensor,
    kind: str,
    beta: float = 0.5,
    degree: int = 2,
    steps: int = 400,
    lr: float = 0.05,
    seed: int = 0,
    use_losses: bool = True,
    scale: float = 4.0,
):
    """Train a student with logits = features(V, d) @ θ(d) by the divergence (Adam), from several starts.

    Starts: θ = 0 (uniform) and a bump on each local mode of the teacher; the lowest final loss
    wins. (Reverse KL has one local minimum per mode; gradient descent from the uniform start
    alone can stay in a broad one.)

    Returns:
        (student log-probabilities (V,) float64, losses of the winning start).
    """
    if degree < 2:
        raise LabkitError(f"degree={degree!r}: expected an integer ≥ 2")
    vocab = teacher_log_probs.numel()
    feats = polynomial_features(vocab, degree, scale).float()  # (V, d)
    teacher = teacher_log_probs.float()[None]  # (1, V)
    loss_fn = _loss_fn(use_losses)
    starts = [torch.zeros(degree, dtype=torch.float64)]
    starts += [_bump_theta(vocab, degree, c, 2.0, scale) for c in local_modes(teacher_log_probs)]
    best = None
    for theta0 in starts:
        theta = theta0.float().clone().requires_grad_()
        opt = torch.optim.Adam([theta], lr=lr)
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_fn((feats @ theta)[None], teacher, kind, beta)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        if math.isfinite(losses[-1]) and (best is None or losses[-1] < best[1][-1]):
            best = (theta.detach(), losses)
    theta, losses = best
    return torch.log_softmax((feats @ theta).double(), -1), losses


# --------------------------------------------------------------------------- scene 3: sequences


def all_sequences(vocab: int, length: int) -> torch.Tensor:
    """(K**T, T) every sequence over the vocabulary, in lexicographic order."""
    return torch.tensor(list(itertools.product(range(vocab), repeat=length)), dtype=torch.long)


@dataclass
class SequenceTeacher:
    """A teacher LM over `vocab` tokens and sequences of `length`, with exactly known p(y).

    p(y) = Σ_m w_m Π_t [(1-η) 1(y_t = m_t) + η/(K-1) 1(y_t ≠ m_t)]: each mode is a template
    sequence copied with per-token noise η. Its next-token conditionals p(y_t | y_<t) follow
    from the enumeration (a full-context n-gram table), so it is an autoregressive LM.
    """

    vocab: int
    length: int
    modes: list[tuple[int, ...]]
    weights: list[float]
    noise: float = 0.05

    @property
    def sequences(self) -> torch.Tensor:
        return all_sequences(self.vocab, self.length)

    def log_probs(self) -> torch.Tensor:
        """(K**T,) float64 log p(y) for every sequence (sums to 1)."""
        seqs = self.sequences
        off = self.noise / (self.vocab - 1)
        p = torch.zeros(len(seqs), dtype=torch.float64)
        for mode, w in zip(self.modes, self.weights):
            hit = seqs == torch.tensor(mode)
            p += w * torch.where(hit, 1 - self.noise, off).prod(-1)
        return torch.log(p / p.sum())

    def mode_indices(self) -> list[int]:
        """Row index of each mode's template in `sequences`."""
        k, t = self.vocab, self.length
        return [sum(tok * k ** (t - 1 - i) for i, tok in enumerate(m)) for m in self.modes]

    def next_token_log_probs(self, prefix: tuple[int, ...]) -> torch.Tensor:
        """(K,) log p(y_t | prefix) by marginalising the exact sequence distribution."""
        seqs, p = self.sequences, self.log_probs().exp()
        t = len(prefix)
        keep = (
            (seqs[:, :t] == torch.tensor(prefix, dtype=torch.long)).all(-1)
            if t
            else torch.ones(len(seqs), dtype=torch.bool)
        )
        mass = torch.zeros(self.vocab, dtype=torch.float64).index_add_(0, seqs[keep, t], p[keep])
        return torch.log(mass / mass.sum())


def default_teacher(noise: float = 0.05) -> SequenceTeacher:
    """Three modes that share the middle 'b c b' and differ in first/last token:
    a student that forgets the first token cannot tell which last token belongs to it."""
    return SequenceTeacher(
        vocab=5,
        length=5,
        modes=[(0, 1, 2, 1, 0), (3, 1, 2, 1, 3), (4, 1, 2, 1, 4)],
        weights=[0.45, 0.35, 0.2],
        noise=noise,
    )


def random_teacher(seed: int, noise: float = 0.05, vocab: int = 5, length: int = 5) -> SequenceTeacher:
    """A teacher of the same kind with seeded modes and weights: three templates that share their middle
    tokens and end with their own first token (so a short-memory student cannot pair them), weights
    drawn from Dirichlet(2, 2, 2). Seed 0..n gives the teachers of notebook 00's claims."""
    g = torch.Generator().manual_seed(seed)
    firsts = torch.randperm(vocab, generator=g)[:3].tolist()
    middle = torch.randint(vocab, (length - 2,), generator=g).tolist()
    gamma = -torch.log(torch.rand(3, 2, generator=g)).sum(-1)  # Gamma(2, 1) draws -> Dirichlet(2, 2, 2)
    weights = sorted((gamma / gamma.sum()).tolist(), reverse=True)
    modes = [tuple([f] + middle + [f]) for f in firsts]
    return SequenceTeacher(vocab=vocab, length=length, modes=modes, weights=weights, noise=noise)


class NgramStudent(torch.nn.Module):
    """Student LM q(y_t | previous `order` tokens, position t): a logit table (T, K**order, K).

    order 0 = independent positions (a unigram per position); order 1 = Markov; fewer
    parameters than the teacher's full-context table whenever order < T - 1.
    """

    def __init__(self, vocab: int, length: int, order: int = 1, seed: int = 0):
        super().__init__()
        if not 0 <= order < length:
            raise LabkitError(f"order={order!r}: expected 0 ≤ order < length={length}")
        g = torch.Generator().manual_seed(seed)
        self.vocab, self.length, self.order = vocab, length, order
        self.logits = torch.nn.Parameter(0.5 * torch.randn(length, vocab**order, vocab, generator=g))

    def _context_ids(self, seqs: torch.Tensor) -> torch.Tensor:
        """(N, T) index of the previous `order` tokens (missing ones before t=0 count as token 0)."""
        n, t = seqs.shape
        padded = torch.cat([torch.zeros(n, self.order, dtype=torch.long), seqs], dim=1)
        ids = torch.zeros(n, t, dtype=torch.long)
        for j in range(self.order):  # tokens y_{t-order} .. y_{t-1}
            ids = ids * self.vocab + padded[:, j : j + t]
        return ids

    def counts(self, seqs: torch.Tensor) -> torch.Tensor:
        """(N, T·K**order·K) how often each table entry (t, context, token) is used by each sequence."""
        ctx = self._context_ids(seqs)  # (N, T)
        pos = torch.arange(seqs.shape[1]).expand_as(seqs)  # (N, T)
        flat = (pos * self.vocab**self.order + ctx) * self.vocab + seqs  # (N, T)
        out = torch.zeros(len(seqs), self.logits.numel())
        return out.scatter_add_(1, flat, torch.ones_like(flat, dtype=out.dtype))

    def sequence_log_probs(self, seqs: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
        """(N,) log q(y) = Σ_t log q(y_t | context), as counts @ flattened log-softmax table."""
        counts = self.counts(seqs) if counts is None else counts
        return counts @ torch.log_softmax(self.logits, -1).flatten()

    def n_parameters(self) -> int:
        return self.logits.numel()


@single_thread
def train_sequence_student(
    teacher: SequenceTeacher,
    kind: str,
    beta: float = 0.5,
    order: int = 1,
    steps: int = 400,
    lr: float = 0.1,
    seed: int = 0,
    use_losses: bool = True,
):
    """Fit an n-gram student to the teacher by a sequence-level divergence, computed exactly.

    The K**T sequences play the role of a vocabulary: log q(Y) and log p(Y) are the "logits"
    of two categorical distributions, so labkit.losses.divergence gives the exact sequence-level
    forward KL, reverse KL or JSD_β, and autograd gives its exact gradient (no sampling).

    Returns:
        (student, student sequence log-probabilities (K**T,) float64, list of losses).
    """
    seqs, log_p = teacher.sequences, teacher.log_probs().float()[None]
    student = NgramStudent(teacher.vocab, teacher.length, order, seed)
    opt = torch.optim.Adam(student.parameters(), lr=lr)
    loss_fn = _loss_fn(use_losses)
    counts = student.counts(seqs)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(student.sequence_log_probs(seqs, counts)[None], log_p, kind, beta)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        log_q = student.sequence_log_probs(seqs).double()
    return student, log_q, losses


# --------------------------------------------------------------------------- metrics


def void_mass(log_q: torch.Tensor, log_p: torch.Tensor, eps: float = 1e-3) -> float:
    """Student probability on outcomes where the teacher has almost none (p < eps)."""
    return float(log_q.exp()[log_p.exp() < eps].sum())


def modes_covered(log_q: torch.Tensor, log_p: torch.Tensor, mode_indices, ratio: float = 0.1) -> int:
    """How many teacher modes get student probability ≥ ratio × their teacher probability."""
    q, p = log_q.exp(), log_p.exp()
    return int(sum(bool(q[i] >= ratio * p[i]) for i in mode_indices))


def local_modes(log_p: torch.Tensor, min_prob: float = 0.0) -> list[int]:
    """Indices of the local maxima of a 1-D distribution (next-token scene) above min_prob."""
    p = log_p.exp()
    n = len(p)
    return [i for i in range(n) if p[i] > min_prob and (i == 0 or p[i] >= p[i - 1]) and (i == n - 1 or p[i] > p[i + 1])]


def summary(log_q: torch.Tensor, log_p: torch.Tensor, mode_indices, eps: float = 1e-3, ratio: float = 0.1) -> dict:
    """The numbers notebook 00 reports for one student."""
    return {
        "forward_kl": float(discrete_divergence(log_q, log_p, "forward_kl")),
        "reverse_kl": float(discrete_divergence(log_q, log_p, "reverse_kl")),
        "void_mass": void_mass(log_q, log_p, eps),
        "modes_covered": modes_covered(log_q, log_p, mode_indices, ratio),
        "n_modes": len(mode_indices),
    }


def sequence_labels(vocab: int, length: int, alphabet: str = "abcdefghij") -> list[str]:
    """'abcba'-style names of all K**T sequences, in the order of all_sequences."""
    return ["".join(alphabet[t] for t in row) for row in all_sequences(vocab, length).tolist()]


def moment_matched(means, sigmas, weights) -> tuple[float, float]:
    """(μ, σ) of the Gaussian with the mixture's mean and variance: the forward-KL optimum."""
    mu = sum(w * m for m, w in zip(means, weights))
    var = sum(w * (s**2 + m**2) for m, s, w in zip(means, sigmas, weights)) - mu**2
    return mu, math.sqrt(var)
