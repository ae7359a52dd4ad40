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
# Below: the map (each box says where the lab runs the method), then five miniatures of methods notebooks 01–04
# do not cover (four at profile default: the ICL one is left out, §4 says why), each over seeds with its claim
# measured. Every student is a small transformer trained from scratch
# on the CPU; the teachers are scripted (they write the gold reasoning, with known noise), so the effects below are
# what the *method* does to the data, at a scale the papers never ran.

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
n_train: int = 0  # training questions of the reasoning miniatures; 0 means the profile's
threads: int = 0  # torch CPU threads of this process; 0 means the profile's

# %%
P = lk.lab.profiles.resolve(profile, lk.lab.profiles.SURVEY, seeds=seeds, k_paths=k_paths, temperature=temperature,
                            icl_k=icl_k, lion_new=lion_new, max_steps=max_steps, n_train=n_train, threads=threads,
                            methods=methods)
lk.lab.notebook.set_threads(P["threads"])
seeds = lk.lab.students.check_seeds(P["seeds"])
unknown = sorted(set(P["methods"]) - set(lk.lab.survey.METHODS))
assert not unknown, f"parameter methods: unknown {unknown}; expected some of {', '.join(lk.lab.survey.METHODS)}"
config = dict(lr=P["lr"], steps=P["max_steps"], batch_size=P["batch_size"], max_len=P["max_len"], bf16=False)
sv, timer, figures, tables, rows, step0 = lk.lab.survey, lk.lab.metrics.Timer(), [], {}, {}, {}

# %%
if lk.lab.notebook.show_widgets(interactive):   # writes method and its knob back (k_paths, temperature, ...)
    from IPython.display import display
    panel = lk.lab.widgets.survey_panel(globals())
    display(panel.widget)   # then run "One seed, your settings" at the end
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
# Fine-tune-CoT and SCOTT share one task, one-step `synthetic:arithmetic` ("Kim has 20 pens. Kim gives 9 away. How
# many pens does Kim have now?"), asked without options: the student must *write* its reasoning and the number.
# Socratic CoT needs several steps, so it gets two-step questions. Lion's pool is the first `lion_pool` of the
# one-step questions. The ICL miniature has its own family of lookup tasks (§4). Each setup's tokenizer (byte-level BPE, 512 entries) is trained on every prompt and target its
# students will see; every student is a fresh 2-layer, 64-wide transformer.

# %%
with timer("data"):
    kw = dict(n_train=P["n_train"], n_test=P["n_test"], teachers=[P["noisy"], P["clean"]], dataset=P["dataset"])
    cot, soc = sv.cot_setup(task_steps=P["task_steps"], **kw), sv.cot_setup(task_steps=P["socratic_steps"], **kw)
    icl = sv.icl_setup(n_source=P["n_source_tasks"], n_target=P["n_target_tasks"], n_target_train=P["n_target_train"],
                       n_target_valid=P["n_target_valid"])   # the valid items chose the settings; never scored here
    SETUPS = {"finetune_cot": cot, "scott": cot, "socratic": soc, "lion": cot, "icl": icl}
    LION = dict(n_pool=P["lion_pool"], n_new=P["lion_new"], steps=P["lion_steps"])
    ARMS = {m: sv.arms_for(m, SETUPS[m], noisy=P["noisy"], clean=P["clean"], k_paths=P["k_paths"], temperature=P["temperature"],
                           icl_k=P["icl_k"], epochs=P["icl_epochs"], lion_settings=LION) for m in P["methods"]}
    for setup in {id(SETUPS[m]): SETUPS[m] for m in ARMS}.values():
        sv.prepare(setup, [ARMS[m] for m in ARMS if SETUPS[m] is setup], student=P["student"])
print(f"{len(cot.train)} train / {len(cot.test)} test questions ({P['dataset']}); ICL: {P['n_source_tasks']} source "
      f"tasks, {P['n_target_tasks']} target tasks with {P['n_target_train']} of 16 items for training, "
      f"{P['n_target_valid']} for validation, the other {16 - P['n_target_train'] - P['n_target_valid']} for test")
print(cot.train[0].question, cot.train[0].rationales[P["noisy"]], sep="\n")

# %% [markdown]
# ## §1 Fine-tune-CoT: diverse reasoning (Ho, Schmid & Yun, ACL 2023)
#
# The teacher writes its reasoning for each training question; the student learns question → reasoning and, at
# test time, reasons before it answers (its answer is the one its own reasoning states; no options are shown).
# With *diverse reasoning* the teacher samples **k paths** per question at temperature T > 0 and the paths with a
# wrong final answer are dropped (`labkit.methods.finetune_cot`). The teacher here is noisy (`noisy-oracle@p=0.3`:
# each path independently gets a wrong step and a wrong answer with probability 0.3), and sampling varies how each
# step is phrased. The two arms train for the **same number of steps** (the paper trains equal epochs, so its k-path
# students get k times the updates).

