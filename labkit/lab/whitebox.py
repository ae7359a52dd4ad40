"""Notebooks 03 (MiniLLM) and 04 (GKD): white-box KD of a task teacher into a smaller student, over seeds.

    P = whitebox.MiniLLMProfile.resolve("default")                    # the notebook's settings, checked once
    K = whitebox.load_kit(P)                                          # teacher, student init, task splits
    arms = whitebox.minillm_arms(P)                                   # [Arm("sft", "sft"), Arm("kd", "wordkd"), ...]
    runs = lk.lab.arms.run(whitebox.Experiment(K, P), arms, P.seeds)  # one Run per (arm, seed)

Every arm continues from the kit's SFT-initialised student (the arm ``INIT`` scores it as it is: every arm's
step 0) with the same steps, batch and learning rate; only the objective differs, chosen through
``labkit.methods`` by the arm's registered method name. Scores (``score``): task accuracy and ROUGE-L of the
greedy answer against the gold solution; teacher log-likelihood per token, distinct-2 and length of samples.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import field
from pathlib import Path
from typing import ClassVar

import torch

from labkit import evaluate, losses
from labkit import sequences as S
from labkit import signals as signals_lib
from labkit.errors import LabkitError
from labkit.lab import arms as A
from labkit.lab import claims, known_kit, papers, task_teacher
from labkit.lab.params import check_parameters, known_teachers
from labkit.lab.profiles import WHITEBOX, TrainingProfile, choices
from labkit.loop import TrainConfig
from labkit.methods import base
from labkit.paths import labkit_home

INIT = A.INIT
MAX_LEN = 192  # token limit of every training sequence of the miniature (prompt + response)
SIGNAL_K = 64  # top-k kept per position by signal_stores (k >= the vocabulary is exact)
METRICS = ("accuracy", "rouge_l", "teacher_loglik", "distinct_2", "gen_words")
# what a known teacher measures exactly (known_kit.known_metrics), beside the task metrics
KNOWN_METRICS = (
    "void_mass",
    "modes_covered",
    "reverse_kl",
    "forward_kl",
    "own_prefix_jsd",
    "teacher_prefix_jsd",
    "exposure_gap",
    "teacher_loglik",
    "accuracy",
    "distinct_2",
)
TITLES = {
    "rouge_l": "ROUGE-L vs gold ↑",
    "teacher_loglik": "teacher log-lik / token ↑",
    "accuracy": "task accuracy ↑",
    "distinct_2": "distinct-2 of samples",
    "gen_words": "sample length (words)",
    "void_mass": "void mass ↓",
    "modes_covered": "modes covered per prompt",
    "reverse_kl": "reverse KL(q‖p) ↓",
    "forward_kl": "forward KL(p‖q) ↓",
    "own_prefix_jsd": "JSD/token on own samples ↓",
    "teacher_prefix_jsd": "JSD/token on teacher's samples ↓",
    "exposure_gap": "exposure gap (own − teacher's) ↓",
}
LOWER_BETTER = {"void_mass", "reverse_kl", "forward_kl", "own_prefix_jsd", "teacher_prefix_jsd", "exposure_gap"}
BASELINES = ("sft", "kd", "seqkd")
# what each baseline label trains with (the registry's name) and what it reads
BASELINE_METHOD = {"sft": "sft", "kd": "wordkd", "seqkd": "seqkd"}


# --------------------------------------------------------------------------- the profiles


def _model_ok(name) -> bool:
    return (
        isinstance(name, str)
        and bool(name)
        and (
            name.split("@", 1)[0] in known_teachers()
            or Path(name).expanduser().is_dir()
            or (":" not in name and name.count("/") == 1)
        )
    )


@dataclasses.dataclass(frozen=True)
class WhiteboxProfile(TrainingProfile):
    """What notebooks 03 and 04 share: the kit (a task-teacher recipe of labkit.lab.task_teacher, "known" for the
    known teacher of labkit.lab.known_kit, or "none" for the named teacher/student/dataset), the response length,
    the teacher's signals (seeds, budget, device: TrainingProfile). The known teacher's shape: ``modes`` templates
    per prompt with weights decay**k, per-token noise ``eta``, ``sum_steps`` additions per prompt (the response
    length)."""

    TABLE: ClassVar[dict] = WHITEBOX
    kit: str = field(default="", metadata=choices("", "none", *task_teacher.RECIPES, *known_kit.RECIPES))
    teacher: str = ""
    student: str = ""
    dataset: str = ""
    n_train: int = 0
    n_eval: int = 0
    max_new_tokens: int = 0
    teacher_signals: str = field(default="live", metadata=choices("live", "captured"))
    modes: int = 3
    decay: float = 0.6
    eta: float = 0.05
    sum_steps: int = 1

    @property
    def named(self) -> bool:
        """True when the notebook runs named models instead of a task-teacher kit (profile paper)."""
        return self.kit in ("", "none")

    @property
    def known(self) -> bool:
        """True when the teacher is a known teacher (exact void mass, modes, KL, exposure bias)."""
        return self.kit in known_kit.RECIPES

    def check(self):
        super().check()
        check_parameters(dataset=self.dataset, n_train=self.n_train)
        for name in ("teacher", "student"):
            value = getattr(self, name)
            if (value or self.named) and not _model_ok(value):
                self.fail(
                    name,
                    f"a known model ({', '.join(known_teachers())}), NAME@layers=K, a local model "
                    f"directory or a hub id 'org/name'",
                )
        if self.max_new_tokens < 1:
            self.fail("max_new_tokens", "an integer >= 1")
        if not 1 <= self.modes <= 6:
            self.fail("modes", "an integer in 1..6 (templates per prompt)")
        if not 0 < self.eta <= 1:
            self.fail("eta", "a per-token noise in (0, 1]")
        if not self.decay > 0:
            self.fail("decay", "a weight ratio > 0 between successive templates (1: equal weights)")
        if self.sum_steps < 1:
            self.fail("sum_steps", "an integer >= 1 (additions per prompt)")
        if self.known and self.teacher_signals != "live":
            self.fail("teacher_signals", "'live' with a known teacher (it has no weights to key a store by)")


@dataclasses.dataclass(frozen=True)
class MiniLLMProfile(WhiteboxProfile):
    """Notebook 03: the methods compared and MiniLLM's three stabilisers."""

    methods: list = field(default_factory=list, metadata=choices("sft", "kd", "seqkd", "minillm"))
    single_step: bool = True
    teacher_mix: float = 0.2
    length_norm: bool = True
    lm_weight: float = 0.0
    ablations: bool = True

    def check(self):
        super().check()
        if not 0 <= self.teacher_mix < 1:
            self.fail("teacher_mix", "α in [0, 1) (1 would never sample from the student)")
        if self.lm_weight < 0:
            self.fail("lm_weight", "a number >= 0")

    def minillm_settings(self) -> dict:
        return dict(
            single_step=self.single_step,
            teacher_mix=self.teacher_mix,
            length_norm=self.length_norm,
            lm_weight=self.lm_weight,
        )


