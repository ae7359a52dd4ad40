# ---
# jupyter:
#   kernelspec:
#     display_name: Python (labkit)
#     language: python
#     name: labkit
# ---

# %% [markdown]
# # 05 · The survey's map of LLM distillation, in miniature
#
# The lab follows the knowledge-distillation section of **Zhu, Li, Liu, Ma & Wang, *A Survey on Model Compression
# for Large Language Models*** (arXiv:2308.07633, 2023; TACL 2024). The survey splits KD for LLMs in two:
#
# * **Standard KD**: the student learns the teacher's output distribution (white-box): MiniLLM's reverse KL
#   (notebook 03), GKD's on-policy data (notebook 04); notebook 00 shows why the direction of the KL matters.
# * **EA-based KD** (emergent abilities): the student learns an ability only large models show, from the
#   teacher's *text* (black-box): **in-context learning** (Meta-ICT, Multitask-ICT), **chain of thought** (MT-CoT,
#   Fine-tune-CoT, Fu et al., distilling step-by-step, Socratic CoT, DISCO, SCOTT; TinyLLM extends the line) and
#   **instruction following** (Lion).
#
# Every EA-based method below trains the student by the same loss, cross-entropy on the pairs $(x, y)$ of a data
# set $D$ that the method builds from the teacher's text:
#
# $$\mathcal L(\theta) = -\frac{1}{N}\sum_{(x, y)\in D}\sum_t \log q_\theta(y_t \mid y_{<t}, x)\qquad(N = \text{target tokens})$$
#
# What differs is $D$: Fine-tune-CoT keeps the correct ones of $k$ sampled reasoning paths per question
# ($D=\{(x, r_j): r_j\sim p_T(\cdot\mid x),\ \mathrm{answer}(r_j)=y\}$), SCOTT keeps the rationales consistent with
# the answer, Socratic CoT cuts the reasoning into sub-question pairs for two students, ICL distillation puts $k$
# solved examples before each query, and Lion grows the question pool where the student fails.
#
# Below: the map (each box says where the lab runs the method), each method's data on a few examples, one seed
# trained live, then five miniatures of methods notebooks 01–04 do not cover (four at profile default: the ICL one
# is left out, §4 says why), each over seeds with its claim measured. Every student is a small transformer trained
# from scratch on the CPU; the teachers are scripted (they write the gold reasoning, with known noise), so the
# effects below are what the *method* does to the data, at a scale the papers never ran.

# %%
import labkit as lk

# %% tags=["parameters"]
profile: str = "default"  # smoke | default | paper
seeds: list = []  # seeds of every miniature, at least 3 at default; empty means the profile's
seed: int = 0  # the seed of the one-seed interactive run
interactive: bool = True  # show the widget panel (only in a live Jupyter kernel)
out_dir: str = "runs/05_survey_map"  # metrics.json and PNG figures go here
methods: list = []  # miniatures to run: finetune_cot, scott, socratic, lion, icl; empty means the profile's
method: str = "finetune_cot"  # the miniature of the one-seed interactive run
k_paths: int = 0  # Fine-tune-CoT: reasoning paths sampled per question; 0 means the profile's
temperature: float = 0.0  # Fine-tune-CoT: the teacher's sampling temperature; 0 means the profile's
scott_filter: bool = True  # SCOTT (one-seed run): keep only rationales consistent with the answer
icl_k: int = 0  # ICL: demonstrations before each query; 0 means the profile's
lion_new: int = 0  # Lion: new questions generated in the round; 0 means the profile's
max_steps: int = 0  # optimiser steps per student; 0 means the profile's
n_train: int = 0  # training questions of SCOTT's and Socratic CoT's miniatures; 0 means the profile's
ftcot_n_train: list = []  # Fine-tune-CoT's regime sweep: numbers of training questions; empty means the profile's
scott_noise: list = []  # SCOTT's sweep: rates of teacher rationales that disagree with the label; empty: the profile's
socratic_task_steps: list = []  # Socratic CoT's sweep: reasoning steps per question; empty means the profile's
lion_imitation: list = []  # Lion's sweep: imitation steps before the referee, × max_steps; empty means the profile's
knob_ftcot_n: int = 0  # the one-seed run's Fine-tune-CoT training questions; 0 means the paper's value
knob_scott_p: float = -1.0  # the one-seed run's SCOTT disagreement rate; -1 means the paper's value
knob_socratic_steps: int = 0  # the one-seed run's Socratic CoT steps per question; 0 means the paper's value
knob_lion_imitation: float = 0.0  # the one-seed run's Lion imitation (× max_steps); 0 means the paper's value
threads: int = 0  # torch CPU threads of this process; 0 means the profile's

