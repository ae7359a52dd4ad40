"""Distilling step-by-step (labkit.methods.dss): α·L_label + (1-α)·L_rationale on a seq2seq (T5) student."""

import pytest

from labkit import tiny
from labkit.methods import dss


def test_loss_falls_seq2seq_and_dss_form(tok, records, cfg):
    model = tiny.tiny_seq2seq(tok)
    h = dss.train(model, tok, records, teacher="oracle", alpha=0.3, config=cfg(steps=30, batch_size=8))
    assert h.meta["seq2seq"] and h.meta["weights"] == {"answer": 0.3, "rationale:oracle": pytest.approx(0.7)}
    s = h.series("loss/answer")
    assert sum(s[-5:]) / 5 < 0.6 * sum(s[:3]) / 3
    r = h.rows[-1]
    assert r["loss"] == pytest.approx(0.3 * r["loss/answer"] + 0.7 * r["loss/rationale:oracle"], rel=1e-5)
