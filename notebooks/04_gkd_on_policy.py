# ---
# jupyter:
#   kernelspec:
#     display_name: Python (labkit)
#     language: python
#     name: labkit
# ---

# %% [markdown]
# # 04 · GKD: on-policy distillation, the (λ, β) grid
#
# Generalised knowledge distillation (Agarwal et al.) changes two things at once:
#
# * **which sequences** the token-level loss is computed on: with probability **λ** per batch the student
#   *samples its own* continuations (on-policy; no gradient through the sampling), otherwise fixed data
#   (here: the teacher's greedy outputs);
# * **which divergence**: the generalised Jensen–Shannon divergence with $M=\beta p+(1-\beta)q_\theta$,
#   $$\mathrm{JSD}_\beta(p\|q_\theta)=\beta\,\mathrm{KL}(p\|M)+(1-\beta)\,\mathrm{KL}(q_\theta\|M),$$
#   where the lab's convention (as in TRL) takes **β = 0 as forward KL(p‖q)** and **β = 1 as reverse KL(q‖p)** exactly.
#
# λ = 0, β = 0 is classic supervised KD; λ = 1 trains only on the student's own text, which removes the
# train/inference mismatch (exposure bias). The grid shows which corner works best for this student. The paper's claim measured here (Agarwal et al., ICLR 2024): on-policy data (λ > 0) beats supervised KD (λ = 0) at the same divergence β, without collapse.

# %%
import labkit as lk
from labkit.lab import plots, task_teacher, whitebox, widgets
from IPython.display import Markdown, display

# %% tags=["parameters"]
profile: str = "default"  # smoke (< 1 min) | default (task teacher, 3 seeds, CPU minutes) | paper (GPU)
kit: str = ""  # task-teacher recipe of labkit.lab.task_teacher (empty: profile default; "none": use teacher/student)
teacher: str = ""  # named teacher model (profile paper; empty: profile default)
student: str = ""  # named student model (profile paper; empty: profile default)
dataset: str = ""  # named dataset (profile paper; empty: profile default)
n_train: int = 0  # training prompts of the named dataset (0: profile default)
n_eval: int = 0  # held-out prompts of the named dataset (0: profile default)
seeds: list = []  # seeds of every grid cell (empty: profile default, 3 at default)
max_steps: int = 0  # optimiser steps per trained student, after the shared SFT init (0: profile default)
lr: float = 0.0  # learning rate (0: profile default)
max_new_tokens: int = 0  # response length in tokens (0: profile default)
lmbdas: list = []  # on-policy fractions λ (heat-map rows), each in [0, 1] (empty: profile default)
betas: list = []  # JSD β (heat-map columns): 0 is forward KL, 1 is reverse KL (empty: profile default)
metric: str = "accuracy"  # heat-map metric: accuracy | teacher_loglik | rouge_l | distinct_2
lmbda: float = 0.5  # λ of the single run that the widgets re-run
beta: float = 0.5  # β of the single run that the widgets re-run
seed: int = 0  # seed of the single run
teacher_signals: str = "live"  # live | captured (the teacher's off-policy signals computed once, stored, reused)
device: str = "auto"  # auto | cpu | cuda
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/04_gkd_on_policy"  # where metrics.json and the PNG figures go

# %% [markdown]
# Derived settings and a check of every parameter before anything heavy runs.

# %%
lk.lab.params.check_parameters(profile=profile, seed=seed, interactive=interactive, device=device,
                               n_train=n_train, n_eval=n_eval, max_steps=max_steps,
                               lmbda=lmbda, beta=beta)
S = whitebox.resolve_settings(profile, kit=kit, teacher=teacher, student=student, dataset=dataset, n_train=n_train,
                              n_eval=n_eval, max_steps=max_steps, max_new_tokens=max_new_tokens, seeds=seeds,
                              lmbdas=lmbdas, betas=betas, lr=lr)
lk.lab.params.check_parameters(lmbdas=S["lmbdas"], betas=S["betas"])

# %%
for name in ("teacher", "student"):
    if S[name] or S["kit"] in ("", "none"):
        whitebox.check_model_name(S[name], name)
lk.lab.params.check_parameters(dataset=S["dataset"])
if S["kit"] not in ("", "none", *task_teacher.RECIPES):
    raise lk.errors.LabkitError(f"parameter kit={S['kit']!r}: expected one of {', '.join(task_teacher.RECIPES)}")
