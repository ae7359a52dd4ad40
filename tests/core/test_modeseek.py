"""labkit.modeseek: closed forms vs numeric integration, exact sequence distributions,
and the mode-seeking facts notebook 00 reports."""

import math

import pytest
import torch

from labkit import modeseek as ms
from labkit.errors import LabkitError


def test_gaussian_kl_closed_form_matches_numeric_integration():
    x = ms.grid(-15, 15, 6001)
    p, q = ms.gaussian_pdf(x, 0.3, 1.2), ms.gaussian_pdf(x, -0.5, 0.8)
    assert ms.numeric_divergence(p, q, x, "forward_kl") == pytest.approx(ms.gaussian_kl(0.3, 1.2, -0.5, 0.8), rel=1e-6)
    assert ms.numeric_divergence(p, q, x, "reverse_kl") == pytest.approx(ms.gaussian_kl(-0.5, 0.8, 0.3, 1.2), rel=1e-6)
    assert ms.gaussian_kl(1.0, 2.0, 1.0, 2.0) == 0.0


def test_discrete_divergence_properties():
    g = torch.Generator().manual_seed(0)
    lp = torch.log_softmax(torch.randn(4, 7, generator=g, dtype=torch.float64), -1)
    lq = torch.log_softmax(torch.randn(4, 7, generator=g, dtype=torch.float64), -1)
    fkl = (lp.exp() * (lp - lq)).sum(-1)
    rkl = (lq.exp() * (lq - lp)).sum(-1)
    assert torch.allclose(ms.discrete_divergence(lq, lp, "forward_kl"), fkl)
    assert torch.allclose(ms.discrete_divergence(lq, lp, "jsd", 0.0), fkl)
    assert torch.allclose(ms.discrete_divergence(lq, lp, "jsd", 1.0), rkl)
    # JSD_0.5 by hand, symmetric, bounded by log 2, zero on identical inputs
    m = 0.5 * (lp.exp() + lq.exp())
    jsd = 0.5 * (lp.exp() * (lp - m.log())).sum(-1) + 0.5 * (lq.exp() * (lq - m.log())).sum(-1)
    assert torch.allclose(ms.discrete_divergence(lq, lp, "jsd", 0.5), jsd)
    assert torch.allclose(ms.discrete_divergence(lp, lq, "jsd", 0.5), jsd)
    assert (jsd <= math.log(2)).all()
    assert torch.allclose(ms.discrete_divergence(lp, lp, "jsd", 0.3), torch.zeros(4, dtype=torch.float64))
    with pytest.raises(LabkitError):
        ms.discrete_divergence(lq, lp, "nope")


def test_reference_agrees_with_labkit_losses():
    losses = pytest.importorskip("labkit.losses")
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(3, 11, generator=g), torch.randn(3, 11, generator=g)
    for kind, beta in [("forward_kl", 0.5), ("reverse_kl", 0.5), ("jsd", 0.3)]:
        ref = ms.discrete_divergence(
            torch.log_softmax(s.double(), -1), torch.log_softmax(t.double(), -1), kind, beta
        ).mean()
        assert float(losses.divergence(s, t, kind=kind, beta=beta)) == pytest.approx(float(ref), rel=1e-4)


def test_forward_kl_fit_is_moment_matching_and_reverse_kl_seeks_the_heavier_mode():
    x = ms.grid()
    mixture = ms.two_modes(separation=6.0, weight=0.7)
    p = ms.mixture_pdf(x, *mixture)
    mu_f, sigma_f, _ = ms.fit_gaussian(x, p, "forward_kl")
    mu_c, sigma_c = ms.moment_matched(*mixture)  # μ = 0.7·(-3) + 0.3·3 = -1.2
    assert mu_c == pytest.approx(-1.2) and sigma_c == pytest.approx(math.sqrt(1 + 9 - 1.44))
    assert mu_f == pytest.approx(mu_c, abs=1e-3) and sigma_f == pytest.approx(sigma_c, abs=1e-3)
    mu_r, sigma_r, _ = ms.fit_gaussian(x, p, "reverse_kl")
    assert mu_r == pytest.approx(-3.0, abs=0.05) and sigma_r == pytest.approx(1.0, abs=0.05)
    mu_j, _, _ = ms.fit_gaussian(x, p, "jsd", beta=1.0)
    assert mu_j == pytest.approx(mu_r, abs=1e-3)


