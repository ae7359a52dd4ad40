"""The compute ledger (labkit.compute, the "flops" of every History): hand counts on tiny models."""

from __future__ import annotations

import pytest

from labkit import compute, tiny
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.loop import TrainConfig
from labkit.methods import gkd, sft

PROMPTS = ["Q: 2 + 3 = ?\nA:", "Q: 4 + 1 = ?\nA:", "Q: 7 + 2 = ?\nA:", "Q: 1 + 1 = ?\nA:"]
TARGETS = [" 2 plus 3 is 5.", " 5", " 7 and 2 make 9.", " 2"]


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=120), vocab_size=320)


def hand_params(hidden: int, layers: int, vocab: int) -> int:
    """A labkit.tiny Llama without the embedding table: q, k, v, o (d × d each), a SwiGLU MLP of width 4d
    (three d × 4d matrices), two RMSNorms per layer, the final norm, and the tied head (V × d)."""
    per_layer = 4 * hidden * hidden + 3 * hidden * 4 * hidden + 2 * hidden
    return layers * per_layer + hidden + vocab * hidden


def hand_forward(n_params: int, layers: int, width: int, n: int) -> int:
    """2 N per token, and 2 d per layer for each of q·k and the weighted sum over the t visible positions."""
    return sum(2 * n_params + layers * (2 * width * t + 2 * width * t) for t in range(1, n + 1))


def cfg(**kw):
    base = dict(steps=2, batch_size=4, lr=1e-3, progress=False, max_len=64, bf16=False, warmup=0, device="cpu")
    return TrainConfig(**{**base, **kw})


def test_spec_of_a_tiny_llama_counts_every_weight_but_the_embedding_table_and_the_tied_head_once(tok):
    m = tiny.tiny_causal_lm(tok, n_layers=2, hidden=64, heads=4)
    spec = compute.spec_of(m)
    assert spec == compute.Spec(hand_params(64, 2, len(tok)), 2, 64)
    # the tied head shares the table's tensor, so the module's own parameter count holds it once only
    assert spec.params == sum(p.numel() for p in m.parameters())
    assert compute.spec_of(None) == compute.ZERO


def test_forward_train_and_sample_flops_match_hand_counts():
    spec = compute.Spec(10, 2, 4)
    assert compute.forward_flops(spec, [3]) == 2 * 10 * 3 + 2 * 4 * 4 * (1 + 2 + 3) == 252
    assert compute.forward_flops(spec, [3, 1]) == 252 + hand_forward(10, 2, 4, 1)
    assert compute.train_flops(spec, [3]) == 3 * 252
    # prompt of 2, response of 2: the prompt once, then the first response token fed back (3 positions)
    assert compute.sample_flops(spec, [2], [2]) == hand_forward(10, 2, 4, 3)
    assert compute.sample_flops(spec, [2], [0]) == 0
    assert compute.scaled(spec, 4) == compute.Spec(40, 2, 8)


def test_sft_history_records_train_flops_per_step_and_their_running_total(tok):
    student = tiny.tiny_causal_lm(tok, n_layers=1, hidden=64, heads=4, seed=2)
    rollouts = S.encode_rollouts(tok, PROMPTS, TARGETS, 64)
    h = sft.train(student, tok, config=cfg(), rollouts=rollouts)
    n = hand_params(64, 1, len(tok))
    per_step = 3 * sum(hand_forward(n, 1, 64, len(r["prompt"]) + len(r["response"])) for r in rollouts)
    assert h.series("flops/train") == [per_step, per_step]  # the batch is the whole set: every step sees it all
    assert h.compute() == [per_step, 2 * per_step]
    assert h.flops_by_part() == {"train": 2 * per_step}
    assert {"loss", "lr", "tokens", "tokens_seen", "seconds"} <= set(h.keys())  # the other keys are untouched


def test_on_policy_gkd_counts_sampling_training_and_teacher_scoring(tok):
    teacher = tiny.tiny_causal_lm(tok, n_layers=2, hidden=64, heads=4, seed=1)
    student = tiny.tiny_causal_lm(tok, n_layers=1, hidden=64, heads=4, seed=2)
    h = gkd.train(student, teacher, tok, PROMPTS, lmbda=1.0, beta=1.0, max_new_tokens=6, config=cfg(steps=1))
    rs = list(h.meta["last_rollouts"].values())
    ns, nt = hand_params(64, 1, len(tok)), hand_params(64, 2, len(tok))
    row = h.rows[0]
    assert row["flops/sample"] == sum(hand_forward(ns, 1, 64, len(r["prompt"]) + len(r["response"]) - 1) for r in rs)
    assert row["flops/train"] == 3 * sum(hand_forward(ns, 1, 64, len(r["prompt"]) + len(r["response"])) for r in rs)
    assert row["flops/teacher"] == sum(hand_forward(nt, 2, 64, len(r["prompt"]) + len(r["response"])) for r in rs)
    assert row["flops"] == row["flops/sample"] + row["flops/train"] + row["flops/teacher"]


def test_a_teacher_without_weights_costs_its_nominal_size(tok):
    from labkit import known

    task = known.arithmetic_task(4, n_modes=2, seed=0)
    teacher = known.KnownTeacher.from_templates(tok, task, eta=0.1)
    assert compute.spec_of(teacher) == compute.ZERO
    student = tiny.tiny_causal_lm(tok, n_layers=1, hidden=64, heads=4, seed=2)
    nominal = compute.scaled(compute.spec_of(student), 4)
    compute.set_spec(teacher, nominal)
    h = gkd.train(student, teacher, tok, list(task), lmbda=1.0, beta=1.0, max_new_tokens=6, config=cfg(steps=1))
    rs = list(h.meta["last_rollouts"].values())
    hand = sum(hand_forward(nominal.params, 1, nominal.width, len(r["prompt"]) + len(r["response"])) for r in rs)
    assert h.rows[0]["flops/teacher"] == hand > 0


def test_bad_sizes_are_refused_with_the_parameter_named():
    with pytest.raises(LabkitError, match="Spec.params"):
        compute.Spec(-1, 1, 1)
    with pytest.raises(LabkitError, match="factor"):
        compute.scaled(compute.Spec(1, 1, 1), 0)
    with pytest.raises(LabkitError, match="lengths"):
        compute.forward_flops(compute.Spec(1, 1, 1), [-2])
