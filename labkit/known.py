"""Known teachers: a prompt-conditional teacher LM whose sequence distribution is defined exactly.

    import labkit as lk
    task = lk.known.arithmetic_task(32, n_modes=3, decay=0.5, steps=2, seed=0)    # {prompt: [(w, response)]}
    teacher = lk.known.KnownTeacher.from_templates(tok, task, eta=0.05)          # an nn.Module, drop-in
    lk.methods.minillm.train(student, teacher, tok, list(task), config=cfg)
    lk.known.void_mass(teacher, prompts, responses)                              # (share, standard error)

The teacher. For each known prompt x it holds K templates m_1..m_K (response token ids ending in
eos) with weights w_k (Σ w_k = 1) and one noise level η ∈ (0, 1]. Template k emits, at response
position t (1-based),

    p_k(v | t) = (1 - η) 1[v = m_k,t] + η / V                      (V: the whole vocabulary)

i.e. its own token with probability 1 - η, else a uniform token (which may be its own token again).
Past its end (t > len(m_k)) a template's token is eos: after the end it stops with probability
1 - η + η/V. A response ends at its first eos; a template's eos replaced by noise lets it run on.
The sequence distribution is the mixture

    p(y | x) = Σ_k w_k Π_t p_k(y_t | t),

summing to 1 over all finite responses. Its next-token conditional for ANY prefix (the student's own
included) is exact without enumeration, through the posterior over templates given the prefix:

    π_k(y_<t) = w_k Π_{s<t} p_k(y_s | s) / Σ_j w_j Π_{s<t} p_j(y_s | s)
    p(v | y_<t, x) = Σ_k π_k(y_<t) p_k(v | t) = (1 - η) Σ_k π_k(y_<t) 1[v = m_k,t] + η / V.

Conventions of the module (``KnownTeacher.forward``):
- logits are these log-probabilities (float32 by default; computed in float64), for every position;
  log_softmax leaves them unchanged. Positions inside the prompt and padding get uniform logits -log V.
- a row's real tokens are those where attention_mask is 1 (left and right padding are read from the
  mask, never from the pad id, which may equal eos); the prompt is the known prompt its real tokens
  start with (known prompts are prefix-free, checked at construction); no match is a LabkitError.
- position_ids are ignored (the teacher counts response positions itself); a "KV cache" is the ids
  seen so far, so the KV-cached decoding of labkit.sequences works unchanged (it recomputes).
- a response cut before its eos (max_new_tokens) is scored as a prefix: log p(y_1..y_n) of the
  expression above. KL estimates then compare the two distributions of the response cut at n tokens.

Measurements (all exact given the samples; Monte Carlo ones return (mean, standard error)):
- ``sequence_logprob(s)``: log p(y | x).
- ``void_threshold``/``classify``/``void_mass``: a response is in the void when its teacher log-prob is below
  that of the least likely template path with at most ``max_noise`` substituted tokens,
  τ(x) = min_k [log w_k + (len(m_k) - m) log(1 - η + η/V) + m log(η/V)], m = max_noise.
  Every template with ≤ m substitutions lies on or above τ (p(y) ≥ w_k Π_t p_k(y_t)). The teacher's own
  samples fall in the void too, more often as η·len(m_k) grows: measure it (``void_mass`` of ``sample(teacher, ...)``)
  beside every student's.
- ``template_of``/``modes_covered``: a response outside the void belongs to the template with the
  highest posterior π_k(y) (all of y seen); modes covered = distinct templates among a prompt's samples.
- ``kl_exact`` (enumeration, tiny vocabularies) and ``kl_monte_carlo``: forward KL(p‖q) and reverse
  KL(q‖p) between teacher and student sequence distributions, averaged over prompts.
- ``exposure_bias``: the per-token divergence between teacher and student (labkit.losses.divergence,
  kind=...) on the student's own prefixes vs on the teacher's samples; the gap is the train/inference
  mismatch GKD's paper names.
"""

