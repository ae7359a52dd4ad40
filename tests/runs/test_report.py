"""labkit.runs.report: results.csv and report.md from a runs folder with known metric values.

The runs folder is built the way notebooks and the batch runner leave it (metrics.json written by
lk.lab.metrics.write_metrics, run.json by labkit.runs.batch), with values chosen so that means and sample
standard deviations over three seeds are known exactly.
"""

import csv
import json
import math
from pathlib import Path

import pytest

from labkit.runs import report


def write_metrics(out_dir, notebook, parameters, metrics, timings):
    """metrics.json in the shape lk.lab.metrics.write_metrics writes (without importing torch for versions)."""
    doc = {
        "notebook": notebook,
        "parameters": parameters,
        "metrics": metrics,
        "timings": timings,
        "versions": {"python": "3"},
    }
    (Path(out_dir) / "metrics.json").write_text(json.dumps(doc))


# alphas -> acc over seeds 0, 1, 2
ACC = {
    0.1: [0.5, 0.6, 0.7],  # mean 0.6, sample std 0.1
    1.0: [0.2, 0.4, 0.9],
}  # mean 0.5, sample std sqrt(0.13) = 0.3606


def make_runs(out: Path) -> None:
    nb = "02_tinyllm_multi_teacher"
    for alpha, accs in ACC.items():
        for seed, acc in enumerate(accs):
            d = out / nb / f"alphas={alpha},seed={seed}"
            params = {
                "profile": "smoke",
                "alphas": alpha,
                "teachers": ["oracle", "noisy-oracle"],
                "seed": seed,
                "interactive": False,
                "out_dir": str(d),
            }
            (d.mkdir(parents=True))
            (d / "curve.png").write_bytes(b"\x89PNG\r\n\x1a\n")
            write_metrics(
                d,
                nb,
                params,
                {
                    "acc": acc,
                    "loss": {"final": 2.0 * acc},
                    "steps": 10,
                    "tables": {
                        "main_table": [{"method": "TinyLLM", "acc": acc}, {"method": "fine-tune", "acc": acc / 2}]
                    },
                    "figures": ["curve.png", "missing.png"],
                },
                {"total": 3.0},
            )
            (d / "run.json").write_text(
                json.dumps(
                    {"parameters": params, "status": "ok", "wall_s": 4.0 + seed, "grid": "tinyllm_alpha", "label": ""}
                )
            )
    bad = out / nb / "alphas=3.0,seed=0"
    bad.mkdir()
    (bad / "run.json").write_text(
        json.dumps(
            {
                "parameters": {"profile": "smoke", "alphas": 3.0, "teachers": ["oracle"], "seed": 0},
                "status": "failed",
                "wall_s": 1.5,
                "error": "ValueError: boom",
                "error_cell": "raise ValueError('boom')",
            }
        )
    )
    interrupted = out / "04_gkd_on_policy" / "seed=0"
    interrupted.mkdir(parents=True)
    (interrupted / "run.json").write_text(
        json.dumps({"parameters": {"profile": "smoke", "seed": 0}, "status": "running"})
    )


def test_mean_std_and_formatting():
    m, s = report.mean_std([0.2, 0.4, 0.9])
    assert m == pytest.approx(0.5) and s == pytest.approx(math.sqrt(0.13))
    assert report.mean_std([3.0]) == (3.0, None)
    assert report.fmt_mean_std([0.5, 0.6, 0.7]) == "0.600 ± 0.100"
    assert report.fmt_mean_std([0.25]) == "0.250"
    assert report.fmt_mean_std([10, 10]) == "10"
    assert report.fmt_mean_std(["kd", "kd"]) == "kd"
    assert report.flatten({"a": {"b": 1, "c": [1, 2]}, "tables": {}, "d": "x"}) == {"a.b": 1, "d": "x"}


