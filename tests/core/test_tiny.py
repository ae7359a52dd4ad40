"""labkit.tiny: deterministic tokenizer and tiny models, built in well under a second."""

import time

import pytest
import torch

from labkit import tiny
from labkit.errors import LabkitError


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(), vocab_size=512)


def _ids(tok, text="[answer] Q: Alice has 12 apples. How many?\nA: 12 + 3 = 15."):
    return torch.tensor([tok(text).input_ids])


def test_tokenizer_round_trips_any_text(tok):
    texts = [
        "Hello world!",
        "  two  spaces\nand a newline\t",
        "12 + 7 = 19.",
        "Ünïcödé 日本語 🙂",
        "(a) water (b) fire",
        "",
    ]
    for t in texts:
        assert tok.decode(tok(t).input_ids) == t


def test_tokenizer_specials_size_and_determinism(tok):
    assert len(tok) == 512
    assert tok.eos_token == tok.pad_token == tok.bos_token == "<|endoftext|>"
    assert tok.padding_side == "right"
    assert tok.convert_tokens_to_ids("<|endoftext|>") == tok.eos_token_id == 0
    # "<|endoftext|>" in text becomes the single special id
    assert tok("a<|endoftext|>").input_ids[-1] == tok.eos_token_id
    again = tiny.train_tokenizer(tiny.default_corpus(), vocab_size=512)
    assert again.get_vocab() == tok.get_vocab()
    # merges learned from the corpus: frequent words are single tokens
    assert len(tok(" answer").input_ids) == 1


def test_split_digits_cuts_every_number_into_single_digits():
    corpus = [f"Q: {a} + {b} = ?\nA: {a} + {b} = {a + b}." for a in range(10, 60) for b in range(3, 9)]
    whole = tiny.train_tokenizer(corpus, vocab_size=400)
    digits = tiny.train_tokenizer(corpus, vocab_size=400, split_digits=True)
    text = "A: 19 + 7 = 26."
    # frequent numbers become one token each (" 19", " 26"); with split_digits the space and every digit stand alone
    assert whole.convert_ids_to_tokens(whole(text).input_ids) == ["A", ":", "Ġ19", "Ġ+", "Ġ7", "Ġ=", "Ġ26", "."]
    assert digits.convert_ids_to_tokens(digits(text).input_ids) == [
        "A",
        ":",
        "Ġ",
        "1",
        "9",
        "Ġ+",
        "Ġ",
        "7",
        "Ġ=",
        "Ġ",
        "2",
        "6",
        ".",
    ]
    assert not any(any(c.isdigit() for c in t) and len(t.lstrip("Ġ")) > 1 for t in digits.get_vocab())
    for t in (text, "x 1234567  8\n9 🙂", "a12b"):
        assert digits.decode(digits(t).input_ids) == t and whole.decode(whole(t).input_ids) == t
    with pytest.raises(LabkitError, match="split_digits"):
        tiny.train_tokenizer(corpus, split_digits="yes")


def test_chat_template(tok):
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|user|>\nhi<|endoftext|>\n<|assistant|>\n"


def test_tokenizer_bad_input():
    with pytest.raises(LabkitError, match="corpus is empty"):
        tiny.train_tokenizer([])
    with pytest.raises(LabkitError, match="vocab_size"):
        tiny.train_tokenizer(["abc"], vocab_size=100)


def test_causal_lm_deterministic_and_pinned(tok):
    state = torch.random.get_rng_state()
    t0 = time.perf_counter()
    a = tiny.tiny_causal_lm(tok)
    assert time.perf_counter() - t0 < 1.0
    assert torch.equal(state, torch.random.get_rng_state())  # caller's RNG untouched
    b = tiny.tiny_causal_lm(tok)
    c = tiny.tiny_causal_lm(tok, seed=1)
    x = _ids(tok)
    with torch.no_grad():
        la, lb, lc = a(x).logits, b(x).logits, c(x).logits
    assert la.shape == (1, x.shape[1], 512)
    assert torch.equal(la, lb)
    assert not torch.allclose(la, lc)
    # pinned: seed 0 weights and the default-corpus tokenizer (change => tiny models changed)
    assert x.shape[1] == PINNED_LM["n_tokens"]
    assert la.double().sum().item() == pytest.approx(PINNED_LM["sum"], abs=0.02)
    assert la.double().abs().sum().item() == pytest.approx(PINNED_LM["abs_sum"], rel=1e-4)
    assert sum(p.numel() for p in a.parameters()) == PINNED_LM["params"]
    assert a.config.num_hidden_layers == 2 and a.config.hidden_size == 64
    assert a.lm_head.weight is a.model.embed_tokens.weight  # tied, like SmolLM2


def test_causal_lm_generates_and_trains(tok):
    m = tiny.tiny_causal_lm(tok)
    x = _ids(tok)
    out = m.generate(x, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[0] == 1 and x.shape[1] < out.shape[1] <= x.shape[1] + 5
    assert torch.equal(out[:, : x.shape[1]], x)
    m.train()
    loss = m(x, labels=x).loss
    loss.backward()
    # untrained model: loss near log(V)
    assert abs(loss.item() - torch.log(torch.tensor(512.0)).item()) < 0.5
    assert m.model.embed_tokens.weight.grad is not None


def test_seq2seq_deterministic_and_pinned(tok):
    t0 = time.perf_counter()
    a = tiny.tiny_seq2seq(tok)
    assert time.perf_counter() - t0 < 1.0
    b = tiny.tiny_seq2seq(tok)
    x = _ids(tok)
    y = _ids(tok, "So the answer is 15.")
    with torch.no_grad():
        oa = a(input_ids=x, labels=y)
        ob = b(input_ids=x, labels=y)
    assert oa.logits.shape == (1, y.shape[1], 512)
    assert torch.equal(oa.logits, ob.logits)
    assert a.config.decoder_start_token_id == tok.pad_token_id
    assert oa.logits.double().sum().item() == pytest.approx(PINNED_S2S["sum"], abs=0.02)
    assert sum(p.numel() for p in a.parameters()) == PINNED_S2S["params"]
    gen = a.generate(x, max_new_tokens=4, do_sample=False)
    assert gen.shape[0] == 1 and gen.shape[1] <= 5


def test_shape_errors(tok):
    with pytest.raises(LabkitError, match="multiple of heads"):
        tiny.tiny_causal_lm(tok, hidden=30, heads=4)
    with pytest.raises(LabkitError, match="n_layers"):
        tiny.tiny_seq2seq(tok, n_layers=0)


def test_tiny_teacher_recipe():
    model, tok = tiny.build_tiny_teacher()
    assert len(tok) == 1024
    c = model.config
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.vocab_size) == (4, 128, 4, 1024)


# float32 sums vary by a hair across CPUs: sums of signed logits get an absolute tolerance.
PINNED_LM = {"n_tokens": 22, "sum": 15.1559, "abs_sum": 1435.993, "params": 164160}
PINNED_S2S = {"sum": 28.2019, "params": 263168}
