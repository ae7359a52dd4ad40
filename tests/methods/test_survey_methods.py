"""The survey's methods (notebook 05): data transforms and readings checked against hand-built cases."""

import dataclasses
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
        "2. Ann gets 3 more: 2 + 3 = 5.",
        "2. 2 + 3 = 5 (Ann gets 3 more).",
        "2. Ann gets 3 more, so 2 + 3 = 5.",
        "2. 2 + 3 = 5.",
    ]
    assert rationales.rephrase("3. From tallest to shortest: A, B.", 1) == "3. A, B (From tallest to shortest)."
    assert rationales.rephrase("So the answer is 5.", 2) == "So the answer is 5."


def test_scripted_sampling_greedy_copies_and_noise_rate():
    recs = data.load_dataset("synthetic:arithmetic", "train", n=400, steps=2)
    clean = rationales.ScriptedTeacher("oracle")
    assert clean.sample(recs[0], 3, temperature=0) == [clean.rationale(recs[0])] * 3
    paths = [p for r in recs[:50] for p in clean.sample(r, 4, temperature=1.0, seed=1)]
    assert len({p for p in paths}) > 50  # phrasings vary at T = 1
    canonical = {ln for r in recs[:50] for ln in clean.rationale(r).split("\n")}
    for p in paths:  # ... but every step says the same thing
        assert all(any(rationales.rephrase(c, j) == ln for c in canonical for j in range(4)) for ln in p.split("\n"))
    noisy = rationales.ScriptedTeacher("noisy-oracle@p=0.3")
    wrong = [not finetune_cot.path_is_correct(p, r) for r in recs for p in noisy.sample(r, 4, temperature=1.0)]
    n, rate = len(wrong), sum(wrong) / len(wrong)
    assert abs(rate - 0.3) < 3 * (0.3 * 0.7 / n) ** 0.5  # each path's error is its own draw
    res = rationales.generate_rationales(
        ["oracle"], recs[:5], do_sample=True, n_samples=3, temperature=1.0, progress=False
    )
    assert [len(s["oracle"]) for s in res.samples] == [3] * 5


# --------------------------------------------------------------------------- Fine-tune-CoT


def test_finetune_cot_keeps_correct_paths_and_counts_coverage():
    a, b = _rec("5", id="a"), _rec("7", id="b")
    paths = [["x. So the answer is 5.", "y. So the answer is 6.", "x. So the answer is 5."], ["z. So the answer is 6."]]
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
    assert t[1] == " 2 + 3 = 6. So the answer is 6.\nAnswer: 5"  # the inconsistent target SCOTT removes
    r = _rec("5")
    texts = [
        "So the answer is 5.\nAnswer: 5",  # right and faithful
        "So the answer is 6.\nAnswer: 5",  # right, unfaithful
        "So the answer is 6.\nAnswer: 6",  # wrong, faithful
        "So the answer is 6.",
    ]  # no answer given
    assert scott.read(texts[1], r) == ("6", "5") and scott.read(texts[3], r) == ("6", None)
    assert scott.scores(texts, [r] * 4) == {"accuracy": 0.5, "faithfulness": 0.5, "rationale_accuracy": 0.25}


# --------------------------------------------------------------------------- Socratic CoT


def test_socratic_decomposition_and_prompts():
    rat = "1. Gus gets 8 more: 20 + 8 = 28.\n2. Gus gives 6 away: 28 - 6 = 22.\nSo the answer is 22."
    steps = socratic.decompose(rat)
    assert steps == [
        ("Gus gets 8 more. What now?", "20 + 8 = 28."),
        ("Gus gives 6 away. What now?", "28 - 6 = 22."),
        (socratic.LAST, "So the answer is 22."),
    ]
    r = _rec("22", rationales={"t": rat})
    dp, dt = socratic.training_pairs([r], "t", "decomposer")
    sp, st = socratic.training_pairs([r], "t", "solver")
    assert dt == [" " + q for q, _ in steps] and st == [" " + a for _, a in steps]
    assert dp[1].endswith("Q1: Gus gets 8 more. What now?\nA1: 20 + 8 = 28.\nQ2:") and dp[1].startswith(
        "[decompose] Q:"
    )
    assert sp[2].endswith("A2: 28 - 6 = 22.\nQ3: What is the answer?\nA3:")
    with pytest.raises(LabkitError, match="record q1 rationale of t"):
        socratic.training_pairs([_rec("22", rationales={"t": "no steps here"})], "t", "solver")


