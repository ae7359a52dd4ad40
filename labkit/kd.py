"""White-box distillation loops: word-level KD, SeqKD, GKD (on-policy) and MiniLLM (reverse KL by policy gradient).

    import labkit as lk
    cfg = lk.train.TrainConfig(steps=100, batch_size=8, lr=5e-4)
    h = lk.kd.train_kd(student, teacher, tok, prompts, targets, kind="forward_kl", config=cfg)
    h = lk.kd.train_seqkd(student, teacher, tok, prompts, config=cfg)
    h = lk.kd.train_gkd(student, teacher, tok, prompts, lmbda=0.5, beta=0.5, config=cfg)
    h = lk.kd.train_minillm(student, teacher, tok, prompts, single_step=True, teacher_mix=0.2,
                            length_norm=True, config=cfg)
    h.series("loss/kd"), h.series("reward"), h.series("grad_var")

Teacher and student share a vocabulary (checked before the first step). Every loop trains on
*rollouts*: a prompt and a response, laid out as

    input_ids  = [pad ... pad | prompt | response | pad ... pad]      (B, P + R)
                  left-padded prompts     right-padded responses

so that the response of every row starts at the same column P and the logits predicting it are
``hidden[:, P-1 : P-1+R]`` -> (B, R, V), computed only there (SmolLM2: V = 49152). The loss is on
response tokens only. A response is a fixed target (SFT, word-level KD, GKD off-policy), a teacher
output (SeqKD, GKD off-policy without targets), or the student's own sample (GKD on-policy,
MiniLLM); samples are token ids, never re-tokenised text.

The loops reuse labkit.train's machinery (``run_loop``: AdamW with warmup/decay, bf16 autocast,
gradient accumulation normalised by counted response tokens, checkpoints, progress bars). Each
optimiser step first *prepares* its rollouts (sampling without gradient), then computes the loss
micro-batch by micro-batch. The teacher runs in ``torch.inference_mode`` once per micro-batch
(plus, for MiniLLM's teacher-mixed sampling, once per sampled token).

History rows: "loss" (what was optimised), "loss/<term>" (each term, unweighted), and per loop
extra statistics: "on_policy", "gen_len" (GKD); "reward", "reverse_kl_seq", "weight_mean",
"gen_len", "grad_var", "grad_norm_sample" (MiniLLM).
"""
from __future__ import annotations

import math
import random
from contextlib import nullcontext
from typing import Callable

import torch
import torch.nn.functional as F

from labkit import losses
from labkit import train as T
from labkit.errors import LabkitError

# --------------------------------------------------------------------------- rollouts (prompt + response ids)


def prompt_ids(tokenizer, prompt: str) -> list[int]:
    """Token ids of a prompt as the training code encodes it (bos added where the tokenizer wants one)."""
    return T.encode_example(tokenizer, prompt, "", 10**9, add_eos=False)["input_ids"]


def target_ids(tokenizer, target: str) -> list[int]:
    """Token ids of a target text followed by eos (the student learns to stop)."""
    return T.encode_example(tokenizer, "", target, 10**9)["labels"]


