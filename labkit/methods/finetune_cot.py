"""Fine-tune-CoT (Ho, Schmid & Yun, ACL 2023, "Large Language Models Are Reasoning Teachers").

A teacher answers each training question with chain of thought. With *diverse reasoning* it samples
k paths per question at temperature T > 0; paths whose final answer is wrong are dropped (the paper
keeps only correct paths). The student is fine-tuned on question -> path and, at test time, reasons
before it answers (its answer is the one its own path states):

    D = {(x, r_j) : r_j ~ p_T(· | x), j = 1..k, answer(r_j) = y}
    L(θ) = - (1/N) Σ_{(x, r) ∈ D} Σ_t log q_θ(r_t | r_<t, x)            (N = target tokens)

k = 1 at T = 0 is plain Fine-tune-CoT. See docs/methods.md §11.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit import rationales
from labkit import sequences as S
from labkit.answers import is_correct, stated_answer
from labkit.loop import History, TrainConfig
from labkit.methods import sft
from labkit.methods.base import need, settings_of
from labkit.prompts import student_prompt

NAME = "finetune_cot"
TASK = "cot"  # the student's prompt prefix: "[cot] Q: ...\nA:"


@dataclass
class FinetuneCoTSettings:
    """Args:
    teacher: who writes the reasoning paths (labkit.rationales.get_teacher: live or scripted).
    k: reasoning paths sampled per training question (k > 1 is the paper's diverse reasoning).
    temperature: the teacher's sampling temperature (0: greedy, one path).
    keep_correct: drop paths whose stated answer is not the gold answer (the paper's filter).
    seed: the teacher's sampling seed.
    """

    teacher: str = "noisy-oracle@p=0.3"
    k: int = 1
    temperature: float = 0.0
    keep_correct: bool = True
    seed: int = 0

    def __post_init__(self):
        need(self, "teacher", isinstance(self.teacher, str) and self.teacher, "a teacher name")
        need(self, "k", isinstance(self.k, int) and not isinstance(self.k, bool) and self.k >= 1, "an integer >= 1")
        need(self, "temperature", isinstance(self.temperature, (int, float)) and self.temperature >= 0, "a number >= 0")
        need(
            self,
            "k",
            self.k == 1 or self.temperature > 0,
            "1 at temperature 0 (greedy decoding gives the same path k times); set temperature > 0 for k > 1",
        )


Settings = FinetuneCoTSettings


def reasoning_paths(records, settings: FinetuneCoTSettings, *, device: str = "auto") -> list[list[str]]:
    """k paths per record from the teacher (labkit.rationales.generate_rationales, sampled when T > 0)."""
    res = rationales.generate_rationales(
        [settings.teacher],
        records,
        template="cot" if settings.teacher not in rationales.SCRIPTED_TEACHERS else "teacher_forced",
        do_sample=settings.temperature > 0,
        n_samples=settings.k,
        temperature=settings.temperature or 1.0,
        seed=settings.seed,
        device=device,
        progress=False,
    )
    return [s.get(settings.teacher) or [] for s in res.samples]


def path_is_correct(path: str, record) -> bool:
    """Whether the answer a reasoning path states is the record's gold answer."""
    return is_correct(stated_answer(path, record), record)


def training_pairs(records, paths: list[list[str]], *, keep_correct: bool = True) -> tuple[list, list, dict]:
    """(prompts, targets, stats): one "[cot] question -> path" pair per kept path.

    stats: "questions", "paths", "kept", "covered" (questions with at least one kept path), "distinct"
    (distinct kept paths)."""
    prompts, targets, covered, distinct = [], [], 0, set()
    for r, ps in zip(records, paths):
        kept = [p for p in ps if p and (not keep_correct or path_is_correct(p, r))]
        covered += bool(kept)
        for p in kept:
            prompts.append(student_prompt(r, TASK))
            targets.append(" " + p.strip())
            distinct.add((r.id, p.strip()))
    stats = {
        "questions": len(records),
        "paths": sum(map(len, paths)),
        "kept": len(targets),
        "covered": covered,
        "distinct": len(distinct),
    }
    return prompts, targets, stats


def train(
    student, tokenizer, records, *, config: TrainConfig | None = None, device: str = "auto", **settings
) -> History:
    """Sample the teacher's paths, keep the correct ones, fine-tune `student` on them."""
    s = settings_of(Settings, settings)
    prompts, targets, _ = training_pairs(
        records, reasoning_paths(records, s, device=device), keep_correct=s.keep_correct
    )
    return sft.train(student, tokenizer, prompts, targets, config=config)


def reason(model, tokenizer, records, *, task: str = TASK, max_new_tokens: int = 96, batch_size: int = 64) -> list[str]:
    """The student's own reasoning for each record (greedy, multi-line, until end of text)."""
    model.eval()
    texts = S.generate(
        model,
        tokenizer,
        [student_prompt(r, task) for r in records],
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
    )
    model.train()
    return texts


def accuracy(texts: list[str], records) -> float:
    """Fraction of records whose generated reasoning states the gold answer."""
    return sum(path_is_correct(t, r) for t, r in zip(texts, records)) / max(len(records), 1)
