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
# A white-box teacher *p* (we see its logits) and a smaller student *q_θ* with the same vocabulary.
# Four ways to train the student on the same prompts *x*:
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
methods: list = ["sft", "kd", "seqkd", "minillm"]  # which students to train (sft, kd, seqkd, minillm)
single_step: bool = True  # MiniLLM: sum the immediate reward term exactly over the vocabulary
teacher_mix: float = 0.2  # MiniLLM: α of teacher-mixed sampling, p~ is α·p + (1-α)·q
length_norm: bool = True  # MiniLLM: divide the long-term reward by the number of remaining tokens
lm_weight: float = 0.0  # MiniLLM: weight of an extra LM (SFT) loss on the gold solutions
ablations: bool = True  # also train MiniLLM with each switch flipped (curves of reward and variance)
seed: int = 0  # seed of data order, sampling and evaluation
device: str = "auto"  # auto | cpu | cuda
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/03_minillm_reverse_kl"  # where metrics.json and the PNG figures go

# %% [markdown]
# Derived settings and a check of every parameter, **before** anything heavy runs: a wrong name or range fails here, naming the parameter.

# %%
lk.lab.params.check_parameters(profile=profile, seed=seed, interactive=interactive, device=device,
                             n_train=n_train, n_eval=n_eval, max_steps=max_steps)
S = whitebox.resolve_settings(profile, teacher=teacher, student=student, dataset=dataset, n_train=n_train,
                        n_eval=n_eval, max_steps=max_steps, max_new_tokens=max_new_tokens)
whitebox.check_model_name(S["teacher"], "teacher"), whitebox.check_model_name(S["student"], "student")
lk.lab.params.check_parameters(dataset=S["dataset"])
whitebox.check_switches(teacher_mix=teacher_mix, lm_weight=lm_weight)
methods = whitebox.check_methods(methods)
timer = lk.lab.metrics.Timer()
S

# %%
if lk.lab.notebook.show_widgets(interactive):
    panel = widgets.minillm_panel(globals())   # writes methods, single_step, teacher_mix, ... back
    display(panel.widget)                          # change a control, then run the cells below again

# %% [markdown]
# ## Teacher, student, prompts
#
# The student keeps 4 evenly spaced layers of the teacher (DistilBERT-style initialisation), so both share the tokenizer and the vocabulary (checked before any step). The prompts ask for a step-by-step solution of a synthetic word problem.

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

# %% [markdown]
# The teacher answers every prompt once (greedy). Its training outputs are SeqKD's data; its held-out outputs are the references for ROUGE-L.

# %%
with timer("teacher outputs"):
    teacher_train = whitebox.teacher_outputs(teacher_model, tok, data["train_prompts"],
                                       max_new_tokens=S["max_new_tokens"], config=config)
    teacher_eval = whitebox.rollout_texts(tok, whitebox.teacher_outputs(teacher_model, tok, data["eval_prompts"],
                                                            max_new_tokens=S["max_new_tokens"], config=config))
print("teacher, first held-out prompt:\n", teacher_eval[0])

# %% [markdown]
# ## MiniLLM's policy gradient and its three stabilisers
#
# With the per-token reward $r_t=\log p(y_t\mid y_{<t},x)-\log q_\theta(y_t\mid y_{<t},x)$ and the return
# $R_t=\sum_{t'\ge t} r_{t'}$,
#
# $$\nabla_\theta\,\mathrm{KL}(q_\theta\|p) = -\,\mathbb E_{y\sim q_\theta}\sum_t (R_t-1)\,\nabla_\theta\log q_\theta(y_t\mid y_{<t},x).$$
#
# 1. **Single-step decomposition** — the immediate part $\mathbb E_{y_t\sim q_\theta}[r_t]$ is summed exactly over the vocabulary
#    (it is the per-token reverse KL, differentiable), and only $R_{t+1}$ is left to Monte Carlo.
# 2. **Teacher-mixed sampling** — sample from $\tilde p=\alpha p+(1-\alpha)q_\theta$ and reweight each token by $w_t=q_\theta(y_t)/\tilde p(y_t)\le 1/(1-\alpha)$:
#    the student cannot hack the reward with degenerate text the teacher never writes.
# 3. **Length normalisation** — $R_{t+1}/(T-t)$, so that short answers are not preferred.
#
# labkit also subtracts a leave-one-out baseline (the mean return of the other samples in the batch), which keeps the estimate unbiased.
# With `ablations=True` each switch is flipped once to see what it does to the reward, the loss and the gradient variance.

# %%
runs = {m: {} for m in methods if m != "minillm"}
if "minillm" in methods:
    runs.update(whitebox.minillm_variants(single_step, teacher_mix, length_norm, lm_weight, ablations))
