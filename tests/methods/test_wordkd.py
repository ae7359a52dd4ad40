"""Word-level KD and SFT (labkit.methods.wordkd, labkit.methods.sft): losses fall, the visible loss mix,
settings and vocabulary checks before the first step."""

from __future__ import annotations

import pytest
import torch

from labkit.errors import LabkitError
from labkit.methods import gkd, minillm, seqkd, sft, wordkd


def test_vocab_mismatch_is_caught_before_the_first_step(tok, teacher, kd):
    student = kd.student()
    student.resize_token_embeddings(len(tok) + 8)
    before = [p.detach().clone() for p in student.parameters()]
    calls = [
        lambda: wordkd.train(student, teacher, tok, kd.PROMPTS, kd.TARGETS, config=kd.cfg()),
        lambda: seqkd.train(student, teacher, tok, kd.PROMPTS, config=kd.cfg()),
        lambda: gkd.train(student, teacher, tok, kd.PROMPTS, config=kd.cfg()),
        lambda: minillm.train(student, teacher, tok, kd.PROMPTS, config=kd.cfg()),
    ]
    for call in calls:
        with pytest.raises(LabkitError, match="vocabulary size mismatch"):
            call()
    assert all(torch.equal(a, b) for a, b in zip(before, student.parameters()))


def test_bad_switches_are_rejected(tok, teacher, kd):
    with pytest.raises(LabkitError, match="lm_weight"):
        minillm.train(kd.student(), teacher, tok, kd.PROMPTS, lm_weight=0.5, config=kd.cfg())
    with pytest.raises(LabkitError, match="teacher_mix"):
        minillm.train(kd.student(), teacher, tok, kd.PROMPTS, teacher_mix=1.0, config=kd.cfg())
    with pytest.raises(LabkitError, match="lmbda"):
        gkd.train(kd.student(), teacher, tok, kd.PROMPTS, lmbda=1.5, config=kd.cfg())
    with pytest.raises(LabkitError, match="kind"):
        wordkd.train(kd.student(), teacher, tok, kd.PROMPTS, kd.TARGETS, kind="kl", config=kd.cfg())


def test_sft_and_word_level_kd_losses_fall(tok, teacher, kd):
    h = sft.train(kd.student(), tok, kd.PROMPTS, kd.TARGETS, config=kd.cfg())
    ok, a, b = kd.falls(h.series("loss/ce"))
    assert ok and b < 0.8 * a, (a, b)
    for kind, ce_weight in (("forward_kl", 0.25), ("reverse_kl", 0.0), ("jsd", 0.0)):
        h = wordkd.train(
            kd.student(), teacher, tok, kd.PROMPTS, kd.TARGETS, kind=kind, ce_weight=ce_weight, config=kd.cfg()
        )
        ok, a, b = kd.falls(h.series("loss/kd"))
        assert ok and b < 0.8 * a, (kind, a, b)
        # the visible mix: loss = (1 - kd_ratio) * ce + kd_ratio * kd with kd_ratio = 1 - ce_weight
        row = h.rows[-1]
        assert row["loss"] == pytest.approx(ce_weight * row["loss/ce"] + (1 - ce_weight) * row["loss/kd"], rel=1e-5)