whitebox.check_switches(metric=metric, metrics=("accuracy", "teacher_loglik", "rouge_l", "distinct_2"),
                        teacher_signals=teacher_signals)
lmbdas, betas = S["lmbdas"], S["betas"]
timer = lk.lab.metrics.Timer()
S

# %%
panel = None
if lk.lab.notebook.show_widgets(interactive):
    panel = widgets.gkd_panel(globals())   # writes lmbda, beta, metric back and re-runs "one run" below
    display(panel.widget)

# %% [markdown]
# ## Teacher, student, task
#
# **The teacher is a 4-layer, 128-wide transformer fine-tuned on the task (step-by-step arithmetic word problems,
# 1–2 steps) and the student a 2-layer, 64-wide one with the same task-trained tokenizer, SFT-initialised, because
# GKD fine-tunes both on the task first, white-box KD needs one vocabulary, and tiny models sample thousands of
# tokens a second on a CPU** — enough for the whole grid over several seeds in minutes
# (`labkit.lab.task_teacher`; `profile="paper"` switches to named models). Off-policy data = the teacher's
# greedy outputs on the training prompts. Reported on the test prompts; settings chosen on the validation prompts.

# %%
with timer("load"):
    if S["kit"] not in ("", "none"):
        K = task_teacher.task_kit(S["kit"])
    else:
        K = task_teacher.named_kit(S["teacher"], S["student"], S["dataset"], n_train=S["n_train"],
                                   n_eval=S["n_eval"], device=device)
print(f"{len(K.splits['train'])} train / {len(K.splits['test'])} test prompts; teacher valid accuracy "
      f"{K.manifest.get('teacher_valid_accuracy')}, student init {K.manifest.get('student_init_valid_accuracy')}")

# %% [markdown]
# ## The grid, over seeds
#
# One student per (λ, β) and seed, all from the same initialisation, with the same steps; scored on the test
# prompts: task accuracy and ROUGE-L of the greedy answer against the gold solution, teacher log-likelihood per
# token, distinct-2 and length of its samples.
#
# With `teacher_signals="captured"` the teacher's top-k log-probabilities on the off-policy sequences (its greedy
# outputs) are computed once into a content-keyed store under `$LABKIT_HOME/teacher_signals/`, reused by every
# grid point, seed and later run with the same teacher and data; the λ = 0 points and the off-policy steps of
# λ > 0 read it (top-k is biased low, docs/methods.md §7), but on-policy steps still run the live teacher, because
# the student's own samples are new at every step and no stored signal covers them.

# %%
arms = {f"λ={lm} β={b}": ("gkd", dict(lmbda=lm, beta=b)) for lm in lmbdas for b in betas}
with timer("teacher signals"):   # {} when live; else captured once (or found) before any student trains
    stores = whitebox.signal_stores(K, arms, teacher_signals, max_new_tokens=S["max_new_tokens"])
with timer("train and score, grid x seeds"):
    rows = whitebox.run_arms(K, arms, S["seeds"], steps=S["max_steps"], lr=S["lr"], batch_size=S["batch_size"],
                             max_new_tokens=S["max_new_tokens"], signals=stores)
table = whitebox.summary(rows)
for r in table:
    if r["arm"] in arms:
        r["lmbda"], r["beta"] = arms[r["arm"]][1]["lmbda"], arms[r["arm"]][1]["beta"]
display(Markdown(whitebox.markdown_table(table)))
print({k: round(v, 1) for k, v in timer.timings.items()})

# %%
names = {"accuracy": "task accuracy ↑", "teacher_loglik": "teacher log-likelihood / token of samples ↑",
         "rouge_l": "ROUGE-L vs gold ↑", "distinct_2": "distinct-2 of samples"}
grid_rows = [r for r in table if r["arm"] in arms]
values = whitebox.grid_matrix(grid_rows, lmbdas, betas, metric)
spread = whitebox.grid_matrix([{**r, "sd": r[f"{metric} sd"]} for r in grid_rows], lmbdas, betas, "sd")
fig = plots.heatmap(values, lmbdas, betas, title=f"GKD grid: {names[metric]} (mean ± sd over {len(S['seeds'])} seeds)",
                    cbar=metric, sd=spread)