from __future__ import annotations

import itertools
import math
import random
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from labkit import losses
from labkit import sequences as S
from labkit.errors import LabkitError


class KnownOutput(dict):
    """What a transformers causal LM returns, as far as labkit.sequences reads it: .logits, .past_key_values."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e


# --------------------------------------------------------------------------- the exact conditionals


def template_posterior(
    tmpl: torch.Tensor, log_w: torch.Tensor, responses: torch.Tensor, eta: float, vocab: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The posterior over templates after every response prefix.

    Args:
        tmpl: (B, K, L) template token ids of each row's prompt, eos past each template's end.
        log_w: (B, K) float64 log weights (-inf for a missing template).
        responses: (B, n) response ids (positions past a row's length: any id, their outputs unused).
    Returns:
        tokens (B, K, n+1): m_k,t, the token template k emits at response position t (column t-1);
        log_prefix (B, n+1) float64: log p(y_1..y_{t-1}) (column 0 = 0);
        log_post (B, K, n+1) float64: log π_k(y_<t).
    """
    B, K, L = tmpl.shape
    n = responses.shape[1]
    if L < n + 1:  # past the end: the template's token is eos
        tmpl = torch.cat([tmpl, tmpl[:, :, -1:].expand(B, K, n + 1 - L)], 2)
    tokens = tmpl[:, :, : n + 1]  # (B, K, n+1)
    on, off = math.log(1 - eta + eta / vocab), math.log(eta / vocab)
    hit = tokens[:, :, :n] == responses[:, None, :]  # (B, K, n)
    ll = torch.where(hit, hit.new_full((), on, dtype=torch.float64), off)  # (B, K, n) log p_k(y_t | t)
    cum = torch.cat([ll.new_zeros(B, K, 1), ll.cumsum(-1)], -1)  # (B, K, n+1): log Π_{s<t} p_k(y_s)
    joint = log_w[:, :, None] + cum  # (B, K, n+1)
    log_prefix = joint.logsumexp(1)  # (B, n+1)
    return tokens, log_prefix, joint - log_prefix[:, None]


def mixture_next(tokens: torch.Tensor, log_post: torch.Tensor, eta: float, vocab: int) -> torch.Tensor:
    """log p(v | y_<t) = log[(1 - η) Σ_k π_k 1[v = m_k,t] + η/V]: tokens (M, K), log_post (M, K) -> (M, V) float64."""
    probs = torch.full((tokens.shape[0], vocab), eta / vocab, dtype=torch.float64, device=tokens.device)
    return probs.scatter_add_(-1, tokens, (1 - eta) * log_post.exp()).log()


# --------------------------------------------------------------------------- the teacher


