"""The one definition of a correct answer, used by teachers, students, datasets and the CLI alike.

    import labkit as lk
    lk.answers.stated_answer("... Thus, the answer is (c) water.", record)   # -> "water" (a rationale's answer)
    lk.answers.parse_answer(" (b) ice", record)                               # -> "ice"   (a generated answer)
    lk.answers.is_correct("ice", record)                                      # -> True/False

Three questions, three functions:

- What does a *rationale* state?  ``stated_answer``: the last "the answer is ..." statement
  (a teacher's chain of thought, a student's generated rationale).
- What does a *generated answer* say?  ``parse_answer``: a choice letter "(b)", a choice's text, a
  number or an arithmetic expression (students answering the ``[answer]`` task); a text that
  states "the answer is ..." is read by ``stated_answer``.
- Is an answer right?  ``is_correct(answer, record)``: multiple choice compares the choice text
  (case and punctuation ignored); numbers and arithmetic expressions (SVAMP) compare by value
  (``safe_eval``, never ``eval``); anything else compares normalised text.

Recorded teachers' labels (``record.teacher_labels``) are answer texts too, so a teacher's label
accuracy, a rationale's consistency and a student's accuracy are all measured by ``is_correct``.
"""

from __future__ import annotations

import ast
import math
import operator
import re

from labkit.errors import LabkitError

LETTERS = "abcdefghijklmnopqrstuvwxyz"
STOP_SEQUENCE = "\n\nQ:"  # a base model that starts a new example has finished this one
_ANSWER_IS = re.compile(r"answer\s+is\s*:?\s*", re.IGNORECASE)
_LETTER = re.compile(r"^\(?([a-z])\)(?:\s|$|[.,;:])", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_ANSWER_MARKER = r"(?:answer is|correct option is|answer:)"
REL_TOL, ABS_TOL = 1e-6, 1e-4  # numeric answers: equal within these tolerances


# --------------------------------------------------------------------------- arithmetic, never eval

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_MAX_EXPR_CHARS = 500
_MAX_DEPTH = 50
_MAX_EXPONENT = 64  # 2 ** 10 is fine; 9 ** 9 ** 9 (a CPU/memory bomb) is refused


def safe_eval(expr: str) -> float:
    """Value of an arithmetic expression with numbers, + - * /, parentheses and unary minus.

    Small powers (`2 ** 3`; |exponent| <= 64, |base| <= 1e9) are allowed. Names, calls, attributes,
    huge powers and everything else are refused with LabkitError, as are overlong or too deeply
    nested expressions, division by zero and non-finite results.

    >>> safe_eval("( 10.0 * 45.0 )")
    450.0
    """
    if not isinstance(expr, str):
        raise LabkitError(f"safe_eval expects a string expression, got {type(expr).__name__}")
    if len(expr) > _MAX_EXPR_CHARS:
        raise LabkitError(f"expression too long ({len(expr)} chars > {_MAX_EXPR_CHARS})")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as e:
        raise LabkitError(f"not an arithmetic expression: {expr!r} ({e.msg})") from None

    def value(node, depth=0) -> float:
        if depth > _MAX_DEPTH:
            raise LabkitError(f"expression nested too deeply: {expr!r}")
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = value(node.left, depth + 1), value(node.right, depth + 1)
            if isinstance(node.op, ast.Div) and right == 0:
                raise LabkitError(f"division by zero in {expr!r}")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            base, exponent = value(node.left, depth + 1), value(node.right, depth + 1)
            if abs(exponent) > _MAX_EXPONENT or abs(base) > 1e9 or (base < 0 and exponent != int(exponent)):
                raise LabkitError(
                    f"power {base:g} ** {exponent:g} refused (|exponent| <= {_MAX_EXPONENT}, "
                    f"|base| <= 1e9, no fractional power of a negative number) in {expr!r}"
                )
            if base == 0 and exponent < 0:
                raise LabkitError(f"division by zero (0 to a negative power) in {expr!r}")
            try:
                return float(base**exponent)
            except OverflowError:
                raise LabkitError(f"expression {expr!r} has no finite value (overflow)") from None
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](value(node.operand, depth + 1))
        raise LabkitError(f"only numbers, + - * / and parentheses are allowed; found {type(node).__name__} in {expr!r}")

    result = value(tree.body)
    if not math.isfinite(result):
        raise LabkitError(f"expression {expr!r} has no finite value")
    return result


# --------------------------------------------------------------------------- normalising text


def _norm_label(text: str) -> str:
    """Whitespace collapsed, outer dots stripped, lower case (a label as a teacher writes it)."""
    return re.sub(r"\s+", " ", text.strip().strip(".").strip()).lower()


