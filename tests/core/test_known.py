"""Known teachers (labkit.known): the sequence distribution sums to 1, its next-token conditionals on any
prefix equal the enumeration's, the forward reads them under left padding and through the decoding cache,
exact KL agrees with Monte Carlo, and the white-box methods train tiny students against it."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from labkit import known as K
from labkit import sequences as S
from labkit import tiny
from labkit.errors import LabkitError
from labkit.loop import TrainConfig
from labkit.methods import gkd, minillm, seqkd, wordkd

# --------------------------------------------------------------------------- a teacher small enough to enumerate

V, EOS, MAX_LEN = 5, 0, 4
PROMPTS = [[1, 2], [3], [2, 4, 4]]
TEMPLATES = [[[1, 3, 0], [2, 0]], [[4, 4, 0], [2, 3, 0], [1, 0]], [[3, 3, 3, 3, 0]]]
WEIGHTS = [[0.7, 0.3], [5, 3, 2], [1.0]]


@pytest.fixture(scope="module")
def small():
    return K.KnownTeacher(PROMPTS, TEMPLATES, WEIGHTS, eta=0.2, vocab_size=V, eos_id=EOS, dtype=torch.float64)


def enumeration(teacher, prompt):
    """{response tuple: p} over the partition of responses cut at MAX_LEN."""
    ys = K.enumerate_responses(V, EOS, MAX_LEN)
    lp = K.sequence_logprobs(teacher, [prompt] * len(ys), ys)
    return {tuple(y): float(p) for y, p in zip(ys, lp.exp())}


def marginal_next(table, prefix):
    """p(v | prefix) by summing the enumerated sequence probabilities that start with prefix + v."""
    mass = torch.zeros(V, dtype=torch.float64)
    for y, p in table.items():
        if len(y) > len(prefix) and y[: len(prefix)] == tuple(prefix):
            mass[y[len(prefix)]] += p
    return mass / mass.sum()


def tiny_llama(seed=0):
    config = LlamaConfig(
        vocab_size=V,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=EOS,
        eos_token_id=EOS,
        pad_token_id=EOS,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)  # a peaked, non-uniform student
    return model.eval()


def test_sequence_probabilities_sum_to_one(small):
    for p in PROMPTS:
        table = enumeration(small, p)
        assert len(table) == 1 + 4 + 16 + 64 + 256
        assert math.isclose(sum(table.values()), 1.0, abs_tol=1e-12)
    # a template path: w_k Π (1 - η + η/V) plus the other templates' share
    on, off = 1 - 0.2 + 0.2 / V, 0.2 / V
    expect = 0.7 * on**3 + 0.3 * off * on * off
    assert math.isclose(K.sequence_logprob(small, [1, 2], [1, 3, 0]), math.log(expect), rel_tol=1e-12)


PREFIXES = [[], [1], [2], [4, 4], [2, 3], [3, 3, 3], [4, 1, 2], [1, 1]]


def test_next_token_conditionals_equal_the_enumeration_under_left_padding(small):
    rows, expected = [], []
    for p in PROMPTS:
        table = enumeration(small, p)
        for prefix in PREFIXES:
            rows.append({"prompt": p, "response": prefix})
            expected.append([marginal_next(table, prefix[:t]) for t in range(len(prefix) + 1)])
    b = S.collate_rollouts(rows, pad=EOS)  # left-padded prompts, right-padded responses
    P = b["P"]
    logits = small(input_ids=b["input_ids"], attention_mask=b["attention_mask"], position_ids=b["position_ids"]).logits
    assert logits.shape == (len(rows), b["input_ids"].shape[1], V) and logits.dtype == torch.float64
    for i, exp in enumerate(expected):
        got = logits[i, P - 1 : P + len(exp) - 1].exp()
        torch.testing.assert_close(got, torch.stack(exp), rtol=1e-10, atol=1e-12)
    # S.response_logits reads the same numbers; the posterior off every template is still a distribution
    torch.testing.assert_close(S.response_logits(small, b), logits[:, P - 1 : P - 1 + b["response"].shape[1]])
    assert torch.allclose(logits.exp().sum(-1), torch.ones(()).double())


def test_the_decoding_cache_gives_the_full_forward(small):
    b = S.collate_rollouts([{"prompt": p, "response": [4, 4, 1]} for p in PROMPTS[:2]], pad=EOS)
    P = b["P"]
    full = small(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
    o = small(
        input_ids=b["input_ids"][:, :P],
        attention_mask=b["attention_mask"][:, :P],
        use_cache=True,
        past_key_values=None,
        logits_to_keep=1,
    )
    steps = [o.logits[:, -1]]
    for t in range(P, b["input_ids"].shape[1]):
        o = small(
            input_ids=b["input_ids"][:, t : t + 1],
            attention_mask=b["attention_mask"][:, : t + 1],
            past_key_values=o.past_key_values,
            use_cache=True,
        )
        steps.append(o.logits[:, -1])
    torch.testing.assert_close(torch.stack(steps, 1), full[:, P - 1 :])


def test_greedy_decoding_follows_the_heaviest_template_and_mixed_sampling_runs(small):
    greedy = S.sample_responses(small, PROMPTS, max_new_tokens=8, eos_id=EOS, pad=EOS, greedy=True)
    assert greedy == [TEMPLATES[0][0], TEMPLATES[1][0], TEMPLATES[2][0]]
    g = torch.Generator().manual_seed(0)
    mixed = S.sample_responses(
        tiny_llama(), PROMPTS * 4, max_new_tokens=6, eos_id=EOS, pad=EOS, teacher=small, teacher_mix=0.5, generator=g
    )
    assert len(mixed) == 12 and all(1 <= len(y) <= 6 for y in mixed)


def test_unknown_prompts_and_bad_teachers_fail_clearly(small):
    with pytest.raises(LabkitError, match="known prompts"):
        small(input_ids=torch.tensor([[4, 4, 1]]))
    with pytest.raises(LabkitError, match="unknown prompt"):
        K.sequence_logprob(small, [4, 4], [0])
    with pytest.raises(LabkitError, match="prefix-free"):
        K.KnownTeacher([[1, 2], [1]], [[[0]], [[0]]], [[1], [1]], eta=0.1, vocab_size=V, eos_id=EOS)
    with pytest.raises(LabkitError, match="eta"):
        K.KnownTeacher([[1]], [[[0]]], [[1]], eta=0.0, vocab_size=V, eos_id=EOS)
    with pytest.raises(LabkitError, match="end with eos"):
        K.KnownTeacher([[1]], [[[2, 3]]], [[1]], eta=0.1, vocab_size=V, eos_id=EOS)


def test_void_and_templates_are_read_from_the_posterior(small):
    p = [3]
    assert K.template_of(small, p, [2, 3, 0]) == 1
    assert K.template_of(small, p, [2, 3, 1, 0], max_noise=1) == 1  # one token off (an eos replaced)
    assert K.template_of(small, p, [2, 3, 1, 0], max_noise=0) is None  # no substitution allowed: the void
    assert K.template_of(small, p, [3, 3, 3, 3], max_noise=1) is None
    cov = K.modes_covered(small, [p] * 3 + [[1, 2]], [[4, 4, 0], [1, 0], [1, 1, 1, 1], [2, 0]], max_noise=1)
    assert cov["per_prompt"] == {1: [0, 2], 0: [1]} and cov["counts"][None] == 1
    assert math.isclose(cov["share"], (2 / 3 + 1 / 2) / 2)
    share, se = K.void_mass(small, [p] * 4, [[4, 4, 0], [1, 0], [1, 1, 1, 1], [2, 2, 2, 2]], max_noise=1)
    assert share == 0.5 and se > 0


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_exact_kl_equals_monte_carlo_within_its_standard_error(small, direction):
    student = tiny_llama(seed=3)
    exact = K.kl_exact(small, student, PROMPTS[:2], direction=direction, max_len=MAX_LEN, pad=EOS)
    mc, se = K.kl_monte_carlo(
        small, student, PROMPTS[:2], direction=direction, n=1500, max_new_tokens=MAX_LEN, seed=1, pad=EOS
    )
    assert exact > 0.1 and 0 < se < 0.1 * exact
    assert abs(mc - exact) < 4 * se, (exact, mc, se)
    assert K.kl_exact(small, small, PROMPTS, direction=direction, max_len=MAX_LEN) == pytest.approx(0.0, abs=1e-12)


def test_exposure_bias_is_zero_for_the_teacher_itself_and_positive_for_a_student(small):
    same = K.exposure_bias(small, small, PROMPTS, n=8, max_new_tokens=MAX_LEN, pad=EOS)
    assert abs(same["student_prefixes"][0]) < 1e-6 and abs(same["gap"][0]) < 1e-6
    other = K.exposure_bias(small, tiny_llama(seed=3), PROMPTS, n=8, max_new_tokens=MAX_LEN, pad=EOS)
    assert other["student_prefixes"][0] > 0 and other["teacher_prefixes"][0] > 0 and other["gap"][1] > 0


# --------------------------------------------------------------------------- the methods against a known teacher


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=120), vocab_size=320)


@pytest.fixture(scope="module")
def task():
    return K.arithmetic_task(8, n_modes=3, decay=0.5, steps=1, seed=0)


@pytest.fixture(scope="module")
def teacher(tok, task):
    return K.KnownTeacher.from_templates(tok, task, eta=0.05)


def cfg(**kw):
    base = dict(steps=4, batch_size=4, lr=5e-3, progress=False, max_len=64, bf16=False, warmup=0, log_every=2)
    return TrainConfig(**{**base, **kw})


def student(tok, seed=2):
    return tiny.tiny_causal_lm(tok, n_layers=1, hidden=64, heads=4, seed=seed)


def test_arithmetic_task_has_the_asked_modes_and_weights(tok, task, teacher):
    assert len(task) == 8 and all(len(v) == 3 for v in task.values())
    ws = [w for w, _ in next(iter(task.values()))]
    assert ws == pytest.approx([4 / 7, 2 / 7, 1 / 7])
    for x, modes in task.items():  # every template is a correct sum
        total = sum(int(a) for a in x.split("Q: ")[1].split(" = ")[0].split(" + "))
        assert all(str(total) in r for _, r in modes)
    assert teacher.vocab == len(tok) and S.vocab_size(teacher) == len(tok)
    with pytest.raises(LabkitError, match="n_modes"):
        K.arithmetic_task(4, n_modes=9)


def test_each_white_box_method_trains_against_the_known_teacher(tok, task, teacher):
    prompts = list(task)
    gold = [v[0][1] for v in task.values()]
    minillm.train(student(tok), teacher, tok, prompts, config=cfg(), max_new_tokens=16, teacher_mix=0.2)
    gkd.train(student(tok), teacher, tok, prompts, config=cfg(), lmbda=0.5, beta=0.5, max_new_tokens=16)
    h = seqkd.train(student(tok), teacher, tok, prompts, config=cfg(), max_new_tokens=32)
    assert h.meta["teacher_texts"] == gold  # greedy teacher = its heaviest template
    wordkd.train(student(tok), teacher, tok, prompts, gold, config=cfg())


def test_on_policy_reverse_kl_lowers_the_students_sequence_reverse_kl(tok, task, teacher):
    """GKD at λ = 1, β = 1 descends Σ_t KL(q‖p) on the student's own prefixes, whose expectation is the
    sequence-level KL(q‖p): the exact-teacher estimate must fall by more than its noise."""
    ids = [S.prompt_ids(tok, x) for x in task]
    s = student(tok)
    before = K.kl_monte_carlo(teacher, s, ids, direction="reverse", n=4, max_new_tokens=24, seed=0)
    gkd.train(
        s, teacher, tok, list(task), config=cfg(steps=16, lr=1e-2, log_every=8), lmbda=1.0, beta=1.0, max_new_tokens=24
    )
    after = K.kl_monte_carlo(teacher, s, ids, direction="reverse", n=4, max_new_tokens=24, seed=0)
    assert after[0] + 3 * math.hypot(before[1], after[1]) < before[0], (before, after)
