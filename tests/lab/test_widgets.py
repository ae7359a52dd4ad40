"""Widget panels write the values of their controls back to the notebook's variables."""

import pytest

pytest.importorskip("ipywidgets")
from labkit.lab import widgets


def test_mode_seeking_panel_writes_back():
    ns = {"separation": 5.0, "weight": 0.7, "beta": 0.5, "degree": 2, "student_order": 1}
    seen = []
    panel = widgets.mode_seeking_panel(ns, on_change=seen.append)
    assert panel.controls["beta"].value == 0.5 and panel.controls["separation"].value == 5.0
    panel.controls["beta"].value = 0.9
    assert ns["beta"] == pytest.approx(0.9)
    panel.controls["separation"].value = 2.0
    panel.controls["student_order"].value = 0
    assert ns["separation"] == 2.0 and ns["student_order"] == 0 and ns["weight"] == 0.7
    assert len(seen) == 3 and seen[-1]["separation"] == 2.0


def test_dss_panel_writes_back():
    ns = {"lam": 1.0, "fractions": [0.25, 0.5, 1.0], "dataset": "synthetic:arithmetic", "n_train": 0}
    panel = widgets.dss_panel(ns, datasets=["synthetic:arithmetic", "dss:svamp"])
    panel.controls["lam"].value = 0.25
    assert ns["lam"] == 0.25
    panel.controls["fractions"].value = (1.0, 0.125)
    assert ns["fractions"] == [0.125, 1.0]
    panel.controls["dataset"].value = "dss:svamp"
    assert ns["dataset"] == "dss:svamp"


def test_tinyllm_panel_alpha_slider_per_teacher():
    ns = {"teachers": ["oracle"], "alphas": 0.5, "in_context": 2, "template": "teacher_forced"}
    panel = widgets.tinyllm_panel(ns, teacher_options=["oracle", "noisy-oracle", "flan-t5-xl"])
    assert list(panel.alpha_sliders) == ["oracle"] and panel.alpha_sliders["oracle"].value == 0.5
    panel.controls["teachers"].value = ("oracle", "flan-t5-xl")
    assert ns["teachers"] == ["oracle", "flan-t5-xl"]
    assert set(panel.alpha_sliders) == {"oracle", "flan-t5-xl"}
    panel.alpha_sliders["flan-t5-xl"].value = 2.0
    assert ns["alphas"] == {"oracle": 0.5, "flan-t5-xl": 2.0}
    panel.controls["teachers"].value = ("flan-t5-xl",)
    assert ns["alphas"] == {"flan-t5-xl": 2.0}
    panel.controls["in_context"].value = 0
    panel.controls["template"].value = "cot"
    assert ns["in_context"] == 0 and ns["template"] == "cot"


@pytest.mark.slow
def test_mode_seeking_live_refits_when_a_slider_moves():
    ns = {"separation": 6.0, "weight": 0.7, "beta": 0.5, "degree": 2, "student_order": 1}
    panel = widgets.mode_seeking_live(ns)
    assert panel.fits["forward_kl"][0] == pytest.approx(0.7 * -3 + 0.3 * 3, abs=1e-2)  # moment matching
    assert panel.fits["reverse_kl"][0] == pytest.approx(-3.0, abs=0.05)  # the heavier mode
    panel.controls["weight"].value = 0.3
    assert ns["weight"] == 0.3
    assert panel.fits["forward_kl"][0] == pytest.approx(0.3 * -3 + 0.7 * 3, abs=1e-2)
    assert panel.fits["reverse_kl"][0] == pytest.approx(3.0, abs=0.05)
    panel.controls["beta"].value = 1.0
    assert "jsd β=1" in panel.fits and panel.fits["jsd β=1"][0] == pytest.approx(3.0, abs=0.05)


def _sliders(panel):
    return [c for c in panel.controls.values() if type(c).__name__.endswith("Slider")]


