"""labkit.answers, the one definition of a correct answer: what a rationale states, what a generated
answer says, whether an answer is right (choices by text, numbers and SVAMP expressions by value),
the teachers' recorded labels, and arithmetic without eval."""

from __future__ import annotations

import pytest

from labkit import answers as A
from labkit import evaluate, rationales
from labkit.data import Record
from labkit.errors import LabkitError

MC = Record(id="m", question="Where do fish live?", answer="water", choices=["trees", "water", "sand", "sea water"])
CHOICES = ["trees", "water", "sand", "air"]


def _svamp(text, gold):
    """A generated SVAMP answer is right when the value it states equals the gold expression's."""
    return A.is_correct(A.parse_answer(text, Record("s", "q", gold)), Record("s", "q", gold))


# --- what a rationale states -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Fish swim. Thus, the answer is (b) water", "water"),
        ("So the answer is (d).", "sea water"),
        ("They live in the sea. So the answer is sea water.", "sea water"),  # longest choice wins
        ("The answer is: water. Trees are wrong.", "water"),
        ("Fish need water, so (b) is right.", "water"),  # letter in the last sentence
        ("The answer is (a) trees. Thus, the answer is (b) water.", "water"),  # the last statement counts
        ("So the answer is (b) trees.", None),  # letter and text disagree
        ("Fish are animals.", None),
        ("the answer is (z) nothing", None),
        ("8 * 2 = 16. So the answer is 22.", "22"),  # a stated number, not an option
        ("", None),
    ],
)
def test_stated_answer_multiple_choice(text, expected):
    assert A.stated_answer(text, MC) == expected


def test_stated_answer_numeric_options():
    rec = Record(id="a", question="?", answer="10", choices=["20", "11", "15", "10"])
    assert A.stated_answer("16 - 6 = 10. So the answer is 10.", rec) == "10"
    assert A.stated_answer("So the answer is (b) 11.", rec) == "11"
    stated = A.stated_answer("8 + 14 = 22. So the answer is 22.", rec)  # parsed, not an option, wrong
    assert stated == "22" and not A.is_correct(stated, rec)


def test_stated_answer_numbers_and_expressions():
    num = Record(id="n", question="?", answer="42")
    assert A.stated_answer("6 * 7 = 42. The answer is 42.", num) == "42"
    assert A.stated_answer("So the answer is 1,200 apples.", num) == "1200"
    svamp = Record(id="s", question="?", answer="( 84.0 / 2.0 )")
    stated = A.stated_answer("84 / 2 = 42. The answer is (84 / 2).", svamp)
    assert stated == "(84 / 2)" and A.is_correct(stated, svamp)
    assert A.is_correct("42", svamp) and not A.is_correct("41", svamp)
    assert A.stated_answer("stop here\n\nQ: the answer is 7", num) is None  # a hallucinated next example


def test_parse_answer_letter_text_number():
    mc = Record(id="1", question="q", answer="water", choices=["trees", "water", "sand"])
    assert A.parse_answer(" (b) water", mc) == "water"
    assert A.parse_answer("b) something", mc) == "water"
    assert A.parse_answer("I think sand.", mc) == "sand"
    assert A.parse_answer("So the answer is (a) trees", mc) == "trees"
    assert A.parse_answer("(z) nothing", mc) is None
    num = Record(id="2", question="q", answer="42")
    assert A.parse_answer("The answer is 42.", num) == "42"
    assert A.is_correct("42.0", num) and not A.is_correct("41", num)
    assert A.is_correct(A.parse_answer("1,042", Record("3", "q", "1042")), Record("3", "q", "1042"))


