"""Teacher rationales: many teachers, batched generation, a crash-safe cache, answer checks.

    import labkit as lk
    train = lk.data.load_dataset("synthetic:arithmetic", n=50)
    res = lk.rationales.generate_rationales(["smollm2-135m-instruct", "oracle", "noisy-oracle@p=0.3"],
                                            train, template="teacher_forced", k=2)
    res.texts[0]            # {"smollm2-135m-instruct": "...", "oracle": "...", ...}
    res.stats               # {"smollm2-135m-instruct": {"generated": 50, "cached": 0, "failed": 0}, ...}
    records = res.attach(train)                      # copies with .rationales / .teacher_labels filled
    lk.rationales.consistency(records, "oracle")     # {"kept": 50, "dropped": 0, "rate": 1.0, ...}

Three kinds of teacher share one interface (`get_teacher(name)`):

- live: a causal LM that labkit.models loads (catalog name, NAME@layers=K, local dir, hub id);
  prompted with a template from labkit.prompts and k in-context examples, generation
  batched (left padding, batches sorted by prompt length, bf16 autocast where supported).
- recorded: rationales already in the dataset files (flan-t5-xl, llama2-7b-chat, palm-540b).
- scripted: built from a synthetic task's gold solution: "oracle", and "noisy-oracle@p=0.3"
  (with probability p one step and the final answer are wrong), to show what teacher quality does.

Cache (live teachers): one JSON Lines file per (teacher, template, decoding settings) under
cache_dir (default $LABKIT_HOME/rationales); one line per finished example, keyed by
example id and a hash of the prompt, flushed and fsync'ed as soon as it is written. A re-run
generates only what is missing; a crash loses at most the batch in flight; a corrupt
(half-written) line is skipped with a warning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import re
import statistics
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from labkit import data, models, prompts, sequences
from labkit.answers import STOP_SEQUENCE, is_correct, stated_answer, value_of
from labkit.errors import LabkitError
from labkit.paths import labkit_home

RECORDED_TEACHERS = ("flan-t5-xl", "llama2-7b-chat", "palm-540b")
SCRIPTED_TEACHERS = ("oracle", "noisy-oracle")
MIN_CONTEXT = 1024  # prompts shorter than this minus max_new_tokens never need the model's context size


# ---------------------------------------------------------------------------
# Answer extraction and the consistency filter
# ---------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def length_stats(texts) -> dict:
    """Word counts of the non-empty texts: n, mean, median, min, max (zeros when there are none)."""
    lengths = [len(t.split()) for t in texts if t]
    if not lengths:
        return {"n": 0, "mean_words": 0.0, "median_words": 0.0, "min_words": 0, "max_words": 0}
    return {
        "n": len(lengths),
        "mean_words": round(statistics.fmean(lengths), 2),
        "median_words": float(statistics.median(lengths)),
        "min_words": min(lengths),
        "max_words": max(lengths),
    }


def consistency(records, teacher: str) -> dict:
    """Consistency filter for one teacher: keep rationales whose stated answer is the gold answer.

    Uses record.teacher_labels[teacher] when present (e.g. PaLM's recorded label), else
    answers.stated_answer(record.rationales[teacher]).

    Returns:
        {"teacher", "total", "with_rationale", "parsed", "kept", "dropped", "unparsed",
         "rate" (kept / with_rationale), "kept_ids", "length": length_stats of kept rationales}
    """
    kept_ids, parsed, with_rationale, kept_texts = [], 0, 0, []
    for r in records:
        text = r.rationales.get(teacher)
        if not text:
            continue
        with_rationale += 1
        stated = r.teacher_labels.get(teacher) or stated_answer(text, r)
        if stated is None:
            continue
        parsed += 1
        if is_correct(stated, r):
            kept_ids.append(r.id)
            kept_texts.append(text)
    return {
        "teacher": teacher,
        "total": len(records),
        "with_rationale": with_rationale,
        "parsed": parsed,
        "kept": len(kept_ids),
        "dropped": with_rationale - len(kept_ids),
        "unparsed": with_rationale - parsed,
        "rate": len(kept_ids) / with_rationale if with_rationale else 0.0,
        "kept_ids": kept_ids,
        "length": length_stats(kept_texts),
    }


def default_cache_dir() -> Path:
    """$LABKIT_HOME/rationales (LABKIT_HOME defaults to ~/.cache/labkit)."""
    return labkit_home() / "rationales"


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@=+-]+", "_", str(text)).strip("_") or "x"


class RationaleCache:
    """One append-only JSON Lines file: {"id", "prompt_hash", "texts": [...]} per line.

    Args:
        path: the .jsonl file (created on first append).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.entries: dict[tuple[str, str], list[str]] = {}
        self.corrupt_lines = 0
        self._fh = None
        self._load()

    def _load(self):
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            lines = f.read().split(b"\n")
        for lineno, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
                key, texts = (row["id"], row["prompt_hash"]), row["texts"]
                if not isinstance(texts, list):
                    raise TypeError("texts is not a list")
            except (ValueError, KeyError, TypeError) as e:
                self.corrupt_lines += 1
                where = "trailing line" if lineno >= len(lines) - 1 else "line"
                warnings.warn(
                    f"rationale cache {self.path}: skipping corrupt {where} {lineno} "
                    f"({type(e).__name__}: {e}); that example will be generated again"
                )
                continue
            self.entries[key] = texts

    def get(self, example_id: str, phash: str) -> list[str] | None:
        return self.entries.get((example_id, phash))

    def __len__(self):
        return len(self.entries)

    def append(self, example_id: str, phash: str, texts: list[str]) -> None:
        """Write one line and make it durable (flush + fsync) before returning."""
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")
            if self._fh.tell() > 0:  # after a crash the file may end mid-line: start a fresh line
                with open(self.path, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        self._fh.write(b"\n")
        line = json.dumps({"id": example_id, "prompt_hash": phash, "texts": texts}, ensure_ascii=False)
        self._fh.write(line.encode("utf-8") + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.entries[(example_id, phash)] = texts

    def close(self):
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# ---------------------------------------------------------------------------
# Teachers
# ---------------------------------------------------------------------------


def _parse_options(name: str) -> tuple[str, dict]:
    """'noisy-oracle@p=0.3,style=terse' -> ('noisy-oracle', {'p': '0.3', 'style': 'terse'})."""
    base, _, rest = name.partition("@")
    opts = {}
    for part in filter(None, re.split(r"[,@]", rest)):
        key, eq, value = part.partition("=")
        if not eq:
            raise LabkitError(f"teacher {name!r}: option {part!r} should look like key=value")
        opts[key.strip()] = value.strip()
    return base, opts


class Teacher:
    """Common interface. kind: 'live' | 'recorded' | 'scripted'."""

    kind = "?"

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


class RecordedTeacher(Teacher):
    """Rationales read from the dataset files (record.rationales[name]); nothing is generated."""

    kind = "recorded"

    def rationale(self, record) -> str | None:
        return record.rationales.get(self.name) or None


class ScriptedTeacher(Teacher):
    """A teacher written from a synthetic task's gold solution.

    Args:
        name: "oracle" or "noisy-oracle" (options may follow: "noisy-oracle@p=0.3,style=terse").
        p: error rate (noisy-oracle only, default 0.3): with probability p the rationale gets
            one wrong step and a wrong final answer.
        style: "full" (numbered steps, the default) or "terse" (last step + answer only).
        seed: with the record id, decides which rationales are corrupted and how.
    """

    kind = "scripted"

    def __init__(self, name: str, *, p: float | None = None, style: str = "full", seed: int = 0):
        super().__init__(name)
        base, opts = _parse_options(name)
        self.noisy = base == "noisy-oracle"
        try:
            self.p = float(opts.get("p", p if p is not None else (0.3 if self.noisy else 0.0)))
        except ValueError:
            raise LabkitError(f"teacher {name!r}: p must be a number in [0, 1], got {opts.get('p')!r}") from None
        self.style = opts.get("style", style)
        self.seed = int(opts.get("seed", seed))
        if not 0.0 <= self.p <= 1.0:
            raise LabkitError(f"teacher {name!r}: p={self.p} must be in [0, 1]")
        if not self.noisy and self.p > 0:
            raise LabkitError(f"teacher {name!r}: 'oracle' has no error rate; use 'noisy-oracle@p={self.p}'")
        if self.style not in ("full", "terse"):
            raise LabkitError(f"teacher {name!r}: style must be 'full' or 'terse', got {self.style!r}")

    def _wrong_answer(self, record, rng) -> str:
        if record.choices:
            return rng.choice([c for c in record.choices if c != record.answer])
        value = value_of(record.answer)
        return str(int(value) + rng.choice([-2, -1, 1, 2])) if value is not None else record.answer + "?"

    def _corrupt_step(self, step: str, record, rng) -> str:
        """One wrong step: the last number changed, else one mentioned choice swapped for another."""
        prefix, body = re.match(r"^(\d+\.\s*)?(.*)$", step, re.DOTALL).groups()
        numbers = list(_NUMBER.finditer(body))
        if numbers:
            m = numbers[-1]
            wrong = int(float(m.group(0).replace(",", ""))) + rng.choice([-3, -2, -1, 1, 2, 3])
            body = body[: m.start()] + str(wrong) + body[m.end() :]
        else:
            present = [c for c in (record.choices or []) if re.search(rf"\b{re.escape(c)}\b", body)]
            if present:
                old = rng.choice(present)
                new = rng.choice([c for c in record.choices if c != old])
                body = re.sub(rf"\b{re.escape(old)}\b", new, body, count=1)
        return (prefix or "") + body

    def rationale(self, record) -> str:
        if not record.solution:
            raise LabkitError(
                f"scripted teacher {self.name!r} needs records with a gold solution "
                f"(synthetic:* tasks); record {record.id!r} has none"
            )
        lines = [ln for ln in record.solution.strip().split("\n") if ln.strip()]
        steps, final = lines[:-1], f"So the answer is {record.answer}."
        rng = random.Random(prompts._stable_seed("scripted", self.name, self.seed, record.id))
        if self.noisy and rng.random() < self.p:
            if steps:
                i = rng.randrange(len(steps))
                steps[i] = self._corrupt_step(steps[i], record, rng)
            final = f"So the answer is {self._wrong_answer(record, rng)}."
        if self.style == "terse":
            last = re.sub(r"^\d+\.\s*", "", steps[-1]) if steps else ""
            return f"{last} {final}".strip()
        return "\n".join(steps + [final])

    def sample(self, record, n: int, *, temperature: float = 1.0, seed: int = 0) -> list[str]:
        """n reasoning paths for one question, as a sampled LM teacher would give them (Fine-tune-CoT).

        Each path draws its own error (probability p, independently of the other paths) and, at each
        step, one of the PHRASINGS of that step with probability ∝ exp(-j / temperature) for the j-th
        phrasing (j = 0 is the canonical one): temperature 0 gives n copies of ``rationale(record)``.
        """
        if temperature <= 0:
            return [self.rationale(record)] * n
        out = []
        for i in range(n):
            rng = random.Random(prompts._stable_seed("scripted-sample", self.name, self.seed, seed, record.id, i))
            path = ScriptedTeacher(self.name, p=self.p, style=self.style, seed=rng.randrange(2**31))
            lines = path.rationale(record).split("\n")
            weights = [math.exp(-j / temperature) for j in range(len(PHRASINGS))]
            lines = [rephrase(ln, rng.choices(range(len(PHRASINGS)), weights)[0]) for ln in lines[:-1]] + lines[-1:]
            out.append("\n".join(lines))
        return out


# "i. <what happens>: <the computation>." read four ways; steps without ": " (ordering) keep theirs
PHRASINGS = ("{n}. {a}: {b}.", "{n}. {b} ({a}).", "{n}. {a}, so {b}.", "{n}. {b}.")


def rephrase(step: str, j: int) -> str:
    """The j-th of PHRASINGS of one numbered step "i. A: B." (unchanged when it has no such form)."""
    m = re.match(r"^(\d+)\.\s*(.+?): (.+)\.$", step)
    if not m:
        return step
    n, a, b = m.groups()
    return PHRASINGS[j].format(n=n, a=a, b=b)


class LiveTeacher(Teacher):
    """A causal LM run locally.

    Args:
        name: anything labkit.models.load_model accepts (also names the cache file).
        model, tokenizer: an already loaded model and tokenizer (tests, notebooks); loaded
            lazily with labkit.models otherwise (the model only when something must be generated).
        device: "auto", "cpu", "cuda", ...
        dtype: passed to load_model (float32 by default; generation uses bf16 autocast anyway).
        chat: render prompts with the chat template (instruct models); default: ask
            labkit.models.is_chat_model.
        bf16: "auto" (autocast where the device supports bf16), True or False.
    """

    kind = "live"

    def __init__(
        self, name: str, *, model=None, tokenizer=None, device="auto", dtype=None, chat: bool | None = None, bf16="auto"
    ):
        super().__init__(name)
        self._model, self._tokenizer = model, tokenizer
        self.device, self.dtype, self._chat, self.bf16 = device, dtype, chat, bf16
        self.calls = 0  # model.generate calls made (the warm-cache benchmark checks it stays 0)

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = models.load_tokenizer(self.name)
        return self._tokenizer

    @property
    def model(self):
        if self._model is None:
            self._model = models.load_model(self.name, device=self.device, dtype=self.dtype)
            self._model.eval()
        return self._model

    @property
    def chat(self) -> bool:
        if self._chat is None:
            try:
                self._chat = bool(models.is_chat_model(self.name))
            except (ImportError, LabkitError, KeyError, OSError):
                self._chat = getattr(self.tokenizer, "chat_template", None) is not None
        return self._chat

    def context_length(self) -> int:
        config = self.model.config
        n = getattr(config, "max_position_embeddings", None) or getattr(
            config.get_text_config(), "max_position_embeddings", None
        )
        return int(n or 2048)

    def _eos_ids(self) -> list[int]:
        ids = set()
        tok = self.tokenizer
        for value in (tok.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(value, int):
                ids.add(value)
            elif value:
                ids.update(value)
        for special in ("<|im_end|>", "<end_of_turn>", "<|endoftext|>", "<eos>"):
            tid = tok.convert_tokens_to_ids(special)
            if isinstance(tid, int) and tid != tok.unk_token_id and tid >= 0:
                ids.add(tid)
        return sorted(ids)

    def generate(
        self,
        prompts_: list[str],
        *,
        max_new_tokens=128,
        do_sample=False,
        n_samples=1,
        temperature=1.0,
        top_p=1.0,
        seed=0,
    ) -> list[list[str]]:
        """One batch: per prompt, n_samples continuations (cut at '\\n\\nQ:'), by labkit.sequences.generate."""
        model = self.model
        device = next(model.parameters()).device
        n = n_samples if do_sample else 1
        self.calls += 1
        use_bf16 = None if self.bf16 == "auto" else bool(self.bf16)
        texts = sequences.generate(
            model,
            self.tokenizer,
            prompts_,
            max_new_tokens=max_new_tokens,
            greedy=not do_sample,
            temperature=temperature,
            top_p=top_p,
            n_samples=n,
            seed=prompts._stable_seed("sample", seed, *prompts_) % 2**31,
            batch_size=len(prompts_) * n,
            autocast=lambda: models.autocast(device, enabled=use_bf16),
            eos_ids=self._eos_ids(),
            stop=STOP_SEQUENCE,
        )
        texts = [t.strip() for t in texts]
        return [texts[i * n : (i + 1) * n] for i in range(len(prompts_))]


def _catalog_names() -> tuple[str, ...]:
    return tuple(models.CATALOG)


def known_teachers() -> tuple[str, ...]:
    return RECORDED_TEACHERS + SCRIPTED_TEACHERS + _catalog_names()


KNOWN_TEACHERS = RECORDED_TEACHERS + SCRIPTED_TEACHERS + ("smollm2-135m-instruct", "gemma3-270m", "tiny")


def get_teacher(name, **kw) -> Teacher:
    """A teacher by name.

    - "flan-t5-xl", "llama2-7b-chat", "palm-540b": recorded (rationales from the dataset files).
    - "oracle", "noisy-oracle@p=0.3[,style=terse]": scripted from synthetic gold solutions (kw: p, style, seed).
    - a catalog name (optionally NAME@layers=K), a local model directory or a hub id ("org/name"):
      live (kw: model, tokenizer, device, dtype, chat, bf16).
    A Teacher is returned unchanged.
    """
    if isinstance(name, Teacher):
        return name
    if not isinstance(name, str) or not name.strip():
        raise LabkitError(f"teacher name must be a non-empty string, got {name!r}")
    base = name.split("@")[0]
    if name in RECORDED_TEACHERS:
        return RecordedTeacher(name)
    if base in SCRIPTED_TEACHERS:
        return ScriptedTeacher(name, **{k: v for k, v in kw.items() if k in ("p", "style", "seed")})
    live_kw = {k: v for k, v in kw.items() if k in ("model", "tokenizer", "device", "dtype", "chat", "bf16")}
    if base in _catalog_names() or Path(name).is_dir() or "model" in kw or re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        return LiveTeacher(name, **live_kw)
    raise LabkitError(
        f"unknown teacher {name!r}: expected one of {', '.join(known_teachers())}, "
        f"'noisy-oracle@p=P', a local model directory or a hub id (org/name)"
    )


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


@dataclass
class RationaleResult:
    """What generate_rationales returns.

    texts: per record, teacher -> rationale (the first sample) or None when missing/failed.
    samples: per record, teacher -> all n_samples rationales ([] when missing).
    stats: teacher -> {"generated", "cached", "failed", "dropped_examples", "truncated"}.
    """

    teachers: list[str]
    texts: list[dict]
    samples: list[dict]
    stats: dict = field(default_factory=dict)

    def totals(self) -> dict:
        return {k: sum(s.get(k, 0) for s in self.stats.values()) for k in ("generated", "cached", "failed")}

    def attach(self, records) -> list:
        """Copies of records with rationales[teacher] and teacher_labels[teacher] filled in.

        The label is the answer the rationale states (labkit.answers.stated_answer); a recorded label already
        in record.teacher_labels is kept.
        """
        out = []
        for rec, texts in zip(records, self.texts):
            rationales, labels = dict(rec.rationales), dict(rec.teacher_labels)
            for teacher, text in texts.items():
                if text is None:
                    continue
                rationales[teacher] = text
                if teacher not in labels:
                    stated = stated_answer(text, rec)
                    if stated is not None:
                        labels[teacher] = stated
            out.append(dataclasses.replace(rec, rationales=rationales, teacher_labels=labels))
        return out


def _decoding_tag(max_new_tokens, do_sample, n_samples, temperature, top_p, seed) -> str:
    if not do_sample:
        return f"greedy-m{max_new_tokens}"
    return f"sample-n{n_samples}-t{temperature:g}-p{top_p:g}-s{seed}-m{max_new_tokens}"


def cache_path(cache_dir, teacher: str, template: str, decoding_tag: str) -> Path:
    return Path(cache_dir) / f"{_slug(teacher)}__{_slug(template)}__{decoding_tag}.jsonl"


def _progress(total, desc, enabled):
    if not enabled:
        return None
    return tqdm(total=total, desc=desc, unit="ex", file=sys.stderr, dynamic_ncols=True)


def _build_prompts(teacher: LiveTeacher, records, template, pool, k, seed, max_new_tokens, stats):
    """Per record: (prompt, prompt token count), fitted to the teacher's context."""
    out = []
    for rec in records:
        examples = prompts.in_context_examples(pool, rec, k=k, seed=seed) if k > 0 else []
        prompt = prompts.render_teacher_prompt(rec, template, examples, chat=teacher.chat, tokenizer=teacher.tokenizer)
        n = len(teacher.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if n + max_new_tokens > MIN_CONTEXT:  # only now is the model's context size needed
            budget = teacher.context_length() - max_new_tokens
            if n > budget:
                prompt, info = prompts.fit_teacher_prompt(
                    rec, template, examples, chat=teacher.chat, tokenizer=teacher.tokenizer, max_tokens=budget
                )
                stats["dropped_examples"] += info["dropped_examples"]
                stats["truncated"] += int(info["truncated"])
                n = info["tokens"]
        out.append((prompt, n))
    return out


def _generate_live(
    teacher: LiveTeacher,
    records,
    *,
    template,
    pool,
    k,
    seed,
    cache_dir,
    batch_size,
    max_new_tokens,
    do_sample,
    n_samples,
    temperature,
    top_p,
    progress,
):
    """Fill from the cache, generate the rest in length-sorted batches, append each result as it lands."""
    stats = {"generated": 0, "cached": 0, "failed": 0, "dropped_examples": 0, "truncated": 0}
    tname = prompts.get_template(template).name
    built = _build_prompts(teacher, records, tname, pool, k, seed, max_new_tokens, stats)
    tag = _decoding_tag(max_new_tokens, do_sample, n_samples, temperature, top_p, seed)
    cache = RationaleCache(cache_path(cache_dir, teacher.name, tname, tag))
    results: list[list[str] | None] = [None] * len(records)
    todo = []
    for i, (rec, (prompt, n)) in enumerate(zip(records, built)):
        hit = cache.get(rec.id, prompt_hash(prompt))
        if hit is not None:
            results[i] = hit
            stats["cached"] += 1
        else:
            todo.append(i)
    # Longest prompts first: little padding per batch, and an out-of-memory error shows up at once.
    todo.sort(key=lambda i: -built[i][1])
    bar = _progress(len(todo), teacher.name, progress and bool(todo))

    def run(batch: list[int]):
        try:
            outs = teacher.generate(
                [built[i][0] for i in batch],
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                n_samples=n_samples,
                temperature=temperature,
                top_p=top_p,
                seed=seed,
            )
        except (RuntimeError, MemoryError) as e:  # torch.OutOfMemoryError is a RuntimeError
            if len(batch) > 1:
                half = len(batch) // 2
                warnings.warn(
                    f"teacher {teacher.name}: batch of {len(batch)} failed ({type(e).__name__}: "
                    f"{str(e)[:200]}); retrying as {half} + {len(batch) - half}"
                )
                run(batch[:half])
                run(batch[half:])
                return
            warnings.warn(
                f"teacher {teacher.name}: giving up on example {records[batch[0]].id!r} "
                f"({type(e).__name__}: {str(e)[:200]})"
            )
            stats["failed"] += 1
            if bar:
                bar.update(1)
            return
        for i, texts in zip(batch, outs):
            cache.append(records[i].id, prompt_hash(built[i][0]), texts)
            results[i] = texts
            stats["generated"] += 1
        if bar:
            bar.update(len(batch))

    try:
        for start in range(0, len(todo), batch_size):
            run(todo[start : start + batch_size])
    finally:
        cache.close()
        if bar:
            bar.close()
    stats["cache_file"] = str(cache.path)
    return results, stats


def generate_rationales(
    teachers,
    records,
    *,
    template="teacher_forced",
    pool=None,
    k=2,
    seed=0,
    cache_dir=None,
    batch_size=16,
    max_new_tokens=128,
    do_sample=False,
    n_samples=1,
    temperature=1.0,
    top_p=1.0,
    device="auto",
    progress=True,
) -> RationaleResult:
    """A rationale per record from each teacher.

    Args:
        teachers: names (see get_teacher) or Teacher objects; one name is accepted as a string.
        records: the questions (labkit.data.Record).
        template: "teacher_forced" (gold answer shown) or "cot" (live teachers only).
        pool: where in-context examples come from (the training split); default: `records`
            themselves (an example is never its own question).
        k: in-context examples per prompt (0 = the "w/o in-context" ablation).
        seed: in-context sampling and sampling seed.
        cache_dir: cache folder for live teachers (default $LABKIT_HOME/rationales).
        batch_size: prompts per model.generate call (halved on a failure, down to 1).
        max_new_tokens, do_sample, n_samples, temperature, top_p: decoding (greedy by default;
            with do_sample, n_samples reasoning paths per question).
        device: for live teachers given by name.
        progress: tqdm progress bars.
    Returns:
        RationaleResult.
    """
    if isinstance(teachers, (str, Teacher)):
        teachers = [teachers]
    if not teachers:
        raise LabkitError("generate_rationales: teachers is empty; give at least one teacher name")
    if batch_size < 1 or n_samples < 1 or k < 0 or max_new_tokens < 1:
        raise LabkitError(
            f"generate_rationales: need batch_size >= 1, n_samples >= 1, k >= 0, max_new_tokens >= 1 "
            f"(got {batch_size}, {n_samples}, {k}, {max_new_tokens})"
        )
    prompts.get_template(template)
    records = list(records)
    pool = records if pool is None else list(pool)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    objs = [get_teacher(t, device=device) if isinstance(t, str) else t for t in teachers]
    names = [t.name for t in objs]
    if len(set(names)) != len(names):
        raise LabkitError(f"generate_rationales: teacher names repeat: {names}")
    texts = [dict() for _ in records]
    samples = [dict() for _ in records]
    stats = {}
    for t in objs:
        if isinstance(t, LiveTeacher):
            results, st = _generate_live(
                t,
                records,
                template=template,
                pool=pool,
                k=k,
                seed=seed,
                cache_dir=cache_dir,
                batch_size=batch_size,
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                n_samples=n_samples,
                temperature=temperature,
                top_p=top_p,
                progress=progress,
            )
        elif isinstance(t, RecordedTeacher):
            results = [[r] if r else None for r in map(t.rationale, records)]
            if records and not any(results):
                have = sorted({name for r in records for name in r.rationales})
                raise LabkitError(
                    f"recorded teacher {t.name!r} has no rationales in these records "
                    f"(they have: {', '.join(have) or 'none'}); recorded teachers need a dataset "
                    f"that ships them, e.g. tinyllm:obqa (flan-t5-xl, llama2-7b-chat) or "
                    f"dss:cqa (palm-540b)"
                )
            missing = sum(r is None for r in results)
            st = {"generated": len(records) - missing, "cached": 0, "failed": missing}
        elif do_sample:
            results = [t.sample(r, n_samples, temperature=temperature, seed=seed) for r in records]
            st = {"generated": len(records) * n_samples, "cached": 0, "failed": 0}
        else:
            results = [[t.rationale(r)] for r in records]
            st = {"generated": len(records), "cached": 0, "failed": 0}
        st["length"] = length_stats([r[0] for r in results if r])
        stats[t.name] = st
        for i, r in enumerate(results):
            texts[i][t.name] = r[0] if r else None
            samples[i][t.name] = list(r) if r else []
    return RationaleResult(teachers=names, texts=texts, samples=samples, stats=stats)


# ---------------------------------------------------------------------------
# Command line: labkit rationales generate ...
# ---------------------------------------------------------------------------


def cli_generate(args) -> int:
    """`labkit rationales generate`: load the split, generate (or read) rationales, print a summary.

    In-context examples come from the dataset's train split. Ends with the line
    `generated=<K> cached=<M> failed=<F>` (totals over teachers).
    """
    records = data.load_dataset(args.dataset, args.split, data_dir=args.data_dir, n=args.limit, seed=args.seed)
    if not records:
        raise LabkitError(f"dataset {args.dataset!r} split {args.split!r} has no records")
    # In-context examples come from the whole train split (an example is never its own question).
    pool = (
        data.load_dataset(args.dataset, "train", data_dir=args.data_dir, seed=args.seed)
        if args.in_context > 0
        else records
    )
    result = generate_rationales(
        args.teacher,
        records,
        template=args.template,
        pool=pool,
        k=args.in_context,
        seed=args.seed,
        cache_dir=args.cache,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        device=args.device,
        progress=True,
    )
    attached = result.attach(records)
    for name in result.teachers:
        st, c = result.stats[name], consistency(attached, name)
        print(
            f"{name}: generated={st['generated']} cached={st['cached']} failed={st['failed']} "
            f"consistent={c['kept']}/{c['with_rationale']} mean_words={st['length']['mean_words']}"
            + (f" cache={st['cache_file']}" if "cache_file" in st else "")
        )
    tot = result.totals()
    print(f"generated={tot['generated']} cached={tot['cached']} failed={tot['failed']}")
    return 0
