"""Evaluation: the same functions score students and teachers, so "student beats teacher" is measurable.

    acc = lk.evaluate.mc_accuracy(student, tok, test_records)          # option scoring
    acc = lk.evaluate.gen_accuracy(student, tok, svamp_test)           # generate, parse, check (SVAMP by value)
    acc = lk.evaluate.accuracy(student, tok, records)                  # whichever of the two fits the records
    lk.evaluate.rouge_l(preds, refs); lk.evaluate.distinct_n(texts, 2)
    lk.evaluate.teacher_loglik(teacher, tok, prompts, samples)        # mean log p_teacher per token

Option scoring: each choice is written as the student writes answers, " (b) water", after
`student_prompt(record, "answer")`; its score is the mean log-probability of its tokens
(length-normalised), and the prediction is the best-scoring choice.
"""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext

import torch

from labkit import models
from labkit import sequences as S
from labkit.answers import is_correct, parse_answer
from labkit.errors import LabkitError
from labkit.prompts import answer_text, student_prompt

# --------------------------------------------------------------------------- helpers


def _device(model, device):
    dev = models.resolve_device(device) if device != "model" else S.model_device(model)
    if S.model_device(model) != dev:
        model.to(dev)
    return dev


def _autocast(device, bf16, model=None):
    """A context factory: bf16 autocast ("auto": labkit.models.bf16_auto for this model; True; False = none)."""
    if not bf16:
        return nullcontext
    enabled = models.bf16_auto(device, model) if bf16 == "auto" else True
    return lambda: models.autocast(device, enabled=enabled)


# --------------------------------------------------------------------------- log-likelihoods


@torch.no_grad()
def continuation_logprobs(
    model,
    tokenizer,
    prompts: list[str],
    continuations: list[str],
    *,
    batch_size: int = 16,
    max_len: int = 512,
    device="auto",
    bf16=False,
) -> list[tuple[float, int]]:
    """Per pair: (sum of log p(continuation token | prompt, previous tokens), number of tokens).

    Batched in length-sorted order (little padding); the output follows the input order.
    Decoder-only models run their output head only on continuation positions.
    """
    if len(prompts) != len(continuations):
        raise LabkitError(f"{len(prompts)} prompts but {len(continuations)} continuations")
    dev, s2s, pad = _device(model, device), S.is_seq2seq(model), S.pad_id(tokenizer)
    was_training = model.training
    model.eval()
    enc = [
        S.encode_example(tokenizer, p, c, max_len, seq2seq=s2s, add_eos=False) for p, c in zip(prompts, continuations)
    ]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]["input_ids"]) + len(enc[i]["labels"]))
    out: list[tuple[float, int]] = [(0.0, 0)] * len(enc)
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        b = {k: v.to(dev) for k, v in S.collate([enc[i] for i in idx], pad).items()}
        keep = (b["labels"] if s2s else b["labels"][:, 1:]) != S.IGNORE  # (B, L) target positions
        with _autocast(dev, bf16, model)():
            logits, targets = S.target_logits(model, b)  # (N, V), (N,)
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets[:, None])[:, 0]  # (N,)
        row = keep.nonzero()[:, 0]  # (N,) sequence of each token
        sums = torch.zeros(len(idx), device=dev, dtype=torch.float64).index_add_(0, row, logp.double())
        counts = keep.sum(1)
        for j, i in enumerate(idx):
            out[i] = (float(sums[j]), int(counts[j]))
    model.train(was_training)
    return out


# option scoring reads each question once (shared_prompt_logprobs) for models of at least this many parameters:
# SmolLM2-135M 2.3x faster on CQA (benchmarks/option_scoring.py); for the 157k-parameter scratch students the two
# calls per question cost more than the prompt they save (1.13 s vs 0.70 s for 200 questions), so they score pairs.
SHARED_PROMPT_MIN_PARAMS = 3_000_000


