"""What the methods share: settings checks, the rollout objective of white-box KD, and the
multi-task objective of rationale distillation.

`RolloutObjective` trains a student on rollouts (prompt ids + response ids, see labkit.sequences):
a fixed target (SFT, word-level KD), a teacher output (SeqKD, GKD off-policy) or the student's own
sample (GKD on-policy, MiniLLM). A method subclasses it and writes `prepare` (which rollouts the
step trains on) and `loss`. Its compute ledger (labkit.compute) counts, per step, the student's forward
and backward over the current rollouts, the student's sampling (``sample``) and the teacher's forward
over the current rollouts whenever ``scores_with_teacher()`` (default: there is a teacher).
"""

from __future__ import annotations

import random
from dataclasses import fields

import torch

from labkit import compute, losses
from labkit import sequences as S
from labkit import signals as signals_lib
from labkit.errors import LabkitError
from labkit.loop import Objective, TrainConfig, prepare_model, resolve, run_loop
from labkit.prompts import student_prompt, student_target


def need(settings, name: str, ok: bool, expected: str) -> None:
    """Raise LabkitError naming `Settings.name`, its value and what was expected, unless ok."""
    if not ok:
        raise LabkitError(f"{type(settings).__name__}.{name}={getattr(settings, name)!r}: expected {expected}")


def is_unit(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and 0.0 <= x <= 1.0


def settings_of(cls, given: dict):
    """cls(**given), with an error that lists the known settings when one is unknown."""
    known = {f.name for f in fields(cls)}
    unknown = set(given) - known
    if unknown:
        raise LabkitError(f"unknown setting(s) {sorted(unknown)} for {cls.__name__}; expected some of {sorted(known)}")
    return cls(**given)


class RolloutObjective(Objective):
    """Rollout-based training of `student` (optionally against `teacher`, same vocabulary).

    Attributes a subclass uses: student, teacher, tokenizer, config, device, pad, eos,
    ``current`` ({example index: rollout} of this step), ``batch(indices)`` (collated current
    rollouts), ``sample(indices, rollouts, ...)`` (student samples, optionally teacher-mixed),
    ``coin`` (a seeded random.Random), ``student_spec`` / ``teacher_spec`` (labkit.compute.Spec: the ledger's
    sizes).
    """

    def __init__(self, student, teacher, tokenizer, config: TrainConfig, *, vocab_padding_ok: bool = False):
        super().__init__()
        self.student, self.teacher, self.tokenizer, self.config = student, teacher, tokenizer, config
        if teacher is not None:
            S.check_vocab(student, teacher, vocab_padding_ok)  # before the first step
        self.device, self.autocast = resolve(student, config)
        if teacher is not None:
            teacher.to(self.device).eval()
        self.pad, self.eos = S.pad_id(tokenizer), tokenizer.eos_token_id
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed + 7919)
        self.coin = random.Random(config.seed + 104729)
        self.current: dict[int, dict] = {}
        self.student_spec, self.teacher_spec = compute.spec_of(student), compute.spec_of(teacher)

    def trained_lengths(self, indices, lengths):
        return compute.rollout_lengths(self.current[i] for i in indices)

    def scores_with_teacher(self) -> bool:
        """Whether this step's loss ran the teacher over the current rollouts (the ledger's "teacher" part)."""
        return self.teacher is not None

    def flops(self, indices, lengths, student):
        out = super().flops(indices, lengths, student)
        if self.scores_with_teacher():
            scored = compute.forward_flops(self.teacher_spec, self.trained_lengths(indices, lengths))
            out["teacher"] = out.get("teacher", 0.0) + scored
        return out

    def batch(self, indices) -> dict:
        return S.collate_rollouts([self.current[i] for i in indices], self.pad, self.device)

    def sample(
        self, indices, rollouts, *, max_new_tokens: int, temperature: float = 1.0, teacher_mix: float = 0.0
    ) -> dict[int, dict]:
        """{i: rollout} with the student's sample (from p~ = α p + (1-α) q when teacher_mix = α > 0)."""
        responses = S.sample_responses(
            self.student,
            [rollouts[i]["prompt"] for i in indices],
            max_new_tokens=max_new_tokens,
            eos_id=self.eos,
            pad=self.pad,
            temperature=temperature,
            teacher=self.teacher,
            teacher_mix=teacher_mix,
            generator=self.generator,
            batch_size=max(len(indices), 1),
            autocast=self.autocast,
        )
        made = {i: S.make_rollout(rollouts[i]["prompt"], r, self.config.max_len) for i, r in zip(indices, responses)}
        self.log(**{"flops/sample": compute.sampled(self.student_spec, made.values())})
        if teacher_mix > 0:  # the teacher decodes beside the student, token by token
            self.log(**{"flops/teacher": compute.sampled(self.teacher_spec, made.values())})
        return made


