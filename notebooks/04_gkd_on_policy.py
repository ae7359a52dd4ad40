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
# train/inference mismatch (exposure bias). The grid shows each corner for this student, and marks a best one only
# where its interval separates it from the rest. The paper's claim measured here (Agarwal et al., ICLR 2024):
# on-policy data (λ > 0) beats supervised KD (λ = 0) at the same divergence β, without collapse; the **headline**:
# on-policy beats supervised KD at the profile's β on the per-token divergence measured on the student's own samples.

# %%
from IPython.display import Markdown, display

import labkit as lk
from labkit.lab import plots, whitebox, widgets
from labkit.lab.arms import run as run_arms
from labkit.lab.arms import summary
from labkit.lab.notebook import markdown_table
from labkit.methods import gkd

# %% tags=["parameters"]
profile: str = "default"  # smoke (tiny, what tests run) | default (known teacher, the CPU miniature) | paper (GPU)
kit: str = ""  # known (a known teacher, exact measurements) | smoke, default (a trained task teacher) | none (empty: profile default)
modes: int = 0  # known teacher: templates per prompt (0: profile default)
decay: float = 0.0  # known teacher: weight ratio of successive templates, 1 for equal weights (0: profile default)
eta: float = 0.0  # known teacher: per-token noise η (0: profile default)
sum_steps: int = 0  # known teacher: additions per prompt, i.e. the response length (0: profile default)
teacher: str = ""  # named teacher model (profile paper; empty: profile default)
student: str = ""  # named student model (profile paper; empty: profile default)
dataset: str = ""  # named dataset (profile paper; empty: profile default)
n_train: int = 0  # training prompts of the named dataset (0: profile default)
n_eval: int = 0  # held-out prompts of the named dataset (0: profile default)
seeds: list = []  # seeds of every grid cell (empty: profile default)
max_steps: int = 0  # optimiser steps per trained student, after the shared SFT init (0: profile default)
lr: float = 0.0  # learning rate (0: profile default)
max_new_tokens: int = 0  # response length in tokens (0: profile default)
lmbdas: list = []  # on-policy fractions λ (heat-map rows), each in [0, 1] (empty: profile default)
betas: list = []  # JSD β (heat-map columns): 0 is forward KL, 1 is reverse KL (empty: profile default)
metric: str = ""  # heat-map metric: own_prefix_jsd | exposure_gap | teacher_loglik | accuracy | ... (empty: own_prefix_jsd on a known teacher, else accuracy)
lmbda: float = 0.5  # λ of the single run that the widgets re-run
beta: float = 0.5  # β of the single run that the widgets re-run
seed: int = 0  # seed of the single run
teacher_signals: str = "live"  # live | captured (the teacher's off-policy signals computed once, stored, reused)
device: str = "auto"  # auto | cpu | cuda
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/04_gkd_on_policy"  # where metrics.json and the PNG figures go

# %% [markdown]
# Every parameter resolved against the profile and checked **once**, before anything heavy runs.

# %%
P = whitebox.GKDProfile.resolve(
    profile, kit=kit, teacher=teacher, student=student, dataset=dataset, n_train=n_train, n_eval=n_eval, seeds=seeds,
    max_steps=max_steps, lr=lr, max_new_tokens=max_new_tokens, lmbdas=lmbdas, betas=betas, metric=metric,
    lmbda=lmbda, beta=beta, seed=seed, teacher_signals=teacher_signals, device=device, modes=modes, decay=decay,
    eta=eta, sum_steps=sum_steps)
timer = lk.lab.metrics.Timer()
P

# %%
panel = None
if lk.lab.notebook.show_widgets(interactive):
    panel = widgets.gkd_panel(globals())   # writes lmbda, beta, metric back and re-runs "one seed, live" below
    display(panel.widget)

