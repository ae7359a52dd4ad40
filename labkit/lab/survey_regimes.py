"""Notebook 05's regime sweeps: each miniature's effect drawn against the knob of the regime it sits in.

A paper's effect holds in the regime the paper studies and may vanish elsewhere; one point says "holds" or "does
not", a sweep says where. Each miniature has one knob (REGIMES), a few values of it in the profile, and the
value its paper's setting corresponds to (the headline claim, ≥ 5 seeds there):

    R = lk.lab.survey_regimes
    X, arms = R.sweep(P, "scott", eval_split="valid")      # one experiment routing each arm to its knob value
    runs = lk.lab.arms.run(X, arms, P.seeds)              # arms carry their own seeds (more at the paper's value)
    claims = R.claims_of({"scott": runs}, P)              # one claim per (claim, knob value), headline marked
    R.effects_figure(claims, P)                           # effect vs knob with its 95 % interval
    R.where_it_holds(claims, P)                           # {miniature: which values the effect holds at}

The knobs:

* SCOTT: the teacher's rate of rationales whose stated answer disagrees with its label (the scripted
  ``noisy-oracle@p=rate``: a wrong step and a wrong stated answer with probability p). At rate 0 the filter has
  nothing to drop; the more the teacher disagrees, the more an unfiltered student learns answers that do not follow
  its rationale.
* Fine-tune-CoT: the number of training questions. k sampled paths add the most where one path per question is
  little data; with many questions more paths of the same questions should matter less.
* Lion: the imitation steps before the referee's pass, which set the share of the pool the student already solves
  (measured, Run.extra["solved"]). Mining the failed questions is a selection only when failures are a minority.
* Socratic CoT: the number of reasoning steps of each question: a decomposer has something to decompose only when
  there are several steps.
"""

from __future__ import annotations

import dataclasses
import statistics
import textwrap
from dataclasses import dataclass

from labkit import tiny
from labkit.errors import LabkitError
from labkit.lab import arms as _arms
from labkit.lab import claims as _claims
from labkit.lab import papers
from labkit.lab import survey as sv
from labkit.lab.arms import Arm


@dataclass(frozen=True)
class Regime:
    """One miniature's knob: `field` (the SurveyProfile list of values), `paper` (the profile field of the value the
    paper's setting corresponds to), `name` (how an arm label and a claim id name a value: "p=0.3"), `axis` (the
    figure's x label), `claims` (its claims of survey.CLAIMS; the first is the headline at the paper's value)."""

    miniature: str
    field: str
    paper: str
    name: str
    axis: str

    def tag(self, value) -> str:
        return f"{self.name}={value:g}"


REGIMES = {
    "finetune_cot": Regime("finetune_cot", "ftcot_n_train", "ftcot_paper", "n", "training questions"),
    "scott": Regime(
        "scott", "scott_noise", "scott_paper", "p", "teacher rationales whose answer disagrees with the label"
    ),
    "socratic": Regime("socratic", "socratic_task_steps", "socratic_paper", "steps", "reasoning steps per question"),
    "lion": Regime(
        "lion", "lion_imitation", "lion_paper", "imitation", "imitation steps before the referee (× max_steps)"
    ),
}


def values_of(P, miniature: str) -> list:
    return list(getattr(P, REGIMES[miniature].field))


def paper_value(P, miniature: str):
    return getattr(P, REGIMES[miniature].paper)


def seeds_at(P, miniature: str, value) -> tuple:
    """The seeds of one knob value: P.headline_seeds at the paper's value (the headline claim), P.seeds elsewhere."""
    return tuple(P.headline_seeds if value == paper_value(P, miniature) else P.seeds)


# --------------------------------------------------------------------------- the experiment


