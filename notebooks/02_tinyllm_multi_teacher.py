# ---
# jupyter:
#   kernelspec:
#     display_name: Python (labkit)
#     language: python
#     name: labkit
# ---

# %% [markdown]
# # 02 · TinyLLM: many teachers, teacher-forced rationales (Tian et al., 2024)
#
# * **Teacher-forced chain of thought**: the teacher sees the question $Q$, the options $O$ *and the gold answer* $A$ and is
#   asked to explain it ("Let's think step by step"). Knowing the answer makes rationales more accurate than plain CoT.
# * **In-context example generator**: $k$ (default 2) solved examples from the same dataset are prepended to the prompt.
# * **Several teachers** $T_1..T_M$, each giving a rationale $R_i^m=T_m(Q_i,O_i,A_i,P_i)$; the student learns the answer and
#   every teacher's rationale, each with its own task prefix:
#
# $$\mathcal L=\mathcal L_A+\sum_{m=1}^{M}\alpha_m\,\mathcal L_{T_m},\qquad
# \mathcal L_A=\mathrm{CE}(S(Q,O,p_A),A),\quad \mathcal L_{T_m}=\mathrm{CE}(S(Q,O,p_m),R^m).$$
#
# The paper searches $\alpha\in\{0.01,0.1,0.5,1,2,3\}$; the best value differs by dataset. Ablations: w/o in-context
# examples, w/o each teacher. Teachers here: **live** (embedded models generate, cached), **recorded** (FLAN-T5-xl and
# LLaMA-2-chat rationales from the TinyLLM files), **scripted** (written from a synthetic task's gold solution).

# %%
import labkit as lk
from tqdm.auto import tqdm

# %% tags=["parameters"]
profile: str = "default"  # smoke | default | paper
seed: int = 0  # random seed
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/02_tinyllm_multi_teacher"  # metrics.json and PNG figures go here
device: str = "auto"  # auto, cpu, cuda
dataset: str = "synthetic:arithmetic"  # synthetic:arithmetic, tinyllm:obqa, tinyllm:arc ...
data_dir: str = ""  # folder holding tinyllm/; empty means $LABKIT_DATA
teachers: list = []  # teacher names: live, recorded or scripted; empty means the profile's
alphas: float = 1.0  # α per teacher: one number for all, or a dict teacher to α
in_context: int = 2  # in-context examples k in teacher prompts; 0 is the w/o in-context ablation
template: str = "teacher_forced"  # teacher_forced or cot
alpha_grid: list = []  # α values for the sensitivity plot; empty means the profile's
student: str = ""  # student model; empty means the profile's
n_train: int = 0  # training questions; 0 means the profile's
n_test: int = 0  # test questions; 0 means the profile's
max_steps: int = 0  # optimiser steps per student; 0 means the profile's
max_new_tokens: int = 0  # rationale length for live teachers; 0 means the profile's
threads: int = 0  # torch CPU threads; 0 means the profile's, 1 for smoke

# %%
P = lk.lab.profiles.resolve(profile, lk.lab.profiles.TINYLLM, teachers=teachers, student=student, alpha_grid=alpha_grid,
                               n_train=n_train, n_test=n_test, max_steps=max_steps, max_new_tokens=max_new_tokens,
                               threads=threads)
lk.lab.params.check_parameters(profile=profile, seed=seed, interactive=interactive, device=device, dataset=dataset,
                             teachers=P["teachers"], alphas=alphas, alpha_grid=P["alpha_grid"], max_steps=P["max_steps"],
                             in_context=in_context, template=template)
lk.lab.notebook.set_threads(P["threads"])
teachers, student, alpha_grid = P["teachers"], P["student"], P["alpha_grid"]
timer, figures, tables = lk.lab.metrics.Timer(), [], {}

# %%
if lk.lab.notebook.show_widgets(interactive):   # teachers, one α slider per teacher, k, template -> same names
    from IPython.display import display
    panel = lk.lab.widgets.tinyllm_panel(globals())
    display(panel.widget)   # then re-run the cells below

# %%
alpha_of = alphas if isinstance(alphas, dict) else {t: float(alphas) for t in teachers}
lk.lab.params.check_parameters(teachers=teachers, alphas=alpha_of)
config = lk.loop.TrainConfig(lr=P["lr"], steps=P["max_steps"], batch_size=P["batch_size"], max_len=P["max_len"],
                              seed=seed, device=device, progress=False)
kw = dict(data_dir=data_dir or None, seed=seed)
train_records = lk.data.load_dataset(dataset, "train", n=P["n_train"], **kw)
test_records = lk.data.load_dataset(dataset, "test", n=P["n_test"], **kw)
print(f"{dataset}: {len(train_records)} train / {len(test_records)} test; teachers {alpha_of}; student {student}")

