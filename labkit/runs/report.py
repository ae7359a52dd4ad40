"""Collect a runs folder into results.csv and a report (report.md + report.html).

    labkit report runs/default        # also written at the end of every `labkit reproduce` / `labkit batch`

The folder holds OUT/<notebook-stem>/<run-id>/ with metrics.json (written by the notebook) and run.json
(written by labkit.runs.batch: parameters, status, wall time, error). Folders made by papermill directly
(metrics.json only) are collected too.

results.csv has one row per run: notebook, run_id, grid, label, status, seed, profile, wall_s,
parameters (JSON), one `param.<name>` column per parameter, one `metric.<name>` column per scalar
metric (nested dicts flattened with '.'), error.

report.md opens with one table of every claim of every notebook (held or not: mean effect, 95% CI, seeds,
the claim with its citation); then, per notebook: the paper it reproduces and the paper's setting beside ours; a
table of the
runs grouped by parameters with mean ± std over seeds; the notebook's own tables ("tables" in
metrics.json, numeric cells averaged over seeds); its figures; the paper's claims and numbers (only
those we are sure of, with citations) next to what the lab measured.
"""

from __future__ import annotations

import csv
import fnmatch
import html
import json
import math
import statistics
import time
from collections import OrderedDict
from pathlib import Path

import scipy.stats

from labkit.lab.papers import PAPERS, SCALE_NOTE, paper_of  # noqa: F401 - report.PAPERS, as before
from labkit.runs.layout import format_value, metrics_complete

HIDDEN_PARAMS = ("out_dir", "interactive")