# --------------------------------------------------------------------------- ICL distillation


def test_icl_demonstrations_same_task_with_the_query_item_never_itself():
    tasks = survey.lookup_tasks(3, seed=0)
    assert len(tasks) == 3 * 16 * 3
    rules = {}
    for r in tasks:  # one rule per (task, item), whatever the phrasing
        assert rules.setdefault((r.meta["task"], r.meta["item"]), r.answer) == r.answer
    rng = random.Random(0)
    for r in tasks[::17]:
        demos = icl.demonstrations(r, tasks, 4, rng=rng)
        assert len(demos) == 4 and r.id not in {d.id for d in demos}
        assert {d.meta["task"] for d in demos} == {r.meta["task"]}
        assert sum(d.meta["item"] == r.meta["item"] for d in demos) == 1
    p = icl.prompt(tasks[0], tasks[3:5])
    assert p.count("\nA: (") == 2 and p.endswith(
        tasks[0].question + "\nAnswer Choices:\n(a) red\n(b) blue\n(c) green\n(d) yellow\nA:"
    )
    with pytest.raises(LabkitError, match="fewer than k=99"):
        icl.demonstrations(tasks[0], tasks, 99, rng=rng)


def test_icl_setup_holds_out_items_of_the_target_tasks():
    s = survey.icl_setup(n_source=2, n_target=2, n_target_train=6)
    train_items = {(r.meta["task"], r.meta["item"]) for r in s.train}
    test_items = {(r.meta["task"], r.meta["item"]) for r in s.test}
    assert len(train_items) == 12 and len(test_items) == 20 and not train_items & test_items
    x = survey.SurveyExperiment(s, "scratch@layers=1,hidden=32", {})
    data = {a.label: x.data(a) for a in survey.icl_arms(k=4, epochs=2)}
    assert data["fine-tuning (no context)"][1] == {"records": 36, "pairs": 36}
    assert data["Multitask-ICT"][1] == {"records": 36, "pairs": 72}
    assert data["Meta-ICT"][1] == {"records": 96, "pairs": 192}
    assert all(p.startswith("[answer]") for p in data["fine-tuning (no context)"][0][0][0])


# --------------------------------------------------------------------------- claims


def test_survey_claims_pair_arms_by_seed():
    from labkit.lab.arms import Run

    rows = {
        "scott": [
            Run(a, s, {"test": {"accuracy": acc, "faithfulness": f}})
            for a, vals in {
                "unfiltered": [(0.5, 0.6), (0.4, 0.7), (0.5, 0.5)],
                "consistent only": [(0.6, 0.9), (0.4, 0.9), (0.7, 0.8)],
            }.items()
            for s, (acc, f) in enumerate(vals)
        ]
    }
    c = {x["id"]: x for x in survey.claims_of(rows)}
    assert c["05.scott.faithful"]["values"] == pytest.approx([0.3, 0.2, 0.3])
    assert c["05.scott.accuracy"]["values"] == pytest.approx([0.1, 0.0, 0.2])
    assert c["05.scott.faithful"]["holds"] and c["05.scott.faithful"]["n"] == 3
    assert c["05.scott.faithful"]["citation"] == survey.CITATION  # the report cites the survey, not all five papers


# --------------------------------------------------------------------------- hand-computed cases of the rest


def _lookup(task, item, answer, j=0):
    return Record(
        id=f"{task}-{item}-{j}",
        question=f"Where does the {item} go? ({j})",
        answer=answer,
        choices=list(survey.COLORS),
        meta={"task": task, "item": item},
    )


