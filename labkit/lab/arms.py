"""The experiment layer every notebook shares: arms × seeds, one runner, one set of aggregators.

    arms = [Arm("sft", "sft"), Arm("minillm", "minillm", {"teacher_mix": 0.2}), Arm("student (init)", None)]
    runs = lk.lab.arms.run(experiment, arms, seeds=[0, 1, 2])      # one Run per (arm, seed)
    lk.lab.arms.values(runs, "minillm", "rouge_l")                  # {seed: test ROUGE-L}
    lk.lab.arms.claim(runs, "minillm>sft:rouge_l", "...", "rouge_l", "minillm", "sft")

An **Arm** names one way of training a student: a label (what tables, figures and claims call it), the
method as registered in ``labkit.methods`` (None: the initial student, trained by nothing: every arm's step
0), that method's settings, and what it reads (``reads``: which data, which teacher, which share of the
training set; the experiment decides what each key means). A **Run** is one arm trained with one seed: its
metrics per split, its step-0 metrics where it measured them, its curves and its seconds.

An *experiment* is any object with ``run(arm, seed) -> Run`` (and, for arms that share work within a seed,
``run_group(arms, seed) -> list[Run]``): it holds what every run shares (the data, the teacher, the student's
initialisation, caches of teacher outputs) and trains through ``labkit.methods.get(arm.method)``. ``run``
hands it to forked worker processes as an argument (inherited by the fork, never pickled, no module
state): small models train faster as two one-thread processes than as one two-thread process.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import multiprocessing
import os
import re
import statistics
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import torch

from labkit.errors import LabkitError
from labkit.lab import claims as _claims
from labkit.loop import TrainConfig

INIT = "student (init)"  # the label of the untrained / initial student (every arm's step 0) in the notebooks


@dataclass(frozen=True)
class Arm:
    """One way of training a student.

    label: its name in tables, figures and claims (unique within an experiment).
    method: the registered method (``labkit.methods.names()``), or None for the initial student.
    settings: keyword settings of that method (checked by its ``Settings`` when the run trains).
    reads: what the run reads, as the experiment defines it (e.g. {"targets": "teacher"}, {"fraction": 0.5}).
    seeds: this arm's own seeds (None: the seeds given to ``run``).
    group: arms of one group are trained by one job per seed (``experiment.run_group``): they share work.
    cost: relative cost, so the runner starts the longest jobs first and no core idles at the end.
    """

    label: str
    method: str | None
    settings: Mapping = field(default_factory=dict)
    reads: Mapping = field(default_factory=dict)
    seeds: tuple | None = None
    group: str | None = None
    cost: float = 1.0

    def __post_init__(self):
        if not isinstance(self.label, str) or not self.label:
            raise LabkitError(f"Arm.label={self.label!r}: expected a non-empty string")
        if self.method is not None:
            from labkit import methods

            methods.get(self.method)  # LabkitError listing the registered methods
        object.__setattr__(self, "settings", dict(self.settings))
        object.__setattr__(self, "reads", dict(self.reads))
        if self.seeds is not None:
            object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))

    def __hash__(self):
        return hash(self.label)

    @property
    def trains(self) -> bool:
        return self.method is not None

    def setting(self, name: str, default=None):
        """The arm's value of a method setting, else the method's own default, else `default`."""
        if name in self.settings:
            return self.settings[name]
        if self.method is not None:
            from labkit import methods

            cls = getattr(methods.get(self.method), "Settings", None)
            if cls is not None and hasattr(cls, name):
                return getattr(cls, name)
        return default


@dataclass
class Run:
    """One arm trained with one seed.

    metrics: {split: {metric: value}} after training (for the initial student: as it is).
    step0: the same before training, where the run measured it (empty when the experiment has a shared
        initial student, scored as its own arm).
    curves: {name: [(step, value)]} (training losses, validation accuracy, ...).
    extra: anything else worth keeping (samples, counts); JSON-serialisable.
    """

    arm: str
    seed: int
    metrics: dict
    step0: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def value(self, metric: str, split: str = "test", when: str = "final"):
        got = (self.metrics if when == "final" else self.step0).get(split, {})
        if metric not in got:
            raise LabkitError(f"run {self.arm!r} seed {self.seed}: no {when} {split} {metric!r}; it has {sorted(got)}")
        return got[metric]

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- training through the registry


def tiny_config(
    steps: int, batch_size: int, lr: float, seed: int, *, device: str = "cpu", max_len: int = 192, progress=False
) -> TrainConfig:
    """The TrainConfig of one tiny from-scratch student's run: float32, 5 % warmup, a log row every quarter."""
    return TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        bf16=False,
        max_len=max_len,
        progress=progress,
        warmup=0.05,
        log_every=max(1, steps // 4),
    )


