"""labkit.lab.xtok (notebook 06's glue): position kinds and alignment counts on hand-checked tokenizations, the
viewer's boxes, teacher-forced digit log-probabilities against a hand-computed uniform model, claims."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from labkit import alignment, tiny
from labkit.errors import LabkitError
from labkit.lab import arms as A
from labkit.lab import xtok
from labkit.lab.arms import INIT, Run

CORPUS = [f"Q: {a} + {b} = ?\nA: {a} + {b} = {a + b}." for a in range(10, 60) for b in range(3, 9)]
TEXT = "A: 19 + 7 = 26."


@pytest.fixture(scope="module")
def pair():
    """(whole-number tokenizer, digit tokenizer) trained on the same corpus."""
    return xtok.number_tokenizers(CORPUS, 400)["whole"], xtok.number_tokenizers(CORPUS, 400)["digits"]


def test_number_tokenizers_and_position_kinds_by_hand(pair, tmp_path):
    whole, digits = pair
    al = alignment.align(whole, digits, TEXT)
    # whole: A : Ġ19 Ġ+ Ġ7 Ġ= Ġ26 .   digits: A : Ġ 1 9 Ġ+ Ġ 7 Ġ= Ġ 2 6 .
    assert [c.kind for c in al.chunks] == ["exact", "exact", "merged", "exact", "merged", "exact", "merged", "exact"]
    vm = alignment.vocab_map(whole, digits, cache_dir=tmp_path)
    t_kind, s_kind = xtok.position_kinds(al, vm)
    # the teacher's number tokens exist nowhere in the digit vocabulary; the student's "Ġ" and digits do exist
    # in the whole-number vocabulary (every byte is a token there)
    assert t_kind == ["exact", "exact", "unmatched", "exact", "unmatched", "exact", "unmatched", "exact"]
    assert s_kind == [
        "exact",
        "exact",
        "merged",
        "merged",
        "merged",
        "exact",
        "merged",
        "merged",
        "exact",
        "merged",
        "merged",
        "merged",
        "exact",
    ]
    assert xtok.numbers_single_token_share(whole, [TEXT]) == 1.0
    assert xtok.numbers_single_token_share(digits, [TEXT]) == 0.0


def test_alignment_counts_add_up_and_find_the_digit_chunks(pair, tmp_path):
    whole, digits = pair
    vm = alignment.vocab_map(whole, digits, cache_dir=tmp_path)
    c = xtok.alignment_counts(whole, digits, [TEXT, TEXT, "A: 7."], vm)
    # TEXT twice (teacher 5 exact + 3 unmatched, student 5 exact + 8 merged) and "A: 7." (A : Ġ7 . vs A : Ġ 7 .)
    assert c["teacher"] == {"exact": 13, "merged": 0, "unmatched": 7, "tokens": 20}
    assert c["student"] == {"exact": 13, "merged": 18, "unmatched": 0, "tokens": 31}
    assert c["chunks"] == {"exact": 13, "merged": 7} and c["digit_chunks"] == {"exact": 0, "merged": 7}
    assert c["non_ascii_chunks"] == {"exact": 0, "merged": 0}
    rows = xtok.counts_rows({"x": c})
    assert rows[0]["student merged %"] == pytest.approx(100 * 18 / 31)
    assert rows[0]["merged chunks with digits"] == "7 of 7"
    with pytest.raises(LabkitError, match="no texts"):
        xtok.alignment_counts(whole, digits, [], vm)


def _wordlevel(vocab, decoder, **special):
    t = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token=vocab[0]))
    t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    t.decoder = decoder
    return PreTrainedTokenizerFast(tokenizer_object=t, **special)


def test_specials_and_split_multibyte_characters_count_as_unmatched(tmp_path):
    bl = _wordlevel(
        ["<|endoftext|>", "Ann", "Ġcaf", "Ã©", "Ġ1", "2", "."], decoders.ByteLevel(), eos_token="<|endoftext|>"
    )
    ms = _wordlevel(
        ["<bos>", "Ann", "▁café", "▁", "1", "2", "."],
        decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]),
        bos_token="<bos>",
    )
    t = ms.convert_tokens_to_ids(["<bos>", "Ann", "▁café", "▁", "1", "2", "."])
    s = bl.convert_tokens_to_ids(["Ann", "Ġcaf", "Ã©", "Ġ1", "2", "."])
    al = alignment.align_ids(ms, bl, t, s)
    t_kind, s_kind = xtok.position_kinds(al, alignment.vocab_map(ms, bl, cache_dir=tmp_path))
    # <bos> has no text; " café" is one teacher token and two student ones, none spelled alike elsewhere;
    # " 1" vs "▁" "1": the teacher's "▁" and "1" have no single-token twin on the byte-level side
    assert t_kind == ["unmatched", "exact", "unmatched", "unmatched", "unmatched", "exact", "exact"]
    assert s_kind == ["exact", "unmatched", "unmatched", "unmatched", "exact", "exact"]


def test_viewer_draws_one_box_per_token_and_one_outline_per_number(pair, tmp_path):
    whole, digits = pair
    al = alignment.align(whole, digits, TEXT)
    vm = alignment.vocab_map(whole, digits, cache_dir=tmp_path)
    fig = xtok.alignment_figure(
        [
            {
                "title": "t",
                "alignment": al,
                "teacher_tok": whole,
                "student_tok": digits,
                "vmap": vm,
                "names": ("whole", "digits"),
            }
        ]
    )
    ax = fig.axes[0]
    assert len(ax.patches) == 8 + 13 + 3  # tokens of both sides + the three numbers
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == sorted(
        [
            "A",
            ":",
            "␣19",
            "␣+",
            "␣7",
            "␣=",
            "␣26",
            ".",
            "A",
            ":",
            "␣",
            "1",
            "9",
            "␣+",
            "␣",
            "7",
            "␣=",
            "␣",
            "2",
            "6",
            ".",
        ]
    )
    html = xtok.alignment_html(al, whole, digits, vm)
    assert html.count("<td") == 2 * len(al.chunks) and "␣19" in html
    assert xtok.printable("a🍎b") == "aU+1F34Eb"


def test_digit_logprobs_of_a_uniform_model_are_minus_log_v(pair):
    _whole, digits = pair
    model = tiny.tiny_causal_lm(digits, n_layers=1, hidden=32)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # all logits 0: every token has probability 1/V
    from labkit.data import generate_synthetic

    recs = generate_synthetic("arithmetic", "test", n=3, steps=1)
    lp = xtok.number_logprobs(model, digits, recs, batch_size=2)
    assert lp["digit_logprob"] == pytest.approx(-math.log(len(digits)), rel=1e-5)
    assert lp["other_logprob"] == pytest.approx(-math.log(len(digits)), rel=1e-5)


def test_claims_pair_arms_by_seed():
    def run(arm, seed, acc, dig):
        return Run(arm, seed, {"test": {"accuracy": acc, "digit_logprob": dig}})

    runs = [run("sft", s, 0.5, -2.0) for s in (0, 1, 2)] + [run("uld", s, 0.6 + 0.02 * s, -1.5) for s in (0, 1, 2)]
    C = {c["id"]: c for c in xtok.xtok_claims(runs)}
    assert set(C) == {"uld>sft:accuracy", "uld>sft:digit_logprob"}  # the other arms were not run
    assert C["uld>sft:accuracy"]["values"] == pytest.approx([0.1, 0.12, 0.14]) and C["uld>sft:accuracy"]["holds"]
    assert (
        C["uld>sft:digit_logprob"]["values"] == pytest.approx([0.5, 0.5, 0.5]) and C["uld>sft:digit_logprob"]["n"] == 3
    )
    assert "2402.12030" in C["uld>sft:accuracy"]["claim"] and "issue" not in C["uld>sft:accuracy"]["claim"]
    assert xtok.xtok_notes(list(C.values())) == {}
    runs = [run("hybrid (KD only)", s, 0.2, -2.0 - 0.1 * s) for s in (0, 1, 2)]
    runs += [run("same-tok KD (KD only)", s, 0.2, -1.0) for s in (0, 1, 2)]
    C = {c["id"]: c for c in xtok.xtok_claims(runs)}
    assert C["same-tok>hybrid(KD only):digit_logprob"]["values"] == pytest.approx([1.0, 1.1, 1.2])
    assert C["same-tok>hybrid(KD only):accuracy"]["values"] == [0.0, 0.0, 0.0]
    notes = xtok.xtok_notes(list(C.values()))
    assert (
        set(notes) == {"same-tok>hybrid(KD only):accuracy"}
        and "one probability per number" in notes["same-tok>hybrid(KD only):accuracy"]
    )


def test_readings_quote_the_runs_training_ce():
    runs = [Run("uld", s, {}, curves={"loss/ce": [(i, 2.0 - 0.1 * i + s) for i in range(8)]}) for s in (0, 1)]
    runs += [Run("sft", s, {}, curves={"loss/ce": [(i, 1.0) for i in range(8)]}) for s in (0, 1)]
    nums = xtok.numbers(runs, steps=8, ce_weight=0.5)
    assert nums["ce_uld"] == pytest.approx((1.35 + 2.35) / 2)  # last quarter: steps 6, 7 and nums["ce_sft"] == 1.0
    c = {"id": "uld>sft:accuracy", "holds": False, "mean": -0.1, "ci95": [-0.3, 0.1], "n": 2, "values": [-0.1, -0.1]}
    assert "ULD 1.850, SFT 1.000" in xtok.xtok_notes([c], nums)["uld>sft:accuracy"]


def test_bad_settings_are_named():
    with pytest.raises(LabkitError, match="arms"):
        xtok.check_arms(["sft", "kd"])
    with pytest.raises(LabkitError, match="arms"):
        xtok.XTokProfile.resolve("smoke", arms=["sft", "kd"])
    with pytest.raises(LabkitError, match="ce_weight"):
        xtok.XTokProfile.resolve("smoke", ce_weight=1.5)
    with pytest.raises(LabkitError, match="seeds"):
        xtok.XTokProfile.resolve("smoke", seeds=[0])
    with pytest.raises(LabkitError, match="kit"):
        xtok.XTokProfile.resolve("smoke", kit="huge")
    with pytest.raises(LabkitError, match="xtok recipe"):
        xtok.xtok_kit("huge")
    with pytest.raises(LabkitError, match="lacks"):
        xtok.check_recipe({"task": "arithmetic"})
    P = xtok.XTokProfile.resolve("smoke", kit="none", device="cuda")
    assert P.train_device == "cuda" and xtok.XTokProfile.resolve("smoke", device="cuda").train_device == "cpu"


@pytest.fixture(scope="module")
def number_kit(pair):
    """The miniature's roles on tiny untrained models: a whole-number teacher, a digit teacher and student."""
    whole, digits = pair
    from labkit.data import generate_synthetic

    recs = generate_synthetic("arithmetic", "test", n=8, steps=1)
    models_ = {
        "cross": tiny.tiny_causal_lm(whole, n_layers=1, hidden=32, seed=1),
        "same": tiny.tiny_causal_lm(digits, n_layers=1, hidden=32, seed=2),
    }
    return xtok.XTokKit(
        {"cross": whole, "same": digits},
        models_,
        tiny.tiny_causal_lm(digits, n_layers=1, hidden=32),
        {"train": recs[:6], "test": recs[6:]},
        {},
    )