def test_finetune_cot_reasoning_paths_greedy_is_the_teachers_rationale_and_k_samples_k():
    recs = [
        dataclasses.replace(r, choices=None) for r in data.load_dataset("synthetic:arithmetic", "train", n=6, steps=1)
    ]
    greedy = finetune_cot.reasoning_paths(recs, finetune_cot.Settings(teacher="oracle"))
    assert greedy == [[rationales.ScriptedTeacher("oracle").rationale(r)] for r in recs]
    assert all(p.endswith(f"So the answer is {r.answer}.") for [p], r in zip(greedy, recs))
    k3 = finetune_cot.reasoning_paths(recs, finetune_cot.Settings(teacher="oracle", k=3, temperature=1.0))
    assert [len(ps) for ps in k3] == [3] * 6 and all(
        finetune_cot.path_is_correct(p, r) for ps, r in zip(k3, recs) for p in ps
    )
    p, t, stats = finetune_cot.training_pairs(recs, k3)
    assert len(t) == 18 and p[0] == "[cot] Q: " + recs[0].question + "\nA:" and t[0] == " " + k3[0][0]
    assert stats["kept"] == 18 and stats["covered"] == 6


def test_icl_training_pairs_prompt_and_target_by_hand():
    q = _lookup("t0", "cup", "blue")
    support = [q, _lookup("t0", "cup", "blue", 1), _lookup("t0", "pen", "red"), _lookup("t1", "cup", "green")]
    p, t = icl.training_pairs([q], support, icl.Settings(k=2, seed=0))
    # the one other t0 record with the query's item, and the only other t0 record: in some order
    demo_cup = (
        "Q: Where does the cup go? (1)\nAnswer Choices:\n(a) red\n(b) blue\n(c) green\n(d) yellow\nA: (b) blue\n\n"
    )
    demo_pen = (
        "Q: Where does the pen go? (0)\nAnswer Choices:\n(a) red\n(b) blue\n(c) green\n(d) yellow\nA: (a) red\n\n"
    )
    query = "[answer] Q: Where does the cup go? (0)\nAnswer Choices:\n(a) red\n(b) blue\n(c) green\n(d) yellow\nA:"
    assert t == [" (b) blue"] and p[0] in (demo_cup + demo_pen + query, demo_pen + demo_cup + query)
    p0, t0 = icl.training_pairs([q], support, icl.Settings(k=0))
    assert p0 == [query] and t0 == [" (b) blue"]  # plain fine-tuning: no demonstrations
    q.teacher_labels = {"T": "yellow"}
    assert icl.training_pairs([q], support, icl.Settings(k=0, label_source="T"))[1] == [" (d) yellow"]


def test_icl_accuracy_takes_the_best_length_normalised_option(monkeypatch):
    recs = [_lookup("t0", "cup", "blue"), _lookup("t0", "pen", "red")]
    support = recs + [_lookup("t0", "cup", "blue", 1), _lookup("t0", "pen", "red", 1)]
    # (sum log p, tokens) per option, in record-major order: record 0 (gold b): per-token -1, -0.5, -0.6, -2 -> b;
    # record 1 (gold a): -1, -0.25, -3, -3 -> b (the sum -1.0 of a beats b's -1.5, the mean does not)
    table = [(-3.0, 3), (-1.5, 3), (-1.2, 2), (-4.0, 2), (-1.0, 1), (-1.5, 6), (-3.0, 1), (-6.0, 2)]
    seen = {}

    def fake(model, tokenizer, prompts, conts, **kw):
        seen["conts"], seen["prompts"] = conts, prompts
        return table

    monkeypatch.setattr(icl.evaluate, "continuation_logprobs", fake)
    assert icl.accuracy(None, None, recs, support, k=1) == 0.5
    assert seen["conts"] == [" (a) red", " (b) blue", " (c) green", " (d) yellow"] * 2
    assert seen["prompts"][0].startswith("Q: Where does the cup go? (1)\n") and seen["prompts"][0].count("\nA: (") == 1


