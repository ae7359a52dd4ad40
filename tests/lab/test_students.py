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
        rows = [
            {
                "id": f"{split}{i}",
                "question": f"Which one is {i}?",
                "choices": [f"o{i}", "p", "q", "r", "s"],
                "answer": f"o{i}",
                "abstractive_explanation": "",
                "extractive_explanation": "",
            }
            for i in range(n)
        ]
        (cqa / f"cqa_{split}.json").write_text("\n".join(json.dumps(r) for r in rows))
        (cqa / "llm" / f"{split}_CoT_0.json").write_text(
            json.dumps([f"It is o{i}. So the answer is (a) o{i}." for i in range(n)])
        )
    return tmp_path


def test_prepare_holds_out_validation_rows_after_the_training_rows(tmp_path):
    d = _cqa(tmp_path, 12)
    kw = dict(student="scratch@layers=1,hidden=32", n_test=2, data_dir=d)
    S = students.prepare("dss:cqa", ["palm-540b"], n_train=8, n_valid=3, **kw)
    assert [r.id for r in S.train] == [f"train{i}" for i in range(8)]
    assert [r.id for r in S.valid] == ["train8", "train9", "train10"]  # disjoint from train, in file order
    assert all(r.rationales.get("palm-540b") for r in S.train)
    assert [r.id for r in S.test] == ["test0", "test1"] and S.chance == pytest.approx(0.2)
    S = students.prepare("dss:cqa", [], n_train=0, n_valid=3, **kw)  # n_train 0: all rows but the held-out
    assert [r.id for r in S.train] == [f"train{i}" for i in range(9)] and len(S.valid) == 3
    with pytest.raises(LabkitError, match=r"12 training rows.*n_train=10.*n_valid=3"):
        students.prepare("dss:cqa", [], n_train=10, n_valid=3, **kw)


def test_pretrained_step0_is_scored_once_and_equals_each_runs_own(tmp_path, monkeypatch):
    from labkit.lab import arms as A

    d = _cqa(tmp_path, 16, n_test=6)
    tok = tiny.train_tokenizer(tiny.default_corpus(200), vocab_size=300)
    model = tiny.tiny_causal_lm(tok, n_layers=1, hidden=32, heads=2, seed=3)
    model.save_pretrained(tmp_path / "student")
    tok.save_pretrained(tmp_path / "student")
    S = students.prepare(
        "dss:cqa", ["palm-540b"], student=str(tmp_path / "student"), n_train=12, n_valid=4, n_test=6, data_dir=d
    )
    config = dict(lr=1e-3, steps=2, batch_size=4, max_len=96)
    shared = students.Experiment(S, config, eval_every=1).prepare()
    step0 = shared.step0
    assert step0["valid"] is not None and 0 <= step0["test"] <= 1
    ft = A.Arm("ft", "dss", {})
    own = students.Experiment(S, config, eval_every=1).run(ft, 1)  # scores its own step 0
    assert own.step0 == {"valid": {"accuracy": step0["valid"]}, "test": {"accuracy": step0["test"]}}
    assert [s for s, _ in own.curves["valid accuracy"]] == [0, 1, 2]  # step 0, every step, the end
    calls = []
    score = students.score
    monkeypatch.setattr(students, "score", lambda *a: calls.append(1) or score(*a))
    exp = students.Experiment(S, config).prepare()
    runs = A.run(exp, [ft, A.Arm("dss", "dss", {"teacher": "palm-540b", "lam": 1.0})], [0, 1], processes=1)
    assert [(r.arm, r.seed) for r in runs] == [("ft", 0), ("ft", 1), ("dss", 0), ("dss", 1)]
    assert all(r.step0 == {"test": {"accuracy": step0["test"]}} for r in runs)
    assert len(calls) == 1 + 4 * 2  # step 0 once (test), then each run's final valid and test
    scratch = students.prepare(
        "dss:cqa", [], student="scratch@layers=1,hidden=32", n_train=4, n_valid=0, n_test=2, data_dir=d
    )
    assert students.Experiment(scratch, config).prepare().step0 is None  # a scratch init is the seed's


def test_arms_carry_their_meaning_in_fields():
    arms = {a.label: a for a in students.dss_arms("t", 2.0, fractions=(0.25, 1.0))}
    assert arms["step-by-step"].settings == {"teacher": "t", "lam": 2.0, "label_source": "t"}
    assert arms["distillation"].settings == {"label_source": "t"} and arms["fine-tuning"].settings == {}
    assert arms["fine-tuning @0.25"].reads == {"fraction": 0.25, "sweep": "fine-tuning"}
    from labkit.methods import dss

    assert dss.DSSSettings(**arms["step-by-step"].settings).weights() == {"answer": 1.0, "rationale:t": 2.0}
    t = {a.label: a for a in students.tinyllm_arms({"a": 1.0, "b": 0.5})}
    assert t["w/o a"].settings == {"alphas": {"b": 0.5}} and t["w/o a"].reads == {"without": "a"}
    assert t["TinyLLM (full)"].reads == {"alpha": None}  # the teachers' α differ
    al = students.alpha_arms({"a": 1.0, "b": 1.0}, [0.1, 1.0, 3.0], [0, 1])
    assert [a.label for a in al] == ["α=0.1", "α=3"] and al[0].seeds == (0, 1)  # α = 1 is the full run itself


def test_the_headline_arms_run_the_headline_seeds():
    P = students.DSSProfile.resolve("default")
    assert P.head_seeds == (0, 1, 2, 3, 4) and len(P.seeds) < 5  # the other arms run fewer
    arms = {a.label: a.seeds for a in students.dss_arms("t", 1.0, headline_seeds=P.head_seeds)}
    assert arms == {"fine-tuning": None, "distillation": P.head_seeds, "step-by-step": P.head_seeds,
                    "step-by-step (gold labels)": None}  # fmt: skip
    t = {a.label: a.seeds for a in students.tinyllm_arms({"a": 1.0, "b": 1.0}, headline_seeds=(0, 1, 2, 3, 4))}
    assert t[students.FULL] == t[students.LABEL_ONLY] == (0, 1, 2, 3, 4) and t["w/o a"] is None
    assert students.DSSProfile.resolve("smoke").head_seeds == (0, 1)  # empty: the seeds
    with pytest.raises(LabkitError, match=r"parameter headline_seeds=\[3\]: expected empty, or a list of at least 2"):
        students.DSSProfile.resolve("smoke", headline_seeds=[3])
