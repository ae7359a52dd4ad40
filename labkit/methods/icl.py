"""In-context learning distillation (Huang, Xu, Yu & Yang, 2022, arXiv:2212.10670, "In-context Learning
Distillation: Transferring Few-shot Learning Ability of Pre-trained Language Models").

The student learns to answer a query from k solved examples of the same task placed before it, with the
teacher's in-context predictions as targets:

    x̃ = (x_1, y_1, ..., x_k, y_k, x)        L(θ) = - log q_θ(ŷ | x̃)        ŷ = teacher's label for x

(the paper adds a language-modelling loss and matches the teacher's soft in-context distribution; here the
teacher gives labels). Two ways to use it:

- Meta-ICT: in-context training on many *source* tasks; the student then meets unseen *target* tasks,
  whose examples it only ever sees in context.
- Multitask-ICT: in-context training on the target tasks' own (few) training examples; the student then
  predicts on the target tasks in context. The paper finds it better than Meta-ICT, at a higher cost
  (it needs the target tasks before training).

Plain fine-tuning (no examples in the input) is the baseline. See docs/methods.md §11.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from labkit import evaluate
from labkit.errors import LabkitError
from labkit.loop import History, TrainConfig
from labkit.methods import sft
from labkit.methods.base import need, settings_of
from labkit.prompts import answer_text, format_question, student_prompt

NAME = "icl"


@dataclass
class ICLSettings:
    """Args:
    k: solved examples before each query (0 = plain fine-tuning).
    include_query: one of the k examples asks about the same item as the query (the demonstrations
        then hold the answer: the student must find and use it); else k random examples.
    seed: draws the examples.
    label_source: "gold" or a teacher name (record.teacher_labels) for the query's target.
    choices: list the answer choices under every question and answer "(c) green"; False: the bare question,
        answered by the option's text ("green"), still scored over the same options. Short prompts: a
        k=4 prompt of the lab's lookup tasks is 215 tokens with choices, 80 without.
    """

    k: int = 4
    include_query: bool = True
    seed: int = 0
    label_source: str = "gold"
    choices: bool = True

    def __post_init__(self):
        need(self, "k", isinstance(self.k, int) and not isinstance(self.k, bool) and self.k >= 0, "an integer >= 0")
        need(self, "label_source", isinstance(self.label_source, str) and self.label_source, "'gold' or a teacher name")


Settings = ICLSettings


def by_task(support) -> dict:
    """{task: [records of that task]} of a support set, in order (index it once for many queries)."""
    out: dict = {}
    for r in support:
        out.setdefault(r.meta.get("task"), []).append(r)
    return out


def demonstrations(record, support, k: int, *, include_query: bool = True, rng: random.Random) -> list:
    """k solved examples for `record` from `support` (same task: same record.meta["task"]; never the
    record itself). With include_query, one of them has the query's item (record.meta["item"]).
    `support` is a list of records or its `by_task` index (faster for many queries)."""
    task, item = record.meta.get("task"), record.meta.get("item")
    pool = support.get(task, []) if isinstance(support, dict) else support
    same = [r for r in pool if r.meta.get("task") == task and r.id != record.id]
    match = [r for r in same if r.meta.get("item") == item] if include_query else []
    rest = [r for r in same if not include_query or r.meta.get("item") != item]
    if include_query and k and not match:
        raise LabkitError(f"record {record.id}: no example of item {item!r} of task {task!r} in the support set")
    if len(rest) < k - bool(match):
        raise LabkitError(
            f"record {record.id}: task {task!r} has {len(same)} other examples in the support set, fewer than k={k}"
        )
    demos = (rng.sample(match, 1) if include_query and k else []) + rng.sample(
        rest, k - (1 if include_query and k else 0)
    )
    rng.shuffle(demos)
    return demos


def _bare(record):
    return dataclasses.replace(record, choices=None)


def prompt(record, demos, label_source: str = "gold", *, choices: bool = True) -> str:
    """The in-context prompt: each demonstration "Q: ...\\nA: (x) answer", then the query's "[answer] Q: ...\\nA:".
    choices=False: no answer choices under the questions, demonstrations answered "A: answer"."""

    def solved(d):
        label = d.answer if label_source == "gold" else d.teacher_labels.get(label_source, d.answer)
        d = d if choices else _bare(d)
        return f"{format_question(d)}\nA: {answer_text(d, label)}\n\n"

    return "".join(solved(d) for d in demos) + student_prompt(record if choices else _bare(record))


def target(record, label: str, *, choices: bool = True) -> str:
    """The query's target (leading space): " (c) green", or " green" with choices=False."""
    return " " + answer_text(record if choices else _bare(record), label)


def training_pairs(records, support, settings: ICLSettings, *, epoch: int = 0) -> tuple[list, list]:
    """(prompts, targets): each record with its own k demonstrations (drawn per epoch) and its label."""
    rng = random.Random(f"icl|{settings.seed}|{epoch}")
    support = support if isinstance(support, dict) else by_task(support)
    prompts, targets = [], []
    for r in records:
        label = r.answer if settings.label_source == "gold" else r.teacher_labels.get(settings.label_source)
        if label is None:
            raise LabkitError(f"record {r.id}: no label from {settings.label_source!r}")
        demos = demonstrations(r, support, settings.k, include_query=settings.include_query, rng=rng)
        prompts.append(prompt(r, demos, settings.label_source, choices=settings.choices))
        targets.append(target(r, label, choices=settings.choices))
    return prompts, targets


def train(
    student, tokenizer, records, *, support=None, epochs: int = 4, config: TrainConfig | None = None, **settings
) -> History:
    """In-context training on `records` (Meta-ICT: source tasks; Multitask-ICT: the target tasks' training
    examples), with `epochs` independent draws of demonstrations from `support` (default: the records)."""
    s = settings_of(Settings, settings)
    support = by_task(records if support is None else support)
    prompts, targets = [], []
    for e in range(max(1, epochs) if s.k else 1):
        p, t = training_pairs(records, support, s, epoch=e)
        prompts += p
        targets += t
    return sft.train(student, tokenizer, prompts, targets, config=config)


def accuracy(
    model,
    tokenizer,
    records,
    support,
    *,
    k: int,
    include_query: bool = True,
    seed: int = 0,
    choices: bool = True,
    batch_size: int = 64,
) -> float:
    """Option-scoring accuracy of answering each record after k demonstrations from `support` (prompts as
    `prompt(..., choices=choices)`; the options are scored either way)."""
    rng = random.Random(f"icl-eval|{seed}")
    support = support if isinstance(support, dict) else by_task(support)
    prompts, conts, owner = [], [], []
    for i, r in enumerate(records):
        p = prompt(r, demonstrations(r, support, k, include_query=include_query, rng=rng), choices=choices)
        for c in r.choices:
            prompts.append(p)
            conts.append(target(r, c, choices=choices))
            owner.append(i)
    pairs = evaluate.continuation_logprobs(model, tokenizer, prompts, conts, batch_size=batch_size, max_len=1024)
    scores = [[] for _ in records]
    for i, (s, n) in zip(owner, pairs):
        scores[i].append(s / max(n, 1))
    hits = [max(range(len(s)), key=s.__getitem__) == r.answer_index for s, r in zip(scores, records)]
    return sum(hits) / max(len(hits), 1)
