"""Notebooks 01/02: named arms (which tasks, whose labels, how much data) trained over seeds, in parallel.

    S = students.prepare("synthetic:arithmetic", ["noisy-oracle@p=0.2"], student="scratch@layers=2,hidden=64",
                         n_train=1000, n_valid=200, n_test=200, task_steps=1)
    arms = {"fine-tuning": students.arm({"answer": 1.0}), "step-by-step": students.arm(
            {"answer": 1.0, "rationale:noisy-oracle@p=0.2": 1.0})}
    rows = students.run_arms(S, arms, seeds=[0, 1, 2], config=dict(lr=3e-3, steps=400, batch_size=32))
    students.by_seed(rows, "step-by-step")          # {seed: test accuracy}

Students:
    "scratch@layers=L,hidden=H[,heads=A,vocab=V]"  a labkit.tiny Llama built from scratch (seeded by the run
        seed) on a byte-level BPE tokenizer trained once on the task's own text (prompts, answers,
        rationales). The CPU budget of the default profile is too small for a pretrained student to
        learn the task (issue 12), a from-scratch tiny student learns it in a few hundred steps.
    anything else: labkit.models.load_model / load_tokenizer (pretrained students: "real", "paper").

Every run scores the answer task (option scoring / parsed answers, labkit.evaluate.accuracy) on the
validation and test splits at step 0 (untrained) and at the end, optionally on validation every
`eval_every` steps (run_loop's on_step hook), so a notebook shows that each arm learned. Settings are
chosen on validation; notebooks report test.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

from labkit import data, evaluate, models, prompts, rationales, tiny
from labkit.errors import LabkitError
from labkit.lab import claims as _claims
from labkit.lab.parallel import map_runs
from labkit.loop import TrainConfig
from labkit.methods.base import train_multitask

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
            raise LabkitError(f"parameter student={student!r}: expected scratch@layers=L,hidden=H[,heads=A,vocab=V] "
                              f"with integer values; unknown or bad {part!r}")
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
            out.append(prompts.student_prompt(r, f"rationale:{t}") + (prompts.student_target(r, f"rationale:{t}") or ""))
            out.append(prompts.student_target(r, "answer", t) or "")
    return out


def prepare(dataset: str, teachers: list, *, student: str, n_train: int, n_valid: int, n_test: int,
            seed: int = 0, data_dir=None, task_steps: int | None = None, template: str = "teacher_forced",
            k: int = 2, device: str = "auto", max_new_tokens: int = 64, progress: bool = False) -> Setup:
    """Load the splits, attach each teacher's rationale and label to the training records, build the tokenizer."""
    kw = dict(data_dir=data_dir or None, seed=seed)
    if dataset.startswith("synthetic:") and task_steps:
        kw["steps"] = int(task_steps)
    splits = data.splits_of(dataset)
    if "valid" in splits:
        train = data.load_dataset(dataset, "train", n=n_train, **kw)
        valid = data.load_dataset(dataset, "valid", n=n_valid, **kw) if n_valid else []
    else:   # no valid split (distilling step-by-step's CQA/SVAMP): hold out the n_valid training rows after train
        rows = data.load_dataset(dataset, "train", n=n_train + n_valid if n_train else None, **kw)
        n_fit = n_train or len(rows) - n_valid
        if n_fit <= 0 or len(rows) < n_fit + n_valid:
            raise LabkitError(f"dataset {dataset!r} has {len(rows)} training rows: too few for n_train={n_train} "
                              f"plus n_valid={n_valid} held out for validation (it has no valid split)")
        train, valid = rows[:n_fit], rows[n_fit:n_fit + n_valid]
    test = data.load_dataset(dataset, "test", n=n_test, **kw)
    stats = {}
    if teachers:
        res = rationales.generate_rationales(list(teachers), train, template=template, k=k, seed=seed,
                                             device=device, max_new_tokens=max_new_tokens, progress=progress)
        train, stats = res.attach(train), res.stats
    spec = parse_scratch(student)
    tok = (tiny.train_tokenizer(task_corpus(train, teachers), vocab_size=spec["vocab"]) if spec
           else models.load_tokenizer(student))
    chance = statistics.mean(1 / len(r.choices) for r in test) if test and test[0].choices else None
    acc = {t: evaluate.teacher_label_accuracy(train, t)[0] for t in teachers}
    return Setup(list(train), list(valid), list(test), student, tok, list(teachers), chance, acc, stats)