def test_chunk_terms_add_up_to_the_training_loss_of_the_solution(number_kit):
    """Per-chunk terms of one solution sum to labkit.methods.xtok.xtok_loss over all its chunks (the training KD)."""
    from labkit import sequences as S
    from labkit.lab import task_teacher as tt
    from labkit.methods import xtok as X

    kit, rec = number_kit, number_kit.splits["test"][0]
    rows = xtok.chunk_terms(kit, rec, beta=0.5)
    text = tt.target_of(rec)
    assert "".join(r["chunk"] for r in rows) == text
    assert {r["kind"] for r in rows if any(ch.isdigit() for ch in r["chunk"])} == {"merged"}
    ts, tt_ = kit.student_tok, kit.tokenizers["cross"]
    s_resp, t_resp = alignment.encode_plain(ts, text), alignment.encode_plain(tt_, text)
    al = alignment.align_ids(tt_, ts, t_resp, s_resp)
    sb = S.collate_rollouts([S.make_rollout(S.prompt_ids(ts, tt.prompt_of(rec)), s_resp, 10**9)], S.pad_id(ts), "cpu")
    tb = S.collate_rollouts([S.make_rollout(S.prompt_ids(tt_, tt.prompt_of(rec)), t_resp, 10**9)], S.pad_id(tt_), "cpu")
    with torch.no_grad():
        sl, tl = S.response_logits(kit.student_init, sb)[0], S.teacher_logits(kit.teachers["cross"], tb)[0]
    plan = X.make_plan([al], len(s_resp), len(t_resp))
    vmap = alignment.vocab_map(tt_, ts)
    for loss, key in (("uld", "ULD term"), ("hybrid", "hybrid term")):
        whole = float(X.xtok_loss(sl, tl, sb["response"][0], tb["response"][0], plan, vmap, X.Settings(loss=loss)))
        assert sum(r[key] for r in rows) == pytest.approx(whole, rel=1e-4) and whole > 0


