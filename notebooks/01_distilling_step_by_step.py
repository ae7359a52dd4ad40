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
# Default data: a synthetic arithmetic task with a scripted teacher that makes mistakes (`noisy-oracle`, wrong on
# about 20 % of questions), so the student can beat its teacher. With `dataset="dss:svamp"` (or `dss:cqa`) and
# `data_dir`, the real PaLM-540B rationales are used.

# %%
import labkit as lk
from tqdm.auto import tqdm

# %% tags=["parameters"]
profile: str = "default"  # smoke | default | paper
seed: int = 0  # random seed
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/01_distilling_step_by_step"  # metrics.json and PNG figures go here
device: str = "auto"  # auto, cpu, cuda
dataset: str = "synthetic:arithmetic"  # synthetic:arithmetic, dss:svamp, dss:cqa ...
data_dir: str = ""  # folder holding dss/; empty means $LABKIT_DATA
teacher: str = ""  # rationale and label teacher; empty means the profile's
student: str = ""  # student model; empty means the profile's
lam: float = 1.0  # λ, weight of the rationale loss
fractions: list = []  # data-size sweep, fractions of n_train; empty means the profile's
n_train: int = 0  # training questions at fraction 1; 0 means the profile's
n_test: int = 0  # test questions; 0 means the profile's
max_steps: int = 0  # optimiser steps per student; 0 means the profile's
threads: int = 0  # torch CPU threads; 0 means the profile's, 1 for smoke

# %%
P = lk.lab.profiles.resolve(profile, lk.lab.profiles.DSS, student=student, teacher=teacher, fractions=fractions,
                               n_train=n_train, n_test=n_test, max_steps=max_steps, threads=threads)
lk.lab.notebook.set_threads(P["threads"])
if dataset.startswith("dss:") and not teacher:
    P["teacher"] = "palm-540b"   # the paper's recorded rationales
lk.lab.params.check_parameters(profile=profile, seed=seed, interactive=interactive, device=device, dataset=dataset,
                             teacher=P["teacher"], lam=lam, fractions=P["fractions"], n_train=P["n_train"],
                             max_steps=P["max_steps"])
student, teacher, fractions, n_train, n_test, max_steps = (P[k] for k in
                                                           ("student", "teacher", "fractions", "n_train", "n_test", "max_steps"))
timer, figures, tables = lk.lab.metrics.Timer(), [], {}

# %%
if lk.lab.notebook.show_widgets(interactive):   # λ, data fractions, dataset, n_train write back to the same names
    from IPython.display import display
    panel = lk.lab.widgets.dss_panel(globals())
    display(panel.widget)

# %% [markdown]
# ## Data and teacher
#
# Training questions get a rationale and a label from the teacher (scripted teachers write them from the task's gold
# solution, with deliberate mistakes; recorded teachers read them from the dataset files). The teacher's label accuracy
# is the line the students try to beat.

# %%
with timer("data"):
    kw = dict(data_dir=data_dir or None, seed=seed)
    train_records = lk.data.load_dataset(dataset, "train", n=n_train, **kw)
    test_records = lk.data.load_dataset(dataset, "test", n=n_test, **kw)
    train_records = lk.rationales.generate_rationales([teacher], train_records, seed=seed, progress=False).attach(train_records)
teacher_accuracy, n_labelled = lk.evaluate.teacher_label_accuracy(train_records, teacher)
print(f"{len(train_records)} train / {len(test_records)} test; teacher {teacher} label accuracy "
      f"{teacher_accuracy:.1%} on {n_labelled} training questions")
example = train_records[0]
print(lk.prompts.student_prompt(example), lk.prompts.student_target(example, "answer", teacher), sep="")
print(lk.prompts.student_prompt(example, f"rationale:{teacher}"), lk.prompts.student_target(example, f"rationale:{teacher}"), sep="")

# %% [markdown]
# ## The data-size sweep
#
# Each method trains a fresh student for the same number of steps on the first `fraction × n_train` questions,
# then answers the test questions with the `[answer]` prefix only (option scoring for multiple choice,
# value match for SVAMP).

# %%
METHODS = {"fine-tuning": ({"answer": 1.0}, "gold"),
           "distillation": ({"answer": 1.0}, teacher),
           "step-by-step": ({"answer": 1.0, f"rationale:{teacher}": lam}, teacher)}
config = lk.loop.TrainConfig(lr=P["lr"], steps=max_steps, batch_size=P["batch_size"], max_len=P["max_len"],
                              seed=seed, device=device, progress=False)
rows = []
with timer("sweep"):
    for fraction, method in tqdm([(f, m) for f in fractions for m in METHODS], desc="students"):
        subset = train_records[: max(1, round(fraction * len(train_records)))]
        tasks, labels = METHODS[method]
        rows.append({"fraction": fraction, "method": method, **lk.lab.multitask.train_student(
            student, subset, test_records, tasks=tasks, label_source=labels, config=config, device=device)})
tables["data_size"] = rows
rows

# %%
fig = lk.lab.plots.sweep(rows, x="fraction", y="accuracy", hue="method", logx=True, xlabel="fraction of training data",
                     title=f"{dataset}: accuracy vs training-set size\n{student}, {len(test_records)} test questions",
                     hlines={f"teacher {teacher}": teacher_accuracy, **lk.lab.notebook.chance_line(test_records)})
figures.append(lk.lab.plots.save(fig, out_dir, "data_size_sweep.png"))

# %% [markdown]
# **What to look for.** In the paper (T5 students, PaLM-540B teacher) step-by-step at 12.5 % of the data matches
# standard fine-tuning at 100 %. Here, with a few optimiser steps on CPU, the gaps are small and noisy; at
# `profile="paper"` on a GPU node the same cells run the paper's setting.

# %%
full = [r for r in rows if r["fraction"] == max(fractions)]
metrics = {
    "accuracy": {r["method"]: r["accuracy"] for r in full},
    "teacher_accuracy": teacher_accuracy,
    "n_train": len(train_records), "n_test": len(test_records),
    "tables": {"data_size": rows, "full_data": [{"method": r["method"], "accuracy": r["accuracy"]} for r in full]
               + [{"method": f"teacher ({teacher})", "accuracy": teacher_accuracy}]},
    "figures": figures,
}
params = dict(profile=profile, seed=seed, dataset=dataset, teacher=teacher, student=student, lam=lam,
              fractions=fractions, n_train=n_train, n_test=n_test, max_steps=max_steps, device=device)
print(lk.lab.metrics.write_metrics(out_dir, "01_distilling_step_by_step", params, metrics, timer))
