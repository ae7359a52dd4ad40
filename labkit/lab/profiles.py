"""Every notebook's profile table, in one place.

A profile names a scale: "smoke" (tiny models, under a minute, what
tests run), "default" (the CPU miniature), "real" (the papers' data with recorded teachers, CPU), "paper" (the
papers' settings, GPU nodes). Batch runs, parameter checks and notebooks import PROFILES from here; a notebook's
set-up cell resolves its ``Profile`` subclass (below) against its table once. Why each default was chosen, with the
measurements behind it, is in benchmarks/RESULTS.md (the sections named here).
"""

from __future__ import annotations

import dataclasses
import typing
from typing import ClassVar

from labkit.errors import LabkitError

PROFILES = ("smoke", "default", "real", "paper")

# notebook 00: KL mode seeking (all profiles are CPU-sized)
# (scene 5 reads a real teacher's next-token distributions: SmolLM2 and its 4-layer student; tiny models at smoke)
_SIGNALS = dict(
    signal_teacher="smollm2-135m-instruct",
    signal_student="smollm2-135m-instruct@layers=4",
    signal_sequences=4,
    signal_repeats=4,
)
MODESEEK = {
    "smoke": dict(
        max_steps=200,
        n_seeds=3,
        signal_teacher="tiny",
        signal_student="tiny@layers=2",
        signal_sequences=2,
        signal_repeats=2,
    ),
    "default": dict(max_steps=400, n_seeds=5, **_SIGNALS),
    "real": dict(max_steps=400, n_seeds=5, **_SIGNALS),
    "paper": dict(max_steps=1000, n_seeds=10, **{**_SIGNALS, "signal_sequences": 16, "signal_repeats": 16}),
}

# "real" (notebooks 01/02): the papers' own data with their recorded teachers (distilling step-by-step's CQA with
# PaLM-540B; TinyLLM's OBQA with FLAN-T5-xl and LLaMA-2-chat) and a pretrained student, 3 seeds, on the CPU.
# Chosen on validation (benchmarks/real_students.py, CQA training rows 800-899 held out; RESULTS.md "The real
# profile"): the full pretrained model, at the steps and learning rate that fit the CPU notebook budget and lose
# least on validation.
REAL_STUDENT, REAL_STEPS, REAL_LR, REAL_TEST = "smollm2-135m-instruct", 20, 2e-5, 100

# notebook 01: distilling step-by-step (teacher = scripted noisy oracle unless the dataset has recorded rationales).
# smoke/default: a from-scratch tiny student ("scratch@...", labkit.lab.students) on one-step synthetic
# arithmetic; settings chosen on the validation split from learning curves. default: the budget at which every arm,
# the answer-only baselines too, learns on validation, and the best single learning rate over the four arms there
# (benchmarks/RESULTS.md "Notebook 01/02: when do the answer-only arms learn?", "Notebook 01 at 1000 steps"): a
# shorter budget compares step-by-step with baselines still at chance and inflates its lead.
DSS = {
    "smoke": dict(
        dataset="synthetic:arithmetic",
        student="scratch@layers=2,hidden=64",
        teacher="noisy-oracle@p=0.2",
        fractions=[0.5, 1.0],
        n_train=48,
        n_valid=32,
        n_test=32,
        task_steps=1,
        max_steps=12,
        lr=3e-3,
        batch_size=8,
        max_len=160,
        seeds=[0, 1],
        threads=1,
        sweep_fine_tuning=True,
    ),
    "default": dict(
        dataset="synthetic:arithmetic",
        student="scratch@layers=2,hidden=64",
        teacher="noisy-oracle@p=0.2",
        fractions=[0.5, 1.0],
        sweep_fine_tuning=False,
        n_train=1000,
        n_valid=200,
        n_test=200,
        task_steps=1,
        max_steps=1000,
        lr=1e-3,
        batch_size=16,
        max_len=160,
        seeds=[0, 1, 2],
        headline_seeds=[0, 1, 2, 3, 4],  # step-by-step and distillation: the headline claim's two arms
        threads=1,
    ),
    "real": dict(
        dataset="dss:cqa",
        student=REAL_STUDENT,
        teacher="palm-540b",
        fractions=[0.5, 1.0],
        sweep_fine_tuning=False,
        n_train=800,
        n_valid=0,
        n_test=REAL_TEST,
        max_steps=REAL_STEPS,
        lr=REAL_LR,
        batch_size=8,
        max_len=256,
        seeds=[0, 1, 2],
        threads=2,
    ),
    "paper": dict(
        dataset="synthetic:arithmetic",
        student="google-t5/t5-base",
        teacher="noisy-oracle@p=0.2",
        fractions=[0.125, 0.25, 0.5, 0.75, 1.0],
        n_train=2000,
        n_valid=200,
        n_test=200,
        task_steps=3,
        max_steps=10000,
        lr=5e-5,
        batch_size=64,
        max_len=512,
        seeds=[0, 1, 2],
        headline_seeds=[0, 1, 2, 3, 4],
        threads=0,
        sweep_fine_tuning=True,
    ),
}

