"""`labkit reproduce|batch --profile paper --dry-run`: the paper path on a CPU (labkit.runs.dryrun).

Fast checks first (stand-ins, profile caps, environment.yml, Ray requests, grid subsets, the CLI's errors), then
the dry run itself through papermill: every notebook of the paper plan (notebooks/NN_*.ipynb, globbed, so a new
notebook is picked up when it lands) and one run of every paper grid, in one batch of two workers; each notebook
and grid is its own test and checks its run's record, its metrics.json and the stand-ins it built.
"""

import json
import os
from pathlib import Path

import pytest
import yaml

from labkit import data, models, tiny
from labkit.cli import main
from labkit.errors import LabkitError
from labkit.lab import profiles
from labkit.runs import batch, dryrun, needs

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("LABKIT_DATA") or ROOT.parent / "shared" / "data")
PLAN = yaml.safe_load((batch.GRIDS_DIR / "reproduce_paper.yaml").read_text())
PAPER_GRIDS = [Path(g).stem for g in PLAN["grids"]]
NOTEBOOKS = [p.stem for p in batch.lab_notebooks()]

# the architecture class of each model the paper profiles name (hub ids: from their config.json on the hub)
HUB_ARCHITECTURES = {
    "google-t5/t5-base": "T5ForConditionalGeneration",
    "google/flan-t5-base": "T5ForConditionalGeneration",
    "openai-community/gpt2-xl": "GPT2LMHeadModel",
    "openai-community/gpt2": "GPT2LMHeadModel",
    "meta-llama/Llama-3.1-8B-Instruct": "LlamaForCausalLM",
    "meta-llama/Llama-3.2-1B-Instruct": "LlamaForCausalLM",
}
CATALOG_ARCHITECTURES = {"smollm2-135m-instruct": "LlamaForCausalLM", "gemma3-270m": "Gemma3ForCausalLM"}
# parameter values that name no model to load: scripted teachers, recorded teachers, from-scratch students
NOT_MODELS = ("scratch", "noisy-oracle", "oracle", "palm", "flan-t5-xl", "llama2")


@pytest.fixture()
def dry(monkeypatch, tmp_path):
    monkeypatch.setenv(tiny.DRY_RUN_ENV, "1")
    monkeypatch.setenv(tiny.DRY_RUN_CACHE_ENV, str(tmp_path / "stand-ins"))
    return tmp_path / "stand-ins"


def paper_model_names() -> set:
    """Every model name the paper rows of the profile tables hold (bases of NAME@layers=K included)."""
    keys = ("student", "teacher", "signal_teacher", "signal_student", "cross_teacher", "same_teacher", "live_teacher")
    names = {
        row[k]
        for t in profiles.BY_NOTEBOOK.values()
        if "paper" in t
        for k in keys
        if isinstance((row := t["paper"]).get(k), str) and row[k]
    }
    return {b for b in map(_model_base, names) if b}


def _model_base(name) -> str:
    """The loadable model behind a parameter value ("" for scripted/recorded teachers and scratch students)."""
    if not isinstance(name, str) or not name or name.startswith(NOT_MODELS):
        return ""
    return models.parse_name(name)[0]


# --------------------------------------------------------------------------- stand-ins


def test_every_paper_model_gets_a_stand_in_of_its_own_architecture(dry):
    names = paper_model_names()
    assert names <= set(HUB_ARCHITECTURES) | set(CATALOG_ARCHITECTURES), f"add {names} to this test's tables"
    assert {"google-t5/t5-base", "google/flan-t5-base", "openai-community/gpt2-xl"} <= names
    for name in sorted(names):
        model, tok = models.load_model(name, device="cpu"), models.load_tokenizer(name)
        real = HUB_ARCHITECTURES.get(name) or CATALOG_ARCHITECTURES[name]
        cached = models.model_dir(name) / "config.json"
        if name in models.CATALOG and cached.is_file():  # the embedded model itself, where this machine has it
            real = json.loads(cached.read_text())["architectures"][0]
        assert type(model).__name__ == real, name
        assert model.config.labkit_stand_in_for == name
        assert sum(p.numel() for p in model.parameters()) < 3_000_000, f"{name}: stand-in is not tiny"
        assert len(tok) == model.get_input_embeddings().num_embeddings, name
        assert Path(tiny.stand_in(name)).parent == dry


