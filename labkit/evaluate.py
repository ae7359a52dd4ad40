"""Evaluation: the same functions score students and teachers, so "student beats teacher" is measurable.

    acc = lk.evaluate.mc_accuracy(student, tok, test_records)          # option scoring
    acc = lk.evaluate.gen_accuracy(student, tok, test_records)         # generate, parse the answer
    acc = lk.evaluate.svamp_accuracy(student, tok, svamp_test)         # numeric value of the expression
    lk.evaluate.rouge_l(preds, refs); lk.evaluate.distinct_n(texts, 2)
    lk.evaluate.teacher_loglik(teacher, tok, prompts, samples)        # mean log p_teacher per token

Option scoring: each choice is written as the student writes answers, " (b) water", after
`student_prompt(record, "answer")`; its score is the mean log-probability of its tokens
(length-normalised), and the prediction is the best-scoring choice.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from contextlib import nullcontext

import torch

from labkit.errors import LabkitError
from labkit.prompts import LETTERS, answer_text, student_prompt
from labkit.train import IGNORE, _backbone_and_head, _prompt_ids, collate, encode_example, is_seq2seq


# --------------------------------------------------------------------------- helpers

def _device(model, device):
    from labkit import models
    dev = models.resolve_device(device) if device != "model" else next(model.parameters()).device
    if next(model.parameters()).device != dev:
        model.to(dev)
    return dev


def _autocast(device, bf16):
    if not bf16:
        return nullcontext()
    from labkit import models
    return models.autocast(device, enabled=None if bf16 == "auto" else True)


def _pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def safe_eval(expr: str) -> float:
    """Value of an arithmetic expression (+ - * / ** parentheses, numbers) without `eval`
    (labkit.data.safe_eval); raises on anything else."""
    from labkit.data import safe_eval as _safe_eval
    return _safe_eval(expr)


# --------------------------------------------------------------------------- log-likelihoods

@torch.no_grad()
def continuation_logprobs(model, tokenizer, prompts: list[str], continuations: list[str], *,
                          batch_size: int = 16, max_len: int = 512, device="auto", bf16=False
                          ) -> list[tuple[float, int]]:
    """Per pair: (sum of log p(continuation token | prompt, previous tokens), number of tokens).

    Batched in length-sorted order (little padding); the output follows the input order.
    Decoder-only models run their output head only on continuation positions.
    """
    if len(prompts) != len(continuations):
        raise LabkitError(f"{len(prompts)} prompts but {len(continuations)} continuations")
    dev, s2s, pad = _device(model, device), is_seq2seq(model), _pad_id(tokenizer)
    was_training = model.training
    model.eval()
    enc = [encode_example(tokenizer, p, c, max_len, seq2seq=s2s, add_eos=False) for p, c in zip(prompts, continuations)]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]["input_ids"]) + len(enc[i]["labels"]))
    out: list[tuple[float, int]] = [(0.0, 0)] * len(enc)
    backbone, head = (None, None) if s2s else _backbone_and_head(model)
    for s in range(0, len(order), batch_size):
        idx = order[s: s + batch_size]
        b = {k: v.to(dev) for k, v in collate([enc[i] for i in idx], pad).items()}
        labels = b["labels"] if s2s else b["labels"][:, 1:]                       # (B, L)
        keep = labels != IGNORE
        with _autocast(dev, bf16):
            if s2s:
                logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                               labels=b["labels"]).logits[keep]                      # (N, V)
            elif backbone is not None and head is not None:
                hidden = backbone(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state
                logits = head(hidden[:, :-1][keep])                                  # (N, V)
            else:
                logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1][keep]
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, labels[keep][:, None])[:, 0]   # (N,)
        row = keep.nonzero()[:, 0]                                                   # (N,) sequence of each token
        sums = torch.zeros(len(idx), device=dev, dtype=torch.float64).index_add_(0, row, logp.double())
        counts = keep.sum(1)
        for j, i in enumerate(idx):
            out[i] = (float(sums[j]), int(counts[j]))
    model.train(was_training)
    return out


def teacher_loglik(teacher, tokenizer, prompts: list[str], samples: list[str], *, batch_size: int = 16,
                   device="auto", bf16=False) -> float:
    """Mean per-token log p_teacher(sample | prompt) over all sample tokens (token-weighted).

    Higher (closer to 0) = the teacher finds the student's samples likely (MiniLLM's measure of
    mode-seeking quality). Samples with no tokens are ignored.
    """
    pairs = continuation_logprobs(teacher, tokenizer, prompts, samples, batch_size=batch_size,
                                  device=device, bf16=bf16)
    total, n = sum(s for s, _ in pairs), sum(k for _, k in pairs)
    return total / n if n else float("nan")


# --------------------------------------------------------------------------- multiple choice

def option_scores(model, tokenizer, records, *, batch_size: int = 16, device="auto", task: str = "answer",
                  bf16=False) -> list[list[float]]:
    """Length-normalised log-likelihood of each choice " (x) choice" after student_prompt(record, task).

    Returns: one list per record, one score (mean log-prob per token) per choice.
    """
    prompts, conts, owner = [], [], []
    for i, r in enumerate(records):
        if not r.choices:
            raise LabkitError(f"option_scores: record {r.id!r} has no choices (use gen_accuracy/svamp_accuracy)")
        for c in r.choices:
            prompts.append(student_prompt(r, task))
            conts.append(" " + answer_text(r, c))
            owner.append(i)
    pairs = continuation_logprobs(model, tokenizer, prompts, conts, batch_size=batch_size, device=device, bf16=bf16)
    scores: list[list[float]] = [[] for _ in records]
    for i, (s, n) in zip(owner, pairs):
        scores[i].append(s / max(n, 1))
    return scores


def mc_accuracy(model, tokenizer, records, *, batch_size: int = 16, device="auto", task: str = "answer",
                bf16=False) -> float:
    """Multiple-choice accuracy by option scoring (argmax of `option_scores`)."""
    if not records:
        raise LabkitError("mc_accuracy: no records")
    scores = option_scores(model, tokenizer, records, batch_size=batch_size, device=device, task=task, bf16=bf16)
    hits = [max(range(len(s)), key=s.__getitem__) == r.answer_index for s, r in zip(scores, records)]
    return sum(hits) / len(hits)


# --------------------------------------------------------------------------- generation

@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], *, max_new_tokens: int = 64, do_sample: bool = False,
             temperature: float = 1.0, top_p: float = 1.0, batch_size: int = 16, stop_at_newline: bool = True,
             device="auto", seed: int | None = None, bf16=False) -> list[str]:
    """Batched generation with left padding; returns the continuations only (no prompt).

    Greedy by default; do_sample=True samples with `temperature` (seeded by `seed`). Each text is
    cut at EOS and, with stop_at_newline, at its first newline (a batch stops early once every
    sequence has ended).
    """
    from transformers import StoppingCriteria, StoppingCriteriaList
    dev, s2s, pad = _device(model, device), is_seq2seq(model), _pad_id(tokenizer)
    was_training = model.training
    model.eval()
    if seed is not None:
        torch.manual_seed(seed)
    newline_ids = {i for t, i in tokenizer.get_vocab().items()
                   if "\n" in tokenizer.convert_tokens_to_string([t])} if stop_at_newline else set()

    class _AllStopped(StoppingCriteria):          # every row has produced a newline (or eos)
        def __init__(self, start):
            self.start = start

        def __call__(self, input_ids, scores, **kw):
            new = input_ids[:, self.start:]
            stop = torch.zeros(new.shape[0], dtype=torch.bool, device=new.device)
            for t in newline_ids | {tokenizer.eos_token_id}:
                stop |= (new == t).any(1)
            return stop

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = [""] * len(prompts)
    for s in range(0, len(order), batch_size):
        idx = order[s: s + batch_size]
        ids = [_prompt_ids(tokenizer, prompts[i]) for i in idx]
        if s2s:
            ids = [x + [tokenizer.eos_token_id] for x in ids]
        T = max(len(x) for x in ids)
        input_ids = torch.tensor([[pad] * (T - len(x)) + x for x in ids], device=dev)        # (B, T) left-padded
        mask = torch.tensor([[0] * (T - len(x)) + [1] * len(x) for x in ids], device=dev)
        start = 1 if s2s else T
        kw = dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=0) if do_sample else dict(do_sample=False)
        with _autocast(dev, bf16):
            gen = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 pad_token_id=pad, eos_token_id=tokenizer.eos_token_id,
                                 stopping_criteria=StoppingCriteriaList([_AllStopped(start)]), **kw)
        for j, i in enumerate(idx):
            text = tokenizer.decode(gen[j, start:], skip_special_tokens=False)   # s2s: skip the decoder start
            for special in {tokenizer.eos_token, tokenizer.pad_token} - {None}:
                text = text.split(special)[0] if special in text else text
            out[i] = text.split("\n")[0] if stop_at_newline else text
    model.train(was_training)
    return out


# --------------------------------------------------------------------------- parsing generated answers

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def parse_answer(text: str, record) -> str | None:
    """The answer a generated text states, as an answer text (a choice's text for MC), or None.

    Multiple choice: a letter "(b)" (or "b)"), else the longest choice text found in it.
    Otherwise: the last "answer is X" if present, else the first number, else the stripped text.
    """
    text = text.strip()
    tail = re.split(r"answer is:?", text, flags=re.I)[-1].strip() if re.search(r"answer is", text, re.I) else text
    if record.choices:
        n = len(record.choices)
        m = re.search(r"\(([a-z])\)", tail, re.I) or re.match(r"^([a-z])[).:]?(?:\s|$)", tail, re.I)
        if m and LETTERS.index(m.group(1).lower()) < n:
            return record.choices[LETTERS.index(m.group(1).lower())]
        found = [c for c in record.choices if c.strip() and c.lower() in tail.lower()]
        return max(found, key=len) if found else None
    m = _NUMBER.search(tail)
    return m.group(0).replace(",", "") if m else (tail or None)


def answers_match(pred: str | None, record) -> bool:
    """Whether a parsed answer equals the gold answer (numbers compared by value)."""
    if pred is None:
        return False
    if record.choices:
        return pred == record.answer
    try:
        return abs(float(pred) - float(record.answer)) < 1e-4
    except ValueError:
        return pred.strip().lower() == record.answer.strip().lower()


def gen_accuracy(model, tokenizer, records, *, task: str = "answer", max_new_tokens: int = 32,
                 batch_size: int = 16, device="auto", bf16=False, return_predictions: bool = False):
    """Accuracy by generating (greedy) after student_prompt(record, task) and parsing the answer."""
    if not records:
        raise LabkitError("gen_accuracy: no records")
    texts = generate(model, tokenizer, [student_prompt(r, task) for r in records], max_new_tokens=max_new_tokens,
                     batch_size=batch_size, device=device, bf16=bf16)
    hits = [answers_match(parse_answer(t, r), r) for t, r in zip(texts, records)]
    acc = sum(hits) / len(hits)
    return (acc, texts) if return_predictions else acc


# --------------------------------------------------------------------------- SVAMP

def _expression_value(text: str | None) -> float | None:
    """Value of the expression a text states ("( 10.0 * 45.0 )", "The answer is (3 + 4).") or None."""
    if not text:
        return None
    text = text.strip()
    if re.search(r"answer is", text, re.I):
        text = re.split(r"answer is:?", text, flags=re.I)[-1]
    text = text.strip().rstrip(".").strip()
    for candidate in (text, text[text.find("("):] if "(" in text else None):
        if not candidate:
            continue
        try:
            value = safe_eval(candidate)
        except Exception:
            continue
        if value is not None and math.isfinite(value):
            return float(value)
    m = _NUMBER.search(text)
    return float(m.group(0).replace(",", "")) if m else None


def svamp_match(pred_text: str | None, gold_expression: str, tol: float = 1e-4) -> bool:
    """True when the predicted expression's value is within `tol` of the gold expression's value."""
    pred, gold = _expression_value(pred_text), _expression_value(gold_expression)
    return pred is not None and gold is not None and abs(pred - gold) < tol


def svamp_accuracy(model, tokenizer, records, *, max_new_tokens: int = 32, batch_size: int = 16,
                   device="auto", bf16=False, return_predictions: bool = False):
    """SVAMP accuracy: generate the answer expression, compare its value with the gold expression's."""
    if not records:
        raise LabkitError("svamp_accuracy: no records")
    texts = generate(model, tokenizer, [student_prompt(r, "answer") for r in records], max_new_tokens=max_new_tokens,
                     batch_size=batch_size, device=device, bf16=bf16)
    hits = [svamp_match(t, r.answer) for t, r in zip(texts, records)]
    acc = sum(hits) / len(hits)
    return (acc, texts) if return_predictions else acc


def teacher_label_accuracy(records, teacher: str) -> tuple[float, int]:
    """Accuracy of a recorded teacher's labels (record.teacher_labels[teacher]) against gold, by the
    same rules as the students (SVAMP by value); returns (accuracy over labelled records, n labelled)."""
    hits = []
    for r in records:
        label = r.teacher_labels.get(teacher)
        if label is None:
            continue
        hits.append(label == r.answer if r.choices else svamp_match(label, r.answer) or answers_match(label, r))
    return (sum(hits) / len(hits) if hits else float("nan")), len(hits)


# --------------------------------------------------------------------------- text metrics

def rouge_l(preds: list[str], refs: list[str]) -> float:
    """Mean ROUGE-L F1 (rouge-score, with stemming) of predictions against references, in [0, 1]."""
    if len(preds) != len(refs):
        raise LabkitError(f"rouge_l: {len(preds)} predictions but {len(refs)} references")
    if not preds:
        return float("nan")
    from rouge_score import rouge_scorer
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return sum(scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(preds, refs)) / len(preds)


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Distinct-n: distinct word n-grams / all word n-grams over the texts (0 when there are none)."""
    if n < 1:
        raise LabkitError(f"distinct_n: n={n!r}, expected n >= 1")
    grams = Counter()
    for t in texts:
        words = t.split()
        grams.update(tuple(words[i: i + n]) for i in range(len(words) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0