def arm(tasks: dict, labels: str = "gold", fraction: float = 1.0) -> dict:
    """An arm: tasks {"answer": 1.0, "rationale:<teacher>": weight, ...}, labels ("gold" or a teacher name),
    and the fraction of the training records it sees (the first fraction * n_train)."""
    if "answer" not in tasks:
        raise LabkitError(f"arm tasks {tasks}: the answer task is what is scored; include 'answer'")
    if not 0 < fraction <= 1:
        raise LabkitError(f"arm fraction={fraction!r}: expected 0 < fraction <= 1")
    return {"tasks": dict(tasks), "labels": labels, "fraction": float(fraction)}


def _new_student(setup: Setup, seed: int, device: str):
    spec = parse_scratch(setup.student)
    if spec:
        return tiny.tiny_causal_lm(setup.tokenizer, n_layers=spec["layers"], hidden=spec["hidden"],
                                   heads=spec["heads"], seed=seed)
    return models.load_model(setup.student, device=device)


def _score(model, setup: Setup, records, device) -> float | None:
    if not records:
        return None
    model.eval()
    acc = evaluate.accuracy(model, setup.tokenizer, records, device=device, batch_size=64, bf16="auto")
    model.train()
    return acc


def train_arm(setup: Setup, name: str, spec: dict, seed: int, config: dict, *, eval_every: int = 0,
              device: str = "cpu", step0: dict | None = None) -> dict:
    """Train one fresh student on one arm with one seed; score it at step 0 and at the end.

    step0: the untrained student's {"valid", "test"} scores when already known (a pretrained student starts
    the same in every arm and seed: run_jobs scores it once); None scores this run's own initialisation.
    Returns {"arm", "seed", "fraction", "n_train", "step0": {"valid" (None unless eval_every), "test"},
    "final": {"valid", "test"}, "accuracy" (final test), "curve" [(step, valid accuracy)] (with eval_every), "final_loss", "train_seconds", "eval_seconds"}.
    """
    subset = setup.train[: max(1, round(spec["fraction"] * len(setup.train)))]
    cfg = TrainConfig(**{"progress": False, "device": device, **config, "seed": seed})
    model = _new_student(setup, seed, device)
    t_eval = [0.0]

    def scored(records):
        t = time.perf_counter()
        acc = _score(model, setup, records, device)
        t_eval[0] += time.perf_counter() - t
        return acc

    # step 0 on validation only for a learning curve; the notebooks show step 0 on test
    if step0 is None:
        step0 = {"valid": scored(setup.valid) if eval_every else None, "test": scored(setup.test)}
    curve = [(0, step0["valid"])] if setup.valid and eval_every else []

    def on_step(step, history):
        if eval_every and setup.valid and step % eval_every == 0 and step < cfg.steps:
            curve.append((step, scored(setup.valid)))

    t0, e0 = time.perf_counter(), t_eval[0]
    history = train_multitask(model, setup.tokenizer, subset, spec["tasks"], label_source=spec["labels"],
                              config=cfg, on_step=on_step)
    train_s = time.perf_counter() - t0 - (t_eval[0] - e0)        # the curve's evaluations are not training
    final = {"valid": scored(setup.valid), "test": scored(setup.test)}
    if setup.valid and eval_every:
        curve.append((cfg.steps, final["valid"]))
    return {"arm": name, "seed": seed, "fraction": spec["fraction"], "n_train": len(subset), "step0": dict(step0),
            "final": final, "accuracy": final["test"], "curve": curve, "final_loss": history.last("loss"),
            "train_seconds": round(train_s, 2), "eval_seconds": round(t_eval[0], 2)}


