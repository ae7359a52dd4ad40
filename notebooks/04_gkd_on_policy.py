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
# train/inference mismatch (exposure bias). The grid shows which corner works best for this student.

# %%
import copy
import torch
import labkit as lk
from labkit.lab import plots, whitebox, widgets
from IPython.display import Markdown, display

# %% tags=["parameters"]
profile: str = "default"  # smoke (tiny models, < 1 min) | default (SmolLM2, CPU minutes) | paper (GPU)
teacher: str = ""  # teacher model (empty: profile default, smollm2-135m-instruct; tiny for smoke)
student: str = ""  # student model (empty: profile default, the teacher with 4 of its layers)
dataset: str = ""  # the prompts are this dataset's questions (empty: profile default, synthetic:arithmetic)
n_train: int = 0  # training prompts (0: profile default)
n_eval: int = 0  # held-out prompts for ROUGE-L, teacher log-likelihood, distinct-2 (0: profile default)
max_steps: int = 0  # optimiser steps per trained student (0: profile default)
max_new_tokens: int = 0  # response length in tokens (0: profile default)
lmbdas: list = [0.0, 0.5, 1.0]  # on-policy fractions λ (heat-map rows), each in [0, 1]
betas: list = [0.0, 0.5, 1.0]  # JSD β (heat-map columns): 0 is forward KL, 1 is reverse KL
metric: str = "teacher_loglik"  # heat-map metric: teacher_loglik | rouge_l | distinct_2
lmbda: float = 0.5  # λ of the single run that the widgets re-run
beta: float = 0.5  # β of the single run that the widgets re-run
seed: int = 0  # seed of data order, sampling and evaluation
device: str = "auto"  # auto | cpu | cuda
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/04_gkd_on_policy"  # where metrics.json and the PNG figures go

# %% [markdown]
# Derived settings and a check of every parameter before anything heavy runs.

# %%
lk.lab.params.check_parameters(profile=profile, seed=seed, interactive=interactive, device=device,
                             n_train=n_train, n_eval=n_eval, max_steps=max_steps,
                             lmbdas=lmbdas, betas=betas, lmbda=lmbda, beta=beta)
S = whitebox.resolve_settings(profile, teacher=teacher, student=student, dataset=dataset, n_train=n_train,
                        n_eval=n_eval, max_steps=max_steps, max_new_tokens=max_new_tokens)
whitebox.check_model_name(S["teacher"], "teacher"), whitebox.check_model_name(S["student"], "student")
lk.lab.params.check_parameters(dataset=S["dataset"])
whitebox.check_switches(metric=metric)
timer = lk.lab.metrics.Timer()
S

# %%
panel = None
if lk.lab.notebook.show_widgets(interactive):
    panel = widgets.gkd_panel(globals())   # writes lmbda, beta, metric back; see "one run" below
    display(panel.widget)

# %% [markdown]
# ## Teacher, student, prompts

# %%
if S["threads"]:
    torch.set_num_threads(S["threads"])   # small models on a shared CPU run fastest single-threaded
with timer("load"):
    teacher_model, student_init, tok = whitebox.load_teacher_student(S["teacher"], S["student"], device)
    chat = lk.models.is_chat_model(S["teacher"])
    data = whitebox.whitebox_data(S["dataset"], tok, chat=chat, n_train=S["n_train"], n_eval=S["n_eval"], seed=seed)