# --------------------------------------------------------------------------- helpers


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def flatten(d: dict, prefix: str = "") -> dict:
    """Scalar leaves of a nested dict as {"a.b": value}; lists and the report keys are left out."""
    out = {}
    for k, v in d.items():
        if not prefix and k in ("tables", "figures"):
            continue
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[key] = v
    return out


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (n-1); std None for a single value."""
    m = statistics.fmean(values)
    return m, (statistics.stdev(values) if len(values) > 1 else None)


def fmt_number(x) -> str:
    if isinstance(x, bool) or not _is_number(x):
        return "" if x is None else str(x)
    a = abs(x)
    if a >= 1e6:  # FLOPs and the like: three significant digits
        return f"{x:.3g}"
    if isinstance(x, int):
        return str(x)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{x:.0f}"
    if a >= 100:
        return f"{x:.1f}"
    if a >= 0.01:
        return f"{x:.3f}"
    return f"{x:.2e}"


def fmt_cell(x) -> str:
    """A table cell: numbers as fmt_number, lists joined with '+', dicts as compact JSON."""
    if isinstance(x, (list, tuple)):
        return "+".join(fmt_cell(v) for v in x) if all(_is_number(v) for v in x) else format_value(list(x))
    if isinstance(x, dict):
        return json.dumps(x, ensure_ascii=False, separators=(", ", ": "))
    return fmt_number(x)


def fmt_mean_std(values: list) -> str:
    """'0.600 ± 0.100' over seeds (one value: the value alone; non-numbers: the distinct values)."""
    nums = [v for v in values if _is_number(v)]
    if not nums:
        distinct = list(OrderedDict.fromkeys(str(v) for v in values if v is not None))
        return " / ".join(distinct)
    m, s = mean_std(nums)
    if s is None:
        return fmt_number(nums[0])
    if all(isinstance(v, int) for v in nums) and s == 0:
        return str(nums[0])
    return f"{fmt_number(m)} ± {fmt_number(s)}"


def _md_cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def md_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _anchor(text: str) -> str:
    """GitHub-style heading anchor."""
    keep = "".join(c for c in text.lower() if c.isalnum() or c in " -_")
    return keep.strip().replace(" ", "-")


# --------------------------------------------------------------------------- collection


def load_runs(out) -> list[dict]:
    """One dict per run folder OUT/<notebook>/<run-id>/ that has a run.json or a metrics.json.

    Keys: notebook, run_id, dir, grid, label, status ("ok" | "failed" | "incomplete"), seed, profile,
    parameters, wall_s, error, error_cell, metrics (dict), flat (scalar metrics), tables, figures.
    """
    out = Path(out)
    runs = []
    for d in sorted(p for p in out.glob("*/*") if p.is_dir()):
        record = _read_json(d / "run.json") or {}
        doc = _read_json(d / "metrics.json") if metrics_complete(d) else None
        if not record and doc is None:
            continue
        metrics = (doc or {}).get("metrics") or {}
        params = record.get("parameters") or (doc or {}).get("parameters") or {}
        if doc is not None:
            status = "ok"
        elif record.get("status") == "failed":
            status = "failed"
        else:
            status = "incomplete"
        wall = record.get("wall_s")
        if wall is None and doc is not None:
            wall = (doc.get("timings") or {}).get("total")
        figures = (
            [f for f in metrics.get("figures") or [] if (d / f).is_file()]
            if isinstance(metrics.get("figures"), list)
            else []
        )
        runs.append(
            {
                "notebook": d.parent.name,
                "run_id": d.name,
                "dir": d,
                "grid": record.get("grid", ""),
                "label": record.get("label", ""),
                "status": status,
                "seed": params.get("seed", record.get("seed")),
                "profile": params.get("profile", ""),
                "parameters": params,
                "wall_s": wall,
                "resolved": (doc or {}).get("parameters") or params,  # the notebook's values after profile defaults
                "error": record.get("error")
                if status == "failed"
                else ("interrupted (no complete metrics.json)" if status == "incomplete" else None),
                "error_cell": record.get("error_cell") if status == "failed" else None,
                "metrics": metrics,
                "flat": flatten(metrics),
                "tables": metrics.get("tables") if isinstance(metrics.get("tables"), dict) else {},
                "figures": figures,
            }
        )
    return runs


def write_results_csv(runs: list[dict], path) -> Path:
    """results.csv, one row per run (see the module docstring for the columns)."""
    param_cols, metric_cols = OrderedDict(), OrderedDict()
    for r in runs:
        for k in r["parameters"]:
            if k not in HIDDEN_PARAMS:
                param_cols[f"param.{k}"] = None
        for k in r["flat"]:
            metric_cols[f"metric.{k}"] = None
    header = [
        "notebook",
        "run_id",
        "grid",
        "label",
        "status",
        "seed",
        "profile",
        "wall_s",
        "parameters",
        *param_cols,
        *metric_cols,
        "error",
    ]
    path = Path(path)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        for r in runs:
            row = {
                k: r[k] for k in ("notebook", "run_id", "grid", "label", "status", "seed", "profile", "wall_s", "error")
            }
            row["parameters"] = json.dumps(
                {k: v for k, v in r["parameters"].items() if k not in HIDDEN_PARAMS}, sort_keys=True
            )
            for k, v in r["parameters"].items():
                if k not in HIDDEN_PARAMS:
                    row[f"param.{k}"] = format_value(v)
            for k, v in r["flat"].items():
                row[f"metric.{k}"] = v
            w.writerow(row)
    return path


def group_runs(runs: list[dict]) -> list[dict]:
    """Runs of one notebook grouped by their parameters apart from the seed, in first-seen order.

    Returns [{"key": {param: value}, "label", "runs": [...]}] — `key` holds the parameters that vary
    between the groups (all of them when only one group).
    """
    groups: OrderedDict[str, dict] = OrderedDict()
    for r in runs:
        params = {k: v for k, v in r["parameters"].items() if k not in (*HIDDEN_PARAMS, "seed")}
        key = json.dumps(params, sort_keys=True, default=str)
        groups.setdefault(key, {"params": params, "label": r["label"], "runs": []})["runs"].append(r)
    out = list(groups.values())
    names = list(OrderedDict.fromkeys(k for g in out for k in g["params"]))
    varying = [n for n in names if len({json.dumps(g["params"].get(n), default=str) for g in out}) > 1]
    for g in out:
        g["key"] = {n: g["params"].get(n) for n in varying}
    return out


def aggregate_table(tables: list[list[dict]]) -> tuple[list[str], list[list[str]], bool]:
    """One notebook table over seeds: numeric cells as mean ± std when every seed's table has the same
    rows (same length and the same non-numeric cells); otherwise the first seed's table as is.

    Returns (header, rows, aggregated).
    """
    tables = [t for t in tables if isinstance(t, list) and t and all(isinstance(row, dict) for row in t)]
    if not tables:
        return [], [], False
    header = list(OrderedDict.fromkeys(k for row in tables[0] for k in row))

    def shape(t):
        return [tuple((k, row.get(k)) for k in header if not _is_number(row.get(k))) for row in t]

    same = len(tables) > 1 and all(len(t) == len(tables[0]) and shape(t) == shape(tables[0]) for t in tables)
    if not same:
        return header, [[fmt_cell(row.get(k)) for k in header] for row in tables[0]], False
    rows = []
    for i, row in enumerate(tables[0]):
        rows.append(
            [
                fmt_mean_std([t[i].get(k) for t in tables]) if _is_number(row.get(k)) else fmt_cell(row.get(k))
                for k in header
            ]
        )
    return header, rows, True


# --------------------------------------------------------------------------- report


def _paper(notebook: str) -> dict | None:
    return paper_of(notebook)


def _setting_line(runs: list[dict]) -> str:
    """The lab's setting, from the first finished run's parameters as the notebook resolved them
    (models, data, sizes after the profile's defaults)."""
    r = next((r for r in runs if r["status"] == "ok"), runs[0])
    params = {k: v for k, v in r["resolved"].items() if k not in (*HIDDEN_PARAMS, "seed")}
    shown = ", ".join(f"`{k}={format_value(v)}`" for k, v in params.items())
    seeds = sorted({x["seed"] for x in runs if x["seed"] is not None})
    return f"{shown or '(notebook defaults)'}; seeds {', '.join(map(str, seeds))}"


def _metric_columns(groups: list[dict], patterns: list[str] | None = None, limit: int = 10) -> list[str]:
    """Numeric metric names for the runs table: those matching the notebook's key patterns (else all),
    at most `limit`."""
    cols = OrderedDict()
    for g in groups:
        for r in g["runs"]:
            for k, v in r["flat"].items():
                if _is_number(v) and (not patterns or any(fnmatch.fnmatchcase(k, p) for p in patterns)):
                    cols[k] = None
    if not cols and patterns:
        return _metric_columns(groups, None, limit)
    return list(cols)[:limit]


def _lab_summary(spec: dict | None, runs: list[dict]) -> str:
    """What the lab measured for a paper claim: 'label: col value, ...; ...' from a notebook table,
    mean ± std over the seeds of the first parameter group."""
    if not spec or not runs:
        return "—"
    if "claims" in spec:
        return _lab_claims(spec["claims"], runs)
    head, rows, _ = aggregate_table([r["tables"].get(spec["table"]) for r in runs])
    if not head or spec["label"] not in head:
        return "—"
    li = head.index(spec["label"])
    parts = []
    for row in rows:
        vals = [f"{c} {row[head.index(c)]}" for c in spec["values"] if c in head and row[head.index(c)] != ""]
        if vals:
            parts.append(f"{row[li]}: {', '.join(vals)}")
    return "; ".join(parts) or "—"


def _lab_claims(prefixes: list[str], runs: list[dict]) -> str:
    """The lab's claims whose id starts with one of ``prefixes``: 'id: mean [lo, hi] ✓/✗ (n seeds)', and where the
    notebook wrote each arm's accuracy, the better arm's gain relative to the worse one (papers often quote that)."""
    parts = []
    for c in collect_claims(runs):
        if not any(c["id"].startswith(p) for p in prefixes) or c["mean"] is None:
            continue
        ci = c["ci95"]
        text = f"{c['id']}: {fmt_number(c['mean'])}" + (f" [{fmt_number(ci[0])}, {fmt_number(ci[1])}]" if ci else "")
        if str(c.get("metric", "")).startswith("log10"):  # an effect in log10: the ratio it stands for
            text += f" (×{10 ** c['mean']:.3g}" + (f" [{10 ** ci[0]:.3g}, {10 ** ci[1]:.3g}]" if ci else "") + ")"
        text += f" {'✓' if c['holds'] else '✗'} ({c['n']} seeds"
        acc = [r["metrics"].get("accuracy") for r in runs if r["status"] == "ok"]
        pairs = [
            (a[c["better"]], a[c["worse"]])
            for a in acc
            if isinstance(a, dict)
            and _is_number(a.get(c["better"]))
            and _is_number(a.get(c["worse"]))
            and a[c["worse"]] > 0
        ]
        if pairs:
            text += f"; {statistics.fmean(b / w - 1 for b, w in pairs):+.1%} relative"
        parts.append(text + ")")
    return "; ".join(parts) or "—"


def _notebook_section(notebook: str, runs: list[dict], out: Path) -> list[str]:
    paper = _paper(notebook)
    title = f"{notebook}" + (f" — {paper['title']}" if paper else "")
    lines = [f"## {title}", ""]
    if paper:
        lines += [f"**Paper.** {paper['paper']}.  ", f"**Paper setting.** {paper['paper_setting']}.  "]
    lines += [f"**Lab setting.** {_setting_line(runs)}.", ""]

    groups = group_runs(runs)
    if len(groups) == 1:
        g = groups[0]
        ok = sum(r["status"] == "ok" for r in g["runs"])
        walls = [r["wall_s"] for r in g["runs"] if _is_number(r["wall_s"])]
        n = len(g["runs"])
        lines += [
            f"{n} run{'s' if n > 1 else ''}, {ok} ok"
            + (f", {statistics.fmean(walls):.0f} s" + (" each on average" if n > 1 else "") if walls else "")
            + (f"; tables below are means ± std over {ok} seeds." if ok > 1 else "."),
            "",
        ]
    metric_cols = _metric_columns(groups, (paper or {}).get("key_metrics"))
    varying = list(groups[0]["key"]) if groups else []
    has_labels = any(g["label"] for g in groups)
    header = (["variant"] if has_labels else []) + varying + ["runs"] + metric_cols + ["wall time"]
    rows = []
    for g in groups:
        ok = [r for r in g["runs"] if r["status"] == "ok"]
        status = f"{len(ok)}/{len(g['runs'])} ok"
        metric_cells = [fmt_mean_std([r["flat"].get(c) for r in ok]) if ok else "—" for c in metric_cols]
        walls = [r["wall_s"] for r in g["runs"] if _is_number(r["wall_s"])]
        wall = f"{statistics.fmean(walls):.0f} s" if walls else ""
        rows.append(
            ([g["label"]] if has_labels else [])
            + [format_value(g["key"][v]) for v in varying]
            + [status]
            + metric_cells
            + [wall]
        )
    n_seeds = max(len(g["runs"]) for g in groups)
    if len(groups) > 1:
        lines += ["### Grid" + (" (mean ± std over seeds)" if n_seeds > 1 else ""), "", md_table(header, rows), ""]

    # the notebook's own tables, per parameter group (the first group open, the others folded)
    for gi, g in enumerate(groups):
        ok = [r for r in g["runs"] if r["status"] == "ok"]
        names = list(OrderedDict.fromkeys(n for r in ok for n in r["tables"]))
        figures = list(OrderedDict.fromkeys(f for r in ok[:1] for f in r["figures"]))
        if not names and not figures:
            continue
        where = ", ".join(f"{k}={format_value(v)}" for k, v in g["key"].items()) or "all runs"
        body = []
        for name in names:
            head, trows, agg = aggregate_table([r["tables"].get(name) for r in ok])
            if not head:
                continue
            note = (
                f" (mean ± std over {len(ok)} seeds)"
                if agg
                else (f" (seed {ok[0]['seed']}; rows differ between seeds)" if len(ok) > 1 else "")
            )
            body += [f"**{name.replace('_', ' ')}**{note}", "", md_table(head, trows), ""]
        for f in figures:
            rel = (ok[0]["dir"] / f).relative_to(out).as_posix()
            body += [f"![{f}]({rel})", ""]
        if len(groups) == 1:
            lines += body
        elif gi == 0:
            lines += [f"### Tables and figures: {where}", ""] + body
        else:
            lines += (
                [f"<details><summary>Tables and figures: {html.escape(where)}</summary>", ""]
                + body
                + ["</details>", ""]
            )

    if paper:
        first = [r for r in groups[0]["runs"] if r["status"] == "ok"]
        claims = [[c["claim"], c["source"], _lab_summary(c.get("lab"), first)] for c in paper["claims"]]
        lines += [
            "### The paper (its scale) beside the lab (this miniature)",
            "",
            md_table(["paper's claim", "source", "lab, measured here"], claims),
            "",
        ]
    return lines


# --------------------------------------------------------------------------- claims (the report opens with them)


def student_t_ci95(values: list[float]) -> tuple[float, float] | None:
    """Two-sided 95% Student-t interval of the mean over seeds; None with fewer than two values."""
    if len(values) < 2:
        return None
    m, s = statistics.fmean(values), statistics.stdev(values)
    half = float(scipy.stats.t.ppf(0.975, len(values) - 1)) * s / math.sqrt(len(values))
    return m - half, m + half


def collect_claims(runs: list[dict]) -> list[dict]:
    """Every claim of every notebook, one row per (notebook, claim id), in first-seen order.

    A claim (docs/methods.md §9) is {"id", "claim", "metric", "better", "worse", "values", "mean",
    "ci95", "holds"}: values = one effect per seed, metric(better) − metric(worse), positive = the
    paper's direction. One run: its claim as written. Several finished runs with the same claim id (seeds
    run as separate runs): their values are pooled and mean, ci95 and holds (lower end > 0) recomputed.
    """
    rows: OrderedDict[tuple, dict] = OrderedDict()
    for r in runs:
        if r["status"] != "ok":
            continue
        claims = r["metrics"].get("claims")
        for c in claims if isinstance(claims, list) else []:
            if isinstance(c, dict) and c.get("id"):
                rows.setdefault((r["notebook"], c["id"]), {"notebook": r["notebook"], "written": []})["written"].append(
                    c
                )
    out = []
    for (notebook, cid), row in rows.items():
        written = row["written"]
        first = written[0]
        if len(written) == 1:
            values = [v for v in first.get("values") or [] if _is_number(v)]
            mean, ci, holds = first.get("mean"), first.get("ci95"), first.get("holds")
        else:
            values = [v for c in written for v in c.get("values") or [] if _is_number(v)]
            mean = statistics.fmean(values) if values else None
            ci = student_t_ci95(values)
            holds = bool(ci and ci[0] > 0)
        out.append(
            {
                **first,
                "notebook": notebook,
                "id": cid,
                "values": values,
                "mean": mean,
                "ci95": list(ci) if ci else None,
                "holds": bool(holds),
                "n": len(values),
            }
        )
    return out


def _citation(claim: dict) -> str:
    cite = claim.get("citation") or claim.get("source")
    if not cite:
        paper = paper_of(claim["notebook"])
        cite = paper["paper"] if paper else ""
    return f" ({cite})" if cite else ""


def claims_section(runs: list[dict]) -> list[str]:
    """Markdown: one table of every claim of every notebook (held or not), then the notebooks that wrote none."""
    claims = collect_claims(runs)
    notebooks = list(OrderedDict.fromkeys(r["notebook"] for r in runs))
    silent = [n for n in notebooks if n not in {c["notebook"] for c in claims}]
    lines = [
        "## Claims",
        "",
        "Each claim is the paper's, tested by the lab: the effect is metric(better) − metric(worse) per "
        "seed (positive = the paper's direction); it holds (✓) when the lower end of the 95% Student-t "
        "interval over seeds is above zero, and not (✗) otherwise (also with a single seed, which gives "
        "no interval).",
        "",
    ]
    header = ["held", "notebook", "claim", "mean effect", "95% CI", "n seeds", "metric: better vs worse", "the claim"]

    def row(c):
        return [
            "✓" if c["holds"] else "✗",
            c["notebook"],
            c["id"],
            fmt_number(c["mean"]),
            f"[{fmt_number(c['ci95'][0])}, {fmt_number(c['ci95'][1])}]" if c.get("ci95") else "—",
            c["n"],
            f"{c.get('metric', '')}: {c.get('better', '')} vs {c.get('worse', '')}",
            f"{c.get('claim', '')}{_citation(c)}",
        ]

    heads = [c for c in claims if c.get("headline")]
    rest = [c for c in claims if not c.get("headline")]
    if heads:
        lines += [
            "### Headline claims",
            "",
            "One per notebook (one per miniature in the survey's map), written down before its test numbers were "
            "looked at, at the regime the paper itself studies.",
            "",
            md_table(header, [row(c) for c in heads]),
            "",
            f"{sum(c['holds'] for c in heads)} of {len(heads)} headline claims held.",
            "",
        ]
    if rest:
        lines += (["### The other claims", ""] if heads else []) + [md_table(header, [row(c) for c in rest]), ""]
    if claims:
        held = sum(c["holds"] for c in claims)
        lines += [f"{held} of {len(claims)} claims held in all.", ""]
    for n in silent:
        lines += [f"- {n}: no claims written"]
    return lines + ([""] if silent else [])


def why_not_section(runs: list[dict]) -> list[str]:
    """Markdown: for each claim that does not hold, the notebook's own reading of why
    (metrics["claims_not_holding"] = {claim id: text}); claims with no reading are listed as such."""
    notes = OrderedDict()
    for r in runs:
        if r["status"] == "ok" and isinstance(r["metrics"].get("claims_not_holding"), dict):
            for cid, text in r["metrics"]["claims_not_holding"].items():
                notes.setdefault((r["notebook"], cid), str(text))
    failing = [c for c in collect_claims(runs) if not c["holds"]]
    if not failing:
        return []
    lines = [
        "### Why these claims do not hold",
        "",
        "The notebook's reading of each claim that did not hold, as measured (nothing was tuned on the test "
        "split to turn a claim green).",
        "",
    ]
    for c in failing:
        text = notes.get((c["notebook"], c["id"]))
        lines += [f"- **{c['notebook']} · {c['id']}**: " + (text or "see the notebook's reading of its claims.")]
    return lines + [""]


def learning_section(runs: list[dict]) -> list[str]:
    """Markdown: do the trained students learn? metrics["learning"] rows (lab.claims.learning) of every notebook:
    each arm's metric after training (mean, 95% interval over seeds) beside its step-0 value and chance."""
    rows = []
    for r in runs:
        if r["status"] == "ok" and isinstance(r["metrics"].get("learning"), list):
            rows += [(r["notebook"], x) for x in r["metrics"]["learning"] if isinstance(x, dict)]
    if not rows:
        return []
    body = [
        [
            "n/a" if x.get("counts") is False else "✓" if x.get("learns") else "✗",
            nb,
            x.get("arm", ""),
            x.get("metric", ""),
            fmt_number(x.get("chance")) if _is_number(x.get("chance")) else "—",
            fmt_number(x.get("step0")),
            fmt_number(x.get("final")),
            (
                f"[{fmt_number(x['ci95'][0])}, {fmt_number(x['ci95'][1])}]"
                if isinstance(x.get("ci95"), list) and all(map(_is_number, x["ci95"]))
                else "—"
            ),
            fmt_number(x.get("gain_over_step0")),
            x.get("n", ""),
        ]
        for nb, x in rows
    ]
    counted = [x for _, x in rows if x.get("counts") is not False]
    learns = sum(bool(x.get("learns")) for x in counted)
    skipped = OrderedDict()  # reason -> ["notebook · arm · metric"]
    for nb, x in rows:
        if x.get("counts") is False:
            skipped.setdefault(str(x.get("not_counted", "")), []).append(f"{nb} · {x.get('arm', '')}")
    return (
        [
            "## Do the students learn?",
            "",
            "Each trained arm after training (mean over seeds, 95% Student-t interval) beside its own step 0 (the "
            "untrained or initial student) and chance; it learns (✓) when the interval's lower end is above both.",
            "",
            md_table(
                [
                    "learns",
                    "notebook",
                    "arm",
                    "metric",
                    "chance",
                    "step 0",
                    "trained",
                    "95% CI",
                    "gain over step 0",
                    "n seeds",
                ],
                body,
            ),
            "",
            f"{learns} of {len(counted)} arms learn"
            + (f" ({len(rows) - len(counted)} rows marked n/a are not judged: see below)." if skipped else "."),
            "",
        ]
        + (
            [
                "Learning is judged on each paper's own metrics. Not judged (n/a), and why:",
                "",
                *[f"- {why}: {', '.join(who)}" for why, who in skipped.items()],
                "",
            ]
            if skipped
            else []
        )
        + not_learning_section(runs, rows)
    )


def not_learning_section(runs: list[dict], rows: list[tuple[str, dict]]) -> list[str]:
    """Markdown: the notebook's reading of each arm that does not learn (metrics["not_learning"] =
    {"<arm> · <metric>": text}, lab.claims.not_learning), one line per notebook and reading, naming its arms by
    metric (the numbers are in the table above); arms with no reading are named as such."""
    notes = {}
    for r in runs:
        if r["status"] == "ok" and isinstance(r["metrics"].get("not_learning"), dict):
            notes.update({(r["notebook"], k): str(v) for k, v in r["metrics"]["not_learning"].items()})
    groups: OrderedDict = OrderedDict()  # (notebook, reading) -> {metric: [arms]}
    for nb, x in rows:
        if not x.get("learns") and x.get("counts") is not False:
            arm, metric = str(x.get("arm", "")), str(x.get("metric", ""))
            text = notes.get((nb, f"{arm} · {metric}"), "no reading written by the notebook.")
            groups.setdefault((nb, text), OrderedDict()).setdefault(metric, []).append(arm)
    if not groups:
        return []
    lines = [
        "### Why these arms do not learn",
        "",
        "The notebook's reading of the arms whose interval does not clear their step 0 (and chance); their "
        "numbers are in the table above.",
        "",
    ]
    for (nb, text), by_metric in groups.items():
        who = "; ".join(f"{metric}: {', '.join(arms)}" for metric, arms in by_metric.items())
        lines += [f"- **{nb}** · {who} — {text}"]
    return lines + [""]


def render_markdown(out, runs: list[dict]) -> str:
    out = Path(out)
    ok = sum(r["status"] == "ok" for r in runs)
    failed = [r for r in runs if r["status"] == "failed"]
    incomplete = [r for r in runs if r["status"] == "incomplete"]
    walls = [r["wall_s"] for r in runs if _is_number(r["wall_s"])]
    profiles = sorted({str(r["profile"]) for r in runs if r["profile"]})
    notebooks = list(OrderedDict.fromkeys(r["notebook"] for r in runs))
    lines = [
        "# Distillation lab: reproduction report",
        "",
        f"Runs folder `{out}` · profile {', '.join(profiles) or '?'} · {len(runs)} runs: {ok} ok, "
        f"{len(failed)} failed, {len(incomplete)} incomplete · summed run time {sum(walls) / 60:.1f} min · "
        f"written {time.strftime('%Y-%m-%d %H:%M %Z')}.",
        "",
        f"> {SCALE_NOTE}",
        "",
        "Numbers are means ± sample standard deviation (n − 1) over seeds when a setting ran with several "
        "seeds; one seed shows the value alone. Every run: `results.csv`; each run's executed notebook: "
        "`<notebook>/<run-id>/output.ipynb`.",
        "",
    ]
    lines += claims_section(runs) + why_not_section(runs) + learning_section(runs)
    if notebooks:
        lines += [
            "Contents: "
            + " · ".join(
                f"[{n}](#{_anchor(n + (' — ' + _paper(n)['title'] if _paper(n) else ''))})" for n in notebooks
            ),
            "",
        ]
    if failed or incomplete:
        lines += ["## Failed runs", ""]
        for r in failed + incomplete:
            lines += [
                f"- **{r['notebook']}/{r['run_id']}** ({r['status']}): `{r['error']}` — "
                f"`{(r['dir'] / 'output.ipynb').relative_to(out).as_posix()}`"
            ]
            if r.get("error_cell"):
                lines += (
                    ["", "  cell that raised:", "", "  ```python"]
                    + [f"  {line}" for line in r["error_cell"].splitlines()[:15]]
                    + ["  ```"]
                )
        lines += [""]
    for nb in notebooks:
        lines += _notebook_section(nb, [r for r in runs if r["notebook"] == nb], out)
    return "\n".join(lines).rstrip() + "\n"


def render_html(markdown_text: str, title: str = "Distillation lab report") -> str:
    """report.html from the markdown (mistune, shipped with nbconvert; a <pre> fallback without it)."""
    try:
        import mistune  # lazy: optional; only for report.html

        body = mistune.create_markdown(escape=False, plugins=["table"])(markdown_text)
    except Exception:  # noqa: BLE001 - the markdown is the report; html is a convenience
        body = f"<pre>{html.escape(markdown_text)}</pre>"
    style = (
        "body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
        "table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;"
        "text-align:left}th{background:#f3f3f3}img{max-width:100%}blockquote{background:#fff8e0;"
        "margin:0;padding:.5rem 1rem;border-left:4px solid #e0b000}code{background:#f3f3f3}"
    )
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n{body}\n</body></html>\n"
    )


def write_report(out) -> dict:
    """Write OUT/results.csv, OUT/report.md and OUT/report.html; return their paths."""
    out = Path(out)
    runs = load_runs(out)
    md = render_markdown(out, runs)
    paths = {"csv": write_results_csv(runs, out / "results.csv"), "md": out / "report.md", "html": out / "report.html"}
    paths["md"].write_text(md)
    paths["html"].write_text(render_html(md))
    return paths
