"""Build notebooks 00, 01 and 02 from the cell lists below (committed without outputs).

    .venv/bin/python tools/build_notebooks.py            # writes notebooks/0[012]_*.ipynb

Editing the .ipynb in JupyterLab is fine too; this script is the readable source of truth
for the parameters cells and glue code, and keeps the three notebooks' shape identical.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def md(text: str):
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str, tags=()):
    cell = nbformat.v4.new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


# --------------------------------------------------------------------------- 00

NB00 = [
    md(r"""
# 00 · Forward KL, reverse KL and JSD(β): mode covering vs mode seeking

A student with too little capacity cannot copy a teacher with several modes. *Which* compromise it makes
depends on the divergence it minimises (METHODS.md §1, §7):

* **forward KL** $\mathrm{KL}(p\|q)=\sum_y p(y)\log\frac{p(y)}{q(y)}$ — infinite penalty where $p>0$ but $q\approx0$: the
  student **covers** every mode and smears mass over the gaps between them ("void regions").
* **reverse KL** $\mathrm{KL}(q\|p)=\sum_y q(y)\log\frac{q(y)}{p(y)}$ — infinite penalty where $q>0$ but $p\approx0$: the
  student **seeks** one mode and ignores the others (MiniLLM's argument for generative LMs).
* **generalised JSD** with $M=\beta p+(1-\beta)q$: $\mathrm{JSD}_\beta=\beta\,\mathrm{KL}(p\|M)+(1-\beta)\,\mathrm{KL}(q\|M)$;
  lab convention (TRL, Liger): $\beta=0$ is forward KL, $\beta=1$ is reverse KL, exact at the endpoints.

Three scenes, all computed exactly: (1) one Gaussian fitted to two Gaussians, (2) one next-token distribution,
(3) whole sequences of a small teacher LM whose sequence distribution we can enumerate.
"""),
    code("""
import labkit as lk
from tqdm.auto import tqdm
"""),
    code("""
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
""", tags=["parameters"]),
    code("""
lk.notebook.check_parameters(profile=profile, seed=seed, interactive=interactive, device=device,
                             beta=beta, weight=weight, noise=noise)
DEFAULTS = {"smoke": {"max_steps": 200}, "default": {"max_steps": 400}, "paper": {"max_steps": 1000}}
max_steps = lk.notebook.profile_values(profile, DEFAULTS, max_steps=max_steps)["max_steps"]
DIVERGENCES = {"forward_kl": ("forward_kl", 0.0), "reverse_kl": ("reverse_kl", 1.0), f"jsd β={beta:g}": ("jsd", beta)}
timer, figures, tables = lk.notebook.Timer(), [], {}
ms = lk.modeseek
"""),
    code("""
if lk.notebook.show_widgets(interactive):   # sliders write back to separation, weight, beta, degree, student_order
    from IPython.display import display
    panel = lk.widgets.mode_seeking_live(globals())
    display(panel.widget)   # scene 1 redraws live; re-run the cells below for scenes 2 and 3
"""),
    md(r"""
## Scene 1 · one Gaussian for two modes

Teacher $p(x)=w\,\mathcal N(-d/2,1)+(1-w)\,\mathcal N(d/2,1)$, student $q=\mathcal N(\mu,\sigma^2)$. Integrals become sums on a
grid of 3001 points in $[-15,15]$. Forward KL has a closed-form optimum, **moment matching**:
$\mu^*=\mathbb E_p[x]$, $\sigma^{*2}=\mathrm{Var}_p[x]$ — a Gaussian between the modes. Reverse KL has one local optimum per mode;
we start LBFGS from several points and keep the best.
"""),
    code("""
x = ms.grid()
mixture = ms.two_modes(separation, weight)
p_x = ms.mixture_pdf(x, *mixture)
with timer("scene1"):
    fits = {label: ms.fit_gaussian(x, p_x, kind, b) for label, (kind, b) in DIVERGENCES.items()}
    beta_path = [dict(zip(("beta", "mu", "sigma", "divergence"), (b, *ms.fit_gaussian(x, p_x, "jsd", b))))
                 for b in tqdm([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0], desc="β path")]
closed_form = ms.moment_matched(*mixture)
print("forward KL fit", fits["forward_kl"][:2], "closed form (moment matching)", closed_form)
figures.append(lk.plots.save(lk.plots.gaussian_fits(x, p_x, {k: v[:2] for k, v in fits.items()}), out_dir, "gaussian_fits.png"))
"""),
    code("""
fig = lk.plots.sweep([{**r, "what": "μ"} for r in beta_path] + [{**r, "mu": r["sigma"], "what": "σ"} for r in beta_path],
                     x="beta", y="mu", hue="what", percent=False, ylabel="fitted value",
                     title="JSD(β) fit moves from covering (β=0) to seeking (β=1)")
figures.append(lk.plots.save(fig, out_dir, "gaussian_beta_path.png"))
tables["gaussian"] = [{"divergence": k, "mu": v[0], "sigma": v[1], "divergence_value": v[2]} for k, v in fits.items()]
tables["gaussian_beta_path"] = beta_path
"""),
    md(r"""
## Scene 2 · one next-token distribution

The teacher's next-token distribution over $V=40$ tokens has three modes. The student's logits are a polynomial
of degree `degree` in the token id, $z_v=\sum_{k=1}^{d}\theta_k u_v^k$: with $d=2$ it is a discretised Gaussian and can hold
only one mode. Each student is trained with `labkit.losses.divergence(student_logits, teacher_logits, kind=..., beta=...)`.
**Void mass** $=\sum_{v:\,p(v)<\varepsilon} q(v)$; a teacher mode is **covered** when $q(v)\ge 0.1\,p(v)$ at its peak.
"""),
    code("""
p_tok = ms.multimodal_next_token()
peaks = ms.local_modes(p_tok)
with timer("scene2"):
    next_token = {label: ms.fit_next_token(p_tok, kind, b, degree=degree, steps=max_steps, seed=seed)[0]
                  for label, (kind, b) in tqdm(DIVERGENCES.items(), desc="next-token students")}
tables["next_token"] = [{"divergence": k, **ms.summary(q, p_tok, peaks, eps)} for k, q in next_token.items()]
figures.append(lk.plots.save(lk.plots.next_token_fits(p_tok, next_token, eps), out_dir, "next_token_fits.png"))
tables["next_token"]
"""),
    md(r"""
## Scene 3 · whole sequences from a small teacher LM

Vocabulary $\{a,b,c,d,e\}$, length 5, so $5^5=3125$ sequences — few enough to enumerate. The teacher is a
full-context autoregressive LM with three modes `abcba`, `dbcbd`, `ebcbe` (weights 0.45/0.35/0.2) and per-token noise η.
The modes share the middle `bcb`: a student that only sees the previous `student_order` tokens cannot remember
which last token belongs to the first one. The student is an n-gram LM $q(y_t\mid y_{t-k..t-1}, t)$.

Because the sequences can be enumerated, the sequence-level divergence is exact: $\log q(Y)$ and $\log p(Y)$ over all
3125 sequences are passed to `labkit.losses.divergence` as if the sequences were a vocabulary, and autograd gives the
exact gradient — for reverse KL this equals the expected policy gradient
$\nabla\mathrm{KL}(q\|p)=\mathbb E_{y\sim q}\big[(\log q(y)-\log p(y))\,\nabla\log q(y)\big]$ that MiniLLM estimates by sampling (notebook 03).
"""),
    code("""
teacher = ms.default_teacher(noise)
p_seq, modes = teacher.log_probs(), teacher.mode_indices()
with timer("scene3"):
    students = {label: ms.train_sequence_student(teacher, kind, b, order=student_order, steps=max_steps, seed=seed)
                for label, (kind, b) in tqdm(DIVERGENCES.items(), desc="sequence students")}
q_seq = {label: s[1] for label, s in students.items()}
tables["sequences"] = [{"divergence": k, **ms.summary(q, p_seq, modes, eps)} for k, q in q_seq.items()]
labels = ms.sequence_labels(teacher.vocab, teacher.length)
fig = lk.plots.sequence_fits(p_seq, q_seq, modes, top=30, eps=eps, labels=labels,
                             title=f"Sequences: teacher vs Markov-order-{student_order} students (exact)")
figures.append(lk.plots.save(fig, out_dir, "sequence_fits.png"))
tables["sequences"]
"""),
    code("""
curves = {label: s[2] for label, s in students.items()}
figures.append(lk.plots.save(lk.plots.loss_curves(curves, title="sequence-level training loss (exact)", log=True),
                             out_dir, "sequence_losses.png"))
print(f"student parameters: {students['forward_kl'][0].n_parameters()}  teacher outcomes: {len(p_seq)}")
"""),
    md(r"""
**Reading the numbers.** The forward-KL student covers every mode but puts mass on mixed sequences such as `abcbd`
that the teacher never produces (void mass). The reverse-KL student picks one mode: almost no void mass, fewer
modes covered. JSD(β) sits in between and moves towards reverse KL as β → 1.
"""),
    code("""
by = lambda rows: {r["divergence"].split(" ")[0]: r for r in rows}
metrics = {
    "gaussian": {r["divergence"]: r for r in tables["gaussian"]},
    "gaussian_closed_form": {"mu": closed_form[0], "sigma": closed_form[1]},
    "next_token": by(tables["next_token"]),
    "sequences": by(tables["sequences"]),
    "tables": tables, "figures": figures,
}
params = dict(profile=profile, seed=seed, separation=separation, weight=weight, beta=beta, degree=degree,
              student_order=student_order, noise=noise, eps=eps, max_steps=max_steps)
print(lk.notebook.write_metrics(out_dir, "00_kl_mode_seeking", params, metrics, timer))
"""),
]

# --------------------------------------------------------------------------- 01

NB01 = [
    md(r"""
# 01 · Distilling step-by-step (Hsieh et al., 2023)

Black-box distillation: only the teacher's **text** is used. For each training question the teacher gives a
rationale $r$ and a label $\hat y$. The student learns two tasks with prefixes, `[answer] x → y` and
`[rationale:<teacher>] x → r`:

$$\mathcal L=\mathcal L_{\text{label}}+\lambda\,\mathcal L_{\text{rationale}}$$

(the paper's code writes $\alpha\mathcal L_{\text{label}}+(1-\alpha)\mathcal L_{\text{rationale}}$ with α = 0.5, the same as λ = 1 up to scale).
At test time only `[answer]` runs — no rationale is needed at inference. Three students, same budget:

| method | answer target | rationale task |
|---|---|---|
| standard fine-tuning | gold label | – |
| standard distillation | teacher label $\hat y$ | – |
| distilling step-by-step | teacher label $\hat y$ | teacher rationale, weight λ |

The paper's headline is the **data-size sweep**: with rationales the student needs a fraction of the data.
Default data: a synthetic arithmetic task with a scripted teacher that makes mistakes (`noisy-oracle`, wrong on
about 20 % of questions), so the student can beat its teacher. With `dataset="dss:svamp"` (or `dss:cqa`) and
`data_dir`, the real PaLM-540B rationales are used.
"""),
    code("""
import labkit as lk
from tqdm.auto import tqdm
"""),
    code("""
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
""", tags=["parameters"]),
    code("""
DEFAULTS = {
    "smoke": dict(student="tiny@layers=2", teacher="noisy-oracle@p=0.2", fractions=[0.5, 1.0], n_train=48, n_test=32,
                  max_steps=12, lr=1e-3, batch_size=8, max_len=160, threads=1),
    "default": dict(student="smollm2-135m-instruct@layers=4", teacher="noisy-oracle@p=0.2,style=terse",
                    fractions=[0.25, 0.5, 1.0], n_train=48, n_test=32, max_steps=12, lr=3e-4, batch_size=4, max_len=192),
    "paper": dict(student="google-t5/t5-base", teacher="noisy-oracle@p=0.2", fractions=[0.125, 0.25, 0.5, 0.75, 1.0],
                  n_train=2000, n_test=200, max_steps=10000, lr=5e-5, batch_size=64, max_len=512),
}
P = lk.notebook.profile_values(profile, DEFAULTS, student=student, teacher=teacher, fractions=fractions,
                               n_train=n_train, n_test=n_test, max_steps=max_steps, threads=threads)
lk.notebook.set_threads(P["threads"])
if dataset.startswith("dss:") and not teacher:
    P["teacher"] = "palm-540b"   # the paper's recorded rationales
lk.notebook.check_parameters(profile=profile, seed=seed, interactive=interactive, device=device, dataset=dataset,
                             teacher=P["teacher"], lam=lam, fractions=P["fractions"], n_train=P["n_train"],
                             max_steps=P["max_steps"])
student, teacher, fractions, n_train, n_test, max_steps = (P[k] for k in
                                                           ("student", "teacher", "fractions", "n_train", "n_test", "max_steps"))
timer, figures, tables = lk.notebook.Timer(), [], {}
"""),
    code("""
if lk.notebook.show_widgets(interactive):   # λ, data fractions, dataset, n_train write back to the same names
    from IPython.display import display
    panel = lk.widgets.dss_panel(globals())
    display(panel.widget)
"""),
    md(r"""
## Data and teacher

Training questions get a rationale and a label from the teacher (scripted teachers write them from the task's gold
solution, with deliberate mistakes; recorded teachers read them from the dataset files). The teacher's label accuracy
is the line the students try to beat.
"""),
    code("""
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
"""),
    md(r"""
## The data-size sweep

Each method trains a fresh student for the same number of steps on the first `fraction × n_train` questions,
then answers the test questions with the `[answer]` prefix only (option scoring for multiple choice,
value match for SVAMP).
"""),
    code("""
METHODS = {"fine-tuning": ({"answer": 1.0}, "gold"),
           "distillation": ({"answer": 1.0}, teacher),
           "step-by-step": ({"answer": 1.0, f"rationale:{teacher}": lam}, teacher)}
config = lk.train.TrainConfig(lr=P["lr"], steps=max_steps, batch_size=P["batch_size"], max_len=P["max_len"],
                              seed=seed, device=device, progress=False)
rows = []
with timer("sweep"):
    for fraction, method in tqdm([(f, m) for f in fractions for m in METHODS], desc="students"):
        subset = train_records[: max(1, round(fraction * len(train_records)))]
        tasks, labels = METHODS[method]
        rows.append({"fraction": fraction, "method": method, **lk.notebook.train_student(
            student, subset, test_records, tasks=tasks, label_source=labels, config=config, device=device)})
tables["data_size"] = rows
rows
"""),
    code("""
fig = lk.plots.sweep(rows, x="fraction", y="accuracy", hue="method", logx=True, xlabel="fraction of training data",
                     title=f"{dataset}: accuracy vs training-set size\\n{student}, {len(test_records)} test questions",
                     hlines={f"teacher {teacher}": teacher_accuracy, **lk.notebook.chance_line(test_records)})
figures.append(lk.plots.save(fig, out_dir, "data_size_sweep.png"))
"""),
    md(r"""
**What to look for.** In the paper (T5 students, PaLM-540B teacher) step-by-step at 12.5 % of the data matches
standard fine-tuning at 100 %. Here, with a few optimiser steps on CPU, the gaps are small and noisy; at
`profile="paper"` on a GPU node the same cells run the paper's setting.
"""),
    code("""
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
print(lk.notebook.write_metrics(out_dir, "01_distilling_step_by_step", params, metrics, timer))
"""),
]

# --------------------------------------------------------------------------- 02

NB02 = [
    md(r"""
# 02 · TinyLLM: many teachers, teacher-forced rationales (Tian et al., 2024)

* **Teacher-forced chain of thought**: the teacher sees the question $Q$, the options $O$ *and the gold answer* $A$ and is
  asked to explain it ("Let's think step by step"). Knowing the answer makes rationales more accurate than plain CoT.
* **In-context example generator**: $k$ (default 2) solved examples from the same dataset are prepended to the prompt.
* **Several teachers** $T_1..T_M$, each giving a rationale $R_i^m=T_m(Q_i,O_i,A_i,P_i)$; the student learns the answer and
  every teacher's rationale, each with its own task prefix:

$$\mathcal L=\mathcal L_A+\sum_{m=1}^{M}\alpha_m\,\mathcal L_{T_m},\qquad
\mathcal L_A=\mathrm{CE}(S(Q,O,p_A),A),\quad \mathcal L_{T_m}=\mathrm{CE}(S(Q,O,p_m),R^m).$$

The paper searches $\alpha\in\{0.01,0.1,0.5,1,2,3\}$; the best value differs by dataset. Ablations: w/o in-context
examples, w/o each teacher. Teachers here: **live** (embedded models generate, cached), **recorded** (FLAN-T5-xl and
LLaMA-2-chat rationales from the TinyLLM files), **scripted** (written from a synthetic task's gold solution).
"""),
    code("""
import labkit as lk
from tqdm.auto import tqdm
"""),
    code("""
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
""", tags=["parameters"]),
    code("""
DEFAULTS = {
    "smoke": dict(teachers=["oracle", "tiny"], student="tiny@layers=2", alpha_grid=[0.1, 3.0], n_train=32, n_test=32,
                  max_steps=10, max_new_tokens=24, lr=1e-3, batch_size=8, max_len=192, threads=1),
    "default": dict(teachers=["smollm2-135m-instruct", "noisy-oracle@p=0.3,style=terse"], alpha_grid=[0.1, 3.0],
                    student="smollm2-135m-instruct@layers=4", n_train=32, n_test=32, max_steps=10, max_new_tokens=48,
                    lr=3e-4, batch_size=4, max_len=256),
    "paper": dict(teachers=["flan-t5-xl", "llama2-7b-chat"], student="google/flan-t5-base",
                  alpha_grid=[0.01, 0.1, 0.5, 1.0, 2.0, 3.0], n_train=100000, n_test=100000, max_steps=2000,
                  max_new_tokens=128, lr=5e-5, batch_size=16, max_len=1024),
}
P = lk.notebook.profile_values(profile, DEFAULTS, teachers=teachers, student=student, alpha_grid=alpha_grid,
                               n_train=n_train, n_test=n_test, max_steps=max_steps, max_new_tokens=max_new_tokens,
                               threads=threads)
lk.notebook.check_parameters(profile=profile, seed=seed, interactive=interactive, device=device, dataset=dataset,
                             teachers=P["teachers"], alphas=alphas, alpha_grid=P["alpha_grid"], max_steps=P["max_steps"],
                             in_context=in_context, template=template)
lk.notebook.set_threads(P["threads"])
teachers, student, alpha_grid = P["teachers"], P["student"], P["alpha_grid"]
timer, figures, tables = lk.notebook.Timer(), [], {}
"""),
    code("""
if lk.notebook.show_widgets(interactive):   # teachers, one α slider per teacher, k, template -> same names
    from IPython.display import display
    panel = lk.widgets.tinyllm_panel(globals())
    display(panel.widget)   # then re-run the cells below
"""),
    code("""
alpha_of = alphas if isinstance(alphas, dict) else {t: float(alphas) for t in teachers}
lk.notebook.check_parameters(teachers=teachers, alphas=alpha_of)
config = lk.train.TrainConfig(lr=P["lr"], steps=P["max_steps"], batch_size=P["batch_size"], max_len=P["max_len"],
                              seed=seed, device=device, progress=False)
kw = dict(data_dir=data_dir or None, seed=seed)
train_records = lk.data.load_dataset(dataset, "train", n=P["n_train"], **kw)
test_records = lk.data.load_dataset(dataset, "test", n=P["n_test"], **kw)
print(f"{dataset}: {len(train_records)} train / {len(test_records)} test; teachers {alpha_of}; student {student}")
"""),
    md(r"""
## Teacher prompts, side by side

Plain CoT asks for reasoning toward an unknown answer; teacher-forced CoT states the gold answer and asks why.
Live teachers see the prompt below (chat-formatted for instruct models); scripted and recorded teachers ignore it.
"""),
    code("""
example = train_records[0]
shots = lk.prompts.in_context_examples(train_records, example, k=in_context, seed=seed)
print(lk.notebook.side_by_side({name: lk.prompts.render_teacher_prompt(example, name, shots)
                                for name in ("cot", "teacher_forced")}, max_lines=30))
"""),
    code("""
def with_rationales(records, k):
    result = lk.rationales.generate_rationales(teachers, records, template=template, k=k, seed=seed, device=device,
                                               max_new_tokens=P["max_new_tokens"], progress=True)
    return result.attach(records), result.stats

with timer("rationales"):
    train_k, stats = with_rationales(train_records, in_context)
    train_0, _ = (train_k, None) if in_context == 0 else with_rationales(train_records, 0)
print(lk.notebook.side_by_side({t: train_k[0].rationales.get(t, "(none)") for t in teachers}, max_lines=12))
teacher_rows = [{k: v for k, v in lk.rationales.consistency(train_k, t).items() if k != "kept_ids"} for t in teachers]
tables["teachers"] = teacher_rows
teacher_rows
"""),
    md(r"""
## The student, the ablations and α

Every variant trains a fresh student with the same budget and is scored on the test questions with the
`[answer]` prefix only.
"""),
    code("""
def run(label, records, alpha_by_teacher):
    tasks = {"answer": 1.0, **{f"rationale:{t}": a for t, a in alpha_by_teacher.items()}}
    return {"variant": label, "teachers": list(alpha_by_teacher), **lk.notebook.train_student(
        student, records, test_records, tasks=tasks, config=config, device=device)}

variants = [("TinyLLM (full)", train_k, alpha_of), ("w/o in-context", train_0, alpha_of)]
variants += [(f"w/o {t}", train_k, {u: a for u, a in alpha_of.items() if u != t}) for t in teachers if len(teachers) > 1]
variants += [("label only (fine-tuning)", train_k, {})]
with timer("ablations"):
    ablation_rows = [run(*v) for v in tqdm(variants, desc="variants")]
tables["ablations"] = ablation_rows
[(r["variant"], round(r["accuracy"], 3)) for r in ablation_rows]
"""),
    code("""
uniform = len(set(alpha_of.values())) == 1
sensitivity = [{"alpha": next(iter(alpha_of.values())), "accuracy": ablation_rows[0]["accuracy"], "dataset": dataset}] if uniform else []
with timer("alpha_sweep"):
    for a in tqdm([a for a in alpha_grid if not (uniform and a == next(iter(alpha_of.values())))], desc="α"):
        sensitivity.append({"alpha": a, "dataset": dataset, **run(f"α={a:g}", train_k, {t: a for t in teachers})})
tables["alpha_sensitivity"] = sorted(sensitivity, key=lambda r: r["alpha"])
label_only = ablation_rows[-1]["accuracy"]
fig = lk.plots.sweep(tables["alpha_sensitivity"], x="alpha", y="accuracy", hue="dataset", logx=True, xlabel="α (all teachers)",
                     title=f"TinyLLM accuracy vs α\\n{student}, {len(test_records)} test questions",
                     hlines={"label only": label_only, **lk.notebook.chance_line(test_records)})
figures.append(lk.plots.save(fig, out_dir, "alpha_sensitivity.png"))
chance = lk.notebook.chance_line(test_records)
fig = lk.plots.bars(ablation_rows, "variant", "accuracy", title=f"{dataset}: ablations\\n{student}, {len(test_records)} test questions",
                    hline=next(iter(chance.values()), None), hline_label=next(iter(chance), ""))
figures.append(lk.plots.save(fig, out_dir, "ablations.png"))
"""),
    code("""
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
print(lk.notebook.write_metrics(out_dir, "02_tinyllm_multi_teacher", params, metrics, timer))
"""),
]


NOTEBOOKS = {"00_kl_mode_seeking.ipynb": NB00, "01_distilling_step_by_step.ipynb": NB01,
             "02_tinyllm_multi_teacher.ipynb": NB02}


def build(name: str, cells) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path = ROOT / "notebooks" / name
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


def main(argv=None) -> int:
    wanted = (argv or sys.argv[1:]) or list(NOTEBOOKS)
    for name in NOTEBOOKS:
        if any(w in name for w in wanted):
            print("wrote", build(name, NOTEBOOKS[name]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
