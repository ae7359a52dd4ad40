"""labkit.evaluate against hand-computed cases and slow one-at-a-time reference loops."""

import math

import pytest
import torch

from labkit import answers as A
from labkit import data, evaluate, tiny
from labkit.data import Record
from labkit.errors import LabkitError
from labkit.loop import TrainConfig
from labkit.methods import tinyllm
from labkit.prompts import answer_text, student_prompt


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=200), vocab_size=400)


@pytest.fixture(scope="module")
def records():
    return data.generate_synthetic("tracking", "test", n=6, seed=1)


def _slow_logprob(model, tok, prompt, cont):
    """Sum log p(cont | prompt) with one unbatched forward over the full logits, and the token count."""
    p = tok(prompt)["input_ids"]
    c = tok(cont)["input_ids"]
    with torch.no_grad():
        if model.config.is_encoder_decoder:
            logits = model(input_ids=torch.tensor([p + [tok.eos_token_id]]), labels=torch.tensor([c])).logits[0]
            logp = torch.log_softmax(logits.double(), -1)
            return sum(float(logp[i, t]) for i, t in enumerate(c)), len(c)
        logits = model(input_ids=torch.tensor([p + c])).logits[0]  # (T, V)
        logp = torch.log_softmax(logits.double(), -1)
        return sum(float(logp[len(p) - 1 + i, t]) for i, t in enumerate(c)), len(c)


@pytest.mark.parametrize("kind", ["causal", "seq2seq"])
def test_option_scores_match_slow_loop(tok, records, kind):
    model = (tiny.tiny_causal_lm if kind == "causal" else tiny.tiny_seq2seq)(tok, seed=3)
    scores = evaluate.option_scores(model, tok, records, batch_size=5, device="cpu")
    for r, s in zip(records, scores):
        assert len(s) == len(r.choices)
        for c, got in zip(r.choices, s):
            lp, n = _slow_logprob(model, tok, student_prompt(r, "answer"), " " + answer_text(r, c))
            assert got == pytest.approx(lp / n, abs=1e-4)
    acc = evaluate.mc_accuracy(model, tok, records, batch_size=7, device="cpu")
    want = sum(max(range(len(s)), key=s.__getitem__) == r.answer_index for s, r in zip(scores, records))
    assert acc == pytest.approx(want / len(records))


def test_shared_prompt_logprobs_equal_the_batched_pairs_and_the_slow_loop(tok, records):
    model = tiny.tiny_causal_lm(tok, seed=5)
    prompt = student_prompt(records[0], "answer")
    conts = [" a", " the red ball is in the box", " 12", " (b) " + records[0].choices[1]]  # unequal lengths
    shared = evaluate.shared_prompt_logprobs(model, tok, prompt, conts, device="cpu")
    pairs = evaluate.continuation_logprobs(model, tok, [prompt] * len(conts), conts, device="cpu")
    assert [n for _, n in shared] == [n for _, n in pairs] == [len(tok(c)["input_ids"]) for c in conts]
    for (got, _), (want, _), c in zip(shared, pairs, conts):
        assert got == pytest.approx(want, abs=1e-4)
        assert got == pytest.approx(_slow_logprob(model, tok, prompt, c)[0], abs=1e-4)
    # a continuation long enough to cut the prompt (max_len) reads each pair as continuation_logprobs does
    cut = evaluate.shared_prompt_logprobs(model, tok, prompt, conts, max_len=12, device="cpu")
    want = evaluate.continuation_logprobs(model, tok, [prompt] * len(conts), conts, max_len=12, device="cpu")
    assert [n for _, n in cut] == [n for _, n in want]
    assert [s for s, _ in cut] == pytest.approx([s for s, _ in want], abs=1e-4)


def test_option_scores_read_the_question_once_for_large_models(tok, records, monkeypatch):
    model = tiny.tiny_causal_lm(tok, seed=3)
    calls = []
    shared = evaluate.shared_prompt_logprobs
    monkeypatch.setattr(evaluate, "shared_prompt_logprobs", lambda *a, **k: calls.append(1) or shared(*a, **k))
    pairs = evaluate.option_scores(model, tok, records, device="cpu")
    assert calls == []  # a tiny model scores pairs
    monkeypatch.setattr(evaluate, "SHARED_PROMPT_MIN_PARAMS", 0)  # as if it were SmolLM2-sized
    once = evaluate.option_scores(model, tok, records, device="cpu")
    assert len(calls) == len(records)
    assert [x for s in once for x in s] == pytest.approx([x for s in pairs for x in s], abs=1e-5)


def test_teacher_loglik_is_token_weighted_mean(tok):
    model = tiny.tiny_causal_lm(tok, seed=5)
    prompts, samples = ["Q: one\nA:", "Q: two two two\nA:"], [" 1", " the sun rises in the east"]
    got = evaluate.teacher_loglik(model, tok, prompts, samples, batch_size=2, device="cpu")
    pairs = [_slow_logprob(model, tok, p, s) for p, s in zip(prompts, samples)]
    assert got == pytest.approx(sum(s for s, _ in pairs) / sum(n for _, n in pairs), abs=1e-4)
    assert got < 0


