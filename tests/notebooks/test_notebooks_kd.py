"""Notebooks 03 (MiniLLM) and 04 (GKD) run headless through papermill at profile "smoke" (tiny models),
their metrics hold sensible numbers, wrong parameters fail in the check cell, and their widget panels
write changed values back."""

from __future__ import annotations

import math

import pytest


def _finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.fixture(scope="module")
def nb03(tmp_path_factory, run_notebook):
    out = tmp_path_factory.mktemp("nb03")
    return out, run_notebook("03_minillm_reverse_kl.ipynb", out)


@pytest.fixture(scope="module")
def nb04(tmp_path_factory, run_notebook):
    out = tmp_path_factory.mktemp("nb04")
    return out, run_notebook("04_gkd_on_policy.ipynb", out, lmbdas=[0.0, 1.0], betas=[0.0, 0.5, 1.0])


CLAIM_KEYS = {"id", "claim", "metric", "better", "worse", "values", "mean", "ci95", "holds"}


def _check_claims(claims, n_seeds):
    assert claims
    for c in claims:
        assert CLAIM_KEYS <= set(c), c
        assert len(c["values"]) == n_seeds and all(_finite(v) for v in c["values"])
        lo, hi = c["ci95"]
        assert lo <= c["mean"] <= hi and c["holds"] == (lo > 0)
        assert "ICLR 2024" in c["claim"]


@pytest.mark.slow
def test_03_runs_every_arm_over_seeds_and_writes_claims(nb03):
    out, doc = nb03
    assert doc["notebook"] == "03_minillm_reverse_kl" and doc["parameters"]["profile"] == "smoke"
    m, seeds = doc["metrics"], doc["parameters"]["seeds"]
    assert len(seeds) >= 2
    arms = {r["arm"]: r for r in m["tables"]["arms"]}
    expected = {
        "student (init)",
        "sft",
        "kd",
        "seqkd",
        "minillm",
        "minillm −single-step",
        "minillm α=0",
        "minillm −length-norm",
    }
    assert set(arms) == expected and all(r["seeds"] == len(seeds) for r in arms.values())
    for r in m["runs"]:
        f = r["metrics"]["test"]
        assert 0.0 <= f["rouge_l"] <= 1.0 and 0.0 <= f["distinct_2"] <= 1.0 and 0.0 <= f["accuracy"] <= 1.0
        assert _finite(f["teacher_loglik"]) and f["teacher_loglik"] < 0
    _check_claims(m["claims"], len(seeds))
    ids = {c["id"] for c in m["claims"]}
    assert {
        "minillm>sft:rouge_l",
        "minillm>kd:teacher_loglik",
        "minillm~sft:distinct_2",
        "minillm>α=0",
        "minillm>−single-step",
        "minillm>−length-norm",
        "single-step<var",
    } <= ids
    assert set(m["claims_not_holding"]) == {c["id"] for c in m["claims"] if not c["holds"]}
    curves = {f"{r['arm']}|{r['seed']}": r["curves"] for r in m["runs"]}
    mini = curves[f"minillm|{seeds[0]}"]
    assert all(_finite(v) and v >= 0 for _, v in mini["grad_var"]) and len(mini["grad_var"]) >= 2
    assert all(0 < v <= 1 / 0.8 + 1e-6 for _, v in mini["weight_mean"])  # α = 0.2 importance weights
    sft_loss = [v for _, v in curves[f"sft|{seeds[0]}"]["loss"]]
    assert len(sft_loss) == doc["parameters"]["max_steps"]
    for png in m["figures"]:
        assert (out / png).stat().st_size > 5000
    assert set(m["figures"]) == {"minillm_curves.png", "metrics.png"}
    assert m["single_run"] and doc["timings"]["total"] > 0
    # the estimator cell: both estimators are unbiased (cosine with the exact gradient), single-step spreads less
    est = {r["estimator"]: r for r in m["tables"]["estimator"]}
    assert all(r["cosine(mean, exact)"] > 0.99 for r in est.values())
    assert (
        est["single_step=True"]["spread of one batch (/ |exact|)"]
        < est["single_step=False"]["spread of one batch (/ |exact|)"]
    )