class RegimeExperiment:
    """Every (miniature, knob value)'s SurveyExperiment behind one ``run``/``run_group``: an arm's reads["regime"]
    names its (miniature, value), so ``labkit.lab.arms.run`` spreads every value's jobs over the cores at once
    (``RegimeExperiment.merge`` joins several miniatures' sweeps into one)."""

    def __init__(self, experiments: dict):
        self.experiments = dict(experiments)

    @classmethod
    def merge(cls, sweeps) -> RegimeExperiment:
        return cls({k: x for s in sweeps for k, x in s.experiments.items()})

    def of(self, arm: Arm) -> sv.SurveyExperiment:
        return self.experiments[arm.reads["regime"]]

    def run(self, arm: Arm, seed: int):
        return self.of(arm).run(arm, seed)

    def run_group(self, arms, seed: int):
        return self.of(arms[0]).run_group(arms, seed)

    def data(self, arm: Arm):
        return self.of(arm).data(arm)


def _setup(P, miniature: str, value, eval_split: str) -> sv.Setup:
    kw = dict(n_test=P.n_test, dataset=P.dataset, eval_split=eval_split)
    if miniature == "finetune_cot":
        return sv.cot_setup(n_train=int(value), task_steps=P.task_steps, teachers=[P.noisy], **kw)
    if miniature == "scott":
        return sv.cot_setup(n_train=P.n_train, task_steps=P.task_steps, teachers=[noisy_teacher(value)], **kw)
    if miniature == "socratic":
        return sv.cot_setup(n_train=P.n_train, task_steps=int(value), teachers=[P.clean], **kw)
    return sv.cot_setup(n_train=P.lion_pool, task_steps=P.task_steps, teachers=[P.clean], **kw)


def noisy_teacher(rate: float) -> str:
    """The scripted teacher whose rationales disagree with the label at `rate` (labkit.rationales)."""
    return f"noisy-oracle@p={rate:g}"


def arms_at(P, miniature: str, value, **knobs) -> list[Arm]:
    """The miniature's arms at one knob value: survey.arms_for's (with `knobs`: k_paths, temperature, lion_new;
    scott_filter=True/False keeps one SCOTT arm), labelled "<arm> · <tag>", reading their value and carrying that
    value's seeds."""
    reg = REGIMES[miniature]
    if miniature == "scott":
        base = sv.scott_arms(noisy_teacher(value))
        if knobs.get("scott_filter") is not None:
            base = [a for a in base if a.settings["filter"] == bool(knobs["scott_filter"])]
    else:
        base = sv.arms_for(miniature, P, **{k: v for k, v in knobs.items() if k != "scott_filter"})
    seeds = seeds_at(P, miniature, value)
    extra = {"imitation": max(1, round(value * P.max_steps))} if miniature == "lion" else {}
    return [
        Arm(
            f"{a.label} · {reg.tag(value)}",
            a.method,
            a.settings,
            {**a.reads, **extra, "regime": (miniature, value)},
            seeds,
            a.group,
            a.cost * (value if miniature == "socratic" else 1.0),
        )
        for a in base
    ]


def one_seed_value(P, miniature: str, ftcot_n=0, scott_p=-1.0, socratic_steps=0, lion_imitation=0.0):
    """The one-seed run's knob value of `miniature` from the notebook's knob_* parameters (unset: the paper's value,
    0 or below; SCOTT's rate: below 0), checked; LabkitError naming the parameter."""
    given = {
        "finetune_cot": ("knob_ftcot_n", ftcot_n, ftcot_n > 0),
        "scott": ("knob_scott_p", scott_p, scott_p >= 0),
        "socratic": ("knob_socratic_steps", socratic_steps, socratic_steps > 0),
        "lion": ("knob_lion_imitation", lion_imitation, lion_imitation > 0),
    }
    if miniature not in given:
        raise LabkitError(f"parameter method={miniature!r}: no regime knob; expected one of {sorted(given)}")
    name, value, set_ = given[miniature]
    if not set_:
        return paper_value(P, miniature)
    if miniature == "scott" and not 0 <= value <= 1:
        raise LabkitError(f"parameter {name}={value!r}: expected a rate in [0, 1] (or -1: the paper's value)")
    if miniature in ("finetune_cot", "socratic") and not float(value).is_integer():
        raise LabkitError(f"parameter {name}={value!r}: expected an integer")
    return int(value) if miniature in ("finetune_cot", "socratic") else float(value)