# %% [markdown]
# ## Teacher, student, task
#
# At the default profile the teacher is a **known teacher** (`kit="known"`, `labkit.known`, see notebook 03): several
# noisy templates per prompt whose probability of any response is exact, so the train/inference mismatch is a
# number: the per-token divergence between teacher and student on the student's own samples against that on the
# teacher's samples (exposure bias), beside void mass and modes covered. The student (2 layers) is too small to copy
# every template of every prompt. Off-policy data = the teacher's greedy outputs (its heaviest template). `kit="smoke"`
# or `"default"` swaps in a small transformer teacher fine-tuned on step-by-step arithmetic and a smaller
# SFT-initialised student with its tokenizer (`labkit.lab.task_teacher`, built once and cached), scored on task
# accuracy; `profile="paper"` switches to named models. Reported on the test prompts; settings chosen on the
# validation prompts.

# %%
with timer("load"):
    K = whitebox.load_kit(P)
print(f"{len(K.splits['train'])} train / {len(K.splits['test'])} test prompts; teacher "
      f"{lk.models.n_params(K.teacher):,} parameters (0: a known teacher), student {lk.models.n_params(K.student_init):,}")
print({k: v for k, v in K.manifest.items() if k.startswith(("teacher_", "student_")) and not k.endswith("_last")})

# %% [markdown]
# ## GKD on one prompt: on-policy against off-policy
#
# One training prompt. The divergence $\mathrm{JSD}_\beta$ between teacher and student is measured token by token
# (`whitebox.per_token_divergence`, `labkit.losses.divergence`) on two texts: the teacher's own answer (what
# supervised KD trains on) and the student's own greedy answer (what it will write at test time). Then two copies of
# the student train on this prompt alone with `labkit.methods.gkd.train`, one at λ = 0 (the teacher's text), one at
# λ = 1 (its own samples). **What to look at:** compare the two rows of the init — the divergence on the text the
# student itself writes against the divergence on the teacher's text is the train/inference mismatch GKD is about —
# then the two trained rows: λ = 1's loss saw the student's own answers, λ = 0's only the teacher's. The table
# under the figure gives each row's mean.

# %%
prompt = lk.lab.task_teacher.prompt_of(K.splits["train"][0])
new = min(P.max_new_tokens, 32)
teacher_text = whitebox.greedy_ids(K.teacher, K.tokenizer, prompt, new)
rows = {"init · teacher's answer": whitebox.per_token_divergence(K.student_init, K.teacher, K.tokenizer, prompt,
                                                                  teacher_text, beta=P.beta),
        "init · own answer": whitebox.per_token_divergence(K.student_init, K.teacher, K.tokenizer, prompt,
                                                            whitebox.greedy_ids(K.student_init, K.tokenizer, prompt, new),
                                                            beta=P.beta)}

# %%
for lm in (0.0, 1.0):   # two copies of the student, 20 steps on this prompt alone: off-policy, then on-policy
    s = lk.lab.task_teacher.fresh_student(K)
    gkd.train(s, K.teacher, K.tokenizer, [prompt], [K.tokenizer.decode(teacher_text)], lmbda=lm, beta=P.beta,
              max_new_tokens=new, config=lk.loop.TrainConfig(steps=20, batch_size=1, lr=P.lr, seed=P.seed,
                                                             device="cpu", progress=False, max_len=whitebox.MAX_LEN))
    rows[f"λ={lm:g}, 20 steps · own answer"] = whitebox.per_token_divergence(
        s.eval(), K.teacher, K.tokenizer, prompt, whitebox.greedy_ids(s, K.tokenizer, prompt, new), beta=P.beta)
fig = plots.token_heatmap(rows, title=f"JSD_β={P.beta} per token, teacher vs student (one prompt)")
figures = [plots.save(fig, out_dir, "one_prompt.png")]
display(Markdown(markdown_table([{"text": k, "tokens": len(v), "mean JSD per token": sum(x for _, x in v) / len(v)}
                                 for k, v in rows.items()])))

