"""Distilling step-by-step (labkit.methods.dss): α·L_label + (1-α)·L_rationale on a seq2seq (T5) student."""
import copy

import pytest
import torch
import torch.nn.functional as F

from labkit import data, tiny
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.loop import History, TrainConfig, step_schedule
from labkit.methods import base, dss, tinyllm
from labkit.prompts import student_prompt, student_target


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=200), vocab_size=400)


@pytest.fixture(scope="module")
def records():
    recs = data.generate_synthetic("arithmetic", "train", n=32, seed=0)
    for i, r in enumerate(recs):
        r.rationales["oracle"] = r.solution
        if i % 4 == 3:                      # some records lack the second teacher's rationale
            continue
        r.rationales["short"] = r.solution.split("\n")[-1]
    return recs


def cfg(**kw):
    base = dict(steps=4, batch_size=4, lr=3e-3, progress=False, bf16=False, device="cpu", max_grad_norm=0.0)
    return TrainConfig(**{**base, **kw})


def test_loss_falls_seq2seq_and_dss_form(tok, records):
    model = tiny.tiny_seq2seq(tok)
    h = dss.train(model, tok, records, teacher="oracle", alpha=0.3, config=cfg(steps=30, batch_size=8))
    assert h.meta["seq2seq"] and h.meta["weights"] == {"answer": 0.3, "rationale:oracle": pytest.approx(0.7)}
    s = h.series("loss/answer")
    assert sum(s[-5:]) / 5 < 0.6 * sum(s[:3]) / 3
    r = h.rows[-1]
    assert r["loss"] == pytest.approx(0.3 * r["loss/answer"] + 0.7 * r["loss/rationale:oracle"], rel=1e-5)
