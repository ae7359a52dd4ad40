"""Notebooks 01/02 glue: train a fresh student multi-task (answer + rationales) and score it.

The multi-task loop itself is labkit.methods.base.train_multitask (what methods.dss and methods.tinyllm
run); answers are scored by labkit.evaluate.accuracy (labkit.answers' one rule).
"""
from __future__ import annotations

import time

from labkit import evaluate, models
from labkit.methods.base import train_multitask


def accuracy(model, tokenizer, records, *, device="auto", batch_size: int = 16, bf16="auto") -> float:
    """Student accuracy on the [answer] task (labkit.evaluate.accuracy): option scoring for multiple choice,
    a generated and parsed answer otherwise. bf16="auto": autocast where supported."""
    return evaluate.accuracy(model, tokenizer, records, batch_size=batch_size, device=device, bf16=bf16)


def train_student(student: str, train_records, test_records, *, tasks: dict, label_source: str = "gold",
                  config=None, device: str = "auto") -> dict:
    """Load a fresh student, train it multi-task (methods.base.train_multitask), score it on test.

    Args:
        student: model name for labkit.models.load_model (e.g. "tiny@layers=2").
        tasks: {"answer": 1.0, "rationale:<teacher>": α, ...}.
        label_source: "gold" or a teacher name (standard distillation uses the teacher's labels).
    Returns:
        {"accuracy", "final_loss", "train_seconds", "eval_seconds", "n_train"}.
    """
    t0 = time.perf_counter()
    model = models.load_model(student, device=device)
    tokenizer = models.load_tokenizer(student)
    history = train_multitask(model, tokenizer, train_records, tasks, label_source=label_source, config=config)
    t1 = time.perf_counter()
    model.eval()
    acc = accuracy(model, tokenizer, test_records, device=device)
    return {"accuracy": acc, "final_loss": history.last("loss"), "train_seconds": round(t1 - t0, 2),
            "eval_seconds": round(time.perf_counter() - t1, 2), "n_train": len(train_records)}
