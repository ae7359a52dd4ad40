"""Notebook 05: the survey's map of LLM distillation, and miniatures of the methods notebooks 01-04 do not run.

    lk.lab.survey.taxonomy_figure()                       # the map, each box naming where the lab teaches it
    S = lk.lab.survey.cot_setup(n_train=600, n_test=200, task_steps=2, teacher="noisy-oracle@p=0.3")
    rows = lk.lab.survey.run(S, lk.lab.survey.finetune_cot_arms(k=4, temperature=1.0), seeds=[0, 1, 2],
                             student="scratch@layers=2,hidden=64", config=dict(lr=3e-3, steps=300, batch_size=16))

Each miniature trains from-scratch tiny students (labkit.lab.students.parse_scratch) on prompt -> target
pairs that a method module of labkit.methods builds (finetune_cot, scott, socratic, icl), one process per
(arm, seed) on the CPU's cores (labkit.lab.parallel), and scores them on the test split with the method's
own reading of the student's output. An arm is {"pairs": fn(seed) -> (prompts, targets) per student,
"score": fn(models) -> {metric: value}}; the runner trains one fresh student per entry of "pairs".
"""
from __future__ import annotations

import dataclasses
import random
import statistics
import time
from dataclasses import dataclass, field

from labkit import data, rationales, tiny
from labkit.data import Record
from labkit.errors import LabkitError
from labkit.lab import claims as _claims
from labkit.lab.parallel import map_runs
from labkit.lab.students import parse_scratch
from labkit.loop import TrainConfig
import copy

from labkit.methods import finetune_cot, icl, lion, scott, sft, socratic

# --------------------------------------------------------------------------- the map

SURVEY = ("Zhu, Li, Liu, Ma & Wang, *A Survey on Model Compression for Large Language Models*, "
          "arXiv:2308.07633 (2023; TACL 2024), §3 Knowledge Distillation")

CITATION = "as mapped by Zhu et al., arXiv:2308.07633, §3"

