"""labkit.data: synthetic tasks, file formats, teacher output splitting, hub mappings, real data."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from labkit import answers as A
from labkit import data as D
from labkit.cli import main as cli_main
from labkit.errors import LabkitError

TASKS = ["arithmetic", "tracking", "ordering"]


def real_data_dir() -> Path | None:
    env = os.environ.get("LABKIT_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"
    return path if (path / "tinyllm").is_dir() and (path / "dss").is_dir() else None


# ---------------------------------------------------------------------------
# Independent solvers: recompute the gold answer from the QUESTION TEXT
# ---------------------------------------------------------------------------


def solve_arithmetic(q: str) -> int:
    value = int(re.match(r"\w+ has (\d+) \w+\.", q).group(1))
    for m in re.finditer(r"\w+ (gets (\d+) more|gives (\d+) away|doubles them|triples them)\.", q):
        if m.group(2):
            value += int(m.group(2))
        elif m.group(3):
            value -= int(m.group(3))
        else:
            value *= 2 if "doubles" in m.group(1) else 3
    return value


def solve_tracking(q: str) -> str:
    first, rest = q.split(".", 1)
    holder = {o: p for p, o in re.findall(r"(\w+) has the (\w+)", first)}
    for m in re.finditer(r"(\w+) and (\w+) swap items\.|(\w+) gives the (\w+) to (\w+)\.", rest):
        if m.group(1):
            a, b = m.group(1), m.group(2)
            holder = {o: b if p == a else a if p == b else p for o, p in holder.items()}
        else:
            assert holder[m.group(4)] == m.group(3), "a person gives an object they do not hold"
            holder[m.group(4)] = m.group(5)
    target = re.search(r"Who has the (\w+) at the end\?", q).group(1)
    return holder[target]


def solve_ordering(q: str) -> str:
    above = set()  # (higher, lower) in the attribute's "more" direction
    for a, word, b in re.findall(r"(\w+) is (\w+) than (\w+)\.", q):
        if word in {x[0] for x in D.ATTRIBUTES}:
            above.add((a, b))
        else:
            above.add((b, a))
    people = {p for pair in above for p in pair}
    superlative = re.search(r"Who is the (\w+)\?", q).group(1)
    want_most = superlative in {x[2] for x in D.ATTRIBUTES}
    ends = [p for p in people if not any((p == lo if want_most else p == hi) for hi, lo in above)]
    assert len(ends) == 1, q
    return ends[0]


SOLVERS = {"arithmetic": lambda q: str(solve_arithmetic(q)), "tracking": solve_tracking, "ordering": solve_ordering}


# ---------------------------------------------------------------------------
# Synthetic tasks
# ---------------------------------------------------------------------------

PINNED_FIRST = {
    "arithmetic": (
        "Lou has 8 stickers. Lou doubles them. Lou gives 1 away. Lou gives 5 away. "
        "How many stickers does Lou have now?",
        "10",
    ),
    "tracking": (
        "Lou has the box, Ned has the toy, Cal has the key, Eve has the book. Ned and Eve swap items. "
        "Eve and Cal swap items. Ned and Lou swap items. Who has the key at the end?",
        "Eve",
    ),
    "ordering": ("Fay is slower than Ned. Sam is slower than Max. Sam is faster than Ned. Who is the fastest?", "Max"),
}


@pytest.mark.parametrize("task", TASKS)
def test_synthetic_pinned_and_deterministic(task):
    a = D.load_dataset(f"synthetic:{task}", "train", n=50)
    b = D.load_dataset(f"synthetic:{task}", "train", n=50)
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]
    assert (a[0].question, a[0].answer) == PINNED_FIRST[task]
    other_seed = D.load_dataset(f"synthetic:{task}", "train", n=50, seed=1)
    assert [r.question for r in other_seed] != [r.question for r in a]
    # the first n of a bigger set are the same questions
    full = D.load_dataset(f"synthetic:{task}", "train")
    assert [r.question for r in full[:50]] == [r.question for r in a]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("steps", [1, 3, 5])
def test_synthetic_gold_answers_options_and_solutions(task, steps):
    for split in ("train", "valid", "test"):
        records = D.load_dataset(f"synthetic:{task}", split, n=300 if split == "train" else None, steps=steps)
        assert len(records) == (300 if split == "train" else 200)
        for r in records:
            assert r.answer == SOLVERS[task](r.question), r.question
            assert len(r.choices) == 4 and len(set(r.choices)) == 4
            assert r.choices.count(r.answer) == 1 and r.choices[r.answer_index] == r.answer
            lines = r.solution.split("\n")
            assert lines[-1] == f"So the answer is {r.answer}."
            numbered = [ln for ln in lines if re.match(r"\d+\. ", ln)]
            assert [int(ln.split(".")[0]) for ln in numbered] == list(range(1, len(numbered) + 1))
            assert len(numbered) == steps + (1 if task == "ordering" else 0)
            if task == "arithmetic":
                assert all(int(c) >= 0 for c in r.choices)


def test_synthetic_distractors_are_plausible():
    # arithmetic: the result one step early is offered; tracking/ordering: options are people in the story
    for r in D.load_dataset("synthetic:arithmetic", "train", n=200):
        ops = [tuple(o) for o in r.meta["ops"]]
        early = D._apply_ops(r.meta["start"], ops[:-1])
        assert str(early) in r.choices or str(early) == r.answer
    for r in D.load_dataset("synthetic:tracking", "train", n=200):
        assert set(r.choices) == set(r.meta["initial"].values())
    for r in D.load_dataset("synthetic:ordering", "train", n=200):
        chain = [r.meta["pairs"][0][0]] + [lo for _, lo in r.meta["pairs"]]
        runner_up = chain[1] if r.meta["ask"] == "most" else chain[-2]
        assert runner_up in r.choices


@pytest.mark.parametrize("task", TASKS)
def test_synthetic_splits_disjoint(task):
    splits = D.load_splits(f"synthetic:{task}")
    assert {s: len(v) for s, v in splits.items()} == {"train": 2000, "valid": 200, "test": 200}
    questions = {s: {r.question for r in v} for s, v in splits.items()}
    assert all(len(q) == len(splits[s]) for s, q in questions.items())  # no duplicates within a split
    assert not questions["train"] & questions["valid"]
    assert not questions["train"] & questions["test"]
    assert not questions["valid"] & questions["test"]
    # also across seeds: another seed's test set never meets this seed's train set
    other_test = {r.question for r in D.load_dataset(f"synthetic:{task}", "test", seed=7)}
    assert not questions["train"] & other_test


def test_synthetic_bad_options():
    with pytest.raises(LabkitError, match="steps"):
        D.load_dataset("synthetic:arithmetic", steps=0)
    with pytest.raises(LabkitError, match="steps"):
        D.load_dataset("synthetic:arithmetic", colour="red")
    with pytest.raises(LabkitError, match="valid"):
        D.load_dataset("synthetic:arithmetic", "holdout")


def test_record_roundtrip_and_answer_index():
    r = D.Record(
        id="x",
        question="q?",
        answer="b",
        choices=["a", "b"],
        rationales={"t": "because"},
        teacher_labels={"t": "a"},
        meta={"k": 1},
    )
    assert r.answer_index == 1
    assert D.Record.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert D.Record(id="y", question="q", answer="42").answer_index is None
    assert D.Record(id="z", question="q", answer="c", choices=["a", "b"]).answer_index is None
    with pytest.raises(LabkitError, match="unknown field"):
        D.Record.from_dict({**r.to_dict(), "colour": 1})


def test_shuffle_and_n():
    plain = D.load_dataset("synthetic:ordering", "valid", seed=3)  # seed drives generation and shuffle
    shuffled = D.load_dataset("synthetic:ordering", "valid", shuffle=True, seed=3, n=20)
    assert len(shuffled) == 20
    assert {r.id for r in shuffled} <= {r.id for r in plain}
    assert [r.id for r in shuffled] != [r.id for r in plain[:20]]
    assert [r.id for r in shuffled] == [
        r.id for r in D.load_dataset("synthetic:ordering", "valid", shuffle=True, seed=3, n=20)
    ]


# ---------------------------------------------------------------------------
# Parsers on hand-written strings
# ---------------------------------------------------------------------------

CHOICES = ["trees", "water", "sand", "air"]
TINYLLM_TEXT = (
    "Let's think step by step. Fish need water to breathe. Thus, the answer is (b) water"
    "\n\nQ: Where do fish live?\nAnswer Choices:\n(a) trees\n(b) water\n(c) sand\n(d) air\n"
    "A: Let's think step by step. llama rationale: Fish have gills.\nSo, the correct answer is (b)."
    "\n\nQuestion:\nWhere do birds live?\nThe answer is (a)"
)


def test_split_tinyllm_both_teachers_and_labels():
    parts = D.split_tinyllm(TINYLLM_TEXT)
    assert parts["flan-t5-xl"] == "Let's think step by step. Fish need water to breathe. Thus, the answer is (b) water"
    assert parts["llama2-7b-chat"] == "Fish have gills.\nSo, the correct answer is (b)."  # next example cut
    assert A.parse_answer_label(parts["flan-t5-xl"], CHOICES) == "water"
    assert A.parse_answer_label(parts["llama2-7b-chat"], CHOICES) == "water"


@pytest.mark.parametrize("text", [None, 17, "garbage without markers", "only flan part\n\nQ: but no llama"])
def test_split_tinyllm_garbage_is_missing(text):
    parts = D.split_tinyllm(text)
    assert parts["llama2-7b-chat"] is None
    if text != "only flan part\n\nQ: but no llama":
        assert parts["flan-t5-xl"] is None
    else:
        assert parts["flan-t5-xl"] == "only flan part"


def test_split_palm_cqa_and_svamp():
    cqa = (
        "Of the above choices, only math problem fits. So the answer is (d) math problem.\n\n"
        "Q: next?\nA: So the answer is (a) horse."
    )
    rationale, answer = D.split_palm(cqa)
    assert rationale == "Of the above choices, only math problem fits."
    assert A.match_choice(answer, ["park", "book", "garden", "math problem", "gravity"]) == "math problem"
    svamp = "He scored 84 in 2 rounds. 84 / 2 = 42. The answer is (84 / 2).\n\nQ: There are 120 ..."
    rationale, answer = D.split_palm(svamp)
    assert rationale == "He scored 84 in 2 rounds. 84 / 2 = 42."
    assert A.parse_svamp_label(answer) == "(84 / 2)"
    assert A.safe_eval(A.parse_svamp_label(answer)) == 42.0
    # garbage and unparseable answers stay missing
    assert D.split_palm("no marker here") == (None, None)
    assert D.split_palm(None) == (None, None)
    assert A.parse_svamp_label("(some - 8).") is None
    assert A.parse_svamp_label("(53 + 17) and (14 - 10).") is None


# ---------------------------------------------------------------------------
# File formats on temporary folders
# ---------------------------------------------------------------------------


def _mc_rows(n, prefix="q"):
    return [
        {
            "id": f"{prefix}{i}",
            "question": f"Question {i}?",
            "choices": ["alpha", "beta", "gamma", "delta"],
            "answer": ["alpha", "beta", "gamma", "delta"][i % 4],
        }
        for i in range(n)
    ]


def _tinyllm_string(i, letter="abcd"):
    return (
        f"Rationale {i}. Thus, the answer is ({letter[i % 4]}) x\n\nQ: Question {i}?\nAnswer Choices:\n"
        f"(a) alpha llama rationale: Llama {i}. The answer is ({letter[(i + 1) % 4]})."
    )


def write_tinyllm(root: Path, name="obqa", split="train", n=22, files=11, array=False, rows=None):
    ddir = root / "tinyllm" / name
    (ddir / "llm").mkdir(parents=True, exist_ok=True)
    rows = _mc_rows(n) if rows is None else rows
    path = ddir / f"{name}_{split}.json"
    if array:
        path.write_text(json.dumps(rows, indent=4))
    else:
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    texts = [_tinyllm_string(i) for i in range(len(rows))]
    per = -(-len(texts) // files)
    for k in range(files):
        (ddir / "llm" / f"{split}_CoT_{k}.json").write_text(json.dumps(texts[k * per : (k + 1) * per]))
    return ddir


def test_numeric_k_order(tmp_path):
    # 0..10: lexical order would put 10 after 1 and misalign every question after file 1
    ddir = write_tinyllm(tmp_path, n=22, files=11)
    assert [p.name for p in D.rationale_files(ddir, "train")][:3] == [
        "train_CoT_0.json",
        "train_CoT_1.json",
        "train_CoT_2.json",
    ]
    assert D.rationale_files(ddir, "train")[-1].name == "train_CoT_10.json"
    records = D.load_dataset("tinyllm:obqa", "train", data_dir=tmp_path)
    assert len(records) == 22
    for i, r in enumerate(records):
        assert r.rationales["flan-t5-xl"] == f"Rationale {i}. Thus, the answer is ({'abcd'[i % 4]}) x"
        assert r.rationales["llama2-7b-chat"] == f"Llama {i}. The answer is ({'abcd'[(i + 1) % 4]})."
        assert r.teacher_labels["flan-t5-xl"] == r.choices[i % 4] == r.answer
        assert r.teacher_labels["llama2-7b-chat"] == r.choices[(i + 1) % 4]


def test_json_array_and_jsonl_give_the_same_records(tmp_path):
    write_tinyllm(tmp_path / "a", name="arc", n=9, files=3, array=True)
    write_tinyllm(tmp_path / "b", name="arc", n=9, files=3, array=False)
    a = D.load_dataset("tinyllm:arc", "train", data_dir=tmp_path / "a")
    b = D.load_dataset("tinyllm:arc", "train", data_dir=tmp_path / "b")
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b] and len(a) == 9


def test_data_dir_may_be_root_family_or_dataset_folder(tmp_path, monkeypatch):
    write_tinyllm(tmp_path, n=4, files=1)
    for d in (tmp_path, tmp_path / "tinyllm", tmp_path / "tinyllm" / "obqa"):
        assert len(D.load_dataset("tinyllm:obqa", data_dir=d)) == 4
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path))
    assert D.default_data_dir() == tmp_path
    assert len(D.load_dataset("tinyllm:obqa")) == 4


def test_malformed_line_names_file_and_line(tmp_path):
    ddir = write_tinyllm(tmp_path, n=6, files=2)
    path = ddir / "obqa_train.json"
    lines = path.read_text().splitlines()
    lines[3] = '{"id": "q3", "question": "broken'  # line 4: invalid JSON
    lines[4] = json.dumps({"id": "q4", "question": "Q?", "choices": ["a", "b"], "answer": "zzz"})  # line 5
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LabkitError, match=re.escape(f"{path}:4:")):
        D.load_dataset("tinyllm:obqa", data_dir=tmp_path)
    records = D.load_dataset("tinyllm:obqa", data_dir=tmp_path, strict=False)
    assert [r.id for r in records] == ["q0", "q1", "q2", "q5"]
    assert len(records.skipped) == 2 and records.skipped[0].startswith(f"{path}:4:")
    assert records.skipped[1].startswith(f"{path}:5:") and "not one of the choices" in records.skipped[1]
    # rationales stay aligned with their rows after skipping
    assert records[3].rationales["flan-t5-xl"].startswith("Rationale 5.")


def test_malformed_array_item_names_line(tmp_path):
    rows = _mc_rows(3)
    del rows[2]["answer"]
    ddir = write_tinyllm(tmp_path, name="arc", n=3, files=1, array=True, rows=rows)
    path = ddir / "arc_train.json"
    item_line = [i for i, ln in enumerate(path.read_text().splitlines(), 1) if ln == "    {"][2]
    with pytest.raises(LabkitError, match=re.escape(f"{path}:{item_line}: missing field")):
        D.load_dataset("tinyllm:arc", data_dir=tmp_path)


def test_count_mismatch_names_both_counts(tmp_path):
    ddir = write_tinyllm(tmp_path, n=5, files=1)
    (ddir / "llm" / "train_CoT_1.json").write_text(json.dumps(["extra"]))
    with pytest.raises(LabkitError) as e:
        D.load_dataset("tinyllm:obqa", data_dir=tmp_path)
    msg = str(e.value)
    assert "6 rationales" in msg and "5 questions" in msg and "train_CoT_1.json" in msg and "obqa_train.json" in msg


def test_dss_files(tmp_path):
    cqa = tmp_path / "dss" / "cqa"
    (cqa / "llm").mkdir(parents=True)
    rows = [
        {
            "id": "c0",
            "question": "Where?",
            "choices": ["park", "book", "garden", "math problem", "gravity"],
            "answer": "math problem",
            "abstractive_explanation": "abs",
            "extractive_explanation": "ext",
        },
        {
            "id": "c1",
            "question": "What?",
            "choices": ["a1", "b1", "c1", "d1", "e1"],
            "answer": "b1",
            "abstractive_explanation": "",
            "extractive_explanation": "",
        },
    ]
    (cqa / "cqa_train.json").write_text("\n".join(json.dumps(r) for r in rows))
    (cqa / "llm" / "train_CoT_0.json").write_text(
        json.dumps(
            [
                "Only math problem fits. So the answer is (d) math problem.\n\nQ: x",
                "So the answer is either (a) or (b).",
            ]
        )
    )
    recs = D.load_dataset("dss:cqa", data_dir=tmp_path)
    assert recs[0].rationales == {"palm-540b": "Only math problem fits."}
    assert recs[0].teacher_labels == {"palm-540b": "math problem"}
    assert recs[0].meta["abstractive_explanation"] == "abs" and recs[0].meta["extractive_explanation"] == "ext"
    assert recs[1].teacher_labels == {} and "palm-540b" not in recs[1].rationales  # empty rationale: missing

    svamp = tmp_path / "dss" / "svamp"
    (svamp / "llm").mkdir(parents=True)
    (svamp / "svamp_test.json").write_text(
        json.dumps({"input": "Luke has 84 points in 2 rounds. Per round?", "label": "( 84.0 / 2.0 )"}) + "\n"
    )
    (svamp / "llm" / "test_CoT_0.json").write_text(json.dumps(["84 / 2 = 42. The answer is (84 / 2)."]))
    (rec,) = D.load_dataset("dss:svamp", "test", data_dir=tmp_path)
    assert rec.choices is None and rec.answer == "( 84.0 / 2.0 )" and rec.meta["value"] == 42.0
    assert rec.teacher_labels["palm-540b"] == "(84 / 2)" and A.is_correct("(84 / 2)", rec)
    with pytest.raises(LabkitError, match="svamp_train.json"):  # that split's file is absent
        D.dataset_info("dss:svamp", data_dir=tmp_path)


def test_missing_split_file_and_data_dir_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("LABKIT_DATA", raising=False)
    with pytest.raises(LabkitError, match=r"--data-dir.*LABKIT_DATA.*TinyLLM"):
        D.load_dataset("tinyllm:obqa")
    with pytest.raises(LabkitError, match="not a folder"):
        D.load_dataset("dss:cqa", data_dir=tmp_path / "nowhere")
    with pytest.raises(LabkitError, match="no cqa_"):
        D.load_dataset("dss:cqa", data_dir=tmp_path)


def test_unknown_dataset_lists_known():
    with pytest.raises(LabkitError) as e:
        D.load_dataset("tinyllm:gsm8k")
    assert "tinyllm:obqa" in str(e.value) and "synthetic:arithmetic" in str(e.value) and "hub:piqa" in str(e.value)
    with pytest.raises(LabkitError, match="known"):
        D.load_dataset("nocolon")
    assert D.teachers_of("tinyllm:arc") == ["flan-t5-xl", "llama2-7b-chat"]
    assert D.teachers_of("dss:svamp") == ["palm-540b"] and D.teachers_of("synthetic:ordering") == []
    assert set(D.list_datasets()) >= {"synthetic:tracking", "tinyllm:arc", "dss:cqa", "hub:pubmedqa"}


def test_cli_show_json_and_text(tmp_path, capsys):
    write_tinyllm(tmp_path, n=8, files=2)
    for split in ("valid", "test"):
        write_tinyllm(tmp_path, split=split, n=4, files=1)
    assert cli_main(["data", "show", "tinyllm:obqa", "--data-dir", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splits"] == {"train": 8, "valid": 4, "test": 4}
    assert info["rationales"]["flan-t5-xl"] == {"parsed": 16, "total": 16}
    assert info["labels"]["flan-t5-xl"] == {"parsed": 16, "agree_with_gold": 16}
    assert info["labels"]["llama2-7b-chat"] == {"parsed": 16, "agree_with_gold": 0}
    assert info["example"]["id"] == "q0"
    assert cli_main(["data", "show", "synthetic:ordering"]) == 0
    out = capsys.readouterr().out
    assert "train 2000, valid 200, test 200" in out and "So the answer is" in out
    assert cli_main(["data", "show", "tinyllm:nope"]) == 2  # LabkitError -> message, exit 2
    assert "known:" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Hugging Face hub row mappings (rows shaped like each hub schema; no download)
# ---------------------------------------------------------------------------


def test_hub_openbookqa_and_arc():
    r = D.from_hub_row(
        "openbookqa",
        {
            "id": "7-980",
            "question_stem": "The sun is responsible for",
            "choices": {"text": ["puppies", "children", "flowers", "plants"], "label": ["A", "B", "C", "D"]},
            "answerKey": "D",
        },
    )
    assert (r.id, r.question, r.answer, r.choices) == (
        "7-980",
        "The sun is responsible for",
        "plants",
        ["puppies", "children", "flowers", "plants"],
    )
    r = D.from_hub_row(
        "arc",
        {
            "id": "Mercury_1",
            "question": "Which is hot?",
            "choices": {"text": ["ice", "fire", "snow"], "label": ["1", "2", "3"]},
            "answerKey": "2",
        },
    )
    assert r.answer == "fire" and r.answer_index == 1
    with pytest.raises(LabkitError, match="answerKey"):
        D.from_hub_row(
            "arc", {"id": "x", "question": "?", "choices": {"text": ["a"], "label": ["A"]}, "answerKey": "B"}
        )


def test_hub_piqa_riddlesense_pubmedqa_commonsenseqa():
    r = D.from_hub_row("piqa", {"goal": "Open a jar", "sol1": "twist the lid", "sol2": "hit it", "label": 0})
    assert (r.question, r.answer, r.choices) == ("Open a jar", "twist the lid", ["twist the lid", "hit it"])
    assert r.id == D.from_hub_row("piqa", {"goal": "Open a jar", "sol1": "a", "sol2": "b", "label": 1}).id
    with pytest.raises(LabkitError):
        D.from_hub_row("piqa", {"goal": "g", "sol1": "a", "sol2": "b", "label": -1})
    r = D.from_hub_row(
        "riddlesense",
        {
            "question": "What has keys but no locks?",
            "answerKey": "C",
            "choices": {"label": list("ABCDE"), "text": ["door", "car", "piano", "map", "tree"]},
        },
    )
    assert r.answer == "piano" and len(r.choices) == 5
    r = D.from_hub_row(
        "pubmedqa",
        {
            "pubid": 21645374,
            "question": "Do mitochondria matter?",
            "context": {"contexts": ["Part one.", "Part two."], "labels": ["A", "B"], "meshes": ["m"]},
            "long_answer": "They do.",
            "final_decision": "yes",
        },
    )
    assert (r.id, r.answer, r.choices, r.context) == ("21645374", "yes", ["yes", "no", "maybe"], "Part one. Part two.")
    assert r.meta["long_answer"] == "They do."
    r = D.from_hub_row(
        "commonsenseqa",
        {
            "id": "075e",
            "question": "Where is a fox?",
            "question_concept": "fox",
            "choices": {
                "label": list("ABCDE"),
                "text": ["pretty flowers", "hen house", "natural habitat", "storybook", "dense forest"],
            },
            "answerKey": "C",
        },
    )
    assert r.answer == "natural habitat" and r.meta["question_concept"] == "fox"
    with pytest.raises(LabkitError, match="unlabelled"):
        D.from_hub_row(
            "commonsenseqa", {"id": "t", "question": "?", "choices": {"label": ["A"], "text": ["a"]}, "answerKey": ""}
        )
    with pytest.raises(LabkitError, match="known"):
        D.from_hub_row("gsm8k", {})


def test_hub_names_resolve():
    assert D._family_and_name("allenai/openbookqa") == ("hub", "openbookqa")
    assert D._family_and_name("hub:tau/commonsense_qa") == ("hub", "commonsenseqa")
    with pytest.raises(LabkitError, match="no split 'test'"):
        D.load_dataset("hub:piqa", "test")


# ---------------------------------------------------------------------------
# Real data (skipped when ../shared/data is absent)
# ---------------------------------------------------------------------------

REAL_COUNTS = {
    "tinyllm:obqa": {"train": 4957, "valid": 500, "test": 500},
    "tinyllm:arc": {"train": 1117, "valid": 295, "test": 1165},
    "dss:cqa": {"train": 9741, "test": 1221},
    "dss:svamp": {"train": 800, "test": 200},
}


@pytest.mark.parametrize("name", list(REAL_COUNTS))
def test_real_data_counts_and_parse_rates(name):
    root = real_data_dir()
    if root is None:
        pytest.skip("real data folder (../shared/data or $LABKIT_DATA) not present")
    info = D.dataset_info(name, data_dir=root)
    assert info["splits"] == REAL_COUNTS[name] and info["skipped"] == 0
    total = sum(REAL_COUNTS[name].values())
    for teacher in D.teachers_of(name):
        assert info["rationales"][teacher]["total"] == total
        assert info["rationales"][teacher]["parsed"] / total >= 0.97, (teacher, info["rationales"][teacher])
    if name.startswith("tinyllm"):
        assert info["labels"]["flan-t5-xl"]["parsed"] / total >= 0.97
    else:
        # PaLM labels: CQA ~98%, SVAMP ~96% (unparseable answers like "(some - 8)" stay missing)
        assert info["labels"]["palm-540b"]["parsed"] / total >= (0.97 if name == "dss:cqa" else 0.95)


def test_real_data_known_rows():
    root = real_data_dir()
    if root is None:
        pytest.skip("real data folder not present")
    obqa = D.load_dataset("tinyllm:obqa", "train", data_dir=root, n=1)[0]
    assert obqa.id == "7-980" and obqa.answer == "plants sprouting, blooming and wilting"
    assert obqa.teacher_labels["flan-t5-xl"] == obqa.answer
    assert obqa.rationales["llama2-7b-chat"].startswith("Let's think step by step.")
    svamp = D.load_dataset("dss:svamp", "train", data_dir=root, n=1)[0]
    assert svamp.meta["value"] == 42.0 and A.is_correct(svamp.teacher_labels["palm-540b"], svamp)
    arc = D.load_dataset("tinyllm:arc", "test", data_dir=root)
    assert all(r.answer_index is not None and r.teacher_labels["flan-t5-xl"] in r.choices for r in arc)