students, histories = {"student (init)": student_init}, {}
for label, switches in runs.items():
    with timer(f"train {label}"):
        students[label] = copy.deepcopy(student_init)
        histories[label] = whitebox.train_method(label.split()[0], students[label], teacher_model, tok, data,
                                           config=config, max_new_tokens=S["max_new_tokens"],
                                           teacher_train=teacher_train, **switches)
print({k: round(v, 1) for k, v in timer.timings.items()})

# %% [markdown]
# ### Training curves
#
# Left to right: the mean reward $r_t$ of the sampled tokens (higher = the teacher likes the student's text more than the student does), the per-token reverse KL on the student's samples (what MiniLLM drives down), and the spread of per-sample gradients of the surrogate (log scale, measured every few steps).

# %%
mini = [k for k in histories if k.startswith("minillm")]
keys = ["reward", "loss/single", "grad_var"]
figures = []
if mini:
    fig = plots.training_curves({k: plots.curves_of(histories[k], keys) for k in mini}, keys,
                                   title="MiniLLM and its switches")
    figures.append(plots.save(fig, out_dir, "minillm_curves.png"))
base = [k for k in histories if not k.startswith("minillm")]
if base:
    fig = plots.training_curves({k: plots.curves_of(histories[k], ["loss"]) for k in base}, ["loss"],
                                   title="Baselines: each method's own training loss")
    figures.append(plots.save(fig, out_dir, "baseline_losses.png"))

# %% [markdown]
# ## Evaluation on held-out prompts
#
# * **ROUGE-L** of the student's greedy answer against the teacher's greedy answer (how well it imitates the teacher);
# * **teacher log-likelihood** per token of the student's *sampled* answers, $\frac1{|y|}\log p(y\mid x)$ (MiniLLM's argument: a mode-seeking student writes text the teacher finds likely);
# * **distinct-2**: distinct word bigrams / all bigrams over the samples (diversity; low = repetitive).
#
# The teacher itself and the untrained student are scored the same way, as the two ends of the scale.

# %%
with timer("evaluate"):
    rows, samples = whitebox.evaluate_students({**students, "teacher": teacher_model}, teacher_model, tok,
                                         data["eval_prompts"], teacher_eval, max_new_tokens=S["max_new_tokens"],
                                         seed=seed, device=device, bf16=S["bf16"])
for r in rows:
    h = histories.get(r["method"])
    r["train_loss_first"], r["train_loss_last"] = (h.series("loss")[0], h.last("loss")) if h else (None, None)
display(Markdown(whitebox.markdown_table(rows)))
fig = plots.metric_bars(rows, {"rouge_l": "ROUGE-L vs teacher ↑", "teacher_loglik": "teacher log-lik / token ↑",
                                  "distinct_2": "distinct-2 (diversity)"})
figures.append(plots.save(fig, out_dir, "metrics.png"))

# %% [markdown]
# ### Samples, side by side (greedy, first two held-out prompts)

# %%
for i in range(min(2, len(data["eval_prompts"]))):
    display(Markdown(f"**Prompt {i}:** `{data['eval_prompts'][i][-160:]!r}`\n\n"
                     + whitebox.markdown_table([{"method": m, "answer": s[i][:240]} for m, s in samples.items()])))

# %% [markdown]
# ## Results file
#
# `metrics.json` holds the table (one row per method), every training curve (so each figure can be redrawn) and the sample texts.

# %%
params = dict(profile=profile, teacher=S["teacher"], student=S["student"], dataset=S["dataset"],
              n_train=S["n_train"], n_eval=S["n_eval"], max_steps=S["max_steps"], max_new_tokens=S["max_new_tokens"],
              methods=methods, single_step=single_step, teacher_mix=teacher_mix, length_norm=length_norm,
              lm_weight=lm_weight, ablations=ablations, seed=seed, device=device, bf16=S["bf16"])
curves = {k: plots.curves_of(h, ["loss", "loss/ce", "loss/kd", "loss/pg", "loss/single", "reward", "grad_var",
                                    "weight_mean", "gen_len"]) for k, h in histories.items()}
best = max((r for r in rows if r["method"] != "teacher"), key=lambda r: r["teacher_loglik"])
metrics = {"tables": {"methods": rows}, "figures": figures, "curves": curves, "samples": samples,
           "best_by_teacher_loglik": best["method"], **{f"{r['method']}/{k}": r[k] for r in rows
                                                         for k in ("rouge_l", "teacher_loglik", "distinct_2")}}
lk.lab.metrics.write_metrics(out_dir, "03_minillm_reverse_kl", params, metrics, timer)
