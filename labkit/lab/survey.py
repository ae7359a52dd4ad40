"""Notebook 05: the survey's map of LLM distillation, and miniatures of the methods notebooks 01-04 do not run.

    lk.lab.survey.taxonomy_figure()                       # the map, each box naming where the lab teaches it
    setup = lk.lab.survey.cot_setup(n_train=600, n_test=200, task_steps=1, teachers=["noisy-oracle@p=0.3"])
    X = lk.lab.survey.SurveyExperiment(setup, "scratch@layers=2,hidden=64", dict(lr=3e-3, steps=300, batch_size=16))
    arms = lk.lab.survey.finetune_cot_arms("noisy-oracle@p=0.3", k=4, temperature=1.0)
    X.prepare([arms])                                     # the tokenizer, trained on every pair the arms will see
    runs = lk.lab.arms.run(X, arms, seeds=[0, 1, 2])      # one Run per (arm, seed)

Each miniature trains from-scratch tiny students (labkit.lab.students.parse_scratch) on the prompt -> target
pairs that the arm's method (``labkit.methods.get(arm.method)``: finetune_cot, scott, socratic, icl, lion) builds
from a scripted teacher, and scores them on the test split with that method's own reading of the student's
output. Every one of these methods is supervised fine-tuning on the pairs it builds (``labkit.methods.sft``);
what differs is the data, and Socratic CoT's two students and Lion's round (``SurveyExperiment.run_group``).
"""

from __future__ import annotations

import copy
import dataclasses
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import ClassVar

from labkit import data, methods, rationales, tiny
from labkit.data import Record
from labkit.errors import LabkitError
from labkit.lab import arms as _arms
from labkit.lab import claims as _claims
from labkit.lab import papers
from labkit.lab.arms import Arm, Run
from labkit.lab.profiles import SURVEY as _TABLE
from labkit.lab.profiles import TrainingProfile, choices
from labkit.lab.students import parse_scratch
from labkit.loop import TrainConfig
from labkit.methods import finetune_cot, icl, lion, scott, sft, socratic

# --------------------------------------------------------------------------- the map

SURVEY = (
    "Zhu, Li, Liu, Ma & Wang, *A Survey on Model Compression for Large Language Models*, "
    "arXiv:2308.07633 (2023; TACL 2024), §3 Knowledge Distillation"
)

CITATION = "as mapped by Zhu et al., arXiv:2308.07633, §3"

# (branch, family, method, one line, where the lab runs it)
MAP = [
    ("Standard KD", "", "MiniLLM", "reverse KL on the student's own samples", "03_minillm_reverse_kl"),
    ("Standard KD", "", "GKD", "on-policy data, generalised JSD_β", "04_gkd_on_policy"),
    ("Standard KD", "", "forward vs reverse KL", "mode covering vs mode seeking", "00_kl_mode_seeking"),
    ("EA-based KD", "In-context learning", "Meta-ICT", "ICL training on source tasks", "05_survey_map §4"),
    ("EA-based KD", "In-context learning", "Multitask-ICT", "ICL training on the target tasks", "05_survey_map §4"),
    (
        "EA-based KD",
        "Chain of thought",
        "MT-CoT",
        "explanations as a second task",
        "01_distilling_step_by_step (same loss)",
    ),
    ("EA-based KD", "Chain of thought", "Fine-tune-CoT", "k sampled reasoning paths", "05_survey_map §1"),
    (
        "EA-based KD",
        "Chain of thought",
        "Distilling step-by-step",
        "rationales as a multi-task signal",
        "01_distilling_step_by_step",
    ),
    ("EA-based KD", "Chain of thought", "TinyLLM", "many teachers' rationales", "02_tinyllm_multi_teacher"),
    ("EA-based KD", "Chain of thought", "SCOTT", "consistent rationales, faithful students", "05_survey_map §2"),
    ("EA-based KD", "Chain of thought", "Socratic CoT", "decomposer + sub-question solver", "05_survey_map §3"),
    ("EA-based KD", "Chain of thought", "Fu et al.", "specialise: trade generality for reasoning", "not run"),
    ("EA-based KD", "Chain of thought", "DISCO", "LLM counterfactual data, teacher-filtered", "not run"),
    ("EA-based KD", "Instruction following", "Lion", "adversarial: mine hard instructions", "05_survey_map §5"),
]