def test_experiment_trains_each_arm_from_the_init_and_scores_the_init_once(number_kit):
    X = xtok.XTokExperiment(number_kit, steps=2, lr=1e-3, batch_size=4, max_new_tokens=4)
    arms = xtok.xtok_arms(["sft", "hybrid"], ce_weight=0.5, beta=0.5)
    assert [a.label for a in arms] == [INIT, "sft", "hybrid"] and arms[2].reads == {"teacher": "cross"}
    runs = A.run(X, arms, [0, 1], processes=1)
    assert [(r.arm, r.seed) for r in runs] == [
        (INIT, 0),
        (INIT, 1),
        ("sft", 0),
        ("sft", 1),
        ("hybrid", 0),
        ("hybrid", 1),
    ]
    assert runs[0].metrics == runs[1].metrics and set(runs[0].metrics["test"]) >= {
        "accuracy",
        "digit_logprob",
        "other_logprob",
        "logprob_cut_same",
        "logprob_cut_differently",
    }
    assert all(len(r.curves["loss"]) == 2 for r in runs[2:]) and "loss/kd" in runs[4].curves
    assert runs[2].metrics != runs[0].metrics  # trained: no longer the init
    fresh = xtok.XTokExperiment(number_kit, steps=2, lr=1e-3, batch_size=4, max_new_tokens=4).run(arms[2], 1)
    assert fresh.curves == runs[5].curves and fresh.metrics == runs[5].metrics  # same seed, same numbers
    assert runs[4].curves != runs[5].curves
    assert [r["arm"] for r in A.learning(runs, "accuracy")] == ["sft", "hybrid"]


