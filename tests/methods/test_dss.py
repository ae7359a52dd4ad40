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


def test_lam_is_the_papers_form_label_plus_lambda_rationale():
    from labkit.errors import LabkitError

    assert dss.DSSSettings(teacher="t", lam=2.0).weights() == {"answer": 1.0, "rationale:t": 2.0}
    assert dss.DSSSettings(teacher="t", alpha=0.3).weights() == {"answer": 0.3, "rationale:t": pytest.approx(0.7)}
    assert dss.DSSSettings(lam=2.0).weights() == {"answer": 1.0}  # no teacher: no rationale task
    with pytest.raises(LabkitError, match="DSSSettings.lam=-1"):
        dss.DSSSettings(teacher="t", lam=-1)
