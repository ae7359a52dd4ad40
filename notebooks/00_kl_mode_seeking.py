# ---
# jupyter:
#   kernelspec:
#     display_name: Python (labkit)
#     language: python
#     name: labkit
# ---

# %% [markdown]
# # 00 · Forward KL, reverse KL and JSD(β): mode covering vs mode seeking
#
# A student with too little capacity cannot copy a teacher with several modes. *Which* compromise it makes
# depends on the divergence it minimises (docs/methods.md §1, §8):
#
# * **forward KL** $\mathrm{KL}(p\|q)=\sum_y p(y)\log\frac{p(y)}{q(y)}$ — infinite penalty where $p>0$ but $q\approx0$: the
#   student **covers** every mode and smears mass over the gaps between them ("void regions").
# * **reverse KL** $\mathrm{KL}(q\|p)=\sum_y q(y)\log\frac{q(y)}{p(y)}$ — infinite penalty where $q>0$ but $p\approx0$: the
#   student **seeks** one mode and ignores the others (MiniLLM's argument for generative LMs).
# * **generalised JSD** with $M=\beta p+(1-\beta)q$: $\mathrm{JSD}_\beta=\beta\,\mathrm{KL}(p\|M)+(1-\beta)\,\mathrm{KL}(q\|M)$;
#   lab convention (TRL, Liger): $\beta=0$ is forward KL, $\beta=1$ is reverse KL, exact at the endpoints.
#
# Three scenes, all computed exactly: (1) one Gaussian fitted to two Gaussians, (2) one next-token distribution,
# (3) whole sequences of a small teacher LM whose sequence distribution we can enumerate; then the claims over seeds
# (4), what a stored teacher signal keeps (5), and what a reverse KL over a served teacher's top-k does (6).

# %%
from tqdm.auto import tqdm

import labkit as lk

# %% tags=["parameters"]
profile: str = "default"  # smoke | default | paper (all three are CPU-sized here)
seed: int = 0  # random seed (student initialisation)
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/00_kl_mode_seeking"  # metrics.json and PNG figures go here
device: str = "cpu"  # everything here is tiny: CPU
separation: float = 5.0  # scene 1: distance between the two modes (in σ units)
weight: float = 0.7  # scene 1: weight of the left mode
beta: float = 0.5  # JSD β; 0 is forward KL, 1 is reverse KL
degree: int = 2  # scene 2: student logits are a polynomial of this degree in the token id; 2 is unimodal
student_order: int = 1  # scene 3: student n-gram order (the teacher uses the full context)
noise: float = 0.05  # scene 3: teacher per-token noise η around each mode
eps: float = 0.001  # "void": outcomes where the teacher's probability is below eps
max_steps: int = 0  # optimisation steps per student; 0 means the profile default
n_seeds: int = 0  # teachers × seeds for the claims (scene 4); 0 means the profile default
topk: int = 8  # scene 6: how many of the teacher's top tokens a served teacher returns per position

# %%
lk.lab.params.check_parameters(profile=profile, seed=seed, interactive=interactive, device=device,
                             beta=beta, weight=weight, noise=noise)
P = lk.lab.profiles.resolve(profile, lk.lab.profiles.MODESEEK, max_steps=max_steps, n_seeds=n_seeds)
max_steps, n_seeds = P["max_steps"], P["n_seeds"]
DIVERGENCES = {"forward_kl": ("forward_kl", 0.0), "reverse_kl": ("reverse_kl", 1.0), f"jsd β={beta:g}": ("jsd", beta)}
timer, figures, tables = lk.lab.metrics.Timer(), [], {}
ms = lk.modeseek

# %%
if lk.lab.notebook.show_widgets(interactive):   # sliders write back to separation, weight, beta, degree, student_order
    from IPython.display import display
    panel = lk.lab.widgets.mode_seeking_live(globals())
    display(panel.widget)   # scene 1 redraws live; re-run the cells below for scenes 2 and 3

# %% [markdown]
# ## Scene 1 · one Gaussian for two modes
#
# Teacher $p(x)=w\,\mathcal N(-d/2,1)+(1-w)\,\mathcal N(d/2,1)$, student $q=\mathcal N(\mu,\sigma^2)$. Integrals become sums on a
# grid of 3001 points in $[-15,15]$. Forward KL has a closed-form optimum, **moment matching**:
# $\mu^*=\mathbb E_p[x]$, $\sigma^{*2}=\mathrm{Var}_p[x]$ — a Gaussian between the modes. Reverse KL has one local optimum per mode;
# we start LBFGS from several points and keep the best.