def test_stand_ins_keep_the_family_conventions(dry):
    t5, flan = models.load_model("google-t5/t5-base"), models.load_model("google/flan-t5-base")
    assert (t5.config.feed_forward_proj, flan.config.feed_forward_proj) == ("relu", "gated-gelu")
    assert t5.config.scale_decoder_outputs and not flan.config.scale_decoder_outputs  # T5 v1.1 (FLAN) does not scale
    tok = models.load_tokenizer("google/flan-t5-base")
    ids = tok("12 apples")["input_ids"]
    assert ids[-1] == tok.eos_token_id and tok.bos_token is None  # T5 appends </s>, has no bos
    assert (
        models.load_tokenizer("gemma3-270m")("a")["input_ids"][0] == models.load_tokenizer("gemma3-270m").bos_token_id
    )
    gpt2 = models.load_tokenizer("openai-community/gpt2")
    assert gpt2.pad_token == gpt2.eos_token == "<|endoftext|>"  # no pad of its own: load_tokenizer sets eos
    # a teacher and its student share one vocabulary; the larger sibling is wider
    xl, small = models.load_model("openai-community/gpt2-xl"), models.load_model("openai-community/gpt2")
    assert xl.config.vocab_size == small.config.vocab_size and xl.config.n_embd > small.config.n_embd
    # derived students keep the real layer indices of SmolLM2 (30 layers)
    student = models.load_model("smollm2-135m-instruct@layers=8")
    assert student.config.labkit_teacher_layers == models.layer_indices(30, 8)
    assert (
        models.is_chat_model("smollm2-135m-instruct") and models.load_tokenizer("smollm2-135m-instruct").chat_template
    )
    # deterministic: built again from scratch, the same weights
    again = tiny.family_model(tiny.FAMILIES["t5"], tiny.family_tokenizer(tiny.FAMILIES["t5"]))
    first = tiny.family_model(tiny.FAMILIES["t5"], tiny.family_tokenizer(tiny.FAMILIES["t5"]))
    assert all((a == b).all() for a, b in zip(again.parameters(), first.parameters()))


def test_a_model_without_a_stand_in_fails_loudly_and_nothing_changes_outside_a_dry_run(dry, monkeypatch):
    with pytest.raises(LabkitError, match="no tiny stand-in for model 'mistralai/Mistral-7B-v0.1'"):
        models.load_model("mistralai/Mistral-7B-v0.1")
    monkeypatch.setenv(tiny.DRY_RUN_ENV, "maybe")
    with pytest.raises(LabkitError, match="LABKIT_DRY_RUN"):
        tiny.dry_run()
    monkeypatch.delenv(tiny.DRY_RUN_ENV)
    assert models._resolve("google/flan-t5-base") == "google/flan-t5-base"  # a hub id, passed on unchanged
    assert not dry.exists()


def test_hub_datasets_are_their_own_schema_in_a_dry_run(dry):
    for name in [f"hub:{s}" for s in data.HUB_DATASETS]:
        recs = data.load_dataset(name, "train", n=4)
        assert len(recs) == 4 and all(r.question and r.answer for r in recs), name
        assert all(r.choices is None or r.answer in r.choices for r in recs), name
    assert data.load_dataset("databricks/databricks-dolly-15k", "train", n=1)[0].meta["source"] == "hub:dolly"


def test_named_splits_are_disjoint_for_a_one_split_dataset(dry):
    from labkit.lab.task_teacher import named_splits

    sp = named_splits("databricks/databricks-dolly-15k", n_train=10, n_eval=6)
    ids = [{r.id for r in sp[s]} for s in ("train", "valid", "test")]
    assert [len(i) for i in ids] == [10, 6, 6] and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


# --------------------------------------------------------------------------- profile caps


