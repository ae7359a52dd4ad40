# ---
# jupyter:
#   kernelspec:
#     display_name: Python (labkit)
#     language: python
#     name: labkit
# ---

# %% [markdown]
# # 07 · On-policy distillation vs RL vs SFT, on a compute ledger
#
# Three ways to improve an SFT-initialised student on a task whose answers can be checked:
#
# * **Off-policy distillation (SFT)**: imitate the teacher's samples, $-\sum_t \log q_\theta(y_t\mid y_{<t},x)$
#   with $y\sim p$.
# * **Reinforcement learning (GRPO)**: the student samples a group of $G$ answers per prompt, each earns **one**
#   reward $R_i\in\{0,1\}$ (is the final answer right?), and every token of answer $i$ carries the same advantage
#   $A_i=(R_i-\bar R)/\mathrm{sd}(R)$: $\;L=-\frac1N\sum_i\sum_t A_i\log q_\theta(y_{i,t}\mid\cdot)$.
# * **On-policy distillation** (GKD at λ = 1, β = 1): the student samples, the teacher **grades every token** of
#   the sample, and the student minimises the per-token reverse KL on its own prefixes,
#   $$L=\frac1N\sum_t \mathrm{KL}\big(q_\theta(\cdot\mid y_{<t},x)\,\|\,p(\cdot\mid y_{<t},x)\big),\qquad y\sim q_\theta .$$
#
# The claim measured here (Thinking Machines Lab, *On-Policy Distillation*, 2025): a Qwen3-8B-Base student taught by
# Qwen3-32B reaches 74.4 % on AIME'24 against 67.6 % for RL, with about 1,800 GPU-hours against 17,920: a dense
# per-token signal instead of one reward per episode, at 9-30× less compute. Every run here writes a **compute
# ledger** (`labkit.compute`): the floating-point operations of each step (student sampling, training, teacher
# scoring, reward), so the arms are compared at equal compute as well as at equal steps.

# %%
from IPython.display import Markdown, display

import labkit as lk
from labkit.lab import onpolicy, plots
from labkit.lab.arms import run as run_arms
from labkit.lab.arms import summary
from labkit.lab.notebook import markdown_table
from labkit.methods import rl

# %% tags=["parameters"]
profile: str = "default"  # smoke (tiny, what tests run) | default (the CPU miniature) | paper (GPU)
kit: str = ""  # known (a known teacher) | none (named teacher/student/dataset) (empty: profile default)
teacher: str = ""  # named teacher model (profile paper; empty: profile default)
student: str = ""  # named student model (profile paper; empty: profile default)
dataset: str = ""  # named dataset (profile paper; empty: profile default)
n_train: int = 0  # training prompts (0: profile default)
n_eval: int = 0  # validation and test prompts, each (0: profile default)
seeds: list = []  # seeds of the headline comparison (empty: profile default)
sweep_seeds: list = []  # seeds of the weaker teachers' arms (empty: profile default)
teacher_accuracies: list = []  # the regime knob: teacher's share of correct solutions, 1.0 first (empty: default)
max_steps: int = 0  # optimiser steps per arm, after the shared SFT init (0: profile default)
lr: float = 0.0  # learning rate (0: profile default)
group_size: int = 0  # RL: samples per prompt (0: profile default)
teacher_scale: float = 0.0  # ledger: a known teacher's size in student sizes (0: profile default)
eval_every: int = 0  # steps between accuracy points on the compute curves (0: profile default)
arm: str = "opd"  # the one-seed live run: sft | opd | rl | rl+opd
teacher_accuracy: float = 1.0  # the one-seed live run's teacher (one of teacher_accuracies)
seed: int = 0  # seed of the one-seed live run
device: str = "auto"  # auto | cpu | cuda
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/07_on_policy_distillation"  # where metrics.json and the PNG figures go

# %% [markdown]
# Every parameter resolved against the profile and checked **once**, before anything heavy runs.

# %%
P = onpolicy.OnPolicyProfile.resolve(
    profile, kit=kit, teacher=teacher, student=student, dataset=dataset, n_train=n_train, n_eval=n_eval, seeds=seeds,
    sweep_seeds=sweep_seeds, teacher_accuracies=teacher_accuracies, max_steps=max_steps, lr=lr, group_size=group_size,
    teacher_scale=teacher_scale, eval_every=eval_every, arm=arm, teacher_accuracy=teacher_accuracy, seed=seed,
    device=device)
timer = lk.lab.metrics.Timer()
P

# %%
panel = None
if lk.lab.notebook.show_widgets(interactive):
    panel = onpolicy.panel(globals(), P)   # writes arm, teacher_accuracy back and re-runs "one seed, live" below
    display(panel.widget)