@pytest.mark.slow
def test_04_grid_over_seeds_has_the_right_shape_and_claims(nb04):
    out, doc = nb04
    m, seeds = doc["metrics"], doc["parameters"]["seeds"]
    grid = m["grid"]
    assert grid["lmbdas"] == [0.0, 1.0] and grid["betas"] == [0.0, 0.5, 1.0]
    assert len(grid["values"]) == 2 and all(len(row) == 3 for row in grid["values"])
    assert all(_finite(v) and 0 <= v <= 1 for row in grid["values"] for v in row)  # accuracies
    assert all(_finite(v) and v >= 0 for row in grid["sd"] for v in row)
    runs = [r for r in m["runs"] if r["arm"] != "student (init)"]
    assert len(runs) == 6 * len(seeds)
    steps = doc["parameters"]["max_steps"]
    for r in m["runs"]:
        key, curves = r["arm"], r["curves"]
        if key.startswith("λ="):
            on = sum(v for _, v in curves["on_policy"])
            assert on == (0 if key.startswith("λ=0.0 ") else steps)  # λ = 0 never samples, λ = 1 always
            assert all(_finite(v) and v >= 0 for _, v in curves["loss/jsd"])
    _check_claims(m["claims"], len(seeds))
    assert any(c["id"].startswith("onpolicy>supervised:accuracy") for c in m["claims"])
    assert m["single_run"]["lmbda"] == 0.5 and _finite(m["single_run"]["teacher_loglik"])
    assert set(m["one_prompt"]) == {
        "init · teacher's answer",
        "init · own answer",
        "λ=0, 20 steps · own answer",
        "λ=1, 20 steps · own answer",
    }
    assert all(v and all(_finite(x) and x >= 0 for x in v) for v in m["one_prompt"].values())
    for png in ("gkd_heatmap.png", "gkd_seeds.png", "gkd_losses.png", "one_prompt.png"):
        assert (out / png).stat().st_size > 5000


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,params,word",
    [
        ("03_minillm_reverse_kl.ipynb", {"teacher": "no-such-teacher"}, "teacher"),
        ("03_minillm_reverse_kl.ipynb", {"teacher_mix": -0.1}, "teacher_mix"),
        ("04_gkd_on_policy.ipynb", {"betas": [0.0, 1.5]}, "betas"),
        ("04_gkd_on_policy.ipynb", {"dataset": "synthetic:nope"}, "dataset"),
        ("03_minillm_reverse_kl.ipynb", {"teacher_signals": "cached"}, "teacher_signals"),
        ("04_gkd_on_policy.ipynb", {"teacher_signals": "cached"}, "teacher_signals"),
    ],
)
def test_a_wrong_parameter_fails_in_the_check_cell(run_notebook, tmp_path, name, params, word):
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as err:
        run_notebook(name, tmp_path, **params)
    e = err.value
    assert e.ename == "LabkitError" and f"parameter {word}" in e.evalue
    assert "Profile.resolve" in e.source and "load_kit" not in e.source  # before heavy work
    assert not (tmp_path / "metrics.json").exists()


def test_widget_panels_write_back_changed_values():
    pytest.importorskip("ipywidgets")
    from labkit.lab import widgets

    ns = {
        "methods": ["sft", "minillm"],
        "single_step": True,
        "teacher_mix": 0.2,
        "length_norm": True,
        "lm_weight": 0.0,
        "max_steps": 0,
    }
    seen = []
    p = widgets.minillm_panel(ns, on_change=seen.append)
    p.controls["teacher_mix"].value = 0.5
    p.controls["single_step"].value = False
    p.controls["methods"].value = ("kd", "seqkd", "minillm")
    p.controls["max_steps"].value = 30
    assert ns["teacher_mix"] == 0.5 and ns["single_step"] is False and ns["length_norm"] is True
    assert ns["methods"] == ["kd", "seqkd", "minillm"] and ns["max_steps"] == 30
    assert seen and seen[-1]["teacher_mix"] == 0.5

    ns = {"lmbda": 0.5, "beta": 0.5, "metric": "teacher_loglik"}
    reruns = []
    p = widgets.gkd_panel(ns, on_change=reruns.append)
    p.controls["lmbda"].value = 1.0
    p.controls["beta"].value = 0.1
    p.controls["metric"].value = "rouge_l"
    assert ns == {"lmbda": 1.0, "beta": 0.1, "metric": "rouge_l"}
    assert len(reruns) == 3 and reruns[-1]["beta"] == 0.1  # each change re-runs the single-run cell


