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

import hashlib
import random
import re
from dataclasses import dataclass

from labkit.answers import LETTERS
from labkit.errors import LabkitError


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


# ---------------------------------------------------------------------------
# Teacher side: chain-of-thought templates and in-context examples
# ---------------------------------------------------------------------------
#
# A teacher prompt is a few solved examples followed by the open question. For a
# base model (gemma3-270m) it is plain few-shot text:
#
#     Each question below is shown with its correct answer. ... step by step.
#
#     Q: What is 2 + 3?
#     Answer Choices:
#     (a) 4
#     (b) 5
#     Correct answer: (b) 5
#     A: Let's think step by step. 2 + 3 = 5. So the answer is (b) 5.
#
#     Q: <the question>
#     ...
#     Correct answer: (c) ...
#     A: Let's think step by step.
#
# For a chat model (smollm2-135m-instruct) each example becomes a user turn (the
# question block) and an assistant turn (the reasoning); the open question is the
# last user turn and the assistant turn is pre-filled with "Let's think step by step."
# ("Correct answer: ..." appears only in the teacher-forced template.)

COT_TRIGGER = "Let's think step by step."

_ANSWER_STATED = re.compile(r"answer is", re.IGNORECASE)


@dataclass(frozen=True)
class Template:
    """A teacher prompt template.

    Args:
        name: key in TEMPLATES.
        instruction: first paragraph (plain text) / start of the first user turn (chat).
        show_answer: True for teacher-forced CoT: the gold answer is shown and the
            teacher only has to explain it (TinyLLM); False for plain CoT.
        description: one line for humans (widgets, docs).
    """

    name: str
    instruction: str
    show_answer: bool
    description: str

    def question_block(self, record) -> str:
        """Question, lettered options and (teacher-forced only) the correct answer."""
        text = format_question(record)
        if self.show_answer:
            text += f"\nCorrect answer: {answer_text(record)}"
        return text

    def solved_block(self, record, rationale: str) -> str:
        """An in-context example: question block + 'A: Let's think step by step. <rationale>'."""
        return f"{self.question_block(record)}\nA: {COT_TRIGGER} {rationale}"

    def open_block(self, record) -> str:
        """The question the teacher must answer; generation continues after the trigger."""
        return f"{self.question_block(record)}\nA: {COT_TRIGGER}"


TEMPLATES: dict[str, Template] = {
    "cot": Template(
        name="cot",
        instruction="Answer each question. Reason step by step, then state the answer.",
        show_answer=False,
        description="plain chain of thought: question + options -> reasoning -> answer",
    ),
    "teacher_forced": Template(
        name="teacher_forced",
        instruction=(
            "Each question below is shown with its correct answer. Explain step by step why that answer is correct."
        ),
        show_answer=True,
        description="teacher-forced chain of thought (TinyLLM): question + options + gold answer -> rationale",
    ),
}


def get_template(template) -> Template:
    """A Template from its name (or the Template itself)."""
    if isinstance(template, Template):
        return template
    if template not in TEMPLATES:
        raise LabkitError(f"unknown template {template!r}: expected one of {sorted(TEMPLATES)}")
    return TEMPLATES[template]


def _states_answer(text: str) -> bool:
    return bool(_ANSWER_STATED.search(text))


def example_rationale(record, source: str | None = None) -> str | None:
    """The rationale shown for a solved in-context example, or None if the record has none.

    Order: the gold step-by-step `solution` (synthetic tasks), then `record.rationales[source]`,
    then the first recorded/generated rationale. A leading "Let's think step by step." is
    removed (the template adds it) and, when the rationale never states its answer,
    " So the answer is <gold>." is appended so every example ends the same way.
    """
    text = getattr(record, "solution", None)
    if not text:
        rationales = getattr(record, "rationales", None) or {}
        if source and rationales.get(source):
            text = rationales[source]
        else:
            text = next((t for t in rationales.values() if t and t.strip()), None)
    if not text:
        return None
    text = re.sub(r"\n\s*\n", "\n", text.strip())  # a blank line would look like the next example
    if text.startswith(COT_TRIGGER):
        text = text[len(COT_TRIGGER) :].strip()
    if not _states_answer(text):
        text = f"{text.rstrip()} So the answer is {answer_text(record)}."
    return text