# %%
x = ms.grid()
mixture = ms.two_modes(separation, weight)
p_x = ms.mixture_pdf(x, *mixture)
with timer("scene1"):
    fits = {label: ms.fit_gaussian(x, p_x, kind, b) for label, (kind, b) in DIVERGENCES.items()}
    beta_path = [dict(zip(("beta", "mu", "sigma", "divergence"), (b, *ms.fit_gaussian(x, p_x, "jsd", b))))
                 for b in tqdm([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0], desc="β path")]
closed_form = ms.moment_matched(*mixture)
print("forward KL fit", fits["forward_kl"][:2], "closed form (moment matching)", closed_form)
figures.append(lk.lab.plots.save(lk.lab.plots.gaussian_fits(x, p_x, {k: v[:2] for k, v in fits.items()}), out_dir, "gaussian_fits.png"))

# %%
fig = lk.lab.plots.sweep([{**r, "what": "μ"} for r in beta_path] + [{**r, "mu": r["sigma"], "what": "σ"} for r in beta_path],
                     x="beta", y="mu", hue="what", percent=False, ylabel="fitted value",
                     title="JSD(β) fit moves from covering (β=0) to seeking (β=1)")
figures.append(lk.lab.plots.save(fig, out_dir, "gaussian_beta_path.png"))
tables["gaussian"] = [{"divergence": k, "mu": v[0], "sigma": v[1], "divergence_value": v[2]} for k, v in fits.items()]
tables["gaussian_beta_path"] = beta_path

# %% [markdown]
# ## Scene 2 · one next-token distribution
#
# The teacher's next-token distribution over $V=40$ tokens has three modes. The student's logits are a polynomial
# of degree `degree` in the token id, $z_v=\sum_{k=1}^{d}\theta_k u_v^k$: with $d=2$ it is a discretised Gaussian and can hold
# only one mode. Each student is trained with `labkit.losses.divergence(student_logits, teacher_logits, kind=..., beta=...)`.
# **Void mass** $=\sum_{v:\,p(v)<\varepsilon} q(v)$; a teacher mode is **covered** when $q(v)\ge 0.1\,p(v)$ at its peak.

# %%
p_tok = ms.multimodal_next_token()
peaks = ms.local_modes(p_tok)
with timer("scene2"):
    next_token = {label: ms.fit_next_token(p_tok, kind, b, degree=degree, steps=max_steps, seed=seed)[0]
                  for label, (kind, b) in tqdm(DIVERGENCES.items(), desc="next-token students")}
tables["next_token"] = [{"divergence": k, **ms.summary(q, p_tok, peaks, eps)} for k, q in next_token.items()]
figures.append(lk.lab.plots.save(lk.lab.plots.next_token_fits(p_tok, next_token, eps), out_dir, "next_token_fits.png"))
tables["next_token"]

# %% [markdown]
# ## Scene 3 · whole sequences from a small teacher LM
#
# Vocabulary $\{a,b,c,d,e\}$, length 5, so $5^5=3125$ sequences — few enough to enumerate. The teacher is a
# full-context autoregressive LM with three modes `abcba`, `dbcbd`, `ebcbe` (weights 0.45/0.35/0.2) and per-token noise η.
# The modes share the middle `bcb`: a student that only sees the previous `student_order` tokens cannot remember
# which last token belongs to the first one. The student is an n-gram LM $q(y_t\mid y_{t-k..t-1}, t)$.
#
# Because the sequences can be enumerated, the sequence-level divergence is exact: $\log q(Y)$ and $\log p(Y)$ over all
# 3125 sequences are passed to `labkit.losses.divergence` as if the sequences were a vocabulary, and autograd gives the
# exact gradient — for reverse KL this equals the expected policy gradient
# $\nabla\mathrm{KL}(q\|p)=\mathbb E_{y\sim q}\big[(\log q(y)-\log p(y))\,\nabla\log q(y)\big]$ that MiniLLM estimates by sampling (notebook 03).