def test_named_models_take_the_same_path(tmp_path, monkeypatch):
    """Profile paper's path (named models) on the built-in tiny model: the kit's roles are filled, a KD arm trains."""
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    kit = xtok.named_kit("tiny", "tiny", "tiny@layers=1", n_train=8, n_eval=4, device="cpu")
    assert len(kit.splits["train"]) == 8 and len(kit.splits["test"]) == 4
    assert kit.tokenizers["cross"].get_vocab() == kit.student_tok.get_vocab()
    X = xtok.XTokExperiment(kit, steps=2, lr=1e-3, batch_size=4, max_new_tokens=4)
    r = X.run(xtok.xtok_arms(["uld"], init=False)[0], 0)
    assert len(r.curves["loss/kd"]) == 2 and 0.0 <= r.metrics["test"]["accuracy"] <= 1.0


def test_real_texts_skip_cleanly_and_fall_back_to_synthetic(tmp_path):
    assert xtok.real_texts(str(tmp_path), n=5) == {}  # no dss/ or tinyllm/: nothing, no error
    synthetic = xtok.synthetic_texts(n=4)
    assert set(synthetic) == {"synthetic arithmetic solutions", "synthetic tracking solutions"}
    assert all(len(v) == 4 and all(v) for v in synthetic.values())
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not (shared / "dss").is_dir():
        pytest.skip("../shared/data is not on this machine")
    real = xtok.real_texts(str(shared), n=5)
    assert real["SVAMP questions"] and len(real["SVAMP questions"]) == 5


