"""labkit.loop: config checks, history, length bucketing, token-normalised accumulation (2×2 == 4×1 ==
an independent reference), seeds, LoRA, resume."""

import pytest
import torch
import torch.nn.functional as F

from labkit import sequences as S
from labkit import tiny
from labkit.errors import LabkitError
from labkit.loop import History, TrainConfig, step_schedule
from labkit.methods import tinyllm
from labkit.prompts import student_prompt, student_target


def test_config_validation_names_the_field():
    with pytest.raises(LabkitError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(LabkitError, match="bf16"):
        TrainConfig(bf16="yes")
    with pytest.raises(LabkitError, match="warmup"):
        TrainConfig(warmup=1.5)
    with pytest.raises(LabkitError, match="save_every"):
        TrainConfig(save_every=5)
    assert TrainConfig(steps=200, warmup=0.1).warmup_steps == 20
    assert TrainConfig(steps=200, warmup=7).warmup_steps == 7


def test_history_roundtrip():
    h = History(meta={"x": 1})
    h.log(step=1, loss=2.0, **{"loss/answer": 1.5})
    h.log(step=2, loss=1.0)
    assert h.series("loss") == [2.0, 1.0] and h.series("loss/answer") == [1.5]
    assert h.last("loss/answer") == 1.5
    h2 = History.from_dict(h.to_dict())
    assert h2.rows == h.rows and h2.meta == h.meta and h2.loss_terms() == ["loss/answer"]


def test_length_bucketing_covers_every_example_and_cuts_padding(cfg):
    lengths = [int(x) for x in torch.randint(5, 200, (256,), generator=torch.Generator().manual_seed(0))]
    c = cfg(batch_size=8, bucket_mult=8)
    steps = step_schedule(lengths, c, epoch=0)
    assert sorted(i for s in steps for i in s) == list(range(256))
    assert steps != step_schedule(lengths, c, epoch=1)  # a new order each epoch

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    plain = step_schedule(lengths, cfg(batch_size=8, bucket_mult=1), epoch=0)
    assert padded(steps) < 0.75 * padded(plain)


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
            b = S.encode_pairs(tok, [student_prompt(r, task)], [target], max_len=256)
            logits = model(input_ids=b["input_ids"]).logits[0, :-1]  # (T-1, V)
            ce = ce + F.cross_entropy(logits, b["labels"][0, 1:], ignore_index=-100, reduction="sum")
            n += int((b["labels"][0, 1:] != -100).sum())
        total = total + w * ce / n
    return total


def test_accumulation_2x2_equals_4x1_and_token_normalised_reference(tok, records, cfg):
    recs = records[:4]  # one step sees all four records
    alphas = {"oracle": 0.5, "short": 2.0}
    tasks = {"answer": 1.0, **{f"rationale:{t}": a for t, a in alphas.items()}}
    grads = []
    for bs, acc in [(2, 2), (4, 1), (1, 4)]:
        model = tiny.tiny_causal_lm(tok)
        tinyllm.train(model, tok, recs, alphas=alphas, config=cfg(steps=1, batch_size=bs, grad_accum=acc))
        grads.append(_grads(model))
    ref_model = tiny.tiny_causal_lm(tok)
    ref_model.train()
    _reference_loss(ref_model, tok, recs, tasks).backward()
    ref = _grads(ref_model)
    assert set(grads[0]) == set(ref)
    for g in grads:
        for n in ref:
            torch.testing.assert_close(g[n], ref[n], rtol=1e-4, atol=1e-6)


def test_two_seeded_runs_identical_and_seed_matters(tok, records, cfg):
    runs = []
    for seed in (3, 3, 4):
        model = tiny.tiny_causal_lm(tok)
        h = tinyllm.train(model, tok, records, alphas={"oracle": 1.0}, config=cfg(steps=5, seed=seed, lora_r=4))
        runs.append(h.series("loss"))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_lora_trains_only_adapters(tok, records, cfg):
    model = tiny.tiny_causal_lm(tok)
    before = [(p, p.detach().clone()) for p in model.parameters()]
    x = S.encode_pairs(tok, ["[answer] Q: hi\nA:"], [" (a) 1"], max_len=32)["input_ids"]
    logits0 = model(x).logits
    tinyllm.train(model, tok, records, config=cfg(steps=3, lora_r=4))
    assert all(torch.equal(p, p0) for p, p0 in before)  # base weights frozen
    lora = [n for n, _ in model.named_parameters() if "lora_" in n]
    assert lora  # adapters injected into the caller's module
    assert not torch.allclose(model(x).logits, logits0)  # ... and trained


def test_resume_gives_the_same_next_losses(tok, records, tmp_path, cfg):
    alphas = {"oracle": 0.5}
    full = tinyllm.train(
        tiny.tiny_causal_lm(tok), tok, records, alphas=alphas, config=cfg(steps=6, warmup=2, max_grad_norm=1.0)
    )
    d = tmp_path / "ckpt"
    c = cfg(steps=6, warmup=2, max_grad_norm=1.0, checkpoint_dir=str(d), save_every=3)
    tinyllm.train(tiny.tiny_causal_lm(tok), tok, records, alphas=alphas, config=c)
    (d / "step-000006.pt").unlink()  # as if interrupted after step 3
    resumed = tinyllm.train(tiny.tiny_causal_lm(tok, seed=9), tok, records, alphas=alphas, config=c)
    assert resumed.series("step") == list(range(1, 7))
    for key in ("loss", "loss/answer", "lr"):
        assert resumed.series(key)[3:] == pytest.approx(full.series(key)[3:], rel=1e-6, abs=1e-7), key


def test_bf16_auto_is_float32_for_small_cpu_models_only(monkeypatch):
    """bf16="auto": float32 on a bf16 CPU below models.CPU_BF16_MIN_PARAMS parameters (slower there, measured
    in benchmarks/bf16_small_models.py), bf16 at or above it and on CUDA; True/False are obeyed as given."""
    from labkit import loop, models

    monkeypatch.setattr(models, "_cpu_bf16", lambda: True)
    small = torch.nn.Linear(64, 64)  # 4,160 parameters
    big = torch.nn.Linear(1000, models.CPU_BF16_MIN_PARAMS // 1000)  # just over the threshold
    assert sum(p.numel() for p in big.parameters()) >= models.CPU_BF16_MIN_PARAMS
    assert not models.bf16_auto("cpu", small)
    assert models.bf16_auto("cpu", big)
    assert models.bf16_auto("cpu")  # no model: bf16 where supported
    x = torch.randn(2, 64)

    def dtype_under(model, bf16):
        _, ac = loop.resolve(model, TrainConfig(device="cpu", bf16=bf16))
        with ac():
            return (x @ x.T).dtype

    assert dtype_under(small, "auto") == torch.float32
    assert dtype_under(big, "auto") == torch.bfloat16
    assert dtype_under(small, True) == torch.bfloat16
    assert dtype_under(big, False) == torch.float32
    monkeypatch.setattr(models, "_cpu_bf16", lambda: False)
    assert not models.bf16_auto("cpu", big)  # no native bf16: never
    # CUDA keeps bf16 whatever the size (device resolution faked: no GPU here)
    monkeypatch.setattr(models, "resolve_device", lambda device="auto": torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert models.bf16_auto("cuda", small)
