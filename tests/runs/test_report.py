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
    doc = {"notebook": notebook, "parameters": parameters, "metrics": metrics, "timings": timings,
           "versions": {"python": "3"}}
    (Path(out_dir) / "metrics.json").write_text(json.dumps(doc))

# alphas -> acc over seeds 0, 1, 2
ACC = {0.1: [0.5, 0.6, 0.7],        # mean 0.6, sample std 0.1
       1.0: [0.2, 0.4, 0.9]}        # mean 0.5, sample std sqrt(0.13) = 0.3606


def make_runs(out: Path) -> None:
    nb = "02_tinyllm_multi_teacher"
    for alpha, accs in ACC.items():
        for seed, acc in enumerate(accs):
            d = out / nb / f"alphas={alpha},seed={seed}"
            params = {"profile": "smoke", "alphas": alpha, "teachers": ["oracle", "noisy-oracle"], "seed": seed,
                      "interactive": False, "out_dir": str(d)}
            (d.mkdir(parents=True))
            (d / "curve.png").write_bytes(b"\x89PNG\r\n\x1a\n")
            write_metrics(d, nb, params,
                          {"acc": acc, "loss": {"final": 2.0 * acc}, "steps": 10,
                           "tables": {"main_table": [{"method": "TinyLLM", "acc": acc},
                                                     {"method": "fine-tune", "acc": acc / 2}]},
                           "figures": ["curve.png", "missing.png"]},
                          {"total": 3.0})
            (d / "run.json").write_text(json.dumps({"parameters": params, "status": "ok", "wall_s": 4.0 + seed,
                                                    "grid": "tinyllm_alpha", "label": ""}))
    bad = out / nb / "alphas=3.0,seed=0"
    bad.mkdir()
    (bad / "run.json").write_text(json.dumps({
        "parameters": {"profile": "smoke", "alphas": 3.0, "teachers": ["oracle"], "seed": 0},
        "status": "failed", "wall_s": 1.5, "error": "ValueError: boom", "error_cell": "raise ValueError('boom')"}))
    interrupted = out / "04_gkd_on_policy" / "seed=0"
    interrupted.mkdir(parents=True)
    (interrupted / "run.json").write_text(json.dumps({"parameters": {"profile": "smoke", "seed": 0},
                                                      "status": "running"}))


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
    assert json.loads(r["parameters"]) == {"alphas": 1.0, "profile": "smoke", "seed": 2,
                                           "teachers": ["oracle", "noisy-oracle"]}
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
    runs = [{"tables": {"ablations": [{"variant": "full", "accuracy": a}, {"variant": "w/o in-context",
                                                                           "accuracy": a / 2}]}}
            for a in (0.5, 0.6, 0.7)]
    spec = report.PAPERS["02_tinyllm_multi_teacher"]["claims"][1]["lab"]
    assert report._lab_summary(spec, runs) == "full: accuracy 0.600 ± 0.100; w/o in-context: accuracy 0.300 ± 0.050"
    assert report._lab_summary(spec, [{"tables": {}}]) == "—"
