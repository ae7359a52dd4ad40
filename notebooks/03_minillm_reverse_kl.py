# ---
# jupyter:
#   kernelspec:
#     display_name: Python (labkit)
#     language: python
#     name: labkit
# ---

# %% [markdown]
# # 03 · MiniLLM: distilling with the reverse KL
#
# A white-box teacher *p* (we see its logits) and a smaller student *q_θ* with the same vocabulary. MiniLLM
# (Gu et al., ICLR 2024) trains the student on the **reverse** KL, on its own samples, and claims that its answers
# beat supervised fine-tuning (SFT) and word-level KD on ROUGE-L against the references and on the teacher's
# log-likelihood of the student's samples, without collapsing in diversity; and that each of its three stabilisers
# matters. This notebook measures those claims over seeds.

# %%
import labkit as lk
from labkit.lab import plots, task_teacher, whitebox, widgets
from IPython.display import Markdown, display

# %% tags=["parameters"]
profile: str = "default"  # smoke (< 1 min) | default (task teacher, 3 seeds, CPU minutes) | paper (GPT-2, GPU)
kit: str = ""  # task-teacher recipe of labkit.lab.task_teacher (empty: profile default; "none": use teacher/student)
teacher: str = ""  # named teacher model (profile paper; empty: profile default)
student: str = ""  # named student model (profile paper; empty: profile default)
dataset: str = ""  # named dataset (profile paper; empty: profile default)
n_train: int = 0  # training prompts of the named dataset (0: profile default)
n_eval: int = 0  # held-out prompts of the named dataset (0: profile default)
seeds: list = []  # seeds of the headline comparison (empty: profile default, 3 at default)
max_steps: int = 0  # optimiser steps per trained student, after the shared SFT init (0: profile default)
lr: float = 0.0  # learning rate (0: profile default)
max_new_tokens: int = 0  # response length in tokens (0: profile default)
methods: list = []  # which students to train: sft, kd, seqkd, minillm (empty: profile default)
single_step: bool = True  # MiniLLM: sum the immediate reward term exactly over the vocabulary
teacher_mix: float = 0.2  # MiniLLM: α of teacher-mixed sampling, p~ is α·p + (1-α)·q
length_norm: bool = True  # MiniLLM: divide the long-term reward by the number of remaining tokens
lm_weight: float = 0.0  # MiniLLM: weight of an extra LM (SFT) loss on the gold solutions
ablations: bool = True  # also train MiniLLM with each switch flipped (the paper's ablation)
seed: int = 0  # seed of the one-seed interactive run
teacher_signals: str = "live"  # live | captured (word-level KD reads the teacher's signals computed once, stored)
device: str = "auto"  # auto | cpu | cuda
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/03_minillm_reverse_kl"  # where metrics.json and the PNG figures go

# %% [markdown]
# Derived settings and a check of every parameter, **before** anything heavy runs: a wrong name or range fails here, naming the parameter.

# %%
lk.lab.params.check_parameters(profile=profile, seed=seed, interactive=interactive, device=device,
                               n_train=n_train, n_eval=n_eval, max_steps=max_steps)
S = whitebox.resolve_settings(profile, kit=kit, teacher=teacher, student=student, dataset=dataset, n_train=n_train,
                              n_eval=n_eval, max_steps=max_steps, max_new_tokens=max_new_tokens, seeds=seeds,
                              methods=methods, lr=lr)
for name in ("teacher", "student"):
    if S[name] or S["kit"] in ("", "none"):
        whitebox.check_model_name(S[name], name)
lk.lab.params.check_parameters(dataset=S["dataset"])
if S["kit"] not in ("", "none", *task_teacher.RECIPES):
    raise lk.errors.LabkitError(f"parameter kit={S['kit']!r}: expected one of {', '.join(task_teacher.RECIPES)}")
whitebox.check_switches(teacher_mix=teacher_mix, lm_weight=lm_weight, teacher_signals=teacher_signals)
methods = whitebox.check_methods(S["methods"])
timer = lk.lab.metrics.Timer()
S

# %%
panel = None
if lk.lab.notebook.show_widgets(interactive):
    panel = widgets.minillm_panel(globals())   # writes methods, single_step, teacher_mix, ... back
    display(panel.widget)                          # each change re-runs the one-seed run below, shown here

# %% [markdown]
# ## Teacher, student, task
#
# **The teacher is a 4-layer, 128-wide transformer fine-tuned on the task (step-by-step arithmetic word problems,
# 1–2 steps) and the student a 2-layer, 64-wide one with the same task-trained tokenizer, briefly SFT-initialised,
# because the papers fine-tune both on the task first, white-box KD needs one vocabulary, and tiny models sample
# thousands of tokens a second on a CPU** — so every arm can be trained over several seeds in minutes.
# Both are built once (`labkit.lab.task_teacher`, cached under `$LABKIT_HOME/task_teachers/`); at
# `profile="paper"` the same cells run MiniLLM's GPT-2 XL → GPT-2 setting instead.
# Every arm continues from the same student init, with the same steps, batch and learning rate; only the
# objective differs. Settings were chosen on the validation prompts (benchmarks/whitebox_runs.py); everything
# below is reported on the test prompts.

