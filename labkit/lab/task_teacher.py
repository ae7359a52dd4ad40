"""A task teacher and its students for the white-box KD miniatures (notebooks 03/04).

The MiniLLM and GKD papers fine-tune their teachers on the task first, and start their students from a
supervised (SFT) checkpoint. The CPU miniature does the same with tiny models (labkit.tiny) so that sampling
runs at thousands of tokens per second:

* a byte-level BPE tokenizer trained on the task's own text (one vocabulary for teacher and student:
  white-box KD compares logits token by token);
* the *teacher*: a Llama-architecture model (default 4 layers, hidden 128) trained by SFT on
  "Q: <question>\\nA:" -> " <gold step-by-step solution>" until it solves the task;
* the *student init*: a smaller model (default 2 layers, hidden 64), briefly SFT-ed on the same data
  (the papers' SFT initialisation), from which every arm of a notebook continues.

Both are built once per recipe and cached under ``$LABKIT_HOME/task_teachers/<teacher-recipe-hash>/`` (the student
init in its
``student_init-<student-recipe-hash>/`` subdirectory; each written to a temporary directory and renamed, so a
killed build leaves nothing half-written; ``manifest.json`` holds the recipe and the measured valid accuracy). Later
runs load them in well under a second.

    kit = task_kit(RECIPES["default"])          # builds on first use (minutes), then cached
    kit.teacher, kit.student_init, kit.tokenizer, kit.splits["test"]
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from labkit import data, evaluate, tiny
from labkit.answers import is_correct, parse_answer
from labkit.errors import LabkitError
from labkit.loop import TrainConfig
from labkit.methods import sft
from labkit.paths import labkit_home

VERSION = 1  # bump when the build changes in a way the recipe does not capture

# Recipes per profile. "smoke": seconds to build (tests); "default": the notebooks' miniature.
RECIPES = {
    "smoke": dict(
        task="arithmetic",
        steps=[1],
        n_train=400,
        n_valid=32,
        n_test=32,
        vocab=320,
        teacher_layers=2,
        teacher_hidden=64,
        teacher_steps=120,
        teacher_lr=3e-3,
        student_layers=1,
        student_hidden=32,
        student_steps=30,
        student_lr=3e-3,
        batch_size=32,
        seed=0,
    ),
    "default": dict(
        task="arithmetic",
        steps=[1, 2],
        n_train=2000,
        n_valid=96,
        n_test=128,
        vocab=384,
        teacher_layers=4,
        teacher_hidden=128,
        teacher_steps=2000,
        teacher_lr=3e-3,
        student_layers=2,
        student_hidden=64,
        student_steps=200,
        student_lr=3e-3,
        batch_size=32,
        seed=0,
    ),
}
STUDENT_KEYS = ("student_layers", "student_hidden", "student_steps", "student_lr")


def prompt_of(record) -> str:
    return f"Q: {record.question}\nA:"


def target_of(record) -> str:
    return " " + (record.solution or record.answer)


def task_records(recipe: dict) -> dict[str, list]:
    """{"train", "valid", "test"}: the task's records, mixing the recipe's step counts evenly."""
    out = {}
    for split, n in (("train", recipe["n_train"]), ("valid", recipe["n_valid"]), ("test", recipe["n_test"])):
        per = [
            data.generate_synthetic(recipe["task"], split, n=-(-n // len(recipe["steps"])), steps=k, seed=0)
            for k in recipe["steps"]
        ]
        mixed = [r for group in zip(*per) for r in group][:n]  # interleave step counts
        out[split] = mixed
    return out


def recipe_hash(recipe: dict, part: str = "teacher") -> str:
    """Hash of the recipe's teacher part (the cache directory) or of its student part (the student_init-*
    subdirectory)."""
    keys = [k for k in recipe if (k in STUDENT_KEYS) == (part == "student")]
    text = json.dumps({"version": VERSION, **{k: recipe[k] for k in keys}}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def task_accuracy(model, tokenizer, records, *, max_new_tokens: int = 64, texts: list[str] | None = None) -> float:
    """Share of records whose greedy answer states the gold answer (labkit.answers)."""
    if texts is None:
        texts = evaluate.generate(
            model,
            tokenizer,
            [prompt_of(r) for r in records],
            max_new_tokens=max_new_tokens,
            stop_at_newline=False,
            batch_size=64,
        )
    return sum(is_correct(parse_answer(t, r), r) for t, r in zip(texts, records)) / max(len(records), 1)


@dataclass
class TaskKit:
    """What notebooks 03/04 need: the tokenizer, the teacher, the student init, the task splits."""

    tokenizer: object
    teacher: object
    student_init: object
    splits: dict
    recipe: dict
    manifest: dict = field(default_factory=dict)
    path: Path | None = None


def _sft(model, tok, recipe, prefix, threads, progress):
    train = task_records(recipe)["train"]
    prompts, targets = [prompt_of(r) for r in train], [target_of(r) for r in train]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        cfg = TrainConfig(
            steps=recipe[f"{prefix}_steps"],
            batch_size=recipe["batch_size"],
            lr=recipe[f"{prefix}_lr"],
            seed=recipe["seed"],
            device="cpu",
            bf16=False,
            max_len=192,
            progress=progress,
            warmup=0.05,
        )
        h = sft.train(model, tok, prompts, targets, config=cfg)
        acc = task_accuracy(model, tok, task_records(recipe)["valid"])
    finally:
        torch.set_num_threads(before)
    return h, acc


def _build_teacher(recipe: dict, out: Path, threads: int, progress: bool) -> dict:
    train = task_records(recipe)["train"]
    tok = tiny.train_tokenizer([prompt_of(r) + target_of(r) for r in train], vocab_size=recipe["vocab"])
    t0 = time.perf_counter()
    teacher = tiny.tiny_causal_lm(
        tok, n_layers=recipe["teacher_layers"], hidden=recipe["teacher_hidden"], seed=recipe["seed"]
    )
    h, acc = _sft(teacher, tok, recipe, "teacher", threads, progress)
    teacher.save_pretrained(str(out / "teacher"))
    tok.save_pretrained(str(out / "tokenizer"))
    return {
        "recipe": {k: v for k, v in recipe.items() if k not in STUDENT_KEYS},
        "version": VERSION,
        "teacher_valid_accuracy": acc,
        "teacher_seconds": round(time.perf_counter() - t0, 1),
        "teacher_loss_last": h.mean("loss", 20),
        "threads": threads,
        "built": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _build_student(recipe: dict, tok, out: Path, threads: int, progress: bool) -> dict:
    t0 = time.perf_counter()
    student = tiny.tiny_causal_lm(
        tok, n_layers=recipe["student_layers"], hidden=recipe["student_hidden"], seed=recipe["seed"] + 1
    )
    h, acc = _sft(student, tok, recipe, "student", threads, progress)
    student.save_pretrained(str(out))
    return {
        "recipe": {k: recipe[k] for k in STUDENT_KEYS},
        "student_init_valid_accuracy": acc,
        "student_seconds": round(time.perf_counter() - t0, 1),
        "student_loss_last": h.mean("loss", 20),
    }


def _atomic(final: Path, build) -> None:
    """Run build(tmp_dir) and rename tmp_dir to `final` (a concurrent builder that finished first wins)."""
    if (final / "manifest.json").exists():
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        manifest = build(tmp)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        try:
            os.replace(tmp, final)
        except OSError:
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def task_kit(
    recipe: dict | str = "default", *, root: Path | None = None, threads: int = 2, progress: bool = False
) -> TaskKit:
    """Load the task teacher and student init of `recipe` (a RECIPES key or a dict), building them once."""
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    recipe = dict(RECIPES[recipe] if isinstance(recipe, str) else recipe)
    root = Path(root or labkit_home() / "task_teachers")
    path = root / recipe_hash(recipe)
    _atomic(path, lambda tmp: _build_teacher(recipe, tmp, threads, progress))
    manifest = json.loads((path / "manifest.json").read_text())
    tok = PreTrainedTokenizerFast.from_pretrained(str(path / "tokenizer"))
    spath = path / f"student_init-{recipe_hash(recipe, 'student')}"
    _atomic(spath, lambda tmp: _build_student(recipe, tok, tmp, threads, progress))
    smanifest = json.loads((spath / "manifest.json").read_text())
    teacher = AutoModelForCausalLM.from_pretrained(str(path / "teacher")).eval()
    student = AutoModelForCausalLM.from_pretrained(str(spath)).eval()
    manifest = {**manifest, **{k: v for k, v in smanifest.items() if k != "recipe"}, "recipe": recipe}
    return TaskKit(tok, teacher, student, task_records(recipe), recipe, manifest, path)


def fresh_student(kit: TaskKit):
    """A trainable copy of the shared student init (every arm starts from the same weights)."""
    return copy.deepcopy(kit.student_init).train()


def named_kit(teacher: str, student: str, dataset: str, *, n_train: int, n_eval: int, device: str = "auto") -> TaskKit:
    """The same shape from named models (profile "paper": GPT-2 XL teacher, GPT-2 student, a dataset's splits);
    the student init is the named student as loaded (the paper SFT-initialises it first: run sft as an arm)."""
    from labkit import models
    from labkit import sequences as S

    t = models.load_model(teacher, device=device).eval()
    s = models.load_model(student, device=device)
    tok = models.load_tokenizer(teacher)
    S.check_vocab(s, t)
    return TaskKit(
        tok,
        t,
        s,
        named_splits(dataset, n_train=n_train, n_eval=n_eval),
        {"teacher": teacher, "student": student, "dataset": dataset},
    )


def named_splits(dataset: str, *, n_train: int, n_eval: int, seed: int = 0) -> dict:
    """{"train", "valid", "test"} of a named dataset, disjoint: its own valid/test splits where it has them; a
    dataset with one split (Dolly, MiniLLM's data) is shuffled (seed) and cut into test, valid and train, as
    MiniLLM held out 500 + 500 of Dolly's instructions."""
    names = data.splits_of(dataset)
    if "test" in names and "valid" in names:
        return {
            "train": data.load_dataset(dataset, "train", n=n_train),
            "valid": data.load_dataset(dataset, "valid", n=n_eval),
            "test": data.load_dataset(dataset, "test", n=n_eval),
        }
    rows = data.load_dataset(dataset, "train", shuffle=True, seed=seed)
    test = data.load_dataset(dataset, "test", n=n_eval) if "test" in names else rows[:n_eval]
    taken = {r.id for r in test}
    valid = (
        data.load_dataset(dataset, "valid", n=n_eval)
        if "valid" in names
        else [r for r in rows if r.id not in taken][:n_eval]
    )
    taken |= {r.id for r in valid}
    train = [r for r in rows if r.id not in taken][:n_train]
    if not train:
        raise LabkitError(
            f"dataset {dataset}: its {len(rows)} training rows leave none for training after holding "
            f"out {len(test)} test and {len(valid)} valid rows (n_eval={n_eval}); lower n_eval"
        )
    return {"train": train, "valid": list(valid), "test": list(test)}