# %% [markdown]
# ## One seed, live
#
# One student at the panel's (λ, β) for one seed, scored on the validation prompts (the known teacher's modes K and
# noise η rebuild the teacher in seconds); moving a slider re-runs it (the stored `single` follows; run the next cell
# again to redraw its curves). The curve is its training divergence and the share of on-policy steps.

# %%
arms = whitebox.gkd_arms(P)
experiment = whitebox.Experiment(K, P).prepare(arms)
with timer("teacher signals"):   # {} when live; else captured once (or found) before any student trains
    experiment.signals = stores = whitebox.signal_stores(experiment, arms, P.teacher_signals)

# %%
def one_run(ns=None):
    Q = P.replace(lmbda=lmbda, beta=beta, modes=modes or P.modes, eta=eta or P.eta)
    arm, K1 = whitebox.gkd_arm(Q.lmbda, Q.beta), whitebox.kit_for(Q, K, P)
    r = run_arms(whitebox.Experiment(K1, Q, split="valid", signals=stores if K1 is K else {}).prepare([arm]), [arm],
                 [seed], processes=1)[0]
    display(Markdown(markdown_table([{"arm": r.arm, **r.metrics["valid"]}]) + "\n\n"
                     + "\n\n".join(f"> {t[:240]}" for t in r.extra["samples"][:2])))
    return {"lmbda": Q.lmbda, "beta": Q.beta, **r.metrics["valid"], "jsd_last": r.curves["loss/jsd"][-1][1],
            "arm": r.arm, "curves": r.curves}

with timer("one seed, live"):   # runs in the panel's output now and after every move -> `single`
    single = one_run() if panel is None else panel.rerun(one_run, store="single")
if panel is not None:
    display(panel.output)   # the same output, shown here too

# %%
c = {single["arm"]: single["curves"]}   # after a move in the panel, run this cell again to redraw
plots.training_curves(c, ["loss/jsd", "on_policy"], title=f"{single['arm']}, seed {seed}")

# %% [markdown]
# ## The grid, over seeds
#
# One student per (λ, β) and seed, all from the same initialisation, with the same steps, plus the initial student
# (every cell's step 0); scored on the test prompts: task accuracy and ROUGE-L of the greedy answer against the gold
# solution, teacher log-likelihood per token, distinct-2 and length of its samples. With
# `teacher_signals="captured"` the teacher's top-k log-probabilities on the off-policy sequences are read from a
# content-keyed store under `$LABKIT_HOME/teacher_signals/` (top-k is biased low, docs/methods.md §7); on-policy
# steps still run the live teacher, because the student's own samples are new at every step.

# %%
with timer("train and score, grid x seeds"):
    runs = run_arms(experiment, arms, P.seeds)
M = whitebox.metrics_of(P)   # the exact measurements on a known teacher, else the task metrics
table = summary(runs, M)
for r, a in zip(table, arms):
    r.update(lmbda=a.settings.get("lmbda"), beta=a.settings.get("beta"))
display(Markdown(markdown_table(table, ["arm", "seeds", *M])))

# %%
names = whitebox.TITLES
grid_rows = [r for r in table if r["lmbda"] is not None]
values = whitebox.grid_matrix(grid_rows, P.lmbdas, P.betas, P.metric)
spread = whitebox.grid_matrix([{**r, "sd": r[f"{P.metric} sd"]} for r in grid_rows], P.lmbdas, P.betas, "sd")
best = whitebox.grid_winner(runs, P, P.metric)   # boxed only where its interval separates it from every other cell
fig = plots.heatmap(values, P.lmbdas, P.betas, cbar=P.metric, sd=spread, higher_is_better=P.metric not in
                    whitebox.LOWER_BETTER, best=best["cell"] if best["separated"] else None,
                    title=f"GKD grid: {names[P.metric]} (mean ± sd over {len(P.seeds)} seeds)")
