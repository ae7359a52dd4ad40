# ---
# jupyter:
#   kernelspec:
#     display_name: Python (labkit)
#     language: python
#     name: labkit
# ---

# %% [markdown]
# # 06 · Cross-tokenizer distillation: ULD, a GOLD-style hybrid, and numbers
#
# Token-level KD compares the teacher's next-token distribution $p(\cdot\mid y_{<t})$ with the student's
# $q_\theta(\cdot\mid y_{<t})$ entry by entry, so both must share one vocabulary. The lab's two embedded models do
# not: Gemma-3-270m has 262,144 entries, SmolLM2-135M 49,152. This notebook first **looks** at what two
# tokenizers do to the same text, then **measures** two ways of distilling across them
# (docs/methods.md §6):
#
# * **Alignment by bytes.** Both tokenizations of a response are cut into *chunks*, stretches of text where both
#   sides have a token boundary at the start and the end. "Exact" chunks are one token on each side (the same
#   string); the rest are "merged" (a word, a number or a multi-byte character cut differently).
# * **ULD** (Boizard et al., 2024): at the first token of every chunk,
#   $\mathrm{ULD}=\sum_i |p_{(i)}-q_{(i)}|$ between the two probability vectors *sorted* in decreasing order —
#   no token identities, so any two vocabularies work; it teaches how confident to be, not what to say.
# * **Hybrid** (after TRL's GOLD): on exact chunks the tokens both vocabularies spell the same (a set $M$) are
#   compared by identity, $\mathrm{JSD}_\beta$ on $M$ plus one "rest" bin, and the rest by ULD on the sorted tails;
#   on merged chunks the probabilities of the chunk's text, $P=\prod p(\text{teacher tokens})$ and
#   $Q=\prod q(\text{student tokens})$, are compared as $\mathrm{JSD}_\beta(\mathrm{Bern}(P)\,\|\,\mathrm{Bern}(Q))$.
#   With one tokenizer on both sides it *is* plain token-level $\mathrm{JSD}_\beta$ (a unit test checks it), which
#   the notebook uses as same-tokenizer KD.
#
# Every KD arm trains on $w\,\mathrm{CE}+(1-w)\,\mathrm{KD}$ with the same $w$ (`ce_weight`); SFT is CE alone.
# X-Token (NVIDIA; its numbers reach the lab second-hand, not checked against the X-Token paper) reports that
# multi-digit numbers — one token for one model, several for the other — fall into GOLD's unmatched set and ruin
# GSM8K (GOLD 2.56 vs same-tokenizer KD 12.89). The miniature below builds exactly that situation and measures it:
# first the alignment, then the two losses on one solution chunk by chunk, one seed trained live, then the seeds,
# the regime (the hybrid − ULD effect by how differently the tokenizers cut each chunk: 1:1, 1:2, 1:3 tokens) and
# the claims; the **headline**: the hybrid beats ULD on the chunks the two tokenizers cut differently.

# %%
from IPython.display import HTML, Markdown, display

import labkit as lk
from labkit.lab import plots, xtok

# %% tags=["parameters"]
profile: str = "default"  # smoke (< 40 s, tiny models) | default (CPU miniature, 3 seeds, < 3 min) | paper (GPU)
kit: str = ""  # miniature recipe of labkit.lab.xtok.RECIPES (empty: profile default; "none": the named models)
cross_teacher: str = ""  # teacher with another tokenizer (kit "none"; empty: profile default)
same_teacher: str = ""  # teacher with the student's tokenizer (kit "none"; empty: profile default)
student: str = ""  # student model (kit "none"; empty: profile default)
arms: list = []  # from sft, uld, hybrid, same-tok KD, hybrid (KD only), same-tok KD (KD only) (empty: the first 4)
seeds: list = []  # seeds of every arm (empty: profile default, 3 at default)
headline_seeds: list = []  # seeds of the headline's two arms, ULD and the hybrid (empty: profile default, 5 at default)
max_steps: int = 0  # optimiser steps per student, after the shared SFT init (0: profile default)
lr: float = 0.0  # learning rate (0: profile default)
batch_size: int = 0  # training examples per step (0: profile default)
ce_weight: float = 0.5  # w in w·CE + (1 − w)·KD, the same for every KD arm (SFT is CE alone)
beta: float = 0.5  # β of JSD_β in the hybrid and same-tokenizer KD (0: forward KL, 1: reverse KL)
sentence: str = "Zoë paid €1,234.50 for 12 naïve crêpes — 3× more than 🍎."  # text of the alignment viewer
data_dir: str = ""  # folder holding dss/ and tinyllm/ (empty: $LABKIT_DATA or ../shared/data; absent: synthetic)
n_texts: int = 0  # texts per source for the alignment counts (0: profile default)
seed: int = 0  # seed whose training curves are drawn (the first of `seeds` when it is not one of them)
device: str = "auto"  # auto | cpu | cuda (the CPU miniature always trains on the CPU)
interactive: bool = True  # show the alignment viewer's text box (only in a live Jupyter kernel)
out_dir: str = "runs/06_cross_tokenizer"  # where metrics.json and the PNG figures go

