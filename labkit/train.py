"""Training loops that return a history: rationale-supervised multi-task training.

    import labkit as lk
    cfg = lk.train.TrainConfig(steps=200, batch_size=8, lr=5e-4)
    hist = lk.train.train_multitask(student, tok, records,
                                    tasks={"answer": 1.0, "rationale:palm-540b": 1.0}, config=cfg)
    hist.series("loss/answer")

The file reads top to bottom: the config, the history, seeding, encoding
(prompt -> target with the loss on target tokens only), batching (length
bucketing), the shared optimisation loop (AdamW, warmup/decay, bf16 autocast,
gradient accumulation normalised by counted target tokens, checkpoints), and
last the multi-task entry point. `labkit.kd` builds its loops on the same
machinery (`encode_pairs`, `collate`, `step_schedule`, `target_token_loss`,
`run_loop`).

Loss normalisation. One optimiser step sees `batch_size * grad_accum` examples,
split in `grad_accum` micro-batches. For each loss term t (the answer task, one
rationale task per teacher) the step loss is the mean over *all target tokens of
that term in the step*:  L_t = Σ_micro Σ_tokens CE / N_t,  N_t counted before
the first micro-batch runs. The gradient is therefore independent of how the
step is split (2×2 == 4×1 up to float rounding), unlike averaging per batch.
"""
from __future__ import annotations

import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from labkit.errors import LabkitError

IGNORE = -100  # label value that the loss skips (prompt and padding positions)


# --------------------------------------------------------------------------- config

@dataclass
class TrainConfig:
    """Settings shared by every training loop in labkit.

    Args:
        lr: peak learning rate of AdamW (after linear warmup, then linear decay to 0).
        steps: number of optimiser steps.
        batch_size: examples per micro-batch (for multi-task: records; each brings its tasks).
        grad_accum: micro-batches per optimiser step; the effective batch is batch_size * grad_accum.
        max_len: maximum tokens per sequence; the prompt is cut from the left so the target survives.
        seed: seeds python, numpy and torch, the data order and LoRA init; two CPU runs are identical.
        device: "auto", "cpu", "cuda", "cuda:1", ...
        bf16: "auto" (bf16 autocast where the device supports it), True or False.
        lora_r: LoRA rank; 0 = full fine-tuning. A model already wrapped by peft is used as is.
        warmup: warmup length as a fraction of `steps` (0 <= warmup < 1) or a step count (>= 1).
        weight_decay: AdamW weight decay.
        log_every: steps between progress-bar updates (the history records every step).
        checkpoint_dir: where to save/resume checkpoints; None = no checkpoints.
        progress: show a tqdm progress bar with the loss mix.
        save_every: steps between checkpoints (0 = only at the end); needs checkpoint_dir.
        resume: continue from the latest checkpoint in checkpoint_dir when there is one.
        max_grad_norm: gradient clipping norm (0 = no clipping).
        bucket_mult: length bucketing: sort by length within shuffled mega-batches of
            bucket_mult effective batches (1 = no bucketing, plain shuffled order).
    """
    lr: float = 5e-4
    steps: int = 200
    batch_size: int = 8
    grad_accum: int = 1
    max_len: int = 256
    seed: int = 0
    device: str = "auto"
    bf16: bool | str = "auto"
    lora_r: int = 0
    warmup: float = 0.1
    weight_decay: float = 0.0
    log_every: int = 10
    checkpoint_dir: str | None = None
    progress: bool = True
    save_every: int = 0
    resume: bool = True
    max_grad_norm: float = 1.0
    bucket_mult: int = 16

    def __post_init__(self):
        def need(ok, name, expected):
            if not ok:
                raise LabkitError(f"TrainConfig.{name}={getattr(self, name)!r}: expected {expected}")
        need(isinstance(self.lr, (int, float)) and self.lr > 0, "lr", "a positive number")
        for name in ("steps", "batch_size", "grad_accum", "log_every", "bucket_mult"):
            need(isinstance(getattr(self, name), int) and getattr(self, name) >= 1, name, "an integer >= 1")
        need(isinstance(self.max_len, int) and self.max_len >= 8, "max_len", "an integer >= 8")
        need(isinstance(self.seed, int), "seed", "an integer")
        need(isinstance(self.device, str), "device", "'auto', 'cpu', 'cuda' or 'cuda:N'")
        need(self.bf16 in ("auto", True, False), "bf16", "'auto', True or False")
        need(isinstance(self.lora_r, int) and self.lora_r >= 0, "lora_r", "an integer >= 0 (0 = full fine-tuning)")
        need(isinstance(self.warmup, (int, float)) and self.warmup >= 0
             and (self.warmup < 1 or float(self.warmup).is_integer()),
             "warmup", "a fraction in [0, 1) or a whole number of steps")
        need(isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0, "weight_decay", "a number >= 0")
        need(isinstance(self.save_every, int) and self.save_every >= 0, "save_every", "an integer >= 0")
        need(isinstance(self.max_grad_norm, (int, float)) and self.max_grad_norm >= 0, "max_grad_norm", "a number >= 0")
        need(self.save_every == 0 or self.checkpoint_dir is not None, "save_every",
             "0 unless checkpoint_dir is set")

    @property
    def warmup_steps(self) -> int:
        return int(self.warmup) if self.warmup >= 1 else int(round(self.warmup * self.steps))

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- history