# %%
with timer("load"):
    if S["kit"] not in ("", "none"):
        K = task_teacher.task_kit(S["kit"])
    else:
        K = task_teacher.named_kit(S["teacher"], S["student"], S["dataset"], n_train=S["n_train"],
                                   n_eval=S["n_eval"], device=device)
r0 = K.splits["train"][0]
print(f"{len(K.splits['train'])} train / {len(K.splits['valid'])} valid / {len(K.splits['test'])} test prompts; "
      f"vocabulary {len(K.tokenizer)}; teacher valid accuracy {K.manifest.get('teacher_valid_accuracy')}, "
      f"student init {K.manifest.get('student_init_valid_accuracy')}")
print(task_teacher.prompt_of(r0) + task_teacher.target_of(r0))

# %% [markdown]
# ## Four objectives
#
# | method | objective | data |
# |---|---|---|
# | **SFT** | $-\sum_t \log q_\theta(y_t\mid y_{<t},x)$ | gold solutions |
# | **word-level KD** | $\sum_t \mathrm{KL}\big(p(\cdot\mid y_{<t},x)\,\|\,q_\theta(\cdot\mid y_{<t},x)\big)$ (forward KL) | gold solutions (teacher-forced) |
# | **SeqKD** | SFT on the teacher's own outputs $\hat y \approx \arg\max p(y\mid x)$ | teacher greedy outputs |
# | **MiniLLM** | sequence-level **reverse** KL $\mathrm{KL}(q_\theta\,\|\,p)=\mathbb E_{y\sim q_\theta}\log\frac{q_\theta(y\mid x)}{p(y\mid x)}$ | the student's own samples |
#
# Forward KL is *mode covering*: a small student must spread mass over everything the teacher can say,
# including the "void" between modes. Reverse KL is *mode seeking*: the student may drop minor modes but
# is punished wherever it puts mass the teacher finds unlikely (docs/methods.md §1, §4).
#
# MiniLLM's policy gradient, with $r_t=\log p(y_t\mid y_{<t},x)-\log q_\theta(y_t\mid y_{<t},x)$ and $R_t=\sum_{t'\ge t} r_{t'}$:
# $$\nabla_\theta\,\mathrm{KL}(q_\theta\|p) = -\,\mathbb E_{y\sim q_\theta}\sum_t (R_t-1)\,\nabla_\theta\log q_\theta(y_t\mid y_{<t},x),$$
# with three stabilisers: (1) **single-step decomposition** (the immediate term summed exactly over the
# vocabulary); (2) **teacher-mixed sampling** from $\tilde p=\alpha p+(1-\alpha)q_\theta$ with weights
# $w_t=q_\theta(y_t)/\tilde p(y_t)$; (3) **length normalisation** of $R_{t+1}$. The ablation flips each in turn.
#
# With `teacher_signals="captured"` the word-level KD arm reads the teacher's top-k log-probabilities on the gold
# solutions from a store captured once under `$LABKIT_HOME/teacher_signals/` (reused while the teacher and data
# are the same; top-k is biased low, docs/methods.md §7); MiniLLM still runs the live teacher, because it scores
# the student's own samples, which are new at every step (SFT and SeqKD never run the teacher while training).

# %%
arms = {m: (m, {}) for m in methods if m != "minillm"}
if "minillm" in methods:
    arms.update({label: ("minillm", sw) for label, sw in
                 whitebox.minillm_variants(single_step, teacher_mix, length_norm, lm_weight, ablations).items()})
with timer("teacher signals"):   # {} when live; else captured once (or found) before any student trains
    stores = whitebox.signal_stores(K, arms, teacher_signals, max_new_tokens=S["max_new_tokens"])
with timer("train and score, all arms x seeds"):
    rows = whitebox.run_arms(K, arms, S["seeds"], steps=S["max_steps"], lr=S["lr"], batch_size=S["batch_size"],
                             max_new_tokens=S["max_new_tokens"], signals=stores)
table = whitebox.summary(rows)
display(Markdown(whitebox.markdown_table(table)))
print({k: round(v, 1) for k, v in timer.timings.items()})

# %% [markdown]
# ### Each arm per seed (dots joined by seed), mean and 95% t-interval (black)
#
# "student (init)" is every arm's step 0: the shared SFT-initialised student.

# %%
order = ["student (init)"] + list(arms)
short = {"student (init)": "init", "minillm −single-step": "−single", "minillm α=0": "α=0",
         "minillm −length-norm": "−len", "minillm +single-step": "+single", "minillm α=0.2": "α=.2",
         "minillm +length-norm": "+len"}
