"""labkit.train: encoding masks, token-normalised accumulation, resume, seeds, multi-task loss falling."""
import copy

import pytest
import torch
import torch.nn.functional as F

from labkit import data, tiny, train
from labkit.errors import LabkitError
from labkit.prompts import student_prompt, student_target


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=200), vocab_size=400)


@pytest.fixture(scope="module")
def records():
    recs = data.generate_synthetic("arithmetic", "train", n=32, seed=0)
    for i, r in enumerate(recs):
        r.rationales["oracle"] = r.solution
        if i % 4 == 3:                      # some records lack the second teacher's rationale
            continue
        r.rationales["short"] = r.solution.split("\n")[-1]
    return recs


def cfg(**kw):
    base = dict(steps=4, batch_size=4, lr=3e-3, progress=False, bf16=False, device="cpu", max_grad_norm=0.0)
    return train.TrainConfig(**{**base, **kw})


# --------------------------------------------------------------------------- config, history

def test_config_validation_names_the_field():
    with pytest.raises(LabkitError, match="batch_size"):
        train.TrainConfig(batch_size=0)
    with pytest.raises(LabkitError, match="bf16"):
        train.TrainConfig(bf16="yes")
    with pytest.raises(LabkitError, match="warmup"):
        train.TrainConfig(warmup=1.5)
    with pytest.raises(LabkitError, match="save_every"):
        train.TrainConfig(save_every=5)
    assert train.TrainConfig(steps=200, warmup=0.1).warmup_steps == 20
    assert train.TrainConfig(steps=200, warmup=7).warmup_steps == 7


def test_history_roundtrip():
    h = train.History(meta={"x": 1})
    h.log(step=1, loss=2.0, **{"loss/answer": 1.5})
    h.log(step=2, loss=1.0)
    assert h.series("loss") == [2.0, 1.0] and h.series("loss/answer") == [1.5]
    assert h.last("loss/answer") == 1.5 and h.steps_of("loss/answer") == [1]
    h2 = train.History.from_dict(h.to_dict())
    assert h2.rows == h.rows and h2.meta == h.meta and h2.loss_terms() == ["loss/answer"]


# --------------------------------------------------------------------------- encoding, batching

def test_encode_pairs_masks_prompt_and_padding(tok):
    prompts, targets = ["[answer] Q: one?\nA:", "[answer] Q: a much longer question here?\nA:"], [" (a) 1", " (b) 22"]
    b = train.encode_pairs(tok, prompts, targets, max_len=64)
    for i, (p, t) in enumerate(zip(prompts, targets)):
        p_ids, t_ids = tok(p)["input_ids"], tok(t)["input_ids"] + [tok.eos_token_id]
        n = len(p_ids) + len(t_ids)
        assert b["input_ids"][i, :n].tolist() == p_ids + t_ids
        assert b["labels"][i, :n].tolist() == [-100] * len(p_ids) + t_ids
        assert (b["labels"][i, n:] == -100).all() and (b["attention_mask"][i, n:] == 0).all()
        assert b["attention_mask"][i, :n].all()
    assert train.count_target_tokens(b["labels"]) == sum(len(tok(t)["input_ids"]) + 1 for t in targets)


def test_encode_truncates_prompt_from_the_left(tok):
    prompt = "[answer] " + "filler words " * 40 + "Q: last bit?\nA:"
    e = train.encode_example(tok, prompt, " (c) 7", max_len=24)
    t_ids = tok(" (c) 7")["input_ids"] + [tok.eos_token_id]
    assert len(e["input_ids"]) == 24
    assert e["input_ids"][-len(t_ids):] == t_ids                   # the target survives whole
    assert tok.decode(e["input_ids"][: -len(t_ids)]).endswith("last bit?\nA:")   # the prompt's end survives
    s = train.encode_example(tok, prompt, " (c) 7", max_len=24, seq2seq=True)
    assert s["labels"] == t_ids and s["input_ids"][-1] == tok.eos_token_id and len(s["input_ids"]) == 24


def test_length_bucketing_covers_every_example_and_cuts_padding():
    lengths = [int(x) for x in torch.randint(5, 200, (256,), generator=torch.Generator().manual_seed(0))]
    c = cfg(batch_size=8, bucket_mult=8)
    steps = train.step_schedule(lengths, c, epoch=0)
    assert sorted(i for s in steps for i in s) == list(range(256))
    assert steps != train.step_schedule(lengths, c, epoch=1)          # a new order each epoch

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)
    plain = train.step_schedule(lengths, cfg(batch_size=8, bucket_mult=1), epoch=0)
    assert padded(steps) < 0.75 * padded(plain)


# --------------------------------------------------------------------------- the loop

def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _reference_loss(model, tok, recs, weights):
    """Σ_t w_t · (Σ CE over all target tokens of task t) / N_t, with full logits and F.cross_entropy."""
    total = 0.0
    for task, w in weights.items():
        ce, n = 0.0, 0
        for r in recs:
            target = student_target(r, task)
            if target is None:
                continue
            b = train.encode_pairs(tok, [student_prompt(r, task)], [target], max_len=256)
            logits = model(input_ids=b["input_ids"]).logits[0, :-1]              # (T-1, V)
            ce = ce + F.cross_entropy(logits, b["labels"][0, 1:], ignore_index=-100, reduction="sum")
            n += int((b["labels"][0, 1:] != -100).sum())
        total = total + w * ce / n
    return total