def test_sliders_take_a_wide_row_and_labels_their_natural_width():
    """In the default 300-px row a long label left the track 0 px wide (tests/browser measures it in Chromium)."""
    ns = {"teachers": ["oracle"], "alphas": 1.0}
    panels = [
        widgets.mode_seeking_panel({}),
        widgets.dss_panel({}, datasets=["synthetic:arithmetic"]),
        widgets.tinyllm_panel(ns, teacher_options=["oracle"]),
        widgets.minillm_panel({}),
        widgets.gkd_panel({}),
    ]
    sliders = [s for p in panels for s in _sliders(p)] + list(panels[2].alpha_sliders.values())
    assert len(sliders) == 12
    for s in sliders:
        assert s.layout.width == "100%" and s.style.description_width == "initial", s.description
    for p in panels:
        for c in p.controls.values():
            assert c.style.description_width == "initial", c.description


def test_gkd_panel_reruns_into_its_output_and_stores_the_result():
    ns = {"lmbda": 0.5, "beta": 0.5, "metric": "accuracy"}  # the notebook's default metric is offered
    panel = widgets.gkd_panel(ns)
    calls = []

    def one_run():
        calls.append(ns["lmbda"])
        return {"lmbda": ns["lmbda"], "beta": ns["beta"]}

    first = panel.rerun(one_run, store="single")
    assert first == {"lmbda": 0.5, "beta": 0.5} and ns["single"] == first
    assert panel.output in panel.widget.children
    mini = widgets.minillm_panel({})  # notebook 03 re-runs its one seed the same way
    assert mini.output in mini.widget.children
    panel.controls["lmbda"].value = 0.7
    assert calls == [0.5, 0.7] and ns["single"] == {"lmbda": 0.7, "beta": 0.5}
    panel.controls["beta"].value = 1.0
    assert ns["single"] == {"lmbda": 0.7, "beta": 1.0}


def test_dss_panel_offers_only_the_datasets_this_machine_has(tmp_path, monkeypatch):
    monkeypatch.delenv("LABKIT_DATA", raising=False)
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))  # no fetched data
    ok, missing = widgets.available_datasets()
    synthetic = [d for d in widgets.known_datasets() if d.startswith("synthetic:")]
    assert [d for d in ok if not d.startswith("hub:")] == synthetic and "synthetic:arithmetic" in ok
    assert "dss:svamp" in missing and "tinyllm:obqa" in missing and "data files" in missing["dss:svamp"]
    panel = widgets.dss_panel({"dataset": "synthetic:arithmetic"})
    assert list(panel.controls["dataset"].options) == sorted(ok)
    note = panel.widget.children[-1].value
    assert "not offered here" in note and "dss:svamp" in note

    svamp = tmp_path / "data" / "dss" / "svamp"  # one dataset's files in data_dir: it is offered
    svamp.mkdir(parents=True)
    (svamp / "svamp_test.json").write_text(
        '{"input": "Luke has 84 points in 2 rounds. Per round?", "label": "( 84.0 / 2.0 )"}\n'
    )
    panel = widgets.dss_panel({"dataset": "synthetic:arithmetic", "data_dir": str(tmp_path / "data")})
    assert "dss:svamp" in panel.controls["dataset"].options and "dss:cqa" not in panel.controls["dataset"].options


def test_known_teacher_panels_offer_its_modes_and_noise_from_the_profile():
    from labkit.lab import whitebox

    P = whitebox.GKDProfile.resolve("default", kit="known", modes=4, eta=0.1)
    for make in (widgets.minillm_panel, widgets.gkd_panel):
        c = make({"P": P}).controls
        assert (c["modes"].value, c["modes"].min, c["modes"].max, c["eta"].value) == (4, 1, 6, 0.1)
        assert "modes" not in make({"P": whitebox.GKDProfile.resolve("smoke")}).controls  # a task teacher: none
    kit = object()
    assert whitebox.kit_for(P.replace(lmbda=0.0), kit, P) is kit  # the teacher's shape unchanged: the same kit
