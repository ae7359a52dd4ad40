"""Sequences: text -> token ids -> padded batches -> logits, and the one decoding path.

    import labkit as lk
    batch = lk.sequences.encode_pairs(tok, ["Q: 2+2?\\nA:"], [" 4"], max_len=64)     # training pairs
    rollouts = lk.sequences.encode_rollouts(tok, prompts, targets, max_len=256)      # prompt + response ids
    b = lk.sequences.collate_rollouts(rollouts, pad_id)
    logits = lk.sequences.response_logits(model, b)                                  # (B, R, V)
    texts = lk.sequences.generate(model, tok, prompts, max_new_tokens=32)            # greedy, batched

Two layouts, both with the loss (and the output head) on target tokens only:

- *pairs* (``encode_example``/``collate``): input_ids = prompt + target + eos, right-padded, labels
  -100 on the prompt and padding (decoder-only); seq2seq students get labels = target + eos.
  Used by rationale-supervised training and option scoring.
- *rollouts* (``make_rollout``/``collate_rollouts``): a prompt and a response laid out as

      input_ids = [pad ... pad | prompt | response | pad ... pad]      (B, P + R)

  so that every response starts at column P and its logits are ``hidden[:, P-1 : P-1+R]``.
  Used by white-box KD, where responses may be the student's own samples (token ids, never
  re-tokenised text).

Decoding (``sample_responses``) is one loop with KV caches for every caller: students'
answers, teachers' rationales and SeqKD outputs, on-policy samples, and MiniLLM's
teacher-mixed sampling p~ = α p + (1 - α) q. Greedy output equals one-prompt-at-a-time decoding:
left padding is undone by the position ids.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from labkit import lean_llama
from labkit.errors import LabkitError

IGNORE = -100  # label value that the loss skips (prompt and padding positions)


# --------------------------------------------------------------------------- model facts


def is_seq2seq(model) -> bool:
    return bool(getattr(model.config, "is_encoder_decoder", False))


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def vocab_size(model) -> int:
    head = model.get_output_embeddings()
    return int(head.weight.shape[0]) if head is not None else int(model.config.vocab_size)


def check_vocab(student, teacher, vocab_padding_ok: bool = False) -> None:
    """LabkitError when teacher and student logits cannot be compared token by token.

    Every white-box method calls it before its first step (a mismatch would otherwise surface
    mid-training, or worse, be silently sliced). vocab_padding_ok=True accepts sizes that differ
    only by padding rows of one tokenizer (see ``losses.divergence``).
    """
    v_s, v_t = vocab_size(student), vocab_size(teacher)
    if v_s != v_t and not vocab_padding_ok:
        raise LabkitError(
            f"vocabulary size mismatch: teacher {v_t}, student {v_s} entries. Token-level "
            f"(white-box) KD needs one shared tokenizer. Use a student derived from the teacher "
            f"(NAME@layers=K), the cross-tokenizer method labkit.methods.xtok (ULD or the GOLD-style "
            f"hybrid), or a black-box method (SeqKD, rationales) that trains on the teacher's text."
        )


def pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def backbone_and_head(model):
    """(decoder stack, output head) of a causal LM, or (None, None) when the model hides them."""
    try:
        return model.get_decoder(), model.get_output_embeddings()
    except (AttributeError, NotImplementedError, ValueError):
        return None, None


# --------------------------------------------------------------------------- text -> ids


def token_ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def prompt_ids(tokenizer, text: str) -> list[int]:
    """A prompt's ids, with bos first where the tokenizer wants one (Gemma), never twice."""
    ids = token_ids(tokenizer, text)
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None and getattr(tokenizer, "add_bos_token", False) and (not ids or ids[0] != bos):
        ids = [bos] + ids
    return ids


def target_ids(tokenizer, target: str) -> list[int]:
    """A target's ids followed by eos (the student learns to stop)."""
    eos = tokenizer.eos_token_id
    return token_ids(tokenizer, target) + ([eos] if eos is not None else [])