def test_accumulation_2x2_equals_4x1_and_token_normalised_reference(tok, records):
    recs = records[:4]                           # one step sees all four records
    tasks = {"answer": 1.0, "rationale:oracle": 0.5, "rationale:short": 2.0}
    grads = []
    for bs, acc in [(2, 2), (4, 1), (1, 4)]:
        model = tiny.tiny_causal_lm(tok)
        train.train_multitask(model, tok, recs, tasks=tasks, config=cfg(steps=1, batch_size=bs, grad_accum=acc))
        grads.append(_grads(model))
    ref_model = tiny.tiny_causal_lm(tok)
    ref_model.train()
    _reference_loss(ref_model, tok, recs, tasks).backward()
    ref = _grads(ref_model)
    assert set(grads[0]) == set(ref)
    for g in grads:
        for n in ref:
            torch.testing.assert_close(g[n], ref[n], rtol=1e-4, atol=1e-6)


def test_loss_falls_decoder_only(tok, records):
    model = tiny.tiny_causal_lm(tok)
    h = train.train_multitask(model, tok, records, tasks={"answer": 1.0, "rationale:oracle": 0.5},
                              config=cfg(steps=30, batch_size=8))
    assert len(h) == 30 and {"loss/answer", "loss/rationale:oracle"} <= set(h.keys())
    for key in ("loss/answer", "loss/rationale:oracle"):
        s = h.series(key)
        assert sum(s[-5:]) / 5 < 0.7 * sum(s[:3]) / 3, key
    r = h.rows[-1]
    assert r["loss"] == pytest.approx(r["loss/answer"] + 0.5 * r["loss/rationale:oracle"], rel=1e-5)
    assert r["tokens"] > 0 and r["seconds"] > 0 and h.meta["weights"] == {"answer": 1.0, "rationale:oracle": 0.5}


def test_loss_falls_seq2seq_and_dss_form(tok, records):
    model = tiny.tiny_seq2seq(tok)
    h = train.train_multitask(model, tok, records, tasks={"answer": 1.0, "rationale:oracle": 1.0},
                              config=cfg(steps=30, batch_size=8), form="dss", alpha=0.3)
    assert h.meta["seq2seq"] and h.meta["weights"] == {"answer": 0.3, "rationale:oracle": pytest.approx(0.7)}
    s = h.series("loss/answer")
    assert sum(s[-5:]) / 5 < 0.6 * sum(s[:3]) / 3
    r = h.rows[-1]
    assert r["loss"] == pytest.approx(0.3 * r["loss/answer"] + 0.7 * r["loss/rationale:oracle"], rel=1e-5)


def test_missing_rationales_skip_their_term_and_teacher_labels(tok, records):
    recs = copy.deepcopy(records[:8])
    for r in recs[:5]:
        r.teacher_labels["t"] = r.choices[0]
    model = tiny.tiny_causal_lm(tok)
    h = train.train_multitask(model, tok, recs, tasks={"answer": 1.0, "rationale:short": 1.0},
                              label_source="t", config=cfg(steps=2))
    assert h.meta["skipped"] == {"answer": 3, "rationale:short": 2}
    with pytest.raises(LabkitError, match="unknown task"):
        train.train_multitask(model, tok, recs, tasks={"label": 1.0}, config=cfg(steps=1))


def test_two_seeded_runs_identical_and_seed_matters(tok, records):
    runs = []
    for seed in (3, 3, 4):
        model = tiny.tiny_causal_lm(tok)
        h = train.train_multitask(model, tok, records, tasks={"answer": 1.0, "rationale:oracle": 1.0},
                                  config=cfg(steps=5, seed=seed, lora_r=4))
        runs.append(h.series("loss"))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_lora_trains_only_adapters(tok, records):
    model = tiny.tiny_causal_lm(tok)
    before = [(p, p.detach().clone()) for p in model.parameters()]
    x = train.encode_pairs(tok, ["[answer] Q: hi\nA:"], [" (a) 1"], max_len=32)["input_ids"]
    logits0 = model(x).logits
    train.train_multitask(model, tok, records, tasks={"answer": 1.0}, config=cfg(steps=3, lora_r=4))
    assert all(torch.equal(p, p0) for p, p0 in before)        # base weights frozen
    lora = [n for n, _ in model.named_parameters() if "lora_" in n]
    assert lora                                              # adapters injected into the caller's module
    assert not torch.allclose(model(x).logits, logits0)     # ... and trained


def test_resume_gives_the_same_next_losses(tok, records, tmp_path):
    tasks = {"answer": 1.0, "rationale:oracle": 0.5}
    full = train.train_multitask(tiny.tiny_causal_lm(tok), tok, records, tasks=tasks,
                                 config=cfg(steps=6, warmup=2, max_grad_norm=1.0))
    d = tmp_path / "ckpt"
    c = cfg(steps=6, warmup=2, max_grad_norm=1.0, checkpoint_dir=str(d), save_every=3)
    train.train_multitask(tiny.tiny_causal_lm(tok), tok, records, tasks=tasks, config=c)
    (d / "step-000006.pt").unlink()                          # as if interrupted after step 3
    resumed = train.train_multitask(tiny.tiny_causal_lm(tok, seed=9), tok, records, tasks=tasks, config=c)
    assert resumed.series("step") == list(range(1, 7))
    for key in ("loss", "loss/answer", "lr"):
        assert resumed.series(key)[3:] == pytest.approx(full.series(key)[3:], rel=1e-6, abs=1e-7), key