def untrained(setup: Setup, *, eval_every: int = 0, device: str = "cpu") -> dict | None:
    """The untrained student's {"valid", "test"} scores when every run starts from the same weights (a pretrained
    student: scored once here instead of once per run); None for a from-scratch student (its init is the seed's)."""
    if parse_scratch(setup.student):
        return None
    model = _new_student(setup, 0, device)
    return {"valid": _score(model, setup, setup.valid, device) if eval_every else None,
            "test": _score(model, setup, setup.test, device)}


def run_arms(setup: Setup, arms: dict, seeds, config: dict, *, eval_every: int = 0, device: str = "cpu",
             processes: int | None = None) -> list[dict]:
    """train_arm for every (arm, seed) (run_jobs with the same seeds for every arm)."""
    return run_jobs(setup, {n: (a, list(seeds)) for n, a in arms.items()}, config, eval_every=eval_every,
                    device=device, processes=processes)


def by_seed(rows, arm_name: str, split: str = "test", when: str = "final") -> dict:
    """{seed: accuracy} of one arm."""
    got = {r["seed"]: r[when][split] for r in rows if r["arm"] == arm_name}
    if not got:
        raise LabkitError(f"no runs of arm {arm_name!r}; arms: {sorted({r['arm'] for r in rows})}")
    return got


def learning(rows, arms=None, chance: float | None = None) -> list[dict]:
    """lab.claims.learning on test accuracy: each arm (≥ 2 seeds) after training vs its untrained step 0 and chance."""
    names = [a for a in (arms or dict.fromkeys(r["arm"] for r in rows)) if len({r["seed"] for r in rows if r["arm"] == a}) > 1]
    return _claims.learning({a: by_seed(rows, a) for a in names},
                            {a: statistics.mean(by_seed(rows, a, when="step0").values()) for a in names},
                            "test accuracy", chance)


LEARNING_WHY = {
    "01": {"fine-tuning": "the answer-only arms learn late: on validation they cross from chance between steps 500 and "
                          "1,000 (benchmarks/RESULTS.md, 'when do the answer-only arms learn?'); below 1,000 steps "
                          "some seeds are still at chance.",
           "distillation": "the answer-only arms learn late, and on the noisy teacher's labels (≈ 79 % right) later "
                           "still: on validation 0.40 at 750 steps, 0.63 at 1,000 (benchmarks/RESULTS.md)."},
    "02": {"label only": "the answer-only student learns late: on validation it is at 0.27 after 360 steps and "
                         "0.84 after a 1,000-step run (benchmarks/RESULTS.md); notebook 02 keeps 360 steps, what its "
                         "three-task arms fit in about 3 minutes, because its other comparisons are between "
                         "rationale arms, which have all learned by then."},
}


def learning_metrics(rows, notebook: str, profile: str = "default", arms=None, chance: float | None = None) -> dict:
    """{"learning", "not_learning"} of notebook "01" or "02" for metrics.json: `learning(rows, arms, chance)` and the
    reading of each arm that does not learn (at profile "real" REAL_WHY; at "default" LEARNING_WHY, written for that
    miniature; elsewhere what the numbers say)."""
    return _claims.learning_metrics(learning(rows, arms, chance), LEARNING_WHY[notebook] if profile == "default" else {},
                                    REAL_WHY[notebook] if profile == "real" else "")