def _norm_words(text: str) -> str:
    """Lower-case words, punctuation dropped ("The (c) Sun." -> "the c sun")."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def value_of(text: str | None) -> float | None:
    """The value of a number or arithmetic expression ("42", "1,200", "( 84.0 / 2.0 )."), else None."""
    if not text:
        return None
    text = text.strip().rstrip(".").replace(",", "").strip()
    if not text or len(text) > 200:
        return None
    try:
        return safe_eval(text)
    except LabkitError:
        return None


def _choice_in(text: str, choices: list[str]) -> str | None:
    """The choice whose text appears in `text` (longest first, whole words), else None."""
    padded = f" {_norm_words(text)} "
    for c in sorted(choices, key=len, reverse=True):
        if _norm_words(c) and f" {_norm_words(c)} " in padded:
            return c
    return None


# --------------------------------------------------------------------------- teachers' recorded labels


def match_choice(text: str, choices: list[str]) -> str | None:
    """The choice named at the start of `text`: '(c) ...', 'c.', "'c'", 'c', or the choice text; else None."""
    if not choices or not text:
        return None
    t = text.strip().lstrip("'\"").strip()
    m = re.match(r"\(([a-zA-Z])\)", t) or re.match(r"([a-zA-Z])(?:[.,):'\"]|[ \t]*\n|\s*$)", t)
    if m:
        i = ord(m.group(1).lower()) - ord("a")
        return choices[i] if 0 <= i < len(choices) else None
    first = _norm_label(t.split("\n")[0])
    by_text = {_norm_label(c): c for c in choices}
    if first in by_text:
        return by_text[first]
    hits = [c for key, c in by_text.items() if key and first.startswith(key)]
    return max(hits, key=len) if hits else None


def parse_answer_label(text: str, choices: list[str], marker: str = _ANSWER_MARKER) -> str | None:
    """The choice a teacher states ('Thus, the answer is (c) water' -> 'water'), or None.

    Each occurrence of the marker is tried in order; the first one followed by a choice letter or a
    choice's text wins ('the answer is not B' or 'the answer is yes' does not parse).
    """
    for m in re.finditer(marker + r":?\s*", text or "", flags=re.IGNORECASE):
        label = match_choice(text[m.end() :], choices)
        if label is not None:
            return label
    return None


def parse_svamp_label(answer_part: str | None) -> str | None:
    """'(84 / 2).' -> '(84 / 2)' when it is a valid arithmetic expression, else None."""
    if not answer_part:
        return None
    expr = answer_part.strip().rstrip(".").strip()
    try:
        safe_eval(expr)
    except LabkitError:
        return None
    return expr


# --------------------------------------------------------------------------- what a text states


def stated_answer(text: str | None, record) -> str | None:
    """The answer a rationale states, as answer text (a choice's text for multiple choice), or None.

    Understands "... the answer is (c) water", "the answer is (c)", "So the answer is water.",
    "The answer is (84 / 2)." (returned as the expression) and "the answer is 42"; the LAST such
    statement counts. "(d) <text of another option>" is no answer. Without an "answer is" phrase,
    only a "(c)" letter in the final sentence is used.
    """
    if not text:
        return None
    text = text.split(STOP_SEQUENCE)[0]
    matches = list(_ANSWER_IS.finditer(text))
    choices = record.choices or []
    if matches:
        tail = text[matches[-1].end() :].strip().split("\n")[0]
        m = _LETTER.match(tail)
        if choices and m:
            i = LETTERS.index(m.group(1).lower())
            if i >= len(choices):
                return None
            named = _choice_in(re.split(r"\.(?:\s|$)", tail[m.end() :] + " ")[0], choices)
            return None if named is not None and named != choices[i] else choices[i]
        if choices:
            # A choice text right after "answer is" (before the sentence ends); else a stated number
            # that is not among the options (parsed, and wrong).
            found = _choice_in(re.split(r"(?<=[^\d])\.(?:\s|$)", tail)[0] + " ", choices) or _choice_in(tail, choices)
            if found:
                return found
            m = _NUMBER.match(tail.lstrip("($"))
            return m.group(0).replace(",", "") if m else None
        sentence = re.split(r"\.(?:\s|$)", tail + " ")[0].strip()
        if value_of(sentence) is not None:
            return sentence
        m = _NUMBER.search(tail)
        return m.group(0).replace(",", "") if m else (sentence or None)
    if choices:
        last = re.split(r"(?<=[.!?])\s+", text.strip())[-1]
        letters = re.findall(r"\(([a-z])\)", last, re.IGNORECASE)
        if letters:
            i = LETTERS.index(letters[-1].lower())
            return choices[i] if i < len(choices) else None
    return None


def parse_answer(text: str | None, record) -> str | None:
    """The answer a generated text gives, as answer text, or None.

    A text with "answer is" is read by ``stated_answer``. Otherwise, multiple choice: a letter
    "(b)" anywhere or "b)" at the start, else the longest choice text found; other questions: an
    arithmetic expression (the whole text, or from its first parenthesis), else the first number,
    else the stripped text.
    """
    if not text or not text.strip():
        return None
    text = text.strip()
    if _ANSWER_IS.search(text):
        return stated_answer(text, record)
    if record.choices:
        n = len(record.choices)
        m = re.search(r"\(([a-z])\)", text, re.I) or re.match(r"^([a-z])[).:]?(?:\s|$)", text, re.I)
        if m and LETTERS.index(m.group(1).lower()) < n:
            return record.choices[LETTERS.index(m.group(1).lower())]
        found = [c for c in record.choices if c.strip() and c.lower() in text.lower()]
        return max(found, key=len) if found else None
    for candidate in (text, text[text.find("(") :] if "(" in text else None):
        if candidate and value_of(candidate) is not None:
            return candidate.strip().rstrip(".").strip()
    m = _NUMBER.search(text)
    return m.group(0).replace(",", "") if m else text


# --------------------------------------------------------------------------- is it right?


def is_correct(answer: str | None, record) -> bool:
    """Whether `answer` (an answer text) is the record's gold answer.

    Multiple choice: the same choice text (case, spaces and punctuation ignored). Otherwise, when
    both are numbers or arithmetic expressions: equal values (relative 1e-6 or absolute 1e-4);
    else the same normalised text.
    """
    if answer is None:
        return False
    if record.choices:
        return _norm_words(answer) == _norm_words(record.answer)
    a, b = value_of(answer), value_of(record.answer)
    if a is not None and b is not None:
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return _norm_words(answer) == _norm_words(record.answer)