# %% [markdown]
# Every parameter, resolved against the profile and checked once, before anything heavy runs.

# %%
P = xtok.XTokProfile.resolve(profile, kit=kit, cross_teacher=cross_teacher, same_teacher=same_teacher,
                             student=student, arms=arms, seeds=seeds, headline_seeds=headline_seeds, seed=seed,
                             max_steps=max_steps, lr=lr,
                             batch_size=batch_size, ce_weight=ce_weight, beta=beta, n_texts=n_texts, device=device)
timer = lk.lab.metrics.Timer()
display(P)

# %% [markdown]
# ## One text, two tokenizations
#
# The embedded Gemma-3 (teacher) and SmolLM2 (student) tokenizers on one sentence, and the miniature's two
# tokenizers on a solution of its task. Boxes are tokens on a common byte axis, coloured by what the hybrid
# loss does with them: **exact** (green; compared by identity), **merged** (orange; in a chunk cut differently,
# compared through the chunk's probability), **unmatched** (red; no token with the same string in the other
# vocabulary — X-Token's "unmatched set"). Thick outlines mark chunks cut differently that hold digits or
# non-ASCII text.

# %%
with timer("load kit (first use: builds it)"):
    K = xtok.load_kit(P)
with timer("alignment"):
    pair = xtok.real_pair(profile)
    fig = xtok.alignment_figure(xtok.viewer_panels(sentence, K, pair))
figures = [plots.save(fig, out_dir, "alignment.png")]
if pair is None:
    print("Gemma-3 / SmolLM2 tokenizers not cached: smoke shows the miniature's pair only")

# %%
viewer = None
if pair is not None and lk.lab.notebook.show_widgets(interactive):
    viewer = xtok.viewer_panel(globals(), pair)     # type any text: the HTML view below it follows
    display(viewer.widget)
elif pair is not None:
    al = lk.alignment.align(pair[0], pair[1], sentence)
    display(HTML(xtok.alignment_html(al, pair[0], pair[1], lk.alignment.vocab_map(*pair), ("Gemma-3", "SmolLM2"))))

# %% [markdown]
# ## How often do the two tokenizations disagree?
#
# Every token of both tokenizations, counted by kind, on the lab's real datasets (SVAMP and CQA with PaLM
# rationales, OBQA with FLAN-T5 and LLaMA-2 rationales, read from `data_dir` when present; the synthetic tasks
# otherwise), and on the miniature's task. Per side exact + merged + unmatched = all tokens.

# %%
with timer("alignment counts"):
    counts = xtok.count_sources(profile, data_dir, P.n_texts, pair, K)
display(lk.lab.notebook.table(xtok.counts_rows(counts), digits=1))

# %% [markdown]
# Gemma-3 and SmolLM2 both write every digit as its own token, so on this pair **no chunk holding a digit is
# merged**: X-Token's failure cannot happen here. Their disagreements are multi-byte characters, rare words and
# runs of spaces. To see the failure, the miniature uses a teacher whose tokenizer keeps each number of the task
# whole (" 19" → one token) and a student whose tokenizer splits digits (" 19" → "␣", "1", "9"): *every* number is
# a merged chunk, and the teacher's number tokens have no twin in the student's vocabulary.

# %% [markdown]
# ## Teachers, student, task
#
# **Two task teachers of the same shape (2 layers, 128 wide), one per tokenizer, trained on one-step arithmetic
# word problems until their validation accuracies are close (whole numbers: 400 steps; digits: 1200 steps —
# adding numbers digit by digit is harder for a 2-layer model than recalling number tokens), and a student
# (2 layers, 64 wide) on the digit tokenizer, briefly SFT-initialised** — the recipe of notebooks 03/04, so every
# arm's difference is the loss. Built once (both cores) and cached (`labkit.lab.xtok.xtok_kit`).

# %%
m = K.manifest
print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.items() if k != "recipe"})
print(f"{len(K.splits['train'])} train / {len(K.splits['valid'])} valid / {len(K.splits['test'])} test problems")