def make_rollout(prompt: list[int], response: list[int], max_len: int) -> dict:
    """{"prompt": ids, "response": ids}, cut to max_len tokens: the response keeps at most
    max_len - max_len // 4 tokens, the prompt is cut from the left (its end survives)."""
    response = list(response)[: max_len - max_len // 4]
    prompt = list(prompt)[-(max_len - len(response)):]
    return {"prompt": prompt, "response": response}


def encode_rollouts(tokenizer, prompts: list[str], targets: list[str], max_len: int) -> list[dict]:
    """Prompt/target texts -> rollouts (response = target + eos)."""
    if len(prompts) != len(targets):
        raise LabkitError(f"{len(prompts)} prompts but {len(targets)} targets; expected one target per prompt")
    return [make_rollout(prompt_ids(tokenizer, p), target_ids(tokenizer, t), max_len)
            for p, t in zip(prompts, targets)]


def collate_rollouts(rollouts: list[dict], pad_id: int, device=None) -> dict[str, torch.Tensor | int]:
    """Left-pad prompts, right-pad responses.

    Returns: input_ids (B, P+R), attention_mask (B, P+R), position_ids (B, P+R) (counted from the
    first real token, so left padding does not shift positions), response (B, R) token ids,
    response_mask (B, R) bool, and P (int).
    """
    B = len(rollouts)
    P = max(len(r["prompt"]) for r in rollouts)
    R = max(max(len(r["response"]) for r in rollouts), 1)
    ids = torch.full((B, P + R), pad_id, dtype=torch.long)
    mask = torch.zeros((B, P + R), dtype=torch.long)
    for i, r in enumerate(rollouts):
        p, y = r["prompt"], r["response"]
        ids[i, P - len(p): P] = torch.tensor(p, dtype=torch.long)
        ids[i, P: P + len(y)] = torch.tensor(y, dtype=torch.long)
        mask[i, P - len(p): P + len(y)] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    batch = {"input_ids": ids, "attention_mask": mask, "position_ids": pos,
             "response": ids[:, P:], "response_mask": mask[:, P:].bool()}
    if device is not None:
        batch = {k: v.to(device) for k, v in batch.items()}
    batch["P"] = P
    return batch


def count_response_tokens(rollouts: list[dict], indices) -> int:
    return sum(len(rollouts[i]["response"]) for i in indices)


# --------------------------------------------------------------------------- model plumbing


def vocab_size(model) -> int:
    head = model.get_output_embeddings()
    return int(head.weight.shape[0]) if head is not None else int(model.config.vocab_size)


def check_vocab(student, teacher, vocab_padding_ok: bool = False) -> None:
    """Raise the losses module's LabkitError if teacher and student logits cannot be compared.

    Called by every loop before its first step (a mismatch would otherwise surface mid-training).
    """
    v_s, v_t = vocab_size(student), vocab_size(teacher)
    if v_s != v_t:
        losses.divergence(torch.zeros(1, v_s), torch.zeros(1, v_t), kind="forward_kl",
                          vocab_padding_ok=vocab_padding_ok)


def _backbone_and_head(model):
    try:
        return model.get_decoder(), model.get_output_embeddings()
    except (AttributeError, NotImplementedError, ValueError):
        return None, None


def response_logits(model, batch: dict) -> torch.Tensor:
    """Logits predicting each response token: (B, R, V). The head runs only on those positions."""
    P, R = batch["P"], batch["response"].shape[1]
    kw = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids")}
    backbone, head = _backbone_and_head(model)
    if backbone is not None and head is not None:
        hidden = backbone(**kw).last_hidden_state            # (B, P+R, H)
        return head(hidden[:, P - 1: P - 1 + R])              # (B, R, V)
    return model(**kw).logits[:, P - 1: P - 1 + R]


def teacher_logits(teacher, batch: dict) -> torch.Tensor:
    """The teacher's response logits (B, R, V), without autograd (inference mode)."""
    with torch.inference_mode():
        return response_logits(teacher, batch)


# --------------------------------------------------------------------------- sampling (no gradient)


@torch.no_grad()
def sample_responses(model, prompts: list[list[int]], *, max_new_tokens: int, eos_id: int, pad_id: int,
                     greedy: bool = False, temperature: float = 1.0, teacher=None, teacher_mix: float = 0.0,
                     generator: torch.Generator | None = None, batch_size: int = 16,
                     autocast: Callable = nullcontext) -> list[list[int]]:
    """Sample (or greedily decode) one response per prompt, token by token with KV caches.

    With ``teacher`` and teacher_mix = α > 0 each token is drawn from p~ = α p + (1 - α) q (MiniLLM's
    teacher-mixed sampling; q = model, p = teacher). Responses end with eos (included) or stop at
    max_new_tokens. No gradient flows through this function.

    Returns: one list of token ids per prompt.
    """
    was_training = model.training
    model.eval()
    device = T.model_device(model)
    out: list[list[int]] = []
    try:
        for s in range(0, len(prompts), batch_size):
            chunk = prompts[s: s + batch_size]
            batch = collate_rollouts([{"prompt": p, "response": []} for p in chunk], pad_id, device)
            P = batch["P"]
            ids, mask, pos = (batch["input_ids"][:, :P], batch["attention_mask"][:, :P],
                              batch["position_ids"][:, :P])
            B = ids.shape[0]
            done = torch.zeros(B, dtype=torch.bool, device=device)
            caches = {"q": None, "p": None}
            models_ = {"q": model, **({"p": teacher} if teacher is not None and teacher_mix > 0 else {})}
            step_ids, responses = ids, [[] for _ in range(B)]
            for t in range(max_new_tokens):
                logp = {}
                for key, m in models_.items():
                    with autocast():
                        o = m(input_ids=step_ids, attention_mask=mask, position_ids=pos,
                              past_key_values=caches[key], use_cache=True)
                    caches[key] = o.past_key_values
                    logp[key] = F.log_softmax(o.logits[:, -1].float() / temperature, dim=-1)   # (B, V)
                log_probs = logp["q"]
                if "p" in logp:
                    log_probs = losses.mixed_distribution_logits(logp["q"], logp["p"], teacher_mix)
                if greedy:
                    tok = log_probs.argmax(-1)
                else:
                    tok = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(1)   # (B,)
                tok = torch.where(done, torch.full_like(tok, pad_id), tok)
                for i in range(B):
                    if not done[i]:
                        responses[i].append(int(tok[i]))
                real = ~done                                     # this token belongs to the response
                done = done | (tok == eos_id)
                if bool(done.all()):
                    break
                step_ids = tok[:, None]
                mask = torch.cat([mask, real.long()[:, None]], 1)
                pos = pos[:, -1:] + 1
            out.extend(responses)
    finally:
        model.train(was_training)
    return out


def generate_texts(model, tokenizer, prompts: list[str], *, max_new_tokens: int = 64, greedy: bool = True,
                   temperature: float = 1.0, seed: int = 0, batch_size: int = 16, device: str = "auto",
                   bf16: bool | str = "auto") -> list[str]:
    """Decode responses for text prompts (eos stripped). Greedy by default; seeded when sampling.
    bf16: "auto" (bf16 autocast where supported), True or False."""
    from labkit import models
    dev = models.resolve_device(device)
    model.to(dev)
    g = torch.Generator(device=dev).manual_seed(seed)
    ids = sample_responses(model, [prompt_ids(tokenizer, p) for p in prompts], max_new_tokens=max_new_tokens,
                           eos_id=tokenizer.eos_token_id, pad_id=_pad_id(tokenizer), greedy=greedy,
                           temperature=temperature, generator=g, batch_size=batch_size,
                           autocast=lambda: models.autocast(dev, enabled=None if bf16 == "auto" else bool(bf16)))
    return [tokenizer.decode(r, skip_special_tokens=True) for r in ids]


def _pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


# --------------------------------------------------------------------------- loss pieces


def leave_one_out_baseline(returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """b[i, t] = mean of returns[j, t] over the OTHER rows j that have a token at t (0 if none).

    A baseline that does not depend on sample i's own actions keeps the policy gradient unbiased
    while removing most of its variance (the returns of a sharp teacher are large and negative).
    (B, T), (B, T) -> (B, T).
    """
    m = mask.to(returns.dtype)
    total, count = (returns * m).sum(0, keepdim=True), m.sum(0, keepdim=True)
    others = (count - m).clamp(min=1)
    return torch.where(count - m > 0, (total - returns * m) / others, torch.zeros_like(returns))


def minillm_surrogate(student_logits: torch.Tensor, teacher_logits: torch.Tensor, tokens: torch.Tensor,
                      mask: torch.Tensor, *, single_step: bool = True, teacher_mix: float = 0.0,
                      length_norm: bool = True, temperature: float = 1.0, baseline: bool | torch.Tensor = True
                      ) -> dict[str, torch.Tensor]:
    """Per-token MiniLLM surrogate whose gradient estimates grad KL(q_θ || p) over sequences.

    Args:
        student_logits: (B, T, V) differentiable; teacher_logits: (B, T, V); tokens: (B, T) sampled
            responses (from q, or from p~ = α p + (1-α) q when teacher_mix = α > 0); mask: (B, T) bool.
        single_step: the immediate term E_{y_t~q}[r_t] is summed exactly over the vocabulary
            (per-token reverse KL, differentiable) and the policy gradient uses R_{t+1}; otherwise
            the policy gradient uses R_t = r_t + R_{t+1} (pure Monte Carlo).
        teacher_mix: α; importance weights w_t = q(y_t) / p~(y_t) (detached) multiply both terms.
        length_norm: R_{t+1} divided by the number of response tokens after t.
        baseline: True subtracts ``leave_one_out_baseline`` of the returns (over the batch rows); a
            (B, T) tensor is used as given; False = none.

    With r_t = log p(y_t|·) - log q(y_t|·), G_t the policy-gradient return and b_t the baseline,

        single_step:  G_t = R_{t+1},          surrogate_t = w_t KL(q_t || p_t) - (w_t (G_t - b_t)) log q(y_t)
        otherwise:    G_t = r_t + R_{t+1},    surrogate_t =                    - (w_t (G_t - b_t)) log q(y_t)

    (parentheses = detached); its gradient, summed over t and averaged over sequences sampled from q,
    is an unbiased estimate of grad KL(q||p) when α = 0 and length_norm = False (with or without the
    leave-one-out baseline).

    Returns: dict of (B, T) tensors (zeros at masked positions): "surrogate" (differentiable),
    "single" (per-token reverse KL, differentiable), "reward" r_t, "weight" w_t, "logq" (detached).
    """
    mask = mask.bool()
    logq = losses.token_logprobs(student_logits, tokens, temperature)                   # (B, T), grad
    with torch.no_grad():
        logp = losses.token_logprobs(teacher_logits.float(), tokens, temperature)
        reward = losses.minillm_rewards(student_logits.detach(), teacher_logits, tokens, mask, temperature)
        weight = (losses.mixed_sampling_weights(logq, logp, teacher_mix) if teacher_mix > 0
                  else torch.ones_like(reward))
        weight = weight * mask
    _, future = losses.minillm_long_term(logq.detach(), reward, mask, length_norm=length_norm,
                                         reduction="none", return_returns=True)         # R_{t+1}: (B, T)
    single = losses.divergence(student_logits, teacher_logits, kind="reverse_kl", temperature=temperature,
                               mask=mask, reduction="none")                              # (B, T)
    G = future if single_step else reward + future                                      # PG return
    if isinstance(baseline, torch.Tensor):
        b = baseline.to(G)
    else:
        b = leave_one_out_baseline(G, mask) if baseline else torch.zeros_like(G)
    advantage = (weight * (G - b) * mask).detach()
    surrogate = -advantage * logq                                                        # policy gradient
    if single_step:
        surrogate = surrogate + weight * single                                          # exact immediate term
    return {"surrogate": surrogate * mask, "single": single, "reward": reward, "weight": weight,
            "returns": G, "logq": logq.detach() * mask}


# --------------------------------------------------------------------------- the shared driver


class _Loop:
    """Glue between a KD method and labkit.train.run_loop.

    ``prepare(indices)`` (once per optimiser step, no gradient) decides the step's rollouts and returns
    {term: counted tokens}; ``micro(indices, totals)`` returns (loss, parts) for one micro-batch.
    Per-step statistics that are not losses (rewards, sampling flags, gradient variance) are collected
    in ``stats`` and merged into the history rows after the loop.
    """

    def __init__(self, student, teacher, tokenizer, config, vocab_padding_ok=False):
        self.student, self.teacher, self.tok, self.config = student, teacher, tokenizer, config
        if teacher is not None:
            check_vocab(student, teacher, vocab_padding_ok)                  # before the first step
        self.device, self.autocast = T.resolve(student, config)
        if teacher is not None:
            teacher.to(self.device).eval()
        self.pad = _pad_id(tokenizer)
        self.eos = tokenizer.eos_token_id
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed + 7919)
        self.coin = random.Random(config.seed + 104729)
        self.current: dict[int, dict] = {}        # index -> rollout used this step
        self.step_stats: dict | None = None
        self.extras: list[dict] = []

    def batch(self, indices):
        return collate_rollouts([self.current[i] for i in indices], self.pad, self.device)

    def begin_step(self) -> dict:
        self.end_step()
        self.step_stats = {}
        return self.step_stats

    def end_step(self):
        if self.step_stats is not None:
            self.extras.append(self.step_stats)
            self.step_stats = None

    def add(self, **values):
        for k, v in values.items():
            self.step_stats[k] = self.step_stats.get(k, 0.0) + float(v)

    def run(self, *, n: int, lengths, prepare, micro, desc: str, meta: dict) -> T.History:
        history = T.run_loop(self.student, self.config, n_examples=n, lengths=lengths, count_tokens=prepare,
                             micro_loss=micro, desc=desc, meta=meta)
        self.end_step()
        new_rows = history.rows[len(history.rows) - len(self.extras):] if self.extras else []
        for row, extra in zip(new_rows, self.extras):
            row.update(extra)
        return history

    def sample(self, indices, rollouts, *, max_new_tokens, temperature=1.0, teacher_mix=0.0, greedy=False):
        """Sample responses for the prompts of `indices` from the student (optionally teacher-mixed)."""
        responses = sample_responses(self.student, [rollouts[i]["prompt"] for i in indices],
                                     max_new_tokens=max_new_tokens, eos_id=self.eos, pad_id=self.pad,
                                     greedy=greedy, temperature=temperature, teacher=self.teacher,
                                     teacher_mix=teacher_mix, generator=self.generator,
                                     batch_size=max(len(indices), 1), autocast=self.autocast)
        return {i: make_rollout(rollouts[i]["prompt"], r, self.config.max_len) for i, r in zip(indices, responses)}


def _lengths(rollouts) -> list[int]:
    return [len(r["prompt"]) + len(r["response"]) for r in rollouts]


def _as_model(model, config):
    """A string is loaded with labkit.models; a module gets LoRA adapters when config.lora_r > 0."""
    if isinstance(model, str):
        from labkit import models
        return models.load_model(model, device=config.device, lora_r=config.lora_r)
    return T.apply_lora(model, config.lora_r, seed=config.seed)


def _teacher_rollouts(loop: _Loop, prompts_ids: list[list[int]], *, max_new_tokens, do_sample, temperature,
                      batch_size=16) -> list[dict]:
    responses = sample_responses(loop.teacher, prompts_ids, max_new_tokens=max_new_tokens, eos_id=loop.eos,
                                 pad_id=loop.pad, greedy=not do_sample, temperature=temperature,
                                 generator=loop.generator, batch_size=batch_size, autocast=loop.autocast)
    return [make_rollout(p, r, loop.config.max_len) for p, r in zip(prompts_ids, responses)]


# --------------------------------------------------------------------------- entry points


def train_sft(student, tokenizer, prompts: list[str], targets: list[str], *, config: T.TrainConfig | None = None,
              rollouts: list[dict] | None = None, desc: str = "sft") -> T.History:
    """Supervised fine-tuning: cross-entropy on the target tokens (the baseline of every KD method).

    ``rollouts`` (from ``encode_rollouts`` or teacher samples) replaces prompts/targets when given.
    Returns: History with "loss" and "loss/ce" (mean per target token).
    """
    config = config or T.TrainConfig()
    student = _as_model(student, config)
    loop = _Loop(student, None, tokenizer, config)
    data = rollouts if rollouts is not None else encode_rollouts(tokenizer, prompts, targets, config.max_len)

    def prepare(indices):
        loop.begin_step()
        loop.current = {i: data[i] for i in indices}
        return {"ce": count_response_tokens(data, indices)}

    def micro(indices, totals):
        b = loop.batch(indices)
        labels = b["response"].masked_fill(~b["response_mask"], losses.IGNORE_INDEX)
        ce = losses.token_cross_entropy(response_logits(student, b).float(), labels, reduction="sum")
        ce = ce / max(totals["ce"], 1)
        return ce, {"ce": float(ce.detach())}

    return loop.run(n=len(data), lengths=_lengths(data), prepare=prepare, micro=micro, desc=desc,
                    meta={"method": "sft", "n_examples": len(data)})


def train_kd(student, teacher, tokenizer, prompts: list[str], targets: list[str], *, kind: str = "forward_kl",
             beta: float = 0.5, skew: float = 0.1, ce_weight: float = 0.0, temperature: float = 1.0,
             config: T.TrainConfig | None = None, rollouts: list[dict] | None = None,
             vocab_padding_ok: bool = False, desc: str | None = None) -> T.History:
    """Word-level (token-level) KD on fixed prompt+target data with any divergence of labkit.losses.

    Per response token t: kd_t = D(p(·|y_<t, x) || q(·|y_<t, x)) of the given ``kind`` (β for "jsd",
    skew for the skew kinds, temperature τ), ce_t = -log q(y_t). With kd_ratio = 1 - ce_weight:

        loss = (1 - kd_ratio) * ce + kd_ratio * kd        (each a mean over the step's target tokens)

    Args:
        student, teacher: causal LMs sharing a vocabulary (checked before the first step).
        prompts, targets: texts; the loss is on target tokens (+ eos) only. Or pass ``rollouts``.
        ce_weight: weight of the cross-entropy on the gold targets, in [0, 1].
    Returns: History with "loss", "loss/kd", "loss/ce".
    """
    config = config or T.TrainConfig()
    if not 0.0 <= ce_weight <= 1.0:
        raise LabkitError(f"ce_weight={ce_weight!r}: expected a number in [0, 1]")
    if kind not in losses.KINDS:
        raise LabkitError(f"kind={kind!r}: expected one of {', '.join(losses.KINDS)}")
    kd_ratio = 1.0 - ce_weight
    student = _as_model(student, config)
    loop = _Loop(student, teacher, tokenizer, config, vocab_padding_ok)
    data = rollouts if rollouts is not None else encode_rollouts(tokenizer, prompts, targets, config.max_len)

    def prepare(indices):
        loop.begin_step()
        loop.current = {i: data[i] for i in indices}
        return {"kd": count_response_tokens(data, indices)}

    def micro(indices, totals):
        b = loop.batch(indices)
        n = max(totals["kd"], 1)
        s_logits, t_logits = response_logits(student, b), teacher_logits(teacher, b)          # (B, R, V) each
        kd = losses.divergence(s_logits, t_logits, kind=kind, beta=beta, skew=skew, temperature=temperature,
                               mask=b["response_mask"], reduction="sum", vocab_padding_ok=vocab_padding_ok) / n
        labels = b["response"].masked_fill(~b["response_mask"], losses.IGNORE_INDEX)
        ce = losses.token_cross_entropy(s_logits.float(), labels, reduction="sum") / n
        loss = (1 - kd_ratio) * ce + kd_ratio * kd
        return loss, {"kd": float(kd.detach()), "ce": float(ce.detach())}

    return loop.run(n=len(data), lengths=_lengths(data), prepare=prepare, micro=micro, desc=desc or f"kd:{kind}",
                    meta={"method": "kd", "kind": kind, "beta": beta, "skew": skew, "ce_weight": ce_weight,
                          "temperature": temperature, "n_examples": len(data)})


def train_seqkd(student, teacher, tokenizer, prompts: list[str], *, do_sample: bool = False,
                temperature: float = 1.0, max_new_tokens: int = 64, config: T.TrainConfig | None = None,
                teacher_rollouts: list[dict] | None = None) -> T.History:
    """Sequence-level KD (Kim & Rush): SFT on the teacher's outputs for the training prompts.

    The teacher decodes (greedy by default, or samples) each prompt once; the outputs are kept in
    memory (``history.meta["teacher_rollouts"]``, reusable through ``teacher_rollouts=``).
    Returns: History with "loss", "loss/ce"; meta["teacher_texts"] has the decoded teacher outputs.
    """
    config = config or T.TrainConfig()
    student = _as_model(student, config)
    check_vocab(student, teacher)
    if teacher_rollouts is None:
        loop = _Loop(student, teacher, tokenizer, config)
        teacher_rollouts = _teacher_rollouts(loop, [prompt_ids(tokenizer, p) for p in prompts],
                                             max_new_tokens=max_new_tokens, do_sample=do_sample,
                                             temperature=temperature)
    history = train_sft(student, tokenizer, None, None, config=config, rollouts=teacher_rollouts, desc="seqkd")
    history.meta.update(method="seqkd", teacher_rollouts=teacher_rollouts,
                        teacher_texts=[tokenizer.decode(r["response"], skip_special_tokens=True)
                                       for r in teacher_rollouts])
    return history


def train_gkd(student, teacher, tokenizer, prompts: list[str], targets: list[str] | None = None, *,
              lmbda: float = 0.5, beta: float = 0.5, temperature: float = 1.0, max_new_tokens: int = 64,
              config: T.TrainConfig | None = None, vocab_padding_ok: bool = False) -> T.History:
    """Generalised KD (Agarwal et al.): on-policy with probability λ, JSD_β token loss.

    For each optimiser step, with probability λ the student samples its own responses to the step's
    prompts (no gradient; temperature τ); otherwise the step uses the fixed data (``targets``), or,
    when targets is None, teacher outputs (greedy, generated once per prompt and cached). The loss
    is ``losses.gkd_loss`` = JSD_β(p || q) per response token (β = 0 forward KL, β = 1 reverse KL),
    with gradients only through the student's distribution on those fixed sequences.
    λ = 0, β = 0 is supervised forward KD (``train_kd(kind="forward_kl")``).

    Returns: History with "loss", "loss/jsd", "on_policy" (1 = the step used student samples), "gen_len".
    """
    config = config or T.TrainConfig()
    for name, v in (("lmbda", lmbda), ("beta", beta)):
        if not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
            raise LabkitError(f"{name}={v!r}: expected a number in [0, 1]")
    student = _as_model(student, config)
    loop = _Loop(student, teacher, tokenizer, config, vocab_padding_ok)
    if targets is not None:
        fixed: list[dict | None] = encode_rollouts(tokenizer, prompts, targets, config.max_len)
    else:
        fixed = [None] * len(prompts)          # teacher outputs, filled on first use
    prompt_only = [make_rollout(prompt_ids(tokenizer, p), [], config.max_len) for p in prompts]

    def prepare(indices):
        stats = loop.begin_step()
        on_policy = loop.coin.random() < lmbda
        if on_policy:
            loop.current = loop.sample(indices, prompt_only, max_new_tokens=max_new_tokens, temperature=temperature)
        else:
            missing = [i for i in indices if fixed[i] is None]
            if missing:
                made = _teacher_rollouts(loop, [prompt_only[i]["prompt"] for i in missing],
                                         max_new_tokens=max_new_tokens, do_sample=False, temperature=1.0)
                for i, r in zip(missing, made):
                    fixed[i] = r
            loop.current = {i: fixed[i] for i in indices}
        n = count_response_tokens(loop.current, indices)
        stats.update(on_policy=float(on_policy), gen_len=n / len(indices))
        return {"jsd": n}

    def micro(indices, totals):
        b = loop.batch(indices)
        s_logits, t_logits = response_logits(student, b), teacher_logits(teacher, b)
        jsd = losses.gkd_loss(s_logits, t_logits, b["response_mask"], beta=beta, temperature=temperature,
                              reduction="sum", vocab_padding_ok=vocab_padding_ok) / max(totals["jsd"], 1)
        return jsd, {"jsd": float(jsd.detach())}

    lengths = [len(p["prompt"]) + max_new_tokens for p in prompt_only]
    history = loop.run(n=len(prompts), lengths=lengths, prepare=prepare, micro=micro, desc=f"gkd λ={lmbda} β={beta}",
                    meta={"method": "gkd", "lmbda": lmbda, "beta": beta, "temperature": temperature,
                          "max_new_tokens": max_new_tokens, "n_examples": len(prompts)})
    history.meta["last_rollouts"] = dict(loop.current)     # the sequences of the last step
    return history


def _trainable_non_embedding(model) -> list[torch.nn.Parameter]:
    skip = {id(m.weight) for m in (model.get_input_embeddings(), model.get_output_embeddings()) if m is not None}
    return [p for p in model.parameters() if p.requires_grad and id(p) not in skip]


def per_sample_grad_variance(loss_of: Callable[[int], torch.Tensor], indices, params) -> tuple[float, float]:
    """Spread of per-sample gradients: (mean_i ||g_i - ḡ||² · n/(n-1), mean_i ||g_i||).

    loss_of(i) builds sample i's loss in its own graph; the gradient is taken w.r.t. ``params``
    (the student's non-embedding weights). Memory: two copies of params.
    """
    total = [torch.zeros_like(p, dtype=torch.float32) for p in params]
    sq_norms, n = [], 0
    for i in indices:
        grads = torch.autograd.grad(loss_of(i), params, allow_unused=True)
        sq = 0.0
        for acc, g in zip(total, grads):
            if g is not None:
                acc.add_(g.float())
                sq += float(g.float().pow(2).sum())
        sq_norms.append(sq)
        n += 1
    if n < 2:
        return float("nan"), math.sqrt(sq_norms[0]) if sq_norms else float("nan")
    mean_sq = sum(sq_norms) / n
    sq_of_mean = sum(float(a.pow(2).sum()) for a in total) / n**2
    var = (mean_sq - sq_of_mean) * n / (n - 1)
    return max(var, 0.0), sum(math.sqrt(s) for s in sq_norms) / n


def train_minillm(student, teacher, tokenizer, prompts: list[str], *, targets: list[str] | None = None,
                  single_step: bool = True, teacher_mix: float = 0.2, length_norm: bool = True,
                  lm_weight: float = 0.0, baseline: bool = True, temperature: float = 1.0, max_new_tokens: int = 64,
                  grad_var_every: int | None = None, grad_var_samples: int = 4,
                  config: T.TrainConfig | None = None, vocab_padding_ok: bool = False) -> T.History:
    """MiniLLM (Gu et al.): minimise the sequence-level reverse KL(q_θ || p) by policy gradient.

    Each step samples responses for its prompts from p~ = α p + (1-α) q_θ (α = teacher_mix; α = 0
    samples from the student), scores them with both models, and descends the surrogate of
    ``minillm_surrogate`` (single-step decomposition, importance weights, length normalisation):

        ∇L = -E_{y~q} Σ_t (R_t - 1) ∇ log q(y_t|y_<t,x),   r_t = log p(y_t|·) - log q(y_t|·)

    plus, with lm_weight > 0, ``lm_weight * CE`` on the (prompt, target) pairs (needs ``targets``):
    loss = pg + lm_weight * lm.

    Args:
        single_step, teacher_mix, length_norm: the three switches (METHODS.md §4).
        baseline: subtract the leave-one-out mean return of the micro-batch (unbiased; without it
            the large negative returns of a sharp teacher make the policy gradient very noisy).
        grad_var_every: every this many steps, estimate the spread of per-sample gradients of the
            surrogate (``per_sample_grad_variance`` over grad_var_samples rollouts of the step);
            None = config.log_every; 0 = never.
    Returns: History with "loss", "loss/pg", "loss/single" (per-token reverse KL on the samples),
        "loss/lm"; "reward" (mean r_t), "reverse_kl_seq" (mean over samples of -Σ_t r_t),
        "weight_mean", "gen_len", and "grad_var", "grad_norm_sample" on measured steps.
    """
    config = config or T.TrainConfig()
    if not (isinstance(teacher_mix, (int, float)) and 0.0 <= teacher_mix < 1.0):
        raise LabkitError(f"teacher_mix={teacher_mix!r}: expected α in [0, 1)")
    if lm_weight < 0:
        raise LabkitError(f"lm_weight={lm_weight!r}: expected a number >= 0")
    if lm_weight > 0 and targets is None:
        raise LabkitError("lm_weight > 0 needs targets (the SFT data of the language-modelling term)")
    grad_var_every = config.log_every if grad_var_every is None else grad_var_every
    student = _as_model(student, config)
    loop = _Loop(student, teacher, tokenizer, config, vocab_padding_ok)
    prompt_only = [make_rollout(prompt_ids(tokenizer, p), [], config.max_len) for p in prompts]
    sft = encode_rollouts(tokenizer, prompts, targets, config.max_len) if lm_weight > 0 else None
    step = {"n": 0}

    def pg_terms(indices, n_tokens, base=baseline):
        b = loop.batch(indices)
        s_logits, t_logits = response_logits(student, b), teacher_logits(teacher, b)
        out = minillm_surrogate(s_logits, t_logits, b["response"], b["response_mask"], single_step=single_step,
                                teacher_mix=teacher_mix, length_norm=length_norm, temperature=temperature,
                                baseline=base)
        pg = out["surrogate"].sum() / n_tokens
        return pg, out, b

    def lm_term(indices, n_tokens):
        b = collate_rollouts([sft[i] for i in indices], loop.pad, loop.device)
        labels = b["response"].masked_fill(~b["response_mask"], losses.IGNORE_INDEX)
        return losses.token_cross_entropy(response_logits(student, b).float(), labels, reduction="sum") / n_tokens

    def prepare(indices):
        stats = loop.begin_step()
        loop.current = loop.sample(indices, prompt_only, max_new_tokens=max_new_tokens,
                                   temperature=temperature, teacher_mix=teacher_mix)
        totals = {"pg": count_response_tokens(loop.current, indices)}
        if sft is not None:
            totals["lm"] = count_response_tokens(sft, indices)
        stats["gen_len"] = totals["pg"] / len(indices)
        step["n"] += 1
        if grad_var_every and (step["n"] == 1 or step["n"] % grad_var_every == 0):
            some = list(indices)[:grad_var_samples]
            with torch.no_grad(), loop.autocast():     # the batch's baseline, reused sample by sample
                out = pg_terms(some, 1)[1]
            base = (leave_one_out_baseline(out["returns"], loop.batch(some)["response_mask"]) if baseline
                    else torch.zeros_like(out["returns"]))

            def loss_of(k):
                n_k = max(len(loop.current[some[k]]["response"]), 1)
                with loop.autocast():
                    return pg_terms([some[k]], n_k, base[k: k + 1, :n_k])[0]
            var, norm = per_sample_grad_variance(loss_of, range(len(some)), _trainable_non_embedding(student))
            stats.update(grad_var=var, grad_norm_sample=norm)
        return totals

    def micro(indices, totals):
        n = max(totals["pg"], 1)
        pg, out, b = pg_terms(indices, n)
        m = b["response_mask"]
        single = float((out["single"].detach() * m).sum()) / n
        loop.add(reward=float(out["reward"].sum()) / n, weight_mean=float(out["weight"].sum()) / n,
                 reverse_kl_seq=-float(out["reward"].sum()) / len(loop.current))
        parts, loss = {"pg": float(pg.detach()), "single": single}, pg
        if sft is not None:
            lm = lm_term(indices, max(totals["lm"], 1))
            loss = pg + lm_weight * lm
            parts["lm"] = float(lm.detach())
        return loss, parts

    lengths = [len(p["prompt"]) + max_new_tokens for p in prompt_only]
    return loop.run(n=len(prompts), lengths=lengths, prepare=prepare, micro=micro,
                    desc=f"minillm ss={int(single_step)} α={teacher_mix} ln={int(length_norm)}",
                    meta={"method": "minillm", "single_step": single_step, "teacher_mix": teacher_mix,
                          "length_norm": length_norm, "baseline": baseline, "lm_weight": lm_weight, "temperature": temperature,
                          "max_new_tokens": max_new_tokens, "n_examples": len(prompts)})