# %%
teacher = ms.default_teacher(noise)
p_seq, modes = teacher.log_probs(), teacher.mode_indices()
with timer("scene3"):
    students = {label: ms.train_sequence_student(teacher, kind, b, order=student_order, steps=max_steps, seed=seed)
                for label, (kind, b) in tqdm(DIVERGENCES.items(), desc="sequence students")}
q_seq = {label: s[1] for label, s in students.items()}
tables["sequences"] = [{"divergence": k, **ms.summary(q, p_seq, modes, eps)} for k, q in q_seq.items()]
labels = ms.sequence_labels(teacher.vocab, teacher.length)
fig = lk.lab.plots.sequence_fits(p_seq, q_seq, modes, top=30, eps=eps, labels=labels,
                             title=f"Sequences: teacher vs Markov-order-{student_order} students (exact)")
figures.append(lk.lab.plots.save(fig, out_dir, "sequence_fits.png"))
tables["sequences"]

# %%
curves = {label: s[2] for label, s in students.items()}
figures.append(lk.lab.plots.save(lk.lab.plots.loss_curves(curves, title="sequence-level training loss (exact)", log=True),
                             out_dir, "sequence_losses.png"))
print(f"student parameters: {students['forward_kl'][0].n_parameters()}  teacher outcomes: {len(p_seq)}")

# %% [markdown]
# **Reading the numbers.** The forward-KL student covers every mode but puts mass on mixed sequences such as `abcbd`
# that the teacher never produces (void mass). The reverse-KL student picks one mode: almost no void mass, fewer
# modes covered. JSD(β) sits in between and moves towards reverse KL as β → 1.

# %% [markdown]
# ## Scene 4 · the claims, over teachers and seeds
#
# One teacher is an anecdote. Scene 3 again with `n_seeds` teachers of the same kind (`lk.modeseek.random_teacher(s)`:
# three templates sharing their middle tokens, each ending with its own first token, random weights), a forward-KL
# and a reverse-KL student per teacher, initialised from the same seed. Each seed gives one paired effect; the claim
# holds when the lower end of the 95% Student-t interval is above 0 (docs/methods.md §9).

# %%
with timer("scene4"):
    per_seed, values, claims = lk.lab.scenes.mode_seeking_over_seeds(n_seeds, noise=noise, order=student_order,
                                                                     steps=max_steps, eps=eps)
fig = lk.lab.plots.paired_seeds({"void mass (student mass where p < ε)": values["void_mass"],
                                 "teacher modes covered (of 3)": values["modes_covered"]},
                                title=f"{n_seeds} teachers × seeds: mean and 95% interval (black)")
figures.append(lk.lab.plots.save(fig, out_dir, "claims_over_seeds.png"))
lk.lab.claims.markdown(claims)

# %% [markdown]
# ## Scene 5 · what a stored teacher signal keeps: top-k vs sampled vs exact
#
# Distilling from stored teacher outputs instead of a live teacher (labkit.signals, docs/methods.md §7) keeps, per
# position, either the **top-k** log-probabilities plus one bin for the rest of the mass, or **m tokens sampled** from the
# teacher. Coarse-graining into k+1 bins can only lower a divergence, so the top-k loss is *biased low*; the sampled
# estimate
# $\frac1m\sum_j[\log p(x_j)-\log q(x_j)]$, $x_j\sim p$, is *unbiased* for the forward KL (its gradient
# $q-\text{counts}/m$ too), at the price of variance. Below: a real teacher's next-token distributions (SmolLM2-135M on the
# synthetic task's solutions) and its 4-layer student, the forward KL and its gradient from each stored signal, against
# the exact values.

# %%
with timer("scene5"):
    error_rows, n_positions, vocab = lk.lab.scenes.signal_errors(P["signal_teacher"], P["signal_student"],
                                                                 n_sequences=P["signal_sequences"],
                                                                 repeats=P["signal_repeats"], seed=seed, device=device)
tables["signal_errors"] = error_rows
fig = lk.lab.plots.estimator_errors(error_rows, title=f"{P['signal_teacher']} → {P['signal_student']}, "
                                    f"{n_positions} positions, V={vocab}")
figures.append(lk.lab.plots.save(fig, out_dir, "signal_errors.png"))
lk.lab.notebook.table(error_rows, digits=4)

