"""Cross-tokenizer KD (labkit.alignment, labkit.losses.uld, labkit.methods.xtok): byte alignment on hand-built
tokenizers (BOS mismatch, multi-byte characters, a number split 1-vs-3, space markers), ULD against an
independent float64 formula, the hybrid equal to plain JSD for identical tokenizers, edge cases, training."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from labkit import alignment, losses, sequences, tiny
from labkit.errors import LabkitError
from labkit.loop import TrainConfig
from labkit.methods import wordkd, xtok

# --------------------------------------------------------------------------- two hand-built tokenizers

# byte-level (GPT-2 / SmolLM2 style): "Ġ" is a space; "Ã©" is the two bytes of "é"; "ðŁį" + "İ" the 3 + 1 of "🍎"
BYTELEVEL = ["<|endoftext|>", "Ann", "Ġhas", "Ġ123", "Ġcaf", "Ã©", "Ġ", "ðŁį", "İ", ".", "Ġ1", "2", "3"]
# SentencePiece style (Gemma): "▁" is a space, <0xNN> byte fallback
METASPACE = [
    "<bos>",
    "<eos>",
    "Ann",
    "▁has",
    "▁",
    "1",
    "2",
    "3",
    "▁café",
    "<0xF0>",
    "<0x9F>",
    "<0x8D>",
    "<0x8E>",
    ".",
    "▁1",
    "23",
]


def _tokenizer(vocab, decoder, **special):
    t = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token=vocab[0]))
    t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    t.decoder = decoder
    return PreTrainedTokenizerFast(tokenizer_object=t, **special)


@pytest.fixture(scope="module")
def bl():
    return _tokenizer(BYTELEVEL, decoders.ByteLevel(), eos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def ms():
    return _tokenizer(
        METASPACE,
        decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]),
        bos_token="<bos>",
        eos_token="<eos>",
    )


def ids(tok, words):
    return tok.convert_tokens_to_ids(words)


def test_token_bytes_of_both_families(bl, ms):
    b, m = alignment.token_bytes(bl), alignment.token_bytes(ms)
    assert b[ids(bl, ["Ġhas"])[0]] == b" has" and b[ids(bl, ["Ã©"])[0]] == b"\xc3\xa9"
    assert b[ids(bl, ["Ġcaf"])[0]] + b[ids(bl, ["Ã©"])[0]] == " café".encode()
    assert b[ids(bl, ["ðŁį"])[0]] + b[ids(bl, ["İ"])[0]] == "🍎".encode()
    assert m[ids(ms, ["▁café"])[0]] == " café".encode() and m[ids(ms, ["<0xF0>"])[0]] == b"\xf0"
    assert b[bl.eos_token_id] == b"" and m[ms.bos_token_id] == b""  # specials carry no text


def test_alignment_hand_built_cases(bl, ms):
    # teacher (metaspace) starts with <bos>; "123" is one student token but three teacher tokens;
    # " café" is one teacher token but two student tokens; the emoji is 4 byte tokens vs 2
    t = ids(ms, ["<bos>", "Ann", "▁has", "▁", "1", "2", "3", "▁café", "▁", "<0xF0>", "<0x9F>", "<0x8D>", "<0x8E>", "."])
    s = ids(bl, ["Ann", "Ġhas", "Ġ123", "Ġcaf", "Ã©", "Ġ", "ðŁį", "İ", "."])
    al = alignment.align_ids(ms, bl, t, s)
    assert al.teacher_special == [0] and al.student_special == []
    got = [(c.teacher, c.student, c.text, c.kind) for c in al.chunks]
    assert (
        got
        == [
            ((1, 2), (0, 1), b"Ann", "exact"),
            ((2, 3), (1, 2), b" has", "exact"),
            ((3, 7), (2, 3), b" 123", "merged"),  # 1 student token vs 4 teacher tokens ("▁" + 3 digits)
            ((7, 8), (3, 5), " café".encode(), "merged"),  # multi-byte é: the student splits it
            ((8, 9), (5, 6), b" ", "exact"),
            ((9, 12), (6, 7), "🍎".encode()[:3], "merged"),  # a shared boundary inside the emoji's bytes
            ((12, 13), (7, 8), "🍎".encode()[3:], "exact"),
            ((13, 14), (8, 9), b".", "exact"),
        ]
    )
    assert al.counts()["exact"] == 5 and al.counts()["merged"] == 3
    # a number split 1-vs-2 the other way round: teacher "▁1" "23" vs student "Ġ1" "2" "3"
    al = alignment.align_ids(ms, bl, ids(ms, ["▁1", "23"]), ids(bl, ["Ġ1", "2", "3"]))
    assert [(c.teacher, c.student, c.kind) for c in al.chunks] == [
        ((0, 1), (0, 1), "exact"),
        ((1, 2), (1, 3), "merged"),
    ]


def test_alignment_refuses_different_texts(bl, ms):
    with pytest.raises(LabkitError, match="not of the same text.*byte 3"):
        alignment.align_ids(ms, bl, ids(ms, ["Ann", "▁has"]), ids(bl, ["Ann", "."]))


def test_vocab_map_matches_space_markers_and_is_cached(bl, ms, tmp_path, monkeypatch):
    vm = alignment.vocab_map(ms, bl, cache_dir=tmp_path)
    t2s = vm.teacher_to_student
    assert t2s[ids(ms, ["▁has"])[0]] == ids(bl, ["Ġhas"])[0]  # "▁has" and "Ġhas" are both b" has"
    assert t2s[ids(ms, ["Ann"])[0]] == ids(bl, ["Ann"])[0]
    assert t2s[ids(ms, ["▁café"])[0]] == -1 and t2s[ms.bos_token_id] == -1
    assert vm.student_to_teacher[ids(bl, ["."])[0]] == ids(ms, ["."])[0]
    assert len(list(tmp_path.glob("*.pt"))) == 1
    assert alignment.vocab_map(bl, ms, cache_dir=tmp_path / "x").key != vm.key  # content-addressed, ordered
    monkeypatch.setattr(alignment, "_build_map", lambda *a: pytest.fail("should come from the cache"))
    again = alignment.vocab_map(ms, bl, cache_dir=tmp_path)
    assert torch.equal(again.teacher_to_student, t2s) and again.key == vm.key


# --------------------------------------------------------------------------- ULD


def _uld_reference(z, t, tau=1.0):
    """Float64, from the definition: sorted probabilities, zero-padded, L1."""
    q = torch.softmax(z.double() / tau, -1).sort(-1, descending=True).values
    p = torch.softmax(t.double() / tau, -1).sort(-1, descending=True).values
    n = max(q.shape[-1], p.shape[-1])
    q = torch.nn.functional.pad(q, (0, n - q.shape[-1]))
    p = torch.nn.functional.pad(p, (0, n - p.shape[-1]))
    return (q - p).abs().sum(-1)


@pytest.mark.parametrize("v_s,v_t,tau", [(7, 13, 1.0), (13, 7, 2.0), (9, 9, 0.5)])
def test_uld_against_float64_reference_values_and_gradients(v_s, v_t, tau):
    g = torch.Generator().manual_seed(v_s * 100 + v_t)
    z = torch.randn(3, 4, v_s, generator=g) * 2
    t = torch.randn(3, 4, v_t, generator=g) * 2
    mask = torch.rand(3, 4, generator=g) > 0.3
    zz = z.clone().requires_grad_(True)
    got = losses.uld(zz, t, temperature=tau, mask=mask, reduction="sum", chunk_size=2)
    got.backward()
    z64 = z.double().requires_grad_(True)
    ref = (_uld_reference(z64, t, tau) * mask).sum()
    ref.backward()
    torch.testing.assert_close(got.double(), ref.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(zz.grad.double(), z64.grad, rtol=1e-4, atol=1e-6)
    per = losses.uld(z, t, temperature=tau, reduction="none")
    torch.testing.assert_close(per.double(), _uld_reference(z, t, tau), rtol=1e-5, atol=1e-6)
    if v_s == v_t:
        assert float(losses.uld(z, z, reduction="sum")) == pytest.approx(0.0, abs=1e-5)


def test_uld_edge_cases_finite():
    z = torch.randn(2, 3, 5, requires_grad=True)
    t = torch.randn(2, 3, 8)
    t[..., :4] = float("-inf")  # banned teacher tokens
    v = losses.uld(z, t)
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(z.grad).all()
    z.grad = None
    none = losses.uld(z, t, mask=torch.zeros(2, 3, dtype=torch.bool))
    none.backward()
    assert float(none.detach()) == 0.0 and torch.all(z.grad == 0)


# --------------------------------------------------------------------------- hybrid


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=120), vocab_size=320)


def test_hybrid_equals_plain_jsd_for_identical_tokenizers(tok, tmp_path):
    text = [" Ann has 3 apples.", " Bob gives 2 pens to Carol."]
    seqs = [alignment.encode_plain(tok, x) for x in text]
    als = [alignment.align_ids(tok, tok, s, s) for s in seqs]
    assert all(c.kind == "exact" for al in als for c in al.chunks)
    width = max(len(s) for s in seqs)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, width, len(tok), generator=g) * 2
    t = torch.randn(2, width, len(tok), generator=g) * 2
    tokens = torch.zeros(2, width, dtype=torch.long)
    mask = torch.zeros(2, width, dtype=torch.bool)
    for b, s in enumerate(seqs):
        tokens[b, : len(s)] = torch.tensor(s)
        mask[b, : len(s)] = True
    plan = xtok.make_plan(als, width, width)
    vm = alignment.vocab_map(tok, tok, cache_dir=tmp_path)
    assert vm.n_matched == len(tok)
    for beta in (0.0, 0.5, 1.0):
        settings = xtok.XTokSettings(loss="hybrid", beta=beta, uld_weight=1.0, rows_per_chunk=3)
        z1 = z.clone().requires_grad_(True)
        got = xtok.xtok_loss(
            z1.reshape(-1, len(tok)),
            t.reshape(-1, len(tok)),
            tokens.reshape(-1),
            tokens.reshape(-1),
            plan,
            vm,
            settings,
        )
        got.backward()
        z2 = z.clone().requires_grad_(True)
        ref = losses.divergence(z2, t, kind="jsd", beta=beta, mask=mask, reduction="sum")
        ref.backward()
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-4, atol=1e-6)


def test_hybrid_on_different_tokenizers_is_finite_and_decreases_toward_the_teacher(bl, ms, tmp_path):
    t_ids = ids(ms, ["Ann", "▁has", "▁", "1", "2", "3", "▁café", "."])
    s_ids = ids(bl, ["Ann", "Ġhas", "Ġ123", "Ġcaf", "Ã©", "."])
    al = alignment.align_ids(ms, bl, t_ids, s_ids)
    plan = xtok.make_plan([al], len(s_ids), len(t_ids))
    vm = alignment.vocab_map(ms, bl, cache_dir=tmp_path)
    g = torch.Generator().manual_seed(1)
    t = torch.randn(len(t_ids), len(METASPACE), generator=g) * 3
    t[:, 0] = float("-inf")  # a banned teacher token
    z = torch.zeros(len(s_ids), len(BYTELEVEL), requires_grad=True)
    opt = torch.optim.SGD([z], lr=0.5)
    values = []
    for _ in range(30):
        opt.zero_grad()
        loss = xtok.xtok_loss(z, t, torch.tensor(s_ids), torch.tensor(t_ids), plan, vm, xtok.XTokSettings())
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
        opt.step()
        values.append(float(loss))
    assert values[-1] < 0.5 * values[0]


def test_xtok_trains_a_student_with_another_tokenizer(tok):
    teacher_tok = tiny.train_tokenizer(tiny.default_corpus(n=200, seed=3), vocab_size=400)
    assert teacher_tok.get_vocab() != tok.get_vocab()
    teacher = tiny.tiny_causal_lm(teacher_tok, n_layers=2, seed=1).eval()
    with torch.no_grad():
        teacher.model.norm.weight.mul_(6.0)  # a teacher with clear modes
    prompts = [f"Q: {a} has {n} apples. How many?\nA:" for a, n in zip(["Ann", "Bob", "Eve", "Dave"], range(3, 7))]
    targets = [f" {n} apples." for n in range(3, 7)]
    cfg = TrainConfig(steps=12, batch_size=4, lr=5e-3, progress=False, bf16=False, warmup=0)
    for loss in ("uld", "hybrid"):
        h = xtok.train(
            tiny.tiny_causal_lm(tok, n_layers=1, seed=2),
            teacher,
            tok,
            teacher_tok,
            prompts,
            targets,
            config=cfg,
            loss=loss,
            ce_weight=0.0,
        )
        kd = h.series("loss/kd")
        assert sum(kd[-3:]) < sum(kd[:3]), (loss, kd)
        assert h.meta["chunks"]["exact"] + h.meta["chunks"]["merged"] > 0
    with pytest.raises(LabkitError, match="loss"):
        xtok.train(tiny.tiny_causal_lm(tok), teacher, tok, teacher_tok, prompts, targets, config=cfg, loss="kl")


def test_same_vocabulary_methods_name_the_cross_tokenizer_option(tok):
    teacher = tiny.tiny_causal_lm(tiny.train_tokenizer(tiny.default_corpus(n=50), vocab_size=300))
    with pytest.raises(LabkitError, match="labkit.methods.xtok"):
        wordkd.train(
            tiny.tiny_causal_lm(tok), teacher, tok, ["Q: a\nA:"], [" b"], config=TrainConfig(steps=1, progress=False)
        )
    with pytest.raises(LabkitError, match="labkit.methods.xtok"):
        losses.divergence(torch.zeros(2, 5), torch.zeros(2, 7), kind="forward_kl")
    assert sequences.vocab_size(teacher) == 300