def teacher_outputs(
    teacher,
    tokenizer,
    prompts: list[list[int]],
    config: TrainConfig,
    *,
    max_new_tokens: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    batch_size: int = 16,
) -> list[dict]:
    """The teacher's responses (greedy unless do_sample; seeded by config.seed) to prompt ids, as rollouts."""
    _, autocast = resolve(teacher, config)
    generator = torch.Generator(device=S.model_device(teacher)).manual_seed(config.seed + 7919)
    responses = S.sample_responses(
        teacher,
        prompts,
        max_new_tokens=max_new_tokens,
        eos_id=tokenizer.eos_token_id,
        pad=S.pad_id(tokenizer),
        greedy=not do_sample,
        temperature=temperature,
        generator=generator,
        batch_size=batch_size,
        autocast=autocast,
    )
    return [S.make_rollout(p, r, config.max_len) for p, r in zip(prompts, responses)]


def check_store(store, rollouts: list[dict]) -> None:
    """LabkitError unless `store` (labkit.signals.SignalStore) was captured on exactly these rollouts."""
    if store is None:
        return
    found = signals_lib.sequences_fingerprint(rollouts)
    if store.settings.sequences != found or store.settings.n_sequences != len(rollouts):
        raise LabkitError(
            f"teacher signals in {store.path} were captured on other sequences ({store.settings.n_sequences} "
            f"sequences, key {store.settings.sequences[:12]}) than this training data ({len(rollouts)}, "
            f"key {found[:12]}): capture them again on the same prompts, targets and max_len"
        )


def stored_divergence(
    student_logits: torch.Tensor,
    mask: torch.Tensor,
    store,
    indices,
    *,
    kind: str,
    beta: float,
    temperature: float,
    estimator: str,
) -> torch.Tensor:
    """The token-level KD term summed over counted tokens, from captured teacher signals instead of a live teacher.

    estimator "topk": labkit.signals.topk_divergence (any kind; biased low); "sampled": the unbiased sampled
    forward KL (kind must be forward_kl).
    """
    if float(temperature) != store.settings.temperature:
        raise LabkitError(
            f"teacher signals in {store.path} hold the teacher at temperature {store.settings.temperature}, "
            f"but the loss asks for temperature {temperature}: capture them again at that temperature"
        )
    sig = store.get(indices).to(student_logits.device)
    if estimator == "sampled":
        if kind != "forward_kl":
            raise LabkitError(f"estimator='sampled' estimates the forward KL only, not kind={kind!r}")
        return signals_lib.sampled_forward_kl(student_logits, sig, temperature=temperature, mask=mask, reduction="sum")
    return signals_lib.topk_divergence(
        student_logits, sig, kind=kind, beta=beta, temperature=temperature, mask=mask, reduction="sum"
    )


def rollout_lengths(rollouts) -> list[int]:
    return [len(r["prompt"]) + len(r["response"]) for r in rollouts]


def response_tokens(rollouts, indices) -> int:
    return sum(len(rollouts[i]["response"]) for i in indices)


def prompt_rollouts(tokenizer, prompts: list[str], max_len: int) -> list[dict]:
    """Rollouts with an empty response (what on-policy methods sample from)."""
    return [S.make_rollout(S.prompt_ids(tokenizer, p), [], max_len) for p in prompts]


