"""A known-teacher kit for notebooks 03/04: the teacher's sequence distribution is defined exactly.

    kit = known_kit("known", modes=3, decay=0.6, eta=0.05, sum_steps=1)   # seconds, nothing cached
    kit.teacher            # labkit.known.KnownTeacher: K noisy templates per prompt, exact log-probs for any prefix
    kit.student_init       # a tiny transformer, too small to copy every template, briefly SFT-ed on teacher samples
    kit.splits["test"]     # Records: "Q: 3 + 4 = ?\\nA:" -> solution = the heaviest template
    kit.data               # training rollouts drawn from the teacher (ids, never re-tokenised): SFT's and KD's data

The same shape as ``task_teacher.TaskKit``, so ``whitebox.Experiment`` trains every arm unchanged; what differs is
what can be measured (``known_metrics``): void mass, modes covered, Monte Carlo forward and reverse KL with their
standard errors, exposure bias, all exact given the samples (labkit.known).

Why the student starts from a short SFT on teacher samples: the papers SFT-initialise their students, and a random
student's samples are all void (every template is many substitutions away), where nothing separates the arms.
"""

from __future__ import annotations

import copy
import time

import torch

from labkit import data, evaluate, tiny
from labkit import known as KN
from labkit import sequences as S
from labkit.lab.task_teacher import TaskKit, prompt_of
from labkit.loop import TrainConfig
from labkit.methods import sft

MAX_NOISE = 2  # a response is in the void beyond this many substituted tokens off every template (known.void_threshold)

# Kit recipes (the teacher's modes, weights and noise come from the profile: modes, decay, eta, sum_steps).
RECIPES = {
    "known": dict(
        n_train=64,
        n_valid=32,
        n_test=32,
        samples_per_prompt=8,  # teacher samples per training prompt: the fixed data of SFT and word-level KD
        max_operand=19,
        vocab=320,
        student_layers=2,
        student_hidden=64,
        init_steps=500,
        init_lr=3e-3,
        batch_size=16,
        eval_samples=8,  # student samples per scored prompt
        seed=0,
    ),
}


def task_text(task: dict) -> list[str]:
    """Every prompt + response text of the task: the tokenizer's corpus."""
    return [p + r for p, rs in task.items() for _, r in rs]


def records_of(task: dict, prompts: list[str]) -> list[data.Record]:
    """Records whose prompt_of() is the task's prompt; solution = the heaviest template, answer = the sum."""
    out = []
    for i, p in enumerate(prompts):
        question = p[len("Q: ") : -len("\nA:")]
        heaviest = max(task[p], key=lambda wr: wr[0])[1]
        answer = str(sum(int(x) for x in question.split(" = ")[0].split(" + ")))
        out.append(data.Record(f"known-{i}", question, answer, solution=heaviest.strip()))
    return out


def teacher_samples(teacher, tok, records, n: int, *, max_new_tokens: int, seed: int) -> list[dict]:
    """n teacher samples per record's prompt, as rollouts (token ids)."""
    ids = [S.prompt_ids(tok, prompt_of(r)) for r in records]
    ps, ys = KN.sample(
        teacher, ids, n, max_new_tokens=max_new_tokens, eos_id=tok.eos_token_id, pad=S.pad_id(tok), seed=seed
    )
    return [{"prompt": p, "response": y} for p, y in zip(ps, ys)]