# %%
P = lk.lab.survey.SurveyProfile.resolve(profile, seeds=seeds, seed=seed, methods=methods, method=method,
                                        k_paths=k_paths, temperature=temperature, scott_filter=scott_filter,
                                        icl_k=icl_k, lion_new=lion_new, max_steps=max_steps, n_train=n_train,
                                        threads=threads, ftcot_n_train=ftcot_n_train, scott_noise=scott_noise,
                                        socratic_task_steps=socratic_task_steps, lion_imitation=lion_imitation)
lk.lab.notebook.set_threads(P.threads)
sv, R = lk.lab.survey, lk.lab.survey_regimes
timer, figures, tables, runs = lk.lab.metrics.Timer(), [], {}, {}

# %%
if lk.lab.notebook.show_widgets(interactive):   # writes method and its knob back (k_paths, temperature, ...)
    from IPython.display import display
    panel = lk.lab.widgets.survey_panel(globals())
    display(panel.widget)   # then run "One seed, live" below
else:
    panel = None

# %% [markdown]
# ## The map
#
# Green boxes run in this lab (the notebook or section is named); grey ones are described in the survey and not
# run here. The table says what each method takes from the teacher and what the student learns.

# %%
figures.append(lk.lab.plots.save(sv.taxonomy_figure(), out_dir, "survey_map.png"))
tables["methods"] = sv.TABLE
lk.lab.notebook.table(sv.TABLE)

# %% [markdown]
# ## The data
#
# Fine-tune-CoT, SCOTT and Lion share one task, `synthetic:arithmetic` ("Kim has 20 pens. Kim gives 9 away. How
# many pens does Kim have now?"), asked without options: the student must *write* its reasoning and the number.
# Socratic CoT needs several steps, so it gets longer questions. Lion's pool is the first `lion_pool` of the
# questions. The ICL miniature has its own family of lookup tasks (§4).
#
# **Regimes.** A paper's effect holds in the regime the paper studies and may vanish elsewhere, so each miniature
# runs at several values of the one knob that sets its regime (`labkit.lab.survey_regimes.REGIMES`), each value
# with its own data: the number of training questions (Fine-tune-CoT), the teacher's rate of rationales whose
# answer disagrees with the label (SCOTT), the imitation steps before Lion's referee (how much of its pool the
# student already solves), the reasoning steps per question (Socratic CoT). The value that corresponds to the
# paper's own setting carries the headline claim and more seeds (`P.headline_seeds`); the values were chosen on
# validation questions (benchmarks/survey_regimes.py), the claims below are measured on test questions. One
# tokenizer (byte-level BPE) per miniature is trained on every prompt and target its students will see; every
# student is a fresh from-scratch transformer (`P.student`).

# %%
with timer("data"):
    kw = dict(n_train=P.n_train, n_test=P.n_test, teachers=[P.noisy, P.clean], dataset=P.dataset)
    cot, soc = sv.cot_setup(task_steps=P.task_steps, **kw), sv.cot_setup(task_steps=P.socratic_steps, **kw)
    icl = sv.icl_setup(n_source=P.n_source_tasks, n_target=P.n_target_tasks, n_target_train=P.n_target_train,
                       n_target_valid=P.n_target_valid)   # the valid items chose the settings; never scored here
    SWEEPS = {m: R.sweep(P, m) for m in P.methods if m in R.REGIMES}   # {miniature: (experiment, arms)}
    X = R.RegimeExperiment.merge(x for x, _ in SWEEPS.values())        # every value's jobs on the cores at once
    ARMS = {m: arms for m, (_, arms) in SWEEPS.items()}
    XICL = sv.SurveyExperiment(icl, P.student, P.config, step0_seeds=P.seeds[:1])
    if "icl" in P.methods:
        ARMS["icl"] = sv.arms_for("icl", P)
        XICL.prepare([ARMS["icl"]])