def test_icl_setup_train_valid_test_are_disjoint_items_of_each_target_task():
    kw = dict(n_source=2, n_target=3, n_target_train=6, n_target_valid=4)
    tr, va, te = (survey.icl_setup(**kw, eval_split=e) for e in ("train", "valid", "test"))
    items = {
        n: {(r.meta["task"], r.meta["item"]) for r in s}
        for n, s in [("train", tr.train), ("valid", va.test), ("test", te.test)]
    }
    assert [len(items[n]) for n in ("train", "valid", "test")] == [18, 12, 18]  # 6 / 4 / 6 items x 3 tasks
    assert len(va.test) == 12 * 3 and len(te.test) == 18 * 3  # 3 phrasings per item
    assert not (items["train"] & items["valid"] or items["train"] & items["test"] or items["valid"] & items["test"])
    assert survey.icl_setup(n_source=2, n_target=3, n_target_train=6).train == tr.train  # same training items
    with pytest.raises(LabkitError, match="n_target_valid=10"):
        survey.icl_setup(n_source=2, n_target=3, n_target_train=6, n_target_valid=10)


def test_cot_setup_scores_the_valid_split_when_asked():
    kw = dict(n_train=4, n_test=5, task_steps=1, teachers=["oracle"])
    v, t = survey.cot_setup(eval_split="valid", **kw), survey.cot_setup(**kw)
    assert [r.id for r in v.test] == [f"arithmetic-valid-s0-{i:05d}" for i in range(5)]
    assert [r.id for r in t.test] == [f"arithmetic-test-s0-{i:05d}" for i in range(5)]
    assert all(r.choices is None for r in v.test) and all(r.rationales["oracle"] for r in v.train)


def test_socratic_solve_alternates_until_the_decomposer_asks_for_the_answer(monkeypatch):
    class Stub:
        def eval(self):
            pass

        def train(self):
            pass

    dec, sol = Stub(), Stub()
    script = {
        "[decompose]": {0: " Gus gets 8 more. What now?", 1: " " + socratic.LAST},
        "[solve]": {0: " 20 + 8 = 28.", 1: " So the answer is 28."},
    }

    def fake(model, tokenizer, prompts, **kw):
        out = []
        for p in prompts:
            role = "[decompose]" if model is dec else "[solve]"
            assert p.startswith(role)
            out.append(script[role][p.count("\nA") - (role == "[solve]")])
        return out

    monkeypatch.setattr(socratic.S, "generate", fake)
    r = _rec("28")
    [got] = socratic.solve(dec, sol, None, [r], max_steps=4)
    assert got == {
        "pairs": [("Gus gets 8 more. What now?", "20 + 8 = 28."), (socratic.LAST, "So the answer is 28.")],
        "answer_text": "So the answer is 28.",
    }
    assert finetune_cot.accuracy([got["answer_text"]], [r]) == 1.0
    [cut] = socratic.solve(dec, sol, None, [r], max_steps=1)  # the last round always asks for the answer
    assert cut["pairs"] == [(socratic.LAST, "20 + 8 = 28.")] and cut["answer_text"] == "20 + 8 = 28."


def test_icl_prompt_without_choices_by_hand():
    q = _lookup("t0", "cup", "blue")
    support = [q, _lookup("t0", "cup", "blue", 1), _lookup("t0", "pen", "red")]
    p, t = icl.training_pairs([q], support, icl.Settings(k=2, seed=0, choices=False))
    demos = ("Q: Where does the cup go? (1)\nA: blue\n\n", "Q: Where does the pen go? (0)\nA: red\n\n")
    query = "[answer] Q: Where does the cup go? (0)\nA:"
    assert t == [" blue"] and p[0] in (demos[0] + demos[1] + query, demos[1] + demos[0] + query)
    assert q.choices == list(survey.COLORS)  # the record keeps its options for scoring
    s = survey.icl_setup(n_source=2, n_target=1, n_target_train=6)
    x = survey.SurveyExperiment(s, "scratch@layers=1,hidden=32", {})
    meta = next(a for a in survey.icl_arms(k=2, epochs=1) if a.label == "Meta-ICT")
    assert all(
        "Answer Choices" not in p and t[1:] in survey.COLORS for p, t in zip(*x.data(meta)[0][0])
    )  # the survey's default: no choices


