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
# (Gu et al., ICLR 2024) trains the student on the **reverse** KL over whole responses, on its own samples:
#
# $$\mathcal L(\theta)=\mathrm{KL}(q_\theta\,\|\,p)=\mathbb E_{y\sim q_\theta(\cdot\mid x)}\log\frac{q_\theta(y\mid x)}{p(y\mid x)},\qquad
# \nabla_\theta\mathcal L = -\,\mathbb E_{y\sim q_\theta}\sum_t (R_t-1)\,\nabla_\theta\log q_\theta(y_t\mid y_{<t},x),$$
#
# with the per-token reward $r_t=\log p(y_t\mid y_{<t},x)-\log q_\theta(y_t\mid y_{<t},x)$ and the return
# $R_t=\sum_{t'\ge t} r_{t'}$. Three stabilisers: (1) **single-step decomposition** — the immediate term
# $\mathbb E_{y_t\sim q_\theta}[r_t]=-\mathrm{KL}(q_\theta(\cdot\mid y_{<t})\,\|\,p(\cdot\mid y_{<t}))$ is summed exactly over the
# vocabulary and only $R_{t+1}$ is left to sampling; (2) **teacher-mixed sampling** from $\tilde p=\alpha p+(1-\alpha)q_\theta$,
# each token weighted by $w_t=q_\theta(y_t)/\tilde p(y_t)$; (3) **length normalisation** of $R_{t+1}$ by the tokens left.
#
# The paper's argument, measured here over seeds on a teacher whose distribution is known: the forward-KL students
# (SFT, word-level KD) put mass in the void, the reverse-KL student does not (the **headline**: MiniLLM's void mass
# below word-level KD's), at some cost in the modes it covers; its samples are likelier under the teacher, without
# collapsing in diversity; each stabiliser matters. (On a task teacher the same comparisons are made on ROUGE-L and
# the teacher's log-likelihood, the paper's own measures.) The baselines:
#
# | method | objective | data |
# |---|---|---|
# | **SFT** | $-\sum_t \log q_\theta(y_t\mid y_{<t},x)$ | gold solutions |
# | **word-level KD** | $\sum_t \mathrm{KL}\big(p(\cdot\mid y_{<t},x)\,\|\,q_\theta(\cdot\mid y_{<t},x)\big)$ (forward KL) | gold solutions (teacher-forced) |
# | **SeqKD** | SFT on the teacher's own outputs $\hat y \approx \arg\max p(y\mid x)$ | teacher greedy outputs |
# | **MiniLLM** | sequence-level reverse KL above | the student's own samples |
#
# Forward KL is *mode covering*: a small student must spread mass over everything the teacher can say, including
# the "void" between modes. Reverse KL is *mode seeking*: the student may drop minor modes but is punished wherever
# it puts mass the teacher finds unlikely (docs/methods.md §1, §4).

# %%
from IPython.display import Markdown, display

import labkit as lk
from labkit.lab import plots, whitebox, widgets
from labkit.lab.arms import run as run_arms
from labkit.lab.arms import summary
from labkit.lab.notebook import markdown_table
from labkit.methods import minillm

# %% tags=["parameters"]
profile: str = "default"  # smoke (tiny, what tests run) | default (known teacher, the CPU miniature) | paper (GPT-2, GPU)
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
seeds: list = []  # seeds of the headline comparison (empty: profile default)
max_steps: int = 0  # optimiser steps per trained student, after the shared SFT init (0: profile default)
lr: float = 0.0  # learning rate (0: profile default)
max_new_tokens: int = 0  # response length in tokens (0: profile default)
methods: list = []  # which students to train: sft, kd, seqkd, minillm (empty: profile default)
single_step: bool = True  # MiniLLM: sum the immediate reward term exactly over the vocabulary
teacher_mix: float = 0.2  # MiniLLM: α of teacher-mixed sampling, p~ is α·p + (1-α)·q
length_norm: bool = True  # MiniLLM: divide the long-term reward by the number of remaining tokens
lm_weight: float = 0.0  # MiniLLM: weight of an extra LM (SFT) loss on the gold solutions
ablations: bool = True  # also train MiniLLM with each switch flipped (the paper's ablation)
seed: int = 0  # seed of the one-seed live run
teacher_signals: str = "live"  # live | captured (word-level KD reads the teacher's signals computed once, stored)
device: str = "auto"  # auto | cpu | cuda
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/03_minillm_reverse_kl"  # where metrics.json and the PNG figures go

# %% [markdown]
# Every parameter resolved against the profile and checked **once**, before anything heavy runs: a wrong name or
# range fails here, naming the parameter and what it accepts.