def test_resolve_caps_the_paper_rows_only_in_a_dry_run(dry, monkeypatch):
    for name, table in profiles.BY_NOTEBOOK.items():
        row = profiles.resolve("paper", table, max_steps=5000)  # a value given by a grid is capped too
        assert row["max_steps"] == profiles.DRY_RUN_STEPS, name
        for k in ("n_train", "n_test", "n_eval", "n_texts", "max_new_tokens"):
            if table["paper"].get(k):
                assert row[k] == min(table["paper"][k], profiles.DRY_RUN_CAPS[k]), (name, k)
        if "seeds" in row:
            assert row["seeds"] == table["paper"]["seeds"][:2], name
        assert profiles.resolve("default", table) == {**table["default"]}, name  # other profiles untouched
    monkeypatch.delenv(tiny.DRY_RUN_ENV)
    assert profiles.resolve("paper", profiles.DSS)["max_steps"] == profiles.DSS["paper"]["max_steps"]


def test_every_notebook_parameter_is_visible_to_papermill():
    """papermill skips a parameters line with two '=' (e.g. in its comment): a grid could not set it."""
    for nb in batch.lab_notebooks():
        src = nb.with_suffix(".py").read_text()
        cell = src.split('tags=["parameters"]', 1)[1].split("# %%", 1)[0]
        names = {line.split(":", 1)[0] for line in cell.splitlines() if line and line[0].isalpha()}
        assert names <= set(batch.notebook_parameters(nb)), (nb.name, names - set(batch.notebook_parameters(nb)))


# --------------------------------------------------------------------------- environment, Ray, grids


def test_environment_yml_agrees_with_pyproject_and_a_disagreement_is_named(tmp_path):
    assert dryrun.check_environment() == []
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    pip[pip.index("torch>=2.3")] = "torch>=2.9"
    pip.append("leftpad>=1.0")
    (tmp_path / "environment.yml").write_text(yaml.safe_dump(env))
    problems = dryrun.check_environment(tmp_path)
    assert any("torch>=2.3" in p and "torch>=2.9" in p for p in problems), problems
    assert any("leftpad" in p for p in problems) and len(problems) == 2, problems
    (tmp_path / "environment.yml").unlink()
    assert dryrun.check_environment(tmp_path) == []


@pytest.mark.parametrize("grid_name", PAPER_GRIDS)
def test_each_paper_grid_asks_ray_for_its_resources_and_its_subset_covers_every_axis(grid_name, tmp_path):
    grid = batch.load_grid(batch.GRIDS_DIR / f"{grid_name}.yaml", profile="paper")
    runs = batch.expand_grid(grid, tmp_path)
    rows = dryrun.check_resources(runs, {grid_name: grid.resources})
    assert rows == [
        {
            "grid": grid_name,
            "runs": len(runs),
            "resources": grid.resources,
            "request": {"num_gpus": float(grid.resources.get("gpus", 0)), "num_cpus": 1.0},
        }
    ]
    assert rows[0]["request"]["num_gpus"] >= 1, "a paper grid runs on GPU nodes"
    subset = dryrun.covering(runs, grid.axes, grid.variants)
    assert {r.seed for r in subset} == {grid.seeds[0]}
    for axis, values in grid.axes.items():
        assert sorted(map(str, values)) == sorted({str(r.parameters[axis]) for r in subset}), axis
    assert {r.label for r in subset} == {str(v.get("label", "")) for v in grid.variants or [{}]}
    assert len(subset) == max([len(v) for v in grid.axes.values()] + [len(grid.variants or [{}])])
    assert all(dryrun.ray_options(dryrun.on_cpu(r))["num_gpus"] == 0 for r in subset)
    wrong = [dryrun.on_cpu(runs[0])]  # a request that is not the grid's is refused
    with pytest.raises(LabkitError, match="would ask Ray for"):
        dryrun.check_resources(wrong, {grid_name: grid.resources})


def test_dry_run_is_the_paper_profiles_and_refuses_a_wrong_environment(tmp_path, monkeypatch, capsys):
    assert main(["reproduce", "--profile", "default", "--dry-run", "--out", str(tmp_path)]) == 2
    assert "--dry-run is the paper profile's check" in capsys.readouterr().err
    monkeypatch.setattr(dryrun, "check_environment", lambda root=None: ["pyproject 'torch>=2.3' vs 'torch>=2.9'"])
    assert main(["batch", "gkd_grid.yaml", "--dry-run", "--out", str(tmp_path)]) == 2
    assert "environment.yml (the GPU nodes' environment) disagrees" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing ran


# --------------------------------------------------------------------------- the dry run itself


