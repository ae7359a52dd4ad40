# ---
# jupyter:
#   kernelspec:
#     display_name: Python (labkit)
#     language: python
#     name: labkit
# ---

# %% [markdown]
# # 01 · Distilling step-by-step (Hsieh et al., 2023)
#
# Black-box distillation: only the teacher's **text** is used. For each training question the teacher gives a
# rationale $r$ and a label $\hat y$. The student learns two tasks with prefixes, `[answer] x → y` and
# `[rationale:<teacher>] x → r`:
#
# $$\mathcal L=\mathcal L_{\text{label}}+\lambda\,\mathcal L_{\text{rationale}}$$
#
# (the paper's code writes $\alpha\mathcal L_{\text{label}}+(1-\alpha)\mathcal L_{\text{rationale}}$ with α = 0.5, the same as λ = 1 up to scale).
# At test time only `[answer]` runs — no rationale is needed at inference. Three students, same budget:
#
# | method | answer target | rationale task |
# |---|---|---|
# | standard fine-tuning | gold label | – |
# | standard distillation | teacher label $\hat y$ | – |
# | distilling step-by-step | teacher label $\hat y$ | teacher rationale, weight λ |
#
# The paper's headline is the **data-size sweep**: with rationales the student needs a fraction of the data.
#
# **Student and teacher here.** At `profile="default"` the student is a 2-layer, 64-wide transformer trained from
# scratch (`scratch@layers=2,hidden=64`, a tokenizer trained on the task's own text), because on 2 CPU cores no
# pretrained student can learn within the budget; the teacher is *scripted* (`noisy-oracle@p=0.2`: it writes the
# gold solution and, on a share p of the questions, a wrong step and a wrong label), so its noise is known and the
# student can beat it. The task is one-step synthetic arithmetic (4 options). `profile="real"` runs the paper's own
# CQA questions with PaLM-540B's recorded rationales and labels and a pretrained student (SmolLM2-135M-Instruct;
# it needs the data: `labkit data fetch dss`); `profile="paper"` (T5 students) and
# `dataset="dss:svamp"` are one parameter away.
#
# Every comparison runs over several seeds (the seed sets the student's initialisation and the data order) on both
# cores; settings were chosen on the validation split (`benchmarks/RESULTS.md`), and the numbers below are the
# **test** split. Every number in this notebook's prose comes from this run.

# %%
from IPython.display import Markdown, display

import labkit as lk
from labkit.lab import arms as A
from labkit.lab import students
from labkit.methods import dss

# %% tags=["parameters"]
profile: str = "default"  # smoke | default | real | paper
seeds: list = []  # seeds of the comparison, at least 3 at default; empty means the profile's
headline_seeds: list = []  # seeds of the headline claim's arms (step-by-step and distillation), 5 at default; empty: the profile's
seed: int = 0  # the seed of the one-seed live run
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/01_distilling_step_by_step"  # metrics.json and PNG figures go here
device: str = "auto"  # auto, cpu, cuda
dataset: str = ""  # synthetic:arithmetic, dss:cqa, dss:svamp ...; empty means the profile's
data_dir: str = ""  # folder holding dss/; empty means $LABKIT_DATA
teacher: str = ""  # rationale and label teacher; empty means the profile's
student: str = ""  # student model, or a from-scratch tiny spec, see lab.students; empty means the profile's
lam: float = 1.0  # λ, weight of the rationale loss
fractions: list = []  # data fractions for the less-data claim (the smallest < 1 is used); empty means the profile's
n_train: int = 0  # training questions at fraction 1; 0 means the profile's
n_test: int = 0  # test questions; 0 means the profile's
max_steps: int = 0  # optimiser steps per student; 0 means the profile's
threads: int = 0  # torch CPU threads of this process; 0 means the profile's

# %% [markdown]
# Every parameter resolved against the profile and checked **once**, before anything heavy runs.

# %%
P = students.DSSProfile.resolve(profile, seeds=seeds, headline_seeds=headline_seeds, seed=seed, device=device, dataset=dataset, data_dir=data_dir,
                                teacher=teacher, student=student, lam=lam, fractions=fractions, n_train=n_train,
                                n_test=n_test, max_steps=max_steps, threads=threads)
lk.lab.notebook.set_threads(P.threads)
timer, figures, tables = lk.lab.metrics.Timer(), [], {}
P

# %%
if lk.lab.notebook.show_widgets(interactive):   # λ, data fractions, dataset, n_train write back to the same names
    dataset, fractions, n_train = P.dataset, P.fractions, P.n_train   # the panel starts from the resolved values
    panel = lk.lab.widgets.dss_panel(globals())
    display(panel.widget)   # then run "One seed, live" below

