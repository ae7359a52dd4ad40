"""labkit.lab.students: the validation split held out of a dataset that has none, and a pretrained student's
step 0 scored once for every arm and seed (the same number each run would have computed itself)."""
from __future__ import annotations

import json

import pytest

from labkit import tiny
from labkit.errors import LabkitError
from labkit.lab import students


def _cqa(tmp_path, n_train: int, n_test: int = 4):
    """A distilling-step-by-step CQA folder (no valid split) with PaLM rationales for every row."""
    cqa = tmp_path / "dss" / "cqa"
    (cqa / "llm").mkdir(parents=True)
    for split, n in (("train", n_train), ("test", n_test)):
        rows = [{"id": f"{split}{i}", "question": f"Which one is {i}?", "choices": [f"o{i}", "p", "q", "r", "s"],
                 "answer": f"o{i}", "abstractive_explanation": "", "extractive_explanation": ""} for i in range(n)]
        (cqa / f"cqa_{split}.json").write_text("\n".join(json.dumps(r) for r in rows))
        (cqa / "llm" / f"{split}_CoT_0.json").write_text(json.dumps(
            [f"It is o{i}. So the answer is (a) o{i}." for i in range(n)]))
    return tmp_path


def test_prepare_holds_out_validation_rows_after_the_training_rows(tmp_path):
    d = _cqa(tmp_path, 12)
    kw = dict(student="scratch@layers=1,hidden=32", n_test=2, data_dir=d)
    S = students.prepare("dss:cqa", ["palm-540b"], n_train=8, n_valid=3, **kw)
    assert [r.id for r in S.train] == [f"train{i}" for i in range(8)]
    assert [r.id for r in S.valid] == ["train8", "train9", "train10"]          # disjoint from train, in file order
    assert all(r.rationales.get("palm-540b") for r in S.train)
    assert [r.id for r in S.test] == ["test0", "test1"] and S.chance == pytest.approx(0.2)
    S = students.prepare("dss:cqa", [], n_train=0, n_valid=3, **kw)          # n_train 0: all rows but the held-out
    assert [r.id for r in S.train] == [f"train{i}" for i in range(9)] and len(S.valid) == 3
    with pytest.raises(LabkitError, match=r"12 training rows.*n_train=10.*n_valid=3"):
        students.prepare("dss:cqa", [], n_train=10, n_valid=3, **kw)


def test_pretrained_step0_is_scored_once_and_equals_each_runs_own(tmp_path, monkeypatch):
    d = _cqa(tmp_path, 16, n_test=6)
    tok = tiny.train_tokenizer(tiny.default_corpus(200), vocab_size=300)
    model = tiny.tiny_causal_lm(tok, n_layers=1, hidden=32, heads=2, seed=3)
    model.save_pretrained(tmp_path / "student")
    tok.save_pretrained(tmp_path / "student")
    S = students.prepare("dss:cqa", ["palm-540b"], student=str(tmp_path / "student"), n_train=12, n_valid=4,
                         n_test=6, data_dir=d)
    step0 = students.untrained(S, eval_every=1)
    assert step0["valid"] is not None and 0 <= step0["test"] <= 1
    config = dict(lr=1e-3, steps=2, batch_size=4, max_len=96)
    own = students.train_arm(S, "ft", students.arm({"answer": 1.0}), 1, config, eval_every=1)  # scores its own step 0
    assert own["step0"] == step0
    calls = []
    score = students._score
    monkeypatch.setattr(students, "_score", lambda *a: calls.append(1) or score(*a))
    rows = students.run_arms(S, {"ft": students.arm({"answer": 1.0}),
                                 "dss": students.arm({"answer": 1.0, "rationale:palm-540b": 1.0})}, [0, 1], config,
                             processes=1)
    assert [(r["arm"], r["seed"]) for r in rows] == [("ft", 0), ("ft", 1), ("dss", 0), ("dss", 1)]
    assert all(r["step0"] == {"valid": None, "test": step0["test"]} for r in rows)
    assert len(calls) == 1 + 4 * 2            # step 0 once (test), then each run's final valid and test
    assert students.untrained(students.prepare("dss:cqa", [], student="scratch@layers=1,hidden=32", n_train=4,
                                               n_valid=0, n_test=2, data_dir=d)) is None   # a scratch init is the seed's
