"""Lion: adversarial distillation (Jiang, Chan, Chen & Wang, EMNLP 2023, arXiv:2305.12870, "Lion: Adversarial
Distillation of Proprietary Large Language Models").

The teacher plays three roles in each round, on a pool of instructions P:

1. imitation: the student learns the teacher's responses on P,
       L(θ) = - (1/N) Σ_{x ∈ P} Σ_t log q_θ(y_t | y_<t, x),      y = the teacher's response to x;
2. discrimination: a referee compares the student's and the teacher's responses on P; the instructions where
   they differ are the *hard* ones, H = {x ∈ P : referee(q_θ(x), T(x)) = differ};
3. generation: the teacher writes new instructions like the hard ones, x' ~ G(· | x), x ∈ H; they join P.

Here (labkit's miniature): the teacher is a rationale writer (labkit.rationales: scripted or live), the referee
compares the answers the two responses state (labkit.answers.stated_answer), and the generator is
labkit.data.similar_question (the same operations, nearby numbers). The control, `mining="random"`, generates as
many new questions from pool questions drawn uniformly, so that only *which* questions seed the new ones differs.
See docs/methods.md §11.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from labkit import data, rationales
from labkit.answers import is_correct, stated_answer
from labkit.errors import LabkitError
from labkit.loop import History, TrainConfig
from labkit.methods import finetune_cot, sft
from labkit.methods.base import need, settings_of

NAME = "lion"
MINING = ("hard", "random")


@dataclass
class LionSettings:
    """Args:
    teacher: writes the responses (reasoning that ends in "So the answer is ..."); labkit.rationales names.
    n_new: new questions generated per round.
    mining: "hard" (Lion: new questions like the ones the student gets wrong) or "random" (like pool
        questions drawn uniformly: the control).
    seed: draws the seed questions and the generator's numbers.
    """

    teacher: str = "oracle"
    n_new: int = 200
    mining: str = "hard"
    seed: int = 0

    def __post_init__(self):
        need(self, "teacher", isinstance(self.teacher, str) and self.teacher, "a teacher name")
        need(
            self,
            "n_new",
            isinstance(self.n_new, int) and not isinstance(self.n_new, bool) and self.n_new >= 0,
            "an integer >= 0",
        )
        need(self, "mining", self.mining in MINING, f"one of {', '.join(MINING)}")


Settings = LionSettings


def referee(record, student_text: str | None, teacher_text: str | None) -> bool:
    """True when the student's response states the same answer as the teacher's (a numeric answer compares by
    value). A teacher response that states no answer: the record's gold answer stands in for it."""
    teacher_answer = stated_answer(teacher_text, record) if teacher_text else None
    target = record if teacher_answer is None else dataclasses.replace(record, answer=teacher_answer)
    return is_correct(stated_answer(student_text, record), target)


def hard_questions(records, student_texts, teacher: str) -> list[int]:
    """Indices of the records on which the referee finds the student's response and the teacher's different
    (the teacher's response is record.rationales[teacher])."""
    if len(records) != len(student_texts):
        raise LabkitError(f"hard_questions: {len(records)} records but {len(student_texts)} student responses")
    return [
        i
        for i, (r, s) in enumerate(zip(records, student_texts))
        if not referee(r, s, (r.rationales or {}).get(teacher))
    ]


def new_questions(pool, hard: list[int], settings: LionSettings, *, round_index: int = 0) -> list:
    """settings.n_new new questions (labkit.data.similar_question), each like a seed question: the hard ones in
    turn (Lion; shuffled, cycled when fewer than n_new) or pool questions drawn uniformly ("random"). No hard
    question: nothing to mine, no new questions (the student already agrees with the teacher everywhere)."""
    rng = random.Random(f"lion|{settings.seed}|{settings.mining}|{round_index}")
    if settings.mining == "hard":
        if not hard:
            return []
        order = rng.sample(list(hard), len(hard))
        seeds = [pool[order[i % len(order)]] for i in range(settings.n_new)]
    else:
        seeds = [pool[rng.randrange(len(pool))] for _ in range(settings.n_new)]
    return [data.similar_question(r, rng) for r in seeds]


def respond(records, teacher: str, *, device: str = "auto") -> list:
    """The records with the teacher's greedy response attached (record.rationales[teacher]). A live teacher answers
    without the gold answer in its prompt (template "cot"); scripted and recorded ones write theirs as they do."""
    return rationales.generate_rationales([teacher], records, template="cot", device=device, progress=False).attach(
        list(records)
    )


def training_pairs(records, teacher: str) -> tuple[list, list, dict]:
    """(prompts, targets, stats): "[cot] question -> teacher's response" for every record (none dropped: Lion
    imitates the teacher as it is)."""
    paths = [[(r.rationales or {}).get(teacher) or ""] for r in records]
    return finetune_cot.training_pairs(records, paths, keep_correct=False)


def discriminate(student, tokenizer, pool, teacher: str) -> list[int]:
    """The referee's pass: the student answers every pool question (labkit.methods.finetune_cot.reason); the
    indices where its answer differs from the teacher's (hard_questions)."""
    return hard_questions(pool, finetune_cot.reason(student, tokenizer, pool), teacher)


def grow(pool, hard: list[int], settings: LionSettings, *, round_index: int = 0, device: str = "auto") -> list:
    """Generation: the pool plus settings.n_new new questions (new_questions), answered by the teacher."""
    return list(pool) + respond(
        new_questions(pool, hard, settings, round_index=round_index), settings.teacher, device=device
    )


def one_round(
    student, tokenizer, pool, settings: LionSettings, *, config: TrainConfig, round_index: int = 0, device: str = "auto"
) -> tuple[list, dict]:
    """One Lion round on `pool` (records with the teacher's responses): imitation, discrimination, generation.
    Returns (the grown pool, {"pool", "hard", "new"})."""
    sft.train(student, tokenizer, *training_pairs(pool, settings.teacher)[:2], config=config)
    hard = discriminate(student, tokenizer, pool, settings.teacher)
    grown = grow(pool, hard, settings, round_index=round_index, device=device)
    return grown, {"pool": len(pool), "hard": len(hard), "new": len(grown) - len(pool)}


def train(
    student, tokenizer, records, *, rounds: int = 1, config: TrainConfig | None = None, device: str = "auto", **settings
) -> History:
    """Lion from scratch: the teacher answers `records` (the first pool), then `rounds` rounds of imitation,
    discrimination and generation, then imitation on the final pool. Returns the last imitation's History."""
    s = settings_of(Settings, settings)
    config = config or TrainConfig()
    pool = respond(records, s.teacher, device=device)
    for k in range(rounds):
        pool, _ = one_round(student, tokenizer, pool, s, config=config, round_index=k, device=device)
    return sft.train(student, tokenizer, *training_pairs(pool, s.teacher)[:2], config=config)