def summary(rows, arms=None, chance: float | None = None) -> list[dict]:
    """One row per arm: step-0 and final test accuracy (mean, sd over seeds, per seed), final valid mean,
    the gain over step 0 and over chance, seconds per run."""
    out = []
    for name in arms or list(dict.fromkeys(r["arm"] for r in rows)):
        rs = sorted((r for r in rows if r["arm"] == name), key=lambda r: r["seed"])
        fin = [r["final"]["test"] for r in rs]
        s0 = [r["step0"]["test"] for r in rs]
        val = [r["final"]["valid"] for r in rs if r["final"]["valid"] is not None]
        sd = statistics.stdev(fin) if len(fin) > 1 else 0.0
        out.append({"arm": name, "n_seeds": len(rs), "n_train": rs[0]["n_train"],
                    "step0_test": statistics.mean(s0), "final_test": statistics.mean(fin), "final_test_sd": sd,
                    "final_valid": statistics.mean(val) if val else math.nan,
                    "per_seed_test": [round(v, 3) for v in fin],
                    "gain_over_step0": statistics.mean(fin) - statistics.mean(s0),
                    "gain_over_chance": statistics.mean(fin) - chance if chance is not None else math.nan,
                    "train_seconds": statistics.mean(r["train_seconds"] for r in rs)})
    return out


def paired_claim(rows, id: str, text: str, better: str, worse: str, split: str = "test") -> dict:
    """lab.claims.claim on the arms' final accuracies, paired by seed."""
    return _claims.claim(id, text, f"{split} accuracy", better, worse,
                         better_values=by_seed(rows, better, split), worse_values=by_seed(rows, worse, split))


def against_constant(rows, id: str, text: str, better: str, value: float, worse_label: str,
                     split: str = "test") -> dict:
    """A claim that an arm beats a fixed number (e.g. its teacher's label accuracy): effect per seed = arm - value."""
    got = by_seed(rows, better, split)
    return _claims.claim(id, text, f"{split} accuracy", better, worse_label,
                         [got[s] - value for s in sorted(got)])


def claim_table(claims) -> list[dict]:
    """Claims as short rows for display: id, holds, mean, 95% CI, per-seed effects."""
    return [{"id": c["id"], "holds": "✓" if c["holds"] else "✗", "mean": round(c["mean"], 3),
             "ci95": [round(c["ci95"][0], 3), round(c["ci95"][1], 3)], "per seed": [round(v, 3) for v in c["values"]],
             "better": c["better"], "worse": c["worse"]} for c in claims]


def check_seeds(seeds, name: str = "seeds") -> list[int]:
    """seeds: a non-empty list of distinct integers (≥ 2 for a confidence interval)."""
    if (not isinstance(seeds, (list, tuple)) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds) or len(set(seeds)) != len(seeds)):
        raise LabkitError(f"parameter {name}={seeds!r}: expected a non-empty list of distinct integers, e.g. [0, 1, 2]")
    return list(seeds)


def dss_arms(teacher: str, lam: float, fractions=(1.0,), sweep_fine_tuning: bool = True) -> dict:
    """Notebook 01's arms (Hsieh et al., 2023): fine-tuning (gold labels), distillation (teacher labels),
    step-by-step with the teacher's labels (the paper's distillation setting) and with gold labels (its
    fine-tuning setting), and, for each fraction < 1, step-by-step (gold) and (sweep_fine_tuning) fine-tuning
    on that fraction (the less-data claim compares step-by-step on a fraction with fine-tuning on all)."""
    r = f"rationale:{teacher}"
    arms = {"fine-tuning": arm({"answer": 1.0}), "distillation": arm({"answer": 1.0}, teacher),
            "step-by-step": arm({"answer": 1.0, r: lam}, teacher),
            "step-by-step (gold labels)": arm({"answer": 1.0, r: lam})}
    for f in sorted(set(fractions)):
        if f < 1:
            if sweep_fine_tuning:
                arms[f"fine-tuning @{f:g}"] = arm({"answer": 1.0}, fraction=f)
            arms[f"step-by-step (gold labels) @{f:g}"] = arm({"answer": 1.0, r: lam}, fraction=f)
    return arms


def tinyllm_arms(alpha_of: dict, ablate: bool = True) -> dict:
    """Notebook 02's arms (Tian et al., 2024): the full method (gold answer + Σ α_m · rationale of T_m),
    label-only fine-tuning, and (ablate=True, two or more teachers) w/o each teacher."""
    def tasks(alphas):
        return {"answer": 1.0, **{f"rationale:{t}": a for t, a in alphas.items()}}
    arms = {"TinyLLM (full)": arm(tasks(alpha_of)), "label only (fine-tuning)": arm({"answer": 1.0})}
    if ablate and len(alpha_of) > 1:
        for t in alpha_of:
            arms[f"w/o {t}"] = arm(tasks({u: a for u, a in alpha_of.items() if u != t}))
    return arms