# notebook 02: TinyLLM, several teachers (smoke/default: scripted teachers with known noise, the tiny
# from-scratch student of notebook 01; "live_teacher" is the embedded model whose teacher-forced vs plain
# CoT rationales are compared on a small sample, n_live questions, 0 = skip). default: the steps that fit the
# notebook's time budget (RESULTS.md "Notebooks 01/02 in float32", "Notebook 02 at 1000 steps, on validation"); the
# α curve is α 0 (label only) and α 1 (the full run) over the seeds (alpha_grid=[1.0] adds no run; [0.1, 3.0] adds
# the curve's ends); threads=2 for the live teacher (students: 1 per worker).
# paper: the recorded FLAN-T5-xl / LLaMA-2 rationales ship only with the TinyLLM data, so that row names its dataset.
TINYLLM = {
    "smoke": dict(
        teachers=["noisy-oracle@p=0.2", "oracle@style=terse"],
        student="scratch@layers=2,hidden=64",
        alpha_grid=[0.1, 3.0],
        alpha_seeds=[0, 1],
        n_train=48,
        n_valid=32,
        n_test=32,
        task_steps=1,
        max_steps=12,
        max_new_tokens=24,
        lr=3e-3,
        batch_size=8,
        max_len=192,
        seeds=[0, 1],
        threads=1,
        live_teacher="tiny",
        n_live=4,
        dataset="synthetic:arithmetic",
    ),
    "default": dict(
        teachers=["noisy-oracle@p=0.2", "oracle@style=terse"],
        student="scratch@layers=2,hidden=64",
        alpha_grid=[1.0],
        alpha_seeds=[0, 1],
        n_train=1000,
        n_valid=200,
        n_test=200,
        task_steps=1,
        max_steps=360,
        max_new_tokens=48,
        lr=3e-3,
        batch_size=16,
        max_len=192,
        seeds=[0, 1, 2],
        headline_seeds=[0, 1, 2, 3, 4],  # TinyLLM (full) and label only: the headline claim's two arms
        threads=2,
        live_teacher="smollm2-135m-instruct",
        n_live=16,
        dataset="synthetic:arithmetic",
    ),
    "real": dict(
        teachers=["flan-t5-xl", "llama2-7b-chat"],
        student=REAL_STUDENT,
        alpha_grid=[1.0],
        alpha_seeds=[0, 1],
        n_train=800,
        n_valid=0,
        n_test=REAL_TEST,
        max_steps=REAL_STEPS,
        max_new_tokens=48,
        lr=REAL_LR,
        batch_size=8,
        max_len=256,
        seeds=[0, 1, 2],
        threads=2,
        live_teacher="smollm2-135m-instruct",
        n_live=16,
        dataset="tinyllm:obqa",
    ),
    "paper": dict(
        teachers=["flan-t5-xl", "llama2-7b-chat"],
        student="google/flan-t5-base",
        alpha_grid=[0.01, 0.1, 0.5, 1.0, 2.0, 3.0],
        alpha_seeds=[0, 1, 2],
        n_train=100000,
        n_valid=1000,
        n_test=100000,
        max_steps=2000,
        max_new_tokens=128,
        lr=5e-5,
        batch_size=16,
        max_len=1024,
        seeds=[0, 1, 2],
        headline_seeds=[0, 1, 2, 3, 4],
        threads=0,
        live_teacher="",
        n_live=0,
        dataset="tinyllm:obqa",
    ),
}