# %%
P = whitebox.MiniLLMProfile.resolve(
    profile, kit=kit, teacher=teacher, student=student, dataset=dataset, n_train=n_train, n_eval=n_eval,
    seeds=seeds, max_steps=max_steps, lr=lr, max_new_tokens=max_new_tokens, methods=methods, single_step=single_step,
    teacher_mix=teacher_mix, length_norm=length_norm, lm_weight=lm_weight, ablations=ablations, seed=seed,
    teacher_signals=teacher_signals, device=device, modes=modes, decay=decay, eta=eta, sum_steps=sum_steps)
timer = lk.lab.metrics.Timer()
P

# %%
panel = None
if lk.lab.notebook.show_widgets(interactive):
    panel = widgets.minillm_panel(globals())   # writes methods, single_step, teacher_mix, ..., modes, eta back
    display(panel.widget)                          # each change re-runs the one-seed run below, shown here

# %% [markdown]
# ## Teacher, student, task
#
# At the default profile the teacher is a **known teacher** (`kit="known"`, `labkit.known`): for each arithmetic
# prompt it writes one of `modes` differently worded correct solutions (weights decay^k), each token replaced by a
# uniform one with probability η. Its probability of *any* response, the student's own included, is exact, so the
# quantities the paper argues about are numbers: the **void mass** (share of samples the teacher gives less
# probability than any template with two wrong tokens), **modes covered** (distinct templates among a prompt's
# samples), the sequence-level reverse and forward KL (Monte Carlo, with standard errors) and the per-token divergence
# on the student's own samples against the teacher's (exposure bias). The kit builds in seconds, nothing cached.
#
# **A capacity gap by design**: the student (2 layers, printed below) must write every template of every prompt,
# held-out prompts included, so it has to *compute* each sum in each wording; it cannot copy the teacher, and forward
# and reverse KL do not meet at the teacher. It starts from a short SFT on teacher samples; SFT and word-level KD train
# on those samples (the known task's "gold" data), SeqKD on the teacher's greedy output (its heaviest template).
#
# `kit="smoke"` or `"default"` swaps in a small transformer teacher fine-tuned on step-by-step arithmetic and a smaller
# student with its tokenizer (`labkit.lab.task_teacher`, built once and cached), scored on task accuracy and ROUGE-L;
# at `profile="paper"` the same cells run MiniLLM's GPT-2 XL → GPT-2 setting. Every arm continues from the same
# student init with the same steps, batch and learning rate; only the objective differs. Settings were chosen on the
# validation prompts; everything below is reported on the test prompts.

# %%
with timer("load"):
    K = whitebox.load_kit(P)
print(f"{len(K.splits['train'])} train / {len(K.splits['valid'])} valid / {len(K.splits['test'])} test prompts; "
      f"vocabulary {len(K.tokenizer)}; teacher {lk.models.n_params(K.teacher):,} parameters (0: a known teacher), "
      f"student {lk.models.n_params(K.student_init):,}")
if P.known:   # the capacity gap: what the student must produce against what it has
    print(f"the teacher: {P.modes} templates per prompt (weights ∝ {P.decay}^k, η = {P.eta}), responses of up to "
          f"{P.max_new_tokens} tokens from a vocabulary of {len(K.tokenizer)}; the student: "
          f"{lk.models.n_params(K.student_init):,} parameters for every template of every prompt, held-out ones too")
print({k: v for k, v in K.manifest.items() if k.startswith(("teacher_", "student_")) and not k.endswith("_last")})
r0 = K.splits["train"][0]
print(lk.lab.task_teacher.prompt_of(r0) + lk.lab.task_teacher.target_of(r0))

# %% [markdown]
# ## MiniLLM on one batch
#
# Two training prompts; the student samples a response to each from $\tilde p=\alpha p+(1-\alpha)q_\theta$, both
# models score every token, and `labkit.methods.minillm.surrogate` computes the pieces of one step's gradient.
# **What to look at:** $r_t$ is negative where the student's token surprises the teacher; $R_{t+1}$ (what is left to
# the policy gradient) sums the rewards still to come, divided by the tokens left when `length_norm`; the
# single-step term $\mathrm{KL}_t$ is the exact per-token reverse KL; $w_t$ stays at most $1/(1-\alpha)$.

# %%
b = whitebox.sample_batch(K, n=2, teacher_mix=P.teacher_mix, max_new_tokens=min(P.max_new_tokens, 24), seed=P.seed)
out = minillm.surrogate(b["student_logits"], b["teacher_logits"], b["tokens"], b["mask"], single_step=P.single_step,
                        teacher_mix=P.teacher_mix, length_norm=P.length_norm)