# %%
def miniature(name):
    """Train every arm of one miniature over the seeds (both cores), score its untrained students (step 0, first
    seed); keep its rows and the data stats."""
    if name in ARMS:
        with timer(name):
            rows[name] = sv.run(SETUPS[name], ARMS[name], seeds, student=P["student"], config=config)
            step0[name] = sv.untrained(SETUPS[name], ARMS[name], seeds[:1], P["student"])
        tables[name] = sv.summary(rows[name], ("accuracy", "faithfulness") if name == "scott" else ("accuracy",))
        tables[f"{name}_data"] = [{"arm": a, **arm.get("stats", {})} for a, arm in ARMS[name].items()]
        return lk.lab.notebook.table(tables[name])

miniature("finetune_cot")

# %%
def arms_figure(name, metric="accuracy", **kw):
    """Per-seed dots, mean and 95 % interval of each arm of a miniature; saved as <name>.png."""
    if name in rows:
        runs = [dict(r, final={"test": r[metric]}) for r in rows[name]]
        fig = lk.lab.plots.arms_over_seeds(runs, list(ARMS[name]), ylabel=f"test {metric}", **kw)
        figures.append(lk.lab.plots.save(fig, out_dir, f"{name}_{metric}.png"))

arms_figure("finetune_cot", title=f"Fine-tune-CoT on {P['dataset']} ({P['task_steps']}-step questions): k paths vs one, {len(seeds)} seeds")

# %% [markdown]
# ## §2 SCOTT: consistent rationales, faithful students (Wang et al., ACL 2023)
#
# The student writes a rationale, then `Answer: …`. Trained on **all** the noisy teacher's rationales, about 30 % of
# its targets have a rationale that states one answer followed by the gold answer: the student learns that its
# answer need not follow its reasoning. Keeping only the **consistent** rationales (what SCOTT's contrastive
# decoding aims for; `labkit.methods.scott`) removes those. *Faithfulness* = the fraction of test questions on which
# the answer the student gives is the one its own rationale states.

# %%
miniature("scott")

# %%
arms_figure("scott", "faithfulness", title="SCOTT: does the student's answer follow its own rationale?")
arms_figure("scott", "accuracy", title="SCOTT: test accuracy of the same students")

# %% [markdown]
# ## §3 Socratic CoT: a decomposer and a solver (Shridhar, Stolfo & Sachan, Findings of ACL 2023)
#
# The teacher's reasoning is cut into sub-questions and their answers (`labkit.methods.socratic.decompose`). A
# *decomposer* learns to ask the next sub-question given the problem and the dialogue so far, a *solver* learns to
# answer it; at test time they alternate until the decomposer asks for the answer. The baseline is one student
# trained on the whole chain of thought of the same (clean) teacher. Each of the two Socratic students trains for
# as many steps as the single student (the paper's setting: two models, twice the training compute).

# %%
miniature("socratic")

# %%
arms_figure("socratic", title="Socratic CoT vs one chain-of-thought student")

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
# The questions go without their options ("Q: Which box does the cup go in?\nA: blue"; 80 tokens for k = 4
# instead of 215). At profile **default** this section does not run (`methods` leaves it out): on validation no
# from-scratch student learned to *read* the demonstrations, not at 600 steps, nor at 4,000 steps on 512 source tasks
# with 19-token prompts; they learn to guess among the colours the demonstrations show (about 0.5). Finding the
# matching example is an induction skill that a 2-layer student does not form in minutes (and SmolLM2-135M-Instruct,
# untrained on the format, scores only 0.26 on these prompts; benchmarks/RESULTS.md, issue 14). Run it with `-y "methods: [finetune_cot, scott, socratic, lion, icl]"`
# (≈ 70 s more at 300 steps) or at profile paper.

# %%
miniature("icl")

# %%
arms_figure("icl", title=f"In-context learning distillation on held-out items of {P['n_target_tasks']} target tasks")

# %% [markdown]
# ## §5 Lion: adversarial distillation, mining the hard instructions (Jiang, Chan, Chen & Wang, EMNLP 2023)
#
# Lion's teacher plays three roles (`labkit.methods.lion`). The student first **imitates** the teacher's responses
# on a pool of questions; a **referee** then compares the student's answers with the teacher's on the pool, and the
# questions where they differ are the *hard* ones; a **generator** writes new questions like the hard ones
# (`labkit.data.similar_question`: the same operations, nearby numbers, other names), the teacher answers them, and
# the student trains on the grown pool. The control grows the pool by as many new questions made like pool
# questions drawn at random: the two arms differ only in *which* questions the new ones imitate. Both arms share the
# imitation student of their seed; the teacher is the clean oracle.

# %%
miniature("lion")
if "lion" in rows:
    hard = {r["seed"]: r["hard"] for r in rows["lion"]}
    print(f"hard questions (the student disagrees with the teacher) after imitation, per seed: {hard} of "
          f"{P['lion_pool']}; {P['lion_new']} new questions per arm, then {P['lion_steps']} steps on the grown pool")

# %%
arms_figure("lion", title=f"Lion: new questions like the failed ones vs like random ones ({len(seeds)} seeds)")

