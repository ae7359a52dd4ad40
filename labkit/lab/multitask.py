"""Notebooks 01/02 glue: train a fresh student multi-task (answer + rationales) and score it.

It still calls the training core's labkit.train.train_multitask; the methods API will replace it.
"""
from __future__ import annotations

import time

from labkit import evaluate, models, train


def accuracy(model, tokenizer, records, *, device="auto", batch_size: int = 16, bf16="auto") -> float:
    """Student accuracy on the [answer] task: option scoring for multiple choice, SVAMP-style
    value match for math word problems (no choices). bf16="auto": autocast where supported."""
    if records and records[0].choices:
        return evaluate.mc_accuracy(model, tokenizer, records, batch_size=batch_size, device=device, bf16=bf16)
    return evaluate.svamp_accuracy(model, tokenizer, records, batch_size=batch_size, device=device, bf16=bf16)


def train_student(student: str, train_records, test_records, *, tasks: dict, label_source: str = "gold",
                  config=None, device: str = "auto") -> dict:
    """Load a fresh student, train it multi-task (labkit.train.train_multitask), score it on test.

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
    history = train.train_multitask(model, tokenizer, train_records, tasks=tasks, label_source=label_source,
                                    config=config)
    t1 = time.perf_counter()
    model.eval()
    acc = accuracy(model, tokenizer, test_records, device=device)
    return {"accuracy": acc, "final_loss": history.last("loss"), "train_seconds": round(t1 - t0, 2),
            "eval_seconds": round(time.perf_counter() - t1, 2), "n_train": len(train_records)}