figures.append(plots.save(fig, out_dir, "gkd_heatmap.png"))
print(f"best mean: λ={best['lmbda']} β={best['beta']}; " + ("separated from every other cell (boxed)" if
      best["separated"] else f"not separated from {best['closest']} by its 95 % interval (no cell boxed)"))

# %%
order = [arms[-1], *arms[:-1]]
fig = plots.paired_seeds({names[m]: {a.label: list(lk.lab.arms.values(runs, a.label, m).values()) for a in order}
                          for m in (("own_prefix_jsd", "exposure_gap", "void_mass", "modes_covered") if P.known
                                    else ("accuracy", "teacher_loglik", "distinct_2"))},
                         title="Every cell per seed (dots joined by seed), mean and 95% t-interval")
figures.append(plots.save(fig, out_dir, "gkd_seeds.png"))
first = min(P.seeds)
fig = plots.training_curves({r.arm: r.curves for r in runs if r.seed == first and r.curves}, ["loss/jsd"],
                            title="JSD_β on the training sequences (first seed)")
figures.append(plots.save(fig, out_dir, "gkd_losses.png"))

# %% [markdown]
# ## The paper's claim, measured
#
# For every β: on-policy (the largest λ) against supervised KD (λ = 0), one effect per seed (for a lower-is-better
# metric, metric(supervised) − metric(on-policy); with a known teacher the headline is the per-token divergence on
# the student's own samples at the profile's β), 95 % Student-t
# interval (docs/methods.md §9); "no collapse": 0.2 − |length(on-policy)/length(λ=0) − 1| and the same for
# distinct-2, positive when within ±20 %. Below, one reading per claim that does not hold, filled in from this run.

# %%
C = whitebox.gkd_claims(runs, P)
numbers = whitebox.reading_numbers(runs, K, P)
notes = whitebox.notes("04", C, numbers, P.known)
display(lk.lab.claims.markdown(C))
display(Markdown("\n".join(f"* {v}" for v in notes.values()) or "Every claim holds."))

# %% [markdown]
# ## Try this
#
# 1. **Pure reverse KL on the student's own text** — GKD's λ = 1, β = 1, which is also what "on-policy
#    distillation" means in recent work: set the panel's sliders there and compare the run's `teacher_loglik` and
#    `distinct_2` with λ = 0, β = 0 (classic supervised KD).
# 2. **Where the mismatch lives**: in the one-prompt cell, replace `P.beta` by 0 (forward KL) and then 1 (reverse
#    KL). Which texts' per-token divergence falls most in each case?
# 3. **Heat map metric**: `metric = "exposure_gap"` or `"modes_covered"` (the panel's dropdown) redraws the grid;
#    does any cell separate from the rest (boxed), or do several corners tie within their intervals?
# 4. **A longer budget**: `-p max_steps 500` with papermill. Does the on-policy gain at β = 1 grow with steps, as the
#    paper's curves do? And a larger gap: `-p modes 5 -p decay 1.0` (five equally likely templates per prompt).

# %%
metrics = {"claims": C, "claims_not_holding": notes, **whitebox.learning_metrics(runs, "04", numbers, profile, P.known),
           "tables": {"gkd_grid": table}, "figures": figures, "single_run": single,
           "one_prompt": {k: [x for _, x in v] for k, v in rows.items()},
           "grid": {"lmbdas": P.lmbdas, "betas": P.betas, "metric": P.metric, "values": values, "sd": spread},
           "runs": lk.lab.arms.to_json(runs),
           "kit": {"recipe": K.recipe, **{k: v for k, v in K.manifest.items() if k != "recipe"}},
           "teacher_signals": stores, "best": {k: v for k, v in best.items() if k != "cell"}}
lk.lab.metrics.write_metrics(out_dir, "04_gkd_on_policy", {**P.as_dict(), "out_dir": out_dir}, metrics, timer)