def test_sequence_teacher_is_an_exact_autoregressive_lm():
    t = ms.default_teacher(noise=0.05)
    lp = t.log_probs()
    assert lp.shape == (5**5,) and float(lp.exp().sum()) == pytest.approx(1.0, abs=1e-12)
    labels = ms.sequence_labels(5, 5)
    assert [labels[i] for i in t.mode_indices()] == ["abcba", "dbcbd", "ebcbe"]
    # chain rule: p(y) = Π_t p(y_t | y_<t) from the next-token conditionals
    for i in (t.mode_indices()[1], 17, 2024):
        y = t.sequences[i].tolist()
        chain = sum(float(t.next_token_log_probs(tuple(y[:k]))[y[k]]) for k in range(5))
        assert chain == pytest.approx(float(lp[i]), abs=1e-9)
    # mode probability = w (1-η)^5 + tiny contributions of the other modes
    assert float(lp.exp()[t.mode_indices()[0]]) == pytest.approx(0.45 * 0.95**5, rel=1e-3)


def test_ngram_student_log_probs_normalise_and_match_tables():
    s = ms.NgramStudent(3, 4, order=1, seed=0)
    seqs = ms.all_sequences(3, 4)
    lq = s.sequence_log_probs(seqs)
    assert float(lq.exp().sum()) == pytest.approx(1.0, abs=1e-5)
    table = torch.log_softmax(s.logits, -1)
    y = [2, 0, 1, 1]
    by_hand = table[0, 0, 2] + table[1, 2, 0] + table[2, 0, 1] + table[3, 1, 1]
    idx = (torch.tensor(y) * torch.tensor([27, 9, 3, 1])).sum()
    assert float(lq[idx]) == pytest.approx(float(by_hand), abs=1e-5)
    assert s.n_parameters() == 4 * 3 * 3


def test_reverse_kl_student_has_less_void_mass_and_forward_kl_covers_more_modes():
    t = ms.default_teacher()
    lp, modes = t.log_probs(), t.mode_indices()
    res = {
        k: ms.summary(ms.train_sequence_student(t, k, 0.5, order=1, steps=300, use_losses=False)[1], lp, modes)
        for k in ("forward_kl", "reverse_kl")
    }
    assert res["reverse_kl"]["void_mass"] < 0.5 * res["forward_kl"]["void_mass"]
    assert res["forward_kl"]["modes_covered"] == 3 and res["reverse_kl"]["modes_covered"] == 1
    assert res["forward_kl"]["forward_kl"] < res["reverse_kl"]["forward_kl"]
    assert res["reverse_kl"]["reverse_kl"] < res["forward_kl"]["reverse_kl"]


def test_next_token_degree2_student_covers_or_seeks():
    lp = ms.multimodal_next_token()
    peaks = ms.local_modes(lp)
    assert peaks == [8, 20, 32]
    fwd, _ = ms.fit_next_token(lp, "forward_kl", degree=2, steps=300, use_losses=False)
    rev, _ = ms.fit_next_token(lp, "reverse_kl", degree=2, steps=300, use_losses=False)
    f, r = ms.summary(fwd, lp, peaks), ms.summary(rev, lp, peaks)
    assert r["void_mass"] < 0.05 < f["void_mass"]
    assert f["modes_covered"] == 3 and r["modes_covered"] == 1
    assert int(rev.argmax()) == 8  # the heaviest mode


def test_metrics_on_hand_made_distributions():
    lp = torch.log(torch.tensor([0.5, 0.4999, 0.0001], dtype=torch.float64))
    lq = torch.log(torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64))
    assert ms.void_mass(lq, lp, eps=1e-3) == pytest.approx(0.5)
    assert ms.modes_covered(lq, lp, [0, 1], ratio=0.39) == 2
    assert ms.modes_covered(lq, lp, [0, 1], ratio=0.5) == 1
    assert ms.modes_covered(lq, lp, [0, 1], ratio=0.7) == 0