# %% [markdown]
# ## Teacher, student, task
#
# The task: "Q: 3 + 4 = ?" answered by a solution whose last number is the sum, in one of several styles. The teacher
# is a **known teacher** (`labkit.known`, notebooks 03/04): noisy templates per prompt, exact log-probabilities for any
# prefix, so it can grade every token of a student's sample. A **weaker teacher** (the regime knob
# `teacher_accuracies`) puts weight 1 − a on one more template that slips at its last number. It has no weights, so
# the ledger costs it as a model `teacher_scale` times the student's size (the paper's 32B teacher over an 8B student
# is 4×). The student is a tiny transformer, SFT-initialised on the teacher's samples. Accuracy = the share of
# correct samples at temperature 1 on held-out prompts (avg@k, as the paper's AIME numbers).

# %%
with timer("load"):
    K = onpolicy.load_kit(P)
student_spec = lk.compute.spec_of(K.student_init)
print(f"{len(K.splits['train'])} train / {len(K.splits['test'])} test prompts; student N = {student_spec.params:,}, "
      f"teacher costed as N = {lk.compute.spec_of(K.teachers[1.0]).params:,}")
display(Markdown(markdown_table([{"teacher accuracy (knob)": a, "its samples correct": v,
                                  "SFT data FLOPs": K.data_flops[a]} for a, v in K.teacher_accuracy.items()])))

# %% [markdown]
# ## The two signals, on one prompt
#
# The initial student samples a group of answers to one training prompt (the first whose group holds a right and a
# wrong answer). RL sees **one number per answer**: its reward and the group-relative advantage
# (`rl.correctness_rewards`, `rl.group_advantages`). On-policy distillation sees **one number per token**: the
# teacher's log-ratio $\log p(y_t\mid\cdot)-\log q_\theta(y_t\mid\cdot)$ (`lk.methods.minillm.rewards`), whose
# mean is minus the per-token reverse KL it minimises. **What to look at:** in a wrong answer the teacher's bars dip at
# the token where it goes wrong (red), while RL's one bar (its advantage A) blames every token alike; in a group
# where every answer is right (or wrong), RL's advantages are all 0: that group teaches RL nothing.

# %%
# the first training prompt whose group holds a right and a wrong answer (else the first prompt)
record, episodes = onpolicy.first_mixed_group(K.student_init, K.teachers[1.0], K, K.splits["train"][:16],
                                              n=P.group_size, max_new_tokens=P.max_new_tokens, seed=P.seed)
rewards = rl.correctness_rewards([e["text"] for e in episodes], [record.answer] * len(episodes))  # one per answer
advantages = rl.group_advantages(rewards[None])[0]                                                 # vs the group
display(Markdown(markdown_table([{"sample": e["text"], "reward": float(r), "advantage": float(a),
                                  "teacher grade (mean log p − log q)": e["teacher_grade"]}
                                 for e, r, a in zip(episodes, rewards, advantages)])))
fig = onpolicy.signal_figure(episodes, title=f"{record.question}: per-token teacher log-ratio vs one advantage")
figures = [plots.save(fig, out_dir, "signals.png")]

# %% [markdown]
# ## One seed, live
#
# One arm (the panel's `arm`, with the panel's teacher) for one seed, scored on the validation prompts; moving a
# control re-runs it (the stored `single` follows). Its accuracy is drawn against the ledger's FLOPs.

# %%
def one_run(ns=None):
    Q = P.replace(arm=arm, teacher_accuracy=teacher_accuracy)
    a = onpolicy.arm(Q.arm, Q, Q.teacher_accuracy)
    r = run_arms(onpolicy.Experiment(K, Q, split="valid"), [a], [seed], processes=1)[0]
    display(Markdown(markdown_table([{"arm": r.arm, **r.metrics["valid"]}])))
    return {"arm": r.arm, **r.metrics["valid"], "curves": r.curves}

with timer("one seed, live"):   # runs in the panel's output now and after every move -> `single`
    single = one_run() if panel is None else panel.rerun(one_run, store="single")
if panel is not None:
    display(panel.output)

# %% [markdown]
# ## The arms, over seeds
#
# Every arm from the same initial student, with the same steps and prompts per step; the weaker teachers' arms over
# `sweep_seeds`. Test accuracy is measured every `eval_every` steps against the cumulative FLOPs of the ledger (SFT's
# start at its data's cost: the teacher sampled every training sequence before SFT could begin).

# %%
arms = onpolicy.arms_of(P)
with timer("train and score, arms x seeds"):
    runs = run_arms(onpolicy.Experiment(K, P), arms, P.seeds)