def taxonomy_figure():
    """The survey's KD map as a tree: branches -> families -> methods, each method box naming where the lab
    runs it (green: a notebook of this lab; grey: not run here)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch, Patch

    fig, ax = plt.subplots(figsize=(12, 8.2))
    ax.set_xlim(0, 12)
    ax.set_ylim(-0.7, len(MAP) + 0.2)
    ax.axis("off")

    def box(x, y, w, text, color, size=9, weight="normal"):
        ax.add_patch(
            FancyBboxPatch(
                (x, y - 0.34), w, 0.68, boxstyle="round,pad=0.02,rounding_size=0.12", fc=color, ec="#444", lw=0.8
            )
        )
        ax.text(x + w / 2, y, text, ha="center", va="center", fontsize=size, weight=weight)

    def link(x0, y0, x1, y1):
        xm = (x0 + x1) / 2
        ax.plot([x0, xm, xm, x1], [y0, y0, y1, y1], color="#888", lw=0.8, zorder=0)

    ys = {m: len(MAP) - 1 - i for i, (_, _, m, _, _) in enumerate(MAP)}
    root_y = statistics.mean(ys.values())
    box(0.05, root_y, 1.5, "KD for LLMs\n(Zhu et al.)", "#dde6f3", weight="bold")
    for branch in dict.fromkeys(b for b, *_ in MAP):
        rows = [r for r in MAP if r[0] == branch]
        by = statistics.mean(ys[r[2]] for r in rows)
        box(2.0, by, 1.7, branch, "#dde6f3", weight="bold")
        link(1.55, root_y, 2.0, by)
        for fam in dict.fromkeys(r[1] for r in rows):
            frows = [r for r in rows if r[1] == fam]
            fy = statistics.mean(ys[r[2]] for r in frows)
            if fam:
                box(4.1, fy, 1.9, fam, "#eef2f8")
                link(3.7, by, 4.1, fy)
            for _, _, method, what, where in frows:
                y = ys[method]
                run = where != "not run"
                box(6.4, y, 2.2, method, "#d9f0d3" if run else "#eeeeee", weight="bold" if run else "normal")
                link(6.0 if fam else 3.7, fy if fam else by, 6.4, y)
                ax.text(8.75, y + 0.13, what, fontsize=8, va="center", color="#222")
                ax.text(
                    8.75,
                    y - 0.19,
                    f"→ {where}" if run else "(described, not run here)",
                    fontsize=8,
                    va="center",
                    color="#2a7a2a" if run else "#888",
                    style="italic",
                )
    ax.set_title("Knowledge distillation of LLMs: the survey's map, and where this lab runs each method", fontsize=11)
    ax.legend(
        handles=[
            Patch(fc="#d9f0d3", ec="#444", label="run in this lab (→ notebook, § section)"),
            Patch(fc="#eeeeee", ec="#444", label="in the survey, not run here"),
        ],
        loc="lower left",
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout()
    return fig


TABLE = [
    {
        "method": "Fine-tune-CoT",
        "teacher provides": "k sampled reasoning paths per question",
        "student learns": "question → reasoning → answer",
        "loss": "CE on the correct paths",
        "runs in": "05 §1",
    },
    {
        "method": "SCOTT",
        "teacher provides": "rationales consistent with the gold answer",
        "student learns": "question → rationale → answer",
        "loss": "CE on rationale ⊕ answer",
        "runs in": "05 §2",
    },
    {
        "method": "Socratic CoT",
        "teacher provides": "sub-questions and their answers",
        "student learns": "decomposer: next sub-question; solver: its answer",
        "loss": "CE, one per student",
        "runs in": "05 §3",
    },
    {
        "method": "Meta-ICT / Multitask-ICT",
        "teacher provides": "labels of in-context queries",
        "student learns": "answer from k demonstrations",
        "loss": "CE on the query's label",
        "runs in": "05 §4",
    },
    {
        "method": "Lion",
        "teacher provides": "responses; judges the student's; new questions like the hard ones",
        "student learns": "the teacher's responses on a pool that grows where it fails",
        "loss": "CE on the pool",
        "runs in": "05 §5",
    },
    {
        "method": "Distilling step-by-step / MT-CoT",
        "teacher provides": "rationale + label",
        "student learns": "label and rationale as two tasks",
        "loss": "L_label + λ L_rationale",
        "runs in": "01",
    },
    {
        "method": "TinyLLM",
        "teacher provides": "rationales of several teachers",
        "student learns": "answer + each teacher's rationale",
        "loss": "L_label + Σ α_m L_m",
        "runs in": "02",
    },
    {
        "method": "MiniLLM",
        "teacher provides": "token distributions",
        "student learns": "its own samples, judged",
        "loss": "reverse KL (policy gradient)",
        "runs in": "03",
    },
    {
        "method": "GKD",
        "teacher provides": "token distributions on student samples",
        "student learns": "on-policy sequences",
        "loss": "JSD_β",
        "runs in": "04",
    },
]


# --------------------------------------------------------------------------- data


@dataclass
class Setup:
    """One miniature's data: train (with the teacher's rationales where it has one), test, and the tokenizer
    (trained on every prompt and target any arm will use)."""

    train: list
    test: list
    tokenizer: object = None
    info: dict = field(default_factory=dict)
    support: list = field(default_factory=list)

    def records(self, name: str) -> list:
        """The records an arm trains on: "train", or "source" (the ICL setup's source tasks)."""
        if name == "train":
            return self.train
        if name in self.info:
            return self.info[name]
        raise LabkitError(f"Setup has no records {name!r}; expected 'train' or one of {sorted(self.info)}")

    def lion_pool(self, n_pool: int) -> list:
        """Lion's first pool: the first n_pool training questions (their teachers' responses attached)."""
        if not 0 < n_pool <= len(self.train):
            raise LabkitError(f"lion_pool={n_pool}: expected 1..{len(self.train)} (the training questions)")
        return self.train[:n_pool]


COLORS = ["red", "blue", "green", "yellow"]
ITEMS = [
    "apple",
    "ball",
    "book",
    "chair",
    "clock",
    "coin",
    "cup",
    "drum",
    "fork",
    "hat",
    "kite",
    "lamp",
    "pen",
    "ring",
    "shoe",
    "vase",
]


PHRASES = ("Which box does the {item} go in?", "Where should the {item} be put?", "The {item} belongs in which box?")


def lookup_tasks(n_tasks: int, *, seed: int = 0, prefix: str = "task") -> list[Record]:
    """A family of lookup tasks for in-context learning: task t sorts each of 16 items into one of 4 boxes by its
    own secret rule (a random map item -> colour). Three questions per (task, item), one per PHRASES ("Which box
    does the cup go in?", ...), options the four colours. Nothing in a question names its task: only solved
    examples of the same task (in context) say which rule applies."""
    out = []
    for t in range(n_tasks):
        rng = random.Random(f"lookup|{seed}|{prefix}|{t}")
        rule = {item: rng.choice(COLORS) for item in ITEMS}
        for item in ITEMS:
            for j, phrase in enumerate(PHRASES):
                out.append(
                    Record(
                        id=f"{prefix}{t}-{item}-{j}",
                        question=phrase.format(item=item),
                        answer=rule[item],
                        choices=list(COLORS),
                        meta={"task": f"{prefix}{t}", "item": item},
                    )
                )
    return out


def cot_setup(
    *,
    n_train: int,
    n_test: int,
    task_steps: int,
    teachers,
    dataset: str = "synthetic:arithmetic",
    seed: int = 0,
    eval_split: str = "test",
) -> Setup:
    """Synthetic questions with each teacher's rationale attached to the training split; `n_test` questions of
    `eval_split` ("valid" to choose settings, "test" to report) to score the students on."""
    kw = {"seed": seed, "steps": task_steps}
    # the students answer by generating (no options to score), so the questions go without their options
    train = [dataclasses.replace(r, choices=None) for r in data.load_dataset(dataset, "train", n=n_train, **kw)]
    test = [dataclasses.replace(r, choices=None) for r in data.load_dataset(dataset, eval_split, n=n_test, **kw)]
    train = rationales.generate_rationales(list(teachers), train, progress=False).attach(train)
    return Setup(train, test, info={"teachers": list(teachers), "dataset": dataset, "task_steps": task_steps})


def icl_setup(
    *,
    n_source: int,
    n_target: int,
    n_target_train: int,
    n_target_valid: int = 0,
    seed: int = 0,
    eval_split: str = "test",
) -> Setup:
    """Meta-ICT's source tasks (all items) and the target tasks: per target task, n_target_train items for training
    (Multitask-ICT, fine-tuning), n_target_valid held-out items to choose settings on (eval_split="valid"), the
    rest for test. Every target item is in the support set that demonstrations come from."""
    source = lookup_tasks(n_source, seed=seed, prefix="source")
    target = lookup_tasks(n_target, seed=seed, prefix="target")
    if not (0 < n_target_train and n_target_valid >= 0 and n_target_train + n_target_valid < len(ITEMS)):
        raise LabkitError(
            f"n_target_train={n_target_train}, n_target_valid={n_target_valid}: expected n_target_train "
            f">= 1 and both together < {len(ITEMS)} items, leaving some for test"
        )
    rng = random.Random(f"icl-split|{seed}")
    order = {t: rng.sample(ITEMS, len(ITEMS)) for t in sorted({r.meta["task"] for r in target})}

    def part(r):
        i = order[r.meta["task"]].index(r.meta["item"])
        return "train" if i < n_target_train else "valid" if i < n_target_train + n_target_valid else "test"

    train = [r for r in target if part(r) == "train"]
    held = [r for r in target if part(r) == eval_split]
    return Setup(
        train,
        held,
        support=source + target,
        info={"source": source, "n_source_tasks": n_source, "n_target_tasks": n_target},
    )


# --------------------------------------------------------------------------- arms
#
# An Arm names its registered method and that method's settings; `reads` says what else the run reads: which
# records it trains on ("records": "train" or "source"), Socratic CoT's two students ("roles"), the ICL epochs
# and the demonstrations at test time ("epochs", "eval_k"), Lion's pool and steps ("pool", "steps").

METHODS = ("finetune_cot", "scott", "socratic", "lion", "icl")


def finetune_cot_arms(teacher: str, *, k: int, temperature: float) -> list[Arm]:
    """Fine-tune-CoT with one greedy path per question vs k sampled paths (the correct ones kept)."""
    return [
        Arm("k=1 (greedy)", "finetune_cot", {"teacher": teacher, "k": 1, "temperature": 0.0, "seed": 0}),
        Arm(
            f"k={k} (T={temperature:g})",
            "finetune_cot",
            {"teacher": teacher, "k": k, "temperature": temperature, "seed": 0},
        ),
    ]


def scott_arms(teacher: str) -> list[Arm]:
    """Rationale ⊕ answer students on all of a noisy teacher's rationales vs only the consistent ones."""
    return [
        Arm("unfiltered", "scott", {"teacher": teacher, "filter": False}),
        Arm("consistent only", "scott", {"teacher": teacher, "filter": True}),
    ]


def socratic_arms(teacher: str) -> list[Arm]:
    """One CoT student vs a decomposer and a solver, on the same teacher's reasoning (every path kept)."""
    return [
        Arm("single CoT student", "finetune_cot", {"teacher": teacher, "keep_correct": False}),
        Arm(
            "Socratic CoT (decomposer + solver)",
            "socratic",
            {"teacher": teacher},
            reads={"roles": ["decomposer", "solver"]},
            cost=2.0,
        ),
    ]


def icl_arms(*, k: int, epochs: int, choices: bool = False) -> list[Arm]:
    """Plain fine-tuning (no demonstrations) vs Meta-ICT (source tasks in context) vs Multitask-ICT (the target
    tasks' training items in context); all scored on the target tasks' held-out items with k demonstrations.
    In-context arms see each record with `epochs` different draws of demonstrations. choices=False (the default):
    questions without their listed options, answered by the colour (80-token prompts at k=4 instead of 215)."""

    def arm(label, records, k_):
        return Arm(
            label,
            "icl",
            {"k": k_, "seed": 0, "choices": choices},
            reads={"records": records, "epochs": epochs if k_ else 1, "eval_k": k},
        )

    return [arm("fine-tuning (no context)", "train", 0), arm("Meta-ICT", "source", k), arm("Multitask-ICT", "train", k)]


def lion_arms(teacher: str, *, n_pool: int, n_new: int, steps: int) -> list[Arm]:
    """Lion's round vs its control on a pool of the first n_pool training questions: both arms imitate the pool
    (the same student per seed: one group), then add n_new questions generated like the ones the student gets
    wrong (Lion) or like pool questions drawn at random (control), and train `steps` more steps on the grown
    pool."""

    def arm(label, mining):
        return Arm(
            label,
            "lion",
            {"teacher": teacher, "n_new": n_new, "mining": mining},
            reads={"pool": n_pool, "steps": steps},
            group="lion",
            cost=1.5,
        )

    return [arm("control: like random pool questions", "random"), arm("Lion: like the failed questions", "hard")]


def arms_for(method: str, P, **knobs) -> list[Arm]:
    """The arms of one miniature (a registered method of METHODS) with the profile's settings; `knobs` (k_paths,
    temperature, icl_k, lion_new) override them where non-empty (the one-seed run's panel); scott_filter=True/False
    keeps only SCOTT's filtered/unfiltered arm."""
    if method not in METHODS:
        raise LabkitError(f"parameter method={method!r}: expected one of {', '.join(METHODS)}")
    if method == "scott" and knobs.get("scott_filter") is not None:
        return [a for a in scott_arms(P.noisy) if a.settings["filter"] == bool(knobs["scott_filter"])]
    get = lambda name: knobs.get(name) or getattr(P, name)  # noqa: E731
    build = {
        "finetune_cot": lambda: finetune_cot_arms(P.noisy, k=get("k_paths"), temperature=get("temperature")),
        "scott": lambda: scott_arms(P.noisy),
        "socratic": lambda: socratic_arms(P.clean),
        "icl": lambda: icl_arms(k=get("icl_k"), epochs=P.icl_epochs),
        "lion": lambda: lion_arms(P.clean, n_pool=P.lion_pool, n_new=get("lion_new"), steps=P.lion_steps),
    }
    return build[method]()


# --------------------------------------------------------------------------- each method's data and reading


def _ftcot_data(setup, arm):
    s = finetune_cot.Settings(**arm.settings)
    p, t, stats = finetune_cot.training_pairs(
        setup.train, finetune_cot.reasoning_paths(setup.train, s), keep_correct=s.keep_correct
    )
    return [(p, t)], stats


def _scott_data(setup, arm):
    s = scott.Settings(**arm.settings)
    p, t, stats = scott.training_pairs(setup.train, s.teacher, filter=s.filter)
    return [(p, t)], stats


def _socratic_data(setup, arm):
    two = [socratic.training_pairs(setup.train, arm.settings["teacher"], role) for role in arm.reads["roles"]]
    return two, {f"{role} pairs": len(p) for role, (p, _) in zip(arm.reads["roles"], two)}


def _icl_data(setup, arm):
    s, records = icl.Settings(**arm.settings), setup.records(arm.reads.get("records", "train"))
    support, ps, ts = icl.by_task(setup.support), [], []
    for e in range(arm.reads.get("epochs", 1)):
        p, t = icl.training_pairs(records, support, s, epoch=e)
        ps, ts = ps + p, ts + t
    return [(ps, ts)], {"records": len(records), "pairs": len(ps)}


def _lion_data(setup, arm):
    pool = setup.lion_pool(arm.reads["pool"])
    p, t, _ = lion.training_pairs(pool, arm.settings["teacher"])
    return [(p, t)], {"pool": len(pool), "new": arm.settings["n_new"]}


def _score_cot(models, setup, arm):
    texts = finetune_cot.reason(models[0], setup.tokenizer, setup.test)
    return {"accuracy": finetune_cot.accuracy(texts, setup.test)}, texts[0]


def _score_scott(models, setup, arm):
    texts = finetune_cot.reason(models[0], setup.tokenizer, setup.test, task=scott.TASK, max_new_tokens=112)
    return scott.scores(texts, setup.test), texts[0]


def _score_socratic(models, setup, arm):
    runs = socratic.solve(models[0], models[1], setup.tokenizer, setup.test, max_steps=setup.info["task_steps"] + 2)
    texts = [r["answer_text"] for r in runs]
    return {"accuracy": finetune_cot.accuracy(texts, setup.test)}, socratic.dialogue(runs[0]["pairs"])


def _score_icl(models, setup, arm):
    acc = icl.accuracy(
        models[0],
        setup.tokenizer,
        setup.test,
        setup.support,
        k=arm.reads["eval_k"],
        choices=arm.settings.get("choices", True),
    )
    return {"accuracy": acc}, None


# registered method -> (its training pairs for an arm: [(prompts, targets)] per student + stats, its reading of the
# students' output on the test questions: ({metric: value}, one example))
DATA = {
    finetune_cot.NAME: _ftcot_data,
    scott.NAME: _scott_data,
    socratic.NAME: _socratic_data,
    icl.NAME: _icl_data,
    lion.NAME: _lion_data,
}
SCORE = {
    finetune_cot.NAME: _score_cot,
    scott.NAME: _score_scott,
    socratic.NAME: _score_socratic,
    icl.NAME: _score_icl,
    lion.NAME: _score_cot,
}


# --------------------------------------------------------------------------- the experiment


def _spec(student: str) -> dict:
    spec = parse_scratch(student)
    if spec is None:
        raise LabkitError(
            f"student={student!r}: the survey miniatures train small from-scratch students "
            f"('scratch@layers=L,hidden=H')"
        )
    return spec


def _curve(history, key: str = "loss") -> list:
    return [(r["step"], r[key]) for r in history.rows if r.get(key) is not None]


class SurveyExperiment:
    """One miniature's students: every arm on one Setup, trained from scratch (`student` =
    "scratch@layers=L,hidden=H") with the optimiser settings `config` (labkit.loop.TrainConfig fields) and the
    run's seed (initialisation and data order).

    What it caches (computed in the parent, inherited by the forked workers of ``labkit.lab.arms.run``):
    each arm's training pairs (``data``), the scores of untrained students (``untrained``) and finished runs
    (``run`` on an arm and seed it ran before returns that Run: the one-seed run is not trained twice).
    step0_seeds: the seeds whose runs also score their untrained students (Run.step0).
    """

    def __init__(self, setup: Setup, student: str, config: dict, *, step0_seeds=(0,)):
        self.setup, self.student, self.spec = setup, student, _spec(student)
        self.config, self.step0_seeds = dict(config), tuple(int(s) for s in step0_seeds)
        self._data, self._step0, self._done = {}, {}, {}

    def prepare(self, arm_lists, vocab: int | None = None) -> float:
        """Train the setup's tokenizer on every prompt and target of the arms (the first 3000 pairs of each
        student; byte-level BPE, labkit.tiny); seconds."""
        t0 = time.perf_counter()
        corpus = [
            p + t
            for arms in arm_lists
            for a in arms
            for prompts, targets in self.data(a)[0]
            for p, t in list(zip(prompts, targets))[:3000]
        ]
        self.setup.tokenizer = tiny.train_tokenizer(corpus, vocab_size=vocab or self.spec["vocab"])
        return round(time.perf_counter() - t0, 2)

    def data(self, arm: Arm) -> tuple[list, dict]:
        """([(prompts, targets)] per student, stats): the pairs the arm's method builds (cached)."""
        if arm not in self._data:
            self._data[arm] = DATA[methods.get(arm.method).NAME](self.setup, arm)
        return self._data[arm]

    def fresh(self, seed: int):
        return tiny.tiny_causal_lm(
            self.setup.tokenizer,
            n_layers=self.spec["layers"],
            hidden=self.spec["hidden"],
            heads=self.spec["heads"],
            seed=seed,
        )

    def train_config(self, seed: int, **over) -> TrainConfig:
        return TrainConfig(**{"progress": False, "device": "cpu", **self.config, "seed": seed, **over})

    def _scored(self, arm, models, seed, t0, t1, loss_curves, extra=None) -> Run:
        metrics, example = SCORE[arm.method](models, self.setup, arm)
        step0 = {"test": self.untrained(arm, seed)} if seed in self.step0_seeds else {}
        final = [c[-1][1] for k, c in loss_curves.items() if c and k != "loss/imitation"]  # the arm's own training
        return Run(
            arm.label,
            seed,
            {"test": metrics},
            step0,
            loss_curves,
            round(t1 - t0, 2),
            {
                "example": example,
                "final_loss": final,
                "eval_seconds": round(time.perf_counter() - t1, 2),
                **(extra or {}),
            },
        )

    def run(self, arm: Arm, seed: int) -> Run:
        """The arm's students (one fresh model per pair set, all with this seed), trained by SFT on the method's
        pairs and scored on the test questions."""
        if (arm, seed) in self._done:
            return self._done[(arm, seed)]
        if self.setup.tokenizer is None:
            raise LabkitError("SurveyExperiment.run: no tokenizer yet; call prepare(arm lists) first")
        t0, models_, curves = time.perf_counter(), [], {}
        pair_sets = self.data(arm)[0]
        roles = arm.reads.get("roles") or [None] * len(pair_sets)
        for role, (prompts, targets) in zip(roles, pair_sets):
            model = self.fresh(seed)
            h = sft.train(model, self.setup.tokenizer, prompts, targets, config=self.train_config(seed))
            curves["loss" if role is None else f"loss/{role}"] = _curve(h)
            models_.append(model)
        out = self._scored(arm, models_, seed, t0, time.perf_counter(), curves)
        self._done[(arm, seed)] = out
        return out

    def run_group(self, arms: list[Arm], seed: int) -> list[Run]:
        """Lion's arms for one seed: one student imitates the pool, the referee finds the pool questions it fails
        (once per imitation length, for every arm), then each arm grows the pool its own way (new questions, the
        teacher's responses) and trains a copy of the student reads["steps"] more steps on it.

        Arms may imitate for different lengths (reads["imitation"] steps, default the config's steps: the Lion
        regime sweep): the one student imitates in stages, to the shortest length first, the referee passes, then it
        continues to the next length (a stage is a run of the loop, its own warmup and decay, data order seeded by
        the seed and the stage)."""
        if all((a, seed) in self._done for a in arms):
            return [self._done[(a, seed)] for a in arms]
        t0, first = time.perf_counter(), arms[0]
        pool, teacher = self.setup.lion_pool(first.reads["pool"]), first.settings["teacher"]
        pairs = self.data(first)[0][0]
        base, trained, curve, out = self.fresh(seed), 0, [], []
        lengths = sorted({int(a.reads.get("imitation", self.config["steps"])) for a in arms})
        for stage, length in enumerate(lengths):
            h = sft.train(
                base,
                self.setup.tokenizer,
                *pairs,
                config=self.train_config(seed + 1000 * stage, steps=length - trained),
            )
            curve += [(trained + s, v) for s, v in _curve(h)]
            trained = length
            hard = lion.discriminate(base, self.setup.tokenizer, pool, teacher)  # once per length, for every arm
            shared = time.perf_counter() - t0
            for arm in [a for a in arms if int(a.reads.get("imitation", self.config["steps"])) == length]:
                t1 = time.perf_counter()
                grown = lion.grow(pool, hard, lion.Settings(**{**arm.settings, "seed": seed}), device="cpu")
                model = copy.deepcopy(base)
                h2 = sft.train(
                    model,
                    self.setup.tokenizer,
                    *lion.training_pairs(grown, teacher)[:2],
                    config=self.train_config(seed, steps=arm.reads["steps"]),
                )
                run = self._scored(
                    arm,
                    [model],
                    seed,
                    t1 - shared,
                    time.perf_counter(),
                    {"loss/imitation": list(curve), "loss": _curve(h2)},
                    {
                        "pool": len(pool),
                        "hard": len(hard),
                        "new": len(grown) - len(pool),
                        "imitation": length,
                        "regime": arm.reads.get("regime"),
                    },
                )
                self._done[(arm, seed)] = run
                out.append(run)
        rank = {a.label: i for i, a in enumerate(arms)}
        return sorted(out, key=lambda r: rank[r.arm])

    def ran(self, arm: Arm, seed: int) -> bool:
        """Whether this arm has a run for this seed (trained here or remembered)."""
        return (arm, seed) in self._done

    def remember(self, arm: Arm, seed: int, run: Run) -> None:
        """Keep a run trained elsewhere (a worker process) as this arm's for this seed: ``run`` then returns it."""
        self._done[(arm, seed)] = run

    def untrained(self, arm: Arm, seed: int) -> dict:
        """The test metrics of the arm's students before training (fresh models, seeded as the run's): scored once
        per way of scoring, number of students and seed."""
        key = (SCORE[arm.method].__name__, len(self.data(arm)[0]), arm.reads.get("eval_k"), int(seed))
        if key not in self._step0:
            self._step0[key] = SCORE[arm.method]([self.fresh(seed) for _ in self.data(arm)[0]], self.setup, arm)[0]
        return self._step0[key]


def one_seed(experiment: SurveyExperiment, arms: list[Arm], seed: int) -> list:
    """The arms trained for one seed in this process (the one-seed run; the experiment keeps the runs, so the seeds
    that follow do not train them again)."""
    if experiment.setup.tokenizer is None:
        experiment.prepare([arms])
    return _arms.run(experiment, arms, [seed], processes=1)


def one_seed_figure(runs, seed: int):
    """The one-seed run's training curves (drawn in a cell of its own: a figure made inside a panel's callback
    reaches JupyterLab's Log Console instead of the panel)."""
    from labkit.lab import plots

    keys = list(dict.fromkeys(k for r in runs for k in r.curves))
    return plots.training_curves({r.arm: r.curves for r in runs}, keys, title=f"one seed ({seed}): training loss")


# --------------------------------------------------------------------------- claims and readings

# (claim id, metric, better arm, worse arm): the arms as the builders above name them (the Fine-tune-CoT arm of k
# paths is named by its k and T: filled in by ``claims_of``)
CLAIMS = {
    "finetune_cot": [("05.ftcot.diverse>single", "accuracy", "{diverse}", "k=1 (greedy)")],
    "scott": [
        ("05.scott.faithful", "faithfulness", "consistent only", "unfiltered"),
        ("05.scott.accuracy", "accuracy", "consistent only", "unfiltered"),
    ],
    "socratic": [("05.socratic>cot", "accuracy", "Socratic CoT (decomposer + solver)", "single CoT student")],
    "lion": [
        ("05.lion.hard>random", "accuracy", "Lion: like the failed questions", "control: like random pool questions")
    ],
    "icl": [
        ("05.icl.multitask>meta", "accuracy", "Multitask-ICT", "Meta-ICT"),
        ("05.icl.meta>ft", "accuracy", "Meta-ICT", "fine-tuning (no context)"),
    ],
}


def claims_of(runs: dict) -> list[dict]:
    """The claims of the miniatures that ran ({miniature: runs}), paired by seed on the test questions. Their
    "citation" (what the report prints after a claim) is the survey: the statement names the method's paper."""
    out = []
    for m, specs in CLAIMS.items():
        if m not in runs:
            continue
        diverse = next((a for a in _arms.arm_labels(runs[m]) if a != "k=1 (greedy)"), "")
        for cid, metric, better, worse in specs:
            better = better.format(diverse=diverse)
            out.append(_arms.claim(runs[m], cid, papers.statement("05", cid), metric, better, worse, citation=CITATION))
    return out


def learning(runs: dict) -> list[dict]:
    """lab.claims.learning on test accuracy for every miniature that ran ({miniature: runs}), each arm against its
    own untrained students (Run.step0); no chance level (the students write their answer)."""
    return [dict(x, arm=f"{m}: {x['arm']}") for m, rs in runs.items() for x in _arms.learning(rs, "accuracy")]


def numbers(runs: dict, data_tables: dict) -> dict:
    """The measured numbers the readings (papers.READINGS["05"]) quote: per-arm means over seeds, the data."""
    out = {}
    mean = lambda m, arm, metric: statistics.mean(_arms.values(runs[m], arm, metric).values())  # noqa: E731
    if "scott" in runs:
        out["faithful_unfiltered"] = mean("scott", "unfiltered", "faithfulness")
        out["faithful_consistent"] = mean("scott", "consistent only", "faithfulness")
        stats = {r["arm"]: r for r in data_tables.get("scott", [])}
        if "unfiltered" in stats:
            out["inconsistent_share"] = 1 - stats["unfiltered"]["consistent"] / max(stats["unfiltered"]["kept"], 1)
    if "finetune_cot" in runs:
        rows = data_tables.get("finetune_cot", [])
        out.update({f"kept_{i}": r.get("kept") for i, r in enumerate(rows)})
    if "lion" in runs:
        rs = [r for r in runs["lion"] if "hard" in r.extra]
        out["lion_hard"] = statistics.mean(r.extra["hard"] for r in rs) if rs else None
        out["lion_pool"] = rs[0].extra["pool"] if rs else None
    if "socratic" in runs:
        rows = {r["arm"]: r for r in data_tables.get("socratic", [])}
        two = rows.get("Socratic CoT (decomposer + solver)", {})
        single = rows.get("single CoT student", {})
        if two.get("decomposer pairs") and single.get("kept"):
            out["pairs_per_question"] = two["decomposer pairs"] / single["kept"]
    return out


def notes(claims: list[dict], numbers: dict | None = None, profile: str = "default") -> dict[str, str]:
    """{claim id: the measured effect and its reading} for notebook 05's claims that do not hold: the readings of
    papers.READINGS["05"] filled with `numbers`; they explain the default miniature, so other profiles get the
    general one ("*")."""
    R = papers.READINGS["05"]
    return _claims.not_holding(claims, R if profile == "default" else {}, R["*"], numbers)


# --------------------------------------------------------------------------- the profile


@dataclass(frozen=True)
class SurveyProfile(TrainingProfile):
    """Notebook 05's settings (labkit.lab.profiles.SURVEY): the student, the data, each miniature's knobs (seeds,
    seed, max_steps, lr, batch_size: profiles.TrainingProfile); checked once."""

    TABLE: ClassVar[dict] = _TABLE
    student: str = ""
    methods: list = field(default_factory=list, metadata=choices(*METHODS))
    method: str = field(default="finetune_cot", metadata=choices(*METHODS))
    dataset: str = ""
    task_steps: int = 1
    socratic_steps: int = 2
    noisy: str = ""
    clean: str = ""
    n_train: int = 0
    n_test: int = 0
    max_len: int = 0
    k_paths: int = 0
    temperature: float = 0.0
    scott_filter: bool = True
    icl_k: int = 0
    icl_epochs: int = 0
    n_source_tasks: int = 0
    n_target_tasks: int = 0
    n_target_train: int = 0
    n_target_valid: int = 0
    threads: int = 0
    lion_pool: int = 0
    lion_new: int = 0
    lion_steps: int = 0
    # the regime sweeps (labkit.lab.survey_regimes): each miniature's knob values and the value its paper's setting
    # corresponds to (where the headline claim is, with headline_seeds)
    ftcot_n_train: list = field(default_factory=list)
    ftcot_paper: int = 0
    scott_noise: list = field(default_factory=list)
    scott_paper: float = 0.0
    socratic_task_steps: list = field(default_factory=list)
    socratic_paper: int = 0
    lion_imitation: list = field(default_factory=list)  # imitation steps as multiples of max_steps
    lion_paper: float = 0.0
    headline_seeds: list = field(default_factory=list)

    def check(self) -> None:
        super().check()
        if len(self.seeds) < 2:
            self.fail("seeds", "at least 2 distinct integers (claims need an interval)")
        if len(self.headline_seeds) < 2 or len(set(self.headline_seeds)) != len(self.headline_seeds):
            self.fail("headline_seeds", "at least 2 distinct integers (the seeds of the headline claims)")
        knobs = (
            ("ftcot_n_train", "ftcot_paper", lambda v: isinstance(v, int) and 1 <= v <= 2000, "integers 1..2000"),
            ("scott_noise", "scott_paper", lambda v: isinstance(v, (int, float)) and 0 <= v <= 1, "rates in [0, 1]"),
            ("socratic_task_steps", "socratic_paper", lambda v: isinstance(v, int) and 1 <= v <= 6, "integers 1..6"),
            (
                "lion_imitation",
                "lion_paper",
                lambda v: isinstance(v, (int, float)) and v > 0,
                "multiples of max_steps > 0",
            ),
        )
        for name, paper, ok, what in knobs:
            values = getattr(self, name)
            if not values or not all(ok(v) and not isinstance(v, bool) for v in values):
                self.fail(name, f"a non-empty list of {what}")
            if len(set(values)) != len(values) or list(values) != sorted(values):
                self.fail(name, "distinct values in increasing order")
            if getattr(self, paper) not in values:
                self.fail(paper, f"one of {name}={values} (the paper's regime must be swept)")
        _spec(self.student)
        for name in ("n_train", "n_test", "k_paths", "icl_k", "icl_epochs", "lion_pool", "lion_steps"):
            if getattr(self, name) < 1:
                self.fail(name, "an integer >= 1")
        if self.temperature < 0:
            self.fail("temperature", "a number >= 0")
        if not 0 < self.lion_pool <= self.n_train:
            self.fail("lion_pool", f"1..n_train={self.n_train} (the pool is the first training questions)")

    @property
    def config(self) -> dict:
        """The optimiser settings of every student (labkit.loop.TrainConfig fields)."""
        return dict(lr=self.lr, steps=self.max_steps, batch_size=self.batch_size, max_len=self.max_len, bf16=False)
