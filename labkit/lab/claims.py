"""Paper claims, measured over seeds (the claims schema of docs/methods.md §9).

A claim compares two arms of a notebook on one metric. Each seed gives one
effect, metric(better) - metric(worse), positive in the paper's direction.
The claim holds when the lower end of the 95% Student-t interval over seeds
is above 0:

    mean ± t_{0.975, n-1} · s / √n      (s = sample standard deviation, ddof=1)

Example::

    claim("dss>ft", "Step-by-step beats fine-tuning (Hsieh et al., 2023, Table 1)",
          "accuracy", "dss", "ft", paired_effects({0: .6, 1: .7}, {0: .5, 1: .55}))
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence

from scipy import stats

from labkit.errors import LabkitError

KEYS = ("id", "claim", "metric", "better", "worse", "values", "mean", "ci95", "holds", "n")


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi): the two-sided Student-t interval of the mean over `values` (≥ 2, finite)."""
    xs = [float(v) for v in values]
    if len(xs) < 2:
        raise LabkitError(f"a confidence interval needs at least 2 values (one per seed), got {len(xs)}")
    if not all(math.isfinite(x) for x in xs):
        raise LabkitError(f"values must be finite numbers, got {xs}")
    n = len(xs)
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def paired_effects(better_values: Mapping, worse_values: Mapping) -> list[float]:
    """One effect per seed, better[seed] - worse[seed]; both dicts must have the same seeds."""
    if set(better_values) != set(worse_values):
        raise LabkitError(
            f"seeds differ between arms: better has {sorted(better_values)}, worse has {sorted(worse_values)}"
        )
    return [float(better_values[s]) - float(worse_values[s]) for s in sorted(better_values)]


def claim(
    id: str,
    claim: str,
    metric: str,
    better: str,
    worse: str,
    values: Sequence[float] | None = None,
    *,
    better_values: Mapping | None = None,
    worse_values: Mapping | None = None,
) -> dict:
    """One claim dict (JSON-serialisable) with keys `KEYS`.

    Pass `values` (one effect per seed), or `better_values` and `worse_values`
    ({seed: metric value} per arm), which are paired by seed.
    """
    if values is None:
        if better_values is None or worse_values is None:
            raise LabkitError("pass values, or both better_values and worse_values")
        values = paired_effects(better_values, worse_values)
    elif better_values is not None or worse_values is not None:
        raise LabkitError("pass either values or better_values/worse_values, not both")
    values = [float(v) for v in values]
    mean, lo, hi = t_interval(values)
    return {
        "id": str(id),
        "claim": str(claim),
        "metric": str(metric),
        "better": str(better),
        "worse": str(worse),
        "values": values,
        "mean": mean,
        "ci95": [lo, hi],
        "holds": bool(lo > 0),
        "n": len(values),
    }


def markdown(claims: Sequence[Mapping]):
    """The claims as a table for a notebook cell: held (✓/✗), mean effect, 95% CI, seeds, the claim."""
    rows = ["| held | claim | metric: better vs worse | mean effect | 95% CI | seeds |", "|---|---|---|---:|---|---:|"]
    for c in claims:
        lo, hi = c["ci95"]
        rows.append(
            f"| {'✓' if c['holds'] else '✗'} | {c['claim']} | {c['metric']}: {c['better']} vs {c['worse']} "
            f"| {c['mean']:+.4g} | [{lo:+.4g}, {hi:+.4g}] | {c['n']} |"
        )
    text = "\n".join(rows)
    try:
        from IPython.display import Markdown  # lazy: only notebooks display it

        return Markdown(text)
    except ImportError:
        return text


def learning(per_seed: Mapping[str, Mapping], step0, metric: str, chance: float | None = None) -> list[dict]:
    """Do the trained arms learn? One row per arm: its metric after training over seeds against its step-0
    value (the untrained or initial student) and chance, for the report's "Do the students learn?" table.

    Args:
        per_seed: {arm: {seed: metric after training}} (≥ 2 seeds for an interval).
        step0: {arm: metric at step 0} or one number shared by every arm (a shared initialisation).
        metric: what was measured (e.g. "test accuracy").
        chance: the metric of a random guess (None where it has no meaning, e.g. a generated number).
    Returns:
        [{"arm", "metric", "step0", "chance", "final", "ci95", "n", "gain_over_step0", "learns"}]: learns is
        True when the interval's lower end is above both step 0 and chance.
    """
    out = []
    for arm, values in per_seed.items():
        xs = [float(values[s]) for s in sorted(values)]
        s0 = float(step0[arm] if isinstance(step0, Mapping) else step0)
        mean, lo, hi = t_interval(xs) if len(xs) > 1 else (xs[0], math.nan, math.nan)
        floor = max(s0, chance) if chance is not None else s0
        out.append(
            {
                "arm": str(arm),
                "metric": str(metric),
                "step0": s0,
                "chance": chance,
                "final": mean,
                "ci95": [lo, hi],
                "n": len(xs),
                "gain_over_step0": mean - s0,
                "learns": bool(len(xs) > 1 and lo > floor),
            }
        )
    return out