def one_seed(X: RegimeExperiment, P, miniature: str, value, seed: int, **knobs) -> list:
    """The miniature's arms at one knob value trained for one seed in this process (the one-seed run); a value the
    sweep does not hold gets its own SurveyExperiment (same tokenizer). The sweep reuses these runs."""
    key, arms = (miniature, value), arms_at(P, miniature, value, **knobs)
    if key not in X.experiments:
        x = sv.SurveyExperiment(_setup(P, miniature, value, "test"), P.student, P.config)
        same = [e for (m, _), e in X.experiments.items() if m == miniature]
        if same:  # the sweep's tokenizer
            x.setup.tokenizer = same[0].setup.tokenizer
        else:
            x.prepare([arms])
        X.experiments[key] = x
    if arms[0].group is not None:
        return X.run_group(arms, seed)
    if all(X.of(a).ran(a, seed) for a in arms):
        return [X.run(a, seed) for a in arms]
    # the arms on the cores at once (forked workers), kept here so that the sweep does not train them again
    runs = _arms.run(X, [dataclasses.replace(a, seeds=(seed,)) for a in arms], [seed])
    for a, r in zip(arms, runs):
        X.of(a).remember(a, seed, r)
    return runs


def one_seed_run(X: RegimeExperiment, icl_experiment, P, method: str, seed: int, knobs: dict, regime: dict) -> list:
    """The notebook's one-seed run of `method`: ICL's arms (survey.arms_for, `knobs`: k_paths, temperature, icl_k,
    lion_new) on `icl_experiment`, or the miniature's arms at the knob value that `regime` (the notebook's knob_*
    parameters, one_seed_value) names, with `knobs` and scott_filter."""
    if method == "icl":
        return sv.one_seed(icl_experiment, sv.arms_for("icl", P, **knobs), seed)
    value = one_seed_value(P, method, *(regime.get(k, d) for k, d in _KNOB_DEFAULTS))
    if method == "scott":
        knobs = {"scott_filter": knobs.get("scott_filter")}
    else:
        knobs = {k: v for k, v in knobs.items() if k != "scott_filter"}
    return one_seed(X, P, method, value, seed, **knobs)


_KNOB_DEFAULTS = (("knob_ftcot_n", 0), ("knob_scott_p", -1.0), ("knob_socratic_steps", 0), ("knob_lion_imitation", 0.0))


def run_sweeps(X: RegimeExperiment, arms: dict, seeds) -> dict:
    """{miniature: its runs}: every swept miniature's arms ({miniature: arms}) in one labkit.lab.arms.run over the
    cores (the arms carry their own seeds; `seeds` for any that do not)."""
    got = _arms.run(X, [a for m in arms for a in arms[m]], seeds)
    return {m: [r for r in got if r.arm in {a.label for a in arms[m]}] for m in arms}


def solved_labels(runs: dict) -> dict:
    """{"lion": {knob value: "<share> solved"}} for the figure's x axis (empty when Lion did not run)."""
    return {"lion": {v: f"{x:.0%} solved" for v, x in solved_share(runs["lion"]).items()}} if "lion" in runs else {}


def sweep(P, miniature: str, *, eval_split: str = "test", tokenizer=None):
    """(RegimeExperiment, arms) of one miniature over its knob values: one Setup per value, one tokenizer for all of
    them (trained on every pair of every arm unless given). Only the paper's value scores its untrained students
    (Run.step0, for the "does every arm learn?" table), on the first seed."""
    if miniature not in REGIMES:
        raise LabkitError(f"parameter methods: {miniature!r} has no regime sweep; expected one of {sorted(REGIMES)}")
    xs, arms = {}, []
    for v in values_of(P, miniature):
        step0 = P.seeds[:1] if v == paper_value(P, miniature) else ()  # untrained students: at the paper's value
        if miniature == "lion" and xs:  # one pool for every imitation length (the group runs on the first's)
            xs[(miniature, v)] = next(iter(xs.values()))
        else:
            xs[(miniature, v)] = sv.SurveyExperiment(
                _setup(P, miniature, v, eval_split),
                P.student,
                P.config,
                step0_seeds=P.seeds[:1] if miniature == "lion" else step0,
            )
        arms += arms_at(P, miniature, v)
    X = RegimeExperiment(xs)
    if tokenizer is None:
        corpus = [
            p + t for a in arms for prompts, targets in X.data(a)[0] for p, t in list(zip(prompts, targets))[:800]
        ]
        tokenizer = tiny.train_tokenizer(corpus, vocab_size=xs[next(iter(xs))].spec["vocab"])
    for x in xs.values():
        x.setup.tokenizer = tokenizer
    return X, arms