@pytest.fixture(scope="module")
def dry_batch(tmp_path_factory):
    """One dry run of the paper plan: the first run of each grid's covering subset and every notebook without a
    grid once (seed 0), two at a time, with the stand-ins built into a fresh folder. Returns (records by test id, plan,
    cache)."""
    out, cache = tmp_path_factory.mktemp("paper-dry-run"), tmp_path_factory.mktemp("stand-ins")
    saved = {k: os.environ.get(k) for k in (tiny.DRY_RUN_ENV, tiny.DRY_RUN_CACHE_ENV, "LABKIT_DATA")}
    dryrun.enable(cache=cache, data_dir=SHARED_DATA if SHARED_DATA.is_dir() else None)
    try:
        runs = batch.plan_runs("paper", out, dry_run=True)
        first = {}
        for r in runs:
            first.setdefault(r.notebook if r.grid == "reproduce_paper" else r.grid, r)
        # a notebook with a paper grid is checked through that grid's run (the same notebook at profile paper, with
        # the grid's parameters): one papermill run fewer per grid
        grid_of = {first[g].notebook: g for g in PAPER_GRIDS if g in first}
        todo = {
            k: r
            for k, r in first.items()
            if (k in PAPER_GRIDS or k not in grid_of) and (SHARED_DATA.is_dir() or not needs.reads_paper_data(r))
        }
        result = batch.execute_runs(list(todo.values()), out, jobs=2, progress=False)
        records = {k: json.loads((Path(r.out_dir) / "run.json").read_text()) for k, r in todo.items()}
        records.update({nb: records[g] for nb, g in grid_of.items() if g in records})
        return records, first, cache, result
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def _check(records, key: str, cache: Path) -> dict:
    if key not in records:
        pytest.skip(f"{key} needs the real data ({SHARED_DATA} is missing)")
    rec = records[key]
    assert rec["status"] == "ok", (
        f"{key}: {rec['error']}\n{rec.get('error_cell')}\n{(rec.get('traceback') or '')[-3000:]}"
    )
    doc = json.loads((Path(rec["out_dir"]) / "metrics.json").read_text())
    params = doc["parameters"]
    assert params["profile"] == "paper" and rec["gpus"] == 0
    if "max_steps" in params:
        assert params["max_steps"] == profiles.DRY_RUN_STEPS, key
    assert isinstance(doc["metrics"].get("claims"), list)
    for name in (params.get(k) for k in ("student", "teacher", "cross_teacher", "same_teacher")):
        base = _model_base(name)
        if base in HUB_ARCHITECTURES or base in CATALOG_ARCHITECTURES:  # a named model went through its stand-in
            built = [json.loads(p.read_text()) for p in cache.glob("*/stand_in.json")]
            assert any(b["stand_in_for"] == base for b in built), f"{key}: {base} was not replaced by a stand-in"
    return doc


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_dry_run_of_each_notebook_at_the_paper_profile(notebook, dry_batch):
    records, _, cache, _ = dry_batch
    _check(records, notebook, cache)


@pytest.mark.slow
@pytest.mark.parametrize("grid_name", PAPER_GRIDS)
def test_dry_run_of_each_paper_grid(grid_name, dry_batch):
    records, first, cache, _ = dry_batch
    doc = _check(records, grid_name, cache)
    for k, v in first[grid_name].parameters.items():  # the grid's parameters reached the notebook
        if k in doc["parameters"] and k not in ("out_dir", "seed"):
            assert doc["parameters"][k] == v, (grid_name, k)


def test_dry_run_caps_cut_every_seed_list_to_two_and_cap_numbers():
    got = profiles.dry_run_caps(
        {
            "seeds": [0, 1, 2],
            "headline_seeds": [0, 1, 2, 3, 4],
            "sweep_seeds": [5, 6, 7],
            "max_steps": 500,
            "n_eval": 0,
            "lr": 1e-6,
            "teacher_accuracies": [1.0, 0.4, 0.2],
        }
    )
    assert got == {
        "seeds": [0, 1],
        "headline_seeds": [0, 1],
        "sweep_seeds": [5, 6],
        "max_steps": 2,
        "n_eval": 8,
        "lr": 1e-6,
        "teacher_accuracies": [1.0, 0.4, 0.2],
    }