# --------------------------------------------------------------------------- Lion


def _arith(n=60, steps=1):
    return [
        dataclasses.replace(r, choices=None)
        for r in data.load_dataset("synthetic:arithmetic", "train", n=n, steps=steps)
    ]


def test_similar_question_keeps_the_operations_and_is_a_new_train_question():
    rng = random.Random(0)
    for r in _arith(60, steps=1) + _arith(60, steps=3):
        v = data.similar_question(r, rng)
        ops, new_ops = r.meta["ops"], v.meta["ops"]
        assert [o for o, _ in new_ops] == [o for o, _ in ops] and v.meta["steps"] == r.meta["steps"]
        assert (
            all(abs(k1 - k0) <= 3 for (_, k0), (_, k1) in zip(ops, new_ops))
            and abs(v.meta["start"] - r.meta["start"]) <= 3
        )
        value = v.meta["start"]
        assert 2 <= value <= 20
        for op, k in new_ops:  # the answer recomputed by hand, under the generator's own rules
            assert (
                (op == "+" and 1 <= k <= 9)
                or (op == "-" and 1 <= k < value and k <= 9)
                or (op == "*" and k in (2, 3) and value <= 12)
            ), (op, k, value)
            value = value + k if op == "+" else value - k if op == "-" else value * k
        assert v.answer == str(value) and v.solution.endswith(f"So the answer is {value}.")
        assert v.question != r.question and data._split_of(v.question) == "train"
        assert v.meta["similar_to"] == r.id and v.choices is None
    with pytest.raises(LabkitError, match="needs a synthetic:arithmetic question"):
        data.similar_question(_rec(), rng)


def test_lion_referee_and_hard_questions_by_hand():
    from labkit.methods import lion

    recs = _arith(4)
    for r in recs:
        r.rationales = {"T": f"1. ...\nSo the answer is {r.answer}."}
    recs[1].rationales["T"] = "1. ...\nSo the answer is 999."  # the teacher is wrong here
    student = [
        f"So the answer is {recs[0].answer}.",
        f"So the answer is {recs[1].answer}.",
        "no answer",
        f"So the answer is {int(recs[3].answer) + 1}.",
    ]
    # 0 agrees; 1 gives the gold answer but the teacher said 999 (the referee follows the teacher); 2 states
    # nothing; 3 is off by one
    assert lion.hard_questions(recs, student, "T") == [1, 2, 3]
    assert lion.referee(recs[0], "So the answer is 7.0", None) is (recs[0].answer == "7")  # gold stands in
    with pytest.raises(LabkitError, match="4 records but 3 student responses"):
        lion.hard_questions(recs, student[:3], "T")


def test_lion_new_questions_come_from_the_hard_ones_only():
    from labkit.methods import lion

    pool = _arith(40)
    hard = [3, 7, 11]
    new = lion.new_questions(pool, hard, lion.Settings(n_new=10, mining="hard", seed=1))
    sources = [v.meta["similar_to"] for v in new]
    assert len(new) == 10 and set(sources) == {pool[i].id for i in hard}
    assert sorted(sources.count(pool[i].id) for i in hard) == [3, 3, 4]  # cycled through, evenly
    rand = lion.new_questions(pool, hard, lion.Settings(n_new=40, mining="random", seed=1))
    assert len(rand) == 40 and len({v.meta["similar_to"] for v in rand}) > 10  # drawn from the whole pool
    assert lion.new_questions(pool, [], lion.Settings(n_new=10, mining="hard")) == []
    again = lion.new_questions(pool, hard, lion.Settings(n_new=10, mining="hard", seed=1))
    assert [v.question for v in again] == [v.question for v in new]  # seeded
    with pytest.raises(LabkitError, match="mining"):
        lion.Settings(mining="adversarial")