config = lk.loop.TrainConfig(steps=S["max_steps"], batch_size=S["batch_size"], lr=S["lr"], seed=seed,
                              device=device, bf16=S["bf16"], max_len=S["max_len"],
                              log_every=max(1, S["max_steps"] // 4))
print(f"teacher {S['teacher']}, student {S['student']}, {len(data['train_prompts'])} train / "
      f"{len(data['eval_prompts'])} eval prompts, {S['max_steps']} steps x batch {S['batch_size']}")
print(data["train_prompts"][0] + data["train_gold"][0])

# %%
with timer("teacher outputs"):
    teacher_train = whitebox.teacher_outputs(teacher_model, tok, data["train_prompts"],
                                       max_new_tokens=S["max_new_tokens"], config=config)
    teacher_eval = whitebox.rollout_texts(tok, whitebox.teacher_outputs(teacher_model, tok, data["eval_prompts"],
                                                            max_new_tokens=S["max_new_tokens"], config=config))
print("teacher, first held-out prompt:\n", teacher_eval[0])

# %% [markdown]
# ## The grid
#
# One student per (λ, β), all from the same initialisation, the same steps and the same seed. Each is scored on held-out prompts: teacher log-likelihood per token of its samples, ROUGE-L of its greedy answers against the teacher's, distinct-2.

# %%
grid_rows, histories = [], {}
for lm in lmbdas:
    for b in betas:
        with timer(f"gkd λ={lm} β={b}"):
            s = copy.deepcopy(student_init)
            h = whitebox.train_method("gkd", s, teacher_model, tok, data, config=config, max_new_tokens=S["max_new_tokens"],
                                teacher_train=teacher_train, lmbda=lm, beta=b)
            row = whitebox.evaluate_students({f"λ={lm} β={b}": s}, teacher_model, tok, data["eval_prompts"], teacher_eval,
                                       max_new_tokens=S["max_new_tokens"], seed=seed, device=device, bf16=S["bf16"])[0][0]
        histories[row["method"]] = h
        grid_rows.append({**row, "lmbda": lm, "beta": b, "jsd_first": h.series("loss/jsd")[0],
                          "jsd_last": h.last("loss/jsd"), "on_policy_steps": sum(h.series("on_policy"))})
display(Markdown(whitebox.markdown_table(grid_rows)))

# %%
values = whitebox.grid_matrix(grid_rows, lmbdas, betas, metric)
names = {"teacher_loglik": "teacher log-likelihood / token of samples ↑", "rouge_l": "ROUGE-L vs teacher ↑",
         "distinct_2": "distinct-2 of samples"}
fig = plots.heatmap(values, lmbdas, betas, title=f"GKD grid: {names[metric]}", cbar=metric)
figures = [plots.save(fig, out_dir, "gkd_heatmap.png")]
fig = plots.training_curves({k: plots.curves_of(h, ["loss/jsd"]) for k, h in histories.items()},
                               ["loss/jsd"], title="JSD_β on the training sequences (β=0.5 is bounded by ln 2: near 0)")
figures.append(plots.save(fig, out_dir, "gkd_losses.png"))


# %% [markdown]
# ## One run, re-run from the widgets
#
# The cell below trains one student at the panel's (λ, β) and shows its numbers and two answers. In JupyterLab, moving a slider re-runs it (the panel's `on_change`); headless it runs once with the parameters `lmbda`, `beta`.

# %%
def one_run(ns=None):
    s = copy.deepcopy(student_init)
    h = whitebox.train_method("gkd", s, teacher_model, tok, data, config=config, max_new_tokens=S["max_new_tokens"],
                        teacher_train=teacher_train, lmbda=lmbda, beta=beta)
    rows, samples = whitebox.evaluate_students({f"λ={lmbda} β={beta}": s}, teacher_model, tok, data["eval_prompts"],
                                         teacher_eval, max_new_tokens=S["max_new_tokens"], seed=seed, device=device, bf16=S["bf16"])
    display(Markdown(whitebox.markdown_table(rows) + "\n\n" + "\n\n".join(f"> {t[:240]}" for t in list(samples.values())[0][:2])))
    return {**rows[0], "lmbda": lmbda, "beta": beta, "jsd_last": h.last("loss/jsd")}

with timer("one run"):
    single = one_run()
if panel is not None:
    panel.on_change = one_run

# %%
params = dict(profile=profile, teacher=S["teacher"], student=S["student"], dataset=S["dataset"],
              n_train=S["n_train"], n_eval=S["n_eval"], max_steps=S["max_steps"], max_new_tokens=S["max_new_tokens"],
              lmbdas=lmbdas, betas=betas, metric=metric, lmbda=lmbda, beta=beta, seed=seed, device=device, bf16=S["bf16"])
best = max(grid_rows, key=lambda r: r[metric])
metrics = {"tables": {"gkd_grid": grid_rows}, "figures": figures, "single_run": single,
           "grid": {"lmbdas": lmbdas, "betas": betas, "metric": metric, "values": values},
           "curves": {k: plots.curves_of(h, ["loss/jsd", "on_policy", "gen_len"]) for k, h in histories.items()},
           "best": {"lmbda": best["lmbda"], "beta": best["beta"], metric: best[metric]}}
lk.lab.metrics.write_metrics(out_dir, "04_gkd_on_policy", params, metrics, timer)
