"""Notebook 07: on-policy distillation against reinforcement learning and off-policy SFT, on the compute ledger.

    P = onpolicy.OnPolicyProfile.resolve("default")          # the notebook's settings, checked once
    K = onpolicy.load_kit(P)                                 # a known teacher per teacher accuracy, the student init
    arms = onpolicy.arms_of(P)                               # sft, opd, rl, rl+opd (+ the weaker teachers' arms)
    runs = lk.lab.arms.run(onpolicy.Experiment(K, P), arms, P.seeds)

The task has a verifiable answer: "Q: 3 + 4 = ?\\nA:" -> a solution in one of several styles whose last number is
the sum (``labkit.methods.rl.correct``). The teacher is a known teacher (labkit.known): noisy templates per prompt,
every style correct; a *weaker* teacher puts weight 1 - a on one more template that slips at the end (its final
number is off by one), so that its samples are right about a share a of the time (the regime knob,
``teacher_accuracies``). Every arm continues from one SFT-initialised student for the same steps on the same
prompts:

- ``sft``: SFT on the teacher's samples (off-policy distillation; its data are paid for up front: the ledger adds
  the teacher's sampling of every training sequence);
- ``opd``: on-policy distillation, GKD at λ = 1, β = 1: per-token reverse KL to the teacher on the student's own
  samples (labkit.methods.gkd);
- ``rl``: GRPO on the correctness reward, G samples per prompt (labkit.methods.rl);
- ``rl+opd``: both losses on the same samples (``rl`` with distill = 1).

Why the student starts well trained (``init_steps``): the per-token reverse KL's gradient raises every token whose
student probability is below the teacher's times e^KL, so from a student far from the teacher (a large KL per
token) it first lifts the known teacher's uniform noise floor (η/V on every token) and the samples fill with junk
tokens; the paper's students are SFT-initialised close to their teachers too.

Accuracy is the share of correct samples at temperature 1 (k per prompt, the "avg@k" of the papers' AIME numbers)
on held-out prompts, measured every ``eval_every`` steps against the ledger's cumulative FLOPs
(labkit.compute). A known teacher has no weights: it is costed as a model ``teacher_scale`` times the student's
size (``compute.scaled``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import statistics
import time
from dataclasses import field
from typing import ClassVar

import torch

from labkit import compute
from labkit import known as KN
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.lab import arms as A
from labkit.lab import claims, known_kit, papers, task_teacher
from labkit.lab.profiles import ONPOLICY, TrainingProfile, choices
from labkit.loop import TrainConfig
from labkit.methods import base, minillm, rl

INIT = A.INIT
MAX_LEN = 192
ARMS = ("sft", "opd", "rl", "rl+opd")
TITLES = {
    "sft": "SFT on teacher samples (off-policy)",
    "opd": "on-policy distillation (reverse KL per token)",
    "rl": "RL (GRPO, correctness reward)",
    "rl+opd": "RL + on-policy distillation",
}


# --------------------------------------------------------------------------- the profile


@dataclasses.dataclass(frozen=True)
class OnPolicyProfile(TrainingProfile):
    """Notebook 07's settings. kit "known": the known-teacher miniature (``modes`` templates per prompt with weights
    decay**k, noise ``eta``, ``max_operand``, prompts ``n_train``/``n_eval``, a student SFT-initialised for
    ``init_steps``); "none": the named ``teacher``, ``student`` and ``dataset`` (profile paper).
    teacher_accuracies: the regime knob, the share of the teacher's mass on correct solutions (1 first: the
    headline regime; a named teacher only as it is, [1.0]); sweep_seeds: the seeds of the weaker teachers' arms.
    teacher_scale: the ledger's size of a known teacher, in student sizes. group_size, kl_coef: RL's G and its KL
    penalty. eval_every, eval_samples: the accuracy curve's spacing (steps) and samples per prompt. arm,
    teacher_accuracy, seed: the one-seed live run."""

    TABLE: ClassVar[dict] = ONPOLICY
    kit: str = field(default="known", metadata=choices("known", "none"))
    teacher: str = ""
    student: str = ""
    dataset: str = ""
    n_train: int = 0
    n_eval: int = 0
    modes: int = 3
    decay: float = 0.6
    eta: float = 0.05
    max_operand: int = 9
    init_steps: int = 0
    max_new_tokens: int = 0
    teacher_accuracies: list = field(default_factory=list)
    sweep_seeds: list = field(default_factory=list)
    teacher_scale: float = 4.0
    group_size: int = 4
    kl_coef: float = 0.0
    eval_every: int = 0
    eval_samples: int = 0
    arm: str = field(default="opd", metadata=choices(*ARMS))
    teacher_accuracy: float = 1.0

    @property
    def known(self) -> bool:
        return self.kit == "known"

    def check(self):
        super().check()
        for name in ("n_train", "n_eval", "max_new_tokens", "eval_every", "eval_samples"):
            if getattr(self, name) < 1:
                self.fail(name, "an integer >= 1")
        if self.known and not 1 <= self.modes <= 6:
            self.fail("modes", "an integer in 1..6 (templates per prompt)")
        if self.known and not 0 < self.eta <= 1:
            self.fail("eta", "a per-token noise in (0, 1]")
        if self.known and (self.max_operand + 1) ** 2 < self.n_train + 2 * self.n_eval:
            self.fail("max_operand", f"room for {self.n_train + 2 * self.n_eval} distinct prompts a + b")
        accs = self.teacher_accuracies
        if not accs or accs[0] != 1.0 or any(not (isinstance(a, (int, float)) and 0 < a <= 1) for a in accs):
            self.fail("teacher_accuracies", "a list of shares in (0, 1], starting with 1.0 (the headline regime)")
        if not self.known and list(accs) != [1.0]:
            self.fail("teacher_accuracies", "[1.0] with a named teacher (it is used as it is)")
        if self.teacher_accuracy not in accs:
            self.fail("teacher_accuracy", f"one of teacher_accuracies {accs}")
        if len(accs) > 1 and (not self.sweep_seeds or len(set(self.sweep_seeds)) != len(self.sweep_seeds)):
            self.fail("sweep_seeds", "a non-empty list of distinct integers (the weaker teachers' seeds)")
        if not self.teacher_scale > 0:
            self.fail("teacher_scale", "a number > 0 (the known teacher's size in student sizes)")
        if self.group_size < 2:
            self.fail("group_size", "an integer >= 2 (advantages are relative to the group)")
        if self.kl_coef < 0:
            self.fail("kl_coef", "a number >= 0")
        if not self.known and not (self.teacher and self.student and self.dataset):
            self.fail("teacher", "named teacher, student and dataset with kit='none'")


# --------------------------------------------------------------------------- the kit: teachers of every accuracy


def slipped(response: str) -> str:
    """The same solution with its last number off by one: a slip at the end that makes the final answer wrong."""
    found = list(re.finditer(r"\d+", response))
    if not found:
        raise LabkitError(f"slipped: {response!r} states no number")
    m = found[-1]
    return response[: m.start()] + str(int(m.group()) + 1) + response[m.end() :]


def weaker_task(task: dict, accuracy: float) -> dict:
    """The task with one more template per prompt: the heaviest solution slipped at the end, weight 1 - accuracy
    (the correct templates keep their ratios and share `accuracy`). accuracy = 1 returns the task unchanged."""
    if not 0 < accuracy <= 1:
        raise LabkitError(f"weaker_task: accuracy={accuracy!r}; expected a share in (0, 1]")
    if accuracy == 1:
        return task
    out = {}
    for prompt, templates in task.items():
        heaviest = max(templates, key=lambda wr: wr[0])[1]
        out[prompt] = [(w * accuracy, r) for w, r in templates] + [(1 - accuracy, slipped(heaviest))]
    return out


def recipe_of(P: OnPolicyProfile) -> dict:
    return {
        **known_kit.RECIPES["known"],
        "n_train": P.n_train,
        "n_valid": P.n_eval,
        "n_test": P.n_eval,
        "max_operand": P.max_operand,
        "init_steps": P.init_steps,
    }


def load_kit(P: OnPolicyProfile):
    """The kit of notebooks 03/04 (``known_kit.known_kit``, its task text extended by the slipped solutions, so
    one tokenizer covers every teacher) with ``teachers`` {accuracy: teacher}, ``datas`` {accuracy: teacher
    samples on the training prompts (SFT's data)} and ``data_flops`` {accuracy: the teacher's FLOPs to sample
    them}; a known teacher is costed at ``teacher_scale`` student sizes. With kit "none": the named models."""
    if not P.known:
        kit = task_teacher.named_kit(
            P.teacher, P.student, P.dataset, n_train=P.n_train, n_eval=P.n_eval, device=P.device
        )
        prompts = [S.prompt_ids(kit.tokenizer, task_teacher.prompt_of(r)) for r in kit.splits["train"]]
        cfg = TrainConfig(device=P.device, max_len=MAX_LEN, progress=False)
        data = base.teacher_outputs(
            kit.teacher, kit.tokenizer, prompts, cfg, max_new_tokens=P.max_new_tokens, do_sample=True
        )
        kit.teachers, kit.datas = {1.0: kit.teacher}, {1.0: data}
    else:
        kit = known_kit.known_kit(
            recipe_of(P), modes=P.modes, decay=P.decay, eta=P.eta, sum_steps=1, max_new_tokens=P.max_new_tokens
        )
        nominal = compute.scaled(compute.spec_of(kit.student_init), P.teacher_scale)
        kit.teachers, kit.datas = {}, {}
        for a in P.teacher_accuracies:
            teacher = (
                kit.teacher
                if a == 1
                else KN.KnownTeacher.from_templates(kit.tokenizer, weaker_task(kit.task, a), eta=P.eta)
            )
            kit.teachers[a] = compute.set_spec(teacher, nominal)
            kit.datas[a] = (
                kit.data
                if a == 1
                else known_kit.teacher_samples(
                    teacher,
                    kit.tokenizer,
                    kit.splits["train"],
                    kit.recipe["samples_per_prompt"],
                    max_new_tokens=P.max_new_tokens,
                    seed=kit.recipe["seed"] + 101,
                )
            )
    kit.data_flops = {a: compute.sampled(compute.spec_of(kit.teachers[a]), d) for a, d in kit.datas.items()}
    kit.teacher_accuracy = {
        a: sampled_accuracy(t, kit, kit.splits["train"], n=P.eval_samples, max_new_tokens=P.max_new_tokens)
        for a, t in kit.teachers.items()
    }
    return kit


# --------------------------------------------------------------------------- measuring


def samples_of(model, kit, records, *, n: int, max_new_tokens: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """(texts, record index of each): n samples per record's prompt at temperature 1 (labkit.known.sample)."""
    tok = kit.tokenizer
    ids = [S.prompt_ids(tok, task_teacher.prompt_of(r)) for r in records]
    _, ys = KN.sample(
        model, ids, n, max_new_tokens=max_new_tokens, eos_id=tok.eos_token_id, pad=S.pad_id(tok), seed=seed
    )
    return [tok.decode(y, skip_special_tokens=True) for y in ys], [i for i in range(len(records)) for _ in range(n)]


def sampled_accuracy(model, kit, records, *, n: int, max_new_tokens: int, seed: int = 0) -> float:
    """Share of correct samples (``rl.correct``), n per prompt at temperature 1: avg@n."""
    texts, which = samples_of(model, kit, records, n=n, max_new_tokens=max_new_tokens, seed=seed)
    return sum(rl.correct(t, records[i].answer) for t, i in zip(texts, which)) / max(len(texts), 1)


# --------------------------------------------------------------------------- the arms


def label(name: str, accuracy: float) -> str:
    """ "opd" for the headline teacher, "opd · teacher 0.4" for a weaker one."""
    return name if accuracy == 1 else f"{name} · teacher {accuracy:g}"


def arm(name: str, P: OnPolicyProfile, accuracy: float = 1.0, seeds=None) -> A.Arm:
    rl_settings = {"group_size": P.group_size, "kl_coef": P.kl_coef}
    method, settings, cost = {
        "sft": ("sft", {}, 0.3),
        "opd": ("gkd", {"lmbda": 1.0, "beta": 1.0}, 1.0),
        "rl": ("rl", rl_settings, P.group_size),
        "rl+opd": ("rl", {**rl_settings, "distill": 1.0}, P.group_size + 1),
    }[name]
    reads = {"teacher_accuracy": accuracy, "kind": name, **({"data": "teacher"} if name == "sft" else {})}
    return A.Arm(label(name, accuracy), method, settings, reads, seeds=seeds, cost=cost)


def arms_of(P: OnPolicyProfile) -> list[A.Arm]:
    """The four arms with the headline teacher over P.seeds; for each weaker teacher the arms that read a teacher
    (sft, opd, rl+opd) over P.sweep_seeds (rl reads none: its headline runs serve every regime); the init last."""
    out = [arm(name, P) for name in ARMS]
    for a in P.teacher_accuracies[1:]:
        out += [arm(name, P, a, tuple(P.sweep_seeds)) for name in ARMS if name != "rl"]
    return out + [A.Arm(INIT, None, cost=0.1)]


# --------------------------------------------------------------------------- the experiment


class Experiment:
    """``run(arm, seed)``: a fresh copy of the student init trained by the arm's method for P.max_steps, its test
    accuracy measured every P.eval_every steps against the ledger's cumulative FLOPs (curve "accuracy" over steps,
    "flops" over steps; SFT's include its data's cost), then its final metrics on `split`."""

    def __init__(self, kit, P: OnPolicyProfile, *, split: str = "test"):
        self.kit, self.P, self.split = kit, P, split

    def config(self, seed: int) -> TrainConfig:
        return A.tiny_config(self.P.max_steps, self.P.batch_size, self.P.lr, seed, max_len=MAX_LEN)

    def accuracy(self, model, records=None) -> float:
        P = self.P
        records = records if records is not None else self.kit.splits[self.split]
        return sampled_accuracy(model, self.kit, records, n=P.eval_samples, max_new_tokens=P.max_new_tokens, seed=1)

    def inputs(self, arm: A.Arm, seed: int) -> dict:
        kit, a = self.kit, arm.reads.get("teacher_accuracy", 1.0)
        train = kit.splits["train"]
        return {
            "student": copy.deepcopy(kit.student_init).train(),
            "teacher": kit.teachers[a],
            "tokenizer": kit.tokenizer,
            "prompts": [task_teacher.prompt_of(r) for r in train],
            "answers": [r.answer for r in train],
            "rollouts": kit.datas[a],
            "config": self.config(seed),
            "max_new_tokens": self.P.max_new_tokens,
        }

    def run(self, arm: A.Arm, seed: int) -> A.Run:
        t0, P = time.perf_counter(), self.P
        if not arm.trains:
            acc = self.accuracy(self.kit.student_init)
            return A.Run(
                arm.label, seed, {self.split: {"accuracy": acc, "flops": 0.0}}, seconds=time.perf_counter() - t0
            )
        inputs = self.inputs(arm, seed)
        model = inputs["student"]
        upfront = self.kit.data_flops[arm.reads["teacher_accuracy"]] if arm.reads.get("data") == "teacher" else 0.0
        points = [(0, upfront, self.accuracy(model))]

        def on_step(step, history):
            if step % P.eval_every == 0 or step == P.max_steps:
                points.append((step, upfront + history.last("flops"), self.accuracy(model)))

        history = A.train(arm, **inputs, on_step=on_step)
        model.eval()
        final = {
            "accuracy": points[-1][2],
            "flops": points[-1][1],
            **{f"flops_{k}": v for k, v in history.flops_by_part().items()},
            "data_flops": upfront,
        }
        curves = {
            "accuracy": [(s, acc) for s, _, acc in points],
            "flops": [(s, f) for s, f, _ in points],
            **{k: [(r["step"], r[k]) for r in history.rows if k in r] for k in ("loss", "reward", "signal", "gen_len")},
        }
        return A.Run(
            arm.label,
            seed,
            {self.split: final},
            curves={k: v for k, v in curves.items() if v},
            seconds=time.perf_counter() - t0,
        )


# --------------------------------------------------------------------------- compute at equal accuracy


def compute_to_reach(run: A.Run, target: float) -> tuple[float, bool]:
    """(FLOPs at the first measured point after step 0 whose accuracy reaches `target`, True), or (the run's total
    FLOPs, False) when none does: a lower bound on what reaching it would cost."""
    for (step, acc), (_, flops) in zip(run.curves["accuracy"], run.curves["flops"]):
        if step > 0 and acc >= target:
            return flops, True
    return run.curves["flops"][-1][1], False


def accuracy_at(run: A.Run, flops: float) -> float:
    """The accuracy of the last measured point whose cumulative FLOPs are within `flops` (step 0's at least)."""
    best = run.curves["accuracy"][0][1]
    for (_, acc), (_, f) in zip(run.curves["accuracy"], run.curves["flops"]):
        if f <= flops * (1 + 1e-9):
            best = acc
    return best


def _runs(runs, label_: str) -> dict[int, A.Run]:
    return {r.seed: r for r in runs if r.arm == label_}


def compute_ratio(runs, cheap: str = "opd", reference: str = "rl") -> dict:
    """Per seed: log10(C_ref / C_cheap), C_ref = the reference arm's total FLOPs, C_cheap = what `cheap` spent to
    first reach the reference's final accuracy (``compute_to_reach``; unreached: its total, so the ratio is an upper
    bound). Returns {"values" {seed: log10 ratio}, "reached" {seed: bool}, "ratio", "ci95" (10^ of the t-interval)}."""
    ref, ch = _runs(runs, reference), _runs(runs, cheap)
    values, reached = {}, {}
    for s in sorted(set(ref) & set(ch)):
        c, ok = compute_to_reach(ch[s], ref[s].curves["accuracy"][-1][1])
        values[s], reached[s] = math.log10(ref[s].curves["flops"][-1][1] / c), ok
    out = {"values": values, "reached": reached}
    if len(values) >= 2:
        mean, lo, hi = claims.t_interval(list(values.values()))
        out.update(ratio=10**mean, ci95=[10**lo, 10**hi])
    return out


def at_equal_compute(runs, better: str, worse: str) -> dict[str, dict[int, float]]:
    """{arm: {seed: accuracy at C}} with C = the smaller of the two arms' total FLOPs in that seed."""
    b, w = _runs(runs, better), _runs(runs, worse)
    out = {better: {}, worse: {}}
    for s in sorted(set(b) & set(w)):
        c = min(b[s].curves["flops"][-1][1], w[s].curves["flops"][-1][1])
        out[better][s], out[worse][s] = accuracy_at(b[s], c), accuracy_at(w[s], c)
    return out


# --------------------------------------------------------------------------- claims and readings


def claims_of(runs, P: OnPolicyProfile) -> list[dict]:
    """The notebook's claims (statements in labkit.lab.papers.STATEMENTS["07"]): the headline compute ratio, OPD
    against SFT at equal compute, RL + OPD against RL at equal steps, and for the weakest teacher RL against OPD."""
    ratio = compute_ratio(runs)
    out = [
        {
            **claims.claim(
                "opd<rl:compute",
                papers.statement("07", "opd<rl:compute"),
                "log10 FLOPs ratio (rl / opd)",
                "opd",
                "rl",
                list(ratio["values"].values()),
            ),
            "headline": True,
            "ratio": ratio.get("ratio"),
            "ratio_ci95": ratio.get("ci95"),
            "reached": sum(ratio["reached"].values()),
        }
    ]
    eq = at_equal_compute(runs, "opd", "sft")
    out.append(
        claims.claim(
            "opd>sft@compute",
            papers.statement("07", "opd>sft@compute"),
            "test accuracy at equal FLOPs",
            "opd",
            "sft",
            better_values=eq["opd"],
            worse_values=eq["sft"],
        )
    )
    out.append(A.claim(runs, "rl+opd>rl", papers.statement("07", "rl+opd>rl"), "accuracy", "rl+opd", "rl"))
    weakest = min(P.teacher_accuracies)
    if weakest < 1:
        seeds = sorted(set(A.values(runs, label("opd", weakest), "accuracy")) & set(A.values(runs, "rl", "accuracy")))
        out.append(
            A.claim(
                runs,
                "rl>opd@weak",
                papers.statement("07", "rl>opd@weak", accuracy=f"{weakest:g}"),
                "accuracy",
                "rl",
                label("opd", weakest),
                seeds=seeds,
            )
        )
    return out


def reading_numbers(runs, kit, P: OnPolicyProfile) -> dict:
    """What the readings' templates fill in: every arm's mean accuracy and FLOPs, the teachers' accuracies, the
    ratio's pieces."""
    out = {
        **A.numbers(runs, ["accuracy", "flops", "flops_teacher", "flops_sample", "flops_train"]),
        "steps": P.max_steps,
        "group_size": P.group_size,
        "teacher_scale": P.teacher_scale,
    }
    for a, v in kit.teacher_accuracy.items():
        out[f"teacher_{A.slug(f'{a:g}')}_accuracy"] = v
    out["teacher_weak_accuracy"] = kit.teacher_accuracy[min(P.teacher_accuracies)]
    ratio = compute_ratio(runs)
    out.update(ratio=ratio.get("ratio", float("nan")), reached=sum(ratio["reached"].values()), n_seeds=len(P.seeds))
    return out


def notes(C, numbers) -> dict[str, str]:
    return claims.not_holding(C, papers.READINGS["07"], papers.READINGS["07"]["*"], numbers)


# --------------------------------------------------------------------------- figures


def _mean_curve(rs: list[A.Run]):
    """(mean FLOPs, mean accuracy, sd accuracy) per measured point, over the runs (same points in every run)."""
    n = min(len(r.curves["accuracy"]) for r in rs)
    xs = [statistics.mean(r.curves["flops"][i][1] for r in rs) for i in range(n)]
    accs = [[r.curves["accuracy"][i][1] for r in rs] for i in range(n)]
    return xs, [statistics.mean(a) for a in accs], [statistics.stdev(a) if len(a) > 1 else 0.0 for a in accs]


def compute_figure(runs, arms_: list[str], title: str = ""):
    """Accuracy against the ledger's cumulative FLOPs (left) and against steps (right): one thin line per seed,
    the mean over seeds with a ±1 sd band; the dashed line is RL's final mean accuracy."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, name in enumerate(arms_):
        rs = [r for r in runs if r.arm == name]
        if not rs:
            continue
        colour = f"C{i}"
        for r in rs:
            axes[0].plot(
                [f for _, f in r.curves["flops"]], [a for _, a in r.curves["accuracy"]], color=colour, lw=0.5, alpha=0.4
            )
        xs, mean, sd = _mean_curve(rs)
        axes[0].plot(xs, mean, color=colour, lw=2, label=TITLES.get(name, name))
        axes[0].fill_between(
            xs, [m - s for m, s in zip(mean, sd)], [m + s for m, s in zip(mean, sd)], color=colour, alpha=0.15
        )
        steps = [s for s, _ in rs[0].curves["accuracy"]][: len(mean)]
        axes[1].plot(steps, mean, color=colour, lw=2, label=name)
        axes[1].fill_between(
            steps, [m - s for m, s in zip(mean, sd)], [m + s for m, s in zip(mean, sd)], color=colour, alpha=0.15
        )
    rl_final = [r.curves["accuracy"][-1][1] for r in runs if r.arm == "rl"]
    for ax in axes:
        if rl_final:
            ax.axhline(statistics.mean(rl_final), color="0.4", ls="--", lw=0.8)
        ax.set_ylabel("test accuracy (samples at T = 1)")
    axes[0].ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    axes[0].set_xlabel("cumulative FLOPs (labkit.compute ledger)")
    axes[1].set_xlabel("optimiser step")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def regime_figure(runs, kit, P: OnPolicyProfile, title: str = ""):
    """Final test accuracy of each arm against the teacher's own accuracy (the regime knob; mean ± sd over seeds);
    RL reads no teacher: one band across."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [kit.teacher_accuracy[a] for a in P.teacher_accuracies]
    for i, name in enumerate(("sft", "opd", "rl+opd")):
        ys = [[r.value("accuracy") for r in runs if r.arm == label(name, a)] for a in P.teacher_accuracies]
        ax.errorbar(
            xs,
            [statistics.mean(y) for y in ys],
            [statistics.stdev(y) if len(y) > 1 else 0 for y in ys],
            marker="o",
            capsize=3,
            color=f"C{ARMS.index(name)}",
            label=TITLES[name],
        )
    rl_acc = [r.value("accuracy") for r in runs if r.arm == "rl"]
    m, s = statistics.mean(rl_acc), statistics.stdev(rl_acc) if len(rl_acc) > 1 else 0.0
    ax.axhspan(m - s, m + s, color="C2", alpha=0.15)
    ax.axhline(m, color="C2", label=TITLES["rl"])
    ax.set_xlabel("teacher's accuracy (its samples on the training prompts)")
    ax.set_ylabel("student's test accuracy")
    ax.legend(fontsize=7)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def episode_signals(student, teacher, kit, record, *, n: int, max_new_tokens: int, seed: int = 0) -> list[dict]:
    """n samples of the student on one prompt, each with the two signals it can carry: RL's one reward and its
    group-relative advantage (``rl.correctness_rewards``, ``rl.group_advantages``), and on-policy distillation's
    per-token teacher log-ratio log p(y_t|·) - log q(y_t|·) (``minillm.rewards``), with the tokens; "teacher_grade"
    is its mean over the sample's tokens (minus a one-sample estimate of the per-token reverse KL)."""
    tok = kit.tokenizer
    texts, _ = samples_of(student, kit, [record], n=n, max_new_tokens=max_new_tokens, seed=seed)
    rewards = rl.correctness_rewards(texts, [record.answer] * n)
    adv = rl.group_advantages(rewards[None])[0]
    rollouts = [
        S.make_rollout(S.prompt_ids(tok, task_teacher.prompt_of(record)), S.target_ids(tok, t), MAX_LEN) for t in texts
    ]
    b = S.collate_rollouts(rollouts, S.pad_id(tok))
    with torch.no_grad():
        ratio = minillm.rewards(
            S.response_logits(student, b), S.teacher_logits(teacher, b), b["response"], b["response_mask"]
        )
    out = []
    for i, r in enumerate(rollouts):
        k = len(r["response"])
        out.append(
            {
                "text": texts[i],
                "reward": float(rewards[i]),
                "advantage": float(adv[i]),
                "tokens": [tok.decode([t]) for t in r["response"]],
                "log_ratio": ratio[i, :k].tolist(),
                "teacher_grade": float(ratio[i, :k].mean()) if k else 0.0,
            }
        )
    return out


def signal_figure(episodes: list[dict], title: str = ""):
    """Per sample (one row each): on-policy distillation's per-token teacher log-ratio (bars, one per token; red =
    the teacher disagrees) above RL's single advantage for the whole episode (one bar across every token)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(episodes), 1, figsize=(12, 1.7 * len(episodes)), squeeze=False)
    for ax, e in zip(axes[:, 0], episodes):
        n = len(e["tokens"])
        colours = ["C3" if v < -1 else "C0" for v in e["log_ratio"]]
        ax.bar(range(n), e["log_ratio"], color=colours, width=0.8, label="log p − log q per token (OPD)")
        ax.bar(
            range(n), [e["advantage"]] * n, width=1.0, color="C2", alpha=0.25, label="one advantage per episode (RL)"
        )
        ax.set_xticks(range(n), [t.strip() or "␣" for t in e["tokens"]], fontsize=7)
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_ylabel(f"R={e['reward']:g}\nA={e['advantage']:+.2f}", fontsize=8, rotation=0, ha="right", va="center")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="upper right", ncol=2)
    fig.suptitle(title, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def first_mixed_group(student, teacher, kit, records, *, n: int, max_new_tokens: int, seed: int = 0):
    """(record, episode_signals) of the first record whose n samples hold both a right and a wrong answer (where
    RL's advantages are not all 0), or of the first record if no group is mixed."""
    first = None
    for record in records:
        got = episode_signals(student, teacher, kit, record, n=n, max_new_tokens=max_new_tokens, seed=seed)
        first = first or (record, got)
        if len({e["reward"] for e in got}) > 1:
            return record, got
    if first is None:
        raise LabkitError("first_mixed_group: no records given")
    return first


def disagreement_figure(episodes: list[dict], title: str = ""):
    """Each sample's RL reward (0/1, jittered) against its teacher grade, the mean of log p - log q over its tokens:
    where the two signals
    part (correct but unlike the teacher, or wrong but mostly teacher-like)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    g = torch.Generator().manual_seed(0)
    jitter = (torch.rand(len(episodes), generator=g) - 0.5) * 0.15
    ax.scatter(
        [e["teacher_grade"] for e in episodes],
        [e["reward"] + float(j) for e, j in zip(episodes, jitter)],
        s=12,
        alpha=0.6,
    )
    ax.set_yticks([0, 1], ["wrong (R=0)", "correct (R=1)"])
    ax.set_xlabel("teacher grade of the sample: mean over tokens of log p(y_t|·) − log q(y_t|·)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def disagreements(episodes: list[dict], k: int = 3) -> list[dict]:
    """The k correct samples the teacher grades lowest and the k wrong ones it grades highest."""
    right = sorted((e for e in episodes if e["reward"] > 0), key=lambda e: e["teacher_grade"])[:k]
    wrong = sorted((e for e in episodes if e["reward"] == 0), key=lambda e: -e["teacher_grade"])[:k]
    return [
        {"RL reward": e["reward"], "teacher grade": e["teacher_grade"], "sample": e["text"][:80]} for e in right + wrong
    ]


# --------------------------------------------------------------------------- the panel


def panel(namespace: dict, P: OnPolicyProfile, on_change=None):
    """arm (which method the one-seed run trains) and teacher_accuracy (which teacher it reads) of the live run;
    an Output for Panel.rerun (labkit.lab.widgets)."""
    from labkit.lab import widgets

    w = widgets._w()
    controls = {
        "arm": w.Dropdown(options=list(ARMS), value=namespace.get("arm", P.arm), description="arm"),
        "teacher_accuracy": w.Dropdown(
            options=list(P.teacher_accuracies),
            value=namespace.get("teacher_accuracy", P.teacher_accuracy),
            description="teacher accuracy",
        ),
    }
    return widgets.panel(namespace, controls, on_change, "On-policy distillation: one run", output=True)