def test_generate_batched_left_padding_matches_greedy_by_hand(tok):
    model = tiny.tiny_causal_lm(tok, seed=7)
    prompts = ["Q: a\nA:", "Q: a much longer prompt with many words in it\nA:", "Ice is"]
    got = evaluate.generate(model, tok, prompts, max_new_tokens=6, batch_size=3, stop_at_newline=False, device="cpu")
    for p, g in zip(prompts, got):
        ids = tok(p)["input_ids"]
        with torch.no_grad():
            for _ in range(6):
                nxt = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
                if nxt == tok.eos_token_id:
                    break
                ids.append(nxt)
        assert g == tok.decode(ids[len(tok(p)["input_ids"]) :])
    one = evaluate.generate(model, tok, prompts, max_new_tokens=6, batch_size=1, device="cpu")
    assert one == [g.split("\n")[0] for g in got]


def test_generate_seq2seq_and_sampling_runs(tok):
    model = tiny.tiny_seq2seq(tok, seed=1)
    prompts = ["Q: x\nA:", "Q: y y y y\nA:"]
    out = evaluate.generate(model, tok, prompts, max_new_tokens=5, stop_at_newline=False, device="cpu")
    for p, g in zip(prompts, out):  # greedy decoder loop by hand
        enc = torch.tensor([tok(p)["input_ids"] + [tok.eos_token_id]])
        dec = [model.config.decoder_start_token_id]
        with torch.no_grad():
            for _ in range(5):
                nxt = int(model(input_ids=enc, decoder_input_ids=torch.tensor([dec])).logits[0, -1].argmax())
                if nxt == tok.eos_token_id:
                    break
                dec.append(nxt)
        assert g == tok.decode(dec[1:])
    assert out[0] != ""  # seed 1: the first prompt does not stop at once
    a = evaluate.generate(model, tok, ["Q: x\nA:"] * 3, max_new_tokens=5, do_sample=True, seed=1, device="cpu")
    b = evaluate.generate(model, tok, ["Q: x\nA:"] * 3, max_new_tokens=5, do_sample=True, seed=1, device="cpu")
    assert a == b


def test_gen_accuracy_agrees_with_the_answers_module(tok, records):
    model = tiny.tiny_causal_lm(tok, seed=1)
    acc, texts = evaluate.gen_accuracy(model, tok, records, max_new_tokens=4, device="cpu", return_predictions=True)
    assert acc == pytest.approx(
        sum(A.is_correct(A.parse_answer(t, r), r) for t, r in zip(texts, records)) / len(records)
    )
    sv = [Record("s", "Q?", "( 1.0 + 1.0 )")] * 2
    acc, texts = evaluate.gen_accuracy(model, tok, sv, max_new_tokens=4, device="cpu", return_predictions=True)
    assert acc == sum(A.is_correct(A.parse_answer(t, sv[0]), sv[0]) for t in texts) / 2
    assert evaluate.accuracy(model, tok, sv, max_new_tokens=4, device="cpu") == acc


def test_trained_student_scores_above_chance(tok):
    """Option scoring sees learning: after a short fit on one task the student beats chance."""
    recs = data.generate_synthetic("ordering", "train", n=24, seed=0)
    model = tiny.tiny_causal_lm(tok, seed=0)
    cfg = TrainConfig(steps=60, batch_size=8, lr=1e-2, progress=False, bf16=False, device="cpu")
    before = evaluate.mc_accuracy(model, tok, recs, device="cpu")
    tinyllm.train(model, tok, recs, config=cfg)
    after = evaluate.mc_accuracy(model, tok, recs, device="cpu")
    assert after > max(before, 0.8)


def test_rouge_l_known_values():
    # LCS("the cat sat on the mat", "the cat is on the mat") = "the cat on the mat": 5 of 6 words each side.
    assert evaluate.rouge_l(["the cat sat on the mat"], ["the cat is on the mat"]) == pytest.approx(5 / 6)
    assert evaluate.rouge_l(["a b c", "x"], ["a b c", "y"]) == pytest.approx(0.5)
    # P = 2/4, R = 2/2: F = 2PR/(P+R) = 2/3
    assert evaluate.rouge_l(["a q b r"], ["a b"]) == pytest.approx(2 / 3)
    with pytest.raises(LabkitError, match="references"):
        evaluate.rouge_l(["a"], [])


def test_distinct_n_hand_counts():
    assert evaluate.distinct_n(["a b a b"], n=2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert evaluate.distinct_n(["a b a b"], n=1) == pytest.approx(2 / 4)
    assert evaluate.distinct_n(["a b c", "a b d"], n=2) == pytest.approx(3 / 4)  # ab bc ab bd
    assert evaluate.distinct_n(["a"], n=2) == 0.0
    assert math.isclose(evaluate.distinct_n(["x y z w"], n=3), 1.0)