# --------------------------------------------------------------------------- pairs (prompt -> target)


def encode_example(
    tokenizer, prompt: str, target: str, max_len: int, *, seq2seq: bool = False, add_eos: bool = True
) -> dict:
    """One (prompt, target) pair -> unpadded ids.

    Decoder-only: input_ids = prompt + target + eos, labels = -100 on the prompt.
    Seq2seq: input_ids = prompt (+ eos), labels = target + eos.
    Over-long pairs: the target keeps at most max_len - max_len // 4 tokens (cut on the right),
    then the prompt is cut from the LEFT so that its end (the question, "A:") and the target survive.
    add_eos=False scores a continuation as it stands (option scoring, log-likelihoods).
    """
    eos = tokenizer.eos_token_id
    p = prompt_ids(tokenizer, prompt)
    t = target_ids(tokenizer, target) if add_eos else token_ids(tokenizer, target)
    if seq2seq:
        p = p + ([eos] if eos is not None and (not p or p[-1] != eos) else [])
        return {"input_ids": p[-max_len:], "labels": t[:max_len]}
    t = t[: max_len - max_len // 4]
    p = p[-(max_len - len(t)) :] if len(p) + len(t) > max_len else p
    return {"input_ids": p + t, "labels": [IGNORE] * len(p) + t}


def collate(examples: list[dict], pad: int) -> dict[str, torch.Tensor]:
    """Right-pad encoded pairs: input_ids, attention_mask, labels, each (B, T).
    Labels are -100 on padding; seq2seq labels are padded to their own length (B, L)."""
    T = max(len(e["input_ids"]) for e in examples)
    L = max(len(e["labels"]) for e in examples)
    B = len(examples)
    input_ids = torch.full((B, T), pad, dtype=torch.long)
    attention_mask = torch.zeros((B, T), dtype=torch.long)
    labels = torch.full((B, L), IGNORE, dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        input_ids[i, :n] = torch.tensor(e["input_ids"])
        attention_mask[i, :n] = 1
        labels[i, : len(e["labels"])] = torch.tensor(e["labels"])
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def encode_pairs(
    tokenizer, prompts: list[str], targets: list[str], max_len: int, *, seq2seq: bool = False
) -> dict[str, torch.Tensor]:
    """Prompt/target texts -> a right-padded batch with the loss on target tokens only (see `collate`)."""
    if len(prompts) != len(targets):
        raise LabkitError(f"encode_pairs: {len(prompts)} prompts but {len(targets)} targets")
    return collate(
        [encode_example(tokenizer, p, t, max_len, seq2seq=seq2seq) for p, t in zip(prompts, targets)], pad_id(tokenizer)
    )


def n_target_tokens(example: dict, seq2seq: bool) -> int:
    """Tokens of an encoded pair that carry loss (decoder-only: the first position predicts nothing)."""
    labels = example["labels"] if seq2seq else example["labels"][1:]
    return sum(1 for y in labels if y != IGNORE)


def target_logits(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, labels) at the target positions of a collated pair batch: (N, V), (N,).

    Decoder-only: the output head runs only where a target token is predicted, so the (T, V)
    logits of prompts and padding are never built (SmolLM2: V = 49152).
    """
    labels = batch["labels"]
    if is_seq2seq(model):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).logits
        keep = labels != IGNORE
        return logits[keep], labels[keep]
    targets = labels[:, 1:]  # (B, T-1): token t+1 predicted at t
    keep = targets != IGNORE
    backbone, head = backbone_and_head(model)
    if backbone is not None and head is not None:
        hidden = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return head(hidden[:, :-1][keep]), targets[keep]  # (N, V), (N,)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return logits[:, :-1][keep], targets[keep]


# --------------------------------------------------------------------------- rollouts (prompt + response)


def make_rollout(prompt: list[int], response: list[int], max_len: int) -> dict:
    """{"prompt": ids, "response": ids}, cut to max_len tokens: the response keeps at most
    max_len - max_len // 4 tokens, the prompt is cut from the left (its end survives)."""
    response = list(response)[: max_len - max_len // 4]
    prompt = list(prompt)[-(max_len - len(response)) :]
    return {"prompt": prompt, "response": response}


def encode_rollouts(tokenizer, prompts: list[str], targets: list[str], max_len: int) -> list[dict]:
    """Prompt/target texts -> rollouts (response = target + eos)."""
    if len(prompts) != len(targets):
        raise LabkitError(f"{len(prompts)} prompts but {len(targets)} targets; expected one target per prompt")
    return [make_rollout(prompt_ids(tokenizer, p), target_ids(tokenizer, t), max_len) for p, t in zip(prompts, targets)]


def rollout_texts(tokenizer, rollouts: list[dict]) -> list[str]:
    return [tokenizer.decode(r["response"], skip_special_tokens=True) for r in rollouts]


def collate_rollouts(rollouts: list[dict], pad: int, device=None) -> dict[str, torch.Tensor | int]:
    """Left-pad prompts, right-pad responses.

    Returns: input_ids (B, P+R), attention_mask (B, P+R), position_ids (B, P+R) (counted from the
    first real token, so left padding does not shift positions), response (B, R) token ids,
    response_mask (B, R) bool, and P (int).
    """
    B = len(rollouts)
    P = max(len(r["prompt"]) for r in rollouts)
    R = max(max(len(r["response"]) for r in rollouts), 1)
    ids = torch.full((B, P + R), pad, dtype=torch.long)
    mask = torch.zeros((B, P + R), dtype=torch.long)
    for i, r in enumerate(rollouts):
        p, y = r["prompt"], r["response"]
        ids[i, P - len(p) : P] = torch.tensor(p, dtype=torch.long)
        ids[i, P : P + len(y)] = torch.tensor(y, dtype=torch.long)
        mask[i, P - len(p) : P + len(y)] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "position_ids": pos,
        "response": ids[:, P:],
        "response_mask": mask[:, P:].bool(),
    }
    if device is not None:
        batch = {k: v.to(device) for k, v in batch.items()}
    batch["P"] = P
    return batch


def response_logits(model, batch: dict) -> torch.Tensor:
    """Logits predicting each response token: (B, R, V). The head runs only on those positions."""
    P, R = batch["P"], batch["response"].shape[1]
    kw = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids")}
    backbone, head = backbone_and_head(model)
    if backbone is not None and head is not None:
        hidden = backbone(**kw).last_hidden_state  # (B, P+R, H)
        return head(hidden[:, P - 1 : P - 1 + R])  # (B, R, V)
    return model(**kw).logits[:, P - 1 : P - 1 + R]


def teacher_logits(teacher, batch: dict) -> torch.Tensor:
    """The teacher's response logits (B, R, V), without autograd (inference mode)."""
    with torch.inference_mode():
        return response_logits(teacher, batch)


# --------------------------------------------------------------------------- decoding (no gradient)


def mixed_log_probs(student_log_probs: torch.Tensor, teacher_log_probs: torch.Tensor, alpha: float) -> torch.Tensor:
    """log p~ of MiniLLM's sampling mixture p~ = α p + (1 - α) q, from log-probabilities (..., V)."""
    if alpha <= 0:
        return student_log_probs
    a = torch.tensor([alpha, 1.0 - alpha], dtype=student_log_probs.dtype, device=student_log_probs.device).log()
    return torch.logaddexp(teacher_log_probs + a[0], student_log_probs + a[1])


def cache_keyword(model) -> str:
    """The forward() argument that takes the KV cache: "cache" (transformers >= 5.2x) or "past_key_values"."""
    forward = (model.get_base_model() if hasattr(model, "get_base_model") else model).forward
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def last_logits_only(model) -> dict:
    """forward() keywords that build the logits of the last position only ({"logits_to_keep": 1} where the model
    takes it): a prompt's pass needs (B, 1, V), not (B, P, V)."""
    forward = (model.get_base_model() if hasattr(model, "get_base_model") else model).forward
    return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(forward).parameters else {}


class _Decoder:
    """Incremental next-token log-probabilities of one model over a left-padded prompt batch."""

    def __init__(self, model, ids, mask, pos, autocast):
        self.model, self.autocast, self.cache = model, autocast, None
        self.cache_kw = cache_keyword(model)
        self.last_only = last_logits_only(model)
        self.seq2seq = is_seq2seq(model)
        if self.seq2seq:  # the encoder reads the prompt once; the decoder starts from its start token
            with autocast():
                self.encoder_out = model.get_encoder()(input_ids=ids, attention_mask=mask)
            self.enc_mask = mask
            start = model.config.decoder_start_token_id
            self.step_ids = torch.full((ids.shape[0], 1), start, dtype=torch.long, device=ids.device)
        else:
            self.step_ids, self.mask, self.pos = ids, mask, pos

    def log_probs(self, temperature: float) -> torch.Tensor:
        with self.autocast():
            if self.seq2seq:
                o = self.model(
                    encoder_outputs=self.encoder_out,
                    attention_mask=self.enc_mask,
                    decoder_input_ids=self.step_ids,
                    use_cache=True,
                    **{self.cache_kw: self.cache},
                )
            else:
                o = self.model(
                    input_ids=self.step_ids,
                    attention_mask=self.mask,
                    position_ids=self.pos,
                    use_cache=True,
                    **{self.cache_kw: self.cache},
                    **self.last_only,
                )
        self.cache = o.cache if "cache" in o else o.past_key_values
        return F.log_softmax(o.logits[:, -1].float() / temperature, dim=-1)  # (B, V)

    def advance(self, tok: torch.Tensor, real: torch.Tensor) -> None:
        self.step_ids = tok[:, None]
        if not self.seq2seq:
            self.mask = torch.cat([self.mask, real.long()[:, None]], 1)
            self.pos = self.pos[:, -1:] + 1


def _decoder(model, ids, mask, pos, autocast, max_new_tokens: int):
    """labkit.lean_llama's decoder where it computes the model exactly (plain Llama models: about 1.5x faster a
    token for the miniatures' tiny students), else the transformers forward with its KV cache."""
    if lean_llama.enabled() and lean_llama.supports(model):
        return lean_llama.LlamaDecoder(model, ids, mask, pos, max_new_tokens=max_new_tokens, autocast=autocast)
    return _Decoder(model, ids, mask, pos, autocast)


def _top_p(log_probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of tokens whose probability reaches top_p."""
    if top_p >= 1.0:
        return log_probs
    sorted_lp, order = log_probs.sort(-1, descending=True)
    drop = sorted_lp.exp().cumsum(-1) - sorted_lp.exp() >= top_p
    return log_probs.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


@torch.no_grad()
def sample_responses(
    model,
    prompts: list[list[int]],
    *,
    max_new_tokens: int,
    eos_id,
    pad: int,
    greedy: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    teacher=None,
    teacher_mix: float = 0.0,
    generator: torch.Generator | None = None,
    batch_size: int = 16,
    autocast: Callable = nullcontext,
    stop: str | None = None,
    tokenizer=None,
) -> list[list[int]]:
    """Sample (or greedily decode) one response per prompt, token by token with KV caches.

    Args:
        prompts: token ids per prompt (see ``prompt_ids``).
        eos_id: an id or a collection of ids that end a response (included in it).
        teacher, teacher_mix: with α = teacher_mix > 0 each token is drawn from p~ = α p + (1 - α) q
            (MiniLLM's teacher-mixed sampling; q = model, p = teacher, same vocabulary).
        stop: a text that ends a response once it appears (needs ``tokenizer``), e.g. "\\n\\nQ:".
    Returns: one list of token ids per prompt (ending with eos, or cut at max_new_tokens / stop).
    """
    eos = torch.tensor(sorted({eos_id} if isinstance(eos_id, int) else set(eos_id)), dtype=torch.long)
    if stop is not None and tokenizer is None:
        raise LabkitError("sample_responses: stop= needs tokenizer= to read the generated text")
    models = [model] + ([teacher] if teacher is not None and teacher_mix > 0 else [])
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    device = model_device(model)
    eos = eos.to(device)
    out: list[list[int]] = []
    try:
        for s in range(0, len(prompts), batch_size):
            chunk = prompts[s : s + batch_size]
            batch = collate_rollouts([{"prompt": p, "response": []} for p in chunk], pad, device)
            P = batch["P"]
            ids, mask, pos = (batch[k][:, :P] for k in ("input_ids", "attention_mask", "position_ids"))
            decoders = [_decoder(m, ids, mask, pos, autocast, max_new_tokens) for m in models]
            B = ids.shape[0]
            done = torch.zeros(B, dtype=torch.bool, device=device)
            responses: list[list[int]] = [[] for _ in range(B)]
            for _ in range(max_new_tokens):
                log_probs = [d.log_probs(temperature) for d in decoders]
                lp = mixed_log_probs(log_probs[0], log_probs[1], teacher_mix) if len(log_probs) > 1 else log_probs[0]
                if greedy:
                    tok = lp.argmax(-1)
                else:
                    tok = torch.multinomial(_top_p(lp, top_p).exp(), 1, generator=generator).squeeze(1)  # (B,)
                tok = torch.where(done, torch.full_like(tok, pad), tok)
                real = ~done  # this token belongs to the response
                for i in real.nonzero()[:, 0].tolist():
                    responses[i].append(int(tok[i]))
                done = done | torch.isin(tok, eos)
                if stop is not None:
                    for i in real.nonzero()[:, 0].tolist():
                        if not done[i] and stop in tokenizer.decode(responses[i][-12:], skip_special_tokens=True):
                            done[i] = True
                if bool(done.all()):
                    break
                for d in decoders:
                    d.advance(tok, real)
            out.extend(responses)
    finally:
        for m, t in zip(models, was_training):
            m.train(t)
    return out


def generate(
    model,
    tokenizer,
    prompts: list[str],
    *,
    max_new_tokens: int = 64,
    greedy: bool = True,
    temperature: float = 1.0,
    top_p: float = 1.0,
    n_samples: int = 1,
    seed: int = 0,
    batch_size: int = 16,
    autocast: Callable = nullcontext,
    eos_ids=None,
    stop: str | None = None,
    stop_at_newline: bool = False,
) -> list[str]:
    """Decode text responses (special tokens dropped), batched in prompt-length order.

    Greedy by default; sampling (greedy=False) is seeded by ``seed``. n_samples > 1 returns
    n_samples texts per prompt, prompt-major (len = len(prompts) * n_samples). A response ends at
    eos (``eos_ids``: extra end ids such as "<|im_end|>"), at ``stop`` (the text is cut before it),
    or with stop_at_newline at its first newline.
    """
    ids = [prompt_ids(tokenizer, p) for p in prompts for _ in range(n_samples)]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    g = torch.Generator(device=model_device(model)).manual_seed(seed)
    eos = set(eos_ids or ()) | ({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set())
    stop_text = "\n" if stop_at_newline else stop
    responses = sample_responses(
        model,
        [ids[i] for i in order],
        max_new_tokens=max_new_tokens,
        eos_id=eos,
        pad=pad_id(tokenizer),
        greedy=greedy,
        temperature=temperature,
        top_p=top_p,
        generator=g,
        batch_size=batch_size,
        autocast=autocast,
        stop=stop_text,
        tokenizer=tokenizer,
    )
    texts = [""] * len(ids)
    for i, r in zip(order, responses):
        text = tokenizer.decode(r, skip_special_tokens=True)
        texts[i] = text.split(stop_text)[0] if stop_text else text
    return texts
