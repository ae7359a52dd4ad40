"""Teacher prompts: exact template text, the in-context sampler's guarantees, fitting to a context."""

from __future__ import annotations

import pytest

from labkit import prompts as P
from labkit.data import Record, load_dataset
from labkit.errors import LabkitError

EXAMPLE = Record(
    id="ex1", question="What is 2 + 3?", answer="5", choices=["4", "5"], solution="1. 2 + 3 = 5.\nSo the answer is 5."
)
QUESTION = Record(id="q1", question="Where do fish live?", answer="water", choices=["trees", "water", "sand"])


@pytest.fixture(scope="module")
def tokenizer():
    from labkit import tiny

    return tiny.train_tokenizer(tiny.default_corpus(), vocab_size=512)


# --- exact template text ---------------------------------------------------------------


def test_teacher_forced_plain_text_is_pinned():
    text = P.render_teacher_prompt(QUESTION, "teacher_forced", [(EXAMPLE, P.example_rationale(EXAMPLE))])
    assert text == (
        "Each question below is shown with its correct answer. Explain step by step why that answer is correct.\n"
        "\n"
        "Q: What is 2 + 3?\nAnswer Choices:\n(a) 4\n(b) 5\nCorrect answer: (b) 5\n"
        "A: Let's think step by step. 1. 2 + 3 = 5.\nSo the answer is 5.\n"
        "\n"
        "Q: Where do fish live?\nAnswer Choices:\n(a) trees\n(b) water\n(c) sand\nCorrect answer: (b) water\n"
        "A: Let's think step by step."
    )


def test_cot_plain_text_is_pinned_and_hides_the_answer():
    text = P.render_teacher_prompt(QUESTION, "cot", [(EXAMPLE, P.example_rationale(EXAMPLE))])
    assert text == (
        "Answer each question. Reason step by step, then state the answer.\n"
        "\n"
        "Q: What is 2 + 3?\nAnswer Choices:\n(a) 4\n(b) 5\n"
        "A: Let's think step by step. 1. 2 + 3 = 5.\nSo the answer is 5.\n"
        "\n"
        "Q: Where do fish live?\nAnswer Choices:\n(a) trees\n(b) water\n(c) sand\n"
        "A: Let's think step by step."
    )
    assert "Correct answer" not in text


def test_zero_shot_and_context_field():
    rec = Record(id="c", question="Is it wet?", answer="yes", choices=["yes", "no"], context="It rains.")
    assert P.render_teacher_prompt(rec, "teacher_forced") == (
        P.TEMPLATES["teacher_forced"].instruction + "\n\n"
        "Context: It rains.\nQ: Is it wet?\nAnswer Choices:\n(a) yes\n(b) no\nCorrect answer: (a) yes\n"
        "A: Let's think step by step."
    )


def test_chat_rendering_is_pinned(tokenizer):
    text = P.render_teacher_prompt(
        QUESTION, "teacher_forced", [(EXAMPLE, P.example_rationale(EXAMPLE))], chat=True, tokenizer=tokenizer
    )
    assert text == (
        "<|user|>\nEach question below is shown with its correct answer. Explain step by step why that answer "
        "is correct.\n\nQ: What is 2 + 3?\nAnswer Choices:\n(a) 4\n(b) 5\nCorrect answer: (b) 5<|endoftext|>\n"
        "<|assistant|>\nLet's think step by step. 1. 2 + 3 = 5.\nSo the answer is 5.<|endoftext|>\n"
        "<|user|>\nQ: Where do fish live?\nAnswer Choices:\n(a) trees\n(b) water\n(c) sand\n"
        "Correct answer: (b) water<|endoftext|>\n<|assistant|>\nLet's think step by step."
    )
    with pytest.raises(LabkitError, match="tokenizer"):
        P.render_teacher_prompt(QUESTION, "cot", chat=True)


def test_templates_are_named_documented_objects():
    assert set(P.TEMPLATES) == {"cot", "teacher_forced"}
    for name, t in P.TEMPLATES.items():
        assert t.name == name and t.description and t.instruction
    assert P.TEMPLATES["teacher_forced"].show_answer and not P.TEMPLATES["cot"].show_answer
    with pytest.raises(LabkitError, match="cot"):
        P.get_template("socratic")


def test_student_side_unchanged():
    assert (
        P.student_prompt(QUESTION)
        == "[answer] Q: Where do fish live?\nAnswer Choices:\n(a) trees\n(b) water\n(c) sand\nA:"
    )
    assert P.student_target(QUESTION) == " (b) water"


