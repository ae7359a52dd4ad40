"""The one training loop every method uses: a config, a history, and `run_loop(model, config, objective)`.

    import labkit as lk
    cfg = lk.loop.TrainConfig(steps=200, batch_size=8, lr=5e-4)
    history = lk.loop.run_loop(student, cfg, objective)     # objective: what a method plugs in
    history.series("loss"), history.series("loss/kd")

A method (labkit.methods.*) is an `Objective`: the token lengths of its training examples (for
length bucketing), `prepare(indices)` (once per optimiser step: pick or sample the step's
sequences, count the tokens of each loss term) and `loss(indices, totals)` (one micro-batch).
The loop owns everything else, visibly, in `run_loop` below: seeding, AdamW with linear warmup
and decay, bf16 autocast, gradient accumulation, clipping, checkpoints with resume, the
progress bar and the history.

Compute ledger (labkit.compute). Every history row also holds the step's floating-point operations,
"flops/<part>" (train, sample, teacher, reward, reference), and their running total "flops", so that runs
can be compared at equal compute as well as at equal steps. The training part defaults to a forward and
backward over each example's tokens (``Objective.trained_lengths``); an objective that samples or runs a
teacher counts those itself (``Objective.flops``, labkit.methods.base.RolloutObjective).

Loss normalisation. One optimiser step sees `batch_size * grad_accum` examples, split in
`grad_accum` micro-batches. For each loss term t the step loss is the mean over *all tokens of
that term in the step*: L_t = Σ_micro Σ_tokens loss / N_t, N_t counted by `prepare` before the
first micro-batch runs. The gradient is therefore independent of how the step is split
(2×2 == 4×1 up to float rounding), unlike averaging per micro-batch.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from labkit import compute, models
from labkit.errors import LabkitError

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
        bf16: "auto" (bf16 autocast where the device supports it, but float32 on a CPU for models under
            labkit.models.CPU_BF16_MIN_PARAMS parameters, where it is faster: labkit.models.bf16_auto), True or False.
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
        need(
            isinstance(self.warmup, (int, float))
            and self.warmup >= 0
            and (self.warmup < 1 or float(self.warmup).is_integer()),
            "warmup",
            "a fraction in [0, 1) or a whole number of steps",
        )
        need(isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0, "weight_decay", "a number >= 0")
        need(isinstance(self.save_every, int) and self.save_every >= 0, "save_every", "an integer >= 0")
        need(isinstance(self.max_grad_norm, (int, float)) and self.max_grad_norm >= 0, "max_grad_norm", "a number >= 0")
        need(self.save_every == 0 or self.checkpoint_dir is not None, "save_every", "0 unless checkpoint_dir is set")

    @property
    def warmup_steps(self) -> int:
        return int(self.warmup) if self.warmup >= 1 else int(round(self.warmup * self.steps))

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- history


@dataclass
class History:
    """One row (a dict) per optimiser step: step, loss, every loss term, lr, tokens, seconds, FLOPs.

    Loss terms are logged as "loss/<term>" (e.g. "loss/answer", "loss/rationale:palm-540b");
    "loss" is the weighted total that was optimised. "flops/<part>" are the step's floating-point
    operations by part (labkit.compute) and "flops" their running total. `meta` holds the config and names.
    """

    rows: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def log(self, **row) -> None:
        self.rows.append(row)

    def series(self, key: str) -> list:
        """Values of `key` over the rows that have it (steps where a term was absent are skipped)."""
        return [r[key] for r in self.rows if key in r]

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

    def compute(self) -> list[float]:
        """Cumulative FLOPs after each step (the ledger's "flops"; steps logged without it are skipped)."""
        return self.series("flops")

    def flops_by_part(self) -> dict[str, float]:
        """{part: FLOPs summed over the steps} for every "flops/<part>" the rows hold."""
        return {k.split("/", 1)[1]: float(sum(self.series(k))) for k in self.keys() if k.startswith("flops/")}

    def __len__(self) -> int:
        return len(self.rows)

    def to_dict(self) -> dict:
        return {"rows": [dict(r) for r in self.rows], "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, d: dict) -> History:
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


def resolve(model, config: TrainConfig):
    """Move the model to config.device; return (device, autocast context factory)."""
    device = models.resolve_device(config.device)
    if next(model.parameters()).device != device:
        model.to(device)
    enabled = models.bf16_auto(device, model) if config.bf16 == "auto" else bool(config.bf16)
    return device, (lambda: models.autocast(device, enabled=enabled))


def prepare_model(model, config: TrainConfig):
    """A name is loaded with labkit.models (LoRA of rank config.lora_r); a module gets LoRA adapters
    when config.lora_r > 0 (seeded by config.seed) unless it already has them."""
    if isinstance(model, str):
        return models.load_model(model, device=config.device, lora_r=config.lora_r)
    if config.lora_r == 0 or hasattr(model, "peft_config"):
        return model
    torch.manual_seed(config.seed)
    return models.add_lora(model, config.lora_r)


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
        chunk = order[s : s + mega]
        if config.bucket_mult > 1:
            chunk = sorted(chunk, key=lambda i: lengths[i])
        batches += [chunk[j : j + eff] for j in range(0, len(chunk), eff)]
    if config.bucket_mult > 1:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
    return batches


def step_indices(lengths: list[int], config: TrainConfig, step: int) -> list[int]:
    """Indices of optimiser step `step` (0-based), cycling through epochs."""
    per_epoch = math.ceil(len(lengths) / (config.batch_size * config.grad_accum))
    return step_schedule(lengths, config, step // per_epoch)[step % per_epoch]


def micro_batches(indices: list[int], config: TrainConfig) -> list[list[int]]:
    return [indices[i : i + config.batch_size] for i in range(0, len(indices), config.batch_size)]


# --------------------------------------------------------------------------- optimiser, checkpoints


def make_optimizer(model, config: TrainConfig):
    """AdamW on the trainable parameters + linear warmup then linear decay to 0."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise LabkitError("the model has no trainable parameters (frozen model? LoRA with no targets?)")
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    warm, total = config.warmup_steps, config.steps

    def factor(step: int) -> float:  # step = number of optimiser steps done so far
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
    state = {
        "model": _trainable_state(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": _rng_state(),
        "step": step,
        "history": history.to_dict(),
    }
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


# --------------------------------------------------------------------------- what a method plugs in


class Objective:
    """A method's part of training: its examples, what each step trains on, and the loss.

    Subclasses implement ``lengths``, ``prepare`` and ``loss``; ``stats`` collects per-step
    statistics that are not losses (rewards, sampling flags, ...), which ``run_loop`` adds to the
    step's history row. ``meta`` goes into ``History.meta``.
    """

    name = "objective"

    def __init__(self):
        self.stats: dict[str, float] = {}
        self.meta: dict = {}

    def lengths(self) -> list[int]:
        """Token length of every training example (for length bucketing)."""
        raise NotImplementedError

    def prepare(self, indices: list[int]) -> dict[str, int]:
        """Once per optimiser step: choose the step's sequences; return {loss term: tokens it counts}."""
        raise NotImplementedError

    def loss(self, indices: list[int], totals: dict[str, int]) -> tuple[torch.Tensor, dict[str, float]]:
        """One micro-batch: (loss to backpropagate, {term: value}); each term's token sum divided by
        totals[term], so that the micro-batch losses add up to the step's loss."""
        raise NotImplementedError

    def log(self, **values: float) -> None:
        """Add values to this step's statistics (summed over micro-batches)."""
        for k, v in values.items():
            self.stats[k] = self.stats.get(k, 0.0) + float(v)

    def trained_lengths(self, indices: list[int], lengths: list[int]) -> list[int]:
        """Token length of every sequence the step trained on (default: each example's ``lengths()`` entry)."""
        return [lengths[i] for i in indices]

    def flops(self, indices: list[int], lengths: list[int], student: compute.Spec) -> dict[str, float]:
        """The step's FLOPs by part (labkit.compute.PARTS): the "flops/<part>" statistics the objective logged,
        plus the student's forward and backward over ``trained_lengths`` unless it logged "flops/train"."""
        out = {k.split("/", 1)[1]: v for k, v in self.stats.items() if k.startswith("flops/")}
        if "train" not in out:
            out["train"] = compute.train_flops(student, self.trained_lengths(indices, lengths))
        return out


# --------------------------------------------------------------------------- the loop


def run_loop(
    model, config: TrainConfig, objective: Objective, on_step: Callable[[int, History], None] | None = None
) -> History:
    """Optimise `model` on `objective` for config.steps optimiser steps; return the History.

    History rows: step, "loss" (what was optimised), "loss/<term>" (each term, unweighted), lr,
    grad_norm, tokens (loss-carrying), tokens_seen, seconds, and the objective's step statistics.
    on_step(step, history) runs after each optimiser step (e.g. to score a validation set; the model
    is back in training mode afterwards), outside the step's timing.
    """
    lengths = objective.lengths()
    if not lengths:
        raise LabkitError(f"{objective.name}: no training examples")
    set_seed(config.seed)
    device, autocast = resolve(model, config)
    model.train()
    optimizer, scheduler = make_optimizer(model, config)
    history, start = History(meta={"config": config.to_dict(), "method": objective.name, **objective.meta}), 0
    ckpt = latest_checkpoint(config.checkpoint_dir) if config.resume else None
    if ckpt is not None:
        start, history = load_checkpoint(ckpt, model, optimizer, scheduler)
    bar = tqdm(total=config.steps, initial=start, desc=objective.name, dynamic_ncols=True) if config.progress else None
    student_spec, spent = compute.spec_of(model), float(history.last("flops", 0.0))
    for step in range(start, config.steps):
        t0 = time.perf_counter()
        indices = step_indices(lengths, config, step)
        objective.stats = {}
        with autocast():
            totals = objective.prepare(indices)
        optimizer.zero_grad(set_to_none=True)
        loss_sum, parts_sum = 0.0, {}
        for mb in micro_batches(indices, config):
            with autocast():
                loss, parts = objective.loss(mb, totals)
            if loss.requires_grad:
                loss.backward()
            loss_sum += float(loss.detach())
            for k, v in parts.items():
                parts_sum[k] = parts_sum.get(k, 0.0) + v
        trainable = [p for p in model.parameters() if p.requires_grad]
        grad_norm = (
            float(torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm))
            if config.max_grad_norm > 0
            else float("nan")
        )
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        flops = {f"flops/{k}": v for k, v in objective.flops(indices, lengths, student_spec).items()}
        spent += sum(flops.values())
        history.log(
            step=step + 1,
            loss=loss_sum,
            **{f"loss/{k}": v for k, v in parts_sum.items() if totals.get(k, 1) > 0},
            lr=lr,
            grad_norm=grad_norm,
            tokens=int(sum(totals.values())),
            tokens_seen=int(sum(lengths[i] for i in indices)),
            seconds=time.perf_counter() - t0,
            **{k: v for k, v in objective.stats.items() if not k.startswith("flops/")},
            **flops,
            flops=spent,
        )
        if on_step is not None:
            on_step(step + 1, history)
            model.train()
        if bar is not None:
            bar.update(1)
            if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
                bar.set_postfix(
                    {"loss": f"{loss_sum:.3f}", **{k: f"{v:.3f}" for k, v in parts_sum.items()}}, refresh=False
                )
        if config.checkpoint_dir and (
            (config.save_every and (step + 1) % config.save_every == 0) or step + 1 == config.steps
        ):
            save_checkpoint(
                Path(config.checkpoint_dir) / f"step-{step + 1:06d}.pt", model, optimizer, scheduler, step + 1, history
            )
    if bar is not None:
        bar.close()
    model.eval()
    return history