# %% [markdown]
# **Reading the numbers.** Top-k + tail is below the exact loss for every k (biased low) and converges as k grows;
# with k = V it is exact (a test checks it). The sampled loss scatters around the exact value with no bias; one draw's
# gradient is noisier than top-k's at the same size, but its errors average out over training steps, while top-k's bias
# does not. DistillKit stores k = 128; Sparse Logit Sampling (Anshumann et al., ACL 2025) argues for sampling.

# %% [markdown]
# ## Scene 6 · reverse KL on a served teacher's top-k: where does the student's mass go?
#
# A served teacher (vLLM's `logprobs=k`) returns only its top-k log-probabilities per position. On-policy distillation
# with the reverse KL then tempts one to sum $q_i\log\frac{q_i}{p_i}$ over those k tokens only. That sum is not a
# divergence: each term is smallest at $q_i=p_i/e$, so its minimum puts the top-k tokens at $p_i/e$ and pushes the
# rest of the student's mass, at least $1-1/e$, *outside* the teacher's top k (verl's on-policy distillation pull
# request 5041 reports this instability in training; others dispute it). With the **tail bin** of `labkit.signals`
# (the k tokens plus one bin for the rest, on both sides) it is the exact KL of two (k+1)-bin distributions, minimised
# at the teacher's masses. Below: one next-token distribution with a heavy tail; a student that *starts at the teacher*
# (the perfect student) is trained on each objective, exactly (no sampling). **What to look at:** the red curve
# leaves the teacher's outside mass for the dashed red line $1-\sum_{\text{top-}k}p/e$; the blue (tail bin) and black
# (full reverse KL) stay where they started.

# %%
with timer("scene6"):
    topk_scene = lk.lab.scenes.topk_reverse_kl(lk.lab.scenes.zipf_logits(256, seed=seed), topk, steps=400)
tables["topk_reverse_kl"] = topk_scene["rows"]
fig = lk.lab.plots.topk_reverse_kl(topk_scene, title=f"reverse KL over the teacher's top {topk} of "
                                   f"{topk_scene['vocab']} tokens")
figures.append(lk.lab.plots.save(fig, out_dir, "topk_reverse_kl.png"))
lk.lab.notebook.table(topk_scene["rows"], digits=4)
moved = {r["objective"]: r["student mass outside top-k"] - topk_scene["teacher_outside"] for r in topk_scene["rows"]}
print(f"the student's mass outside the teacher's top {topk} moved by {moved['top-k only']:+.3f} with the top-k sum, "
      f"by {moved['top-k + tail']:+.1e} with the tail bin (the closed-form minimum of the top-k sum: "
      f"{topk_scene['truncated_optimum_outside']:.3f}, the teacher's own: {topk_scene['teacher_outside']:.3f})")

# %% [markdown]
# **What we find:** the effect is exact, not an artefact of noisy training — the top-k sum moves even a perfect
# student away from the teacher, to its closed-form minimum; the tail bin leaves it at the teacher. **Try this:** set
# `topk` to 1 and to 64: the pull shrinks as the top k holds more of the teacher's mass. Start the student elsewhere
# (a second `zipf_logits(..., seed=1)` as its logits is one edit in `scenes.topk_reverse_kl`): the tail bin matches the
# teacher's top-k and tail masses, and says nothing about how the student spreads its mass *inside* the tail.

# %%
by = lambda rows: {r["divergence"].split(" ")[0]: r for r in rows}
metrics = {
    "gaussian": {r["divergence"]: r for r in tables["gaussian"]},
    "gaussian_closed_form": {"mu": closed_form[0], "sigma": closed_form[1]},
    "next_token": by(tables["next_token"]),
    "sequences": by(tables["sequences"]),
    "claims": claims, "per_seed": per_seed,
    "topk_reverse_kl": {**{r["objective"]: r["student mass outside top-k"] for r in topk_scene["rows"]},
                        "teacher": topk_scene["teacher_outside"],
                        "truncated_optimum": topk_scene["truncated_optimum_outside"]},
    "tables": tables, "figures": figures,
}
params = dict(profile=profile, seed=seed, separation=separation, weight=weight, beta=beta, degree=degree,
              student_order=student_order, noise=noise, eps=eps, max_steps=max_steps, n_seeds=n_seeds, topk=topk)
print(lk.lab.metrics.write_metrics(out_dir, "00_kl_mode_seeking", params, metrics, timer))