print(f"{len(cot.train)} train / {len(cot.test)} test questions ({P.dataset}); the knobs:",
      {m: R.values_of(P, m) for m in SWEEPS}, "the papers' values:", {m: R.paper_value(P, m) for m in SWEEPS})

# %% [markdown]
# ## Each method on one batch
#
# Before any training: the data each method builds, on a few questions, by the method module's own functions
# (`labkit.methods.finetune_cot`, `scott`, `socratic`, `lion`, `icl`).
#
# **Fine-tune-CoT**: the noisy teacher samples `k_paths` reasoning paths for one question at temperature `T`; the
# paths whose final answer is wrong are dropped. Look at how the kept paths differ (phrasing), and which are dropped.

# %%
ft, rec = lk.methods.finetune_cot, cot.train[0]
paths = ft.reasoning_paths([rec], ft.Settings(teacher=P.noisy, k=P.k_paths, temperature=P.temperature))[0]
print(rec.question, f"(gold: {rec.answer})")
for p in paths:
    print("kept   " if ft.path_is_correct(p, rec) else "dropped", "|", p.replace("\n", " / "))

# %% [markdown]
# **SCOTT**: the consistency filter keeps a rationale only when the answer it states is the gold answer (two kept,
# two dropped). Look at the dropped ones: their target is a rationale ending on one number followed by `Answer:`
# another.

# %%
SC = lk.methods.scott
ok = {True: [], False: []}
for r in cot.train:
    ok[SC.consistent(r.rationales[P.noisy], r)].append(r)
for keep in (True, False):
    for r in ok[keep][:2]:
        print("kept   " if keep else "dropped", "|", SC.target(r.rationales[P.noisy], r).replace("\n", " / "))

# %% [markdown]
# **Socratic CoT**: the clean teacher's reasoning for one question, cut into sub-questions; the decomposer learns
# to ask the next one, the solver to answer it. Look at how each prompt holds the dialogue so far.

# %%
for role in ("decomposer", "solver"):
    prompts_, targets_ = lk.methods.socratic.training_pairs(soc.train[:1], P.clean, role)
    print(f"--- {role}: {len(prompts_)} pairs for one question; the last one:")
    print(prompts_[-1] + " ⟶" + targets_[-1])

# %% [markdown]
# **Lion**: the referee compares a student's answers with the teacher's on a small pool (here the noisy teacher's
# reasoning stands in for the student), and the generator writes new questions like the ones it got wrong. Look at
# how each new question (→) changes the hard question it imitates: the same operations, other numbers and names.

# %%
L, pool = lk.methods.lion, cot.train[:20]
hard = L.hard_questions(pool, [r.rationales[P.noisy] for r in pool], P.clean)
new = L.new_questions(pool, hard, L.Settings(teacher=P.clean, n_new=3, mining="hard"))
print(f"{len(hard)} hard of {len(pool)}:", [pool[i].id for i in hard])
by_id = {r.id: r for r in pool}
for q in new:
    print(by_id[q.meta["similar_to"]].question, "\n  →", q.question)

# %% [markdown]
# **ICL distillation**: one training prompt of Multitask-ICT, `icl_k` solved examples of the same task before the
# query; one of them shows the query's item. Look for it: copying its answer is all the task asks.

# %%
p_, t_ = lk.methods.icl.training_pairs(icl.train[:1], icl.support, lk.methods.icl.Settings(k=P.icl_k, choices=False))
print(p_[0] + " ⟶" + t_[0])

# %% [markdown]
# ## One seed, live
#
# One miniature (`method`), one seed (`seed`), its arms trained here at one value of its regime knob (`knob_*`;
# the paper's value unless set), with the panel above in a live kernel: choose a miniature, its knob, k paths and temperature, the
# SCOTT filter, the number of demonstrations, Lion's new questions, and this cell reruns under the panel. Its
# training loss per step, then its test scores. The sweeps below reuse this run where its settings are theirs.

# %%
def one_run(ns=None):
    knobs = dict(k_paths=k_paths, temperature=temperature, icl_k=icl_k, lion_new=lion_new, scott_filter=scott_filter)
    regime = dict(knob_ftcot_n=knob_ftcot_n, knob_scott_p=knob_scott_p, knob_socratic_steps=knob_socratic_steps,
                  knob_lion_imitation=knob_lion_imitation)
    got = R.one_seed_run(X, XICL, P, method, seed, knobs, regime)
    display(lk.lab.notebook.table([{"arm": r.arm, "seed": r.seed, **r.metrics["test"], "seconds": r.seconds}
                                   for r in got]))
    return got