# notebooks 03/04: white-box KD, every arm continuing from the same SFT-initialised student, over `seeds` in parallel
# (labkit.lab.arms). "default": the known teacher (kit="known", labkit.lab.known_kit: K noisy templates per prompt
# whose probabilities are exact, built in seconds, nothing cached; modes/decay/eta/sum_steps shape it); steps, batch
# and learning rate chosen on the validation prompts (benchmarks/known_whitebox_validation.py, RESULTS.md "Notebooks
# 03/04 on the known teacher"). "smoke": a tiny trained task teacher and student (labkit.lab.task_teacher, cached;
# kit = its recipe; kit="default" is the larger one that earlier default runs used). "paper": MiniLLM's GPT-2 setting
# (GPT-2 XL teacher, GPT-2 student, Dolly instructions) for GPU nodes (kit="").
WHITEBOX = {
    "smoke": dict(
        kit="smoke",
        teacher="",
        student="",
        dataset="synthetic:arithmetic",
        seeds=[0, 1],
        methods=["sft", "kd", "seqkd", "minillm"],
        n_train=0,
        n_eval=0,
        max_steps=6,
        batch_size=8,
        max_new_tokens=24,
        lr=3e-3,
        bf16=False,
        max_len=160,
        lmbdas=[0.0, 1.0],
        betas=[0.0, 1.0],
        modes=3,  # known teacher (kit="known"): templates per prompt, weights decay**k, noise η, additions
        decay=0.6,
        eta=0.05,
        sum_steps=1,
    ),
    "default": dict(
        kit="known",
        teacher="",
        student="",
        dataset="synthetic:arithmetic",
        seeds=[0, 1, 2, 3, 4],
        methods=["sft", "kd", "seqkd", "minillm"],
        n_train=0,
        n_eval=0,
        max_steps=250,
        batch_size=8,
        max_new_tokens=48,
        lr=2e-3,
        bf16=False,
        max_len=192,
        lmbdas=[0.0, 1.0],
        betas=[0.0, 0.5, 1.0],
        modes=3,  # known teacher (kit="known"): templates per prompt, weights decay**k, noise η, additions
        decay=0.6,
        eta=0.05,
        sum_steps=1,
    ),
    "paper": dict(
        kit="",
        teacher="openai-community/gpt2-xl",
        student="openai-community/gpt2",
        dataset="databricks/databricks-dolly-15k",
        seeds=[10, 20, 30, 40, 50],
        methods=["sft", "kd", "seqkd", "minillm"],
        n_train=14000,
        n_eval=500,
        max_steps=5000,
        batch_size=16,
        max_new_tokens=256,
        lr=5e-6,
        bf16="auto",
        max_len=512,
        lmbdas=[0.0, 0.5, 1.0],
        betas=[0.0, 0.5, 0.9, 1.0],
        modes=3,  # known teacher (kit="known"): templates per prompt, weights decay**k, noise η, additions
        decay=0.6,
        eta=0.05,
        sum_steps=1,
    ),
}
# notebook 06: cross-tokenizer KD. smoke/default: the number-tokenizer miniature of labkit.lab.xtok (a teacher
# whose tokenizer keeps numbers whole, one whose tokenizer splits digits, a digit student; settings chosen on the
# validation split over (steps, lr, batch, ce_weight): benchmarks/xtok_validation.py, RESULTS.md); paper: the
# embedded Gemma-3-270m (262k vocabulary) as the cross-tokenizer teacher of a SmolLM2 student,
# SmolLM2-135M-Instruct as its same-tokenizer teacher (GPU).
_XTOK_ARMS = ["sft", "uld", "hybrid", "same-tok KD"]
XTOK = {
    "smoke": {
        "kit": "smoke",
        "cross_teacher": "",
        "same_teacher": "",
        "student": "",
        "arms": _XTOK_ARMS,
        "seeds": [0, 1, 2],
        "max_steps": 4,
        "lr": 3e-3,
        "batch_size": 8,
        "n_train": 0,
        "n_eval": 0,
        "n_texts": 8,
        "max_new_tokens": 24,
    },
    "default": {
        "kit": "default",
        "cross_teacher": "",
        "same_teacher": "",
        "student": "",
        "arms": _XTOK_ARMS,
        "seeds": [0, 1, 2],
        "max_steps": 300,
        "lr": 3e-3,
        "batch_size": 16,
        "n_train": 0,
        "n_eval": 0,
        "n_texts": 100,
        "max_new_tokens": 48,
        "headline_seeds": [0, 1, 2, 3, 4],  # ULD and the hybrid: the headline claim's two arms
    },
    "paper": {
        "kit": "none",
        "cross_teacher": "gemma3-270m",
        "same_teacher": "smollm2-135m-instruct",
        "student": "smollm2-135m-instruct@layers=8",
        "arms": _XTOK_ARMS,
        "seeds": [0, 1, 2],
        "max_steps": 1000,
        "lr": 5e-5,
        "batch_size": 16,
        "n_train": 2000,
        "n_eval": 500,
        "n_texts": 1000,
        "max_new_tokens": 128,
    },
}

