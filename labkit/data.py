"""Datasets in one shape: a `Record` per question, whatever the source.

    import labkit as lk
    train = lk.data.load_dataset("synthetic:arithmetic", "train")          # embedded, no download
    obqa = lk.data.load_dataset("tinyllm:obqa", "train", data_dir="../shared/data")
    svamp = lk.data.load_splits("dss:svamp", data_dir="../shared/data")     # {"train": [...], "test": [...]}

Names are `family:name`:

- `synthetic:arithmetic|tracking|ordering` — reasoning tasks generated here, deterministic from
  (seed, split), four options each and a gold step-by-step `solution` ending "So the answer is X.".
- `tinyllm:obqa|arc` — TinyLLM files with two recorded teachers ("flan-t5-xl", "llama2-7b-chat").
- `dss:cqa|svamp` — distilling-step-by-step files with the recorded teacher "palm-540b" and its labels.
- `hub:openbookqa|arc|piqa|riddlesense|pubmedqa|commonsenseqa` — Hugging Face `datasets` (GPU nodes).

See ../shared/data/README.md (in the lab checkout) for the file formats.
"""
from __future__ import annotations

import ast
import hashlib
import json
import math
import operator
import os
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labkit.errors import LabkitError

SPLIT_ALIASES = {"validation": "valid", "val": "valid", "dev": "valid"}


# ---------------------------------------------------------------------------
# The record
# ---------------------------------------------------------------------------

@dataclass
class Record:
    """One question. `answer` is always the answer TEXT (a choice's text for multiple choice)."""
    id: str
    question: str
    answer: str                      # gold answer text ("water", "42", "( 10.0 * 45.0 )")
    choices: list[str] | None = None
    context: str | None = None
    solution: str | None = None      # gold step-by-step solution (synthetic tasks)
    rationales: dict[str, str] = field(default_factory=dict)      # teacher name -> rationale text
    teacher_labels: dict[str, str] = field(default_factory=dict)  # teacher name -> answer text it states
    meta: dict = field(default_factory=dict)

    @property
    def answer_index(self) -> int | None:
        """Index of the gold answer in `choices`, or None (no choices, or answer not among them)."""
        if not self.choices:
            return None
        try:
            return self.choices.index(self.answer)
        except ValueError:
            return None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise LabkitError(f"Record.from_dict: unknown field(s) {sorted(unknown)}; expected {sorted(known)}")
        return cls(**d)


# ---------------------------------------------------------------------------
# Synthetic reasoning tasks
# ---------------------------------------------------------------------------
# Each generator takes a random.Random and `steps` and returns (question, answer, options, solution, meta).
# Splits are disjoint by construction: a question belongs to the split chosen by a hash of its text
# (0 -> test, 1 -> valid, 2..9 -> train), and each split's generator keeps only its own questions.

NAMES = ["Ann", "Ben", "Cal", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Joe", "Kim", "Lou",
         "Max", "Ned", "Pam", "Sam"]
OBJECTS = ["ball", "book", "cup", "hat", "key", "pen", "box", "toy"]
ITEMS = ["apples", "marbles", "coins", "cards", "stickers", "shells"]
ATTRIBUTES = [  # (comparative, opposite comparative, superlative, opposite superlative)
    ("taller", "shorter", "tallest", "shortest"),
    ("older", "younger", "oldest", "youngest"),
    ("faster", "slower", "fastest", "slowest"),
    ("heavier", "lighter", "heaviest", "lightest"),
]
SYNTHETIC_SIZES = {"train": 2000, "valid": 200, "test": 200}
_ARITH_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def _apply_ops(start: int, ops: list[tuple[str, int]]) -> int:
    value = start
    for op, k in ops:
        value = _ARITH_OPS[op](value, k)
    return value