@torch.no_grad()
def shared_prompt_logprobs(
    model, tokenizer, prompt: str, continuations: list[str], *, max_len: int = 512, device="auto", bf16=False
) -> list[tuple[float, int]]:
    """``continuation_logprobs([prompt] * k, continuations)`` for a decoder-only model, reading the prompt once.

    The prompt runs once with a KV cache; the cache is repeated for the k continuations, which run as one batch
    (right-padded, positions continuing the prompt's). Option scoring spends most of its time on the question,
    which every option repeats: this reads it once instead of k times. Falls back to ``continuation_logprobs``
    for seq2seq models and when a continuation is long enough to cut the prompt (max_len).
    """
    dev = _device(model, device)
    enc = [S.encode_example(tokenizer, prompt, c, max_len, add_eos=False) for c in continuations]
    n_prompt = [e["labels"].count(S.IGNORE) for e in enc]
    heads = {tuple(e["input_ids"][:n]) for e, n in zip(enc, n_prompt)}
    if S.is_seq2seq(model) or len(heads) != 1 or not n_prompt[0]:
        return continuation_logprobs(
            model, tokenizer, [prompt] * len(continuations), continuations, max_len=max_len, device=dev, bf16=bf16
        )
    was_training = model.training
    model.eval()
    ids = torch.tensor([next(iter(heads))], device=dev)  # (1, P)
    conts = [e["input_ids"][n:] for e, n in zip(enc, n_prompt)]
    k, P, L = len(conts), ids.shape[1], max(1, max(map(len, conts)))
    tail = torch.full((k, L), S.pad_id(tokenizer), dtype=torch.long, device=dev)  # (k, L) right-padded
    mask = torch.zeros((k, P + L), dtype=torch.long, device=dev)
    mask[:, :P] = 1
    for i, c in enumerate(conts):
        tail[i, : len(c)] = torch.tensor(c, dtype=torch.long)
        mask[i, P : P + len(c)] = 1
    cache_kw = S.cache_keyword(model)
    with _autocast(dev, bf16, model)():
        first = model(input_ids=ids, use_cache=True, **{cache_kw: None}, **S.last_logits_only(model))  # (1, 1, V)
        cache = first.cache if "cache" in first else first.past_key_values
        cache.batch_repeat_interleave(k)
        rest = model(
            input_ids=tail,
            attention_mask=mask,
            use_cache=True,
            **{cache_kw: cache},
            position_ids=torch.arange(P, P + L, device=dev).expand(k, L),
        )
    # token j of a continuation is predicted by the prompt's last position (j = 0) or by token j - 1
    logits = torch.cat([first.logits[:, -1:].expand(k, 1, -1), rest.logits[:, :-1]], 1)  # (k, L, V)
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, tail[..., None])[..., 0]  # (k, L)
    model.train(was_training)
    return [(float(logp[i, : len(c)].double().sum()), len(c)) for i, c in enumerate(conts)]


def teacher_loglik(
    teacher, tokenizer, prompts: list[str], samples: list[str], *, batch_size: int = 16, device="auto", bf16=False
) -> float:
    """Mean per-token log p_teacher(sample | prompt) over all sample tokens (token-weighted).

    Higher (closer to 0) = the teacher finds the student's samples likely (MiniLLM's measure of
    mode-seeking quality). Samples with no tokens are ignored.
    """
    pairs = continuation_logprobs(teacher, tokenizer, prompts, samples, batch_size=batch_size, device=device, bf16=bf16)
    total, n = sum(s for s, _ in pairs), sum(k for _, k in pairs)
    return total / n if n else float("nan")


# --------------------------------------------------------------------------- multiple choice