# %% [markdown]
# ## The two losses on one solution, chunk by chunk
#
# One test solution, both tokenizations aligned by bytes, and the KD term each chunk adds for the student init
# against the whole-number teacher (`labkit.methods.xtok.xtok_loss` on a plan holding that chunk alone, as training
# computes it). Look at the number chunks (merged): ULD compares only sorted probabilities at their first tokens,
# the hybrid adds the Bernoulli term on the whole number's probability; the exact chunks (words, operators) are
# where the hybrid's identity terms can say *which* token.

# %%
rows = xtok.chunk_terms(K, K.splits["test"][0], beta=P.beta)
display(lk.lab.notebook.table(rows, digits=3))

# %% [markdown]
# ## One seed, live
#
# The hybrid arm (or the first KD arm of `arms`) for the seed `seed`, from the student init: its KD term per chunk
# and its CE per token over the steps, then its test scores. Every arm continues from the same student init for
# the same steps, so every arm's difference is its loss. The seeds below reuse this run.

# %%
arm_list = xtok.xtok_arms(P.arms, ce_weight=P.ce_weight, beta=P.beta, headline_seeds=P.headline_seeds)
X = xtok.XTokExperiment(K, steps=P.max_steps, lr=P.lr, batch_size=P.batch_size, max_new_tokens=P.max_new_tokens,
                        device=P.train_device)
shown = P.seed if P.seed in P.seeds else P.seeds[0]
kd_arms = [a for a in arm_list if a.method == "xtok"] or arm_list[-1:]
live_arm = next((a for a in kd_arms if a.label == "hybrid"), kd_arms[0])
with timer("one seed, live"):
    live = lk.lab.arms.run(X, [live_arm], [shown], processes=1)[0]
fig = plots.training_curves({live.arm: live.curves}, [k for k in ("loss/kd", "loss/ce") if k in live.curves],
                            title=f"{live.arm}, seed {shown}: KD term (per chunk) and CE (per token)")
figures.append(plots.save(fig, out_dir, "xtok_live.png"))
print(live.arm, {k: round(v, 3) for k, v in live.metrics["test"].items()}, f"{live.seconds:.1f} s")

# %% [markdown]
# ## SFT vs ULD vs hybrid vs same-tokenizer KD, over seeds
#
# Scored on the test problems: task accuracy of the greedy answer, and — teacher-forced on the gold solutions — the
# student's mean log-probability per digit token (where the numbers live) and per other token. Settings were chosen
# on the validation problems (benchmarks/RESULTS.md). Add `"hybrid (KD only)"` and `"same-tok KD (KD only)"` to
# `arms` to train the same two losses without the cross-entropy on the gold text: the CE term teaches every arm the
# gold digits directly, and hides how little the hybrid says about numbers.

# %%
with timer("train and score, arms x seeds"):
    runs = lk.lab.arms.run(X, arm_list, P.seeds, processes=X.processes)
table = lk.lab.arms.summary(runs, ["accuracy", "digit_logprob", "other_logprob"])
display(lk.lab.notebook.table(table))
print({k: round(v, 1) for k, v in timer.timings.items()})

# %%
names = {"accuracy": "task accuracy ↑", "digit_logprob": "log-prob per gold digit token ↑",
         "other_logprob": "log-prob per other gold token ↑"}
per_seed = lambda arm, metric: [v for _, v in sorted(lk.lab.arms.values(runs, arm, metric).items())]  # noqa: E731
panels = {label: {xtok.SHORT.get(a.label, a.label): per_seed(a.label, m) for a in arm_list} for m, label in names.items()}
fig = plots.paired_seeds(panels, title=f"Each arm per seed (dots joined by seed), mean and 95% t-interval "
                                       f"({len(P.seeds)} seeds)")
figures.append(plots.save(fig, out_dir, "xtok_arms.png"))
fig = plots.training_curves({r.arm: r.curves for r in runs if r.seed == shown and "loss/kd" in r.curves},
                            ["loss/kd", "loss/ce"], title=f"KD term (per chunk) and CE on the training batches, "
                                                          f"seed {shown}")
figures.append(plots.save(fig, out_dir, "xtok_losses.png"))

# %% [markdown]
# ## Where the hybrid's identities help: the regime, chunk by chunk
#
# The hybrid's identity terms apply only where the two tokenizers cut the text the same; elsewhere it falls back to
# ULD plus one chunk probability. The regime knob is how differently the tokenizers cut: every chunk of every test
# solution is one of "1:1" (cut the same: words, operators), "1:2" (a one-digit number: one teacher token, two
# student tokens, "Ġ" and the digit), "1:3" (a two-digit number), ... The same students, scored teacher-forced per
# cut: the hybrid − ULD effect on the log-probability per student token of those chunks, paired by seed, with its
# 95 % interval. **What to look at:** where the interval leaves 0, and whether the effect shrinks as the cut grows
# apart. The headline claim (written before the test numbers) pools every chunk cut differently.

