"""Notebooks 01/02: rationale-distilled students (distilling step-by-step, TinyLLM) trained over seeds.

    P = students.DSSProfile.resolve("default")
    S = students.prepare(P.dataset, [P.teacher], student=P.student, n_train=P.n_train, n_valid=P.n_valid,
                         n_test=P.n_test, task_steps=P.task_steps)
    arms = students.dss_arms(P.teacher, P.lam, P.fractions)          # Arms of methods "dss" / "tinyllm"
    runs = lk.lab.arms.run(students.Experiment(S, P.config()), arms, P.seeds)
    lk.lab.arms.values(runs, "step-by-step", "accuracy")             # {seed: test accuracy}

Students:
    "scratch@layers=L,hidden=H[,heads=A,vocab=V]"  a labkit.tiny Llama built from scratch (seeded by the run
        seed) on a byte-level BPE tokenizer trained once on the task's own text (prompts, answers,
        rationales). The CPU budget of the default profile is too small for a pretrained student to
        learn the task; a from-scratch tiny student learns it in a few hundred steps.
    anything else: labkit.models.load_model / load_tokenizer (pretrained students: "real", "paper").

Every run scores the answer task (option scoring / parsed answers, labkit.evaluate.accuracy) on the
validation and test splits at step 0 (untrained) and at the end, optionally on validation every
`eval_every` steps (run_loop's on_step hook), so a notebook shows that each arm learned. Settings are
chosen on validation; notebooks report test.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass, field
from typing import ClassVar

from labkit import data, evaluate, models, prompts, rationales, tiny
from labkit.errors import LabkitError
from labkit.lab import arms as A
from labkit.lab import claims as _claims
from labkit.lab import papers
from labkit.lab.params import check_parameters
from labkit.lab.profiles import DSS, TINYLLM, TrainingProfile
from labkit.loop import TrainConfig

SCRATCH_DEFAULTS = {"layers": 2, "hidden": 64, "heads": 4, "vocab": 512}


def parse_scratch(student: str) -> dict | None:
    """{"layers", "hidden", "heads", "vocab"} of "scratch@layers=2,hidden=64"; None for other students."""
    base, _, opts = str(student).partition("@")
    if base != "scratch":
        return None
    spec = dict(SCRATCH_DEFAULTS)
    for part in filter(None, opts.split(",")):
        key, _, value = part.partition("=")
        if key not in spec or not value.isdigit():
            raise LabkitError(
                f"parameter student={student!r}: expected scratch@layers=L,hidden=H[,heads=A,vocab=V] "
                f"with integer values; unknown or bad {part!r}"
            )
        spec[key] = int(value)
    return spec


@dataclass
class Setup:
    """What every arm of a notebook shares: the splits (train with the teachers' rationales attached),
    the student name and its tokenizer, the teachers, chance and each teacher's label accuracy on train."""

    train: list
    valid: list
    test: list
    student: str
    tokenizer: object
    teachers: list
    chance: float | None
    teacher_accuracy: dict = field(default_factory=dict)
    rationale_stats: dict = field(default_factory=dict)


def task_corpus(records, teachers) -> list[str]:
    """The text a scratch student's tokenizer is trained on: every task prompt and target of the records."""
    out = []
    for r in records:
        out.append(prompts.student_prompt(r) + " " + " ".join(r.choices or [r.answer]))
        for t in teachers:
            out.append(
                prompts.student_prompt(r, f"rationale:{t}") + (prompts.student_target(r, f"rationale:{t}") or "")
            )
            out.append(prompts.student_target(r, "answer", t) or "")
    return out


def prepare(
    dataset: str,
    teachers: list,
    *,
    student: str,
    n_train: int,
    n_valid: int,
    n_test: int,
    seed: int = 0,
    data_dir=None,
    task_steps: int | None = None,
    template: str = "teacher_forced",
    k: int = 2,
    device: str = "auto",
    max_new_tokens: int = 64,
    progress: bool = False,
) -> Setup:
    """Load the splits, attach each teacher's rationale and label to the training records, build the tokenizer."""
    kw = dict(data_dir=data_dir or None, seed=seed)
    if dataset.startswith("synthetic:") and task_steps:
        kw["steps"] = int(task_steps)
    splits = data.splits_of(dataset)
    if "valid" in splits:
        train = data.load_dataset(dataset, "train", n=n_train, **kw)
        valid = data.load_dataset(dataset, "valid", n=n_valid, **kw) if n_valid else []
    else:  # no valid split (distilling step-by-step's CQA/SVAMP): hold out the n_valid training rows after train
        rows = data.load_dataset(dataset, "train", n=n_train + n_valid if n_train else None, **kw)
        n_fit = n_train or len(rows) - n_valid
        if n_fit <= 0 or len(rows) < n_fit + n_valid:
            raise LabkitError(
                f"dataset {dataset!r} has {len(rows)} training rows: too few for n_train={n_train} "
                f"plus n_valid={n_valid} held out for validation (it has no valid split)"
            )
        train, valid = rows[:n_fit], rows[n_fit : n_fit + n_valid]
    test = data.load_dataset(dataset, "test", n=n_test, **kw)
    stats = {}
    if teachers:
        res = rationales.generate_rationales(
            list(teachers),
            train,
            template=template,
            k=k,
            seed=seed,
            device=device,
            max_new_tokens=max_new_tokens,
            progress=progress,
        )
        train, stats = res.attach(train), res.stats
    spec = parse_scratch(student)
    tok = (
        tiny.train_tokenizer(task_corpus(train, teachers), vocab_size=spec["vocab"])
        if spec
        else models.load_tokenizer(student)
    )
    chance = statistics.mean(1 / len(r.choices) for r in test) if test and test[0].choices else None
    acc = {t: evaluate.teacher_label_accuracy(train, t)[0] for t in teachers}
    return Setup(list(train), list(valid), list(test), student, tok, list(teachers), chance, acc, stats)


# --------------------------------------------------------------------------- the profiles


@dataclasses.dataclass(frozen=True)
class StudentsProfile(TrainingProfile):
    """What notebooks 01 and 02 share: data and student (seeds, budget, device: TrainingProfile)."""

    dataset: str = ""
    data_dir: str = ""
    student: str = ""
    n_train: int = 0
    n_valid: int = 0
    n_test: int = 0
    task_steps: int = 0
    max_len: int = 0
    threads: int = 0

    def check(self):
        super().check()
        check_parameters(dataset=self.dataset, n_train=self.n_train)
        parse_scratch(self.student)  # names a bad scratch@ option

    @property
    def train_device(self) -> str:
        """A from-scratch tiny student trains on the CPU (one process per core) unless a device is named."""
        return "cpu" if self.device == "auto" and parse_scratch(self.student) else self.device

    def config(self) -> dict:
        """The training settings every arm shares (labkit.loop.TrainConfig fields)."""
        return dict(lr=self.lr, steps=self.max_steps, batch_size=self.batch_size, max_len=self.max_len)


@dataclasses.dataclass(frozen=True)
class DSSProfile(StudentsProfile):
    """Notebook 01: the teacher, λ, the data fractions of the less-data claim."""

    TABLE: ClassVar[dict] = DSS
    teacher: str = ""
    lam: float = 1.0
    fractions: list = field(default_factory=list)
    sweep_fine_tuning: bool = False

    @classmethod
    def resolve(cls, profile: str, **given):
        # distilling step-by-step's own datasets carry PaLM-540B's rationales: their teacher, unless one is named
        ds = given.get("dataset") or cls.TABLE.get(profile, {}).get("dataset", "")
        if not given.get("teacher") and str(ds).startswith("dss:"):
            given["teacher"] = "palm-540b"
        return super().resolve(profile, **given)

    def check(self):
        super().check()
        check_parameters(teacher=self.teacher, lam=self.lam, fractions=self.fractions)


@dataclasses.dataclass(frozen=True)
class TinyLLMProfile(StudentsProfile):
    """Notebook 02: the teachers and their α, the teachers' prompts, the α curve, the live teacher-forcing check."""

    TABLE: ClassVar[dict] = TINYLLM
    teachers: list = field(default_factory=list)
    alphas: float | dict = 1.0
    in_context: int = 2
    template: str = field(default="teacher_forced", metadata={"choices": ("teacher_forced", "cot")})
    alpha_grid: list = field(default_factory=list)
    alpha_seeds: list = field(default_factory=list)
    live_teacher: str = ""
    n_live: int = 0
    max_new_tokens: int = 0

    def check(self):
        super().check()
        check_parameters(
            teachers=self.teachers, alphas=self.alphas, alpha_grid=self.alpha_grid, in_context=self.in_context
        )
        check_parameters(teachers=self.teachers, alphas=self.alpha_of)

    @property
    def alpha_of(self) -> dict:
        """{teacher: α}: one α for every teacher, or the dict given."""
        return dict(self.alphas) if isinstance(self.alphas, dict) else {t: float(self.alphas) for t in self.teachers}


# --------------------------------------------------------------------------- the arms


def dss_arms(
    teacher: str, lam: float, fractions=(1.0,), sweep_fine_tuning: bool = True, headline_seeds=None
) -> list[A.Arm]:
    """Notebook 01's arms (Hsieh et al., 2023), all of method "dss": fine-tuning (gold labels), distillation
    (teacher labels), step-by-step with the teacher's labels (the paper's distillation setting) and with gold labels
    (its fine-tuning setting), and, for each fraction < 1, step-by-step (gold) and (sweep_fine_tuning) fine-tuning on
    that fraction (``reads["fraction"]``: the first fraction of the training records). headline_seeds: the seeds of
    the headline claim's two arms, step-by-step and distillation (None: the seeds every arm runs)."""
    sbs, hs = {"teacher": teacher, "lam": lam}, tuple(headline_seeds) if headline_seeds else None
    arms = [
        A.Arm("fine-tuning", "dss", {}),
        A.Arm("distillation", "dss", {"label_source": teacher}, seeds=hs),
        A.Arm("step-by-step", "dss", {**sbs, "label_source": teacher}, cost=2, seeds=hs),
        A.Arm("step-by-step (gold labels)", "dss", sbs, cost=2),
    ]
    for f in sorted(set(fractions)):
        if f < 1:
            if sweep_fine_tuning:
                arms.append(A.Arm(f"fine-tuning @{f:g}", "dss", {}, {"fraction": f, "sweep": "fine-tuning"}))
            arms.append(
                A.Arm(
                    f"step-by-step (gold labels) @{f:g}",
                    "dss",
                    sbs,
                    {"fraction": f, "sweep": "step-by-step (gold labels)"},
                    cost=2,
                )
            )
    return arms


FULL, LABEL_ONLY = "TinyLLM (full)", "label only (fine-tuning)"


def tinyllm_arms(alpha_of: dict, ablate: bool = True, headline_seeds=None) -> list[A.Arm]:
    """Notebook 02's arms (Tian et al., 2024), all of method "tinyllm": the full method (gold answer + Σ α_m ·
    rationale of T_m), label-only fine-tuning (no rationale), and (ablate=True, two or more teachers) w/o each
    teacher (``reads["without"]`` names it). headline_seeds: the seeds of the headline claim's two arms, full and
    label only (None: the seeds every arm runs)."""
    n, hs = len(alpha_of) + 1, tuple(headline_seeds) if headline_seeds else None
    arms = [
        A.Arm(FULL, "tinyllm", {"alphas": dict(alpha_of)}, {"alpha": _uniform(alpha_of)}, cost=n, seeds=hs),
        A.Arm(LABEL_ONLY, "tinyllm", {"alphas": {}}, {"alpha": 0.0}, seeds=hs),
    ]
    if ablate and len(alpha_of) > 1:
        arms += [
            A.Arm(
                f"w/o {t}",
                "tinyllm",
                {"alphas": {u: a for u, a in alpha_of.items() if u != t}},
                {"without": t},
                cost=n - 1,
            )
            for t in alpha_of
        ]
    return arms


def _uniform(alpha_of: dict):
    """The α every teacher shares, None when they differ."""
    return next(iter(alpha_of.values())) if len(set(alpha_of.values())) == 1 else None


def alpha_arms(alpha_of: dict, alpha_grid, alpha_seeds) -> list[A.Arm]:
    """Notebook 02's α curve: one arm "α=a" (every teacher at α = a) per α of the grid, over `alpha_seeds`; an α
    equal to the full run's uniform α is the full run itself (no arm)."""
    full = _uniform(alpha_of)
    return [
        A.Arm(
            f"α={a:g}",
            "tinyllm",
            {"alphas": {t: a for t in alpha_of}},
            {"alpha": a},
            seeds=tuple(alpha_seeds),
            cost=len(alpha_of) + 1,
        )
        for a in alpha_grid
        if a != full
    ]


# --------------------------------------------------------------------------- the experiment


def new_student(setup: Setup, seed: int, device: str = "cpu"):
    """A fresh student: from scratch (seeded) on the setup's tokenizer, or the named pretrained model."""
    spec = parse_scratch(setup.student)
    if spec:
        return tiny.tiny_causal_lm(
            setup.tokenizer, n_layers=spec["layers"], hidden=spec["hidden"], heads=spec["heads"], seed=seed
        )
    return models.load_model(setup.student, device=device)


def score(model, setup: Setup, records, device: str = "cpu") -> float | None:
    """Test accuracy of the answer task (option scoring / parsed answers, labkit.evaluate.accuracy); None without
    records."""
    if not records:
        return None
    model.eval()
    acc = evaluate.accuracy(model, setup.tokenizer, records, device=device, batch_size=64, bf16="auto")
    model.train()
    return acc


class Experiment:
    """The arms of notebooks 01/02 on one Setup: ``run(arm, seed)`` trains a fresh student (from scratch, seeded
    by the run seed, or the named pretrained model) with the arm's method on the first ``reads["fraction"]`` of
    the training records and scores the answer task at step 0 and at the end, on validation and test (validation
    also every `eval_every` steps, a learning curve). A pretrained student starts the same in every run: its step 0
    is scored once (``prepare``, before the workers fork) and kept here."""

    def __init__(self, setup: Setup, config: dict, *, eval_every: int = 0, device: str = "cpu"):
        self.setup, self.config, self.eval_every, self.device = setup, dict(config), eval_every, device
        self.step0: dict | None = None

    def prepare(self, arms=()) -> Experiment:
        if self.step0 is None and not parse_scratch(self.setup.student):
            model = new_student(self.setup, 0, self.device)
            self.step0 = {
                "valid": score(model, self.setup, self.setup.valid, self.device) if self.eval_every else None,
                "test": score(model, self.setup, self.setup.test, self.device),
            }
        return self

    def run(self, arm: A.Arm, seed: int) -> A.Run:
        setup, device = self.setup, self.device
        subset = setup.train[: max(1, round(arm.reads.get("fraction", 1.0) * len(setup.train)))]
        cfg = TrainConfig(**{"progress": False, "device": device, **self.config, "seed": seed})
        model = new_student(setup, seed, device)
        t_eval = [0.0]

        def scored(records):
            t = time.perf_counter()
            acc = score(model, setup, records, device)
            t_eval[0] += time.perf_counter() - t
            return acc

        # step 0 on validation only for a learning curve; the notebooks show step 0 on test
        step0 = self.step0 or {"valid": scored(setup.valid) if self.eval_every else None, "test": scored(setup.test)}
        curve = [(0, step0["valid"])] if setup.valid and self.eval_every else []

        def on_step(step, history):
            if self.eval_every and setup.valid and step % self.eval_every == 0 and step < cfg.steps:
                curve.append((step, scored(setup.valid)))

        t0, e0 = time.perf_counter(), t_eval[0]
        history = A.train(arm, student=model, tokenizer=setup.tokenizer, records=subset, config=cfg, on_step=on_step)
        train_s = time.perf_counter() - t0 - (t_eval[0] - e0)  # the curve's evaluations are not training
        final = {"valid": scored(setup.valid), "test": scored(setup.test)}
        if curve:
            curve.append((cfg.steps, final["valid"]))

        def split_metrics(d):
            return {k: {"accuracy": v} for k, v in d.items() if v is not None}

        loss = [(r["step"], r["loss"]) for r in history.rows if r.get("loss") is not None]
        return A.Run(
            arm.label,
            seed,
            split_metrics(final),
            step0=split_metrics(step0),
            curves={"loss": loss, **({"valid accuracy": curve} if curve else {})},
            seconds=round(train_s, 2),
            extra={
                "n_train": len(subset),
                "fraction": arm.reads.get("fraction", 1.0),
                "final_loss": history.last("loss"),
                "eval_seconds": round(t_eval[0], 2),
            },
        )


# --------------------------------------------------------------------------- tables and learning


def summary(runs, arms=None, chance: float | None = None) -> list[dict]:
    """One row per arm: step-0 and final test accuracy (mean, sd over seeds, per seed), final validation mean,
    the gain over step 0 and over chance, training seconds per run."""
    out = []
    for row in A.summary(runs, ["accuracy"], "test", arms):
        s0 = statistics.mean(A.values(runs, row["arm"], "accuracy", when="step0").values())
        valid = A.by_arm(runs, "accuracy", "valid").get(row["arm"])
        first = next(r for r in runs if r.arm == row["arm"])
        out.append(
            {
                "arm": row["arm"],
                "n_seeds": row["seeds"],
                "n_train": first.extra.get("n_train"),
                "step0_test": s0,
                "final_test": row["accuracy"],
                "final_test_sd": row["accuracy sd"],
                "final_valid": statistics.mean(valid.values()) if valid else None,
                "per_seed_test": row["accuracy per seed"],
                "gain_over_step0": row["accuracy"] - s0,
                "gain_over_chance": row["accuracy"] - chance if chance is not None else None,
                "train_seconds": row["seconds"],
            }
        )
    return out


def learning_metrics(
    runs, notebook: str, profile: str = "default", chance: float | None = None, numbers: dict | None = None
) -> dict:
    """{"learning", "not_learning"} of notebook "01" or "02" for metrics.json: each arm with ≥ 2 seeds, its final
    test accuracy against its own step 0 and chance, with the notebook's reading of each arm that does not learn
    (``papers.READINGS[nb]["learn:..."]`` at the profile the reading was written for, filled from the run)."""
    few = [a for a in A.arm_labels(runs) if len({r.seed for r in runs if r.arm == a}) < 2]
    rows = A.learning(runs, "accuracy", chance=chance, exclude=few, label="test accuracy")
    prefix = "learn:" if profile == "default" else f"{profile}:learn:"
    why = {k[len(prefix) :]: v for k, v in papers.READINGS[notebook].items() if k.startswith(prefix)}
    return _claims.learning_metrics(rows, why, papers.READINGS[notebook].get(f"{profile}:*", ""), numbers)


def claim_table(claims) -> list[dict]:
    """Claims as short rows for display: id, holds, mean, 95% CI, per-seed effects."""
    return [
        {
            "id": c["id"],
            "holds": "✓" if c["holds"] else "✗",
            "mean": round(c["mean"], 3),
            "ci95": [round(c["ci95"][0], 3), round(c["ci95"][1], 3)],
            "per seed": [round(v, 3) for v in c["values"]],
            "better": c["better"],
            "worse": c["worse"],
        }
        for c in claims
    ]


def notes(notebook: str, claims, profile: str = "default", numbers: dict | None = None) -> dict[str, str]:
    """{claim id: the measured effect and the notebook's reading} for the claims that do not hold: the readings
    written for the default miniature there, the profile's own ("real:...") elsewhere, filled from the run."""
    R = papers.READINGS[notebook]
    if profile == "default":
        why = {k: v for k, v in R.items() if not k.startswith(("learn:", "real:", "paper:", "*"))}
        return _claims.not_holding(claims, why, R.get("*", ""), numbers)
    why = {
        k[len(profile) + 1 :]: v
        for k, v in R.items()
        if k.startswith(f"{profile}:") and "learn:" not in k and not k.endswith(":*")
    }
    return _claims.not_holding(claims, why, R.get(f"{profile}:*", ""), numbers)


def template_agreement(
    teacher: str,
    records,
    *,
    pool=None,
    k: int = 2,
    seed: int = 0,
    device: str = "auto",
    max_new_tokens: int = 48,
    progress: bool = False,
) -> dict:
    """TinyLLM's teacher-forcing check for one (live) teacher: rationales with the plain CoT prompt and with
    the teacher-forced prompt (gold answer shown), each checked against the gold answer
    (labkit.rationales.consistency). Returns {"cot": rate, "teacher_forced": rate, "per_question":
    [agree_tf - agree_cot per question], "examples": first record's two rationales}."""
    agree, texts = {}, {}
    for template in ("cot", "teacher_forced"):
        res = rationales.generate_rationales(
            [teacher],
            records,
            template=template,
            pool=pool,
            k=k,
            seed=seed,
            device=device,
            max_new_tokens=max_new_tokens,
            progress=progress,
        )
        attached = res.attach(records)
        kept = set(rationales.consistency(attached, teacher)["kept_ids"])
        agree[template] = [1.0 if r.id in kept else 0.0 for r in attached]
        texts[template] = attached[0].rationales.get(teacher, "") if attached else ""
    n = max(len(records), 1)
    return {
        "teacher": teacher,
        "n": len(records),
        "cot": sum(agree["cot"]) / n,
        "teacher_forced": sum(agree["teacher_forced"]) / n,
        "per_question": [a - b for a, b in zip(agree["teacher_forced"], agree["cot"])],
        "examples": texts,
    }


def dss_claims(runs, teacher: str, teacher_accuracy: float, fractions) -> list[dict]:
    """Notebook 01's claims (Hsieh et al., 2023), paired by seed on the test split."""
    st = lambda id, **f: papers.statement("01", id, **f)  # noqa: E731
    out = [
        A.claim(runs, "dss>ft", st("dss>ft"), "accuracy", "step-by-step (gold labels)", "fine-tuning"),
        A.claim(runs, "dss>kd", st("dss>kd"), "accuracy", "step-by-step", "distillation", headline=True),
    ]
    small = min(fractions)
    if small < 1:
        out.append(
            A.claim(
                runs,
                "dss@less-data>ft@all",
                st("dss@less-data>ft@all", fraction=f"{small:.0%}"),
                "accuracy",
                f"step-by-step (gold labels) @{small:g}",
                "fine-tuning",
            )
        )
    got = A.values(runs, "step-by-step", "accuracy")
    out.append(
        _claims.claim(
            "student>teacher",
            st("student>teacher"),
            "test accuracy",
            "step-by-step",
            f"teacher {teacher}",
            [got[s] - teacher_accuracy for s in sorted(got)],
        )
    )
    return out


def tinyllm_claims(runs, arms, alpha_of: dict, seeds) -> list[dict]:
    """Notebook 02's student claims (Tian et al., 2024), paired by seed on the test split: full > label-only,
    full > w/o each teacher, full > w/o in-context (when trained), and α_full > each other α of the curve (over
    the seeds both were run with, at least 2)."""
    st = lambda id, **f: papers.statement("02", id, **f)  # noqa: E731
    labels = A.arm_labels(runs)
    out = [A.claim(runs, "full>label-only", st("full>label-only"), "accuracy", FULL, LABEL_ONLY, headline=True)]
    out += [
        A.claim(
            runs,
            f"full>w/o {a.reads['without']}",
            st("full>w/o", teacher=a.reads["without"]),
            "accuracy",
            FULL,
            a.label,
        )
        for a in arms
        if a.reads.get("without")
    ]
    if "w/o in-context" in labels:
        out.append(A.claim(runs, "full>w/o in-context", st("full>w/o in-context"), "accuracy", FULL, "w/o in-context"))
    full_alpha = _uniform(alpha_of)
    for a in (a for a in arms if a.label.startswith("α=") and full_alpha is not None):
        common = sorted(set(a.seeds or seeds) & set(seeds))
        if len(common) >= 2:
            out.append(
                A.claim(
                    runs,
                    f"alpha {full_alpha:g}>{a.reads['alpha']:g}",
                    st("alpha", full=f"{full_alpha:g}", other=f"{a.reads['alpha']:g}"),
                    "accuracy",
                    FULL,
                    a.label,
                    seeds=common,
                )
            )
    return out


def alpha_rows(runs, arms) -> list[dict]:
    """Notebook 02's α curve: the runs with one α for every teacher (label-only = α 0, the full run when its α is
    uniform, the "α=a" arms) as {"alpha", "curve_name", "run", "seed"}."""
    alpha = {a.label: a.reads.get("alpha") for a in arms}
    return [
        {"alpha": alpha[r.arm], "curve_name": "α for all teachers", "run": r, "seed": r.seed}
        for r in runs
        if alpha.get(r.arm) is not None
    ]


def alpha_means(arows) -> dict:
    """{"α": mean test accuracy over the seeds run at that α}."""
    return {
        f"{a:g}": statistics.mean(r["run"].metrics["test"]["accuracy"] for r in arows if r["alpha"] == a)
        for a in sorted({r["alpha"] for r in arows})
    }


def tinyllm_table(runs, arms, chance, teachers, kinds: dict) -> tuple[list, list]:
    """(order of arms, summary rows) for notebook 02, with "w/o in-context" as a run arm when it was trained, else as
    a not-applicable row that says why (scripted/recorded teachers generate nothing from a prompt)."""
    labels = A.arm_labels(runs)
    trained_wo = "w/o in-context" in labels
    order = (
        [a.label for a in arms if not a.label.startswith("α=")]
        + (["w/o in-context"] if trained_wo else [])
        + [a.label for a in arms if a.label.startswith("α=")]
    )
    table = summary(runs, order, chance=chance)
    if not trained_wo:
        table.append(
            {
                "arm": "w/o in-context",
                "status": "not applicable",
                "why": f"teachers {teachers} are {sorted(set(kinds.values()))}: their rationales are not "
                f"generated from an in-context prompt here, so there is nothing to remove",
            }
        )
    return order, table
