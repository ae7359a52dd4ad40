"""TinyLLM (labkit.methods.tinyllm): L = L_A + Σ_m α_m L_Tm falls and is the logged mix; records missing a
teacher's rationale skip that term."""
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


def test_loss_falls_decoder_only(tok, records):
    model = tiny.tiny_causal_lm(tok)
    h = tinyllm.train(model, tok, records, alphas={"oracle": 0.5}, config=cfg(steps=30, batch_size=8))
    assert len(h) == 30 and {"loss/answer", "loss/rationale:oracle"} <= set(h.keys())
    for key in ("loss/answer", "loss/rationale:oracle"):
        s = h.series(key)
        assert sum(s[-5:]) / 5 < 0.7 * sum(s[:3]) / 3, key
    r = h.rows[-1]
    assert r["loss"] == pytest.approx(r["loss/answer"] + 0.5 * r["loss/rationale:oracle"], rel=1e-5)
    assert r["tokens"] > 0 and r["seconds"] > 0 and h.meta["weights"] == {"answer": 1.0, "rationale:oracle": 0.5}


def test_missing_rationales_skip_their_term_and_teacher_labels(tok, records):
    recs = copy.deepcopy(records[:8])
    for r in recs[:5]:
        r.teacher_labels["t"] = r.choices[0]
    model = tiny.tiny_causal_lm(tok)
    h = tinyllm.train(model, tok, recs, alphas={"short": 1.0}, label_source="t", config=cfg(steps=2))
    assert h.meta["skipped"] == {"answer": 3, "rationale:short": 2}
    with pytest.raises(LabkitError, match="expected 'answer' or 'rationale:<teacher>'"):
        base.train_multitask(model, tok, recs, {"label": 1.0}, config=cfg(steps=1))
    with pytest.raises(LabkitError, match="alphas"):
        tinyllm.train(model, tok, recs, alphas={"short": -1.0}, config=cfg(steps=1))