# --------------------------------------------------------------------------- teacher_signals="captured"


def signal_arms():
    from labkit.lab import whitebox

    return [whitebox.baseline_arm("kd"), whitebox.gkd_arm(0.0, 0.5), whitebox.gkd_arm(1.0, 0.5)]


@pytest.fixture(scope="module")
def smoke_kit():
    from labkit.lab import task_teacher

    return task_teacher.task_kit("smoke")


@pytest.fixture(scope="module")
def smoke_exp(smoke_kit):
    """Notebook 04's experiment at profile smoke (the teacher's outputs made once, on the fixture)."""
    from labkit.lab import whitebox

    return whitebox.Experiment(smoke_kit, whitebox.GKDProfile.resolve("smoke"))


def _first_step(exp, arm, tmp_path, *, teacher, store=None):
    """(loss, gradient) of the first optimiser step of `arm` from the kit's student init, as Experiment.run trains
    it (AdamW's first exp_avg is 0.1 * gradient; no clipping)."""
    import torch

    from labkit.lab import arms as A
    from labkit.lab import whitebox
    from labkit.loop import TrainConfig

    inputs = exp.inputs(arm, 0)
    inputs["config"] = TrainConfig(
        steps=1,
        batch_size=8,
        lr=1e-3,
        seed=0,
        device="cpu",
        bf16=False,
        max_len=whitebox.MAX_LEN,
        progress=False,
        warmup=0,
        max_grad_norm=0,
        checkpoint_dir=str(tmp_path),
    )
    inputs["teacher"] = teacher
    inputs.pop("teacher_signals", None)
    if store is not None:
        inputs["teacher_signals"] = store
    h = A.train(arm, **inputs)
    state = torch.load(next(tmp_path.glob("step-*.pt")), weights_only=False)["optimizer"]["state"]
    return h.rows[0]["loss"], [s["exp_avg"] / 0.1 for _, s in sorted(state.items())]


def test_captured_signals_give_the_live_first_step_when_k_is_v_and_stay_within_the_topk_bias(smoke_exp, tmp_path):
    """Word-level KD and GKD at λ = 0 from the notebooks' store: with k = V the first step's loss and gradient are
    the live teacher's (no teacher given at all); with k = 64 < V the top-k loss is lower (coarse-graining shrinks
    every f-divergence, docs/methods.md §7) but close."""
    import torch

    from labkit.lab import whitebox
    from labkit.signals import SignalStore

    exp, V = smoke_exp, len(smoke_exp.kit.tokenizer)
    exact = whitebox.signal_stores(exp, signal_arms(), "captured", k=V, root=tmp_path / "exact")
    top64 = whitebox.signal_stores(exp, signal_arms(), "captured", k=64, root=tmp_path / "top64")
    assert set(exact) == {"kd", "gkd"} and V > 64  # λ = 1 needs no store: it is all on-policy
    for kind, arm in (("kd", signal_arms()[0]), ("gkd", signal_arms()[1])):
        live_loss, g_live = _first_step(exp, arm, tmp_path / f"{kind}-live", teacher=exp.kit.teacher)
        loss, g = _first_step(
            exp, arm, tmp_path / f"{kind}-exact", teacher=None, store=SignalStore(exact[kind]["path"])
        )
        assert loss == pytest.approx(live_loss, rel=1e-5, abs=1e-7)
        assert sum(float(x.abs().sum()) for x in g_live) > 0
        for a, b in zip(g, g_live):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)
        loss64, g64 = _first_step(
            exp, arm, tmp_path / f"{kind}-top64", teacher=None, store=SignalStore(top64[kind]["path"])
        )
        assert loss64 <= live_loss + 1e-6 and loss64 >= 0.9 * live_loss, (kind, loss64, live_loss)
        cos = torch.nn.functional.cosine_similarity(
            torch.cat([x.flatten() for x in g64]), torch.cat([x.flatten() for x in g_live]), dim=0
        )
        assert cos > 0.95, (kind, float(cos))