def template_agreement(teacher: str, records, *, pool=None, k: int = 2, seed: int = 0, device: str = "auto",
                       max_new_tokens: int = 48, progress: bool = False) -> dict:
    """TinyLLM's teacher-forcing check for one (live) teacher: rationales with the plain CoT prompt and with
    the teacher-forced prompt (gold answer shown), each checked against the gold answer
    (labkit.rationales.consistency). Returns {"cot": rate, "teacher_forced": rate, "per_question":
    [agree_tf - agree_cot per question], "examples": first record's two rationales}."""
    agree, texts = {}, {}
    for template in ("cot", "teacher_forced"):
        res = rationales.generate_rationales([teacher], records, template=template, pool=pool, k=k, seed=seed,
                                             device=device, max_new_tokens=max_new_tokens, progress=progress)
        attached = res.attach(records)
        kept = set(rationales.consistency(attached, teacher)["kept_ids"])
        agree[template] = [1.0 if r.id in kept else 0.0 for r in attached]
        texts[template] = attached[0].rationales.get(teacher, "") if attached else ""
    n = max(len(records), 1)
    return {"teacher": teacher, "n": len(records), "cot": sum(agree["cot"]) / n,
            "teacher_forced": sum(agree["teacher_forced"]) / n,
            "per_question": [a - b for a, b in zip(agree["teacher_forced"], agree["cot"])], "examples": texts}


def dss_claims(rows, teacher: str, teacher_accuracy: float, fractions) -> list[dict]:
    """Notebook 01's claims (Hsieh et al., 2023), paired by seed on the test split."""
    h = "Hsieh et al., 2023"
    out = [paired_claim(rows, "dss>ft", f"Distilling step-by-step (gold labels + rationales) beats standard fine-tuning "
                        f"at equal data ({h}, §4.1, Fig. 4)", "step-by-step (gold labels)", "fine-tuning"),
           paired_claim(rows, "dss>kd", f"Distilling step-by-step (teacher labels + rationales) beats standard task "
                        f"distillation (teacher labels) at equal data ({h}, §4.1, Fig. 5)", "step-by-step", "distillation")]
    small = min(fractions)
    if small < 1:
        out.append(paired_claim(rows, "dss@less-data>ft@all", f"Distilling step-by-step on {small:.0%} of the data beats "
                                f"standard fine-tuning on 100 % ({h}, abstract and §4.1)",
                                f"step-by-step (gold labels) @{small:g}", "fine-tuning"))
    out.append(against_constant(rows, "student>teacher", f"The step-by-step student (trained on the teacher's labels) "
                                f"outperforms its teacher ({h}, abstract: a 770M T5 beats few-shot PaLM-540B)",
                                "step-by-step", teacher_accuracy, f"teacher {teacher}"))
    return out


DSS_WHY = {
    "student>teacher": "the student trained on the noisy teacher's labels (right on ≈ 79 % of the questions) reaches "
                       "about its teacher's label accuracy but not clearly above it at this budget; the paper's students "
                       "that beat the teacher are pretrained T5 models trained for thousands of steps.",
    "dss": "at the default budget every arm learns (see the learning table), so step-by-step's lead is what remains once the "
           "answer-only arms have left chance: smaller than at 500 steps, where they had not (benchmarks/RESULTS.md), "
           "and with 3 seeds the Student-t interval (t = 4.30) is wide next to the seed-to-seed spread of the "
           "answer-only arms.",
}