# notebook 05: the survey's miniatures (labkit.lab.survey): from-scratch tiny students on prompt -> target pairs that
# labkit.methods.{finetune_cot,scott,socratic,icl} build from scripted teachers; float32 (bf16 autocast is slower
# for models this small on the CPU). default: the steps chosen on the validation split (held-out "valid" questions;
# n_target_valid items per ICL target task, never scored by the notebook) with benchmarks/survey_budget.py, within
# the notebook's time budget (RESULTS.md "Notebook 05 (survey miniatures)"); the ICL miniature is left out of default
# (methods=[..., "icl"] runs it): no arm learned to use the demonstrations on validation at the budgets that fit, and
# its long in-context prompts make it the costliest miniature (RESULTS.md "Notebook 05: the ICL miniature on
# validation, and Lion").
# Regime sweeps (labkit.lab.survey_regimes): each miniature's knob values (ftcot_n_train, scott_noise,
# socratic_task_steps, lion_imitation) and the value its paper's setting corresponds to (*_paper: the headline claim,
# over headline_seeds), written down before the test numbers; the values, steps, batch and learning rate that fit
# every sweep in the notebook's budget chosen on validation with benchmarks/survey_regimes.py (RESULTS.md "Notebook
# 05: regime sweeps").
# "paper": a larger scratch student and budget; the papers' own models (GPT-3 teachers, T5/GPT-2 students) are
# not run by this notebook.
_SURVEY_METHODS = ["finetune_cot", "scott", "socratic", "lion", "icl"]
SURVEY = {
    "smoke": {
        "student": "scratch@layers=1,hidden=32",
        "methods": _SURVEY_METHODS,
        "seeds": [0, 1, 2],
        "dataset": "synthetic:arithmetic",
        "task_steps": 1,
        "socratic_steps": 2,
        "noisy": "noisy-oracle@p=0.3",
        "clean": "oracle",
        "n_train": 32,
        "n_test": 12,
        "max_steps": 4,
        "lr": 3e-3,
        "batch_size": 8,
        "max_len": 256,
        "k_paths": 4,
        "temperature": 1.0,
        "icl_k": 4,
        "icl_epochs": 1,
        "n_source_tasks": 2,
        "n_target_tasks": 1,
        "n_target_train": 6,
        "n_target_valid": 4,
        "threads": 1,
        "lion_pool": 16,
        "lion_new": 8,
        "lion_steps": 2,
        "ftcot_n_train": [16, 32],
        "ftcot_paper": 16,
        "scott_noise": [0.15, 0.3],
        "scott_paper": 0.3,
        "socratic_task_steps": [1, 2],
        "socratic_paper": 2,
        "lion_imitation": [0.5, 1.0],
        "lion_paper": 1.0,
        "headline_seeds": [0, 1, 2],
    },
    "default": {
        "student": "scratch@layers=2,hidden=64",
        "methods": _SURVEY_METHODS[:4],
        "seeds": [0, 1, 2],
        "dataset": "synthetic:arithmetic",
        "task_steps": 1,
        "socratic_steps": 2,
        "noisy": "noisy-oracle@p=0.3",
        "clean": "oracle",
        "n_train": 1000,
        "n_test": 150,
        "max_steps": 170,
        "lr": 5e-3,
        "batch_size": 16,
        "max_len": 256,
        "k_paths": 4,
        "temperature": 1.0,
        "icl_k": 4,
        "icl_epochs": 4,
        "n_source_tasks": 24,
        "n_target_tasks": 4,
        "n_target_train": 6,
        "n_target_valid": 4,
        "threads": 1,
        "lion_pool": 500,
        "lion_new": 250,
        "lion_steps": 40,
        "ftcot_n_train": [100, 300, 1000],
        "ftcot_paper": 300,
        "scott_noise": [0.15, 0.3, 0.45],
        "scott_paper": 0.3,
        "socratic_task_steps": [1, 2, 3],
        "socratic_paper": 3,
        "lion_imitation": [0.5, 1.0, 2.0],
        "lion_paper": 2.0,
        "headline_seeds": [0, 1, 2, 3, 4],
    },
    "paper": {
        "student": "scratch@layers=4,hidden=256,vocab=1024",
        "methods": _SURVEY_METHODS,
        "seeds": [0, 1, 2],
        "dataset": "synthetic:arithmetic",
        "task_steps": 2,
        "socratic_steps": 3,
        "noisy": "noisy-oracle@p=0.3",
        "clean": "oracle",
        "n_train": 2000,
        "n_test": 200,
        "max_steps": 3000,
        "lr": 1e-3,
        "batch_size": 32,
        "max_len": 384,
        "k_paths": 8,
        "temperature": 1.0,
        "icl_k": 4,
        "icl_epochs": 8,
        "n_source_tasks": 64,
        "n_target_tasks": 8,
        "n_target_train": 6,
        "n_target_valid": 4,
        "threads": 0,
        "lion_pool": 1000,
        "lion_new": 500,
        "lion_steps": 1000,
        "ftcot_n_train": [200, 700, 2000],
        "ftcot_paper": 700,
        "scott_noise": [0.0, 0.15, 0.3, 0.45],
        "scott_paper": 0.3,
        "socratic_task_steps": [1, 2, 3, 4],
        "socratic_paper": 4,
        "lion_imitation": [0.25, 0.5, 1.0, 2.0],
        "lion_paper": 2.0,
        "headline_seeds": [0, 1, 2, 3, 4],
    },
}

