"""Shared test settings, and the data of the rationale-training tests (loop, dss, tinyllm)."""

import pytest
import torch

from labkit import data, tiny
from labkit.loop import TrainConfig


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread: two OpenMP threads spin against any other job on a 2-core CPU
    (measured 10-30x slower on the shared development machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tok():
    """A tiny byte-level BPE tokenizer (tests/methods/conftest.py has its own for the white-box tests)."""
    return tiny.train_tokenizer(tiny.default_corpus(n=200), vocab_size=400)


@pytest.fixture(scope="session")
def records():
    """32 synthetic questions with two scripted rationales; every fourth lacks the second one."""
    recs = data.generate_synthetic("arithmetic", "train", n=32, seed=0)
    for i, r in enumerate(recs):
        r.rationales["oracle"] = r.solution
        if i % 4 == 3:
            continue
        r.rationales["short"] = r.solution.split("\n")[-1]
    return recs


@pytest.fixture(scope="session")
def cfg():
    """cfg(**overrides): a small CPU TrainConfig without progress bars or clipping."""

    def make(**kw):
        base = dict(steps=4, batch_size=4, lr=3e-3, progress=False, bf16=False, device="cpu", max_grad_norm=0.0)
        return TrainConfig(**{**base, **kw})

    return make
