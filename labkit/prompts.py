"""Prompts: how a question is shown to a student and to a teacher.

Student side (fixed here, used by training and evaluation):

    [answer] Q: Where do fish live?
    Answer Choices:
    (a) trees
    (b) water
    A:                      -> target " (b) water"

    [rationale:flan-t5-xl] Q: ...  A:   -> target " <the teacher's rationale>"

Teacher side (chain-of-thought templates, in-context examples) follows below.
"""
from __future__ import annotations

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def option_letter(i: int) -> str:
    return LETTERS[i]


def format_question(record) -> str:
    """'Q: ...' plus lettered answer choices (if any), with an optional context first."""
    lines = []
    if getattr(record, "context", None):
        lines.append(f"Context: {record.context}")
    lines.append(f"Q: {record.question}")
    if record.choices:
        lines.append("Answer Choices:")
        lines += [f"({option_letter(i)}) {c}" for i, c in enumerate(record.choices)]
    return "\n".join(lines)


def answer_text(record, answer: str | None = None) -> str:
    """The answer as the student writes it: '(b) water' for choices, the bare answer otherwise."""
    answer = record.answer if answer is None else answer
    if record.choices and answer in record.choices:
        return f"({option_letter(record.choices.index(answer))}) {answer}"
    return str(answer)


def student_prompt(record, task: str = "answer") -> str:
    """Student input with a task prefix: task is 'answer' or 'rationale:<teacher>'."""
    return f"[{task}] {format_question(record)}\nA:"


def student_target(record, task: str = "answer", label_source: str = "gold") -> str | None:
    """Target text (with a leading space) for a task, or None when it is missing.

    task 'answer': the gold answer (label_source='gold') or a teacher's label
    (label_source=<teacher name>, from record.teacher_labels).
    task 'rationale:<teacher>': that teacher's rationale from record.rationales.
    """
    if task == "answer":
        label = record.answer if label_source == "gold" else record.teacher_labels.get(label_source)
        return None if label is None else " " + answer_text(record, label)
    if task.startswith("rationale:"):
        text = record.rationales.get(task.split(":", 1)[1])
        return None if not text else " " + text.strip()
    raise ValueError(f"unknown student task {task!r}: expected 'answer' or 'rationale:<teacher>'")