# --------------------------------------------------------------------------- claims and readings


def claims_of(runs: dict, P) -> list[dict]:
    """One claim per (survey.CLAIMS entry, knob value) of the miniatures that ran ({miniature: runs}), id
    "<claim id>@<tag>"; the first claim of a miniature at its paper's value is its headline."""
    out = []
    for m, reg in REGIMES.items():
        if m not in runs:
            continue
        for v in values_of(P, m):
            tag = reg.tag(v)
            labels = [a for a in _arms.arm_labels(runs[m]) if a.endswith(f" · {tag}")]
            diverse = next((a.rsplit(" · ", 1)[0] for a in labels if not a.startswith("k=1 (greedy)")), "")
            for i, (cid, metric, better, worse) in enumerate(sv.CLAIMS[m]):
                better, worse = f"{better.format(diverse=diverse)} · {tag}", f"{worse} · {tag}"
                headline = i == 0 and v == paper_value(P, m)
                text = (
                    papers.statement("05", cid)
                    + f"; at {reg.axis} {v:g}"
                    + (" (the paper's regime)" if headline else "")
                )
                c = _arms.claim(runs[m], f"{cid}@{tag}", text, metric, better, worse, citation=sv.CITATION)
                out.append({**c, "miniature": m, "base_id": cid, "knob": reg.field, "value": v, "headline": headline})
    return out


def where_it_holds(claims: list[dict]) -> dict[str, str]:
    """{base claim id: one sentence, from the numbers, saying at which knob values the effect holds}."""
    out = {}
    for cid in dict.fromkeys(c["base_id"] for c in claims):
        cs = [c for c in claims if c["base_id"] == cid]
        reg = REGIMES[cs[0]["miniature"]]
        held = [f"{c['value']:g}" for c in cs if c["holds"]]
        reversed_ = [f"{c['value']:g}" for c in cs if c["ci95"][1] < 0]
        each = ", ".join(f"{c['value']:g}: {c['mean']:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]" for c in cs)
        every = ", ".join(f"{c['value']:g}" for c in cs)
        where = f"holds at {reg.axis} {', '.join(held)} of {every}" if held else f"holds at none of {reg.axis} {every}"

        rev = f"; it goes the other way outside the noise at {', '.join(reversed_)}" if reversed_ else ""
        out[cid] = f"{cid}: {where}{rev} (mean effect [95% CI] per value: {each})."
    return out


def numbers_at(runs: list, data_rows: dict, tag: str) -> dict:
    """The numbers a reading quotes at one knob value (papers.READINGS["05"]): arm means over seeds, the data."""
    mean = lambda arm, metric: statistics.mean(_arms.values(runs, arm, metric).values())  # noqa: E731
    labels = set(_arms.arm_labels(runs))
    out = {}
    if f"unfiltered · {tag}" in labels:
        out["faithful_unfiltered"] = mean(f"unfiltered · {tag}", "faithfulness")
        out["faithful_consistent"] = mean(f"consistent only · {tag}", "faithfulness")
        row = data_rows.get(f"unfiltered · {tag}", {})
        if row.get("kept"):
            out["inconsistent_share"] = 1 - row["consistent"] / row["kept"]
    rows = [r for a, r in data_rows.items() if a.endswith(f" · {tag}") and "kept" in r and "paths" in r]
    out.update({f"kept_{i}": r.get("kept") for i, r in enumerate(rows)})
    lion = [r for r in runs if r.arm.endswith(f" · {tag}") and "hard" in r.extra]
    if lion:
        out["lion_hard"] = statistics.mean(r.extra["hard"] for r in lion)
        out["lion_pool"] = lion[0].extra["pool"]
    two = data_rows.get(f"Socratic CoT (decomposer + solver) · {tag}", {})
    single = data_rows.get(f"single CoT student · {tag}", {})
    if two.get("decomposer pairs") and single.get("kept"):
        out["pairs_per_question"] = two["decomposer pairs"] / single["kept"]
    return out