def known_kit(
    recipe: dict | str = "known",
    *,
    modes: int = 3,
    decay: float = 0.6,
    eta: float = 0.05,
    sum_steps: int = 1,
    max_new_tokens: int = 32,
    threads: int = 2,
) -> TaskKit:
    """Build the kit (deterministic given its arguments): tokenizer trained on the task text, KnownTeacher over
    ``known.arithmetic_task`` (modes templates per prompt, weights decay**k, per-token noise eta, sum_steps
    additions), train/valid/test prompt splits (disjoint), the training data (teacher samples), the student init."""
    R = dict(RECIPES[recipe] if isinstance(recipe, str) else recipe)
    t0 = time.perf_counter()
    n = R["n_train"] + R["n_valid"] + R["n_test"]
    task = KN.arithmetic_task(
        n, n_modes=modes, decay=decay, steps=sum_steps, max_operand=R["max_operand"], seed=R["seed"]
    )
    tok = tiny.train_tokenizer(task_text(task), vocab_size=R["vocab"])
    teacher = KN.KnownTeacher.from_templates(tok, task, eta=eta)
    prompts = list(task)
    cut = [0, R["n_train"], R["n_train"] + R["n_valid"], n]
    splits = {s: records_of(task, prompts[a:b]) for s, a, b in zip(("train", "valid", "test"), cut, cut[1:])}
    rollouts = teacher_samples(
        teacher, tok, splits["train"], R["samples_per_prompt"], max_new_tokens=max_new_tokens, seed=R["seed"] + 101
    )
    student = tiny.tiny_causal_lm(tok, n_layers=R["student_layers"], hidden=R["student_hidden"], seed=R["seed"] + 1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        cfg = TrainConfig(
            steps=R["init_steps"],
            batch_size=R["batch_size"],
            lr=R["init_lr"],
            seed=R["seed"],
            device="cpu",
            bf16=False,
            max_len=192,
            progress=False,
            warmup=0.05,
        )
        if R["init_steps"] > 0:
            sft.train(student, tok, config=cfg, rollouts=rollouts)
    finally:
        torch.set_num_threads(before)
    student.eval()
    recipe_out = {**R, "kit": "known", "modes": modes, "decay": decay, "eta": eta, "sum_steps": sum_steps}
    kit = TaskKit(tok, teacher, student, splits, recipe_out, {}, None)
    kit.data = rollouts
    kit.task = task
    kit.manifest = {
        "build_seconds": round(time.perf_counter() - t0, 1),
        "vocab": len(tok),
        "student_params": sum(p.numel() for p in student.parameters()),
        **{
            f"teacher_{k}_{split}": v
            for split in ("valid", "test")
            for k, v in teacher_reference(kit, split, max_new_tokens=max_new_tokens).items()
        },
    }
    return kit


def is_known(kit) -> bool:
    """True when the kit's teacher is a known teacher (its exact measurements apply)."""
    return isinstance(getattr(kit, "teacher", None), KN.KnownTeacher)


def fresh_student(kit):
    return copy.deepcopy(kit.student_init).train()


# --------------------------------------------------------------------------- exact measurements


def _ids(kit, records) -> list[list[int]]:
    return [S.prompt_ids(kit.tokenizer, prompt_of(r)) for r in records]


def teacher_reference(kit, split: str, *, max_new_tokens: int, seed: int = 0) -> dict:
    """The teacher's own void mass and modes covered on a split (what a perfect student would score)."""
    ids, n = _ids(kit, kit.splits[split]), kit.recipe["eval_samples"]
    eos = kit.tokenizer.eos_token_id
    ps, ys = KN.sample(kit.teacher, ids, n, max_new_tokens=max_new_tokens, eos_id=eos, seed=seed)
    void, _ = KN.void_mass(kit.teacher, ps, ys, MAX_NOISE)
    return {"void_mass": void, "modes_covered": KN.modes_covered(kit.teacher, ps, ys, MAX_NOISE)["mean"]}


def known_metrics(model, kit, records, *, max_new_tokens: int, seed: int = 0, n: int | None = None) -> dict:
    """Exact measurements of `model` against the kit's known teacher on `records`' prompts, n samples each, all
    through labkit.known (seeds fixed so the same student samples serve void mass, modes and reverse KL):

    void_mass (share of samples in the void, + _se), modes_covered (mean distinct templates per prompt),
    modes_share (/ K), reverse_kl / forward_kl (sequence level, Monte Carlo, + _se), own_prefix_jsd /
    teacher_prefix_jsd / exposure_gap (per-token JSD_0.5 on the student's own samples vs the teacher's, + _se),
    teacher_loglik (exact teacher log-prob per token of the student's samples), distinct_2 and gen_words of the
    samples; "labelled": the first four prompts' samples with the template each follows (None: void).
    """
    T, tok = kit.teacher, kit.tokenizer
    ids, n = _ids(kit, records), n or kit.recipe["eval_samples"]
    eos, pad = tok.eos_token_id, S.pad_id(tok)
    ps, ys = KN.sample(model, ids, n, max_new_tokens=max_new_tokens, eos_id=eos, pad=pad, seed=seed)
    c = KN.classify(T, ps, ys, MAX_NOISE)
    void = KN.mean_se(c["void"].double())
    cov = KN.modes_covered(T, ps, ys, MAX_NOISE)
    mc = dict(n=n, max_new_tokens=max_new_tokens, pad=pad)
    rkl = KN.kl_monte_carlo(T, model, ids, direction="reverse", seed=seed, **mc)
    fkl = KN.kl_monte_carlo(T, model, ids, direction="forward", seed=seed + 1, **mc)
    eb = KN.exposure_bias(T, model, ids, kind="jsd", seed=seed, **mc)
    tokens = sum(map(len, ys))
    texts = [tok.decode(y, skip_special_tokens=True) for y in ys]
    labelled = [
        {"prompt": int(i), "text": t, "template": k}
        for i, t, k in list(zip(c["prompt"], texts, c["template"]))[: 4 * n]
    ]
    return {
        "void_mass": void[0],
        "void_mass_se": void[1],
        "modes_covered": cov["mean"],
        "modes_share": cov["share"],
        "reverse_kl": rkl[0],
        "reverse_kl_se": rkl[1],
        "forward_kl": fkl[0],
        "forward_kl_se": fkl[1],
        "own_prefix_jsd": eb["student_prefixes"][0],
        "own_prefix_jsd_se": eb["student_prefixes"][1],
        "teacher_prefix_jsd": eb["teacher_prefixes"][0],
        "exposure_gap": eb["gap"][0],
        "exposure_gap_se": eb["gap"][1],
        "teacher_loglik": float(c["logp"].sum()) / max(tokens, 1),
        "distinct_2": evaluate.distinct_n(texts, 2),
        "gen_words": sum(len(t.split()) for t in texts) / max(len(texts), 1),
        "labelled": labelled,
    }