REAL_WHY = {  # profile "real": notebooks 01/02 on the papers' data with a pretrained student, a few dozen steps
    "01": "at profile 'real' the pretrained student (SmolLM2-135M-Instruct) does not learn CQA within the steps that "
          "fit a CPU notebook: every arm ends at or below its step 0 (on held-out validation rows too, benchmarks/"
          "RESULTS.md 'The real profile'), so the arms differ by how much they lose, within the seed spread; the paper "
          "trains 220M-11B T5 students for thousands of steps.",
    "02": "at profile 'real' the students leave their step 0 on OBQA (the learning table), but the rationale losses "
          "(α per teacher, sequences several times longer than the answer) share the few updates that fit a CPU with "
          "the answer loss and add nothing measurable yet; the seed-to-seed spread (from the data order) is larger "
          "than the arms' differences, and LLaMA-2's recorded rationales often state no answer or another one (the "
          "teachers table). The paper trains FLAN-T5 students for an epoch on GPUs.",
}


def dss_notes(claims, profile: str = "default") -> dict[str, str]:
    """Notebook 01: {claim id: the measured effect and why it may not hold here} for the claims that do not hold."""
    if profile == "real":
        return _claims.not_holding(claims, {}, REAL_WHY["01"])
    return _claims.not_holding(claims, DSS_WHY, "the effect is smaller than the seed-to-seed spread at this budget.")


TINYLLM_WHY = {
    "teacher-forced>cot": "a 135M-parameter live teacher rarely uses the gold answer it is shown, and n_live questions "
                          "are few; TinyLLM's teachers are 3B-7B models.",
    "full>w/o": "the scripted teachers write rationales from the same gold steps (one with noise), so a teacher "
                "removed takes little information with it.",
    "full>label-only": "the label-only student barely leaves chance within this budget.",
    "alpha": "the α curve is flat within the seed spread at this budget.",
}


def tinyllm_notes(claims, profile: str = "default") -> dict[str, str]:
    """Notebook 02: {claim id: the measured effect and why it may not hold here} for the claims that do not hold."""
    if profile == "real":
        return _claims.not_holding(claims, {k: v for k, v in TINYLLM_WHY.items() if k == "teacher-forced>cot"},
                                   REAL_WHY["02"])
    return _claims.not_holding(claims, TINYLLM_WHY, "the effect is smaller than the seed-to-seed spread at this budget.")


def tinyllm_jobs(arms: dict, alpha_of: dict, alpha_grid, alpha_seeds, seeds) -> dict:
    """Notebook 02's runs: {name: (arm, seeds)}: every arm of tinyllm_arms over `seeds`, plus one arm "α=a"
    (all teachers at α = a) for each α of `alpha_grid` over `alpha_seeds` (skipped where it equals a uniform
    full-run α, which is then the full run itself)."""
    teachers = list(alpha_of)
    uniform = len(set(alpha_of.values())) == 1
    jobs = {n: (a, list(seeds)) for n, a in arms.items()}
    for a in alpha_grid:
        if not (uniform and a == next(iter(alpha_of.values()))):
            jobs[f"α={a:g}"] = (arm({"answer": 1.0, **{f"rationale:{t}": a for t in teachers}}), list(alpha_seeds))
    return jobs


def run_jobs(setup: Setup, jobs: dict, config: dict, *, eval_every: int = 0, device: str = "cpu",
             processes: int | None = None) -> list[dict]:
    """train_arm for {name: (arm, seeds)}: all (arm, seed) pairs in one pool of one-thread workers (lab.parallel),
    longest arms first (rationale arms cost most), so both cores stay busy; a pretrained student's step 0 is
    scored once (``untrained``). Rows come back in the order of the jobs."""
    step0 = untrained(setup, eval_every=eval_every, device=device)
    flat = [dict(setup=setup, name=n, spec=a, seed=int(s), config=config, eval_every=eval_every, device=device,
                 step0=step0) for n, (a, ss) in jobs.items() for s in ss]
    order = sorted(range(len(flat)), key=lambda i: -len(flat[i]["spec"]["tasks"]))
    results = map_runs(train_arm, [flat[i] for i in order], processes=processes)
    back = [None] * len(flat)
    for i, r in zip(order, results):
        back[i] = r
    return back