def notes(claims: list[dict], runs: dict, data_rows: dict, P, profile: str = "default") -> dict[str, str]:
    """{claim id: its measured effect and reading} for every claim that does not hold, each filled with the numbers
    of its own knob value (papers.READINGS["05"]; the general reading "*" at profiles other than default)."""
    R = papers.READINGS["05"]
    out = {}
    for c in claims:
        m, tag = c["miniature"], REGIMES[c["miniature"]].tag(c["value"])
        nums = {**numbers_at(runs[m], data_rows.get(m, {}), tag), "steps": P.max_steps, "value": c["value"]}
        out.update(_claims.not_holding([c], R if profile == "default" else {}, R["*"], nums))
    return out


def solved_share(runs: list) -> dict:
    """Lion: {knob value: mean share of the pool the imitation student already solves}."""
    by = {}
    for r in runs:
        if "hard" in r.extra:
            by.setdefault(r.extra["regime"][1], []).append(1 - r.extra["hard"] / r.extra["pool"])
    return {v: statistics.mean(xs) for v, xs in sorted(by.items())}


def effects_figure(claims: list[dict], P, extra_axis: dict | None = None):
    """One panel per claim: the mean effect (better − worse, paired by seed) at each knob value with its 95 %
    Student-t interval, 0 dashed; the paper's value marked. extra_axis: {miniature: {value: text}} written under
    the points (Lion: the share of the pool solved)."""
    import matplotlib.pyplot as plt

    ids = list(dict.fromkeys(c["base_id"] for c in claims))
    if not ids:
        return None
    fig, axes = plt.subplots(1, len(ids), figsize=(max(4.6, 3.3 * len(ids)), 3.6), squeeze=False)
    for ax, cid in zip(axes[0], ids):
        cs = [c for c in claims if c["base_id"] == cid]
        reg = REGIMES[cs[0]["miniature"]]
        xs = list(range(len(cs)))
        for x, c in zip(xs, cs):
            lo, hi = c["ci95"]
            color = "#2a7a2a" if c["holds"] else "#b03030" if hi < 0 else "#555"
            ax.errorbar([x], [c["mean"]], yerr=[[c["mean"] - lo], [hi - c["mean"]]], fmt="o", color=color, capsize=4)
            ax.scatter([x] * len(c["values"]), c["values"], s=8, color=color, alpha=0.35)
            if c["value"] == paper_value(P, c["miniature"]):
                ax.axvspan(x - 0.4, x + 0.4, color="#f3e6b3", zorder=0)
        ax.axhline(0, color="#888", ls="--", lw=0.8)
        ticks = [f"{c['value']:g}" for c in cs]
        more = (extra_axis or {}).get(cs[0]["miniature"], {})
        ticks = [t + (f"\n{more[c['value']]}" if c["value"] in more else "") for t, c in zip(ticks, cs)]
        ax.set_xticks(xs, ticks, fontsize=8)
        ax.set_xlim(-0.6, len(cs) - 0.4)
        ax.set_xlabel(textwrap.fill(reg.axis, 34), fontsize=8)
        ax.set_title(f"{cid}\n({cs[0]['metric']})", fontsize=8)
    axes[0][0].set_ylabel("effect: better − worse (95% CI)", fontsize=8)
    title = (
        "Where each paper's effect appears: effect vs the regime knob (shaded: the paper's regime; "
        "green: holds, red: reversed)"
    )
    fig.suptitle(textwrap.fill(title, max(70, 50 * len(ids))), fontsize=9)
    fig.tight_layout()
    return fig