# notebook 07: on-policy distillation vs RL vs SFT on the compute ledger (labkit.lab.onpolicy). smoke/default: the
# known-teacher miniature (one-step sums a + b, several correct styles per prompt; teacher_accuracies sweeps a weaker
# teacher whose extra template slips at the end); settings chosen on the validation prompts (benchmarks/RESULTS.md,
# "Notebook 07"). paper: a Llama-3 pair on grade-school math word problems (SVAMP, GSM8K-style) for GPU nodes.
ONPOLICY = {
    "smoke": dict(
        kit="known",
        n_train=24,
        n_eval=8,
        max_operand=9,
        init_steps=60,
        seeds=[0, 1],
        sweep_seeds=[0, 1],
        teacher_accuracies=[1.0, 0.4],
        max_steps=4,
        batch_size=4,
        lr=5e-4,
        group_size=2,
        teacher_scale=4.0,
        eval_every=2,
        eval_samples=2,
        max_new_tokens=24,
    ),
    "default": dict(
        kit="known",
        n_train=72,
        n_eval=14,
        max_operand=9,
        eta=0.01,
        init_steps=700,
        seeds=[0, 1, 2, 3, 4],
        sweep_seeds=[0, 1, 2],
        teacher_accuracies=[1.0, 0.4],
        max_steps=200,
        batch_size=8,
        lr=1e-3,
        group_size=4,
        teacher_scale=4.0,
        eval_every=10,
        eval_samples=8,
        max_new_tokens=32,
    ),
    "paper": dict(
        kit="none",
        teacher="meta-llama/Llama-3.1-8B-Instruct",
        student="meta-llama/Llama-3.2-1B-Instruct",
        dataset="dss:svamp",
        n_train=700,
        n_eval=100,
        seeds=[0, 1, 2, 3, 4],
        sweep_seeds=[0, 1, 2],
        teacher_accuracies=[1.0],
        max_steps=500,
        batch_size=32,
        lr=1e-6,
        group_size=8,
        teacher_scale=8.0,
        eval_every=50,
        eval_samples=4,
        max_new_tokens=256,
    ),
}

# the methods notebook 03 compares (notebook 04 adds "gkd")
WHITEBOX_METHODS = ("sft", "kd", "seqkd", "minillm")

