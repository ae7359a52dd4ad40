"""TinyLLM (labkit.methods.tinyllm): L = L_A + Σ_m α_m L_Tm falls and is the logged mix; records missing a
teacher's rationale skip that term."""

import copy

import pytest

from labkit import tiny
from labkit.errors import LabkitError
from labkit.methods import base, tinyllm


def test_loss_falls_decoder_only(tok, records, cfg):
    model = tiny.tiny_causal_lm(tok)
    h = tinyllm.train(model, tok, records, alphas={"oracle": 0.5}, config=cfg(steps=30, batch_size=8))
    assert len(h) == 30 and {"loss/answer", "loss/rationale:oracle"} <= set(h.keys())
    for key in ("loss/answer", "loss/rationale:oracle"):
        s = h.series(key)
        assert sum(s[-5:]) / 5 < 0.7 * sum(s[:3]) / 3, key
    r = h.rows[-1]
    assert r["loss"] == pytest.approx(r["loss/answer"] + 0.5 * r["loss/rationale:oracle"], rel=1e-5)
    assert r["tokens"] > 0 and r["seconds"] > 0 and h.meta["weights"] == {"answer": 1.0, "rationale:oracle": 0.5}


def test_missing_rationales_skip_their_term_and_teacher_labels(tok, records, cfg):
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
