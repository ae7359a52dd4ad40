"""The survey's methods (notebook 05): data transforms and readings checked against hand-built cases."""
import random

import pytest

from labkit import data, rationales
from labkit.data import Record
from labkit.errors import LabkitError
from labkit.lab import survey
from labkit.methods import finetune_cot, icl, scott, socratic


def _rec(answer="5", **kw):
    return Record(id=kw.pop("id", "q1"), question="Ann has 2. Ann gets 3 more. How many now?", answer=answer, **kw)


# --------------------------------------------------------------------------- scripted teacher sampling

def test_rephrase_keeps_the_step_and_reads_it_four_ways():
    step = "2. Ann gets 3 more: 2 + 3 = 5."
    assert [rationales.rephrase(step, j) for j in range(4)] == [
        "2. Ann gets 3 more: 2 + 3 = 5.", "2. 2 + 3 = 5 (Ann gets 3 more).", "2. Ann gets 3 more, so 2 + 3 = 5.",
        "2. 2 + 3 = 5."]
    assert rationales.rephrase("3. From tallest to shortest: A, B.", 1) == "3. A, B (From tallest to shortest)."
    assert rationales.rephrase("So the answer is 5.", 2) == "So the answer is 5."


def test_scripted_sampling_greedy_copies_and_noise_rate():
    recs = data.load_dataset("synthetic:arithmetic", "train", n=400, steps=2)
    clean = rationales.ScriptedTeacher("oracle")
    assert clean.sample(recs[0], 3, temperature=0) == [clean.rationale(recs[0])] * 3
    paths = [p for r in recs[:50] for p in clean.sample(r, 4, temperature=1.0, seed=1)]
    assert len({p for p in paths}) > 50                               # phrasings vary at T = 1
    canonical = {ln for r in recs[:50] for ln in clean.rationale(r).split("\n")}
    for p in paths:                                                   # ... but every step says the same thing
        assert all(any(rationales.rephrase(c, j) == ln for c in canonical for j in range(4)) for ln in p.split("\n"))
    noisy = rationales.ScriptedTeacher("noisy-oracle@p=0.3")
    wrong = [not finetune_cot.path_is_correct(p, r) for r in recs for p in noisy.sample(r, 4, temperature=1.0)]
    n, rate = len(wrong), sum(wrong) / len(wrong)
    assert abs(rate - 0.3) < 3 * (0.3 * 0.7 / n) ** 0.5                # each path's error is its own draw
    res = rationales.generate_rationales(["oracle"], recs[:5], do_sample=True, n_samples=3, temperature=1.0,
                                         progress=False)
    assert [len(s["oracle"]) for s in res.samples] == [3] * 5


# --------------------------------------------------------------------------- Fine-tune-CoT

def test_finetune_cot_keeps_correct_paths_and_counts_coverage():
    a, b = _rec("5", id="a"), _rec("7", id="b")
    paths = [["x. So the answer is 5.", "y. So the answer is 6.", "x. So the answer is 5."],
             ["z. So the answer is 6."]]
    p, t, stats = finetune_cot.training_pairs([a, b], paths)
    assert t == [" x. So the answer is 5.", " x. So the answer is 5."] and all(q.startswith("[cot] Q:") for q in p)
    assert stats == {"questions": 2, "paths": 4, "kept": 2, "covered": 1, "distinct": 1}
    _, t_all, stats = finetune_cot.training_pairs([a, b], paths, keep_correct=False)
    assert len(t_all) == 4 and stats["covered"] == 2
    assert finetune_cot.accuracy(["So the answer is 5.", "So the answer is 6."], [a, b]) == 0.5


def test_finetune_cot_settings_refuse_k_paths_at_temperature_zero():
    with pytest.raises(LabkitError, match="FinetuneCoTSettings.k=4"):
        finetune_cot.Settings(k=4, temperature=0.0)
    with pytest.raises(LabkitError, match="k=0"):
        finetune_cot.Settings(k=0)


# --------------------------------------------------------------------------- SCOTT

def test_scott_filter_targets_and_faithfulness():
    good = _rec("5", id="g", rationales={"t": "2 + 3 = 5. So the answer is 5."})
    bad = _rec("5", id="b", rationales={"t": "2 + 3 = 6. So the answer is 6."})
    none = _rec("5", id="n")
    p, t, stats = scott.training_pairs([good, bad, none], "t", filter=True)
    assert t == [" 2 + 3 = 5. So the answer is 5.\nAnswer: 5"] and p[0].startswith("[explain] Q:")
    assert stats == {"questions": 3, "with_rationale": 2, "consistent": 1, "kept": 1}
    _, t, _ = scott.training_pairs([good, bad], "t", filter=False)
    assert t[1] == " 2 + 3 = 6. So the answer is 6.\nAnswer: 5"        # the inconsistent target SCOTT removes
    r = _rec("5")
    texts = ["So the answer is 5.\nAnswer: 5",            # right and faithful
             "So the answer is 6.\nAnswer: 5",            # right, unfaithful
             "So the answer is 6.\nAnswer: 6",            # wrong, faithful
             "So the answer is 6."]                       # no answer given
    assert scott.read(texts[1], r) == ("6", "5") and scott.read(texts[3], r) == ("6", None)
    assert scott.scores(texts, [r] * 4) == {"accuracy": 0.5, "faithfulness": 0.5, "rationale_accuracy": 0.25}