figures = [plots.save(fig, out_dir, "gkd_heatmap.png")]

# %%
init = "student (init)"
panels = {names[m]: {a: [v for _, v in sorted(whitebox.by_arm(rows, m)[a].items())] for a in [init, *arms]}
          for m in ("accuracy", "teacher_loglik", "distinct_2")}
fig = plots.paired_seeds(panels, title="Every cell per seed (dots joined by seed), mean and 95% t-interval")
figures.append(plots.save(fig, out_dir, "gkd_seeds.png"))
first = min(S["seeds"])
fig = plots.training_curves({r["arm"]: r["curves"] for r in rows if r["seed"] == first and r["arm"] in arms},
                            ["loss/jsd"], title="JSD_β on the training sequences (first seed)")
figures.append(plots.save(fig, out_dir, "gkd_losses.png"))

# %% [markdown]
# ## The paper's claim, measured
#
# For every β: on-policy (the largest λ) against supervised KD (λ = 0), one effect per seed, 95% Student-t
# interval (docs/methods.md §9); "no collapse": 0.2 − |length(on-policy)/length(λ=0) − 1| and the same for
# distinct-2, positive when within ±20%.

# %%
C = whitebox.gkd_claims(rows, lmbdas, betas)
display(lk.lab.claims.markdown(C))
notes = whitebox.gkd_notes(C)
display(Markdown("\n".join(f"* {v}" for v in notes.values()) or "Every claim holds."))

# %% [markdown]
# ## One run, re-run from the widgets
#
# The cell below trains one student at the panel's (λ, β) for one seed and scores it on the validation prompts
# (well under a minute). In JupyterLab, moving a slider re-runs it and shows the result under the panel and here
# (the stored `single` follows); headless it runs once with `lmbda`, `beta`.

# %%
def one_run(ns=None):
    res = whitebox.run_arms(K, {f"λ={lmbda} β={beta}": ("gkd", dict(lmbda=lmbda, beta=beta))}, [seed],
                            steps=S["max_steps"], lr=S["lr"], batch_size=S["batch_size"], signals=stores,
                            max_new_tokens=S["max_new_tokens"], split="valid", with_init=False, processes=1)
    r = res[0]
    display(Markdown(whitebox.markdown_table([{"arm": r["arm"], **{k: v for k, v in r["final"].items()
                                                                   if k != "samples"}}])
                     + "\n\n" + "\n\n".join(f"> {t[:240]}" for t in r["final"]["samples"][:2])))
    return {"lmbda": lmbda, "beta": beta, **{k: v for k, v in r["final"].items() if k != "samples"},
            "jsd_last": r["curves"]["loss/jsd"][-1][1]}

with timer("one run"):   # live: runs in the panel's output now and after every move, result -> `single`
    single = one_run() if panel is None else panel.rerun(one_run, store="single")
if panel is not None:
    display(panel.output)   # the same output, shown here too

# %%
params = dict(profile=profile, kit=S["kit"], teacher=S["teacher"], student=S["student"], dataset=S["dataset"],
              seeds=S["seeds"], max_steps=S["max_steps"], lr=S["lr"], batch_size=S["batch_size"],
              max_new_tokens=S["max_new_tokens"], lmbdas=lmbdas, betas=betas, metric=metric, lmbda=lmbda, beta=beta,
              seed=seed, device=device, teacher_signals=teacher_signals)
best = max(grid_rows, key=lambda r: r[metric])
metrics = {"claims": C, "claims_not_holding": notes, **whitebox.learning_metrics(rows, "04", profile),
           "tables": {"gkd_grid": table}, "figures": figures,
           "single_run": single, "grid": {"lmbdas": lmbdas, "betas": betas, "metric": metric, "values": values,
                                          "sd": spread},
           "runs": [{k: r[k] for k in ("arm", "seed", "final", "seconds")} for r in rows],
           "curves": {f"{r['arm']}|{r['seed']}": r["curves"] for r in rows if r["curves"]},
           "kit": {"recipe": K.recipe, **{k: v for k, v in K.manifest.items() if k != "recipe"}},
           "teacher_signals": stores,
           "best": {"lmbda": best["lmbda"], "beta": best["beta"], metric: best[metric]}}
lk.lab.metrics.write_metrics(out_dir, "04_gkd_on_policy", params, metrics, timer)