def test_lion_arms_share_the_imitation_and_grow_the_pool_each_their_way(monkeypatch):
    s = survey.cot_setup(n_train=24, n_test=6, task_steps=1, teachers=["oracle"], eval_split="valid")
    from labkit.lab import arms as A

    arms = survey.lion_arms("oracle", n_pool=20, n_new=8, steps=2)
    cfg = dict(lr=3e-3, steps=2, batch_size=4, max_len=256, bf16=False)
    x = survey.SurveyExperiment(s, "scratch@layers=1,hidden=32", cfg, step0_seeds=[])
    x.prepare([arms])
    assert x.data(arms[0])[0] == x.data(arms[1])[0] and len(x.data(arms[0])[0][0][0]) == 20
    trained, judged = [], []
    real_train, real_judge = survey.sft.train, survey.lion.discriminate
    monkeypatch.setattr(
        survey.sft,
        "train",
        lambda m, t, p, tg, config: trained.append(len(p)) or real_train(m, t, p, tg, config=config),
    )
    monkeypatch.setattr(survey.lion, "discriminate", lambda *a: judged.append(1) or real_judge(*a))
    rows = A.run(x, arms, [0, 1], processes=1)
    assert [(r.arm, r.seed) for r in rows] == [(a.label, sd) for a in arms for sd in (0, 1)]
    # per seed: one imitation on the pool and one referee pass, shared; then one training per arm on its grown pool
    assert len(judged) == 2 and trained == [20, 28, 28] * 2
    for sd in (0, 1):
        same = [r.extra for r in rows if r.seed == sd]
        assert same[0]["hard"] == same[1]["hard"] and all(r["pool"] == 20 for r in same)
        assert all(r["new"] == (8 if r["hard"] or a.label.startswith("control") else 0) for r, a in zip(same, arms))
    with pytest.raises(LabkitError, match="lion_pool=99"):
        x.data(survey.lion_arms("oracle", n_pool=99, n_new=1, steps=1)[0])


def test_untrained_scores_identical_step0_students_once(monkeypatch):
    s = survey.cot_setup(n_train=12, n_test=4, task_steps=1, teachers=["noisy-oracle@p=0.3", "oracle"])
    arms = survey.finetune_cot_arms("noisy-oracle@p=0.3", k=2, temperature=1.0)
    x = survey.SurveyExperiment(s, "scratch@layers=1,hidden=32", {})
    x.prepare([arms])
    calls = []

    def score(models, setup, arm):  # a number that depends on the weights: equal only for equal students
        calls.append(1)
        return {"accuracy": float(sum(p.double().sum() for p in models[0].parameters()))}, None

    monkeypatch.setitem(survey.SCORE, "finetune_cot", score)
    by = {(a.label, seed): x.untrained(a, seed)["accuracy"] for a in arms for seed in (0, 1)}
    assert len(by) == 4 and len(calls) == 2  # one scoring per seed, not per arm
    for seed in (0, 1):
        direct = score([x.fresh(seed)], s, None)[0]["accuracy"]
        assert [by[(a.label, seed)] for a in arms] == [direct, direct]
    assert by[(arms[0].label, 0)] != by[(arms[0].label, 1)]


def test_lion_train_runs_rounds_and_grows_the_pool(monkeypatch):
    from labkit import tiny
    from labkit.loop import TrainConfig
    from labkit.methods import get, lion

    recs = _arith(12)
    tok = tiny.train_tokenizer([r.question + " " + r.solution for r in recs] * 3, vocab_size=300)
    model = tiny.tiny_causal_lm(tok, n_layers=1, hidden=32, seed=0)
    sizes = []
    real = lion.sft.train
    monkeypatch.setattr(
        lion.sft, "train", lambda m, t, p, tg, config: sizes.append(len(p)) or real(m, t, p, tg, config=config)
    )
    cfg = TrainConfig(steps=1, batch_size=4, progress=False, device="cpu", bf16=False)
    h = get("lion").train(model, tok, recs, rounds=2, n_new=5, config=cfg)
    assert h.last("loss") > 0
    # imitation on 12, then 12 + new (5 while the untrained student fails something), then the final imitation
    assert sizes[0] == 12 and sizes == sorted(sizes) and sizes[-1] == 12 + 5 * (len(sizes) - 1)