with timer("one run"):
    from IPython.display import display
    live = one_run() if panel is None else panel.rerun(one_run, store="live")
single = [{"arm": r.arm, "seed": r.seed, **r.metrics["test"], "seconds": r.seconds} for r in live]

# %%
sv.one_seed_figure(live, seed)   # after a change in the panel, run this cell again to redraw

# %% [markdown]
# ## The sweeps: every miniature at every value of its knob, over seeds
#
# One call trains every arm of every swept miniature at every knob value for its seeds (`P.seeds`; at the paper's
# value `P.headline_seeds`), spread over the CPU's cores (`lk.lab.arms.run`); the sections below read the runs.
# Each claim is an effect per seed (better arm − worse arm, paired by seed; positive = the paper's direction) with a
# 95 % Student-t interval, one claim per knob value.

# %%
with timer("sweeps"):
    runs.update(R.run_sweeps(X, {m: ARMS[m] for m in SWEEPS}, P.seeds))
if "icl" in ARMS:
    with timer("icl"):
        runs["icl"] = lk.lab.arms.run(XICL, ARMS["icl"], P.seeds)
claims = R.claims_of(runs, P) + sv.claims_of({m: rs for m, rs in runs.items() if m == "icl"})
solved, where = R.solved_labels(runs), R.where_it_holds([c for c in claims if "miniature" in c])

# %%
def section(name):
    """A miniature's table (arms × knob values: mean and per-seed metrics), the data each arm saw, its effect against
    the knob with 95 % intervals (saved as <name>_regimes.png), then where the paper's effect holds."""
    if name in runs:
        tables[name] = lk.lab.arms.summary(runs[name], ["accuracy", "faithfulness"] if name == "scott" else ["accuracy"])
        tables[f"{name}_data"] = [{"arm": a.label, **(XICL if name == "icl" else X).data(a)[1]} for a in ARMS[name]]
        display(lk.lab.notebook.table(tables[name]))
        fig = R.effects_figure([c for c in claims if c.get("miniature") == name], P, solved)
        if fig is not None:
            figures.append(lk.lab.plots.save(fig, out_dir, f"{name}_regimes.png"))
            lk.lab.plots.show(fig)
        mine = {c["base_id"] for c in claims if c.get("miniature") == name}
        print("\n".join(t for cid, t in where.items() if cid in mine))

# %% [markdown]
# ## §1 Fine-tune-CoT: diverse reasoning (Ho, Schmid & Yun, ACL 2023)
#
# The teacher writes its reasoning for each training question; the student learns question → reasoning and, at
# test time, reasons before it answers (its answer is the one its own reasoning states; no options are shown).
# With *diverse reasoning* the teacher samples **k paths** per question at temperature T > 0 and the paths with a
# wrong final answer are dropped. The teacher here is noisy (`noisy-oracle@p=…`: each path independently gets a
# wrong step and a wrong answer with probability p), and sampling varies how each step is phrased. The two arms
# train for the **same number of steps** (the paper trains equal epochs, so its k-path students get k times the
# updates).
#
# **The knob: the number of training questions** (`ftcot_n_train`). With few questions one path each is little
# data and k paths add variety; with many questions the single paths already vary, and more paths of the same
# questions should matter less. The paper's datasets where diverse reasoning was studied have a few hundred
# training questions (`P.ftcot_paper`: the headline). Look at whether the effect shrinks as the questions grow.

# %%
section("finetune_cot")