print(b["prompts"][0][-80:], "→", repr(b["texts"][0]))
cols = {"r_t": out["reward"], "R_{t+1}": out["returns"], "KL_t (single step)": out["single"], "w_t": out["weight"],
        "surrogate_t": out["surrogate"]}
display(Markdown(markdown_table(whitebox.token_table(K.tokenizer, b["tokens"], b["mask"], cols))))
loss = out["surrogate"].sum() / b["mask"].sum()
loss.backward()
print(f"step loss {loss.item():+.4f}; gradient norm over the student's parameters "
      f"{sum(p.grad.norm() ** 2 for p in b['student'].parameters() if p.grad is not None) ** 0.5:.3f}")

# %% [markdown]
# ### The estimator against the exact gradient
#
# On a toy student and teacher over every 2-token sequence of a 3-token alphabet, the sequence-level reverse KL and
# its gradient are sums over all 9 sequences. Each batch of samples gives one estimate of that gradient through the
# same `minillm.surrogate`. **What to look at:** without length normalisation and teacher mixing both estimators are
# unbiased (their mean over many batches meets the exact gradient; cosine ≈ 1) — the single-step decomposition only
# shrinks the spread of one batch's estimate.

# %%
q_table, p_table, logits_of = whitebox.enumerable_case(vocab=3, length=2, seed=0)
exact = whitebox.exact_reverse_kl_grad(q_table, p_table, logits_of, 3, 2)
grads = {f"single_step={ss}": whitebox.estimator_spread(q_table, p_table, logits_of, n_batches=200, batch=16, seed=1,
                                                        single_step=ss, teacher_mix=0.0, length_norm=False)
         for ss in (True, False)}
estimator = whitebox.estimator_rows(grads, exact)
display(Markdown(markdown_table(estimator)))

# %% [markdown]
# ## One seed, live
#
# The configured methods and MiniLLM for one seed, scored on the validation prompts; the panel's switches (and the
# known teacher's modes K and noise η, which rebuild it in seconds) re-run this cell (run the next one again to redraw its curves). The curves are MiniLLM's reward (mean $r_t$, rising as the student moves toward what the teacher finds
# likely) and its per-token reverse KL on its own samples.

# %%
M = whitebox.metrics_of(P)   # the exact measurements on a known teacher, else the task metrics

# %%
def one_run(ns=None):
    Q = P.replace(methods=list(methods) or P.methods, single_step=single_step, teacher_mix=teacher_mix, length_norm=length_norm,
                  lm_weight=lm_weight, ablations=False, max_steps=max_steps or P.max_steps, modes=modes or P.modes,
                  eta=eta or P.eta)
    exp = whitebox.Experiment(whitebox.kit_for(Q, K, P), Q, split="valid").prepare(arms_one := whitebox.minillm_arms(Q))
    res = run_arms(exp, arms_one, [seed])
    display(Markdown(markdown_table(summary(res, M, "valid"), ["arm", *M])))
    return res

with timer("one seed, live"):   # runs in the panel's output now and after every change -> `single`
    single = one_run() if panel is None else panel.rerun(one_run, store="single")
if panel is not None:
    display(panel.output)   # the same output, shown here too

# %%
mini = {r.arm: r.curves for r in single if r.arm == "minillm"}   # after a change in the panel, run this cell again
plots.training_curves(mini, ["reward", "loss/single"], title=f"MiniLLM, seed {seed}") if mini else None

# %% [markdown]
# ## Every arm over seeds
#
# MiniLLM as configured, each stabiliser flipped in turn, the baselines, and the initial student ("student (init)",
# every arm's step 0), each over the profile's seeds on both cores (`lk.lab.arms.run`). With
# `teacher_signals="captured"` word-level KD reads the teacher's top-k log-probabilities on the gold solutions from a
# store captured once under `$LABKIT_HOME/teacher_signals/` (top-k is biased low, docs/methods.md §7); MiniLLM still
# runs the live teacher, because it scores the student's own samples, new at every step.

# %%
arms = whitebox.minillm_arms(P)
experiment = whitebox.Experiment(K, P).prepare(arms)
with timer("teacher signals"):   # {} when live; else captured once (or found) before any student trains
    experiment.signals = stores = whitebox.signal_stores(experiment, arms, P.teacher_signals)
with timer("train and score, all arms x seeds"):
    runs = run_arms(experiment, arms, P.seeds)
table = summary(runs, M)
display(Markdown(markdown_table(table, ["arm", "seeds", *M])))

# %%
short = {"student (init)": "init", "minillm −single-step": "−single", "minillm α=0": "α=0",
         "minillm −length-norm": "−len", "minillm +single-step": "+single", "minillm α=0.2": "α=.2",
         "minillm +length-norm": "+len"}
