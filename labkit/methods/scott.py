"""SCOTT (Wang, Wang, Li, Radev & Ren, ACL 2023, "SCOTT: Self-Consistent Chain-of-Thought Distillation").

Two ideas make a small student's rationales *faithful* (its answer follows from its own reasoning):

1. Teacher side: rationales must support the gold answer. SCOTT obtains them by contrastive decoding
   (tokens that are plausible given the gold answer and less so given a perturbed one); the consistency
   filter here keeps only teacher rationales whose stated answer is the gold answer (the property that
   decoding aims for), and drops the rest:
       D = {(x, r, y) : answer(r) = y}
2. Student side: it writes a rationale, then the answer, x -> r ⊕ "Answer: y", trained by cross-entropy
   on the whole target. (SCOTT's counterfactual training, which feeds perturbed rationales with the
   answers they imply, is not implemented here.)

Faithfulness of a student = the fraction of test questions where the answer it gives ("Answer: ...")
is the answer its own rationale states. Unfiltered data teaches rationales that contradict the answer
they precede. See docs/methods.md §11.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from labkit import rationales
from labkit.answers import is_correct, parse_answer, stated_answer
from labkit.loop import History, TrainConfig
from labkit.methods import sft
from labkit.methods.base import need, settings_of
from labkit.prompts import answer_text, student_prompt

NAME = "scott"
TASK = "explain"
ANSWER_MARK = "\nAnswer:"


@dataclass
class SCOTTSettings:
    """Args:
    teacher: who writes the rationales (its rationale per question, labkit.rationales).
    filter: keep only rationales whose stated answer is the gold answer (SCOTT's consistency).
    """

    teacher: str = "noisy-oracle@p=0.3"
    filter: bool = True

    def __post_init__(self):
        need(self, "teacher", isinstance(self.teacher, str) and self.teacher, "a teacher name")
        need(self, "filter", isinstance(self.filter, bool), "True or False")


Settings = SCOTTSettings


def consistent(rationale: str | None, record) -> bool:
    """Whether a rationale states the record's gold answer."""
    return is_correct(stated_answer(rationale, record), record)


def target(rationale: str, record, answer: str | None = None) -> str:
    """The student's target: " <rationale>\\nAnswer: (x) <answer>" (gold answer by default)."""
    return f" {rationale.strip()}{ANSWER_MARK} {answer_text(record, answer)}"


def training_pairs(records, teacher: str, *, filter: bool = True) -> tuple[list, list, dict]:
    """(prompts, targets, stats) from records that carry `teacher`'s rationale (record.rationales).

    stats: "questions", "with_rationale", "consistent" (rationale states the gold answer), "kept"."""
    prompts, targets, n_rat, n_ok = [], [], 0, 0
    for r in records:
        text = r.rationales.get(teacher)
        if not text:
            continue
        n_rat += 1
        ok = consistent(text, r)
        n_ok += ok
        if ok or not filter:
            prompts.append(student_prompt(r, TASK))
            targets.append(target(text, r))
    return (
        prompts,
        targets,
        {"questions": len(records), "with_rationale": n_rat, "consistent": n_ok, "kept": len(targets)},
    )


def read(text: str, record) -> tuple[str | None, str | None]:
    """(answer the rationale states, answer given after "Answer:") of a student's output; None where absent."""
    head, mark, tail = (text or "").rpartition(ANSWER_MARK)
    if not mark:
        return stated_answer(text, record), None
    return stated_answer(head, record), parse_answer(tail, record)


def scores(texts: list[str], records) -> dict:
    """{"accuracy": the given answer is gold, "faithfulness": the given answer is the one the rationale
    states (both present), "rationale_accuracy": the rationale states the gold answer}, as fractions."""
    acc = faith = rat = 0
    for t, r in zip(texts, records):
        stated, given = read(t, r)
        acc += is_correct(given, r)
        rat += is_correct(stated, r)
        faith += stated is not None and given is not None and is_correct(given, dataclasses.replace(r, answer=stated))
    n = max(len(records), 1)
    return {"accuracy": acc / n, "faithfulness": faith / n, "rationale_accuracy": rat / n}


def train(student, tokenizer, records, *, config: TrainConfig | None = None, **settings) -> History:
    """Attach the teacher's rationales, filter them (settings.filter), fine-tune on rationale ⊕ answer."""
    s = settings_of(Settings, settings)
    if not all(r.rationales.get(s.teacher) for r in records):
        records = rationales.generate_rationales([s.teacher], records, progress=False).attach(records)
    prompts, targets, _ = training_pairs(records, s.teacher, filter=s.filter)
    return sft.train(student, tokenizer, prompts, targets, config=config)