# profile table of each notebook, keyed by its file name (without .ipynb)
BY_NOTEBOOK = {
    "00_kl_mode_seeking": MODESEEK,
    "01_distilling_step_by_step": DSS,
    "02_tinyllm_multi_teacher": TINYLLM,
    "03_minillm_reverse_kl": WHITEBOX,
    "04_gkd_on_policy": WHITEBOX,
    "05_survey_map": SURVEY,
    "06_cross_tokenizer": XTOK,
    "07_on_policy_distillation": ONPOLICY,
}


# Dry run of the paper profile (`labkit reproduce|batch --profile paper --dry-run`, $LABKIT_DRY_RUN): the paper
# row runs as it is (same models by family, labkit.tiny.stand_in; same data, batch and sequence settings) with
# these caps, so every cell of a notebook runs in seconds. Numbers are upper bounds (a smaller value is kept);
# seed lists (seeds, headline_seeds, ...) keep their first DRY_RUN_SEEDS entries (two: a claim needs two seeds for an
# interval).
DRY_RUN_STEPS = 2
DRY_RUN_CAPS = {
    "max_steps": DRY_RUN_STEPS,
    "n_train": 16,
    "n_valid": 8,
    "n_test": 8,
    "n_eval": 8,
    "n_texts": 8,
    "n_seeds": 2,
    "max_new_tokens": 16,
    "signal_sequences": 2,
    "signal_repeats": 2,
    "n_live": 2,
    "lion_pool": 16,
    "lion_new": 8,
    "lion_steps": DRY_RUN_STEPS,
    "n_source_tasks": 4,
    "n_target_tasks": 2,
    "icl_epochs": 2,
}
DRY_RUN_SEEDS = 2


def dry_run_caps(values: dict) -> dict:
    """``values`` with DRY_RUN_CAPS applied (numbers capped, seed lists cut to DRY_RUN_SEEDS)."""
    out = dict(values)
    for name, value in values.items():
        if name in DRY_RUN_CAPS and isinstance(value, int) and not isinstance(value, bool):
            out[name] = min(value, DRY_RUN_CAPS[name]) if value > 0 else DRY_RUN_CAPS[name]
        elif name in ("seeds", "alpha_seeds", "headline_seeds", "sweep_seeds") and isinstance(value, list) and value:
            out[name] = value[:DRY_RUN_SEEDS]
    return out


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise LabkitError(f"parameter profile={profile!r}: expected one of {', '.join(PROFILES)}")
    return profile


def resolve(profile: str, table: dict, **given) -> dict:
    """Fill parameters left empty (None, 0, "", [], {}) from the profile's row of ``table``.

    Args:
        profile: one of PROFILES.
        table: {profile: {name: value}}, e.g. DSS.
        given: the notebook's current values (a non-empty value wins over the table).
    Returns:
        {name: value} for every name in given and every name in table[profile]; in a dry run
        ($LABKIT_DRY_RUN, profile "paper" only) with DRY_RUN_CAPS applied (2 optimiser steps, a few examples).
    """
    check_profile(profile)
    if profile not in table:
        raise LabkitError(
            f"parameter profile={profile!r}: this notebook has no {profile!r} settings yet; "
            f"expected one of {', '.join(table)}"
        )
    out = dict(table[profile])
    for name, value in given.items():
        if value is None or (not isinstance(value, bool) and value in (0, "", [], {})):
            out.setdefault(name, value)
        else:
            out[name] = value
    if profile == "paper":
        from labkit import tiny  # lazy: tiny imports torch; batch drivers import this module for PROFILES

        if tiny.dry_run():
            out = dry_run_caps(out)
    return out


# --------------------------------------------------------------------------- one typed, frozen profile per notebook


def choices(*allowed, doc: str = ""):
    """A Profile field's metadata: the values it accepts (checked by Profile.check)."""
    return {"choices": tuple(allowed), "doc": doc}