# %% [markdown]
# ## §2 SCOTT: consistent rationales, faithful students (Wang et al., ACL 2023)
#
# The student writes a rationale, then `Answer: …`. Trained on **all** the noisy teacher's rationales, some of its
# targets have a rationale that states one answer followed by the gold answer (the table `scott_data` counts them):
# the student could learn that its answer need not follow its reasoning. Keeping only the **consistent** rationales
# (what SCOTT's contrastive decoding aims for) removes those. *Faithfulness* (SCOTT's own metric) = the fraction of
# test questions on which the answer the student gives is the one its own rationale states.
#
# **The knob: the teacher's rate of rationales whose stated answer disagrees with the label** (`scott_noise`, the
# scripted `noisy-oracle@p=rate`). At rate 0 the two arms would train on the same data (nothing to filter); the
# more the teacher disagrees, the more an unfiltered student sees an answer that does not follow its rationale.
# The paper's teacher (a 20B model prompted for rationales) often writes rationales that do not support the gold
# label: `P.scott_paper` is the headline. Look at the faithfulness gap as the rate grows, and at what the filter
# costs in accuracy (it drops that share of the data).

# %%
section("scott")

# %% [markdown]
# ## §3 Socratic CoT: a decomposer and a solver (Shridhar, Stolfo & Sachan, Findings of ACL 2023)
#
# A *decomposer* learns to ask the next sub-question given the problem and the dialogue so far, a *solver* learns
# to answer it; at test time they alternate until the decomposer asks for the answer. The baseline is one student
# trained on the whole chain of thought of the same (clean) teacher. Each of the two Socratic students trains for
# as many steps as the single student (the paper's setting: two models, twice the training compute).
#
# **The knob: the reasoning steps per question** (`socratic_task_steps`). A one-step problem has nothing to
# decompose; the paper's problems (GSM8K) take several steps: the most steps swept (`P.socratic_paper`) is the
# headline. Look at whether the gap to the single student closes or turns as the steps grow, and at how both
# students' accuracy falls.

# %%
section("socratic")

# %% [markdown]
# ## §4 In-context learning distillation: Meta-ICT vs Multitask-ICT (Huang et al., 2022)
#
# A family of lookup tasks (`labkit.lab.survey.lookup_tasks`): each task sorts 16 items into 4 boxes by its own
# secret rule, and only solved examples of the same task, placed before the question, say which rule applies. The
# student answers after k demonstrations, one of which shows the query's item (the simplest in-context skill: find
# the matching example and use its answer). **Meta-ICT** trains in context on many *source* tasks and meets the
# *target* tasks only at test time; **Multitask-ICT** trains in context on the target tasks' own training items;
# **fine-tuning** trains on those items without demonstrations. All are scored on the target tasks' *held-out*
# items, in context (the `n_target_valid` items set aside for choosing settings are never scored here).
#
# The questions go without their options ("Q: Which box does the cup go in?\nA: blue"). At profile **default** this
# section does not run (`methods` leaves it out): on the validation items no from-scratch student learned to *read*
# the demonstrations within the budgets tried (benchmarks/RESULTS.md); they learn to guess among the colours the
# demonstrations show. Finding the matching example is an induction skill that a small student trained from scratch
# does not form in minutes. Run it with `-y "methods: [finetune_cot, scott, socratic, lion, icl]"` or at profile
# paper. It has no regime sweep.

# %%
section("icl")
if "icl" in runs:
    rows = [{"arm": r.arm, "seed": r.seed, "final": {"test": r.metrics["test"]["accuracy"]}} for r in runs["icl"]]
    fig = lk.lab.plots.arms_over_seeds(rows, [a.label for a in ARMS["icl"]], ylabel="test accuracy",
                                       title=f"In-context learning distillation, {P.n_target_tasks} target tasks")
    figures.append(lk.lab.plots.save(fig, out_dir, "icl_accuracy.png"))

# %% [markdown]
# ## §5 Lion: adversarial distillation, mining the hard instructions (Jiang, Chan, Chen & Wang, EMNLP 2023)
#
# Lion's teacher plays three roles. The student first **imitates** the teacher's responses on a pool of questions;
# a **referee** then compares the student's answers with the teacher's on the pool, and the questions where they
# differ are the *hard* ones; a **generator** writes new questions like the hard ones (`labkit.data.similar_question`:
# the same operations, nearby numbers, other names), the teacher answers them, and the student trains on the grown
# pool. The control grows the pool by as many new questions made like pool questions drawn at random: the two arms
# differ only in *which* questions the new ones imitate. Both arms share the imitation student of their seed (one
# job per seed: `SurveyExperiment.run_group`); the teacher is the clean oracle.
#
# **The knob: the imitation steps before the referee's pass** (`lion_imitation`, multiples of `max_steps`), which
# set the share of its pool the student already solves (measured, under each value in the figure). Mining the
# failed questions is a selection only when the failures are a minority of the pool; the paper's student (a
# pretrained 7B model tuned on the teacher's responses) already answers most instructions well, so the longest
# imitation (`P.lion_paper`) is the headline. One student per seed imitates in stages, the referee passing after
# each.