# --------------------------------------------------------------------------- Socratic CoT

def test_socratic_decomposition_and_prompts():
    rat = "1. Gus gets 8 more: 20 + 8 = 28.\n2. Gus gives 6 away: 28 - 6 = 22.\nSo the answer is 22."
    steps = socratic.decompose(rat)
    assert steps == [("Gus gets 8 more. What now?", "20 + 8 = 28."), ("Gus gives 6 away. What now?", "28 - 6 = 22."),
                     (socratic.LAST, "So the answer is 22.")]
    r = _rec("22", rationales={"t": rat})
    dp, dt = socratic.training_pairs([r], "t", "decomposer")
    sp, st = socratic.training_pairs([r], "t", "solver")
    assert dt == [" " + q for q, _ in steps] and st == [" " + a for _, a in steps]
    assert dp[1].endswith("Q1: Gus gets 8 more. What now?\nA1: 20 + 8 = 28.\nQ2:") and dp[1].startswith("[decompose] Q:")
    assert sp[2].endswith("A2: 28 - 6 = 22.\nQ3: What is the answer?\nA3:")
    with pytest.raises(LabkitError, match="record q1 rationale of t"):
        socratic.training_pairs([_rec("22", rationales={"t": "no steps here"})], "t", "solver")


# --------------------------------------------------------------------------- ICL distillation

def test_icl_demonstrations_same_task_with_the_query_item_never_itself():
    tasks = survey.lookup_tasks(3, seed=0)
    assert len(tasks) == 3 * 16 * 3
    rules = {}
    for r in tasks:                                              # one rule per (task, item), whatever the phrasing
        assert rules.setdefault((r.meta["task"], r.meta["item"]), r.answer) == r.answer
    rng = random.Random(0)
    for r in tasks[::17]:
        demos = icl.demonstrations(r, tasks, 4, rng=rng)
        assert len(demos) == 4 and r.id not in {d.id for d in demos}
        assert {d.meta["task"] for d in demos} == {r.meta["task"]}
        assert sum(d.meta["item"] == r.meta["item"] for d in demos) == 1
    p = icl.prompt(tasks[0], tasks[3:5])
    assert p.count("\nA: (") == 2 and p.endswith(tasks[0].question + "\nAnswer Choices:\n(a) red\n(b) blue\n"
                                                 "(c) green\n(d) yellow\nA:")
    with pytest.raises(LabkitError, match="fewer than k=99"):
        icl.demonstrations(tasks[0], tasks, 99, rng=rng)


def test_icl_setup_holds_out_items_of_the_target_tasks():
    s = survey.icl_setup(n_source=2, n_target=2, n_target_train=6)
    train_items = {(r.meta["task"], r.meta["item"]) for r in s.train}
    test_items = {(r.meta["task"], r.meta["item"]) for r in s.test}
    assert len(train_items) == 12 and len(test_items) == 20 and not train_items & test_items
    arms = survey.icl_arms(s, k=4, epochs=2)
    assert arms["fine-tuning (no context)"]["stats"] == {"records": 36, "pairs": 36}
    assert arms["Multitask-ICT"]["stats"] == {"records": 36, "pairs": 72}
    assert arms["Meta-ICT"]["stats"] == {"records": 96, "pairs": 192}
    assert all(p.startswith("[answer]") for p in arms["fine-tuning (no context)"]["pairs"][0][0])


# --------------------------------------------------------------------------- claims

def test_survey_claims_pair_arms_by_seed():
    rows = {"scott": [{"arm": a, "seed": s, "accuracy": acc, "faithfulness": f}
                      for a, vals in {"unfiltered": [(0.5, 0.6), (0.4, 0.7), (0.5, 0.5)],
                                      "consistent only": [(0.6, 0.9), (0.4, 0.9), (0.7, 0.8)]}.items()
                      for s, (acc, f) in enumerate(vals)]}
    c = {x["id"]: x for x in survey.claims_of(rows)}
    assert c["05.scott.faithful"]["values"] == pytest.approx([0.3, 0.2, 0.3])
    assert c["05.scott.accuracy"]["values"] == pytest.approx([0.1, 0.0, 0.2])
    assert c["05.scott.faithful"]["holds"] and c["05.scott.faithful"]["n"] == 3