@dataclasses.dataclass(frozen=True)
class Profile:
    """A notebook's settings, resolved once: the profile's row of ``TABLE`` overridden by the notebook's
    non-empty parameters, every field checked (type, and ``choices`` where a field's metadata lists them,
    then the subclass's ``check``), frozen so nothing changes them behind the reader's back.

        @dataclasses.dataclass(frozen=True)
        class MiniLLMProfile(Profile):
            TABLE: ClassVar[dict] = WHITEBOX
            max_steps: int = 0
            ...
        P = MiniLLMProfile.resolve(profile, max_steps=max_steps, ...)   # the set-up cell is this one call

    Errors name the parameter, its value and what was expected.
    """

    TABLE: ClassVar[dict] = {}
    profile: str = "default"

    @classmethod
    def resolve(cls, profile: str, **given):
        """The profile's row of ``cls.TABLE`` with `given` (non-empty values win), checked; names that are
        neither fields of the class nor in the table are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(given) - names)
        if unknown:
            raise LabkitError(f"{cls.__name__}: unknown parameter(s) {unknown}; expected some of {sorted(names)}")
        row = resolve(profile, cls.TABLE, **given)
        obj = cls(**{"profile": profile, **{k: v for k, v in row.items() if k in names}})
        obj._check_types()
        obj.check()
        return obj

    def _check_types(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value, want = getattr(self, f.name), hints.get(f.name)
            allowed = f.metadata.get("choices")
            if allowed is not None:
                items = value if isinstance(value, (list, tuple)) else [value]
                bad = [v for v in items if v not in allowed]
                if bad or (isinstance(value, (list, tuple)) and not value):
                    raise LabkitError(
                        f"parameter {f.name}={value!r}: expected "
                        f"{'a non-empty list from ' if isinstance(value, (list, tuple)) else 'one of '}"
                        f"{', '.join(map(str, allowed))}"
                    )
            if not _is_a(value, want):
                raise LabkitError(f"parameter {f.name}={value!r}: expected {_type_name(want)}")

    def check(self) -> None:
        """Checks beyond types and choices (ranges, consistency); a subclass raises LabkitError naming the field."""

    def fail(self, name: str, expected: str):
        raise LabkitError(f"parameter {name}={getattr(self, name)!r}: expected {expected}")

    def replace(self, **changes):
        """A copy with `changes` (e.g. the panel's current values), checked like ``resolve``."""
        obj = dataclasses.replace(self, **changes)
        obj._check_types()
        obj.check()
        return obj

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class TrainingProfile(Profile):
    """The fields of every notebook that trains students over seeds, checked here once: the seeds of its
    comparison (distinct integers), the seeds of its headline claim's arms where a notebook runs those over more
    seeds (empty: the same seeds), the seed of its one-seed live run, the budget, the device."""

    seeds: list = dataclasses.field(default_factory=list)
    headline_seeds: list = dataclasses.field(default_factory=list)
    seed: int = 0
    max_steps: int = 0
    lr: float = 0.0
    batch_size: int = 0
    device: str = "auto"

    @property
    def head_seeds(self) -> tuple:
        """The seeds of the headline claim's arms: headline_seeds, else seeds."""
        return tuple(self.headline_seeds or self.seeds)

    def check(self) -> None:
        for name in ("seeds", "headline_seeds"):
            got = getattr(self, name)
            if (
                (not got and name == "seeds")
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in got)
                or len(set(got)) != len(got)
                or len(got) == 1
                and name == "headline_seeds"
            ):
                self.fail(
                    name,
                    "a non-empty list of distinct integers, e.g. [0, 1, 2]"
                    if name == "seeds"
                    else "empty, or a list of at least 2 distinct integers, e.g. [0, 1, 2, 3, 4]",
                )
        if self.max_steps < 1:
            self.fail("max_steps", "an integer >= 1")
        if self.batch_size < 1:
            self.fail("batch_size", "an integer >= 1")
        if not self.lr > 0:
            self.fail("lr", "a learning rate > 0")
        if self.device.split(":", 1)[0] not in ("auto", "cpu", "cuda", "mps"):
            self.fail("device", "auto, cpu, cuda, cuda:N or mps")


def _is_a(value, want) -> bool:
    if want is None or want is typing.Any:
        return True
    origin = typing.get_origin(want)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return any(_is_a(value, w) for w in typing.get_args(want))
    if want is type(None):
        return value is None
    base = origin or want
    if base is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base in (list, tuple):
        return isinstance(value, (list, tuple))
    return isinstance(value, base) if isinstance(base, type) else True


def _type_name(want) -> str:
    return getattr(want, "__name__", str(want))
