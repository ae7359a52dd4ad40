"""Shared set-up of the method tests: a tiny tokenizer, a sharpened tiny teacher, small students,
eight prompt/target pairs, and helpers (a TrainConfig, "the loss fell", the first-step gradient)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from labkit import tiny
from labkit.loop import TrainConfig

PROMPTS = [
    f"Q: {a} has {n} {o}. How many?\nA:"
    for a, n, o in zip(
        ["Ann", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi"],
        range(3, 11),
        ["apples", "pens", "cups", "hats", "keys", "coins", "books", "cards"],
    )
]
TARGETS = [
    f" {n} {o}." for n, o in zip(range(3, 11), ["apples", "pens", "cups", "hats", "keys", "coins", "books", "cards"])
]


@pytest.fixture(scope="session")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=120), vocab_size=320)


@pytest.fixture(scope="session")
def teacher(tok):
    """A 2-layer tiny LM with sharpened output (×6 on the final norm), so that it has clear modes."""
    t = tiny.tiny_causal_lm(tok, n_layers=2, hidden=64, heads=4, seed=1)
    with torch.no_grad():
        t.model.norm.weight.mul_(6.0)
    return t.eval()


def _cfg(**kw):
    base = dict(steps=12, batch_size=4, lr=5e-3, progress=False, max_len=64, bf16=False, warmup=0, log_every=4)
    base.update(kw)
    return TrainConfig(**base)


def _falls(series, k=3):
    first, last = sum(series[:k]) / k, sum(series[-k:]) / k
    return last < first, first, last


def _first_step_gradient(run, tmp_path):
    """Run one optimiser step with checkpoints; AdamW's first exp_avg is 0.1 * gradient (no clipping)."""
    run(_cfg(steps=1, batch_size=8, max_grad_norm=0, checkpoint_dir=str(tmp_path)))
    state = torch.load(next(tmp_path.glob("step-*.pt")), weights_only=False)["optimizer"]["state"]
    return [s["exp_avg"] / 0.1 for _, s in sorted(state.items())]


@pytest.fixture(scope="session")
def kd(tok):
    """Helpers of the white-box tests: kd.student(seed), kd.cfg(**kw), kd.falls(series), kd.first_step_gradient."""
    return SimpleNamespace(
        student=lambda seed=2: tiny.tiny_causal_lm(tok, n_layers=1, hidden=64, heads=4, seed=seed),
        cfg=_cfg,
        falls=_falls,
        first_step_gradient=_first_step_gradient,
        PROMPTS=PROMPTS,
        TARGETS=TARGETS,
    )