def train(arm: Arm, **inputs):
    """Train with the arm's registered method, ``labkit.methods.get(arm.method).train``: it receives the
    `inputs` its signature names (student, teacher, tokenizer, prompts, targets, records, config, ...), the
    inputs that are fields of its ``Settings`` and that the arm leaves unset (max_new_tokens), and the arm's
    settings. Returns the method's History."""
    from labkit import methods

    if arm.method is None:
        raise LabkitError(f"arm {arm.label!r} has no method: it is the initial student, nothing trains it")
    module = methods.get(arm.method)
    params = inspect.signature(module.train).parameters
    fields_ = {f.name for f in dataclasses.fields(module.Settings)} if hasattr(module, "Settings") else set()
    given = {k: v for k, v in inputs.items() if k in params}
    given.update({k: v for k, v in inputs.items() if k not in params and k in fields_ and k not in arm.settings})
    return module.train(**given, **arm.settings)


# --------------------------------------------------------------------------- the runner


def default_processes() -> int:
    """The cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def jobs_of(arms: Sequence[Arm], seeds: Iterable[int]) -> list[tuple[tuple[Arm, ...], int]]:
    """[(arms trained together, seed)]: one job per (arm, seed), one per (group, seed); arm order, then seed."""
    seeds = [int(s) for s in seeds]
    labels = [a.label for a in arms]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise LabkitError(f"arm labels must be unique; repeated: {dup}")
    jobs, groups = [], {}
    for a in arms:
        for s in a.seeds if a.seeds is not None else seeds:
            if a.group is None:
                jobs.append(((a,), s))
            elif (a.group, s) in groups:
                i = groups[(a.group, s)]
                jobs[i] = (jobs[i][0] + (a,), s)
            else:
                groups[(a.group, s)] = len(jobs)
                jobs.append(((a,), s))
    return jobs


def _do(experiment, job) -> list[Run]:
    arms, seed = job
    if arms[0].group is not None:
        runs = list(experiment.run_group(list(arms), seed))
    else:
        runs = [experiment.run(arms[0], seed)]
    for r in runs:
        if not isinstance(r, Run):
            raise LabkitError(f"{type(experiment).__name__}.run returned {type(r).__name__}, expected a Run")
    return runs


def _worker(experiment, jobs, todo, done, threads: int) -> None:
    torch.set_num_threads(threads)
    while True:
        i = todo.get()
        if i is None:
            return
        try:
            done.put((i, _do(experiment, jobs[i]), None))
        except BaseException as exc:  # sent back, raised in the parent with the arm's name
            done.put((i, None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def run(
    experiment, arms: Sequence[Arm], seeds: Iterable[int] = (0,), *, processes: int | None = None, threads: int = 1
) -> list[Run]:
    """Every arm for every seed (an arm's own ``seeds`` win): ``experiment.run(arm, seed)`` per job, on
    `processes` forked workers with `threads` torch threads each (default: one per core; 1 runs in this
    process, in order). The experiment reaches the workers through the fork, as an argument: whatever it
    computed before (a teacher's outputs) is shared, nothing is pickled but the jobs' results.

    Returns the Runs in arm order, then seed order. A failing job raises LabkitError naming its arm and seed.
    """
    jobs = jobs_of(list(arms), seeds)
    if not jobs:
        return []
    order = sorted(range(len(jobs)), key=lambda i: -sum(a.cost for a in jobs[i][0]))  # longest first
    processes = max(1, min(default_processes() if processes is None else processes, len(jobs)))
    results: dict[int, list[Run]] = {}
    if processes == 1:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            for i in order:
                try:
                    results[i] = _do(experiment, jobs[i])
                except LabkitError:
                    raise
                except Exception as exc:
                    raise LabkitError(f"{_name(jobs[i])} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            torch.set_num_threads(before)
    else:
        ctx = multiprocessing.get_context("fork")
        todo, done = ctx.SimpleQueue(), ctx.Queue()
        for i in order:
            todo.put(i)
        for _ in range(processes):
            todo.put(None)
        workers = [
            ctx.Process(target=_worker, args=(experiment, jobs, todo, done, threads), daemon=True)
            for _ in range(processes)
        ]
        for w in workers:
            w.start()
        try:
            while len(results) < len(jobs):
                try:
                    i, got, error = done.get(timeout=2.0)
                except Exception:  # queue.Empty: is every worker still alive?
                    dead = [w for w in workers if w.exitcode not in (None, 0)]
                    if dead:
                        raise LabkitError(
                            f"a worker process died (exit code {dead[0].exitcode}) with "
                            f"{len(jobs) - len(results)} of {len(jobs)} jobs unfinished; "
                            f"out of memory? Try processes=1"
                        ) from None
                    continue
                if error is not None:
                    raise LabkitError(f"{_name(jobs[i])} failed in a worker: {error}")
                results[i] = got
        finally:
            for w in workers:
                if w.is_alive() and len(results) < len(jobs):
                    w.terminate()
                w.join(timeout=5)
    runs = [r for i in range(len(jobs)) for r in results[i]]
    rank = {a.label: k for k, a in enumerate(arms)}
    return sorted(runs, key=lambda r: (rank.get(r.arm, len(rank)), r.seed))


def _name(job) -> str:
    arms, seed = job
    return f"arm {', '.join(a.label for a in arms)!s} (seed {seed})"


# --------------------------------------------------------------------------- aggregators


def arm_labels(runs: Sequence[Run]) -> list[str]:
    """The arms of `runs`, in first-seen order."""
    return list(dict.fromkeys(r.arm for r in runs))


def values(runs: Sequence[Run], arm: str, metric: str, split: str = "test", when: str = "final") -> dict[int, float]:
    """{seed: metric} of one arm (when="step0": before training)."""
    got = {r.seed: r.value(metric, split, when) for r in runs if r.arm == arm}
    if not got:
        raise LabkitError(f"no runs of arm {arm!r}; arms: {arm_labels(runs)}")
    return got


def by_arm(runs: Sequence[Run], metric: str, split: str = "test", when: str = "final") -> dict[str, dict[int, float]]:
    """{arm: {seed: metric}} for every arm that has the metric."""
    out: dict = {}
    for r in runs:
        got = (r.metrics if when == "final" else r.step0).get(split, {})
        if metric in got:
            out.setdefault(r.arm, {})[r.seed] = got[metric]
    return out


def mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    """(mean, sample standard deviation; 0 for one value)."""
    xs = [float(x) for x in xs]
    return statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0


def summary(
    runs: Sequence[Run], metrics: Sequence[str], split: str = "test", arms: Sequence[str] | None = None, digits: int = 3
) -> list[dict]:
    """One row per arm: {"arm", "seeds", <metric>, "<metric> sd", "<metric> per seed" ..., "seconds"} (mean over
    seeds; metrics an arm lacks are left out of its row)."""
    out = []
    for arm in arms or arm_labels(runs):
        rs = sorted((r for r in runs if r.arm == arm), key=lambda r: r.seed)
        if not rs:
            continue
        row = {"arm": arm, "seeds": len(rs)}
        for m in metrics:
            xs = [r.metrics.get(split, {}).get(m) for r in rs]
            if any(x is None for x in xs):
                continue
            row[m], row[f"{m} sd"] = mean_sd(xs)
            row[f"{m} per seed"] = [round(float(x), digits) for x in xs]
        row["seconds"] = statistics.mean(r.seconds for r in rs)
        out.append(row)
    return out


def step0_of(runs: Sequence[Run], metric: str, split: str = "test", init: str = INIT) -> dict[str, float]:
    """{arm: its metric at step 0, mean over seeds}: from the initial-student arm `init` when there is one
    (every arm starts from it), else from each run's own step 0."""
    shared = by_arm(runs, metric, split).get(init)
    out = {}
    for arm in arm_labels(runs):
        if arm == init:
            continue
        if shared:
            out[arm] = statistics.mean(shared.values())
        else:
            own = by_arm(runs, metric, split, when="step0").get(arm)
            if own:
                out[arm] = statistics.mean(own.values())
    return out


def learning(
    runs: Sequence[Run],
    metric: str,
    split: str = "test",
    *,
    chance: float | None = None,
    init: str = INIT,
    exclude: Sequence[str] = (),
    label: str | None = None,
) -> list[dict]:
    """Do the trained arms learn? ``lab.claims.learning`` for every arm with ≥ 1 run (not `init`, not in
    `exclude`): its final `metric` over seeds against its step 0 (``step0_of``) and `chance`. The row's
    metric is `label` (default "<split> <metric>")."""
    s0 = step0_of(runs, metric, split, init)
    per = {a: v for a, v in by_arm(runs, metric, split).items() if a in s0 and a not in exclude}
    return _claims.learning(per, s0, label or f"{split} {metric}", chance)


def claim(
    runs: Sequence[Run],
    id: str,
    text: str,
    metric: str,
    better: str,
    worse: str,
    split: str = "test",
    *,
    seeds: Sequence[int] | None = None,
    label: str | None = None,
    lower_is_better: bool = False,
    **extra,
) -> dict:
    """``lab.claims.claim`` on two arms' final `metric`, paired by seed (only `seeds` when given, else the seeds both
    arms ran: a headline arm may run more seeds than the arm it is compared with). With
    lower_is_better (a void mass, a divergence) the effect per seed is metric(worse) − metric(better): positive is
    still the paper's direction. Extra keys (``headline=True``, ``citation=...``) are added to the claim."""
    b, w = values(runs, better, metric, split), values(runs, worse, metric, split)
    if seeds is None:
        seeds = sorted(set(b) & set(w))
    b, w = {s: b[s] for s in seeds}, {s: w[s] for s in seeds}
    if lower_is_better:
        b, w = {s: -v for s, v in b.items()}, {s: -v for s, v in w.items()}
    default = f"{split} {metric}" + (" (lower better)" if lower_is_better else "")
    return {
        **_claims.claim(id, text, label or default, better, worse, better_values=b, worse_values=w),
        **extra,
    }


def band_effects(
    runs: Sequence[Run], better: str, worse: str, metric: str, band: float, split: str = "test"
) -> list[float]:
    """Per seed: band − |metric(better)/metric(worse) − 1| (positive: within ±band of the reference arm)."""
    b, w = values(runs, better, metric, split), values(runs, worse, metric, split)
    return [band - abs(b[s] / w[s] - 1.0) if w[s] else -1.0 for s in sorted(b)]


def floor_effects(
    runs: Sequence[Run], better: str, worse: str, metric: str, floor: float, split: str = "test"
) -> list[float]:
    """Per seed: metric(better)/metric(worse) − floor (positive: `better` keeps more than `floor` of the reference
    arm's metric, a one-sided "no collapse" where more is never a collapse, e.g. modes covered)."""
    b, w = values(runs, better, metric, split), values(runs, worse, metric, split)
    return [b[s] / w[s] - floor if w[s] else -1.0 for s in sorted(b)]


def curve_mean(runs: Sequence[Run], arm: str, name: str) -> dict[int, float]:
    """{seed: mean of the curve `name` over its finite points} of one arm."""
    out = {}
    for r in runs:
        pts = [v for _, v in r.curves.get(name, []) if v is not None and math.isfinite(v)]
        if r.arm == arm and pts:
            out[r.seed] = statistics.mean(pts)
    return out


def slug(text: str) -> str:
    """A name usable as a reading's {field}: "minillm α=0" -> "minillm_α_0"."""
    return re.sub(r"\W+", "_", str(text)).strip("_")


def numbers(runs: Sequence[Run], metrics: Sequence[str], split: str = "test") -> dict[str, float]:
    """{"<arm>_<metric>": mean over seeds} (arm names through ``slug``): what a reading's template fills in."""
    out = {}
    for row in summary(runs, metrics, split):
        for m in metrics:
            if m in row:
                out[f"{slug(row['arm'])}_{m}"] = row[m]
    return out


def to_json(runs: Sequence[Run]) -> list[dict]:
    """The runs as metrics.json stores them (``from_json`` reads them back)."""
    return [r.to_dict() for r in runs]


def from_json(rows: Sequence[Mapping]) -> list[Run]:
    return [Run(**{k: v for k, v in row.items() if k in Run.__dataclass_fields__}) for row in rows]
