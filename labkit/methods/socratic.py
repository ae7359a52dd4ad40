"""Socratic CoT (Shridhar, Stolfo & Sachan, Findings of ACL 2023, "Distilling Reasoning Capabilities into
Smaller Language Models").

The teacher decomposes each problem P into sub-questions with their answers (q_1, a_1) ... (q_n, a_n);
the last sub-question asks for the answer itself. Two students learn from them:

    decomposer   P, (q, a)_{<i}        -> q_i            L_D = - Σ_i log q_D(q_i | P, (q, a)_{<i})
    solver       P, (q, a)_{<i}, q_i   -> a_i            L_S = - Σ_i log q_S(a_i | P, (q, a)_{<i}, q_i)

At test time they alternate (the decomposer asks, the solver answers, both see the dialogue so far)
until the decomposer asks for the answer; the solver's last answer is the prediction. The baseline is
one chain-of-thought student (labkit.methods.finetune_cot, k = 1) on the same teacher's reasoning.

Decompositions here come from a teacher's numbered reasoning "i. <what happens>: <result>." (the
scripted teachers on synthetic:arithmetic / synthetic:tracking): q_i = "<what happens>. What now?",
a_i = "<result>.", and a last q = "What is the answer?" whose answer is the teacher's final sentence.
The paper has GPT-3 write the sub-questions. See docs/methods.md §11.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labkit import rationales
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.loop import History, TrainConfig
from labkit.methods import sft
from labkit.methods.base import need, settings_of
from labkit.prompts import format_question

NAME = "socratic"
LAST = "What is the answer?"
_STEP = re.compile(r"^(\d+)\.\s*(.+?): (.+?)\.?$")


@dataclass
class SocraticSettings:
    """Args:
    teacher: whose numbered reasoning is split into sub-questions (labkit.rationales).
    role: "decomposer" or "solver": which of the two students `train` trains.
    """

    teacher: str = "oracle"
    role: str = "decomposer"

    def __post_init__(self):
        need(self, "teacher", isinstance(self.teacher, str) and self.teacher, "a teacher name")
        need(self, "role", self.role in ("decomposer", "solver"), "'decomposer' or 'solver'")


Settings = SocraticSettings


def decompose(rationale: str, where: str = "rationale") -> list[tuple[str, str]]:
    """[(q_i, a_i)] of a numbered rationale "1. A: B.\\n2. ...\\nSo the answer is X." (last: LAST, "So the answer is
    X.")."""
    lines = [ln.strip() for ln in (rationale or "").strip().split("\n") if ln.strip()]
    if len(lines) < 2 or "answer is" not in lines[-1]:
        raise LabkitError(
            f"{where}: expected numbered steps 'i. <event>: <result>.' and a last line "
            f"'So the answer is ...', got {rationale!r}"
        )
    pairs = []
    for ln in lines[:-1]:
        m = _STEP.match(ln)
        if not m:
            raise LabkitError(f"{where}: step {ln!r} is not of the form 'i. <event>: <result>.'")
        pairs.append((f"{m.group(2)}. What now?", f"{m.group(3)}."))
    return pairs + [(LAST, lines[-1])]


def dialogue(pairs) -> str:
    return "".join(f"Q{i}: {q}\nA{i}: {a}\n" for i, (q, a) in enumerate(pairs, 1))


def decomposer_prompt(record, pairs) -> str:
    return f"[decompose] {format_question(record)}\n{dialogue(pairs)}Q{len(pairs) + 1}:"


def solver_prompt(record, pairs, question: str) -> str:
    return f"[solve] {format_question(record)}\n{dialogue(pairs)}Q{len(pairs) + 1}: {question}\nA{len(pairs) + 1}:"


def training_pairs(records, teacher: str, role: str) -> tuple[list, list]:
    """(prompts, targets) of one role: one pair per sub-question of each record's decomposition."""
    prompts, targets = [], []
    for r in records:
        steps = decompose(r.rationales.get(teacher), where=f"record {r.id} rationale of {teacher}")
        for i, (q, a) in enumerate(steps):
            if role == "decomposer":
                prompts.append(decomposer_prompt(r, steps[:i]))
                targets.append(" " + q)
            else:
                prompts.append(solver_prompt(r, steps[:i], q))
                targets.append(" " + a)
    return prompts, targets


def train(student, tokenizer, records, *, config: TrainConfig | None = None, **settings) -> History:
    """Train one of the two students (settings.role) on the teacher's decompositions."""
    s = settings_of(Settings, settings)
    if not all(r.rationales.get(s.teacher) for r in records):
        records = rationales.generate_rationales([s.teacher], records, progress=False).attach(records)
    prompts, targets = training_pairs(records, s.teacher, s.role)
    return sft.train(student, tokenizer, prompts, targets, config=config)


def solve(
    decomposer, solver, tokenizer, records, *, max_steps: int = 6, max_new_tokens: int = 32, batch_size: int = 64
) -> list[dict]:
    """Run the two students together on each record: {"pairs": [(q, a)], "answer_text": the last answer}.

    All records advance one sub-question per round (batched); a record stops when its decomposer asks
    LAST (its solver's answer is final) or after max_steps sub-questions."""
    for m in (decomposer, solver):
        m.eval()
    state = [{"pairs": [], "answer_text": ""} for _ in records]
    open_ = list(range(len(records)))
    for step in range(max_steps):
        if not open_:
            break
        last_round = step == max_steps - 1
        asked = [
            LAST if last_round else q.strip()
            for q in S.generate(
                decomposer,
                tokenizer,
                [decomposer_prompt(records[i], state[i]["pairs"]) for i in open_],
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                stop_at_newline=True,
            )
        ]
        said = S.generate(
            solver,
            tokenizer,
            [solver_prompt(records[i], state[i]["pairs"], q) for i, q in zip(open_, asked)],
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            stop_at_newline=True,
        )
        still = []
        for i, q, a in zip(open_, asked, said):
            state[i]["pairs"].append((q, a.strip()))
            if q == LAST:
                state[i]["answer_text"] = a.strip()
            else:
                still.append(i)
        open_ = still
    for m in (decomposer, solver):
        m.train()
    return state