def _split_of(question: str) -> str:
    bucket = int(hashlib.sha256(question.encode()).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def _gen_arithmetic(rng: random.Random, steps: int):
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    start = rng.randint(2, 20)
    value, ops = start, []
    for _ in range(steps):
        kinds = ["+", "-"] + (["*"] if value <= 12 else [])
        op = rng.choice(kinds)
        if op == "-" and value < 2:
            op = "+"
        k = rng.randint(2, 3) if op == "*" else rng.randint(1, 9) if op == "+" else rng.randint(1, min(9, value - 1))
        ops.append((op, k))
        value = _ARITH_OPS[op](value, k)
    phrases = {"+": "{n} gets {k} more.", "-": "{n} gives {k} away.", "*": "{n} {times} them."}
    times = {2: "doubles", 3: "triples"}
    sentences, lines, v = [f"{name} has {start} {item}."], [], start
    for i, (op, k) in enumerate(ops, 1):
        s = phrases[op].format(n=name, k=k, times=times.get(k, ""))
        new = _ARITH_OPS[op](v, k)
        sentences.append(s)
        lines.append(f"{i}. {s[:-1]}: {v} {op} {k} = {new}.")
        v = new
    question = " ".join(sentences) + f" How many {item} does {name} have now?"
    answer = str(value)
    # distractors: stop one step early, misapply the last step, skip a middle step, then +-1
    prev = _apply_ops(start, ops[:-1])
    last_op, last_k = ops[-1]
    wrong_last = {"+": prev - last_k, "-": prev + last_k, "*": prev + last_k}[last_op]
    candidates = [prev, wrong_last]
    if steps >= 2:
        j = rng.randrange(steps)
        candidates.append(_apply_ops(start, ops[:j] + ops[j + 1:]))
    candidates += [value + 1, value - 1, value + 2, value - 2, value + 10]
    distractors = []
    for c in candidates:
        if c >= 0 and str(c) != answer and str(c) not in distractors:
            distractors.append(str(c))
    options = distractors[:3] + [answer]
    rng.shuffle(options)
    solution = "\n".join(lines + [f"So the answer is {answer}."])
    meta = {"task": "arithmetic", "steps": steps, "start": start, "ops": [list(o) for o in ops]}
    return question, answer, options, solution, meta


def _gen_tracking(rng: random.Random, steps: int):
    people = rng.sample(NAMES, 4)
    objects = rng.sample(OBJECTS, 4)
    holder = dict(zip(objects, people))           # object -> person
    target = rng.choice(objects)
    sentences = [", ".join(f"{p} has the {o}" for o, p in zip(objects, people)) + "."]
    actions, lines = [], []
    for i in range(1, steps + 1):
        before = holder[target]
        if rng.random() < 0.5:
            a, b = rng.sample(people, 2)
            for o, p in holder.items():
                holder[o] = b if p == a else a if p == b else p
            actions.append(["swap", a, b])
            s = f"{a} and {b} swap items."
        else:
            obj = rng.choice(objects)
            a = holder[obj]
            b = rng.choice([p for p in people if p != a])
            holder[obj] = b
            actions.append(["pass", a, b, obj])
            s = f"{a} gives the {obj} to {b}."
        sentences.append(s)
        moved = "is now" if holder[target] != before else "is still"
        lines.append(f"{i}. {s[:-1]}: the {target} {moved} with {holder[target]}.")
    question = " ".join(sentences) + f" Who has the {target} at the end?"
    answer = holder[target]
    options = list(people)
    rng.shuffle(options)
    solution = "\n".join(lines + [f"So the answer is {answer}."])
    meta = {"task": "tracking", "steps": steps, "initial": dict(zip(objects, people)),
            "actions": actions, "object": target}
    return question, answer, options, solution, meta


def _gen_ordering(rng: random.Random, steps: int):
    people = rng.sample(NAMES, steps + 1)          # people[0] is the most (tallest), in truth order
    more, less, most, least = rng.choice(ATTRIBUTES)
    pairs = [(people[i], people[i + 1]) for i in range(steps)]   # (higher, lower)
    statements = [f"{hi} is {more} than {lo}." if rng.random() < 0.5 else f"{lo} is {less} than {hi}."
                  for hi, lo in pairs]
    order = list(range(steps))
    rng.shuffle(order)
    ask_most = rng.random() < 0.5
    question = " ".join(statements[i] for i in order) + f" Who is the {most if ask_most else least}?"
    answer = people[0] if ask_most else people[-1]
    lines = [f"{i}. {hi} is {more} than {lo}." for i, (hi, lo) in enumerate(pairs, 1)]
    lines.append(f"{steps + 1}. From {most} to {least}: {', '.join(people)}.")
    # options: the answer, the runner-up (off by one step), then others; outsiders only when too few people
    runner_up = people[1] if ask_most else people[-2]
    others = [p for p in people if p not in (answer, runner_up)]
    rng.shuffle(others)
    outsiders = [n for n in NAMES if n not in people]
    rng.shuffle(outsiders)
    options = [answer, runner_up] + (others + outsiders)[:2]
    rng.shuffle(options)
    solution = "\n".join(lines + [f"So the answer is {answer}."])
    meta = {"task": "ordering", "steps": steps, "pairs": [list(p) for p in pairs], "attribute": more,
            "ask": "most" if ask_most else "least"}
    return question, answer, options, solution, meta


SYNTHETIC_TASKS = {"arithmetic": _gen_arithmetic, "tracking": _gen_tracking, "ordering": _gen_ordering}


def synthetic_answer(meta: dict) -> str:
    """Recompute the gold answer from a synthetic record's structure (`record.meta`)."""
    task = meta["task"]
    if task == "arithmetic":
        return str(_apply_ops(meta["start"], [tuple(o) for o in meta["ops"]]))
    if task == "tracking":
        holder = dict(meta["initial"])
        for act in meta["actions"]:
            if act[0] == "swap":
                a, b = act[1], act[2]
                holder = {o: b if p == a else a if p == b else p for o, p in holder.items()}
            else:
                holder[act[3]] = act[2]
        return holder[meta["object"]]
    if task == "ordering":
        lower = {lo for _, lo in meta["pairs"]}
        higher = {hi for hi, _ in meta["pairs"]}
        ends = (higher - lower) if meta["ask"] == "most" else (lower - higher)
        (person,) = ends
        return person
    raise LabkitError(f"unknown synthetic task {task!r}")


def generate_synthetic(task: str, split: str = "train", *, n: int | None = None, seed: int = 0,
                       steps: int = 3) -> list[Record]:
    """Generate a synthetic split: deterministic from (task, seed, split, steps), disjoint across splits.

    Args:
        task: "arithmetic", "tracking" or "ordering".
        split: "train", "valid" or "test".
        n: number of questions (default: 2000 train, 200 valid/test). The first n of a larger set are
            the same questions: generation is sequential.
        steps: difficulty, the number of reasoning steps (>= 1).
    """
    if task not in SYNTHETIC_TASKS:
        raise LabkitError(f"unknown synthetic task {task!r}; known: {sorted(SYNTHETIC_TASKS)}")
    if not isinstance(steps, int) or steps < 1:
        raise LabkitError(f"steps must be an integer >= 1, got {steps!r}")
    if split not in SYNTHETIC_SIZES:
        raise LabkitError(f"unknown split {split!r} for synthetic:{task}; expected one of {list(SYNTHETIC_SIZES)}")
    size = SYNTHETIC_SIZES[split] if n is None else n
    rng = random.Random(f"labkit-synthetic|{task}|{seed}|{split}|{steps}")
    gen = SYNTHETIC_TASKS[task]
    records, seen, tries = [], set(), 0
    while len(records) < size:
        tries += 1
        if tries > 200 * size + 10_000:
            raise LabkitError(f"synthetic:{task} with steps={steps} cannot make {size} distinct {split} questions")
        question, answer, options, solution, meta = gen(rng, steps)
        if question in seen or _split_of(question) != split:
            continue
        seen.add(question)
        meta = {**meta, "seed": seed, "split": split}
        records.append(Record(id=f"{task}-{split}-s{seed}-{len(records):05d}", question=question,
                              answer=answer, choices=options, solution=solution, meta=meta))
    return records


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------

def _family_and_name(name: str) -> tuple[str, str]:
    if ":" not in name:
        raise LabkitError(f"dataset name {name!r} must look like family:name; known: {', '.join(list_datasets())}")
    family, short = name.split(":", 1)
    return family, short


def list_datasets() -> list[str]:
    """Every dataset name `load_dataset` understands."""
    return [f"synthetic:{t}" for t in SYNTHETIC_TASKS]


def load_dataset(name: str, split: str = "train", *, data_dir=None, n: int | None = None, seed: int = 0,
                 strict: bool = True, shuffle: bool = False, **options) -> list[Record]:
    """Load one split of a dataset as a list of `Record`.

    Args:
        name: "family:name", see `list_datasets()`.
        split: "train", "valid" or "test" (not every dataset has every split).
        data_dir: folder holding tinyllm/ and dss/ (or the family or dataset folder); default $LABKIT_DATA.
        n: keep the first n records (after a seeded shuffle when shuffle=True).
        seed: generation seed (synthetic) and shuffle seed.
        strict: malformed rows raise (True) or are skipped and counted (False).
        options: synthetic tasks take steps=3.
    """
    family, short = _family_and_name(name)
    split = SPLIT_ALIASES.get(split, split)
    if family == "synthetic":
        unknown = set(options) - {"steps"}
        if unknown:
            raise LabkitError(f"synthetic datasets take the option steps=..., not {sorted(unknown)}")
        records = generate_synthetic(short, split, n=None if shuffle else n, seed=seed,
                                     steps=options.get("steps", 3))
    else:
        raise LabkitError(f"unknown dataset {name!r}; known: {', '.join(list_datasets())}")
    if shuffle:
        records = list(records)
        random.Random(seed).shuffle(records)
    return records if n is None else records[:n]