@dataclass
class History:
    """One row (a dict) per optimiser step: step, loss, every loss term, lr, tokens, seconds.

    Loss terms are logged as "loss/<term>" (e.g. "loss/answer", "loss/rationale:palm-540b");
    "loss" is the weighted total that was optimised. `meta` holds the config and names.
    """
    rows: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def log(self, **row) -> None:
        self.rows.append(row)

    def series(self, key: str) -> list:
        """Values of `key` over the rows that have it (steps where a term was absent are skipped)."""
        return [r[key] for r in self.rows if key in r]

    def steps_of(self, key: str) -> list[int]:
        return [r["step"] for r in self.rows if key in r]

    def last(self, key: str, default=None):
        for r in reversed(self.rows):
            if key in r:
                return r[key]
        return default

    def keys(self) -> list[str]:
        seen = {}
        for r in self.rows:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def loss_terms(self) -> list[str]:
        return [k for k in self.keys() if k.startswith("loss/")]

    def mean(self, key: str, last_n: int | None = None) -> float:
        vals = self.series(key)[-last_n:] if last_n else self.series(key)
        return float(np.mean(vals)) if vals else float("nan")

    def __len__(self) -> int:
        return len(self.rows)

    def to_dict(self) -> dict:
        return {"rows": [dict(r) for r in self.rows], "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(rows=[dict(r) for r in d.get("rows", [])], meta=dict(d.get("meta", {})))


# --------------------------------------------------------------------------- seeds, devices

def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (all devices). CPU kernels are deterministic, so two CPU runs match."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def resolve(model, config: TrainConfig):
    """Move the model to config.device; return (device, autocast context factory)."""
    from labkit import models
    device = models.resolve_device(config.device)
    if model_device(model) != device:
        model.to(device)
    enabled = None if config.bf16 == "auto" else bool(config.bf16)
    return device, (lambda: models.autocast(device, enabled=enabled))


def is_seq2seq(model) -> bool:
    return bool(getattr(model.config, "is_encoder_decoder", False))


def apply_lora(model, r: int, *, alpha: int | None = None, dropout: float = 0.0, targets=None, seed: int = 0):
    """Wrap `model` with LoRA adapters of rank r (peft); returns the model unchanged if r == 0
    or if it is already a peft model."""
    if r == 0 or hasattr(model, "peft_config"):
        return model
    from peft import LoraConfig, get_peft_model
    if targets is None:
        names = {n.split(".")[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
        targets = sorted(names & {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                                  "q", "k", "v", "o", "wi", "wo", "wi_0", "wi_1"}) or "all-linear"
    torch.manual_seed(seed)
    cfg = LoraConfig(r=r, lora_alpha=alpha or 2 * r, lora_dropout=dropout, target_modules=targets,
                     task_type="SEQ_2_SEQ_LM" if is_seq2seq(model) else "CAUSAL_LM")
    return get_peft_model(model, cfg)


# --------------------------------------------------------------------------- encoding

def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _prompt_ids(tokenizer, text: str) -> list[int]:
    ids = _ids(tokenizer, text)
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None and getattr(tokenizer, "add_bos_token", False) and (not ids or ids[0] != bos):
        ids = [bos] + ids
    return ids


def encode_example(tokenizer, prompt: str, target: str, max_len: int, *, seq2seq: bool = False,
                   add_eos: bool = True) -> dict:
    """One (prompt, target) pair -> unpadded ids.

    Decoder-only: input_ids = prompt + target + eos, labels = -100 on the prompt.
    Seq2seq: input_ids = prompt (+ eos), labels = target + eos.
    Over-long pairs: the target keeps at most max_len - max_len // 4 tokens (cut on the right),
    then the prompt is cut from the LEFT so that its end (the question, "A:") and the target survive.
    add_eos=False scores a continuation as it stands (evaluation: option scoring, log-likelihoods).
    """
    eos = tokenizer.eos_token_id
    p, t = _prompt_ids(tokenizer, prompt), _ids(tokenizer, target) + ([eos] if eos is not None and add_eos else [])
    if seq2seq:
        p = p + ([eos] if eos is not None and (not p or p[-1] != eos) else [])
        return {"input_ids": p[-max_len:], "labels": t[:max_len]}
    t = t[: max_len - max_len // 4]
    p = p[-(max_len - len(t)):] if len(p) + len(t) > max_len else p
    return {"input_ids": p + t, "labels": [IGNORE] * len(p) + t}


def collate(examples: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of encoded examples: input_ids, attention_mask, labels, each (B, T).
    Labels are -100 on padding; for seq2seq the labels are padded to their own length."""
    T = max(len(e["input_ids"]) for e in examples)
    L = max(len(e["labels"]) for e in examples)
    B = len(examples)
    input_ids = torch.full((B, T), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((B, T), dtype=torch.long)
    labels = torch.full((B, L), IGNORE, dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        input_ids[i, :n] = torch.tensor(e["input_ids"])
        attention_mask[i, :n] = 1
        labels[i, : len(e["labels"])] = torch.tensor(e["labels"])
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def encode_pairs(tokenizer, prompts: list[str], targets: list[str], max_len: int, *,
                 seq2seq: bool = False) -> dict[str, torch.Tensor]:
    """Tokenize prompt/target pairs into a right-padded batch with the loss on target tokens only.

    Returns: {"input_ids": (B, T), "attention_mask": (B, T), "labels": (B, T)} with labels -100 on
    prompt and padding positions (decoder-only: labels align with input_ids, the model shifts them);
    for seq2seq students the labels are the target ids, (B, T_target).
    """
    if len(prompts) != len(targets):
        raise LabkitError(f"encode_pairs: {len(prompts)} prompts but {len(targets)} targets")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return collate([encode_example(tokenizer, p, t, max_len, seq2seq=seq2seq) for p, t in zip(prompts, targets)], pad)


def count_target_tokens(labels: torch.Tensor, seq2seq: bool = False) -> int:
    """Tokens that carry loss: labels != -100 (decoder-only: the first position predicts nothing)."""
    return int((labels != IGNORE).sum() if seq2seq else (labels[:, 1:] != IGNORE).sum())


# --------------------------------------------------------------------------- batching

def step_schedule(lengths: list[int], config: TrainConfig, epoch: int) -> list[list[int]]:
    """The example indices of every optimiser step of one epoch (a deterministic function of the seed).

    Length bucketing: shuffle, cut into mega-batches of `bucket_mult` effective batches, sort each
    by length, cut into effective batches, and shuffle the order of those batches. Examples of
    similar length share a batch, so little padding is computed, while the order stays random.
    """
    n, eff = len(lengths), config.batch_size * config.grad_accum
    g = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    order = torch.randperm(n, generator=g).tolist()
    batches = []
    mega = eff * config.bucket_mult
    for s in range(0, n, mega):
        chunk = order[s: s + mega]
        if config.bucket_mult > 1:
            chunk = sorted(chunk, key=lambda i: lengths[i])
        batches += [chunk[j: j + eff] for j in range(0, len(chunk), eff)]
    if config.bucket_mult > 1:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
    return batches


def step_indices(lengths: list[int], config: TrainConfig, step: int) -> list[int]:
    """Indices of optimiser step `step` (0-based), cycling through epochs."""
    per_epoch = math.ceil(len(lengths) / (config.batch_size * config.grad_accum))
    return step_schedule(lengths, config, step // per_epoch)[step % per_epoch]


def micro_batches(indices: list[int], config: TrainConfig) -> list[list[int]]:
    return [indices[i: i + config.batch_size] for i in range(0, len(indices), config.batch_size)]


# --------------------------------------------------------------------------- loss on target tokens

def _backbone_and_head(model):
    try:
        return model.get_decoder(), model.get_output_embeddings()
    except (AttributeError, NotImplementedError, ValueError):
        return None, None


def target_token_loss(model, batch: dict[str, torch.Tensor], reduction: str = "sum") -> torch.Tensor:
    """Cross-entropy of the model on the target tokens of a collated batch (see `collate`).

    Decoder-only: the output head runs only at the positions that predict a target token, so the
    (T, V) logits of the prompt and the padding are never built (SmolLM2: V = 49152).
    reduction: "sum" (for token-normalised accumulation) or "mean" over target tokens.
    """
    from labkit import losses
    labels = batch["labels"]
    if is_seq2seq(model):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).logits
        return losses.token_cross_entropy(logits.float(), labels, reduction=reduction)   # (B, L, V) vs (B, L)
    targets = labels[:, 1:]                                                    # (B, T-1): token t+1 at t
    keep = targets != IGNORE
    backbone, head = _backbone_and_head(model)
    if backbone is not None and head is not None:
        hidden = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        logits = head(hidden[:, :-1][keep])                                   # (N, V), N target tokens
    else:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1][keep]
    return losses.token_cross_entropy(logits.float(), targets[keep], reduction=reduction)


# --------------------------------------------------------------------------- optimiser, checkpoints

def make_optimizer(model, config: TrainConfig):
    """AdamW on the trainable parameters + linear warmup then linear decay to 0."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise LabkitError("the model has no trainable parameters (frozen model? LoRA with no targets?)")
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    warm, total = config.warmup_steps, config.steps

    def factor(step: int) -> float:   # step = number of optimiser steps done so far
        if step < warm:
            return (step + 1) / (warm + 1)
        return max(0.0, (total - step) / max(1, total - warm))
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _trainable_state(model) -> dict:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def latest_checkpoint(checkpoint_dir) -> Path | None:
    files = sorted(Path(checkpoint_dir).glob("step-*.pt")) if checkpoint_dir else []
    return files[-1] if files else None


def save_checkpoint(path, model, optimizer, scheduler, step: int, history: History) -> Path:
    """Trainable weights + optimiser + scheduler + RNG + step + history, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": _trainable_state(model), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "rng": _rng_state(), "step": step,
             "history": history.to_dict()}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path, model, optimizer, scheduler) -> tuple[int, History]:
    state = torch.load(path, map_location="cpu", weights_only=False)
    missing = set(state["model"]) - {n for n, _ in model.named_parameters()}
    if missing:
        raise LabkitError(f"checkpoint {path} does not fit this model: unknown parameters {sorted(missing)[:3]}")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, v in state["model"].items():
            params[n].copy_(v.to(params[n].device))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    _set_rng_state(state["rng"])
    return state["step"], History.from_dict(state["history"])


# --------------------------------------------------------------------------- the shared loop

def _progress(config: TrainConfig, total: int, initial: int, desc: str):
    if not config.progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True)


def run_loop(model, config: TrainConfig, *, n_examples: int, lengths: list[int],
             count_tokens: Callable[[list[int]], dict[str, int]],
             micro_loss: Callable[[list[int], dict[str, int]], tuple[torch.Tensor, dict[str, float]]],
             desc: str = "train", meta: dict | None = None) -> History:
    """Optimise `model` for config.steps steps; return the History.

    Args:
        n_examples, lengths: the training examples (by index) and their token lengths (for bucketing).
        count_tokens(indices) -> {term: N_t}: tokens carrying each loss term in these examples,
            known before any forward pass (from the labels).
        micro_loss(indices, totals) -> (loss, parts): the loss of one micro-batch, each term's
            token-summed loss divided by totals[term] (the step's count), weighted; `parts` are the
            unweighted normalised terms as floats. Summed over micro-batches they give the step's
            loss exactly, so backward() per micro-batch accumulates the right gradient.
    """
    if len(lengths) != n_examples or n_examples == 0:
        raise LabkitError(f"run_loop: need one length per example and at least one example, got "
                          f"{n_examples} examples and {len(lengths)} lengths")
    set_seed(config.seed)
    device, autocast = resolve(model, config)
    model.train()
    optimizer, scheduler = make_optimizer(model, config)
    history, start = History(meta={"config": config.to_dict(), **(meta or {})}), 0
    ckpt = latest_checkpoint(config.checkpoint_dir) if config.resume else None
    if ckpt is not None:
        start, history = load_checkpoint(ckpt, model, optimizer, scheduler)
    bar = _progress(config, config.steps, start, desc)
    for step in range(start, config.steps):
        t0 = time.perf_counter()
        indices = step_indices(lengths, config, step)
        totals = count_tokens(indices)
        optimizer.zero_grad(set_to_none=True)
        loss_sum, parts_sum = 0.0, {}
        for mb in micro_batches(indices, config):
            with autocast():
                loss, parts = micro_loss(mb, totals)
            if loss.requires_grad:
                loss.backward()
            loss_sum += float(loss.detach())
            for k, v in parts.items():
                parts_sum[k] = parts_sum.get(k, 0.0) + v
        if config.max_grad_norm > 0:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(
                [p for p in model.parameters() if p.requires_grad], config.max_grad_norm))
        else:
            grad_norm = float("nan")
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        row = {"step": step + 1, "loss": loss_sum,
               **{f"loss/{k}": v for k, v in parts_sum.items() if totals.get(k, 1) > 0},
               "lr": lr, "grad_norm": grad_norm, "tokens": int(sum(totals.values())),
               "tokens_seen": int(sum(lengths[i] for i in indices)), "seconds": time.perf_counter() - t0}
        history.log(**row)
        if bar is not None:
            bar.update(1)
            if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
                bar.set_postfix({"loss": f"{loss_sum:.3f}",
                                 **{k: f"{v:.3f}" for k, v in parts_sum.items()}}, refresh=False)
        if config.checkpoint_dir and ((config.save_every and (step + 1) % config.save_every == 0)
                                      or step + 1 == config.steps):
            save_checkpoint(Path(config.checkpoint_dir) / f"step-{step + 1:06d}.pt",
                            model, optimizer, scheduler, step + 1, history)
    if bar is not None:
        bar.close()
    model.eval()
    return history


# --------------------------------------------------------------------------- multi-task (DSS, TinyLLM)

def task_weights(tasks: dict[str, float], form: str = "tinyllm", alpha: float = 0.5) -> dict[str, float]:
    """Weights of the loss terms.

    form "tinyllm": L = w_answer·L_A + Σ_m α_m L_Tm, the weights as given in `tasks`.
    form "dss": L = α·L_A + (1-α)·Σ_m (α_m/Σα) L_Tm (distilling step-by-step's λ form; with one
    teacher it is α·L_label + (1-α)·L_rationale, α = 0.5 in the paper's code).
    """
    for t, w in tasks.items():
        if t != "answer" and not t.startswith("rationale:"):
            raise LabkitError(f"tasks: unknown task {t!r}; expected 'answer' or 'rationale:<teacher>'")
        if not isinstance(w, (int, float)) or w < 0:
            raise LabkitError(f"tasks[{t!r}]={w!r}: expected a weight >= 0")
    if form == "tinyllm":
        return dict(tasks)
    if form == "dss":
        if not 0 <= alpha <= 1:
            raise LabkitError(f"alpha={alpha!r}: expected 0 <= alpha <= 1 for form='dss'")
        rat = {t: w for t, w in tasks.items() if t != "answer"}
        total = sum(rat.values()) or 1.0
        return {"answer": alpha, **{t: (1 - alpha) * w / total for t, w in rat.items()}}
    raise LabkitError(f"form={form!r}: expected 'tinyllm' or 'dss'")


def build_multitask_examples(tokenizer, records, tasks: dict[str, float], *, label_source: str = "gold",
                             max_len: int = 256, seq2seq: bool = False):
    """Encode every (record, task) pair that has a target.

    Returns (examples, skipped): examples[i] = {task: encoded example} for record i (records with no
    target at all are dropped), skipped = {task: number of records lacking that task's target}.
    """
    from labkit.prompts import student_prompt, student_target
    examples, skipped = [], dict.fromkeys(tasks, 0)
    for r in records:
        ex = {}
        for task in tasks:
            target = student_target(r, task, label_source if task == "answer" else "gold")
            if target is None:
                skipped[task] += 1
                continue
            ex[task] = encode_example(tokenizer, student_prompt(r, task), target, max_len, seq2seq=seq2seq)
        if ex:
            examples.append(ex)
    return examples, skipped


def train_multitask(model, tokenizer, records, *, tasks: dict[str, float], label_source: str = "gold",
                    config: TrainConfig | None = None, form: str = "tinyllm", alpha: float = 0.5) -> History:
    """Rationale-supervised multi-task training (distilling step-by-step, TinyLLM).

    Each record gives one example per task: "[answer] Q... A:" -> " (b) water" (gold labels, or a
    teacher's labels with label_source=<teacher>) and "[rationale:<teacher>] Q... A:" -> the
    teacher's rationale. Per step, with N_t the target tokens of task t in the step:

        L = Σ_t w_t · (Σ CE over task-t target tokens) / N_t        (losses.multitask_loss)

    Records lacking a teacher's rationale simply skip that term. Standard fine-tuning is
    tasks={"answer": 1.0}; standard distillation adds label_source=<teacher>.

    Args:
        model: a causal LM or a seq2seq (T5) model; a string is loaded with labkit.models.load_model
            (with config.lora_r); an unwrapped module gets LoRA adapters when config.lora_r > 0.
        tokenizer: its tokenizer (pad token set).
        records: labkit.data.Record list.
        tasks: {"answer": 1.0, "rationale:<teacher>": α_m, ...}.
        label_source: "gold" or a teacher name (its teacher_labels) for the answer task.
        form: "tinyllm" (weights as given) or "dss" (α·L_A + (1-α)·L_rationale, see task_weights).
    Returns:
        History with "loss", "loss/<task>" per step, lr, tokens, seconds; meta has the weights and
        how many records lacked each task.
    """
    from labkit import losses
    config = config or TrainConfig()
    weights = task_weights(tasks, form, alpha)
    if isinstance(model, str):
        from labkit import models
        model = models.load_model(model, device=config.device, lora_r=config.lora_r)
    else:
        model = apply_lora(model, config.lora_r, seed=config.seed)
    seq2seq = is_seq2seq(model)
    examples, skipped = build_multitask_examples(tokenizer, records, weights, label_source=label_source,
                                                 max_len=config.max_len, seq2seq=seq2seq)
    if not examples:
        raise LabkitError(f"train_multitask: none of the {len(records)} records has a target for tasks "
                          f"{list(tasks)} (label_source={label_source!r})")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    lengths = [sum(len(e["input_ids"]) for e in ex.values()) for ex in examples]
    device = None

    def count_tokens(indices):
        totals = dict.fromkeys(weights, 0)
        for i in indices:
            for task, e in examples[i].items():
                totals[task] += sum(1 for y in (e["labels"] if seq2seq else e["labels"][1:]) if y != IGNORE)
        return totals

    def micro_loss(indices, totals):
        nonlocal device
        device = device or model_device(model)
        per_task = {}
        for task in weights:                                  # one forward per task: tight padding
            batch = [examples[i][task] for i in indices if task in examples[i]]
            if not batch or totals[task] == 0 or weights[task] == 0:
                continue
            b = {k: v.to(device) for k, v in collate(batch, pad).items()}
            per_task[task] = target_token_loss(model, b, reduction="sum") / totals[task]
        if not per_task:                                      # no target in this micro-batch
            return torch.zeros((), device=device), {}
        total, parts = losses.multitask_loss(per_task, {t: weights[t] for t in per_task})
        parts.pop("total", None)                              # the loop logs the total itself
        return total, parts

    meta = {"tasks": dict(tasks), "weights": weights, "form": form, "label_source": label_source,
            "n_records": len(examples), "skipped": skipped, "seq2seq": seq2seq}
    return run_loop(model, config, n_examples=len(examples), lengths=lengths, count_tokens=count_tokens,
                    micro_loss=micro_loss, desc="multitask", meta=meta)
