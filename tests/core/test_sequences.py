"""labkit.sequences: pair encoding masks, truncation, the teacher-mixed sampler, batched greedy decoding and
response logits equal to one-at-a-time."""

from __future__ import annotations

import pytest
import torch

from labkit import sequences as S
from labkit import tiny

PROMPTS = [
    f"Q: {a} has {n} {o}. How many?\nA:"
    for a, n, o in zip(["Ann", "Bob", "Carol"], range(3, 6), ["apples", "pens", "cups"])
]


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=200), vocab_size=400)


@pytest.fixture(scope="module")
def teacher(tok):
    """A 2-layer tiny LM with sharpened output (×6 on the final norm), so that it has clear modes."""
    t = tiny.tiny_causal_lm(tok, n_layers=2, hidden=64, heads=4, seed=1)
    with torch.no_grad():
        t.model.norm.weight.mul_(6.0)
    return t.eval()


def test_encode_pairs_masks_prompt_and_padding(tok):
    prompts, targets = ["[answer] Q: one?\nA:", "[answer] Q: a much longer question here?\nA:"], [" (a) 1", " (b) 22"]
    b = S.encode_pairs(tok, prompts, targets, max_len=64)
    for i, (p, t) in enumerate(zip(prompts, targets)):
        p_ids, t_ids = tok(p)["input_ids"], tok(t)["input_ids"] + [tok.eos_token_id]
        n = len(p_ids) + len(t_ids)
        assert b["input_ids"][i, :n].tolist() == p_ids + t_ids
        assert b["labels"][i, :n].tolist() == [-100] * len(p_ids) + t_ids
        assert (b["labels"][i, n:] == -100).all() and (b["attention_mask"][i, n:] == 0).all()
        assert b["attention_mask"][i, :n].all()
    assert int((b["labels"][:, 1:] != -100).sum()) == sum(len(tok(t)["input_ids"]) + 1 for t in targets)


def test_encode_truncates_prompt_from_the_left(tok):
    prompt = "[answer] " + "filler words " * 40 + "Q: last bit?\nA:"
    e = S.encode_example(tok, prompt, " (c) 7", max_len=24)
    t_ids = tok(" (c) 7")["input_ids"] + [tok.eos_token_id]
    assert len(e["input_ids"]) == 24
    assert e["input_ids"][-len(t_ids) :] == t_ids  # the target survives whole
    assert tok.decode(e["input_ids"][: -len(t_ids)]).endswith("last bit?\nA:")  # the prompt's end survives
    s = S.encode_example(tok, prompt, " (c) 7", max_len=24, seq2seq=True)
    assert s["labels"] == t_ids and s["input_ids"][-1] == tok.eos_token_id and len(s["input_ids"]) == 24


def test_teacher_mixed_sampler_draws_from_the_mixture(tok, teacher):
    student = tiny.tiny_causal_lm(tok, n_layers=1, hidden=64, heads=4, seed=2)
    alpha, n = 0.4, 2000
    prompt = S.prompt_ids(tok, PROMPTS[0])
    g = torch.Generator().manual_seed(0)
    ys = S.sample_responses(
        student,
        [prompt] * n,
        max_new_tokens=1,
        eos_id=tok.eos_token_id,
        pad=tok.pad_token_id,
        teacher=teacher,
        teacher_mix=alpha,
        generator=g,
        batch_size=n,
    )
    counts = torch.bincount(torch.tensor([y[0] for y in ys]), minlength=len(tok)).double()
    with torch.no_grad():
        ids = torch.tensor([prompt])
        q = student(ids).logits[0, -1].double().softmax(-1)
        p = teacher(ids).logits[0, -1].double().softmax(-1)
    mix = alpha * p + (1 - alpha) * q
    top = mix.argsort(descending=True)[:5]
    se = (mix[top] * (1 - mix[top]) / n).sqrt()
    assert torch.all((counts[top] / n - mix[top]).abs() < 4.5 * se + 1e-3)
    assert mix[top[0]] > 0.05  # the teacher's sharp mode is visible in the mixture


def test_batched_greedy_decoding_and_logits_match_one_at_a_time(tok, teacher):
    prompts = [S.prompt_ids(tok, p) for p in PROMPTS[:3]]
    assert len({len(p) for p in prompts}) > 1  # different lengths: left padding matters
    kw = dict(max_new_tokens=6, eos_id=tok.eos_token_id, pad=tok.pad_token_id, greedy=True)
    batched = S.sample_responses(teacher, prompts, batch_size=3, **kw)
    single = [S.sample_responses(teacher, [p], batch_size=1, **kw)[0] for p in prompts]
    assert batched == single
    rollouts = [S.make_rollout(p, r, 64) for p, r in zip(prompts, batched)]
    b = S.collate_rollouts(rollouts, tok.pad_token_id)
    with torch.no_grad():
        logits = S.response_logits(teacher, b)  # (B, R, V)
        for i, r in enumerate(rollouts):
            ids = torch.tensor([r["prompt"] + r["response"]])
            ref = teacher(ids).logits[0, len(r["prompt"]) - 1 : -1]
            torch.testing.assert_close(logits[i, : len(r["response"])], ref, atol=1e-4, rtol=1e-4)