def tinyllm_table(rows, arms: dict, jobs: dict, chance, teachers, kinds: dict) -> tuple[list, list]:
    """(order of arms, summary rows) for notebook 02, with "w/o in-context" as a run arm when it was trained,
    else as a not-applicable row that says why (scripted/recorded teachers generate nothing from a prompt)."""
    trained_wo = any(r["arm"] == "w/o in-context" for r in rows)
    order = list(arms) + (["w/o in-context"] if trained_wo else []) + [n for n in jobs if n not in arms]
    table = summary(rows, order, chance=chance)
    if not trained_wo:
        table.append({"arm": "w/o in-context", "status": "not applicable",
                      "why": f"teachers {teachers} are {sorted(set(kinds.values()))}: their rationales are not "
                             f"generated from an in-context prompt here, so there is nothing to remove"})
    return order, table


def alpha_rows(rows, alpha_of: dict) -> list[dict]:
    """Notebook 02's α curve: the runs with one α for all teachers (label-only = α 0, the full run when its α
    is uniform, the "α=a" arms), each with its "alpha" and curve name."""
    uniform = len(set(alpha_of.values())) == 1
    value = {"label only (fine-tuning)": 0.0, "TinyLLM (full)": next(iter(alpha_of.values())) if uniform else None}
    return [dict(r, alpha=value.get(r["arm"]) if not r["arm"].startswith("α=") else float(r["arm"][2:]),
                 curve_name="α for all teachers") for r in rows
            if r["arm"].startswith("α=") or value.get(r["arm"]) is not None]


def alpha_means(arows) -> dict:
    """{"α": mean test accuracy over the seeds run at that α}."""
    return {f"{a:g}": statistics.mean(r["final"]["test"] for r in arows if r["alpha"] == a)
            for a in sorted({r["alpha"] for r in arows})}


def tinyllm_claims(rows, teachers, arms: dict, alpha_of: dict, alpha_grid, alpha_seeds, seeds) -> list[dict]:
    """Notebook 02's student claims (Tian et al., 2024), paired by seed on the test split: full > label-only,
    full > w/o each teacher, full > w/o in-context (when trained), and α_full > each other α of the grid
    (over the seeds both were run with, at least 2)."""
    tian = "Tian et al., 2024"
    out = [paired_claim(rows, "full>label-only", f"TinyLLM (answer + rationales of all teachers) beats label-only "
                        f"fine-tuning ({tian}, Table 2)", "TinyLLM (full)", "label only (fine-tuning)")]
    out += [paired_claim(rows, f"full>w/o {t}", f"TinyLLM beats its ablation without teacher {t} ({tian}, ablation "
                         f"study, Table 3)", "TinyLLM (full)", f"w/o {t}") for t in teachers if f"w/o {t}" in arms]
    if any(r["arm"] == "w/o in-context" for r in rows):
        out.append(paired_claim(rows, "full>w/o in-context", f"TinyLLM beats its ablation without in-context "
                                f"examples ({tian}, Table 3)", "TinyLLM (full)", "w/o in-context"))
    full_alpha = next(iter(alpha_of.values())) if len(set(alpha_of.values())) == 1 else None
    common = sorted(set(alpha_seeds) & set(seeds))
    for a in (alpha_grid if full_alpha is not None and len(common) >= 2 else []):
        if a != full_alpha:   # α_full beating both a smaller and a larger α = an interior optimum
            full, other = by_seed(rows, "TinyLLM (full)"), by_seed(rows, f"α={a:g}")
            out.append(_claims.claim(
                f"alpha {full_alpha:g}>{a:g}", f"α-sensitivity: α={full_alpha:g} beats α={a:g} (the best α is "
                f"interior and data-dependent; {tian}, Fig. 4)", "test accuracy", f"α={full_alpha:g}", f"α={a:g}",
                better_values={s: full[s] for s in common}, worse_values={s: other[s] for s in common}))
    return out