# %% [markdown]
# ## The survey's methods, measured
#
# Each claim is an effect per seed (better arm − worse arm, paired by seed; positive = the paper's direction) with a
# 95 % Student-t interval; it **holds** when the interval's lower end is above 0 (docs/methods.md §9).

# %%
claims = sv.claims_of(rows)
tables["claims"] = lk.lab.students.claim_table(claims)
lk.lab.notebook.table(tables["claims"])

# %% [markdown]
# **Reading the claims** (profile default, 250 steps, seeds 0-2, 2026-12-06; benchmarks/RESULTS.md, issue 14). Every
# student learned (untrained students state the right number on 0 % of the questions; trained, 5-39 %), but **none
# of the five claims holds** at this scale, and one goes the other way:
#
# * **Fine-tune-CoT, k = 4 paths vs one**: −0.05 [−0.23, +0.12] (0.26 vs 0.31). k paths do give more data (about
#   2800 kept paths on 990 questions vs about 720 on 720), but at *equal steps* each path is seen a quarter as often
#   and a 250-step student is still early in training; the paper trains equal epochs, k times the updates. On
#   validation the gap was the same way (0.27 vs 0.45 at 300 steps).
# * **SCOTT, faithfulness**: +0.02 [−0.05, +0.08]. Both students already answer what their own rationale says (94 %
#   and 96 %): a 2-layer student copies the number its rationale ends on, so the 28 % inconsistent targets do not
#   teach it to contradict itself. The faithfulness problem SCOTT fixes belongs to larger students that can answer
#   without reading their rationale. **Accuracy**: −0.06 [−0.15, +0.02]: the filter also drops 28 % of the data.
# * **Socratic CoT vs one CoT student**: −0.08 [−0.15, −0.01], the single student ahead in all 3 seeds (0.13 vs
#   0.05): the opposite of the paper, outside the noise. Each Socratic student has 3 pairs per question to learn in
#   the same 250 steps, and at test time a wrong sub-question or a wrong partial result in any round ends wrong; on
#   validation the pair did not improve from 150 to 300 steps (0.06, 0.05).
# * **Lion, new questions like the failed ones vs like random ones**: −0.03 [−0.17, +0.12] (0.37 vs 0.39; on
#   validation +0.02). After imitation the student still disagrees with the teacher on about 340 of its 500 pool
#   questions: "like the failed ones" is then much like "like any", and the referee has little to select. Lion's
#   hard set is the small part of the pool that a strong student (LLaMA-7B after imitation) still fails.
# * **ICL** (§4) did not run: on validation no arm learned to use demonstrations within the budget.
#
# What the miniatures do show is each method's *data* (the tables above: paths kept, coverage, consistent
# rationales, sub-question pairs), and that the papers' effects need more than a 3-minute CPU budget: try
# `max_steps` and `n_train` larger, or profile paper.

# %% [markdown]
# ## One seed, your settings
#
# With the panel above (a live kernel), choose a miniature and its knob (k paths and temperature, the SCOTT
# filter, the number of demonstrations, Lion's new questions); this cell trains its arm(s) for one seed and shows the result under the
# panel and here. Headless it runs once with `method`.

# %%
def one_run(ns=None):
    setup = SETUPS[method]
    arms = sv.arms_for(method, setup, noisy=P["noisy"], clean=P["clean"], k_paths=k_paths or P["k_paths"],
                       temperature=temperature or P["temperature"], icl_k=icl_k or P["icl_k"], epochs=P["icl_epochs"],
                       lion_settings=dict(LION, n_new=lion_new or P["lion_new"]))
    if method == "scott":
        arms = {a: v for a, v in arms.items() if (a == "consistent only") == scott_filter}
    got = sv.run(setup, arms, [seed], student=P["student"], config=config)   # trains a tokenizer if none yet
    out = [{k: v for k, v in r.items() if k not in ("example", "final_loss")} for r in got]
    display(lk.lab.notebook.table(out))
    return out

with timer("one run"):
    from IPython.display import display
    single = one_run() if panel is None else panel.rerun(one_run, store="single")

# %%
metrics = {
    "claims": claims, "claims_not_holding": sv.notes(claims), "learning": sv.learning(rows, step0), "seeds": seeds,
    "methods": P["methods"],
    "accuracy": {m: {r["arm"]: r["accuracy"] for r in tables[m]} for m in rows},
    "examples": {m: {r["arm"]: r.get("example") for r in rows[m] if r["seed"] == seeds[0]} for m in rows},
    "single_run": single, "n_train": len(cot.train), "n_test": len(cot.test),
    "tables": tables, "figures": figures,
}
params = dict(profile=profile, seeds=seeds, methods=P["methods"], student=P["student"], dataset=P["dataset"],
              task_steps=P["task_steps"], k_paths=P["k_paths"], temperature=P["temperature"], icl_k=P["icl_k"],
              lion_pool=P["lion_pool"], lion_new=P["lion_new"], lion_steps=P["lion_steps"],
              max_steps=P["max_steps"], lr=P["lr"], batch_size=P["batch_size"], n_train=P["n_train"])
print(lk.lab.metrics.write_metrics(out_dir, "05_survey_map", params, metrics, timer))