# %%
section("lion")

# %% [markdown]
# ## The survey's methods, measured
#
# Each claim is an effect per seed (better arm − worse arm, paired by seed; positive = the paper's direction) with a
# 95 % Student-t interval; it **holds** when the interval's lower end is above 0 (docs/methods.md §9). Below the
# table: the reading of each claim that does not hold, with the numbers of this run. Then: does every arm learn
# (test accuracy over seeds against its untrained students)?

# %%
data_tables = {m: {r["arm"]: r for r in tables.get(f"{m}_data", [])} for m in runs}
notes = R.notes([c for c in claims if "miniature" in c], runs, data_tables, P, profile)
notes.update(sv.notes([c for c in claims if "miniature" not in c], {"steps": P.max_steps}, profile))
learned = lk.lab.claims.learning_metrics(sv.learning(runs))
display(lk.lab.claims.markdown(claims))
display(lk.lab.notebook.table([{k: r[k] for k in ("arm", "step0", "final", "ci95", "learns")}
                               for r in learned["learning"]]))
print("Where each paper's effect holds:\n" + "\n".join(f"* {v}" for v in where.values()))
print("\n".join(f"* {v}" for v in notes.values()) or "Every claim holds.")
fig = R.effects_figure([c for c in claims if "miniature" in c], P, solved)
if fig is not None:
    figures.append(lk.lab.plots.save(fig, out_dir, "regimes.png"))

# %% [markdown]
# **Reading the claims.** Each miniature's line under "Where each paper's effect holds" says, from this run's
# numbers, at which knob values the effect's interval lies above 0, and where it turns the other way; the shaded
# value in each panel of the figure is the paper's own regime, where the headline claim is. A claim that holds
# nowhere in the swept range is reported as such: the range, the budget and the from-scratch students are this
# lab's, and the readings below the table say, for each claim that does not hold, what the run measured at that
# value. What every miniature also shows is each method's *data* (the `*_data` tables: paths kept, coverage,
# consistent rationales, sub-question pairs, hard questions) and whether each student learns at all.

# %% [markdown]
# ## Try this
#
# 1. **Where diverse reasoning stops.** Add a smaller value to `ftcot_n_train` (e.g. `[50, 100, 300, 1000]`), or
#    set `k_paths = 8`: does the gain at few questions grow, and does it still vanish at the largest?
# 2. **A teacher that always disagrees.** Set `scott_noise = [0.0, 0.3, 0.6, 0.9]`: at 0 the two SCOTT arms train
#    on the same data (the effect is 0 by construction); at 0.9 the filter keeps a tenth of it. Watch faithfulness
#    and accuracy pull apart.
# 3. **Lion's round, bigger.** Move the panel's Lion slider (or set `lion_new`) to the pool's size and rerun "One
#    seed, live" with `method = "lion"` and `knob = 2`: its `hard` count and test accuracy per arm are in the table.
# 4. **In-context learning.** Add `"icl"` to `methods` and raise `icl_k`: look at the one-batch prompt above (more
#    demonstrations, longer prompts) and at whether any arm rises above the guess rate in §4.

# %%
metrics = {
    "claims": claims, "claims_not_holding": notes, **learned, "seeds": P.seeds, "methods": P.methods,
    "where_it_holds": where, "solved_share": solved, "headline_seeds": P.headline_seeds,
    "accuracy": {m: {r["arm"]: r["accuracy"] for r in tables[m]} for m in runs},
    "examples": {m: {r.arm: r.extra.get("example") for r in runs[m] if r.seed == P.seeds[0]} for m in runs},
    "runs": {m: lk.lab.arms.to_json(runs[m]) for m in runs},
    "single_run": single, "n_train": len(cot.train), "n_test": len(cot.test),
    "tables": tables, "figures": figures,
}
print(lk.lab.metrics.write_metrics(out_dir, "05_survey_map", {**P.as_dict(), "profile": profile}, metrics, timer))