GKD_METRICS = ("accuracy", "teacher_loglik", "rouge_l", "distinct_2", *KNOWN_METRICS[:-3])


@dataclasses.dataclass(frozen=True)
class GKDProfile(WhiteboxProfile):
    """Notebook 04: the λ × β grid, the metric its heatmap shows, the (λ, β) of the one-seed run."""

    lmbdas: list = field(default_factory=list)
    betas: list = field(default_factory=list)
    metric: str = field(default="accuracy", metadata=choices(*GKD_METRICS))
    lmbda: float = 1.0
    beta: float = 0.5

    @classmethod
    def resolve(cls, profile: str, **given):
        """As Profile.resolve; an empty ``metric`` is the divergence on the student's own samples on a known
        teacher (what the headline claim measures), task accuracy otherwise."""
        if not given.get("metric"):
            kit = given.get("kit") or cls.TABLE.get(profile, {}).get("kit", "")
            given["metric"] = "own_prefix_jsd" if kit in known_kit.RECIPES else "accuracy"
        return super().resolve(profile, **given)

    def check(self):
        super().check()
        if self.metric in set(KNOWN_METRICS) - set(METRICS) and not self.known:
            self.fail("metric", f"a metric this kit measures ({', '.join(METRICS)}): {self.metric} needs kit='known'")
        check_parameters(lmbdas=self.lmbdas, betas=self.betas, lmbda=self.lmbda, beta=self.beta)
        for name in ("lmbdas", "betas"):
            if not getattr(self, name):
                self.fail(name, "a non-empty list of numbers in [0, 1]")


def metrics_of(P: WhiteboxProfile) -> tuple[str, ...]:
    """The metrics the notebooks tabulate: the exact ones on a known teacher, else the task metrics."""
    return KNOWN_METRICS if P.known else METRICS


def load_kit(P: WhiteboxProfile) -> task_teacher.TaskKit:
    """The profile's kit: a known teacher built on the spot, a cached task teacher + student init, or the named
    models and dataset."""
    if P.known:
        return known_kit.known_kit(
            P.kit, modes=P.modes, decay=P.decay, eta=P.eta, sum_steps=P.sum_steps, max_new_tokens=P.max_new_tokens
        )
    if not P.named:
        return task_teacher.task_kit(P.kit)
    return task_teacher.named_kit(P.teacher, P.student, P.dataset, n_train=P.n_train, n_eval=P.n_eval, device=P.device)


def kit_for(Q: WhiteboxProfile, K, P: WhiteboxProfile):
    """The kit a panel's profile `Q` runs on: `K` (loaded for `P`) while the known teacher's shape is unchanged, else
    a known kit of Q's shape, built on the spot (seconds)."""
    shape = ("modes", "decay", "eta", "sum_steps", "max_new_tokens")
    if not Q.known or all(getattr(Q, f) == getattr(P, f) for f in shape):
        return K
    return load_kit(Q)


# --------------------------------------------------------------------------- the arms


def baseline_arm(label: str) -> A.Arm:
    """SFT (gold solutions), word-level KD (forward KL on the gold solutions), SeqKD (SFT on the teacher's outputs)."""
    reads = {"sft": {"targets": "gold"}, "kd": {"targets": "gold", "signals": "kd"}, "seqkd": {"targets": "teacher"}}[
        label
    ]
    return A.Arm(label, BASELINE_METHOD[label], reads=reads)


def init_arm() -> A.Arm:
    return A.Arm(INIT, None, cost=0.2)