panels = {title: {short.get(a, a): [by[a][s] for s in sorted(by[a])] for a in order}
          for title, by in (("ROUGE-L vs gold ↑", whitebox.by_arm(rows, "rouge_l")),
                            ("teacher log-lik / token ↑", whitebox.by_arm(rows, "teacher_loglik")),
                            ("task accuracy ↑", whitebox.by_arm(rows, "accuracy")),
                            ("distinct-2 of samples", whitebox.by_arm(rows, "distinct_2")),
                            ("sample length (words)", whitebox.by_arm(rows, "gen_words")))}
fig = plots.paired_seeds(panels, title=f"MiniLLM vs baselines, test prompts, seeds {S['seeds']}")
figures = [plots.save(fig, out_dir, "metrics.png")]

# %% [markdown]
# ### Training curves of MiniLLM and its ablations (first seed)

# %%
first = min(S["seeds"])
mini = {r["arm"]: r["curves"] for r in rows if r["arm"].startswith("minillm") and r["seed"] == first}
if mini:
    fig = plots.training_curves(mini, ["reward", "loss/single", "grad_var"], title="MiniLLM and its switches")
    figures.append(plots.save(fig, out_dir, "minillm_curves.png"))
base = {r["arm"]: r["curves"] for r in rows if r["arm"] in ("sft", "kd", "seqkd") and r["seed"] == first}
if base:
    fig = plots.training_curves(base, ["loss"], title="Baselines: each method's own training loss")
    figures.append(plots.save(fig, out_dir, "baseline_losses.png"))

# %% [markdown]
# ## The paper's claims, measured
#
# One effect per seed, metric(better) − metric(worse); the claim holds when the lower end of the 95%
# Student-t interval over seeds is above 0 (docs/methods.md §9). "No collapse" is measured as
# 0.2 − |metric(MiniLLM)/metric(SFT) − 1|: positive when distinct-2 (or the sample length) is within ±20% of SFT's.

# %%
C = whitebox.minillm_claims(rows, arms, single_step)
lk.lab.claims.markdown(C)

# %% [markdown]
# ### What holds, what does not, and why
#
# The cell below writes one sentence per claim that does not hold (also stored in `metrics.json`).

# %%
notes = whitebox.minillm_notes(C)
display(Markdown("\n".join(f"* {v}" for v in notes.values()) or "Every claim holds."))

# %% [markdown]
# ## One seed, interactively
#
# The panel's switches re-run this cell: MiniLLM as configured (and the methods chosen) for one seed, scored on
# the validation prompts (a minute at most).

# %%
def one_run(ns=None):
    one = {m: (m, {}) for m in methods if m != "minillm"}
    if "minillm" in methods:
        one["minillm"] = ("minillm", dict(single_step=single_step, teacher_mix=teacher_mix, length_norm=length_norm,
                                          lm_weight=lm_weight))
    res = whitebox.run_arms(K, one, [seed], steps=S["max_steps"], lr=S["lr"], batch_size=S["batch_size"],
                            max_new_tokens=S["max_new_tokens"], split="valid", signals=stores)
    display(Markdown(whitebox.markdown_table(whitebox.summary(res), ["arm", "accuracy", "rouge_l", "teacher_loglik",
                                                                     "distinct_2", "gen_words"])))
    return res

with timer("one seed, interactive"):   # live: runs in the panel's output now and after every change -> `single`
    single = one_run() if panel is None else panel.rerun(one_run, store="single")
if panel is not None:
    display(panel.output)   # the same output, shown here too

# %% [markdown]
# ## Results file

# %%
params = dict(profile=profile, kit=S["kit"], teacher=S["teacher"], student=S["student"], dataset=S["dataset"],
              seeds=S["seeds"], max_steps=S["max_steps"], lr=S["lr"], batch_size=S["batch_size"],
              max_new_tokens=S["max_new_tokens"], methods=methods, single_step=single_step, teacher_mix=teacher_mix,
              length_norm=length_norm, lm_weight=lm_weight, ablations=ablations, seed=seed, device=device,
              teacher_signals=teacher_signals)
metrics = {"claims": C, "claims_not_holding": notes, **whitebox.learning_metrics(rows, "03", profile),
           "tables": {"arms": table}, "figures": figures,
           "runs": [{k: r[k] for k in ("arm", "seed", "final", "seconds")} for r in rows],
           "curves": {f"{r['arm']}|{r['seed']}": r["curves"] for r in rows if r["curves"]},
           "kit": {"recipe": K.recipe, **{k: v for k, v in K.manifest.items() if k != "recipe"}},
           "single_run": whitebox.summary(single), "teacher_signals": stores,
           **{f"{r['arm']}/{k}": r[k] for r in table for k in ("accuracy", "rouge_l", "teacher_loglik", "distinct_2")}}
lk.lab.metrics.write_metrics(out_dir, "03_minillm_reverse_kl", params, metrics, timer)