# %% [markdown]
# ## Teacher prompts, side by side
#
# Plain CoT asks for reasoning toward an unknown answer; teacher-forced CoT states the gold answer and asks why.
# Live teachers see the prompt below (chat-formatted for instruct models); scripted and recorded teachers ignore it.

# %%
example = train_records[0]
shots = lk.prompts.in_context_examples(train_records, example, k=in_context, seed=seed)
print(lk.lab.notebook.side_by_side({name: lk.prompts.render_teacher_prompt(example, name, shots)
                                for name in ("cot", "teacher_forced")}, max_lines=30))


# %%
def with_rationales(records, k):
    result = lk.rationales.generate_rationales(teachers, records, template=template, k=k, seed=seed, device=device,
                                               max_new_tokens=P["max_new_tokens"], progress=True)
    return result.attach(records), result.stats

with timer("rationales"):
    train_k, stats = with_rationales(train_records, in_context)
    train_0, _ = (train_k, None) if in_context == 0 else with_rationales(train_records, 0)
print(lk.lab.notebook.side_by_side({t: train_k[0].rationales.get(t, "(none)") for t in teachers}, max_lines=12))
teacher_rows = [{k: v for k, v in lk.rationales.consistency(train_k, t).items() if k != "kept_ids"} for t in teachers]
tables["teachers"] = teacher_rows
teacher_rows


# %% [markdown]
# ## The student, the ablations and α
#
# Every variant trains a fresh student with the same budget and is scored on the test questions with the
# `[answer]` prefix only.

# %%
def run(label, records, alpha_by_teacher):
    tasks = {"answer": 1.0, **{f"rationale:{t}": a for t, a in alpha_by_teacher.items()}}
    return {"variant": label, "teachers": list(alpha_by_teacher), **lk.lab.multitask.train_student(
        student, records, test_records, tasks=tasks, config=config, device=device)}

variants = [("TinyLLM (full)", train_k, alpha_of), ("w/o in-context", train_0, alpha_of)]
variants += [(f"w/o {t}", train_k, {u: a for u, a in alpha_of.items() if u != t}) for t in teachers if len(teachers) > 1]
variants += [("label only (fine-tuning)", train_k, {})]
with timer("ablations"):
    ablation_rows = [run(*v) for v in tqdm(variants, desc="variants")]
tables["ablations"] = ablation_rows
[(r["variant"], round(r["accuracy"], 3)) for r in ablation_rows]

# %%
uniform = len(set(alpha_of.values())) == 1
sensitivity = [{"alpha": next(iter(alpha_of.values())), "accuracy": ablation_rows[0]["accuracy"], "dataset": dataset}] if uniform else []
with timer("alpha_sweep"):
    for a in tqdm([a for a in alpha_grid if not (uniform and a == next(iter(alpha_of.values())))], desc="α"):
        sensitivity.append({"alpha": a, "dataset": dataset, **run(f"α={a:g}", train_k, {t: a for t in teachers})})
tables["alpha_sensitivity"] = sorted(sensitivity, key=lambda r: r["alpha"])
label_only = ablation_rows[-1]["accuracy"]
fig = lk.lab.plots.sweep(tables["alpha_sensitivity"], x="alpha", y="accuracy", hue="dataset", logx=True, xlabel="α (all teachers)",
                     title=f"TinyLLM accuracy vs α\n{student}, {len(test_records)} test questions",
                     hlines={"label only": label_only, **lk.lab.notebook.chance_line(test_records)})
figures.append(lk.lab.plots.save(fig, out_dir, "alpha_sensitivity.png"))
chance = lk.lab.notebook.chance_line(test_records)
fig = lk.lab.plots.bars(ablation_rows, "variant", "accuracy", title=f"{dataset}: ablations\n{student}, {len(test_records)} test questions",
                    hline=next(iter(chance.values()), None), hline_label=next(iter(chance), ""))
figures.append(lk.lab.plots.save(fig, out_dir, "ablations.png"))

# %%
metrics = {
    "accuracy": {r["variant"]: r["accuracy"] for r in ablation_rows},
    "alpha_sensitivity": {str(r["alpha"]): r["accuracy"] for r in tables["alpha_sensitivity"]},
    "teacher_consistency": {r["teacher"]: r["rate"] for r in teacher_rows},
    "rationale_stats": stats,
    "tables": tables, "figures": figures,
}
params = dict(profile=profile, seed=seed, dataset=dataset, teachers=teachers, alphas=alpha_of, in_context=in_context,
              template=template, alpha_grid=alpha_grid, student=student, n_train=P["n_train"], n_test=P["n_test"],
              max_steps=P["max_steps"], device=device)
print(lk.lab.metrics.write_metrics(out_dir, "02_tinyllm_multi_teacher", params, metrics, timer))