def minillm_arms(P: MiniLLMProfile) -> list[A.Arm]:
    """The profile's baselines, MiniLLM as configured, and (P.ablations) MiniLLM with each stabiliser flipped in
    turn (its ``reads["ablation"]`` names the flip, e.g. "−single-step"); the initial student last."""
    out = [baseline_arm(m) for m in P.methods if m != "minillm"]
    if "minillm" in P.methods:
        s = P.minillm_settings()
        reads = {"targets": "gold"} if P.lm_weight > 0 else {}
        out.append(A.Arm("minillm", "minillm", s, reads, cost=3))
        if P.ablations:
            flips = [
                ("−single-step" if s["single_step"] else "+single-step", {"single_step": not s["single_step"]}),
                ("α=0" if s["teacher_mix"] > 0 else "α=0.2", {"teacher_mix": 0.0 if s["teacher_mix"] > 0 else 0.2}),
                ("−length-norm" if s["length_norm"] else "+length-norm", {"length_norm": not s["length_norm"]}),
            ]
            out += [
                A.Arm(f"minillm {flip}", "minillm", {**s, **change}, {**reads, "ablation": flip}, cost=3)
                for flip, change in flips
            ]
    return out + [init_arm()]


def gkd_arm(lmbda: float, beta: float) -> A.Arm:
    """GKD at (λ, β); its off-policy data (λ < 1) are the teacher's greedy outputs."""
    reads = {"targets": "teacher", "signals": "gkd"} if lmbda < 1 else {}
    return A.Arm(
        f"λ={lmbda} β={beta}",
        "gkd",
        {"lmbda": lmbda, "beta": beta},
        {**reads, "on_policy": lmbda > 0},
        cost=1 + 2 * lmbda,
    )


def gkd_arms(P: GKDProfile) -> list[A.Arm]:
    return [gkd_arm(lm, b) for lm in P.lmbdas for b in P.betas] + [init_arm()]


# --------------------------------------------------------------------------- scoring and the experiment


def score(model, kit, records, *, teacher=None, max_new_tokens: int = 64, seed: int = 0) -> dict:
    """MiniLLM's metrics of `model` on `records` (a split of ``kit``).

    greedy answer -> ROUGE-L against the gold solution and task accuracy (labkit.answers);
    sampled answer (temperature 1, seeded) -> teacher log-likelihood per token, distinct-2, mean length in words.
    Returns {metric: value, "samples": the first greedy answers}.
    """
    tok, teacher = kit.tokenizer, teacher if teacher is not None else kit.teacher
    prompts = [task_teacher.prompt_of(r) for r in records]
    refs = [task_teacher.target_of(r).strip() for r in records]
    greedy = evaluate.generate(model, tok, prompts, max_new_tokens=max_new_tokens, stop_at_newline=False, batch_size=64)
    sampled = evaluate.generate(
        model,
        tok,
        prompts,
        max_new_tokens=max_new_tokens,
        do_sample=True,
        stop_at_newline=False,
        seed=seed,
        batch_size=64,
    )
    return {
        "rouge_l": evaluate.rouge_l(greedy, refs),
        "accuracy": task_teacher.task_accuracy(model, tok, records, texts=greedy),
        "teacher_loglik": evaluate.teacher_loglik(teacher, tok, prompts, sampled, batch_size=64),
        "distinct_2": evaluate.distinct_n(sampled, 2),
        "gen_words": sum(len(t.split()) for t in sampled) / max(len(sampled), 1),
        "samples": greedy[:3],
    }


def score_known(model, kit, records, *, max_new_tokens: int = 32, seed: int = 0) -> dict:
    """Against a known teacher: the exact measurements of ``known_kit.known_metrics`` (void mass, modes covered,
    forward/reverse KL, exposure bias, exact teacher log-likelihood, distinct-2 and length of the samples) and the
    greedy answer's task accuracy and ROUGE-L against the heaviest template."""
    greedy = evaluate.generate(
        model,
        kit.tokenizer,
        [task_teacher.prompt_of(r) for r in records],
        max_new_tokens=max_new_tokens,
        stop_at_newline=False,
        batch_size=64,
    )
    return {
        **known_kit.known_metrics(model, kit, records, max_new_tokens=max_new_tokens, seed=seed),
        "accuracy": task_teacher.task_accuracy(model, kit.tokenizer, records, texts=greedy),
        "rouge_l": evaluate.rouge_l(greedy, [task_teacher.target_of(r).strip() for r in records]),
        "samples": greedy[:3],
    }


CURVES = (
    "loss",
    "loss/ce",
    "loss/kd",
    "loss/jsd",
    "loss/pg",
    "loss/single",
    "reward",
    "grad_var",
    "gen_len",
    "on_policy",
    "weight_mean",
)