def test_signal_stores_are_captured_once_and_then_reused_without_running_the_teacher(smoke_exp, tmp_path):
    from labkit.lab import whitebox

    exp, kit = smoke_exp, smoke_exp.kit
    first = whitebox.signal_stores(exp, signal_arms(), "captured", root=tmp_path)
    assert all(v["captured"] for v in first.values()) and all(v["bytes_per_token"] > 0 for v in first.values())
    chunks = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("chunk-*.safetensors")}
    assert chunks and len(list(tmp_path.iterdir())) == 3  # one store per kind of data, and the lock
    forwards = []
    hook = kit.teacher.register_forward_hook(lambda *a: forwards.append(1))
    try:  # another grid point, another run: same data
        again = whitebox.signal_stores(
            exp, [whitebox.gkd_arm(0.5, 0.0), whitebox.baseline_arm("kd")], "captured", root=tmp_path
        )
    finally:
        hook.remove()
    assert not forwards and not any(v["captured"] for v in again.values())
    assert {k: v["path"] for k, v in again.items()} == {k: v["path"] for k, v in first.items()}
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("chunk-*.safetensors")} == chunks
    assert whitebox.signal_stores(exp, signal_arms(), "live", root=tmp_path) == {}


def test_captured_arms_run_the_teacher_only_on_policy(smoke_kit, tmp_path, monkeypatch):
    """The experiment with the stores: word-level KD and GKD λ = 0 never call the teacher while training; λ = 1
    (on-policy) still does at every step; live arms call it at every step."""
    from labkit import sequences as S
    from labkit.lab import arms as A
    from labkit.lab import whitebox

    P = whitebox.GKDProfile.resolve("smoke").replace(max_steps=2, batch_size=4, lr=1e-3)
    stores = whitebox.signal_stores(whitebox.Experiment(smoke_kit, P), signal_arms(), "captured", root=tmp_path)
    calls, real = [], S.teacher_logits
    monkeypatch.setattr(S, "teacher_logits", lambda *a, **k: calls.append(1) or real(*a, **k))
    for arm in signal_arms():
        for signals in (stores, {}):
            exp = whitebox.Experiment(smoke_kit, P, split="valid", signals=signals).prepare([arm])
            calls.clear()
            runs = A.run(exp, [arm], [0], processes=1)
            assert len(runs) == 1 and 0 <= runs[0].metrics["valid"]["accuracy"] <= 1
            on_policy = arm.settings.get("lmbda") == 1.0
            assert len(calls) == (P.max_steps if (on_policy or not signals) else 0), (arm.label, bool(signals))


def test_teacher_signals_parameter_is_checked_by_name():
    from labkit.errors import LabkitError
    from labkit.lab import whitebox

    assert whitebox.GKDProfile.resolve("smoke", teacher_signals="captured").teacher_signals == "captured"
    with pytest.raises(LabkitError, match=r"parameter teacher_signals='cached': expected one of live, captured"):
        whitebox.GKDProfile.resolve("smoke", teacher_signals="cached")


@pytest.mark.slow
def test_04_grid_from_captured_signals(tmp_path_factory, run_notebook):
    """Notebook 04 with teacher_signals="captured" (a fresh $LABKIT_HOME for the store, the cached task kits linked
    in): the GKD store is captured once before the grid, the grid and its claims come out whole."""
    from labkit.paths import labkit_home

    home, out = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("nb04c")
    (home / "task_teachers").symlink_to(labkit_home() / "task_teachers", target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_HOME", str(home))
        doc = run_notebook(
            "04_gkd_on_policy.ipynb", out, lmbdas=[0.0, 1.0], betas=[0.0, 1.0], teacher_signals="captured"
        )
    assert doc["parameters"]["teacher_signals"] == "captured"
    m, seeds = doc["metrics"], doc["parameters"]["seeds"]
    info = m["teacher_signals"]
    assert set(info) == {"gkd"} and info["gkd"]["captured"] and info["gkd"]["path"].startswith(str(home))
    assert len(list((home / "teacher_signals").glob("*/signals.json"))) == 1
    assert len([r for r in m["runs"] if r["arm"] != "student (init)"]) == 4 * len(seeds)
    assert all(math.isfinite(v) and 0 <= v <= 1 for row in m["grid"]["values"] for v in row)
    for r in m["runs"]:
        if r["arm"].startswith("λ="):
            assert all(_finite(v) and v >= 0 for _, v in r["curves"]["loss/jsd"])
    _check_claims(m["claims"], len(seeds))