class KnownTeacher(torch.nn.Module):
    """A mixture of noisy templates per prompt (see the module docstring), usable wherever labkit expects a
    causal LM teacher: S.teacher_logits, S.response_logits, S.sample_responses (as the model or as the
    teacher of teacher-mixed sampling), S.check_vocab, methods.minillm / gkd / wordkd / seqkd.

    Args:
        prompts: token ids of each known prompt (prefix-free: no prompt starts with another).
        templates: per prompt, K_x response id lists, each ending with eos_id.
        weights: per prompt, K_x positive weights (normalised here).
        eta: per-token noise η in (0, 1].
        vocab_size: V (the student's vocabulary, e.g. len(tokenizer)).
        eos_id: the id that ends a response.
        texts: optional prompt texts, for messages and ``prompt_index``.
    """

    def __init__(
        self,
        prompts: list[list[int]],
        templates: list[list[list[int]]],
        weights: list[list[float]],
        *,
        eta: float,
        vocab_size: int,
        eos_id: int,
        texts: list[str] | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        if not 0.0 < float(eta) <= 1.0:
            raise LabkitError(
                f"KnownTeacher: eta={eta!r}; expected 0 < eta <= 1 (eta = 0 has no posterior off the templates)"
            )
        if not (len(prompts) == len(templates) == len(weights)) or not prompts:
            raise LabkitError(
                f"KnownTeacher: {len(prompts)} prompts, {len(templates)} template lists, {len(weights)} "
                "weight lists; expected one of each per prompt, at least one prompt"
            )
        self.eta, self.vocab, self.eos_id, self.dtype = float(eta), int(vocab_size), int(eos_id), dtype
        self.prompts = [list(map(int, p)) for p in prompts]
        self.templates = [[list(map(int, m)) for m in ms] for ms in templates]
        self.texts = list(texts) if texts is not None else None
        self.weights = []
        for i, (p, ms, ws) in enumerate(zip(self.prompts, self.templates, weights)):
            where = f"prompt {i} ({self.texts[i]!r})" if self.texts else f"prompt {i}"
            if not ms or len(ms) != len(ws) or any(w <= 0 for w in ws):
                raise LabkitError(
                    f"KnownTeacher: {where} has {len(ms)} templates and weights {list(ws)}; expected "
                    "at least one template and one positive weight per template"
                )
            ids = [t for m in ms for t in m] + p
            if any(m[-1:] != [self.eos_id] for m in ms) or any(not 0 <= t < self.vocab for t in ids):
                raise LabkitError(
                    f"KnownTeacher: {where}: every template must end with eos ({self.eos_id}) and every "
                    f"id lie in [0, {self.vocab})"
                )
            self.weights.append([float(w) / sum(ws) for w in ws])
        self.index = {tuple(p): i for i, p in enumerate(self.prompts)}
        if len(self.index) != len(self.prompts):
            raise LabkitError("KnownTeacher: two known prompts have the same ids")
        for p in self.prompts:
            for q in self.prompts:
                if len(q) < len(p) and tuple(p[: len(q)]) == tuple(q):
                    raise LabkitError(
                        f"KnownTeacher: a prompt's ids start with another prompt's ({q}); known prompts "
                        "must be prefix-free so that a row names its prompt"
                    )
        self.prompt_lengths = sorted({len(p) for p in self.prompts})
        K = max(len(ms) for ms in self.templates)
        L = max(len(m) for ms in self.templates for m in ms)
        tmpl = torch.full((len(prompts), K, L), self.eos_id, dtype=torch.long)  # eos past each end
        log_w = torch.full((len(prompts), K), float("-inf"), dtype=torch.float64)
        for i, (ms, ws) in enumerate(zip(self.templates, self.weights)):
            for k, (m, w) in enumerate(zip(ms, ws)):
                tmpl[i, k, : len(m)] = torch.tensor(m)
                log_w[i, k] = math.log(w)
        self.register_buffer("tmpl", tmpl, persistent=False)  # (N, K, L)
        self.register_buffer("log_w", log_w, persistent=False)  # (N, K) float64
        self.anchor = torch.nn.Parameter(torch.zeros(0), requires_grad=False)  # .device for labkit's model_device
        self.config = SimpleNamespace(
            vocab_size=self.vocab, eos_token_id=self.eos_id, is_encoder_decoder=False, model_type="known_teacher"
        )

    @classmethod
    def from_templates(
        cls,
        tokenizer,
        task: dict[str, list[tuple[float, str]]],
        *,
        eta: float = 0.05,
        vocab_size: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> KnownTeacher:
        """A teacher for ``task`` = {prompt text: [(weight, response text), ...]}, on ``tokenizer``'s ids:
        prompts as labkit.sequences.prompt_ids, templates as target_ids (response + eos), exactly as the
        methods encode prompts and targets. vocab_size defaults to len(tokenizer)."""
        if tokenizer.eos_token_id is None:
            raise LabkitError("KnownTeacher.from_templates: the tokenizer has no eos token; templates end with one")
        texts = list(task)
        return cls(
            [S.prompt_ids(tokenizer, x) for x in texts],
            [[S.target_ids(tokenizer, r) for _, r in task[x]] for x in texts],
            [[w for w, _ in task[x]] for x in texts],
            eta=eta,
            vocab_size=vocab_size if vocab_size is not None else len(tokenizer),
            eos_id=tokenizer.eos_token_id,
            texts=texts,
            dtype=dtype,
        )

    # what labkit.sequences reads of a model
    def get_output_embeddings(self):
        return None

    def prompt_index(self, prompt) -> int:
        """Index of a known prompt given as ids or (with texts) as text; LabkitError when unknown."""
        if isinstance(prompt, str):
            if self.texts is None or prompt not in self.texts:
                raise LabkitError(f"KnownTeacher: unknown prompt text {prompt!r}")
            return self.texts.index(prompt)
        i = self.index.get(tuple(int(t) for t in prompt))
        if i is None:
            raise LabkitError(
                f"KnownTeacher: unknown prompt ids {list(prompt)[:12]}...; a known teacher scores only "
                f"the {len(self.prompts)} prompts it was built with"
            )
        return i

    def _match(self, real: list[int], row: int) -> int:
        for n in self.prompt_lengths:
            i = self.index.get(tuple(real[:n])) if len(real) >= n else None
            if i is not None:
                return i
        raise LabkitError(
            f"KnownTeacher: row {row} does not start with any of the {len(self.prompts)} known prompts "
            f"(its first real ids: {real[:12]}). A known teacher scores only the prompts it was built "
            "with; "
            "padding is read from attention_mask, and a prompt cut by max_len no longer matches."
        )

    def log_probs(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, keep: int | None = None
    ) -> torch.Tensor:
        """(B, keep, V) float64 log p(next token | the real tokens up to and including each of the last ``keep``
        positions (default: all T)); -log V inside prompts and on padding."""
        B, T = input_ids.shape
        keep = T if keep is None else min(keep, T)
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        rows, where, lengths = [], [], []  # per row: prompt index, positions of y_<1 .. y_<n+1, n
        for b in range(B):
            pos = mask[b].nonzero()[:, 0]  # real positions, in order
            real = input_ids[b, pos].tolist()
            i = self._match(real, b) if real else None
            n_prompt = len(self.prompts[i]) if real else len(real) + 1
            rows.append(i or 0), where.append(pos[n_prompt - 1 :]), lengths.append(len(real) - n_prompt)
        n = max(max(lengths), 0)
        resp = torch.full((B, n), self.eos_id, dtype=torch.long, device=input_ids.device)  # (B, n)
        for b in range(B):
            resp[b, : max(lengths[b], 0)] = input_ids[b, where[b][1:]]
        idx = torch.tensor(rows, device=input_ids.device)
        tokens, _, log_post = template_posterior(self.tmpl[idx], self.log_w[idx], resp, self.eta, self.vocab)
        # the kept (row, column) cells that follow a response prefix, and which prefix: t = column's rank in where
        cells = [
            (b, int(c) - (T - keep), t) for b in range(B) for t, c in enumerate(where[b].tolist()) if c >= T - keep
        ]
        out = torch.full((B, keep, self.vocab), -math.log(self.vocab), dtype=torch.float64, device=input_ids.device)
        if cells:
            b, c, t = (torch.tensor(x, device=input_ids.device) for x in zip(*cells))  # (M,) each
            out[b, c] = mixture_next(tokens[b, :, t], log_post[b, :, t], self.eta, self.vocab)  # (M, V)
        return out

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids=None,
        past_key_values: torch.Tensor | None = None,
        use_cache: bool = False,
        logits_to_keep: int = 0,
        **unused,
    ) -> KnownOutput:
        """logits (B, T_new, V) = exact next-token log-probs; with past_key_values (the ids seen so far, what a
        previous call returned with use_cache=True) only the new positions, as a KV-cached LM does."""
        new = input_ids.shape[1]
        ids = input_ids if past_key_values is None else torch.cat([past_key_values, input_ids], 1)
        if attention_mask is not None and attention_mask.shape != ids.shape:
            raise LabkitError(
                f"KnownTeacher: attention_mask {tuple(attention_mask.shape)} does not cover the ids seen "
                f"so far {tuple(ids.shape)}"
            )
        logits = self.log_probs(ids, attention_mask, keep=min(new, logits_to_keep) if logits_to_keep else new)
        return KnownOutput(logits=logits.to(self.dtype), past_key_values=ids if use_cache else None)

    # exact sequence quantities, on token ids
    def prefix_logprobs(self, prompt: list[int], response: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(y_1..y_n | x) float64 scalar, log π (K,) of the template posterior after all of y)."""
        i = self.prompt_index(prompt)
        resp = torch.tensor([list(response)], dtype=torch.long, device=self.tmpl.device).reshape(1, -1)
        _, log_prefix, log_post = template_posterior(
            self.tmpl[i : i + 1], self.log_w[i : i + 1], resp, self.eta, self.vocab
        )
        return log_prefix[0, -1], log_post[0, : len(self.templates[i]), -1]


# --------------------------------------------------------------------------- a synthetic task

_STYLES = [  # each: steps [(x, y, x + y), ...] -> response text; distinct wordings, one correct answer
    lambda st: " " + ", ".join(f"{x} plus {y} is {z}" for x, y, z in st) + ".",
    lambda st: " " + " ".join(f"{x}+{y}={z}" for x, y, z in st),
    lambda st: f" From {st[0][0]}, add " + ", then ".join(f"{y} to get {z}" for _, y, z in st) + ".",
    lambda st: " The running sum is " + ", then ".join(str(z) for _, _, z in st) + ".",
    lambda st: f" {st[-1][2]}, because " + " and ".join(f"{x} and {y} make {z}" for x, y, z in st) + ".",
    lambda st: " Counting up: " + "; ".join(f"{x} to {z}" for x, _, z in st) + ".",
]


def arithmetic_task(
    n_prompts: int,
    *,
    n_modes: int = 3,
    weights: list[float] | None = None,
    decay: float = 0.5,
    steps: int = 1,
    max_operand: int = 9,
    seed: int = 0,
) -> dict[str, list[tuple[float, str]]]:
    """{prompt: [(weight, response), ...]}: sums of steps + 1 operands, each with n_modes differently worded
    correct solutions (styles in a fixed order, so template k is the same style for every prompt).

    Args:
        n_modes: templates per prompt, 1..6.
        weights: the modes' weights (normalised); default decay**k (decay = 1: equal weights).
        steps: additions per prompt: the response length grows with it.
    """
    if not 1 <= n_modes <= len(_STYLES):
        raise LabkitError(f"arithmetic_task: n_modes={n_modes}; expected 1..{len(_STYLES)}")
    if steps < 1 or max_operand < 1 or n_prompts < 1:
        raise LabkitError(
            f"arithmetic_task: n_prompts={n_prompts}, steps={steps}, max_operand={max_operand}; expected each >= 1"
        )
    if (max_operand + 1) ** (steps + 1) < n_prompts:
        raise LabkitError(
            f"arithmetic_task: only {(max_operand + 1) ** (steps + 1)} distinct prompts with "
            f"steps={steps}, max_operand={max_operand}; asked for {n_prompts}"
        )
    w = list(weights) if weights is not None else [decay**k for k in range(n_modes)]
    if len(w) != n_modes or any(x <= 0 for x in w):
        raise LabkitError(f"arithmetic_task: weights={w}; expected {n_modes} positive numbers")
    w = [x / sum(w) for x in w]
    rng, task = random.Random(seed), {}
    while len(task) < n_prompts:
        a = [rng.randint(0, max_operand) for _ in range(steps + 1)]
        sums = list(itertools.accumulate(a))
        st = list(zip(sums[:-1], a[1:], sums[1:]))  # (x, y, x + y) per step
        prompt = f"Q: {' + '.join(map(str, a))} = ?\nA:"
        task.setdefault(prompt, [(wk, style(st)) for wk, style in zip(w, _STYLES[:n_modes])])
    return task


# --------------------------------------------------------------------------- measurements


def sequence_logprobs(teacher: KnownTeacher, prompts: list[list[int]], responses: list[list[int]]) -> torch.Tensor:
    """(N,) float64 exact log p(y_i | x_i) (a response without eos: its prefix probability)."""
    return torch.stack([teacher.prefix_logprobs(p, r)[0] for p, r in zip(prompts, responses)]).cpu()


def sequence_logprob(teacher: KnownTeacher, prompt: list[int], response: list[int]) -> float:
    """Exact log p(y | x) of one response (token ids)."""
    return float(teacher.prefix_logprobs(prompt, response)[0])


def void_threshold(teacher: KnownTeacher, prompt: list[int], max_noise: int = 2) -> float:
    """τ(x) = min_k [log w_k + (len(m_k) - m) log(1 - η + η/V) + m log(η/V)], m = max_noise: the teacher
    log-prob of the least likely path through a template with at most m substituted tokens."""
    i, eta, V = teacher.prompt_index(prompt), teacher.eta, teacher.vocab
    on, off = math.log(1 - eta + eta / V), math.log(eta / V)
    return min(
        math.log(w) + (len(m) - min(max_noise, len(m))) * on + min(max_noise, len(m)) * off
        for w, m in zip(teacher.weights[i], teacher.templates[i])
    )


def classify(teacher: KnownTeacher, prompts: list[list[int]], responses: list[list[int]], max_noise: int = 2) -> dict:
    """Per response: "logp" (N,) float64, "void" (N,) bool (logp < τ(x)), "template" list[int | None]
    (highest posterior template, None in the void), "prompt" list[int] (known prompt index)."""
    logp, void, template, index = [], [], [], []
    for p, r in zip(prompts, responses):
        lp, log_post = teacher.prefix_logprobs(p, r)
        is_void = float(lp) < void_threshold(teacher, p, max_noise)
        logp.append(float(lp)), void.append(is_void), index.append(teacher.prompt_index(p))
        template.append(None if is_void else int(log_post.argmax()))
    return {
        "logp": torch.tensor(logp, dtype=torch.float64),
        "void": torch.tensor(void, dtype=torch.bool),
        "template": template,
        "prompt": index,
    }


def template_of(teacher: KnownTeacher, prompt: list[int], response: list[int], max_noise: int = 2) -> int | None:
    """The template a response follows (highest posterior), or None when it lies in the void."""
    return classify(teacher, [prompt], [response], max_noise)["template"][0]


def mean_se(x: torch.Tensor) -> tuple[float, float]:
    """(mean, standard error of the mean) of a 1-D sample."""
    x = x.double().flatten()
    return float(x.mean()), float(x.std() / math.sqrt(len(x))) if len(x) > 1 else float("nan")


def void_mass(
    teacher: KnownTeacher, prompts: list[list[int]], responses: list[list[int]], max_noise: int = 2
) -> tuple[float, float]:
    """(share of the responses in the void, its standard error): see ``void_threshold``."""
    return mean_se(classify(teacher, prompts, responses, max_noise)["void"].double())


def modes_covered(
    teacher: KnownTeacher, prompts: list[list[int]], responses: list[list[int]], max_noise: int = 2
) -> dict:
    """Which templates each prompt's responses follow: "per_prompt" {prompt index: sorted template ids},
    "mean" (mean count over the prompts sampled), "share" (mean count / K_x), "counts" {template: n samples}."""
    c = classify(teacher, prompts, responses, max_noise)
    seen: dict[int, set] = {}
    counts: dict[int | None, int] = {}
    for i, k in zip(c["prompt"], c["template"]):
        seen.setdefault(i, set())
        if k is not None:
            seen[i].add(k)
        counts[k] = counts.get(k, 0) + 1
    per = {i: sorted(s) for i, s in seen.items()}
    return {
        "per_prompt": per,
        "mean": sum(map(len, per.values())) / len(per),
        "share": sum(len(s) / len(teacher.templates[i]) for i, s in per.items()) / len(per),
        "counts": counts,
    }


@torch.no_grad()
def model_logprobs(
    model, prompts: list[list[int]], responses: list[list[int]], *, pad: int = 0, batch_size: int = 64
) -> torch.Tensor:
    """(N,) float64 log q(y_i | x_i) = Σ_t log q(y_t | y_<t, x) of any causal LM (a KnownTeacher included)."""
    out, device = [], S.model_device(model)
    was = model.training
    model.eval()
    try:
        for s in range(0, len(prompts), batch_size):
            b = S.collate_rollouts(
                [
                    {"prompt": p, "response": r}
                    for p, r in zip(prompts[s : s + batch_size], responses[s : s + batch_size])
                ],
                pad,
                device,
            )
            lp = F.log_softmax(S.response_logits(model, b).double(), -1)  # (B, R, V)
            tok = lp.gather(-1, b["response"][..., None]).squeeze(-1)  # (B, R)
            out.append((tok * b["response_mask"]).sum(-1).cpu())
    finally:
        model.train(was)
    return torch.cat(out)


def sample(
    model,
    prompts: list[list[int]],
    n: int,
    *,
    max_new_tokens: int,
    eos_id: int,
    pad: int = 0,
    seed: int = 0,
    batch_size: int = 256,
) -> tuple[list[list[int]], list[list[int]]]:
    """(prompts, responses): n samples per prompt (prompt-major) from ``model`` at temperature 1."""
    ps = [p for p in prompts for _ in range(n)]
    g = torch.Generator(device=S.model_device(model)).manual_seed(seed)
    return ps, S.sample_responses(
        model, ps, max_new_tokens=max_new_tokens, eos_id=eos_id, pad=pad, generator=g, batch_size=batch_size
    )


def kl_monte_carlo(
    teacher: KnownTeacher,
    student,
    prompts: list[list[int]],
    *,
    direction: str = "reverse",
    n: int = 64,
    max_new_tokens: int = 32,
    seed: int = 0,
    pad: int = 0,
) -> tuple[float, float]:
    """(KL, standard error) by Monte Carlo, mean over prompts: "forward" KL(p‖q) = E_{y~p}[log p(y) - log q(y)],
    "reverse" KL(q‖p) = E_{y~q}[log q(y) - log p(y)], with n samples per prompt cut at max_new_tokens."""
    if direction not in ("forward", "reverse"):
        raise LabkitError(f"kl_monte_carlo: direction={direction!r}; expected 'forward' or 'reverse'")
    source = teacher if direction == "forward" else student
    ps, ys = sample(source, prompts, n, max_new_tokens=max_new_tokens, eos_id=teacher.eos_id, pad=pad, seed=seed)
    lp, lq = sequence_logprobs(teacher, ps, ys), model_logprobs(student, ps, ys, pad=pad)
    return mean_se(lp - lq if direction == "forward" else lq - lp)


def enumerate_responses(vocab: int, eos_id: int, max_len: int, limit: int = 200_000) -> list[list[int]]:
    """Every response of at most max_len tokens that ends at its first eos, and every eos-free one of exactly
    max_len tokens: a partition of all continuations, so any LM's probabilities sum to 1 over it."""
    others = [v for v in range(vocab) if v != eos_id]
    count = sum(len(others) ** k for k in range(max_len)) + len(others) ** max_len
    if count > limit:
        raise LabkitError(
            f"enumerate_responses: {count} responses (V={vocab}, max_len={max_len}) exceed "
            f"limit={limit}; use kl_monte_carlo"
        )
    out = [list(y) + [eos_id] for k in range(max_len) for y in itertools.product(others, repeat=k)]
    return out + [list(y) for y in itertools.product(others, repeat=max_len)]


def kl_exact(
    teacher: KnownTeacher,
    student,
    prompts: list[list[int]],
    *,
    direction: str = "reverse",
    max_len: int = 4,
    pad: int = 0,
) -> float:
    """KL by enumerating every response cut at max_len tokens (``enumerate_responses``), mean over prompts."""
    if direction not in ("forward", "reverse"):
        raise LabkitError(f"kl_exact: direction={direction!r}; expected 'forward' or 'reverse'")
    ys = enumerate_responses(teacher.vocab, teacher.eos_id, max_len)
    total = 0.0
    for p in prompts:
        lp, lq = (
            sequence_logprobs(teacher, [p] * len(ys), ys),
            model_logprobs(student, [p] * len(ys), ys, pad=pad, batch_size=512),
        )
        total += float((lp.exp() * (lp - lq)).sum() if direction == "forward" else (lq.exp() * (lq - lp)).sum())
    return total / len(prompts)


def _token_divergence(
    teacher: KnownTeacher, student, prompts, responses, kind: str, pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per response: (sum over its tokens of the per-token divergence, number of tokens)."""
    sums, counts = [], []
    with torch.no_grad():
        for s in range(0, len(prompts), 64):
            b = S.collate_rollouts(
                [{"prompt": p, "response": r} for p, r in zip(prompts[s : s + 64], responses[s : s + 64])],
                pad,
                S.model_device(student),
            )
            d = losses.divergence(
                S.response_logits(student, b).float(),
                S.teacher_logits(teacher, b).to(S.model_device(student)),
                kind=kind,
                mask=b["response_mask"],
                reduction="none",
            )  # (B, R)
            sums.append(d.double().sum(-1).cpu()), counts.append(b["response_mask"].sum(-1).double().cpu())
    return torch.cat(sums), torch.cat(counts)


def _ratio_se(sums: torch.Tensor, counts: torch.Tensor) -> tuple[float, float]:
    """Pooled per-token mean Σ s_i / Σ n_i and its standard error with responses as the independent units."""
    r = float(sums.sum() / counts.sum())
    N = len(sums)
    if N < 2:
        return r, float("nan")
    resid = sums - r * counts
    return r, float(resid.pow(2).sum().sqrt() / counts.sum() * math.sqrt(N / (N - 1)))


def exposure_bias(
    teacher: KnownTeacher,
    student,
    prompts: list[list[int]],
    *,
    kind: str = "forward_kl",
    n: int = 16,
    max_new_tokens: int = 32,
    seed: int = 0,
    pad: int = 0,
) -> dict[str, tuple[float, float]]:
    """The per-token divergence D(p(·|y_<t) ‖ q(·|y_<t)) (losses.divergence kind) averaged over response
    positions, on the student's own samples ("student_prefixes") and on the teacher's ("teacher_prefixes"),
    each (mean, SE); "gap" = student - teacher prefixes, SE of independent samples."""
    out = {}
    for name, source, s in (("student_prefixes", student, seed), ("teacher_prefixes", teacher, seed + 1)):
        ps, ys = sample(source, prompts, n, max_new_tokens=max_new_tokens, eos_id=teacher.eos_id, pad=pad, seed=s)
        out[name] = _ratio_se(*_token_divergence(teacher, student, ps, ys, kind, pad))
    (a, sa), (b, sb) = out["student_prefixes"], out["teacher_prefixes"]
    out["gap"] = (a - b, math.sqrt(sa**2 + sb**2))
    return out