def test_results_csv_has_one_row_per_run_with_flattened_columns(tmp_path):
    make_runs(tmp_path)
    paths = report.write_report(tmp_path)
    with open(paths["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    by_id = {(r["notebook"], r["run_id"]): r for r in rows}
    r = by_id[("02_tinyllm_multi_teacher", "alphas=1.0,seed=2")]
    assert r["status"] == "ok" and r["seed"] == "2" and r["profile"] == "smoke" and r["grid"] == "tinyllm_alpha"
    assert float(r["metric.acc"]) == 0.9 and float(r["metric.loss.final"]) == 1.8 and r["metric.steps"] == "10"
    assert r["param.alphas"] == "1.0" and r["param.teachers"] == "oracle+noisy-oracle"
    assert json.loads(r["parameters"]) == {
        "alphas": 1.0,
        "profile": "smoke",
        "seed": 2,
        "teachers": ["oracle", "noisy-oracle"],
    }
    assert float(r["wall_s"]) == 6.0
    bad = by_id[("02_tinyllm_multi_teacher", "alphas=3.0,seed=0")]
    assert bad["status"] == "failed" and bad["error"] == "ValueError: boom" and bad["metric.acc"] == ""
    assert by_id[("04_gkd_on_policy", "seed=0")]["status"] == "incomplete"
    assert "out_dir" not in rows[0]["parameters"] and "param.out_dir" not in rows[0]


def test_report_shows_means_std_over_seeds_tables_figures_and_paper_context(tmp_path):
    make_runs(tmp_path)
    md = report.write_report(tmp_path)["md"].read_text()
    # groups: the varying parameters (alphas, teachers) as columns, acc as mean ± std over 3 seeds
    assert "| alphas | teachers | runs | acc | loss.final | steps | wall time |" in md
    assert "| 0.1 | oracle+noisy-oracle | 3/3 ok | 0.600 ± 0.100 | 1.200 ± 0.200 | 10 | 5 s |" in md
    assert "| 1.0 | oracle+noisy-oracle | 3/3 ok | 0.500 ± 0.361 | 1.000 ± 0.721 | 10 | 5 s |" in md
    assert "| 3.0 | oracle | 0/1 ok | — | — | — | 2 s |" in md
    # the notebook's own table, cell by cell over the seeds
    assert "**main table** (mean ± std over 3 seeds)" in md
    assert "| TinyLLM | 0.600 ± 0.100 |" in md and "| fine-tune | 0.300 ± 0.050 |" in md
    # figures by relative path (only those that exist); failures listed with the cell that raised
    assert "![curve.png](02_tinyllm_multi_teacher/alphas=0.1,seed=0/curve.png)" in md and "missing.png" not in md
    assert "ValueError: boom" in md and "raise ValueError('boom')" in md
    assert "04_gkd_on_policy/seed=0** (incomplete)" in md
    # scale is stated; the paper beside the lab
    assert "CPU miniature" in md and "FLAN-T5" in md and "Tian et al." in md
    assert "8 runs: 6 ok, 1 failed, 1 incomplete" in md
    html = (tmp_path / "report.html").read_text()
    assert "<table>" in html and "0.600 ± 0.100" in html


def test_tables_with_different_rows_per_seed_are_not_averaged():
    header, rows, agg = report.aggregate_table([[{"m": "a", "x": 1.0}], [{"m": "b", "x": 2.0}]])
    assert not agg and header == ["m", "x"] and rows == [["a", "1.000"]]
    header, rows, agg = report.aggregate_table([[{"m": "a", "x": 1.0}], [{"m": "a", "x": 2.0}]])
    assert agg and rows == [["a", "1.500 ± 0.707"]]


def test_lab_summary_beside_a_paper_claim_averages_the_seeds():
    runs = [
        {
            "tables": {
                "ablations": [{"variant": "full", "accuracy": a}, {"variant": "w/o in-context", "accuracy": a / 2}]
            }
        }
        for a in (0.5, 0.6, 0.7)
    ]
    spec = {"table": "ablations", "label": "variant", "values": ["accuracy"]}
    assert report._lab_summary(spec, runs) == "full: accuracy 0.600 ± 0.100; w/o in-context: accuracy 0.300 ± 0.050"
    assert report._lab_summary(spec, [{"tables": {}}]) == "—"


def test_lab_summary_beside_a_paper_number_gives_the_claims_and_the_relative_gain():
    full, label = "TinyLLM (full)", "label only (fine-tuning)"
    claims = [
        dict(_claim("full>label-only", [0.1, 0.2, 0.3], True), better=full, worse=label),
        _claim("full>w/o llama2-7b-chat", [0.0, 0.02, -0.02], False),
        _claim("alpha 1>0.1", [0.1, 0.1], True),
    ]
    run = {
        "status": "ok",
        "notebook": "02_tinyllm_multi_teacher",
        "metrics": {"claims": claims, "accuracy": {full: 0.6, label: 0.4}},
    }
    spec = next(c["lab"] for c in report.PAPERS["02_tinyllm_multi_teacher"]["claims"] if "12.57" in c["claim"])
    assert report._lab_summary(spec, [run]) == "full>label-only: 0.200 [0.190, 0.210] ✓ (3 seeds; +50.0% relative)"
    spec = next(c["lab"] for c in report.PAPERS["02_tinyllm_multi_teacher"]["claims"] if "Ablations" in c["claim"])
    assert report._lab_summary(spec, [run]) == (
        "full>w/o llama2-7b-chat: 0 [-1.000, 1.000] ✗ (3 seeds); alpha 1>0.1: 0.100 [0.090, 0.110] ✓ (2 seeds)"
    )


def _claim(cid, values, holds, **extra):
    """A claim as a notebook writes it (docs/methods.md, "Claims"); mean and ci95 as the notebook computed them."""
    mean = sum(values) / len(values)
    return {
        "id": cid,
        "claim": f"{cid} beats the baseline",
        "metric": "accuracy",
        "better": "dss",
        "worse": "fine-tuning",
        "values": values,
        "mean": mean,
        "ci95": [mean - 0.01, mean + 0.01] if holds else [mean - 1.0, mean + 1.0],
        "holds": holds,
        **extra,
    }


def test_the_report_opens_with_every_claim_of_every_notebook(tmp_path):
    # 01: one run, two claims written with three seeds inside it (one held, one not)
    d = tmp_path / "01_distilling_step_by_step" / "seed=0"
    d.mkdir(parents=True)
    write_metrics(
        d,
        "01_distilling_step_by_step",
        {"profile": "default", "seed": 0},
        {
            "claims": [
                _claim("dss>ft", [0.1, 0.2, 0.3], True, citation="Hsieh et al. 2023, Table 1"),
                _claim("dss>distill", [-0.2, 0.1, 0.05], False),
            ]
        },
        {"total": 1.0},
    )
    # 04: the same claim from two runs (seeds as separate runs): values pooled, mean/CI/holds recomputed
    for seed, values in ((0, [1.0]), (1, [3.0])):
        d = tmp_path / "04_gkd_on_policy" / f"seed={seed}"
        d.mkdir(parents=True)
        write_metrics(
            d,
            "04_gkd_on_policy",
            {"profile": "smoke", "seed": seed},
            {"claims": [_claim("on>off", values, False)]},
            {"total": 1.0},
        )
    # 00: ran, wrote no claims
    d = tmp_path / "00_kl_mode_seeking" / "seed=0"
    d.mkdir(parents=True)
    write_metrics(d, "00_kl_mode_seeking", {"profile": "smoke", "seed": 0}, {"acc": 1.0}, {"total": 1.0})

    runs = report.load_runs(tmp_path)
    claims = {(c["notebook"], c["id"]): c for c in report.collect_claims(runs)}
    assert list(claims) == [
        ("01_distilling_step_by_step", "dss>ft"),
        ("01_distilling_step_by_step", "dss>distill"),
        ("04_gkd_on_policy", "on>off"),
    ]
    pooled = claims[("04_gkd_on_policy", "on>off")]
    assert pooled["values"] == [1.0, 3.0] and pooled["n"] == 2 and pooled["mean"] == pytest.approx(2.0)
    # t(0.975, 1) = 12.706; s = sqrt(2); half width = 12.706 * sqrt(2) / sqrt(2) = 12.706
    assert pooled["ci95"] == pytest.approx([2.0 - 12.7062, 2.0 + 12.7062], abs=1e-3) and pooled["holds"] is False
    assert report.student_t_ci95([1.0]) is None

    report.write_report(tmp_path)
    md = (tmp_path / "report.md").read_text()
    claims_at, first_section = md.index("## Claims"), md.index("\n## 00_kl_mode_seeking")
    assert claims_at < first_section  # claims first, then each notebook
    table = md[claims_at:first_section]
    rows = [line for line in table.splitlines() if line.startswith("| ✓") or line.startswith("| ✗")]
    assert len(rows) == 3
    assert rows[0].startswith("| ✓ | 01_distilling_step_by_step | dss>ft | 0.200 | [0.190, 0.210] | 3 |")
    assert "dss>ft beats the baseline (Hsieh et al. 2023, Table 1)" in rows[0]
    assert rows[1].startswith("| ✗ | 01_distilling_step_by_step | dss>distill |")
    assert "(Hsieh et al., *Distilling Step-by-Step!" in rows[1]  # no citation given: the paper's
    assert rows[2].startswith("| ✗ | 04_gkd_on_policy | on>off | 2.000 | [-10.706, 14.706] | 2 |")
    assert "1 of 3 claims held in all." in table and "Headline claims" not in table
    assert "- 00_kl_mode_seeking: no claims written" in table


def test_report_says_why_claims_fail_and_whether_students_learn(tmp_path):
    from labkit.lab.claims import learning

    d = tmp_path / "03_minillm_reverse_kl" / "seed=0"
    d.mkdir(parents=True)
    write_metrics(
        d,
        "03_minillm_reverse_kl",
        {"profile": "default", "seed": 0},
        {
            "claims": [
                _claim("minillm>sft", [-0.1, 0.0, 0.05], False),
                _claim("ok", [0.1, 0.2, 0.3], True),
                _claim("silent", [-0.1, -0.2, 0.0], False),
            ],
            "claims_not_holding": {"minillm>sft": "the init is already at the SFT optimum"},
            "learning": learning(
                {
                    "sft": {0: 0.5, 1: 0.6, 2: 0.7},
                    "minillm": {0: 0.2, 1: 0.2, 2: 0.21},
                    "kd": {0: 0.2, 1: 0.3, 2: 0.25},
                },
                0.25,
                "test accuracy",
                chance=0.0,
            )
            + learning({"x": {0: 0.1, 1: 0.1, 2: 0.12}}, 0.5, "test rouge_l"),
            "not_learning": {"minillm · test accuracy": "collapses", "kd · test accuracy": "collapses"},
        },
        {"total": 1.0},
    )
    report.write_report(tmp_path)
    md = (tmp_path / "report.md").read_text()
    why = md[md.index("### Why these claims do not hold") : md.index("## Do the students learn?")]
    assert "- **03_minillm_reverse_kl · minillm>sft**: the init is already at the SFT optimum" in why
    assert "03_minillm_reverse_kl · silent**: see the notebook" in why and "· ok**" not in why
    learn = md[md.index("## Do the students learn?") :]
    rows = [line for line in learn.splitlines() if line.startswith(("| ✓", "| ✗"))]
    assert rows[0].startswith(
        "| ✓ | 03_minillm_reverse_kl | sft | test accuracy | 0 | 0.250 | 0.600 | [0.352, 0.848] | 0.350 | 3 |"
    )
    assert rows[1].startswith("| ✗ | 03_minillm_reverse_kl | minillm |")
    assert "1 of 4 arms learn." in learn
    why_not = learn[learn.index("### Why these arms do not learn") :].splitlines()
    # one line per reading, naming its arms by metric; sft learns and is not named
    assert "- **03_minillm_reverse_kl** · test accuracy: minillm, kd — collapses" in why_not
    assert "- **03_minillm_reverse_kl** · test rouge_l: x — no reading written by the notebook." in why_not
    assert not any("sft" in line for line in why_not)


def test_report_opens_with_headline_claims_and_leaves_unjudged_rows_out_of_the_count(tmp_path):
    from labkit.lab.claims import learning, learning_metrics, not_counted

    d = tmp_path / "03_minillm_reverse_kl" / "seed=0"
    d.mkdir(parents=True)
    rows = learning({"minillm": {0: 0.2, 1: 0.2, 2: 0.21}, "kd": {0: 0.5, 1: 0.6, 2: 0.7}}, 0.25, "test accuracy")
    rows += learning({"minillm −length-norm": {0: 0.1, 1: 0.1, 2: 0.12}, "kd": {0: 0.1, 1: 0.1, 2: 0.1}}, 0.5, "ll")
    rows = not_counted(rows, {"test accuracy": "not the paper's metric", "minillm −length-norm": "a collapse"})
    assert [r["counts"] for r in rows] == [False, False, False, True]
    assert rows[0]["not_counted"] == "not the paper's metric" and rows[2]["not_counted"] == "a collapse"
    lm = learning_metrics(rows, {"kd": "kd reading"})
    assert list(lm["not_learning"]) == ["kd · ll"]  # the unjudged rows get no reading
    claims = [_claim("other", [0.1, 0.2, 0.3], True), {**_claim("head", [-0.1, 0.0, 0.05], False), "headline": True}]
    write_metrics(d, "03_minillm_reverse_kl", {"profile": "default"}, {"claims": claims, **lm}, {"total": 1.0})
    report.write_report(tmp_path)
    md = (tmp_path / "report.md").read_text()
    heads, rest = md.index("### Headline claims"), md.index("### The other claims")
    assert md.index("## Claims") < heads < rest
    assert "| ✗ | 03_minillm_reverse_kl | head |" in md[heads:rest] and "| other |" not in md[heads:rest]
    assert "0 of 1 headline claims held." in md[heads:rest] and "1 of 2 claims held in all." in md[rest:]
    learn = md[md.index("## Do the students learn?") :]
    assert learn.count("| n/a | 03_minillm_reverse_kl |") == 3
    assert "0 of 1 arms learn (3 rows marked n/a are not judged: see below)." in learn
    assert "- not the paper's metric: 03_minillm_reverse_kl · minillm, 03_minillm_reverse_kl · kd" in learn
    assert "- a collapse: 03_minillm_reverse_kl · minillm −length-norm" in learn
    assert "- **03_minillm_reverse_kl** · ll: kd — kd reading" in learn


def test_large_numbers_keep_three_digits_and_per_seed_lists_read_as_numbers():
    assert report.fmt_number(36718746803) == "3.67e+10" and report.fmt_number(3.6718e10) == "3.67e+10"
    assert report.fmt_number(123456) == "123456" and report.fmt_number(1234.5) == "1234"  # below 1e7: as before
    assert report.fmt_cell([0.455, 0.58, 36723452416.0]) == "0.455+0.580+3.67e+10"
    assert report.fmt_cell(["oracle", "noisy-oracle"]) == "oracle+noisy-oracle"


def test_a_log10_effect_is_also_shown_as_the_ratio_it_stands_for():
    values = [1.0, 0.5, 1.5]  # mean 1.0: a ratio of 10
    claim = {
        "id": "opd<rl:compute",
        "metric": "log10 FLOPs ratio (rl / opd)",
        "values": values,
        "mean": 1.0,
        "ci95": [0.5, 1.5],
        "holds": True,
    }
    runs = [{"status": "ok", "notebook": "07_x", "metrics": {"claims": [claim]}}]
    got = report._lab_claims(["opd<rl"], runs)
    assert got.startswith("opd<rl:compute: 1.000 [0.500, 1.500] (×10 [3.16, 31.6]) ✓ (3 seeds")
    claim2 = {**claim, "id": "opd>sft", "metric": "test accuracy"}
    assert "×" not in report._lab_claims(["opd>sft"], [{**runs[0], "metrics": {"claims": [claim2]}}])