# %%
sweep = xtok.cut_sweep(runs)
display(lk.lab.notebook.table([{k: c[k] for k in ("cut", "tokens", "mean", "ci95", "n", "holds")} for c in sweep]))
if sweep:
    fig = plots.effect_by_knob(sweep, "cut", xlabel="teacher tokens : student tokens of a chunk (1:1 = cut the same)",
                               ylabel="hybrid − ULD, log-prob per token", title="hybrid vs ULD by how differently "
                               f"the tokenizers cut the gold text ({len(sweep[0]['values'])} seeds; green: holds)")
    figures.append(plots.save(fig, out_dir, "xtok_cut_sweep.png"))
where = xtok.where_it_holds(sweep)
print("hybrid > ULD:", where)

# %% [markdown]
# ## The papers' claims, measured
#
# One effect per seed (metric of the better arm − metric of the worse arm), 95% Student-t interval over seeds
# (docs/methods.md §9); a claim holds when the interval's lower end is above 0. The headline first, then each
# paper's claim on the task metrics, then the sweep's claims. Under the table: the reading of each claim that does
# not hold, with this run's numbers.

# %%
C = xtok.headline_claim(runs) + xtok.xtok_claims(runs) + [{k: v for k, v in c.items() if k not in ("cut", "tokens")}
                                                          for c in sweep]
display(lk.lab.claims.markdown(C))
numbers = {**xtok.numbers(runs, steps=P.max_steps, ce_weight=P.ce_weight, where=where),
           **lk.lab.arms.numbers(runs, ["logprob_cut_same", "logprob_cut_differently"])}
notes = xtok.xtok_notes(C, numbers, profile)
display(Markdown("\n".join(f"* {v}" for v in notes.values()) or "Every claim holds."))

# %% [markdown]
# ## Reading the result
#
# The alignment counts say how much of a text the identity terms of the hybrid can see; the arms say what the
# loss does with it. In the miniature the hybrid's student learns about each number only through the chunk
# probability $P$ (a single probability per number) and the sorted ULD tail, while same-tokenizer KD gives it the
# teacher's distribution over every digit — X-Token's point. With the CE term on the gold solutions every arm also
# learns the digits directly, which can hide the difference; the KD-only arms take that term away. Where a claim
# does not hold, its line above gives the measured effect; nothing is tuned on the test problems.

# %% [markdown]
# ## Try this
#
# 1. **Take the CE term away.** Add `"hybrid (KD only)"` and `"same-tok KD (KD only)"` to `arms`: the claim
#    `same-tok>hybrid(KD only):digit_logprob` compares the two losses on the digits alone; look at the
#    log-prob-per-digit panel of the arms figure.
# 2. **Your own sentence.** Change `sentence` (or type in the viewer's box) to a text with numbers, accents or emoji,
#    and look at which chunks turn orange or red: those are where the hybrid falls back to the chunk probability.
# 3. **Forward or reverse.** Set `beta = 0.0` (forward KL) or `1.0` (reverse KL): the chunk table above shows how the
#    hybrid term of each chunk changes before any training, and the claims table how the arms move.
# 4. **Weight the CE.** Set `ce_weight = 0.9`: every KD arm moves toward SFT; watch `uld>sft` and the training CE in
#    the live curve.
# 5. **Where the regime turns.** Set `ce_weight = 0.0` and `arms = ["uld", "hybrid"]`: without the gold text, does
#    the hybrid's lead on the 1:1 chunks (its identity terms) grow, and what happens at 1:2 and 1:3, where only one
#    chunk probability and the sorted tail reach the student?

# %%
params = {**P.as_dict(), "profile": profile, "sentence": sentence}
metrics = {"claims": C, "claims_not_holding": notes, **lk.lab.claims.learning_metrics(xtok.learning(runs)),
           "alignment": counts, "chunk_terms": rows, "tables": {"arms": table}, "figures": figures,
           "runs": lk.lab.arms.to_json(runs), "kit": dict(K.manifest), "real_pair": pair is not None,
           "cut_sweep": [{k: c[k] for k in ("cut", "tokens", "mean", "ci95", "n", "holds", "values")} for c in sweep],
           "where_it_holds": where}
lk.lab.metrics.write_metrics(out_dir, "06_cross_tokenizer", params, metrics, timer)