def test_logprobs_by_cut_against_one_record_at_a_time(number_kit):
    """logprobs_by_cut (batched, every chunk binned by its cut) against a slow loop: each record alone, each student
    token's log-prob read off its own forward pass and binned by hand from the alignment's chunks."""
    from labkit import sequences as S
    from labkit.lab import task_teacher as tt

    kit, recs = number_kit, number_kit.splits["train"]
    got = xtok.logprobs_by_cut(kit.student_init, kit, recs, batch_size=4)
    ts, tt_, sums = kit.student_tok, kit.tokenizers["cross"], {}
    for r in recs:
        text = tt.target_of(r)
        s_resp = alignment.encode_plain(ts, text)
        al = alignment.align_ids(tt_, ts, alignment.encode_plain(tt_, text), s_resp)
        ids = torch.tensor([S.prompt_ids(ts, tt.prompt_of(r)) + s_resp])
        with torch.no_grad():
            lp = torch.log_softmax(kit.student_init(input_ids=ids).logits[0].double(), -1)
        n_prompt = ids.shape[1] - len(s_resp)
        for c in al.chunks:
            n_t, n_s = c.teacher[1] - c.teacher[0], c.student[1] - c.student[0]
            for j in range(*c.student):
                v = float(lp[n_prompt + j - 1, s_resp[j]])
                for k in (f"{n_t}_{n_s}", "same" if (n_t, n_s) == (1, 1) else "differently"):
                    sums.setdefault(k, []).append(v)
    assert {"same", "differently", "1_1", "1_2", "1_3"} <= set(sums)  # words, one- and two-digit numbers
    for k, vs in sums.items():
        assert got[f"logprob_cut_{k}"] == pytest.approx(sum(vs) / len(vs), abs=1e-4), k
        assert got[f"tokens_cut_{k}"] == len(vs)
    assert got["tokens_cut_same"] + got["tokens_cut_differently"] == sum(
        len(alignment.encode_plain(ts, tt.target_of(r))) for r in recs
    )


def test_cut_sweep_orders_the_cuts_and_says_where_the_effect_holds():
    def run(arm, seed, by_cut):
        m = {f"logprob_cut_{k}": v for k, v in by_cut.items()} | {f"tokens_cut_{k}": 10 for k in by_cut}
        return Run(arm, seed, {"test": m | {"logprob_cut_differently": by_cut["1_2"]}})

    runs = [run("uld", s, {"1_1": -1.0, "1_3": -2.0, "1_2": -1.5}) for s in range(3)]
    runs += [run("hybrid", s, {"1_1": -0.5 - 0.01 * s, "1_3": -2.0 + 0.1 * (s - 1), "1_2": -1.4}) for s in range(3)]
    sweep = xtok.cut_sweep(runs)
    assert [c["cut"] for c in sweep] == ["1:1", "1:2", "1:3"] and all(c["tokens"] == 10 for c in sweep)
    assert sweep[0]["values"] == pytest.approx([0.5, 0.49, 0.48]) and sweep[0]["holds"]
    assert sweep[1]["holds"] and not sweep[2]["holds"]  # 0.1 every seed; then -0.1, 0, +0.1
    assert xtok.where_it_holds(sweep) == "it holds where the tokenizers cut 1:1, 1:2; not at 1:3."
    (head,) = xtok.headline_claim(runs)
    assert (
        head["id"] == "hybrid>uld:cut_differently" and head["headline"] and head["values"] == pytest.approx([0.1] * 3)
    )
    arms = xtok.xtok_arms(["sft", "uld", "hybrid"], headline_seeds=[0, 1, 2, 3, 4])
    assert {a.label: a.seeds for a in arms} == {
        INIT: None,
        "sft": None,
        "uld": (0, 1, 2, 3, 4),
        "hybrid": (0, 1, 2, 3, 4),
    }