def option_scores(
    model, tokenizer, records, *, batch_size: int = 16, device="auto", task: str = "answer", bf16=False
) -> list[list[float]]:
    """Length-normalised log-likelihood of each choice " (x) choice" after student_prompt(record, task).

    Returns: one list per record, one score (mean log-prob per token) per choice.
    """
    for r in records:
        if not r.choices:
            raise LabkitError(f"option_scores: record {r.id!r} has no choices (use gen_accuracy/svamp_accuracy)")
    if not S.is_seq2seq(model) and models.n_params(model) >= SHARED_PROMPT_MIN_PARAMS:
        # decoder-only: the question is read once for all its options
        return [
            [
                s / max(n, 1)
                for s, n in shared_prompt_logprobs(
                    model,
                    tokenizer,
                    student_prompt(r, task),
                    [" " + answer_text(r, c) for c in r.choices],
                    device=device,
                    bf16=bf16,
                )
            ]
            for r in records
        ]
    prompts, conts, owner = [], [], []
    for i, r in enumerate(records):
        for c in r.choices:
            prompts.append(student_prompt(r, task))
            conts.append(" " + answer_text(r, c))
            owner.append(i)
    pairs = continuation_logprobs(model, tokenizer, prompts, conts, batch_size=batch_size, device=device, bf16=bf16)
    scores: list[list[float]] = [[] for _ in records]
    for i, (s, n) in zip(owner, pairs):
        scores[i].append(s / max(n, 1))
    return scores


def mc_accuracy(
    model, tokenizer, records, *, batch_size: int = 16, device="auto", task: str = "answer", bf16=False
) -> float:
    """Multiple-choice accuracy by option scoring (argmax of `option_scores`)."""
    if not records:
        raise LabkitError("mc_accuracy: no records")
    scores = option_scores(model, tokenizer, records, batch_size=batch_size, device=device, task=task, bf16=bf16)
    hits = [max(range(len(s)), key=s.__getitem__) == r.answer_index for s, r in zip(scores, records)]
    return sum(hits) / len(hits)


# --------------------------------------------------------------------------- generation


def generate(
    model,
    tokenizer,
    prompts: list[str],
    *,
    max_new_tokens: int = 64,
    do_sample: bool = False,
    temperature: float = 1.0,
    batch_size: int = 16,
    stop_at_newline: bool = True,
    device="auto",
    seed: int = 0,
    bf16=False,
) -> list[str]:
    """Batched decoding (labkit.sequences.generate): greedy unless do_sample, each text cut at eos
    and, with stop_at_newline, at its first newline."""
    dev = _device(model, device)
    return S.generate(
        model,
        tokenizer,
        prompts,
        max_new_tokens=max_new_tokens,
        greedy=not do_sample,
        temperature=temperature,
        seed=seed,
        batch_size=batch_size,
        autocast=_autocast(dev, bf16, model),
        stop_at_newline=stop_at_newline,
    )


def gen_accuracy(
    model,
    tokenizer,
    records,
    *,
    task: str = "answer",
    max_new_tokens: int = 32,
    batch_size: int = 16,
    device="auto",
    bf16=False,
    return_predictions: bool = False,
):
    """Accuracy by generating (greedy) after student_prompt(record, task), parsing the answer
    (labkit.answers.parse_answer) and checking it (labkit.answers.is_correct: SVAMP by value)."""
    if not records:
        raise LabkitError("gen_accuracy: no records")
    texts = generate(
        model,
        tokenizer,
        [student_prompt(r, task) for r in records],
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        device=device,
        bf16=bf16,
    )
    hits = [is_correct(parse_answer(t, r), r) for t, r in zip(texts, records)]
    acc = sum(hits) / len(hits)
    return (acc, texts) if return_predictions else acc


def accuracy(model, tokenizer, records, **kw) -> float:
    """Option scoring (``mc_accuracy``) for multiple-choice records, generation (``gen_accuracy``) otherwise."""
    return (mc_accuracy if records and records[0].choices else gen_accuracy)(model, tokenizer, records, **kw)


def teacher_label_accuracy(records, teacher: str) -> tuple[float, int]:
    """Accuracy of a teacher's labels (record.teacher_labels[teacher]) by the students' rule
    (labkit.answers.is_correct); returns (accuracy over labelled records, n labelled)."""
    hits = [is_correct(r.teacher_labels[teacher], r) for r in records if r.teacher_labels.get(teacher) is not None]
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
        grams.update(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0