# %% [markdown]
# ## Data and teacher
#
# Training questions get a rationale and a label from the teacher (scripted teachers write them from the task's gold
# solution, with deliberate mistakes; recorded teachers read them from the dataset files). The teacher's label
# accuracy is the line the students try to beat.

# %%
with timer("data"):
    S = students.prepare(P.dataset, [P.teacher], student=P.student, n_train=P.n_train, n_valid=P.n_valid,
                         n_test=P.n_test, seed=0, data_dir=P.data_dir, task_steps=P.task_steps, device=P.train_device)
teacher_accuracy = S.teacher_accuracy[P.teacher]
print(f"{len(S.train)} train / {len(S.valid)} valid / {len(S.test)} test; teacher {P.teacher} label accuracy "
      f"{teacher_accuracy:.1%} on the training questions; chance {S.chance}; student {P.student}, vocabulary "
      f"{len(S.tokenizer)}")

# %% [markdown]
# ## The method on one batch
#
# Four training questions, each turned into the two tasks the student learns — `[answer]` with the teacher's label
# and `[rationale:<teacher>]` with its rationale — by `labkit.prompts`, weighted by `dss.DSSSettings.weights()`, and
# the two losses computed by the method's own objective (`labkit.methods.base.MultitaskObjective`, what
# `dss.train` runs at every step) on an untrained student. **What to look at:** the rationale target is many tokens
# of intermediate computation, the answer target a few; each loss is a mean over its own target tokens, so λ alone
# sets how much the rationale task weighs.

# %%
settings = dss.DSSSettings(teacher=P.teacher, lam=P.lam, label_source=P.teacher)
batch = S.train[:4]
for task in settings.weights():
    r = batch[0]
    print(f"{task:>28}:  {lk.prompts.student_prompt(r, task)!r} → "
          f"{lk.prompts.student_target(r, task, settings.label_source if task == 'answer' else 'gold')!r}")
objective = lk.methods.base.MultitaskObjective(students.new_student(S, P.seed), S.tokenizer,
                                               lk.loop.TrainConfig(max_len=P.max_len), batch, settings.weights(),
                                               label_source=settings.label_source)
idx = list(range(len(objective.examples)))
total, parts = objective.loss(idx, objective.prepare(idx))
print("  ".join(f"{k} = {v:.3f}" for k, v in parts.items()),
      "\nL = " + " + ".join(f"{w:g}·{k}" for k, w in settings.weights().items()) + f" = {total.item():.3f}")

# %% [markdown]
# ## One seed, live
#
# In a live kernel (the panel above sets λ, the data fractions, the dataset), this trains fine-tuning and
# step-by-step for one seed, one process each, with a validation accuracy curve: does the rationale task make the
# student leave chance sooner? Headless (papermill) it is skipped; every seed's loss curve is drawn below.