class Experiment:
    """The arms of notebooks 03/04 on one kit: ``run(arm, seed)`` trains a fresh copy of the student init with
    the arm's method and scores it on `split`.

    signals: ``signal_stores(...)``: arms whose ``reads["signals"]`` names a captured store read it instead of
    running the teacher on their off-policy steps (and get no teacher at all when they have no on-policy step).
    The teacher's greedy outputs on the training prompts (SeqKD's data, GKD's off-policy data) are made once and
    kept on this object (``teacher_outputs``); make them before ``arms.run`` forks, so every worker shares them.
    """

    def __init__(self, kit, P: WhiteboxProfile, *, split: str = "test", signals: dict | None = None):
        self.kit, self.split, self.signals = kit, split, signals or {}
        self.steps, self.lr, self.batch_size = P.max_steps, P.lr, P.batch_size
        self.max_new_tokens = P.max_new_tokens
        self._teacher_outputs: list[dict] | None = None

    def config(self, seed: int) -> TrainConfig:
        return A.tiny_config(self.steps, self.batch_size, self.lr, seed, max_len=MAX_LEN)

    def teacher_outputs(self) -> list[dict]:
        """The teacher's greedy answers to the training prompts, as rollouts, made once."""
        if self._teacher_outputs is None:
            prompts = [S.prompt_ids(self.kit.tokenizer, task_teacher.prompt_of(r)) for r in self.kit.splits["train"]]
            cfg = TrainConfig(device="cpu", bf16=False, max_len=MAX_LEN, progress=False)
            self._teacher_outputs = base.teacher_outputs(
                self.kit.teacher, self.kit.tokenizer, prompts, cfg, max_new_tokens=self.max_new_tokens, batch_size=128
            )
        return self._teacher_outputs

    def prepare(self, arms) -> Experiment:
        """Make what the arms share before the workers fork (the teacher's outputs, if an arm reads them)."""
        if any(a.reads.get("targets") == "teacher" for a in arms):
            self.teacher_outputs()
        return self

    def inputs(self, arm: A.Arm, seed: int) -> dict:
        """What the arm's method is given: prompts, targets as the arm reads them, the teacher (or a store)."""
        kit, train = self.kit, self.kit.splits["train"]
        out = {
            "student": task_teacher.fresh_student(kit),
            "teacher": kit.teacher,
            "tokenizer": kit.tokenizer,
            "prompts": [task_teacher.prompt_of(r) for r in train],
            "config": self.config(seed),
            "max_new_tokens": self.max_new_tokens,
        }
        targets = arm.reads.get("targets")
        if targets == "gold" and known_kit.is_known(kit):
            out["rollouts"] = kit.data  # teacher samples (ids): the known task's "gold" data, drawn from p
        elif targets == "gold":
            out["targets"] = [task_teacher.target_of(r) for r in train]
        elif targets == "teacher":
            out["teacher_rollouts"] = self.teacher_outputs()
            out["targets"] = S.rollout_texts(kit.tokenizer, self.teacher_outputs())
        if arm.method == "minillm":
            out["grad_var_every"] = max(1, self.steps // 4)
        store = self.signals.get(arm.reads.get("signals"))
        if store is not None:
            out["teacher_signals"] = signals_lib.SignalStore(store["path"])
            if not arm.reads.get("on_policy"):
                out["teacher"] = None  # no step needs it: proof that none runs it
        return out

    def run(self, arm: A.Arm, seed: int) -> A.Run:
        t0 = time.perf_counter()
        records, curves = self.kit.splits[self.split], {}
        if arm.trains:
            inputs = self.inputs(arm, seed)
            history = A.train(arm, **inputs)
            model = inputs["student"]
            rows = history.rows
            curves = {k: [(r["step"], r[k]) for r in rows if r.get(k) is not None] for k in CURVES}
        else:
            model = self.kit.student_init
        if known_kit.is_known(self.kit):
            final = score_known(model, self.kit, records, max_new_tokens=self.max_new_tokens, seed=seed)
        else:
            final = score(model, self.kit, records, max_new_tokens=self.max_new_tokens, seed=seed)
        extra = {k: final.pop(k) for k in ("samples", "labelled") if k in final}
        return A.Run(
            arm.label,
            seed,
            {self.split: final},
            curves={k: v for k, v in curves.items() if v},
            seconds=time.perf_counter() - t0,
            extra=extra,
        )


# --------------------------------------------------------------------------- teacher signals captured once


def signals_root() -> Path:
    """Where notebooks 03/04 keep captured teacher signals: $LABKIT_HOME/teacher_signals/<content key>/."""
    return labkit_home() / "teacher_signals"


def off_policy_rollouts(experiment: Experiment, kind: str) -> list[dict]:
    """The fixed sequences that the off-policy steps of `kind` train on, tokenised exactly as the methods do:
    "kd" = the gold solutions (word-level KD), "gkd" = the teacher's greedy outputs (GKD's off-policy data)."""
    kit, train = experiment.kit, experiment.kit.splits["train"]
    if kind == "kd":
        targets = [task_teacher.target_of(r) for r in train]
    elif kind == "gkd":
        targets = S.rollout_texts(kit.tokenizer, experiment.teacher_outputs())
    else:
        raise LabkitError(f"off_policy_rollouts: kind={kind!r}, expected 'kd' or 'gkd'")
    return S.encode_rollouts(kit.tokenizer, [task_teacher.prompt_of(r) for r in train], targets, MAX_LEN)


def signal_stores(
    experiment: Experiment, arms, teacher_signals: str = "captured", *, k: int = SIGNAL_K, root: Path | None = None
) -> dict[str, dict]:
    """The teacher's signals on the off-policy sequences of `arms` (their ``reads["signals"]``), captured once.

    One content-keyed store per kind of data under `root` (``signals_root()``): top-k log-probabilities + tail
    mass at temperature 1. A store whose key (teacher weights, tokenizer, every sequence's ids, k) matches is
    reused without running the teacher. "live" returns {} (the teacher runs at every step). Returns {kind: {"kind",
    "captured" (False: reused), "seconds", "sequences", "tokens", "k", "bytes_per_token", "path"}}; the experiment
    reads them once set as its ``signals``.
    """
    if teacher_signals not in ("live", "captured"):
        raise LabkitError(
            f"parameter teacher_signals={teacher_signals!r}: expected one of live, captured (live: run "
            f"the teacher at every step; captured: read its signals on the off-policy sequences from a "
            f"store captured once)"
        )
    if teacher_signals == "live":
        return {}
    kit, out = experiment.kit, {}
    for kind in dict.fromkeys(a.reads["signals"] for a in arms if a.reads.get("signals")):
        rollouts = off_policy_rollouts(experiment, kind)
        t0 = time.perf_counter()
        store, captured = signals_lib.capture_keyed(
            kit.teacher,
            kit.tokenizer,
            rollouts,
            root or signals_root(),
            teacher_name=str(kit.recipe.get("teacher") or "task-teacher"),
            k=k,
            samples=0,
            chunk_size=256,
            batch_size=64,
        )
        out[kind] = {
            "kind": kind,
            "captured": captured,
            "seconds": round(time.perf_counter() - t0, 2),
            "sequences": len(rollouts),
            "tokens": sum(store.lengths),
            "k": k,
            "bytes_per_token": round(store.bytes_per_token(), 1),
            "path": str(store.path),
        }
    return out


# --------------------------------------------------------------------------- the methods on one batch


def sample_batch(
    kit, n: int = 2, *, teacher_mix: float = 0.0, max_new_tokens: int = 24, seed: int = 0, student=None
) -> dict:
    """n training prompts, the student's samples (from p~ = α p + (1-α) q when teacher_mix = α), and both models'
    logits at every response position: what MiniLLM's and GKD's objectives read in one step.

    Returns {"prompts", "texts", "tokens" (n, T), "mask" (n, T), "student_logits" (n, T, V) (differentiable),
    "teacher_logits" (n, T, V), "student"}.
    """
    student = student if student is not None else task_teacher.fresh_student(kit)
    tok = kit.tokenizer
    prompts = [task_teacher.prompt_of(r) for r in kit.splits["train"][:n]]
    ids = [S.prompt_ids(tok, p) for p in prompts]
    responses = S.sample_responses(
        student,
        ids,
        max_new_tokens=max_new_tokens,
        eos_id=tok.eos_token_id,
        pad=S.pad_id(tok),
        teacher=kit.teacher if teacher_mix > 0 else None,
        teacher_mix=teacher_mix,
        generator=torch.Generator().manual_seed(seed),
    )
    batch = S.collate_rollouts([S.make_rollout(p, r, MAX_LEN) for p, r in zip(ids, responses)], S.pad_id(tok))
    s_logits = S.response_logits(student, batch)  # (n, T, V), differentiable
    t_logits = S.teacher_logits(kit.teacher, batch)  # (n, T, V)
    tokens, mask = batch["response"], batch["response_mask"]
    return {
        "prompts": prompts,
        "texts": [tok.decode(r) for r in responses],
        "tokens": tokens,
        "mask": mask,
        "student_logits": s_logits,
        "teacher_logits": t_logits,
        "student": student,
    }


def token_table(tokenizer, tokens, mask, columns: dict, row: int = 0, digits: int = 2) -> list[dict]:
    """One sample's tokens with per-token values side by side: [{"t", "token", <column>: value}]."""
    out = []
    for t in range(tokens.shape[1]):
        if not bool(mask[row, t]):
            continue
        out.append(
            {
                "t": t,
                "token": tokenizer.decode([int(tokens[row, t])]),
                **{name: round(float(v.detach()[row, t]), digits) for name, v in columns.items()},
            }
        )
    return out


def greedy_ids(model, tokenizer, prompt: str, max_new_tokens: int) -> list[int]:
    """The model's greedy response to one prompt, as token ids."""
    return S.sample_responses(
        model,
        [S.prompt_ids(tokenizer, prompt)],
        max_new_tokens=max_new_tokens,
        eos_id=tokenizer.eos_token_id,
        pad=S.pad_id(tokenizer),
        greedy=True,
    )[0]


def per_token_divergence(student, teacher, tokenizer, prompt: str, response_ids: list[int], *, beta: float) -> list:
    """JSD_β(p ‖ q) at each position of one response (teacher-forced on `response_ids`): [(token, value)]."""
    ids = S.prompt_ids(tokenizer, prompt)
    batch = S.collate_rollouts([S.make_rollout(ids, response_ids, MAX_LEN)], S.pad_id(tokenizer))
    mask = batch["response_mask"]
    with torch.no_grad():
        s_logits, t_logits = S.response_logits(student, batch), S.teacher_logits(teacher, batch)
        d = losses.divergence(s_logits, t_logits, kind="jsd", beta=beta, mask=mask, reduction="none")
    return [(tokenizer.decode([int(i)]), float(v)) for i, v, m in zip(response_ids, d[0], mask[0]) if m]


# --------------------------------------------------------------------------- an enumerable case: MiniLLM's estimator


def enumerable_case(vocab: int = 3, length: int = 2, seed: int = 0):
    """A toy student q and teacher p over every token sequence of `length` from a `vocab`-token alphabet, each a
    table of logits indexed by the prefix (so the sequence-level reverse KL and its exact gradient can be summed
    over all vocab**length sequences). Returns (q_table, p_table, logits_of) where logits_of(table, seqs) maps
    (N, T) sequences to (N, T, V) logits."""
    import itertools

    g = torch.Generator().manual_seed(seed)
    n_prefix = sum(vocab**t for t in range(length))
    q_table = torch.randn(n_prefix, vocab, generator=g, dtype=torch.float64)
    p_table = 2 * torch.randn(n_prefix, vocab, generator=g, dtype=torch.float64)
    index = {(): 0}
    for t in range(1, length):
        for pre in itertools.product(range(vocab), repeat=t):
            index[pre] = len(index)

    def logits_of(table, seqs):
        rows = [[index[tuple(s[:t].tolist())] for t in range(seqs.shape[1])] for s in seqs]
        return table[torch.tensor(rows)]

    return q_table, p_table, logits_of


def exact_reverse_kl_grad(q_table, p_table, logits_of, vocab: int, length: int) -> torch.Tensor:
    """∇_q KL(q ‖ p) over whole sequences, summed over all of them (float64): the gradient MiniLLM estimates."""
    import itertools

    seqs = torch.tensor(list(itertools.product(range(vocab), repeat=length)))
    table = q_table.detach().clone().requires_grad_(True)
    lq = torch.log_softmax(logits_of(table, seqs), -1).gather(-1, seqs[..., None]).squeeze(-1).sum(1)
    lp = torch.log_softmax(logits_of(p_table, seqs), -1).gather(-1, seqs[..., None]).squeeze(-1).sum(1)
    (lq.exp() * (lq - lp)).sum().backward()
    return table.grad


def estimator_spread(q_table, p_table, logits_of, *, n_batches: int, batch: int, seed: int = 0, **switches):
    """The MiniLLM surrogate's gradient (``methods.minillm.surrogate``) on `n_batches` batches of `batch` samples
    from q: (n_batches, ...) gradients, one per batch, each an estimate of ``exact_reverse_kl_grad``."""
    from labkit.methods import minillm

    g = torch.Generator().manual_seed(seed)
    vocab, length = q_table.shape[1], None
    grads = []
    for _ in range(n_batches):
        seqs = torch.zeros(batch, 0, dtype=torch.long)
        length = length or _depth(q_table.shape[0], vocab)
        for t in range(length):
            probe = torch.cat([seqs, torch.zeros(batch, 1, dtype=torch.long)], 1)
            probs = torch.softmax(logits_of(q_table, probe)[:, t], -1)
            seqs = torch.cat([seqs, torch.multinomial(probs, 1, generator=g)], 1)
        table = q_table.detach().clone().requires_grad_(True)
        out = minillm.surrogate(
            logits_of(table, seqs).float(),
            logits_of(p_table, seqs).float(),
            seqs,
            torch.ones_like(seqs, dtype=torch.bool),
            **switches,
        )
        out["surrogate"].sum(1).mean().backward()
        grads.append(table.grad.clone())
    return torch.stack(grads)


def _depth(n_prefix: int, vocab: int) -> int:
    length, total = 0, 0
    while total < n_prefix:
        total += vocab**length
        length += 1
    return length


def estimator_rows(grads: dict[str, torch.Tensor], exact: torch.Tensor) -> list[dict]:
    """Per estimator: the bias of its mean against the exact gradient (relative norm), the spread of one batch's
    estimate (relative norm of its standard deviation), and the cosine of its mean with the exact gradient."""
    out, norm = [], float(exact.norm())
    for name, g in grads.items():
        mean = g.mean(0)
        out.append(
            {
                "estimator": name,
                "batches": g.shape[0],
                "bias (|mean − exact| / |exact|)": float((mean - exact).norm()) / norm,
                "spread of one batch (/ |exact|)": float(g.std(0).norm()) / norm,
                "cosine(mean, exact)": float(
                    torch.nn.functional.cosine_similarity(mean.flatten(), exact.flatten(), dim=0)
                ),
            }
        )
    return out


# --------------------------------------------------------------------------- claims and readings


def grid_matrix(rows: list[dict], lmbdas, betas, metric: str) -> list[list[float | None]]:
    """[[metric at (λ_i, β_j)]] from rows with "lmbda", "beta" and the metric."""
    at = {(r["lmbda"], r["beta"]): r.get(metric) for r in rows}
    return [[at.get((lm, b)) for b in betas] for lm in lmbdas]


def grid_winner(runs, P: GKDProfile, metric: str, split: str = "test") -> dict:
    """The grid cell with the best mean `metric` (lowest where LOWER_BETTER) and whether it is *separated*: its
    per-seed difference to every other cell, paired by seed, has a 95 % Student-t interval on the better side of 0.
    {"lmbda", "beta", "cell": (i, j), metric: its mean, "separated": bool, "closest": the label of the cell whose
    interval comes nearest}."""
    sign = -1.0 if metric in LOWER_BETTER else 1.0
    got = A.by_arm(runs, metric, split)
    cells = {(i, j): got.get(gkd_arm(lm, b).label, {}) for i, lm in enumerate(P.lmbdas) for j, b in enumerate(P.betas)}
    cells = {k: v for k, v in cells.items() if v}
    if not cells:
        raise LabkitError(f"grid_winner: no runs of the grid on {split} {metric}")
    mean = {k: sum(v.values()) / len(v) for k, v in cells.items()}
    top = max(mean, key=lambda k: sign * mean[k])
    lows = {}
    for k, v in cells.items():
        if k != top:
            seeds = sorted(set(v) & set(cells[top]))
            diffs = [sign * (cells[top][s] - v[s]) for s in seeds]
            lows[k] = claims.t_interval(diffs)[1] if len(diffs) > 1 else -math.inf
    closest = min(lows, key=lows.get) if lows else None
    i, j = top
    return {
        "lmbda": P.lmbdas[i],
        "beta": P.betas[j],
        "cell": top,
        metric: mean[top],
        "separated": bool(lows) and min(lows.values()) > 0,
        "closest": gkd_arm(P.lmbdas[closest[0]], P.betas[closest[1]]).label if closest else None,
    }


def minillm_known_claims(runs, arms, P: MiniLLMProfile) -> list[dict]:
    """Notebook 03 on a known teacher: MiniLLM's void mass below each baseline's (headline: word-level KD), each
    baseline covering more modes, MiniLLM's reverse KL below each baseline's and each ablation's."""
    labels = {a.label for a in arms}
    C, st = [], lambda id, **f: papers.statement("03", id, **f)
    if "minillm" not in labels:
        return C
    for b in [x for x in ("kd", "sft", "seqkd") if x in labels]:
        text = st("minillm<base:void_mass", base=b.upper())
        C.append(
            A.claim(
                runs,
                f"minillm<{b}:void_mass",
                text,
                "void_mass",
                "minillm",
                b,
                lower_is_better=True,
                headline=b == "kd",
            )
        )
        C.append(
            A.claim(
                runs,
                f"{b}>minillm:modes_covered",
                st("base>minillm:modes_covered", base=b.upper()),
                "modes_covered",
                b,
                "minillm",
            )
        )
        text = st("minillm<base:reverse_kl", base=b.upper())
        C.append(A.claim(runs, f"minillm<{b}:reverse_kl", text, "reverse_kl", "minillm", b, lower_is_better=True))
    for a in [a for a in arms if a.reads.get("ablation")]:
        text = st("minillm<ablation:reverse_kl", arm=a.label)
        C.append(
            A.claim(
                runs,
                f"minillm<{a.reads['ablation']}:reverse_kl",
                text,
                "reverse_kl",
                "minillm",
                a.label,
                lower_is_better=True,
            )
        )
    return C


def minillm_claims(runs, arms, P: MiniLLMProfile) -> list[dict]:
    """Notebook 03's claims: MiniLLM vs SFT/KD (ROUGE-L, teacher log-likelihood), no collapse (distinct-2 and
    length within ±20 % of SFT's), each stabiliser's ablation, and single-step's effect on gradient variance. On a
    known teacher the comparisons are on void mass, modes covered and reverse KL instead (``minillm_known_claims``)
    and only teacher log-likelihood stays of the first (ROUGE-L against one template means little there)."""
    labels = {a.label: a for a in arms}
    C, st = [], lambda id, **f: papers.statement("03", id, **f)
    if P.known:
        C += minillm_known_claims(runs, arms, P)
    if "minillm" in labels:
        for b in [x for x in ("sft", "kd") if x in labels]:
            for m in ("teacher_loglik",) if P.known else ("rouge_l", "teacher_loglik"):
                C.append(A.claim(runs, f"minillm>{b}:{m}", st(f"minillm>base:{m}", base=b.upper()), m, "minillm", b))
        if "sft" in labels:
            for m in ("distinct_2", "gen_words"):
                C.append(
                    claims.claim(
                        f"minillm~sft:{m}",
                        st("minillm~sft", metric=m),
                        f"{m} band ±20%",
                        "minillm",
                        "sft",
                        A.band_effects(runs, "minillm", "sft", m, 0.2),
                    )
                )
    ablations = [a for a in arms if a.reads.get("ablation")]
    for a in ablations if not P.known else ():
        C.append(
            A.claim(
                runs,
                f"minillm>{a.reads['ablation']}",
                st("minillm>ablation", arm=a.label),
                "rouge_l",
                "minillm",
                a.label,
            )
        )
    flip = next((a for a in ablations if a.reads["ablation"] == "−single-step"), None)
    if flip is not None:
        full, off = A.curve_mean(runs, "minillm", "grad_var"), A.curve_mean(runs, flip.label, "grad_var")
        if len(full) >= 2 and set(full) == set(off):
            C.append(
                claims.claim(
                    "single-step<var",
                    st("single-step<var"),
                    "log10 grad variance (lower better)",
                    "minillm",
                    flip.label,
                    better_values={s: -math.log10(max(v, 1e-30)) for s, v in full.items()},
                    worse_values={s: -math.log10(max(v, 1e-30)) for s, v in off.items()},
                )
            )
    return C


def gkd_claims(runs, P: GKDProfile) -> list[dict]:
    """Notebook 04's claims: on-policy (largest λ) vs supervised (λ = 0) at each β, on task accuracy and teacher
    log-likelihood, and no collapse (length and distinct-2 within ±20 %). On a known teacher, first: the per-token
    divergence on the student's own samples (headline at the profile's β) and the exposure gap; the teacher
    log-likelihood (task accuracy against one template means little there); no collapse of modes (on-policy keeps at
    least 80 % of the modes supervised KD covers: more is not a collapse)."""
    C, on = [], max(P.lmbdas)
    if 0.0 in P.lmbdas and on > 0:
        for b in P.betas:
            better, worse = gkd_arm(on, b).label, gkd_arm(0.0, b).label
            for m in ("own_prefix_jsd", "exposure_gap") if P.known else ():
                C.append(
                    A.claim(
                        runs,
                        f"onpolicy<supervised:{m}:beta={b}",
                        papers.statement("04", f"onpolicy<supervised:{m}", on=on, beta=b),
                        m,
                        better,
                        worse,
                        lower_is_better=True,
                        headline=m == "own_prefix_jsd" and b == P.beta,
                    )
                )
            for m in ("teacher_loglik",) if P.known else ("accuracy", "teacher_loglik"):
                C.append(
                    A.claim(
                        runs,
                        f"onpolicy>supervised:{m}:beta={b}",
                        papers.statement("04", "onpolicy>supervised", on=on, beta=b),
                        m,
                        better,
                        worse,
                    )
                )
            if P.known:
                C.append(
                    claims.claim(
                        f"onpolicy≥supervised:modes_covered:beta={b}",
                        papers.statement("04", "onpolicy≥supervised:modes_covered", beta=b),
                        "modes covered: on-policy / supervised − 0.8",
                        better,
                        worse,
                        A.floor_effects(runs, better, worse, "modes_covered", 0.8),
                    )
                )
            for m in ("gen_words", "distinct_2"):
                C.append(
                    claims.claim(
                        f"onpolicy~supervised:{m}:beta={b}",
                        papers.statement("04", "onpolicy~supervised", metric=m, beta=b),
                        f"{m} band ±20%",
                        better,
                        worse,
                        A.band_effects(runs, better, worse, m, 0.2),
                    )
                )
    return C


def reading_numbers(runs, kit, P: WhiteboxProfile) -> dict:
    """What the readings of notebooks 03/04 fill in: every arm's mean test metrics, the kit's measured teacher and
    init accuracies, the budget."""
    recipe = kit.recipe or {}
    return {
        **A.numbers(runs, (*KNOWN_METRICS, "gen_words") if known_kit.is_known(kit) else METRICS),
        **{k: v for k, v in kit.manifest.items() if k.startswith("teacher_") and isinstance(v, (int, float))},
        "steps": P.max_steps,
        "batch_size": P.batch_size,
        "teacher_accuracy": kit.manifest.get("teacher_valid_accuracy"),
        "init_steps": recipe.get("student_steps"),
        "teacher_steps": recipe.get("teacher_steps"),
        "student_layers": recipe.get("student_layers"),
        "teacher_layers": recipe.get("teacher_layers"),
    }


def readings(notebook: str, known: bool) -> dict[str, str]:
    """The notebook's readings (papers.READINGS): on a known teacher its "known:" readings replace those of the
    same claim (the task teacher's readings speak of gold solutions and task accuracy)."""
    R = papers.READINGS[notebook]
    base = {k: v for k, v in R.items() if not k.startswith("known:")}
    return {**base, **{k[len("known:") :]: v for k, v in R.items() if k.startswith("known:")}} if known else base


def notes(notebook: str, C, numbers: dict, known: bool = False) -> dict[str, str]:
    """{claim id: the measured effect and the notebook's reading} for the claims that do not hold."""
    R = readings(notebook, known)
    return claims.not_holding(C, R, R.get("*", ""), numbers)


# learning rows that are not judged: learning is judged on each paper's own metrics
NOT_COUNTED = {
    "test accuracy": "task accuracy: not what the white-box papers measure (they judge by ROUGE-L and the teacher's "
    "likelihood of the student's samples)",
    "minillm −length-norm": "an ablation whose point is a collapse (MiniLLM without length normalisation)",
}
NOT_COUNTED_KNOWN = {
    "test rouge_l": "ROUGE-L against one template of a teacher with several: it penalises every other mode",
}


def learning_metrics(runs, notebook: str, numbers: dict, profile: str = "default", known: bool = False) -> dict:
    """{"learning", "not_learning"} for metrics.json: each trained arm's test metric against the shared init (its
    step 0; no chance level, the answers are generated), rows that are not the paper's own metric (or an ablation
    whose point is a collapse) marked as not judged (``claims.not_counted``), with the notebook's reading of each arm
    that does not learn (written for the default miniature; other profiles get what the numbers say)."""
    rows = [r for m in ("teacher_loglik", "rouge_l", "accuracy") for r in A.learning(runs, m)]
    rows = claims.not_counted(rows, {**NOT_COUNTED, **(NOT_COUNTED_KNOWN if known else {})})
    why = {k[len("learn:") :]: v for k, v in readings(notebook, known).items() if k.startswith("learn:")}
    return claims.learning_metrics(rows, why if profile == "default" else {}, numbers=numbers)