def not_counted(rows: Sequence[Mapping], why: Mapping[str, str]) -> list[dict]:
    """The learning rows, each marked whether it counts toward "does the student learn": a row whose metric
    (``"test accuracy"``), arm (``"minillm −length-norm"``) or "<arm>|<metric>" is a key of `why` gets
    ``counts=False`` and ``not_counted=why[key]`` (a metric that is not the paper's own, an ablation whose point is
    a collapse); the report shows it without a verdict. Every other row gets ``counts=True``."""
    out = []
    for r in rows:
        key = next((k for k in (f"{r['arm']}|{r['metric']}", r["arm"], r["metric"]) if k in why), None)
        out.append({**r, "counts": True} if key is None else {**r, "counts": False, "not_counted": why[key]})
    return out


def fill(template: str, numbers: Mapping | None) -> str:
    """A reading's template with its {fields} filled from the run's numbers (``{name:+.2f}`` formats work);
    a field with no number reads "n/a"."""
    if not numbers or "{" not in template:
        return template
    out = []
    for text, name, spec, conv in string.Formatter().parse(template):
        out.append(text)
        if name is None:
            continue
        value = numbers.get(name)
        try:
            out.append("n/a" if value is None else format(value, spec or ""))
        except (TypeError, ValueError):
            out.append(str(value))
    return "".join(out)


def not_learning(
    rows: Sequence[Mapping], why: Mapping[str, str], default: str = "", numbers: Mapping | None = None
) -> dict[str, str]:
    """{"<arm> · <metric>": the notebook's reading} for each `learning` row that does not learn (metrics
    ["not_learning"]; the report groups them under its "Do the students learn?" table, whose rows hold the numbers).
    `why` is looked up by "<arm>|<metric>", else by the metric ("test accuracy"), else by the longest key the arm
    starts with ("minillm" reads for every MiniLLM ablation), else `default`, else what the numbers say (mean above
    step 0 with a wide spread, or not above it)."""
    out = {}
    for r in rows:
        if r["learns"] or r.get("counts") is False:
            continue
        arm, metric = r["arm"], r["metric"]
        keys = [k for k in why if "|" not in k and k != metric and arm.startswith(k)]
        reason = why.get(f"{arm}|{metric}") or why.get(metric) or (why[max(keys, key=len)] if keys else default)
        if not reason:
            reason = (
                "the mean is above step 0, but the seeds spread more than the gain at this budget"
                if r["final"] > r["step0"]
                else "the mean is not above step 0 at this budget"
            ) + f" ({r['n']} seeds)."
        out[f"{arm} · {metric}"] = fill(reason, numbers)
    return out


def learning_metrics(
    rows: Sequence[Mapping], why: Mapping[str, str] | None = None, default: str = "", numbers: Mapping | None = None
) -> dict:
    """{"learning": rows, "not_learning": not_learning(rows, why, default, numbers)}: what a notebook writes into
    metrics.json (rows marked ``counts=False`` by ``not_counted`` get no reading: they are not judged)."""
    return {"learning": list(rows), "not_learning": not_learning(rows, why or {}, default, numbers)}


def not_holding(
    claims: Sequence[Mapping], why: Mapping[str, str], default: str = "", numbers: Mapping | None = None
) -> dict[str, str]:
    """{claim id: the measured effect and the notebook's reading} for each claim that does not hold
    (metrics["claims_not_holding"]; the report lists them under the claims). `why` is looked up by the
    claim's id, else by the longest key the id starts with ("full>w/o" reads for every single-teacher ablation,
    "minillm>sft" for the claim on each metric, "minillm>sft:rouge_l"). Where every seed's effect is positive
    and the interval still reaches 0, the text says so, with the effects."""
    out = {}
    for c in claims:
        if not c["holds"]:
            keys = [k for k in why if c["id"].startswith(k)]
            reason = fill(why[max(keys, key=len)] if keys else default, numbers)
            values = c.get("values") or []
            signs = (
                f"; every seed's effect is positive ({', '.join(f'{v:+.3f}' for v in values)}), but {len(values)} "
                f"seeds give a wide interval"
                if len(values) > 1 and all(v > 0 for v in values)
                else ""
            )
            out[c["id"]] = (
                f"{c['id']}: mean effect {c['mean']:+.3f}, 95% CI [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}] "
                f"({c['n']} seeds) does not lie above 0{signs}" + (f" — {reason}" if reason else ".")
            )
    return out