# %%
single = []
if lk.lab.notebook.show_widgets(interactive):
    mine = [a for a in students.dss_arms(P.teacher, lam, fractions or P.fractions) if a.label in
            ("fine-tuning", "step-by-step")]
    single = A.run(students.Experiment(S, P.config(), eval_every=max(1, P.max_steps // 10),
                                       device=P.train_device).prepare(), mine, [seed])
    lk.lab.plots.show(lk.lab.plots.training_curves({r.arm: r.curves for r in single}, ["valid accuracy", "loss"],
                                                   title=f"one seed ({seed}), validation accuracy and loss", smooth=1))

# %% [markdown]
# ## The students, over seeds
#
# Each arm trains a fresh student for the same number of steps (same batch, same learning rate) and answers the test
# questions with the `[answer]` prefix only (option scoring). Arms (`students.dss_arms`, all of method `dss`):
#
# | arm | answer target | rationale task | data |
# |---|---|---|---|
# | fine-tuning | gold | – | 100 % |
# | distillation | teacher $\hat y$ | – | 100 % |
# | step-by-step | teacher $\hat y$ | teacher rationale, λ | 100 % |
# | step-by-step (gold labels) | gold | teacher rationale, λ | 100 % |
# | … @f | as above | as above | the first f of the data |
#
# The seeds run in parallel, one process per core (`lk.lab.arms.run`).

# %%
ARMS = students.dss_arms(P.teacher, P.lam, P.fractions, P.sweep_fine_tuning, P.head_seeds)
with timer("students"):
    runs = A.run(students.Experiment(S, P.config(), device=P.train_device).prepare(), ARMS, P.seeds)
tables["arms"] = students.summary(runs, chance=S.chance)
display(Markdown(lk.lab.notebook.markdown_table(tables["arms"], ["arm", "n_seeds", "n_train", "step0_test",
                                                                 "final_test", "final_test_sd", "train_seconds"])))

# %% [markdown]
# Every arm should end well above its own step-0 accuracy (the untrained student, ≈ chance) and above chance: the
# grey open circles are step 0, the coloured dots the seeds, the black bars the mean with its 95 % interval.

# %%
hlines = {**lk.lab.notebook.chance_line(S.test), f"teacher {P.teacher} (label accuracy)": teacher_accuracy}
main_arms = [a.label for a in ARMS if "fraction" not in a.reads]
fig = lk.lab.plots.arms_over_seeds(runs, main_arms, hlines=hlines, title=f"{P.dataset}: test accuracy, "
                                   f"{len(P.seeds)} seeds\n{P.student}, {P.max_steps} steps, {len(S.test)} test questions")
figures.append(lk.lab.plots.save(fig, out_dir, "arms.png"))
method = {a.label: a.reads.get("sweep", a.label) for a in ARMS}
sweep_rows = [{"run": r, "method": method[r.arm], "fraction": r.extra["fraction"], "seed": r.seed} for r in runs
              if method[r.arm] in ("fine-tuning", "step-by-step (gold labels)")]
fig = lk.lab.plots.sweep_seeds(sweep_rows, x="fraction", hue="method", logx=True, xlabel="fraction of training data",
                               title=f"{P.dataset}: accuracy vs training-set size, {len(P.seeds)} seeds", hlines=hlines)
figures.append(lk.lab.plots.save(fig, out_dir, "data_size_sweep.png"))
fig = lk.lab.plots.training_curves({r.arm: r.curves for r in runs if r.seed == P.seeds[0]}, ["loss"],
                                   title=f"training loss (seed {P.seeds[0]}): the rationale arms' loss sums both tasks")
figures.append(lk.lab.plots.save(fig, out_dir, "losses.png"))

# %% [markdown]
# ## The paper's claims, measured
#
# Each claim is an effect per seed (better arm − worse arm, paired by seed; positive = the paper's direction) with a
# 95 % Student-t interval over seeds; it **holds** when the interval's lower end is above 0 (docs/methods.md §9).
# Below the table, the reading of each claim that does not hold, its numbers filled in from this run. The budget
# (`max_steps`) is the one at which the answer-only arms learn too (chosen on validation; `benchmarks/RESULTS.md`):
# a comparison against baselines still at chance would overstate the paper's effect.

# %%
claims = students.dss_claims(runs, P.teacher, teacher_accuracy, P.fractions)
numbers = {**A.numbers(runs, ["accuracy"]), "teacher_accuracy": teacher_accuracy, "steps": P.max_steps,
           "n_seeds": len(P.seeds)}
notes = students.notes("01", claims, profile, numbers)
display(lk.lab.claims.markdown(claims))
display(Markdown("\n".join(f"* {v}" for v in notes.values()) or "Every claim holds."))

# %% [markdown]
# ## Try this
#
# 1. **No rationale**: set `lam = 0` (the panel's λ slider) and re-run the one-batch cell: the rationale loss still
#    prints but weighs nothing — step-by-step becomes distillation. Over seeds, `dss>kd` should vanish.
# 2. **A weaker teacher**: `teacher = "noisy-oracle@p=0.4"` (papermill `-p teacher noisy-oracle@p=0.4`). Its labels
#    are wrong more often; does the `student>teacher` claim get easier or harder, and does `dss>kd` grow?
# 3. **Less data**: `fractions = [0.125, 0.25, 0.5, 1.0]` with `P.sweep_fine_tuning` on (profile `smoke` has it)
#    draws the paper's data-size curve; where do the two curves cross?
# 4. **A shorter budget**: `max_steps = 500` halves the run; read the learning table — which arms have left chance,
#    and how large do the claims' effects look now?

# %%
by_arm = {r["arm"]: r for r in tables["arms"]}
labels = [a.label for a in ARMS]
metrics = {
    "accuracy": {a: by_arm[a]["final_test"] for a in labels},
    "step0_accuracy": {a: by_arm[a]["step0_test"] for a in labels},
    "valid_accuracy": {a: by_arm[a]["final_valid"] for a in labels},
    "teacher_accuracy": teacher_accuracy, "chance": S.chance, "seeds": P.seeds,
    "claims": claims, "claims_not_holding": notes,
    **students.learning_metrics(runs, "01", profile, chance=S.chance, numbers=numbers),
    "n_train": len(S.train), "n_test": len(S.test), "runs": A.to_json(runs), "single_run": A.to_json(single),
    "tables": tables, "figures": figures,
}
print(lk.lab.metrics.write_metrics(out_dir, "01_distilling_step_by_step", P.as_dict(), metrics, timer))