# --- rationale shown for an in-context example ----------------------------------------------


def test_example_rationale_sources():
    # gold solution first (kept as is)
    assert P.example_rationale(EXAMPLE) == "1. 2 + 3 = 5.\nSo the answer is 5."
    # recorded rationale: trigger removed, blank lines squeezed, answer statement appended when missing
    rec = Record(
        id="r",
        question="Where do fish live?",
        answer="water",
        choices=["trees", "water"],
        rationales={"llama2-7b-chat": "Let's think step by step.\nFish swim.\n\nThey need water."},
    )
    assert P.example_rationale(rec) == "Fish swim.\nThey need water. So the answer is (b) water."
    rec.rationales["flan-t5-xl"] = "Fish live in water. Thus, the answer is (b) water"
    assert P.example_rationale(rec, source="flan-t5-xl") == "Fish live in water. Thus, the answer is (b) water"
    assert P.example_rationale(Record(id="n", question="?", answer="x")) is None


# --- the in-context sampler ------------------------------------------------------------


def test_in_context_sampler_guarantees():
    pool = load_dataset("synthetic:tracking", n=40)
    by_id = {r.id: r for r in pool}
    draws = {}
    for rec in pool:
        ex = P.in_context_examples(pool, rec, k=3, seed=7)
        assert len(ex) == 3
        ids = [e.id for e, _ in ex]
        assert rec.id not in ids and len(set(ids)) == 3  # never itself, distinct
        assert all(by_id[i] is e for i, (e, _) in zip(ids, ex))  # drawn from the pool
        assert all(r == e.solution for e, r in ex)  # gold solutions as rationales
        assert P.in_context_examples(pool, rec, k=3, seed=7) == ex  # deterministic
        draws[rec.id] = ids
    # different seeds give different draws (for most records), and draws vary across records
    other = [[e.id for e, _ in P.in_context_examples(pool, r, k=3, seed=8)] for r in pool]
    assert sum(o != draws[r.id] for o, r in zip(other, pool)) > 30
    assert len({tuple(v) for v in draws.values()}) > 30


def test_in_context_sampler_edge_cases():
    twin = Record(
        id="twin",
        question=QUESTION.question,
        answer="water",
        choices=QUESTION.choices,
        solution="So the answer is water.",
    )
    no_rationale = Record(id="bare", question="Other?", answer="x", choices=["x", "y"])
    # the same question under another id is never shown; records without a rationale are skipped
    assert P.in_context_examples([QUESTION, twin, no_rationale], QUESTION, k=2) == []
    assert P.in_context_examples([EXAMPLE, twin], QUESTION, k=2) == [(EXAMPLE, P.example_rationale(EXAMPLE))]
    assert P.in_context_examples([EXAMPLE], QUESTION, k=0) == []


def test_fit_drops_examples_first_then_truncates(tokenizer):
    pool = load_dataset("synthetic:arithmetic", n=10)
    rec = pool[0]
    ex = P.in_context_examples(pool, rec, k=2, seed=0)
    count = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])
    full = count(P.render_teacher_prompt(rec, "teacher_forced", ex))
    one = count(P.render_teacher_prompt(rec, "teacher_forced", ex[:1]))
    zero = count(P.render_teacher_prompt(rec, "teacher_forced", []))
    assert zero < one < full

    prompt, info = P.fit_teacher_prompt(rec, "teacher_forced", ex, chat=False, tokenizer=tokenizer, max_tokens=full)
    assert info == {"tokens": full, "dropped_examples": 0, "truncated": False}
    prompt, info = P.fit_teacher_prompt(rec, "teacher_forced", ex, chat=False, tokenizer=tokenizer, max_tokens=full - 1)
    assert info == {"tokens": one, "dropped_examples": 1, "truncated": False}
    assert prompt == P.render_teacher_prompt(rec, "teacher_forced", ex[:1])
    prompt, info = P.fit_teacher_prompt(rec, "teacher_forced", ex, chat=False, tokenizer=tokenizer, max_tokens=zero - 5)
    assert info["dropped_examples"] == 2 and info["truncated"]
    assert prompt.endswith("Correct answer: (d) 10\nA: Let's think step by step.")  # the end is kept
    assert count(prompt) <= zero - 5 + 2  # re-tokenising a cut may merge/split a token at the edge