shown = ("void_mass", "modes_covered", "reverse_kl", "teacher_loglik") if P.known else whitebox.METRICS
fig = plots.paired_seeds({whitebox.TITLES[m]: {short.get(a.label, a.label): list(lk.lab.arms.values(runs, a.label,
                          m).values()) for a in [arms[-1], *arms[:-1]]} for m in shown},
                         title=f"MiniLLM vs baselines, test prompts, seeds {P.seeds}")
figures = [plots.save(fig, out_dir, "metrics.png")]
first = min(P.seeds)
mini = {r.arm: r.curves for r in runs if r.arm.startswith("minillm") and r.seed == first}
if mini:
    fig = plots.training_curves(mini, ["reward", "loss/single", "grad_var"], title="MiniLLM and its switches")
    figures.append(plots.save(fig, out_dir, "minillm_curves.png"))

# %% [markdown]
# ### The void and the modes, sample by sample
#
# With a known teacher: the first test prompts' samples of the word-level KD student (forward KL) and of the MiniLLM
# student (reverse KL), first seed, each coloured by the template it follows, grey where it lies in the void.
# **What to look at:** grey lines (mixtures of templates, broken numbers) and how many colours each prompt gets.

# %%
labelled = {a: next(r.extra.get("labelled") for r in runs if r.arm == a and r.seed == first) for a in ("kd", "minillm")
            if a in {x.label for x in arms}}
if P.known and len(labelled) == 2:
    fig = plots.template_samples({"word-level KD (forward KL)": labelled["kd"], "MiniLLM (reverse KL)":
                                  labelled["minillm"]}, P.modes, title=f"test samples by template, seed {first}")
    figures.append(plots.save(fig, out_dir, "samples_by_template.png"))

# %% [markdown]
# ## The paper's claims, measured
#
# One effect per seed, metric(better) − metric(worse); a claim holds when the lower end of the 95 % Student-t
# interval over seeds is above 0 (docs/methods.md §9); for a lower-is-better metric (void mass, KL) the effect is
# metric(worse) − metric(better). With a known teacher the headline is MiniLLM's void mass against word-level
# KD's. "No collapse" is 0.2 − |metric(MiniLLM)/metric(SFT) − 1|: positive when distinct-2 (or the sample length) is within ±20 % of SFT's. Below the table, one reading per claim
# that does not hold, its numbers filled in from this run.

# %%
C = whitebox.minillm_claims(runs, arms, P)
numbers = whitebox.reading_numbers(runs, K, P)
notes = whitebox.notes("03", C, numbers, P.known)
display(lk.lab.claims.markdown(C))
display(Markdown("\n".join(f"* {v}" for v in notes.values()) or "Every claim holds."))

# %% [markdown]
# ## Try this
#
# 1. **Switch off teacher mixing** (`teacher_mix = 0`, or the panel's slider) and re-run the one-batch cell: every
#    $w_t$ becomes 1. Raise it to 0.8: the samples read more like the teacher's and the weights fall below 1 where
#    the teacher, not the student, chose the token.
# 2. **Let the length bonus back in**: `length_norm = False` in the one-seed cell. Watch `gen_words` and the reward
#    curve: without normalisation a long negative return pushes the student to stop early (the `−length-norm` arm
#    over seeds shows the same).
# 3. **Measure the variance yourself**: in the estimator cell change `batch=16` to `batch=4` and to `batch=64`. The
#    spread of one batch shrinks like $1/\sqrt{\text{batch}}$; the bias stays at the level of the Monte Carlo error.
# 4. **Change the teacher**: `-p modes 5 -p decay 1.0` with papermill (five equally likely templates per prompt) or
#    `-p eta 0.15` (noisier templates). Does MiniLLM's void-mass advantage over word-level KD grow with the number of
#    modes a small student cannot all copy? And on the trained task teacher (`-p kit default`), which metric moves
#    first, teacher log-likelihood or ROUGE-L?

# %% [markdown]
# ## Results file

# %%
metrics = {"claims": C, "claims_not_holding": notes, **whitebox.learning_metrics(runs, "03", numbers, profile, P.known),
           "tables": {"arms": table, "estimator": estimator}, "figures": figures,
           "runs": lk.lab.arms.to_json(runs), "single_run": summary(single, M, "valid"),
           "kit": {"recipe": K.recipe, **{k: v for k, v in K.manifest.items() if k != "recipe"}},
           "teacher_signals": stores,
           **{f"{r['arm']}/{k}": r[k] for r in table for k in ("accuracy", "rouge_l", "teacher_loglik", "distinct_2") if k in r}}
lk.lab.metrics.write_metrics(out_dir, "03_minillm_reverse_kl", {**P.as_dict(), "out_dir": out_dir}, metrics, timer)