table = summary(runs, ["accuracy", "flops", "flops_sample", "flops_train", "flops_teacher", "data_flops"])
display(Markdown(markdown_table(table, ["arm", "seeds", "accuracy", "accuracy sd", "flops", "flops_sample",
                                        "flops_train", "flops_teacher", "data_flops"])))

# %%
fig = onpolicy.compute_figure(runs, list(onpolicy.ARMS),
                              title=f"Test accuracy against compute and steps ({len(P.seeds)} seeds)")
figures.append(plots.save(fig, out_dir, "accuracy_vs_compute.png"))

# %%
if len(P.teacher_accuracies) > 1:
    fig = onpolicy.regime_figure(runs, K, P, title="A weaker teacher caps distillation, not RL")
    figures.append(plots.save(fig, out_dir, "teacher_accuracy.png"))

# %% [markdown]
# ## Where on-policy distillation and RL disagree
#
# The initial student's samples on a few training prompts, each with RL's reward and the teacher's grade of the
# sample (the mean of its per-token log-ratios). **What to look at:** correct answers the teacher grades low (a style or
# a noisy token it finds unlikely: distillation pushes them away, RL rewards them) and wrong answers it grades high
# (right until the last number: distillation blames one token, RL the whole answer).

# %%
pool = [e for r in K.splits["train"][:16] for e in onpolicy.episode_signals(
    K.student_init, K.teachers[1.0], K, r, n=P.group_size, max_new_tokens=P.max_new_tokens, seed=P.seed)]
fig = onpolicy.disagreement_figure(pool, title="RL's reward against the teacher's grade, per sample")
figures.append(plots.save(fig, out_dir, "disagreement.png"))
display(Markdown(markdown_table(onpolicy.disagreements(pool))))

# %% [markdown]
# ## The paper's claims, measured
#
# The headline: per seed, log10 of RL's total FLOPs over the FLOPs on-policy distillation spent to first reach RL's
# final test accuracy (positive: distillation is cheaper; the ratio is 10 to the mean, beside the paper's 9-30×).
# Then on-policy distillation against SFT at equal FLOPs, RL + distillation against RL at equal steps, and RL against
# distillation with the weakest teacher. 95 % Student-t intervals over seeds; one reading per claim that does not
# hold, filled in from this run.

# %%
C = onpolicy.claims_of(runs, P)
numbers = onpolicy.reading_numbers(runs, K, P)
notes = onpolicy.notes(C, numbers)
display(lk.lab.claims.markdown(C))
head = C[0]
display(Markdown(f"Compute ratio RL / on-policy distillation: **{head['ratio']:.2f}×** (95 % CI "
                 f"{head['ratio_ci95'][0]:.2f}-{head['ratio_ci95'][1]:.2f}×; reached in {head['reached']} of "
                 f"{head['n']} seeds)"))
display(Markdown("\n".join(f"* {v}" for v in notes.values()) or "Every claim holds."))

# %% [markdown]
# ## Try this
#
# 1. **A dearer teacher**: `-p teacher_scale 16` (a teacher 16 student sizes). How much of distillation's advantage
#    in the compute ratio survives when each token it grades costs more?
# 2. **Fewer samples per prompt for RL**: `-p group_size 2`. RL gets cheaper per step, but how often is a group all
#    right or all wrong (its `signal` curve), so that it teaches nothing?
# 3. **A weak teacher**: in the panel, set the teacher to the weakest accuracy and re-run `opd`, then `rl`. Which arm
#    inherits the teacher's slip (read its samples), and which ignores it?
# 4. **Where the signals part**: in the disagreement table, find a correct answer the teacher grades low. Which
#    tokens does it dislike (rerun the signal cell on that prompt)?

# %%
metrics = {"claims": C, "claims_not_holding": notes,
           **lk.lab.claims.learning_metrics(lk.lab.arms.learning(runs, "accuracy"), numbers=numbers),
           "compute_ratio": {"ratio": head["ratio"], "lo": head["ratio_ci95"][0], "hi": head["ratio_ci95"][1],
                             "reached": head["reached"], "per_seed_log10": head["values"]},
           "arms": {r["arm"]: {"accuracy": r["accuracy"], "flops": r["flops"]} for r in table},
           "tables": {"arms": table}, "figures": figures, "single_run": single, "runs": lk.lab.arms.to_json(runs),
           "teacher_accuracy": {str(a): v for a, v in K.teacher_accuracy.items()},
           "signals": episodes, "disagreements": onpolicy.disagreements(pool),
           "kit": {"recipe": K.recipe, **{k: v for k, v in K.manifest.items() if k != "recipe"}}}
lk.lab.metrics.write_metrics(out_dir, "07_on_policy_distillation", {**P.as_dict(), "out_dir": out_dir}, metrics, timer)