# --------------------------------------------------------------------------- multi-task rationale training


class MultitaskObjective(Objective):
    """Rationale-supervised multi-task training (distilling step-by-step, TinyLLM).

    Each record gives one example per task, with a task prefix in the prompt (labkit.prompts):
    "[answer] Q... A:" -> " (b) water" (gold labels, or a teacher's with label_source=<teacher>)
    and "[rationale:<teacher>] Q... A:" -> the teacher's rationale. Per step, with N_t the target
    tokens of task t in the step (labkit.loop's normalisation):

        L = Σ_t w_t · (Σ CE over task-t target tokens) / N_t        (losses.multitask_loss)

    Records lacking a task's target skip that term; records with no target at all are dropped.
    """

    def __init__(
        self,
        model,
        tokenizer,
        config: TrainConfig,
        records,
        weights: dict[str, float],
        *,
        label_source: str = "gold",
        name: str = "multitask",
    ):
        super().__init__()
        for task, w in weights.items():
            if task != "answer" and not task.startswith("rationale:"):
                raise LabkitError(f"task {task!r}: expected 'answer' or 'rationale:<teacher>'")
            if not isinstance(w, (int, float)) or w < 0:
                raise LabkitError(f"weight of task {task!r} = {w!r}: expected a number >= 0")
        self.model, self.weights, self.name = model, dict(weights), name
        self.seq2seq = S.is_seq2seq(model)
        self.pad = S.pad_id(tokenizer)
        self.examples, skipped = [], dict.fromkeys(weights, 0)
        for r in records:
            ex = {}
            for task in weights:
                target = student_target(r, task, label_source if task == "answer" else "gold")
                if target is None:
                    skipped[task] += 1
                    continue
                ex[task] = S.encode_example(
                    tokenizer, student_prompt(r, task), target, config.max_len, seq2seq=self.seq2seq
                )
            if ex:
                self.examples.append(ex)
        if not self.examples:
            raise LabkitError(
                f"{name}: none of the {len(records)} records has a target for tasks {list(weights)} "
                f"(label_source={label_source!r})"
            )
        self.meta = {
            "weights": self.weights,
            "label_source": label_source,
            "n_records": len(self.examples),
            "skipped": skipped,
            "seq2seq": self.seq2seq,
        }

    def lengths(self):
        return [sum(len(e["input_ids"]) for e in ex.values()) for ex in self.examples]

    def prepare(self, indices):
        totals = dict.fromkeys(self.weights, 0)
        for i in indices:
            for task, e in self.examples[i].items():
                totals[task] += S.n_target_tokens(e, self.seq2seq)
        return totals

    def loss(self, indices, totals):
        device = S.model_device(self.model)
        per_task = {}
        for task, weight in self.weights.items():  # one forward per task: tight padding
            batch = [self.examples[i][task] for i in indices if task in self.examples[i]]
            if not batch or totals[task] == 0 or weight == 0:
                continue
            b = {k: v.to(device) for k, v in S.collate(batch, self.pad).items()}
            logits, labels = S.target_logits(self.model, b)  # (N, V), (N,)
            per_task[task] = losses.token_cross_entropy(logits.float(), labels, reduction="sum") / totals[task]
        if not per_task:  # no target in this micro-batch
            return torch.zeros((), device=device), {}
        total, parts = losses.multitask_loss(per_task, {t: self.weights[t] for t in per_task})
        parts.pop("total", None)  # the loop logs the total itself
        return total, parts


def train_multitask(
    model,
    tokenizer,
    records,
    weights: dict[str, float],
    *,
    label_source: str = "gold",
    config: TrainConfig | None = None,
    name: str = "multitask",
    on_step=None,
):
    """Run `MultitaskObjective` on `model` (a name is loaded; LoRA per config.lora_r); returns the History.
    on_step: see ``labkit.loop.run_loop``."""
    config = config or TrainConfig()
    model = prepare_model(model, config)
    return run_loop(
        model,
        config,
        MultitaskObjective(model, tokenizer, config, records, weights, label_source=label_source, name=name),
        on_step,
    )