def test_svamp_match_by_value_with_safe_evaluator():
    assert _svamp(" ( 10.0 * 45.0 )", "450")
    assert _svamp("( 10.0 * 45.0 )", "( 45.0 * 10.0 )")
    assert _svamp("The answer is ( 7.0 / 2.0 ).", "3.5")
    assert _svamp("( 1.0 / 3.0 )", "( 2.0 / 6.0 )")
    assert not _svamp("( 10.0 + 45.0 )", "( 10.0 * 45.0 )")
    assert not _svamp("__import__('os').system('true')", "0")  # refused, not run
    assert not _svamp("", "3") and not _svamp(None, "3")
    recs = [
        Record("a", "q", "( 2.0 + 3.0 )", teacher_labels={"t": "5"}),
        Record("b", "q", "( 2.0 * 3.0 )", teacher_labels={"t": "( 3.0 + 3.0 )"}),
        Record("c", "q", "( 9.0 - 3.0 )", teacher_labels={"t": "( 9.0 + 3.0 )"}),
        Record("d", "q", "1"),
    ]
    assert evaluate.teacher_label_accuracy(recs, "t") == (pytest.approx(2 / 3), 3)


# --- teachers' recorded labels ---


@pytest.mark.parametrize(
    "text,label",
    [
        ("So the answer is c.", "sand"),
        ("The answer is: air", "air"),
        ("Hence, the correct answer is 'a'.", "trees"),
        ("the answer is not B. Then the answer is (d) air", "air"),  # first occurrence that parses
        ("the answer is yes, fish swim", None),
        ("the answer is (f) rocks", None),  # letter out of range
        ("the answer is a fish tank", None),  # 'a' is an article here, not a letter
        ("no answer stated at all", None),
        ("", None),
    ],
)
def test_parse_answer_label_cases(text, label):
    assert A.parse_answer_label(text, CHOICES) == label


# ---------------------------------------------------------------------------
# safe_eval
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr,value",
    [
        ("( 10.0 * 45.0 )", 450.0),
        ("( 84.0 / 2.0 )", 42.0),
        ("-3 + 4 * (2 - 5)", -15.0),
        ("((1 + 2) * (3 + 4)) / 7", 3.0),
        ("- - 2", 2.0),
        ("7", 7.0),
        ("+1.5", 1.5),
        ("2 ** 10", 1024.0),
        ("-2 ** 2", -4.0),
        ("(1 + 1) ** -1", 0.5),
    ],
)
def test_safe_eval_values(expr, value):
    assert A.safe_eval(expr) == pytest.approx(value, rel=0, abs=1e-12)


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('true')",
        "x + 1",
        "(1).real",
        "abs(-1)",
        "9 ** 9 ** 9",
        "2 ** 1000",
        "10 ** 10 ** 10",
        "(-8) ** 0.5",
        "0 ** -1",
        "1e9 ** 64",
        "[1, 2]",
        "1 if 1 else 2",
        "'a' * 3",
        "True + 1",
        "1 // 2",
        "5 % 3",
        "1 / 0",
        "1 +",
        "1e308 * 10",
        "(" * 300 + "1" + ")" * 300,
        "1 +" * 400 + "1",
    ],
)
def test_safe_eval_refuses(expr):
    with pytest.raises(LabkitError):
        A.safe_eval(expr)


def test_one_rule_for_teachers_students_and_datasets():
    """The same answer text is judged the same way by consistency (rationales), teacher label accuracy
    (evaluate) and a student's parsed answer: case and punctuation do not matter, values do."""
    recs = [
        Record(
            "1",
            "q",
            "water",
            choices=MC.choices,
            rationales={"t": "So the answer is (b) Water."},
            teacher_labels={"t": "Water."},
        ),
        Record(
            "2",
            "q",
            "( 2.0 * 3.0 )",
            rationales={"t": "2 * 3 = 6. The answer is 6."},
            teacher_labels={"t": "( 3.0 + 3.0 )"},
        ),
        Record("3", "q", "( 9.0 - 3.0 )", rationales={"t": "The answer is 12."}, teacher_labels={"t": "12"}),
    ]
    assert evaluate.teacher_label_accuracy(recs, "t") == (pytest.approx(2 / 3), 3)
    assert rationales.consistency(recs, "t")["kept_ids"] == ["1", "2"]
    assert [A.is_correct(A.parse_answer(t, r), r) for t, r in zip([" (b) water", "6", "(6 * 2)"], recs)] == [
        True,
        True,
        False,
    ]
    assert not A.is_correct(None, recs[0]) and not A.is_correct("sea water", MC)
