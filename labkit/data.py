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
- `hub:openbookqa|arc|piqa|riddlesense|pubmedqa|commonsenseqa|dolly` — Hugging Face `datasets` (GPU nodes;
  in a dry run, `labkit reproduce --dry-run`, a few made-up rows in each dataset's own schema).

File formats (data_dir holds tinyllm/ and dss/):

    tinyllm/obqa/obqa_{train,valid,test}.json      question rows {"id","question","choices","answer"}:
    tinyllm/arc/arc_{train,valid,test}.json        JSON Lines or one JSON array (detected)
    dss/cqa/cqa_{train,test}.json                  + "abstractive_explanation", "extractive_explanation"
    dss/svamp/svamp_{train,test}.json              {"input", "label": "( 10.0 * 45.0 )"}
    */llm/{split}_CoT_{k}.json                     JSON arrays of teacher strings, one per row, k in
                                                   numeric order (0, 1, ..., 10)

A teacher output that does not parse is left out of `rationales` / `teacher_labels` (missing, never
garbage); `dataset_info` counts what parsed.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labkit.answers import is_correct, match_choice, parse_answer_label, parse_svamp_label, safe_eval
from labkit.errors import LabkitError
from labkit.paths import data_home

SPLIT_ALIASES = {"validation": "valid", "val": "valid", "dev": "valid"}


# ---------------------------------------------------------------------------
# The record
# ---------------------------------------------------------------------------


@dataclass
class Record:
    """One question. `answer` is always the answer TEXT (a choice's text for multiple choice)."""

    id: str
    question: str
    answer: str  # gold answer text ("water", "42", "( 10.0 * 45.0 )")
    choices: list[str] | None = None
    context: str | None = None
    solution: str | None = None  # gold step-by-step solution (synthetic tasks)
    rationales: dict[str, str] = field(default_factory=dict)  # teacher name -> rationale text
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
    def from_dict(cls, d: dict) -> Record:
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

NAMES = ["Ann", "Ben", "Cal", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Joe", "Kim", "Lou", "Max", "Ned", "Pam", "Sam"]
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
    return _arithmetic_question(rng, name, item, start, ops)


def _arithmetic_ops_ok(start: int, ops) -> bool:
    """The generator's constraints: '*' by 2 or 3 on a value <= 12, '-' leaves at least 1, '+' adds 1-9."""
    value = start
    for op, k in ops:
        if (
            (op == "*" and not (value <= 12 and k in (2, 3)))
            or (op == "-" and not 1 <= k <= min(9, value - 1))
            or (op == "+" and not 1 <= k <= 9)
        ):
            return False
        value = _ARITH_OPS[op](value, k)
    return 2 <= start <= 20


def similar_question(record: Record, rng: random.Random, *, max_tries: int = 200) -> Record:
    """A new training question like `record` (synthetic:arithmetic only): the same operations in the same order,
    a start and operands within 3 of the original's, another name and item; never the same text, and always of
    the train split (its text hashes to train, so it can never be a valid or test question). Lion's generator
    (labkit.methods.lion) makes new instructions from the ones the student fails with it.

    Raises LabkitError for a record that is not a synthetic arithmetic question."""
    meta = record.meta or {}
    if meta.get("task") != "arithmetic" or "ops" not in meta or "start" not in meta:
        raise LabkitError(
            f"record {record.id}: similar_question needs a synthetic:arithmetic question "
            f"(meta with task='arithmetic', start and ops), got meta keys {sorted(meta)}"
        )
    start, ops = int(meta["start"]), [(op, int(k)) for op, k in meta["ops"]]
    for _ in range(max_tries):
        new_start = start + rng.randint(-3, 3)
        new_ops = [(op, k if op == "*" else k + rng.randint(-3, 3)) for op, k in ops]
        if not _arithmetic_ops_ok(new_start, new_ops):
            continue
        question, answer, options, solution, new_meta = _arithmetic_question(
            rng, rng.choice(NAMES), rng.choice(ITEMS), new_start, new_ops
        )
        if question != record.question and _split_of(question) == "train":
            return Record(
                id=f"{record.id}~{rng.randrange(16**8):08x}",
                question=question,
                answer=answer,
                choices=list(options) if record.choices else None,
                solution=solution,
                meta={**new_meta, "split": "train", "seed": meta.get("seed"), "similar_to": record.id},
            )
    raise LabkitError(f"record {record.id}: no similar train question in {max_tries} tries")


def _arithmetic_question(rng: random.Random, name: str, item: str, start: int, ops):
    """(question, answer, options, solution, meta) of an arithmetic question with these operations."""
    steps, value = len(ops), _apply_ops(start, ops)
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
        candidates.append(_apply_ops(start, ops[:j] + ops[j + 1 :]))
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
    holder = dict(zip(objects, people))  # object -> person
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
    meta = {
        "task": "tracking",
        "steps": steps,
        "initial": dict(zip(objects, people)),
        "actions": actions,
        "object": target,
    }
    return question, answer, options, solution, meta


def _gen_ordering(rng: random.Random, steps: int):
    people = rng.sample(NAMES, steps + 1)  # people[0] is the most (tallest), in truth order
    more, less, most, least = rng.choice(ATTRIBUTES)
    pairs = [(people[i], people[i + 1]) for i in range(steps)]  # (higher, lower)
    statements = [
        f"{hi} is {more} than {lo}." if rng.random() < 0.5 else f"{lo} is {less} than {hi}." for hi, lo in pairs
    ]
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
    meta = {
        "task": "ordering",
        "steps": steps,
        "pairs": [list(p) for p in pairs],
        "attribute": more,
        "ask": "most" if ask_most else "least",
    }
    return question, answer, options, solution, meta


SYNTHETIC_TASKS = {"arithmetic": _gen_arithmetic, "tracking": _gen_tracking, "ordering": _gen_ordering}


def generate_synthetic(
    task: str, split: str = "train", *, n: int | None = None, seed: int = 0, steps: int = 3
) -> list[Record]:
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
        records.append(
            Record(
                id=f"{task}-{split}-s{seed}-{len(records):05d}",
                question=question,
                answer=answer,
                choices=options,
                solution=solution,
                meta=meta,
            )
        )
    return records


# ---------------------------------------------------------------------------
# Safe arithmetic (SVAMP labels and predictions): never `eval`
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Reading files: JSON Lines or one JSON array, rationale files in numeric order
# ---------------------------------------------------------------------------


class RecordList(list):
    """A list of records that also remembers malformed rows skipped with strict=False.

    `skipped` is a list of "file:line: reason" strings (empty when nothing was skipped).
    """

    skipped: list[str]

    def __init__(self, items=(), skipped=None):
        super().__init__(items)
        self.skipped = list(skipped or [])


def read_rows(path: Path) -> list[tuple[int, object]]:
    """Rows of a JSON Lines file or of one JSON array, as (line number, value) pairs.

    The format is detected from the first non-blank character ('[' = one JSON array). A line that
    is not valid JSON yields (line, _Malformed(reason)) so the caller decides to raise or skip.
    """
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise LabkitError(f"{path}:{e.lineno}: invalid JSON array ({e.msg})") from None
        # line of each item: find where each top-level element starts
        return list(zip(_array_item_lines(text, len(items)), items))
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((lineno, json.loads(line)))
        except json.JSONDecodeError as e:
            rows.append((lineno, _Malformed(f"invalid JSON ({e.msg})")))
    return rows


class _Malformed:
    def __init__(self, reason: str):
        self.reason = reason


def _array_item_lines(text: str, n: int) -> list[int]:
    """Line number where each top-level item of a JSON array starts (for error messages)."""
    decoder = json.JSONDecoder()
    lines, pos, line, counted = [], text.index("[") + 1, 1, 0
    for _ in range(n):
        while text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", counted, pos)  # count only the stretch since the last item
        counted = pos
        lines.append(line)
        _, pos = decoder.raw_decode(text, pos)
    return lines


def _k_of(path: Path) -> int:
    m = re.search(r"_(\d+)\.json$", path.name)
    return int(m.group(1)) if m else -1


def rationale_files(dataset_dir: Path, split: str) -> list[Path]:
    """`llm/{split}_CoT_{k}.json` files in NUMERIC order of k (0, 1, 2, ..., 10; not lexical)."""
    folder = Path(dataset_dir) / "llm"
    if not folder.is_dir():
        return []
    files = [p for p in folder.glob(f"{split}_CoT_*.json") if re.fullmatch(rf"{split}_CoT_\d+\.json", p.name)]
    return sorted(files, key=_k_of)


def read_rationale_strings(files: list[Path]) -> list[str | None]:
    """Concatenate the JSON arrays of strings in `files`; entries that are not strings become None."""
    out: list[str | None] = []
    for f in files:
        try:
            items = json.loads(Path(f).read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise LabkitError(f"{f}:{e.lineno}: invalid JSON ({e.msg}); expected a JSON array of strings") from None
        if not isinstance(items, list):
            raise LabkitError(f"{f}: expected a JSON array of strings, got {type(items).__name__}")
        out += [x if isinstance(x, str) else None for x in items]
    return out


# ---------------------------------------------------------------------------
# Parsing teacher outputs (each returns None when it does not parse: never garbage)
# ---------------------------------------------------------------------------

TINYLLM_TEACHERS = ["flan-t5-xl", "llama2-7b-chat"]
DSS_TEACHERS = ["palm-540b"]
_LLAMA_MARK = " llama rationale: "
# a hallucinated next example after the teacher's own answer
_CONTINUATION = re.compile(r"\n\s*(?:Q\s*[:.\d]|Question\b|#)")


def split_tinyllm(text: str | None) -> dict[str, str | None]:
    """One TinyLLM rationale string -> {"flan-t5-xl": ..., "llama2-7b-chat": ...} (None = missing).

    FLAN-T5 is everything before the first "\\n\\nQ:" (the echoed question follows it);
    LLaMA-2 is everything after the first " llama rationale: ", cut before a hallucinated next example.
    """
    out: dict[str, str | None] = {t: None for t in TINYLLM_TEACHERS}
    if not isinstance(text, str):
        return out
    if "\n\nQ:" in text:
        flan = text.split("\n\nQ:", 1)[0].strip()
        out["flan-t5-xl"] = flan or None
    if _LLAMA_MARK in text:
        llama = text.split(_LLAMA_MARK, 1)[1]
        llama = _CONTINUATION.split(llama, 1)[0].strip()
        out["llama2-7b-chat"] = llama or None
    return out


def split_palm(text: str | None) -> tuple[str | None, str | None]:
    """A PaLM continuation -> (rationale, answer part), each None when missing.

    Cut at the first "\\n\\nQ:" (hallucinated next example), then split at "So the answer is" or
    "The answer is". The answer part is its first line, raw: `match_choice` (CQA) or
    `parse_svamp_label` (SVAMP) turn it into the teacher's label.
    """
    if not isinstance(text, str):
        return None, None
    text = text.split("\n\nQ:", 1)[0]
    m = re.search(r"(?:So the answer is|The answer is)", text, flags=re.IGNORECASE)
    if not m:
        return None, None
    rationale = text[: m.start()].strip() or None
    answer = text[m.end() :].strip().split("\n")[0].strip() or None
    return rationale, answer


# ---------------------------------------------------------------------------
# File-based families: tinyllm (OBQA, ARC) and dss (CQA, SVAMP)
# ---------------------------------------------------------------------------

FILE_DATASETS = {  # family -> {name: splits}
    "tinyllm": {"obqa": ["train", "valid", "test"], "arc": ["train", "valid", "test"]},
    "dss": {"cqa": ["train", "test"], "svamp": ["train", "test"]},
}
GET_DATA = (
    "get the files from the public TinyLLM release (https://github.com/YikunHan42/TinyLLM) and the "
    "distilling-step-by-step release (https://github.com/google-research/distilling-step-by-step); "
    "see docs/library.md, 'Models and data'"
)


def default_data_dir() -> Path | None:
    """$LABKIT_DATA, else $LABKIT_HOME/data when `labkit data fetch` put something there, else None."""
    home = data_home()
    return home if "LABKIT_DATA" in os.environ or home.is_dir() else None


def _dataset_dir(family: str, short: str, data_dir) -> Path:
    """Find the dataset folder given the root (tinyllm/, dss/), the family folder or the dataset folder."""
    if data_dir is None:
        data_dir = default_data_dir()
    if data_dir is None:
        raise LabkitError(
            f"{family}:{short} needs its data files: pass --data-dir DIR (data_dir=...) or set "
            f"$LABKIT_DATA to the folder holding tinyllm/ and dss/; {GET_DATA}"
        )
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise LabkitError(
            f"data_dir {str(root)!r} is not a folder; expected the folder holding tinyllm/ and "
            f"dss/ (set --data-dir or $LABKIT_DATA); {GET_DATA}"
        )
    for candidate in (root / family / short, root / short, root):
        if any(candidate.glob(f"{short}_*.json")):
            return candidate
    raise LabkitError(
        f"no {short}_{{split}}.json files for {family}:{short} under {str(root)!r} (looked in "
        f"{family}/{short}/, {short}/ and the folder itself); {GET_DATA}"
    )


def _question_rows(path: Path, strict: bool, skipped: list[str], required: tuple[str, ...]):
    """Valid rows as (index in file, row dict); malformed ones raise or go to `skipped`."""
    if not path.is_file():
        raise LabkitError(f"missing question file {path}; expected {path.name} next to the other splits ({GET_DATA})")
    rows = read_rows(path)
    good = []
    for index, (lineno, row) in enumerate(rows):
        problem = None
        if isinstance(row, _Malformed):
            problem = row.reason
        elif not isinstance(row, dict):
            problem = f"expected a JSON object, got {type(row).__name__}"
        else:
            missing = [k for k in required if k not in row]
            if missing:
                problem = f"missing field(s) {missing}; expected {list(required)}"
            elif "choices" in required and (
                not isinstance(row["choices"], list) or row["answer"] not in row["choices"]
            ):
                problem = f"answer {row.get('answer')!r} is not one of the choices {row.get('choices')!r}"
        if problem:
            if strict:
                raise LabkitError(f"{path}:{lineno}: {problem} (pass strict=False to skip malformed rows)")
            skipped.append(f"{path}:{lineno}: {problem}")
            continue
        good.append((index, row))
    return rows, good


def _aligned_rationales(dataset_dir: Path, split: str, n_rows: int, path: Path) -> list[str | None] | None:
    files = rationale_files(dataset_dir, split)
    if not files:
        return None
    texts = read_rationale_strings(files)
    if len(texts) != n_rows:
        raise LabkitError(
            f"{len(texts)} rationales in {[str(f) for f in files]} but {n_rows} questions in "
            f"{path}: the counts must match (one rationale per question, in row order)"
        )
    return texts


def _load_tinyllm(short: str, split: str, data_dir, strict: bool) -> RecordList:
    ddir = _dataset_dir("tinyllm", short, data_dir)
    path = ddir / f"{short}_{split}.json"
    skipped: list[str] = []
    rows, good = _question_rows(path, strict, skipped, ("question", "choices", "answer"))
    texts = _aligned_rationales(ddir, split, len(rows), path)
    records = []
    for index, row in good:
        rec = Record(
            id=str(row.get("id", f"{short}-{split}-{index}")),
            question=row["question"],
            answer=row["answer"],
            choices=list(row["choices"]),
            meta={"source": f"tinyllm:{short}", "split": split},
        )
        if texts is not None:
            for teacher, text in split_tinyllm(texts[index]).items():
                if text is None:
                    continue
                rec.rationales[teacher] = text
                label = parse_answer_label(text, rec.choices)
                if label is not None:
                    rec.teacher_labels[teacher] = label
        records.append(rec)
    return RecordList(records, skipped)


def _load_dss(short: str, split: str, data_dir, strict: bool) -> RecordList:
    ddir = _dataset_dir("dss", short, data_dir)
    path = ddir / f"{short}_{split}.json"
    skipped: list[str] = []
    required = ("input", "label") if short == "svamp" else ("question", "choices", "answer")
    rows, good = _question_rows(path, strict, skipped, required)
    texts = _aligned_rationales(ddir, split, len(rows), path)
    records = []
    for index, row in good:
        lineno = rows[index][0]
        if short == "svamp":
            try:
                value = safe_eval(str(row["label"]))
            except LabkitError as e:
                if strict:
                    raise LabkitError(f"{path}:{lineno}: label {row['label']!r} is not arithmetic ({e})") from None
                skipped.append(f"{path}:{lineno}: bad label {row['label']!r}")
                continue
            rec = Record(
                id=str(row.get("id", f"svamp-{split}-{index:04d}")),
                question=row["input"],
                answer=str(row["label"]),
                meta={"source": "dss:svamp", "split": split, "value": value},
            )
        else:
            rec = Record(
                id=str(row.get("id", f"{short}-{split}-{index}")),
                question=row["question"],
                answer=row["answer"],
                choices=list(row["choices"]),
                meta={
                    "source": f"dss:{short}",
                    "split": split,
                    "abstractive_explanation": row.get("abstractive_explanation"),
                    "extractive_explanation": row.get("extractive_explanation"),
                },
            )
        if texts is not None:
            rationale, answer_part = split_palm(texts[index])
            if rationale is not None:
                rec.rationales["palm-540b"] = rationale
            label = parse_svamp_label(answer_part) if short == "svamp" else match_choice(answer_part or "", rec.choices)
            if label is not None:
                rec.teacher_labels["palm-540b"] = label
        records.append(rec)
    return RecordList(records, skipped)


# ---------------------------------------------------------------------------
# Hugging Face hub datasets (GPU nodes): pure row mappings + a lazy loader
# ---------------------------------------------------------------------------

HUB_DATASETS = {  # schema name -> (hub id, config, {our split: hub split})
    "openbookqa": ("allenai/openbookqa", "main", {"train": "train", "valid": "validation", "test": "test"}),
    "arc": ("allenai/ai2_arc", "ARC-Challenge", {"train": "train", "valid": "validation", "test": "test"}),
    "piqa": ("ybisk/piqa", None, {"train": "train", "valid": "validation"}),
    "riddlesense": ("INK-USC/riddle_sense", None, {"train": "train", "valid": "validation"}),
    "pubmedqa": ("qiaojin/PubMedQA", "pqa_labeled", {"train": "train"}),
    "commonsenseqa": ("tau/commonsense_qa", None, {"train": "train", "valid": "validation"}),
    "dolly": ("databricks/databricks-dolly-15k", None, {"train": "train"}),  # MiniLLM's instructions (one split)
}
HUB_ALIASES = {hub_id: schema for schema, (hub_id, _, _) in HUB_DATASETS.items()} | {
    "openbookqa": "openbookqa",
    "ai2_arc": "arc",
    "piqa": "piqa",
    "riddle_sense": "riddlesense",
    "pubmed_qa": "pubmedqa",
    "commonsense_qa": "commonsenseqa",
    "databricks-dolly-15k": "dolly",
}


def _keyed_choices(schema: str, row: dict) -> tuple[list[str], str]:
    """{"choices": {"text": [...], "label": ["A", ...]}, "answerKey": "C"} -> (texts, answer text)."""
    texts, labels, key = list(row["choices"]["text"]), list(row["choices"]["label"]), row.get("answerKey")
    if key not in labels:
        raise LabkitError(
            f"hub:{schema} row {row.get('id', '?')}: answerKey {key!r} is not among the "
            f"choice labels {labels} (unlabelled test split?)"
        )
    return texts, texts[labels.index(key)]


def _row_id(schema: str, row: dict, key: str) -> str:
    return f"{schema}-{hashlib.sha1(str(row.get(key)).encode()).hexdigest()[:12]}"


def from_hub_row(schema: str, row: dict) -> Record:
    """Map one row of a Hugging Face dataset (schema as on the hub) to a Record.

    schema: openbookqa, arc, piqa, riddlesense, pubmedqa, commonsenseqa.
    """
    if schema == "openbookqa":
        choices, answer = _keyed_choices(schema, row)
        meta = {"fact1": row["fact1"]} if "fact1" in row else {}
        return Record(
            id=str(row["id"]),
            question=row["question_stem"],
            answer=answer,
            choices=choices,
            meta={"source": "hub:openbookqa", **meta},
        )
    if schema in ("arc", "commonsenseqa"):
        choices, answer = _keyed_choices(schema, row)
        meta = {"question_concept": row["question_concept"]} if "question_concept" in row else {}
        return Record(
            id=str(row["id"]),
            question=row["question"],
            answer=answer,
            choices=choices,
            meta={"source": f"hub:{schema}", **meta},
        )
    if schema == "riddlesense":
        choices, answer = _keyed_choices(schema, row)
        return Record(
            id=_row_id(schema, row, "question"),
            question=row["question"],
            answer=answer,
            choices=choices,
            meta={"source": "hub:riddlesense"},
        )
    if schema == "piqa":
        choices = [row["sol1"], row["sol2"]]
        label = int(row["label"])
        if label not in (0, 1):
            raise LabkitError(f"hub:piqa row: label {label} must be 0 or 1 (unlabelled test split?)")
        return Record(
            id=_row_id(schema, row, "goal"),
            question=row["goal"],
            answer=choices[label],
            choices=choices,
            meta={"source": "hub:piqa"},
        )
    if schema == "pubmedqa":
        decision = row["final_decision"]
        if decision not in ("yes", "no", "maybe"):
            raise LabkitError(f"hub:pubmedqa row {row.get('pubid')}: final_decision {decision!r} is not yes/no/maybe")
        return Record(
            id=str(row["pubid"]),
            question=row["question"],
            answer=decision,
            choices=["yes", "no", "maybe"],
            context=" ".join(row["context"]["contexts"]),
            meta={"source": "hub:pubmedqa", "long_answer": row.get("long_answer")},
        )
    if schema == "dolly":  # instruction following: free-text response, scored by ROUGE-L (no choices)
        text = f"{row['instruction']}\n\n{row['context']}" if row.get("context") else row["instruction"]
        return Record(
            id=_row_id(schema, {"k": text + row["response"]}, "k"),
            question=text,
            answer=row["response"],
            meta={"source": "hub:dolly", "category": row.get("category")},
        )
    raise LabkitError(f"unknown hub schema {schema!r}; known: {sorted(HUB_DATASETS)}")


def _load_hub(schema: str, split: str, strict: bool, hub_id: str | None = None) -> RecordList:
    if schema not in HUB_DATASETS:
        raise LabkitError(f"unknown hub dataset {schema!r}; known: {', '.join('hub:' + s for s in HUB_DATASETS)}")
    default_id, config, splits = HUB_DATASETS[schema]
    if split not in splits:
        raise LabkitError(f"hub:{schema} has no {split!r} split here; available: {list(splits)}")
    from labkit import tiny  # lazy: tiny imports torch

    if tiny.dry_run():  # labkit reproduce --dry-run: made-up rows in the hub's schema, never a download
        return RecordList([from_hub_row(schema, row) for row in tiny.stand_in_rows(schema)], [])
    try:
        import datasets  # lazy: only GPU nodes with the `hub` extra have it
    except ImportError:
        raise LabkitError(
            "hub datasets need the `datasets` package: pip install 'labkit[hub]' "
            "(or use the file-based tinyllm:/dss: datasets with --data-dir)"
        ) from None
    try:
        rows = datasets.load_dataset(hub_id or default_id, config, split=splits[split])
    except Exception as e:  # network, auth, missing script: say which dataset and why
        raise LabkitError(
            f"could not load {hub_id or default_id} ({config or 'default'}, {splits[split]}) "
            f"from the Hugging Face hub: {type(e).__name__}: {e}"
        ) from None
    records, skipped = [], []
    for i, row in enumerate(rows):
        try:
            records.append(from_hub_row(schema, row))
        except (LabkitError, KeyError, TypeError) as e:
            if strict:
                raise LabkitError(f"{hub_id or default_id} {splits[split]} row {i}: {e}") from None
            skipped.append(f"{hub_id or default_id}:{splits[split]}:{i}: {e}")
    return RecordList(records, skipped)


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


def list_datasets() -> list[str]:
    """Every dataset name `load_dataset` understands."""
    names = [f"synthetic:{t}" for t in SYNTHETIC_TASKS]
    names += [f"{fam}:{n}" for fam, sets in FILE_DATASETS.items() for n in sets]
    names += [f"hub:{s}" for s in HUB_DATASETS]
    return names


def _family_and_name(name: str) -> tuple[str, str]:
    if ":" not in name:
        if name in HUB_ALIASES:
            return "hub", HUB_ALIASES[name]
        raise LabkitError(f"unknown dataset {name!r}; known: {', '.join(list_datasets())}")
    family, short = name.split(":", 1)
    if family == "hub":
        short = HUB_ALIASES.get(short, short)
    known = list_datasets()
    if f"{family}:{short}" not in known:
        raise LabkitError(f"unknown dataset {name!r}; known: {', '.join(known)}")
    return family, short


def splits_of(name: str) -> list[str]:
    """Split names a dataset has."""
    family, short = _family_and_name(name)
    if family == "synthetic":
        return list(SYNTHETIC_SIZES)
    if family == "hub":
        return list(HUB_DATASETS[short][2])
    return list(FILE_DATASETS[family][short])


def teachers_of(name: str) -> list[str]:
    """The recorded teachers whose rationales come with a dataset ([] for synthetic and hub data)."""
    family, _ = _family_and_name(name)
    return {"tinyllm": list(TINYLLM_TEACHERS), "dss": list(DSS_TEACHERS)}.get(family, [])


def load_dataset(
    name: str,
    split: str = "train",
    *,
    data_dir=None,
    n: int | None = None,
    seed: int = 0,
    strict: bool = True,
    shuffle: bool = False,
    **options,
) -> RecordList:
    """Load one split of a dataset as a list of `Record` (a `RecordList`, with `.skipped`).

    Args:
        name: "family:name", see `list_datasets()`; hub ids such as "allenai/openbookqa" also work.
        split: "train", "valid" or "test" ("validation"/"dev" mean "valid"); see `splits_of(name)`.
        data_dir: folder holding tinyllm/ and dss/ (or the family or dataset folder); default $LABKIT_DATA.
        n: keep the first n records (after a seeded shuffle when shuffle=True).
        seed: generation seed (synthetic) and shuffle seed.
        strict: malformed rows raise LabkitError naming file:line (True) or are skipped and listed in
            the result's `.skipped` (False).
        options: synthetic tasks take steps=3; hub datasets take hub_id=... to override the hub id.
    """
    family, short = _family_and_name(name)
    split = SPLIT_ALIASES.get(split, split)
    if split not in splits_of(name):
        raise LabkitError(f"{name} has no split {split!r}; available: {splits_of(name)}")
    allowed = {"synthetic": {"steps"}, "hub": {"hub_id"}}.get(family, set())
    unknown = set(options) - allowed
    if unknown:
        raise LabkitError(f"{name} does not take option(s) {sorted(unknown)}; allowed: {sorted(allowed) or 'none'}")
    if family == "synthetic":
        records = RecordList(
            generate_synthetic(short, split, n=None if shuffle else n, seed=seed, steps=options.get("steps", 3))
        )
    elif family == "tinyllm":
        records = _load_tinyllm(short, split, data_dir, strict)
    elif family == "dss":
        records = _load_dss(short, split, data_dir, strict)
    else:
        records = _load_hub(short, split, strict, options.get("hub_id"))
    if shuffle:
        random.Random(seed).shuffle(records)
    if n is not None:
        if n < 0:
            raise LabkitError(f"n must be >= 0, got {n}")
        records = RecordList(records[:n], records.skipped)
    return records


def load_splits(name: str, **kw) -> dict[str, RecordList]:
    """{split: records} for every split of a dataset (same keyword arguments as `load_dataset`)."""
    return {split: load_dataset(name, split, **kw) for split in splits_of(name)}


def dataset_info(name: str, data_dir=None, **kw) -> dict:
    """Summary of a dataset: split sizes, rationale and label parse counts per teacher, one example.

    Returns:
        {"name", "splits": {split: n}, "rationales": {teacher: {"parsed": k, "total": n}},
         "labels": {teacher: {"parsed": k, "agree_with_gold": m}}, "skipped": int, "example": {...}}
        (rationale and label counts summed over all splits).
    """
    splits = load_splits(name, data_dir=data_dir, **kw)
    teachers = teachers_of(name)
    every = [r for recs in splits.values() for r in recs]
    rationales = {t: {"parsed": sum(t in r.rationales for r in every), "total": len(every)} for t in teachers}
    labels = {
        t: {
            "parsed": sum(t in r.teacher_labels for r in every),
            "agree_with_gold": sum(t in r.teacher_labels and is_correct(r.teacher_labels[t], r) for r in every),
        }
        for t in teachers
    }
    first = next((recs[0] for recs in splits.values() if recs), None)
    return {
        "name": name,
        "splits": {s: len(recs) for s, recs in splits.items()},
        "teachers": teachers,
        "rationales": rationales,
        "labels": labels,
        "skipped": sum(len(recs.skipped) for recs in splits.values()),
        "example": first.to_dict() if first else None,
    }


def _short(text, width=300) -> str:
    text = str(text).replace("\n", "\\n")
    return text if len(text) <= width else text[:width] + " ..."


def cli_show(args) -> int:
    """`labkit data show NAME [--data-dir DIR] [--json]`."""
    info = dataset_info(args.name, data_dir=getattr(args, "data_dir", None))
    if getattr(args, "json", False):
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    print(f"{info['name']}")
    print("  splits: " + ", ".join(f"{s} {n}" for s, n in info["splits"].items()))
    if info["skipped"]:
        print(f"  skipped malformed rows: {info['skipped']}")
    for t in info["teachers"]:
        r, lab = info["rationales"][t], info["labels"][t]
        total = max(r["total"], 1)
        print(
            f"  teacher {t}: rationales {r['parsed']}/{r['total']} ({100 * r['parsed'] / total:.2f}%), "
            f"labels {lab['parsed']}/{r['total']} ({100 * lab['parsed'] / total:.2f}%), "
            f"label = gold {lab['agree_with_gold']}/{max(lab['parsed'], 1)}"
        )
    ex = info["example"]
    if ex:
        print("  example:")
        print(f"    id: {ex['id']}")
        print(f"    question: {_short(ex['question'])}")
        if ex["choices"]:
            print(f"    choices: {ex['choices']}")
        print(f"    answer: {ex['answer']}")
        if ex["solution"]:
            print(f"    solution: {_short(ex['solution'])}")
        for t, text in ex["rationales"].items():
            print(f"    {t}: {_short(text)}  -> label {ex['teacher_labels'].get(t)!r}")
    return 0