# (branch, family, method, one line, where the lab runs it)
MAP = [
    ("Standard KD", "", "MiniLLM", "reverse KL on the student's own samples", "03_minillm_reverse_kl"),
    ("Standard KD", "", "GKD", "on-policy data, generalised JSD_β", "04_gkd_on_policy"),
    ("Standard KD", "", "forward vs reverse KL", "mode covering vs mode seeking", "00_kl_mode_seeking"),
    ("EA-based KD", "In-context learning", "Meta-ICT", "ICL training on source tasks", "05_survey_map §4"),
    ("EA-based KD", "In-context learning", "Multitask-ICT", "ICL training on the target tasks", "05_survey_map §4"),
    ("EA-based KD", "Chain of thought", "MT-CoT", "explanations as a second task", "01_distilling_step_by_step (same loss)"),
    ("EA-based KD", "Chain of thought", "Fine-tune-CoT", "k sampled reasoning paths", "05_survey_map §1"),
    ("EA-based KD", "Chain of thought", "Distilling step-by-step", "rationales as a multi-task signal", "01_distilling_step_by_step"),
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
        ax.add_patch(FancyBboxPatch((x, y - 0.34), w, 0.68, boxstyle="round,pad=0.02,rounding_size=0.12",
                                    fc=color, ec="#444", lw=0.8))
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
                ax.text(8.75, y - 0.19, f"→ {where}" if run else "(described, not run here)", fontsize=8,
                        va="center", color="#2a7a2a" if run else "#888", style="italic")
    ax.set_title("Knowledge distillation of LLMs: the survey's map, and where this lab runs each method",
                 fontsize=11)
    ax.legend(handles=[Patch(fc="#d9f0d3", ec="#444", label="run in this lab (→ notebook, § section)"),
                       Patch(fc="#eeeeee", ec="#444", label="in the survey, not run here")],
              loc="lower left", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


TABLE = [
    {"method": "Fine-tune-CoT", "teacher provides": "k sampled reasoning paths per question",
     "student learns": "question → reasoning → answer", "loss": "CE on the correct paths", "runs in": "05 §1"},
    {"method": "SCOTT", "teacher provides": "rationales consistent with the gold answer",
     "student learns": "question → rationale → answer", "loss": "CE on rationale ⊕ answer", "runs in": "05 §2"},
    {"method": "Socratic CoT", "teacher provides": "sub-questions and their answers",
     "student learns": "decomposer: next sub-question; solver: its answer", "loss": "CE, one per student",
     "runs in": "05 §3"},
    {"method": "Meta-ICT / Multitask-ICT", "teacher provides": "labels of in-context queries",
     "student learns": "answer from k demonstrations", "loss": "CE on the query's label", "runs in": "05 §4"},
    {"method": "Lion", "teacher provides": "responses; judges the student's; new questions like the hard ones",
     "student learns": "the teacher's responses on a pool that grows where it fails", "loss": "CE on the pool",
     "runs in": "05 §5"},
    {"method": "Distilling step-by-step / MT-CoT", "teacher provides": "rationale + label",
     "student learns": "label and rationale as two tasks", "loss": "L_label + λ L_rationale", "runs in": "01"},
    {"method": "TinyLLM", "teacher provides": "rationales of several teachers",
     "student learns": "answer + each teacher's rationale", "loss": "L_label + Σ α_m L_m", "runs in": "02"},
    {"method": "MiniLLM", "teacher provides": "token distributions", "student learns": "its own samples, judged",
     "loss": "reverse KL (policy gradient)", "runs in": "03"},
    {"method": "GKD", "teacher provides": "token distributions on student samples",
     "student learns": "on-policy sequences", "loss": "JSD_β", "runs in": "04"},
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


COLORS = ["red", "blue", "green", "yellow"]
ITEMS = ["apple", "ball", "book", "chair", "clock", "coin", "cup", "drum", "fork", "hat", "kite", "lamp",
         "pen", "ring", "shoe", "vase"]


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
                out.append(Record(id=f"{prefix}{t}-{item}-{j}", question=phrase.format(item=item), answer=rule[item],
                                  choices=list(COLORS), meta={"task": f"{prefix}{t}", "item": item}))
    return out


def cot_setup(*, n_train: int, n_test: int, task_steps: int, teachers, dataset: str = "synthetic:arithmetic",
              seed: int = 0, eval_split: str = "test") -> Setup:
    """Synthetic questions with each teacher's rationale attached to the training split; `n_test` questions of
    `eval_split` ("valid" to choose settings, "test" to report) to score the students on."""
    kw = {"seed": seed, "steps": task_steps}
    # the students answer by generating (no options to score), so the questions go without their options
    train = [dataclasses.replace(r, choices=None) for r in data.load_dataset(dataset, "train", n=n_train, **kw)]
    test = [dataclasses.replace(r, choices=None) for r in data.load_dataset(dataset, eval_split, n=n_test, **kw)]
    train = rationales.generate_rationales(list(teachers), train, progress=False).attach(train)
    return Setup(train, test, info={"teachers": list(teachers), "dataset": dataset, "task_steps": task_steps})


def icl_setup(*, n_source: int, n_target: int, n_target_train: int, n_target_valid: int = 0, seed: int = 0,
              eval_split: str = "test") -> Setup:
    """Meta-ICT's source tasks (all items) and the target tasks: per target task, n_target_train items for training
    (Multitask-ICT, fine-tuning), n_target_valid held-out items to choose settings on (eval_split="valid"), the
    rest for test. Every target item is in the support set that demonstrations come from."""
    source = lookup_tasks(n_source, seed=seed, prefix="source")
    target = lookup_tasks(n_target, seed=seed, prefix="target")
    if not (0 < n_target_train and n_target_valid >= 0 and n_target_train + n_target_valid < len(ITEMS)):
        raise LabkitError(f"n_target_train={n_target_train}, n_target_valid={n_target_valid}: expected n_target_train "
                          f">= 1 and both together < {len(ITEMS)} items, leaving some for test")
    rng = random.Random(f"icl-split|{seed}")
    order = {t: rng.sample(ITEMS, len(ITEMS)) for t in sorted({r.meta["task"] for r in target})}

    def part(r):
        i = order[r.meta["task"]].index(r.meta["item"])
        return "train" if i < n_target_train else "valid" if i < n_target_train + n_target_valid else "test"
    train = [r for r in target if part(r) == "train"]
    held = [r for r in target if part(r) == eval_split]
    return Setup(train, held, support=source + target,
                 info={"source": source, "n_source_tasks": n_source, "n_target_tasks": n_target})


# --------------------------------------------------------------------------- arms
#
# An arm is plain data (it goes to a worker process): {"pairs": [(prompts, targets)] (one fresh student per
# entry), "score": one of SCORES, "stats": what its data holds}.

METHODS = ("finetune_cot", "scott", "socratic", "lion", "icl")


def finetune_cot_arms(setup: Setup, teacher: str, *, k: int, temperature: float) -> dict:
    """Fine-tune-CoT with one greedy path per question vs k sampled paths (the correct ones kept)."""
    def arm(k_, t_):
        s = finetune_cot.Settings(teacher=teacher, k=k_, temperature=t_, seed=0)
        p, t, stats = finetune_cot.training_pairs(setup.train, finetune_cot.reasoning_paths(setup.train, s))
        return {"pairs": [(p, t)], "score": "cot", "stats": stats}
    return {"k=1 (greedy)": arm(1, 0.0), f"k={k} (T={temperature:g})": arm(k, temperature)}


def scott_arms(setup: Setup, teacher: str) -> dict:
    """Rationale ⊕ answer students on all of a noisy teacher's rationales vs only the consistent ones."""
    def arm(filt):
        p, t, stats = scott.training_pairs(setup.train, teacher, filter=filt)
        return {"pairs": [(p, t)], "score": "scott", "stats": stats}
    return {"unfiltered": arm(False), "consistent only": arm(True)}


def socratic_arms(setup: Setup, teacher: str) -> dict:
    """One CoT student vs a decomposer and a solver, on the same teacher's reasoning."""
    s = finetune_cot.Settings(teacher=teacher, keep_correct=False)
    p, t, stats = finetune_cot.training_pairs(setup.train, finetune_cot.reasoning_paths(setup.train, s),
                                              keep_correct=False)
    two = [socratic.training_pairs(setup.train, teacher, role) for role in ("decomposer", "solver")]
    return {"single CoT student": {"pairs": [(p, t)], "score": "cot", "stats": stats},
            "Socratic CoT (decomposer + solver)": {"pairs": two, "score": "socratic",
                                                   "stats": {"decomposer pairs": len(two[0][0]),
                                                             "solver pairs": len(two[1][0])}}}


def icl_arms(setup: Setup, *, k: int, epochs: int, choices: bool = False) -> dict:
    """Plain fine-tuning (no demonstrations) vs Meta-ICT (source tasks in context) vs Multitask-ICT (the target
    tasks' training items in context); all scored on the target tasks' held-out items with k demonstrations.
    In-context arms see each record with `epochs` different draws of demonstrations. choices=False (the default):
    questions without their listed options, answered by the colour (80-token prompts at k=4 instead of 215)."""
    def arm(records, k_):
        s = icl.Settings(k=k_, seed=0, choices=choices)
        ps, ts = [], []
        support = icl.by_task(setup.support)
        for e in range(epochs if k_ else 1):
            p, t = icl.training_pairs(records, support, s, epoch=e)
            ps, ts = ps + p, ts + t
        return {"pairs": [(ps, ts)], "score": "icl", "stats": {"records": len(records), "pairs": len(ps)}}
    setup.info["k"], setup.info["choices"] = k, choices
    return {"fine-tuning (no context)": arm(setup.train, 0), "Meta-ICT": arm(setup.info["source"], k),
            "Multitask-ICT": arm(setup.train, k)}


def lion_arms(setup: Setup, teacher: str, *, n_pool: int, n_new: int, steps: int) -> dict:
    """Lion's round vs its control on a pool of the first n_pool training questions (the teacher's responses
    attached): both arms imitate the pool (the same student per seed), then add n_new questions generated like
    the ones the student gets wrong (Lion) or like pool questions drawn at random (control), and train `steps`
    more steps on the grown pool. Trained by ``run`` in one job per seed (the imitation is shared)."""
    if not 0 < n_pool <= len(setup.train):
        raise LabkitError(f"lion_pool={n_pool}: expected 1..{len(setup.train)} (the training questions)")
    pool = setup.train[:n_pool]
    p, t, _ = lion.training_pairs(pool, teacher)

    def arm(mining):
        return {"pairs": [(p, t)], "score": "cot", "stats": {"pool": n_pool, "new": n_new},
                "lion": {"pool": pool, "teacher": teacher, "mining": mining, "n_new": n_new, "steps": steps}}
    return {"control: like random pool questions": arm("random"), "Lion: like the failed questions": arm("hard")}


def _score_cot(models, setup):
    texts = finetune_cot.reason(models[0], setup.tokenizer, setup.test)
    return {"accuracy": finetune_cot.accuracy(texts, setup.test), "example": texts[0]}


def _score_scott(models, setup):
    texts = finetune_cot.reason(models[0], setup.tokenizer, setup.test, task=scott.TASK, max_new_tokens=112)
    return {**scott.scores(texts, setup.test), "example": texts[0]}


def _score_socratic(models, setup):
    runs = socratic.solve(models[0], models[1], setup.tokenizer, setup.test, max_steps=setup.info["task_steps"] + 2)
    texts = [r["answer_text"] for r in runs]
    return {"accuracy": finetune_cot.accuracy(texts, setup.test), "example": socratic.dialogue(runs[0]["pairs"])}


def _score_icl(models, setup):
    return {"accuracy": icl.accuracy(models[0], setup.tokenizer, setup.test, setup.support, k=setup.info["k"],
                                     choices=setup.info.get("choices", True))}


SCORES = {"cot": _score_cot, "scott": _score_scott, "socratic": _score_socratic, "icl": _score_icl}


# --------------------------------------------------------------------------- running

def prepare(setup: Setup, arms_list, *, student: str, vocab: int | None = None) -> float:
    """Train the setup's tokenizer on every prompt and target of the arms (byte-level BPE, labkit.tiny); seconds."""
    t0 = time.perf_counter()
    corpus = [p + t for arms in arms_list for a in arms.values() for prompts, targets in a["pairs"]
              for p, t in list(zip(prompts, targets))[:3000]]
    setup.tokenizer = tiny.train_tokenizer(corpus, vocab_size=vocab or _spec(student)["vocab"])
    return round(time.perf_counter() - t0, 2)


def _spec(student: str) -> dict:
    spec = parse_scratch(student)
    if spec is None:
        raise LabkitError(f"student={student!r}: the survey miniatures train small from-scratch students "
                          f"('scratch@layers=L,hidden=H')")
    return spec


def _fresh(setup: Setup, spec: dict, seed: int):
    return tiny.tiny_causal_lm(setup.tokenizer, n_layers=spec["layers"], hidden=spec["hidden"], heads=spec["heads"],
                               seed=seed)


def train_arm(setup: Setup, name: str, arm: dict, seed: int, student: str, config: dict) -> dict:
    """Train the arm's students (one fresh from-scratch model per pair set) with one seed (initialisation and
    data order), score them on the test questions."""
    spec = _spec(student)
    t0, models_, losses = time.perf_counter(), [], []
    for prompts, targets in arm["pairs"]:
        model = _fresh(setup, spec, seed)
        cfg = TrainConfig(**{"progress": False, "device": "cpu", **config, "seed": seed})
        losses.append(sft.train(model, setup.tokenizer, prompts, targets, config=cfg).last("loss"))
        models_.append(model)
    t1 = time.perf_counter()
    scored = SCORES[arm["score"]](models_, setup)
    return {"arm": name, "seed": seed, **scored, "final_loss": losses,
            "train_seconds": round(t1 - t0, 2), "eval_seconds": round(time.perf_counter() - t1, 2)}


def train_lion(setup: Setup, arms: dict, seed: int, student: str, config: dict) -> list[dict]:
    """Lion's arms for one seed (arms with a "lion" entry, lion_arms): one student imitates the pool (`config`),
    the referee finds the pool questions it fails, then each arm grows the pool its own way (new questions, the
    teacher's responses) and trains a copy of the student `lion.steps` more steps on it; scored on the test
    questions. One row per arm, with the pool, hard and new counts."""
    spec, first = _spec(student), next(iter(arms.values()))
    t0 = time.perf_counter()
    base = _fresh(setup, spec, seed)
    cfg = TrainConfig(**{"progress": False, "device": "cpu", **config, "seed": seed})
    sft.train(base, setup.tokenizer, *first["pairs"][0], config=cfg)
    pool, teacher = first["lion"]["pool"], first["lion"]["teacher"]
    hard = lion.discriminate(base, setup.tokenizer, pool, teacher)       # once per seed, for every arm
    t_shared, rows = time.perf_counter() - t0, []
    for name, arm in arms.items():
        t1, L = time.perf_counter(), arm["lion"]
        s = lion.Settings(teacher=teacher, n_new=L["n_new"], mining=L["mining"], seed=seed)
        grown = lion.grow(pool, hard, s, device="cpu")
        model = copy.deepcopy(base)
        loss = sft.train(model, setup.tokenizer, *lion.training_pairs(grown, teacher)[:2],
                         config=dataclasses.replace(cfg, steps=L["steps"])).last("loss")
        t2 = time.perf_counter()
        scored = SCORES[arm["score"]]([model], setup)
        rows.append({"arm": name, "seed": seed, **scored, "final_loss": [loss], "pool": len(pool), "hard": len(hard),
                     "new": len(grown) - len(pool), "train_seconds": round(t_shared + t2 - t1, 2),
                     "eval_seconds": round(time.perf_counter() - t2, 2)})
    return rows


def _job(kind: str, **job):
    return train_lion(**job) if kind == "lion" else [train_arm(**job)]


def run(setup: Setup, arms: dict, seeds, *, student: str, config: dict, processes: int | None = None) -> list[dict]:
    """train_arm for every (arm, seed) on the CPU's cores (Lion's arms: train_lion, one job per seed); rows in
    (arm, seed) order. Call `prepare` first."""
    if setup.tokenizer is None:
        prepare(setup, [arms], student=student)
    common = {"setup": setup, "student": student, "config": config}
    jobs = [{"kind": "arm", "name": n, "arm": a, "seed": int(s), **common}
            for n, a in arms.items() if "lion" not in a for s in seeds]
    lion_arms_ = {n: a for n, a in arms.items() if "lion" in a}
    if lion_arms_:
        jobs += [{"kind": "lion", "arms": lion_arms_, "seed": int(s), **common} for s in seeds]
    # longest first (a Lion seed trains several students, a Socratic arm two), so no core idles at the end
    jobs.sort(key=lambda j: -(len(j["arms"]) + 1 if j["kind"] == "lion" else len(j["arm"]["pairs"])))
    rows = [r for got in map_runs(_job, jobs, processes=processes) for r in got]
    order = {n: i for i, n in enumerate(arms)}
    return sorted(rows, key=lambda r: (order[r["arm"]], list(seeds).index(r["seed"])))


def by_seed(rows, arm: str, metric: str = "accuracy") -> dict:
    got = {r["seed"]: r[metric] for r in rows if r["arm"] == arm}
    if not got:
        raise LabkitError(f"no runs of arm {arm!r}; arms: {sorted({r['arm'] for r in rows})}")
    return got


def claim(rows, id: str, text: str, better: str, worse: str, metric: str = "accuracy") -> dict:
    """lab.claims.claim on two arms' test `metric`, paired by seed. Its "citation" (what the report prints after
    the claim) is the survey alone: the claim's text already names the method's own paper."""
    return {**_claims.claim(id, text, f"test {metric}", better, worse, better_values=by_seed(rows, better, metric),
                            worse_values=by_seed(rows, worse, metric)), "citation": CITATION}


def summary(rows, metrics=("accuracy",)) -> list[dict]:
    """One row per arm: mean and per-seed values of each metric, seconds per run."""
    out = []
    for name in dict.fromkeys(r["arm"] for r in rows):
        rs = sorted((r for r in rows if r["arm"] == name), key=lambda r: r["seed"])
        row = {"arm": name, "n_seeds": len(rs)}
        for m in metrics:
            row[m] = statistics.mean(r[m] for r in rs)
            row[f"{m} per seed"] = [round(r[m], 3) for r in rs]
        row["train_seconds"] = statistics.mean(r["train_seconds"] for r in rs)
        out.append(row)
    return out


# --------------------------------------------------------------------------- claims and the one-seed run

def claims_of(rows: dict) -> list[dict]:
    """The claims of the miniatures that ran ({miniature: rows}), paired by seed on the test questions."""
    out = []
    if "finetune_cot" in rows:
        r = rows["finetune_cot"]
        diverse = next(a for a in dict.fromkeys(x["arm"] for x in r) if not a.startswith("k=1 "))
        out.append(claim(r, "05.ftcot.diverse>single", "Diverse reasoning (k sampled teacher paths per question, the "
                         "correct ones kept) improves Fine-tune-CoT students over one greedy path (Ho et al., 2023, "
                         "§5, diverse reasoning); here at equal optimiser steps", diverse, "k=1 (greedy)"))
    if "scott" in rows:
        r = rows["scott"]
        out.append(claim(r, "05.scott.faithful", "Training on rationales consistent with the answer makes the "
                         "student's answers follow its own rationales (Wang et al., 2023, SCOTT, faithfulness)",
                         "consistent only", "unfiltered", metric="faithfulness"))
        out.append(claim(r, "05.scott.accuracy", "Consistent rationales keep or improve the student's accuracy "
                         "(Wang et al., 2023, SCOTT)", "consistent only", "unfiltered"))
    if "socratic" in rows:
        out.append(claim(rows["socratic"], "05.socratic>cot", "A decomposer and a sub-question solver (Socratic CoT) "
                         "beat one student trained on whole chains of thought (Shridhar et al., 2023, §5)",
                         "Socratic CoT (decomposer + solver)", "single CoT student"))
    if "lion" in rows:
        out.append(claim(rows["lion"], "05.lion.hard>random", "New instructions made like the ones the student "
                         "fails (Lion's discrimination and generation) teach it more than as many made like "
                         "instructions drawn at random (Jiang et al., 2023, Lion)", "Lion: like the failed questions",
                         "control: like random pool questions"))
    if "icl" in rows:
        r = rows["icl"]
        out.append(claim(r, "05.icl.multitask>meta", "Multitask-ICT beats Meta-ICT on the target tasks, in context "
                         "(Huang et al., 2022, §5)", "Multitask-ICT", "Meta-ICT"))
        out.append(claim(r, "05.icl.meta>ft", "In-context training on other tasks (Meta-ICT) lets the student use "
                         "demonstrations of unseen tasks, which plain fine-tuning on the target tasks does not "
                         "(Huang et al., 2022)", "Meta-ICT", "fine-tuning (no context)"))
    return out


def arms_for(method: str, setup: Setup, *, noisy: str, clean: str, k_paths: int, temperature: float, icl_k: int,
             epochs: int, lion_settings: dict | None = None) -> dict:
    """The arms of one miniature by name (finetune_cot, scott, socratic, lion or icl) on its setup;
    lion_settings: {"n_pool", "n_new", "steps"} (lion_arms)."""
    if method == "finetune_cot":
        return finetune_cot_arms(setup, noisy, k=k_paths, temperature=temperature)
    if method == "scott":
        return scott_arms(setup, noisy)
    if method == "socratic":
        return socratic_arms(setup, clean)
    if method == "icl":
        return icl_arms(setup, k=icl_k, epochs=epochs)
    if method == "lion":
        if not lion_settings:
            raise LabkitError("method 'lion' needs lion_settings={'n_pool', 'n_new', 'steps'} (the profile's "
                              "lion_pool, lion_new, lion_steps)")
        return lion_arms(setup, clean, **lion_settings)
    raise LabkitError(f"parameter method={method!r}: expected one of {', '.join(METHODS)}")


def untrained(setup: Setup, arms: dict, seeds, student: str) -> list[dict]:
    """Rows as ``run`` gives them, for fresh students that never trained (every arm's step 0; seeded as train_arm).
    Arms scored the same way with as many students have the same step-0 students (same tokenizer, spec and seed):
    they are scored once and the row is repeated."""
    spec, rows, done = _spec(student), [], {}
    for name, arm in arms.items():
        for s in seeds:
            key = (arm["score"], len(arm["pairs"]), int(s))
            if key not in done:
                t0 = time.perf_counter()
                scored = SCORES[arm["score"]]([_fresh(setup, spec, int(s)) for _ in arm["pairs"]], setup)
                done[key] = {**scored, "train_seconds": 0.0, "eval_seconds": round(time.perf_counter() - t0, 2)}
            rows.append({"arm": name, "seed": int(s), **done[key]})
    return rows


def learning(rows: dict, step0: dict) -> list[dict]:
    """lab.claims.learning on test accuracy for every miniature that ran: {miniature: run rows} against
    {miniature: ``untrained`` rows} (each arm's step 0, averaged over the seeds scored)."""
    out = []
    for m, rs in rows.items():
        names = list(dict.fromkeys(r["arm"] for r in rs))
        s0 = {a: statistics.mean(by_seed(step0[m], a).values()) for a in names}
        out += [dict(x, arm=f"{m}: {x['arm']}")
                for x in _claims.learning({a: by_seed(rs, a) for a in names}, s0, "test accuracy")]
    return out


WHY = {
    "05.ftcot.diverse>single": "at equal steps each of the k paths is seen a k-th as often by a student still early in "
                               "training; the paper trains equal epochs (k times the updates).",
    "05.scott.faithful": "both 2-layer students already answer what their own rationale says (≈ 96 %): the filter "
                         "has little to fix at this size.",
    "05.scott.accuracy": "the mean is in the paper's direction, the interval says nothing either way.",
    "05.socratic>cot": "each Socratic student has several pairs per question to learn in the same steps, and one wrong "
                       "round ends wrong.",
    "05.lion.hard>random": "after imitation the 2-layer student still disagrees with the teacher on about two thirds "
                           "of its pool, so questions like the failed ones are much like questions like any: the "
                           "referee has little to select. Lion's hard set is the small part a strong student fails.",
    "05.icl.multitask>meta": "the from-scratch students never learned to read the demonstrations (find the example "
                             "of the query's item and copy its answer) at this budget; the paper's students were "
                             "pretrained GPT-2 models.",
    "05.icl.meta>ft": "no student learned to read the demonstrations at this budget (see 05.icl.multitask>meta).",
}


def notes(claims) -> dict[str, str]:
    """{claim id: the measured effect and the reading} for notebook 05's claims that do not hold."""
    return _claims.not_holding(claims, WHY, "the effect is smaller than the seed-to-seed spread at this budget.")