def _stable_seed(*parts) -> int:
    """A seed from strings/ints that does not depend on Python's hash randomisation."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def in_context_examples(pool, record, k: int = 2, seed: int = 0, *, source: str | None = None) -> list:
    """k solved examples for `record`, drawn from `pool` (the dataset's training split).

    Guarantees: never the record itself (same id or same question text); only pool
    records that have a rationale (see example_rationale); distinct examples; the same
    result for the same (seed, record.id) and pool. Fewer than k only when the pool
    has fewer usable records.

    Returns:
        list of (pool_record, rationale_text) pairs.
    """
    if k <= 0 or not pool:
        return []
    rng = random.Random(_stable_seed("in-context", seed, record.id))
    chosen, seen = [], set()

    def usable(i):
        ex = pool[i]
        if i in seen or ex.id == record.id or ex.question == record.question:
            return None
        return example_rationale(ex, source)

    # Random probes first (cheap on a large pool); a full shuffled scan as a fallback.
    for _ in range(8 * k):
        i = rng.randrange(len(pool))
        rationale = usable(i)
        seen.add(i)
        if rationale:
            chosen.append((pool[i], rationale))
            if len(chosen) == k:
                return chosen
    order = list(range(len(pool)))
    rng.shuffle(order)
    for i in order:
        rationale = usable(i)
        seen.add(i)
        if rationale:
            chosen.append((pool[i], rationale))
            if len(chosen) == k:
                break
    return chosen


def render_teacher_prompt(record, template="teacher_forced", examples=(), chat: bool = False, tokenizer=None) -> str:
    """The full teacher prompt as text.

    Args:
        record: the question (a labkit.data.Record).
        template: a name in TEMPLATES or a Template.
        examples: (record, rationale) pairs from in_context_examples.
        chat: True for instruct models: messages rendered with tokenizer.apply_chat_template
            (tokenizer required); False for base models: plain few-shot text.
    Returns:
        the prompt; the teacher's continuation is the rationale.
    """
    t = get_template(template)
    if not chat:
        blocks = [t.instruction] + [t.solved_block(ex, r) for ex, r in examples] + [t.open_block(record)]
        return "\n\n".join(blocks)
    if tokenizer is None:
        raise LabkitError("render_teacher_prompt(chat=True) needs the teacher's tokenizer (tokenizer=...)")
    messages = []
    for ex, r in examples:
        messages.append({"role": "user", "content": t.question_block(ex)})
        messages.append({"role": "assistant", "content": f"{COT_TRIGGER} {r}"})
    messages.append({"role": "user", "content": t.question_block(record)})
    messages[0] = {"role": "user", "content": f"{t.instruction}\n\n{messages[0]['content']}"}
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text + COT_TRIGGER


def fit_teacher_prompt(record, template, examples, *, chat: bool, tokenizer, max_tokens: int | None):
    """Render a prompt that fits in max_tokens: drop in-context examples first (last one first),
    then keep only the last max_tokens tokens.

    Returns:
        (prompt, info) with info = {"tokens": n, "dropped_examples": d, "truncated": bool}.
    """
    examples = list(examples)
    dropped = 0
    while True:
        prompt = render_teacher_prompt(record, template, examples, chat=chat, tokenizer=tokenizer)
        if max_tokens is None or tokenizer is None:
            return prompt, {"tokens": None, "dropped_examples": 0, "truncated": False}
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        if len(ids) <= max_tokens:
            return prompt, {"tokens": len(ids), "dropped_examples": dropped, "truncated": False}
        if not examples:
            break
        examples.pop()
        dropped += 1
    # Still too long without examples: keep the end (the question and the trigger).
    prompt = tokenizer.decode(ids[-max_tokens:], skip_special_tokens=False)
    return prompt, {"tokens": max_tokens, "dropped_examples": dropped, "truncated": True}
