"""Notebook 06 glue (cross-tokenizer KD): alignment counts and viewer, the number-tokenizer miniature, arms, claims.

Two parts:

* **Looking at the alignment.** ``position_kinds`` labels every token of both tokenizations of a text as
  "exact" (a 1:1 chunk: the same string on both sides, compared by identity), "merged" (in a chunk the
  sides cut differently, but the token's string exists in the other vocabulary too) or "unmatched" (in
  such a chunk and spelled nowhere in the other vocabulary — X-Token's "unmatched set", where GOLD falls
  back to ULD — or a special token with no text). ``alignment_counts`` sums them over texts (every
  token counted once: exact + merged + unmatched = tokens, per side); ``alignment_figure`` and
  ``alignment_html`` draw one text's two tokenizations on a common byte axis, chunks coloured by kind.
* **The number-tokenizer miniature** (``xtok_kit``): the arithmetic word problems of labkit.data, two
  byte-level BPE tokenizers trained on them by labkit.tiny — "whole" keeps every number of the task as one
  token (" 19" -> "Ġ19"), "digits" cuts digits apart (" 19" -> "Ġ", "1", "9") — a task teacher on each, and
  an SFT-initialised student on "digits". Students continue from that init with SFT, ULD and the hybrid
  from the "whole" teacher (cross-tokenizer: every number is a merged chunk) and with same-tokenizer KD
  from the "digits" teacher (labkit.methods.xtok's hybrid with one tokenizer, which is plain JSD_β).
  Built once per recipe, cached under ``$LABKIT_HOME/xtok_kits/<recipe-hash>/``.
"""

from __future__ import annotations

import copy
import html
import json
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch

from labkit import alignment, data, methods, tiny
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.lab import arms as _arms
from labkit.lab import claims as _claims
from labkit.lab import papers
from labkit.lab.arms import INIT, Arm, Run
from labkit.lab.profiles import XTOK as _TABLE
from labkit.lab.profiles import TrainingProfile, choices
from labkit.loop import TrainConfig
from labkit.paths import labkit_home

KINDS = ("exact", "merged", "unmatched")
COLOURS = {"exact": "#b7e1b0", "merged": "#f6c27a", "unmatched": "#ef8a8a"}
_DIGIT = re.compile(rb"[0-9]")


# --------------------------------------------------------------------------- positions and counts


def position_kinds(al: alignment.Alignment, vmap: alignment.VocabMap) -> tuple[list[str], list[str]]:
    """(kind of every teacher token, kind of every student token) of one alignment, each in KINDS.

    exact: the token is a whole 1:1 chunk. merged: in a chunk of several tokens on some side, and its
    string has a twin in the other vocabulary. unmatched: in such a chunk without a twin, or a special
    token (no text: BOS, EOS, chat markers).
    """
    t_kind, s_kind = ["unmatched"] * len(al.teacher_ids), ["unmatched"] * len(al.student_ids)
    t2s, s2t = vmap.teacher_to_student, vmap.student_to_teacher
    for c in al.chunks:
        for i in range(*c.teacher):
            tid = al.teacher_ids[i]
            t_kind[i] = (
                "exact"
                if c.kind == "exact"
                else ("merged" if 0 <= tid < len(t2s) and int(t2s[tid]) >= 0 else "unmatched")
            )
        for j in range(*c.student):
            sid = al.student_ids[j]
            s_kind[j] = (
                "exact"
                if c.kind == "exact"
                else ("merged" if 0 <= sid < len(s2t) and int(s2t[sid]) >= 0 else "unmatched")
            )
    return t_kind, s_kind


def _chunk_has(c: alignment.Chunk, what: str) -> bool:
    return bool(_DIGIT.search(c.text)) if what == "digits" else any(b >= 0x80 for b in c.text)


def alignment_counts(teacher_tok, student_tok, texts: list[str], vmap: alignment.VocabMap | None = None) -> dict:
    """Token positions by kind on each side, summed over `texts`, and the chunks that hold digits / non-ASCII.

    Returns {"texts", "teacher": {exact, merged, unmatched, tokens}, "student": {...},
    "chunks": {exact, merged}, "digit_chunks": {exact, merged}, "non_ascii_chunks": {exact, merged}};
    per side exact + merged + unmatched == tokens.
    """
    if not texts:
        raise LabkitError("alignment_counts: no texts; expected a non-empty list of strings")
    vmap = vmap if vmap is not None else alignment.vocab_map(teacher_tok, student_tok)
    out = {
        "texts": len(texts),
        "teacher": dict.fromkeys((*KINDS, "tokens"), 0),
        "student": dict.fromkeys((*KINDS, "tokens"), 0),
        "chunks": {"exact": 0, "merged": 0},
        "digit_chunks": {"exact": 0, "merged": 0},
        "non_ascii_chunks": {"exact": 0, "merged": 0},
    }
    for text in texts:
        al = alignment.align(teacher_tok, student_tok, text)
        for side, kinds in zip(("teacher", "student"), position_kinds(al, vmap)):
            for k in kinds:
                out[side][k] += 1
            out[side]["tokens"] += len(kinds)
        for c in al.chunks:
            out["chunks"][c.kind] += 1
            for what in ("digits", "non_ascii"):
                if _chunk_has(c, what):
                    out["digit_chunks" if what == "digits" else "non_ascii_chunks"][c.kind] += 1
    return out


def counts_rows(counts: dict[str, dict]) -> list[dict]:
    """{source: alignment_counts(...)} -> table rows (shares of positions per side, chunks with digits)."""
    rows = []
    for name, c in counts.items():
        row = {"text": name, "texts": c["texts"]}
        for side in ("teacher", "student"):
            n = max(c[side]["tokens"], 1)
            row[f"{side} tokens"] = c[side]["tokens"]
            row.update({f"{side} {k} %": 100.0 * c[side][k] / n for k in KINDS})
        dc = c["digit_chunks"]
        row["merged chunks with digits"] = f"{dc['merged']} of {dc['exact'] + dc['merged']}"
        rows.append(row)
    return rows


def real_texts(data_dir: str = "", n: int = 100) -> dict[str, list[str]]:
    """Texts to count alignments on: the lab's real datasets when their files are there (SVAMP questions and
    PaLM rationales, CQA PaLM rationales, OBQA FLAN-T5 and LLaMA-2 rationales), else {} (the caller falls back to
    the synthetic tasks). data_dir: the folder holding dss/ and tinyllm/ ("" = $LABKIT_DATA or ../shared/data)."""
    roots = (
        [Path(data_dir)]
        if data_dir
        else [p for p in (data.default_data_dir(),) if p] + [Path(__file__).resolve().parents[3] / "shared" / "data"]
    )
    root = next((r for r in roots if (r / "dss").is_dir() or (r / "tinyllm").is_dir()), None)
    if root is None:
        return {}
    out = {}
    specs = [
        ("dss:svamp", "SVAMP questions", lambda r: [r.question]),
        ("dss:svamp", "SVAMP PaLM rationales", lambda r: list(r.rationales.values())),
        ("dss:cqa", "CQA PaLM rationales", lambda r: list(r.rationales.values())),
        ("tinyllm:obqa", "OBQA FLAN-T5 + LLaMA-2 rationales", lambda r: list(r.rationales.values())),
    ]
    for name, label, pick in specs:
        try:
            recs = data.load_dataset(name, "train", data_dir=root, n=n, strict=False)
        except LabkitError:
            continue
        texts = [t for r in recs for t in pick(r) if t]
        if texts:
            out[label] = texts
    return out


def synthetic_texts(n: int = 100) -> dict[str, list[str]]:
    """The synthetic tasks' gold solutions (always available)."""
    return {
        f"synthetic {task} solutions": [r.solution for r in data.generate_synthetic(task, "train", n=n, steps=2)]
        for task in ("arithmetic", "tracking")
    }


# --------------------------------------------------------------------------- the viewer


def _token_label(tok, tid: int, b: bytes) -> str:
    if not b:
        return tok.convert_ids_to_tokens(tid)
    try:
        text = b.decode("utf-8")
    except UnicodeDecodeError:  # a piece of a multi-byte character: its bytes in hex
        return "⟨" + " ".join(f"{x:02x}" for x in b) + "⟩"
    text = "".join(f"U+{ord(ch):X}" if ord(ch) > 0xFFFF else ch for ch in text)  # emoji: no glyph in the font
    return text.replace(" ", "␣").replace("\n", "↵")


def _layout(al: alignment.Alignment, tok, side: str) -> list[tuple[int, int, str, int]]:
    """[(byte start, byte end, label, position)] of one side's tokens that carry text."""
    table = alignment.token_bytes(tok)
    ids = al.teacher_ids if side == "teacher" else al.student_ids
    out, pos = [], 0
    for k, tid in enumerate(ids):
        b = table[tid] if 0 <= tid < len(table) else b""
        if b:
            out.append((pos, pos + len(b), _token_label(tok, tid, b), k))
        pos += len(b)
    return out


def alignment_figure(panels: list[dict], title: str = "One text, two tokenizations, aligned by bytes"):
    """One panel per text: teacher tokens above, student tokens below, on a common byte axis.

    panels: [{"title", "alignment", "teacher_tok", "student_tok", "vmap", "names": (teacher, student)}].
    Token boxes are coloured by position kind (exact green, merged orange, unmatched red); chunks that
    hold digits or non-ASCII bytes and are not exact get a thick outline.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    widths = [max(sum(len(c.text) for c in p["alignment"].chunks), 1) for p in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(min(max(widths) * 0.16 + 2, 18), 1.9 * len(panels)), squeeze=False
    )
    for ax, p, width in zip(axes[:, 0], panels, widths):
        al = p["alignment"]
        kinds = dict(zip(("teacher", "student"), position_kinds(al, p["vmap"])))
        for row, side in ((1, "teacher"), (0, "student")):
            for a, b, label, k in _layout(al, p[f"{side}_tok"], side):
                ax.add_patch(
                    Rectangle((a, row + 0.08), b - a, 0.84, facecolor=COLOURS[kinds[side][k]], edgecolor="0.35", lw=0.6)
                )
                ax.text(
                    (a + b) / 2,
                    row + 0.5,
                    label,
                    ha="center",
                    va="center",
                    clip_on=True,
                    fontsize=7 if len(label) <= 1.6 * (b - a) + 1 else 5,
                )
        start = 0
        for c in al.chunks:
            if c.kind != "exact" and (_chunk_has(c, "digits") or _chunk_has(c, "non_ascii")):
                ax.add_patch(Rectangle((start, 0.02), len(c.text), 1.96, fill=False, edgecolor="black", lw=2))
            start += len(c.text)
        ax.set_xlim(-0.5, width + 0.5)
        ax.set_ylim(0, 2)
        ax.set_yticks([0.5, 1.5], [f"student\n{p['names'][1]}", f"teacher\n{p['names'][0]}"], fontsize=8)
        ax.set_xlabel("byte offset in the text", fontsize=8)
        ax.set_title(p["title"], fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    handles = [Patch(facecolor=COLOURS[k], edgecolor="0.35", label=k) for k in KINDS]
    handles.append(
        Patch(facecolor="white", edgecolor="black", lw=2, label="chunk cut differently that holds digits / non-ASCII")
    )
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def alignment_html(al: alignment.Alignment, teacher_tok, student_tok, vmap, names=("teacher", "student")) -> str:
    """The aligned chunks as an HTML table: one column per chunk, teacher tokens over student tokens."""
    kinds = dict(zip(("teacher", "student"), position_kinds(al, vmap)))
    labels = {
        side: {k: lab for _, _, lab, k in _layout(al, tok, side)}
        for side, tok in (("teacher", teacher_tok), ("student", student_tok))
    }
    cells = {"teacher": [], "student": []}
    for c in al.chunks:
        thick = c.kind != "exact" and (_chunk_has(c, "digits") or _chunk_has(c, "non_ascii"))
        border = "2px solid black" if thick else "1px solid #999"
        for side, rng in (("teacher", c.teacher), ("student", c.student)):
            toks = "".join(
                f"<span style='background:{COLOURS[kinds[side][k]]};padding:1px 3px;margin:1px;"
                f"border-radius:3px'>{html.escape(labels[side].get(k, ''))}</span>"
                for k in range(*rng)
            )
            cells[side].append(f"<td style='border:{border};padding:2px'>{toks}</td>")
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(n)}</th>{''.join(cells[s])}</tr>"
        for n, s in zip(names, ("teacher", "student"))
    )
    legend = " ".join(f"<span style='background:{COLOURS[k]};padding:1px 4px'>{k}</span>" for k in KINDS)
    return f"<div style='overflow-x:auto'><table style='border-collapse:collapse'>{rows}</table>{legend}</div>"


# --------------------------------------------------------------------------- the number-tokenizer miniature

VERSION = 1  # bump when the build changes in a way the recipe does not capture
SIDES = ("whole", "digits")

# Recipes per profile ("smoke": seconds to build, tests; "default": the notebook's CPU miniature).
RECIPES = {
    "smoke": {
        "task": "arithmetic",
        "steps": [1],
        "n_train": 400,
        "n_valid": 32,
        "n_test": 32,
        "vocab": 512,
        "teacher_layers": 1,
        "teacher_hidden": 64,
        "teacher_steps_whole": 40,
        "teacher_steps_digits": 40,
        "teacher_lr": 3e-3,
        "student_layers": 1,
        "student_hidden": 32,
        "student_steps": 20,
        "student_lr": 3e-3,
        "batch_size": 32,
        "seed": 0,
    },
    # teachers matched on valid accuracy (the kit's manifest records each teacher's): adding two numbers digit by
    # digit takes more steps than a lookup of number tokens, so the digit teacher trains longer
    "default": {
        "task": "arithmetic",
        "steps": [1],
        "n_train": 2000,
        "n_valid": 96,
        "n_test": 128,
        "vocab": 512,
        "teacher_layers": 2,
        "teacher_hidden": 128,
        "teacher_steps_whole": 400,
        "teacher_steps_digits": 1200,
        "teacher_lr": 3e-3,
        "student_layers": 2,
        "student_hidden": 64,
        "student_steps": 150,
        "student_lr": 3e-3,
        "batch_size": 32,
        "seed": 0,
    },
}


@dataclass
class XTokKit:
    """What notebook 06 trains with, by role: "cross" = the teacher whose tokenizer differs from the student's,
    "same" = a teacher with the student's tokenizer (same-tokenizer KD). In the miniature "cross" is the
    whole-number tokenizer and its teacher, "same" the digit tokenizer, its teacher and the student."""

    tokenizers: dict
    teachers: dict
    student_init: object
    splits: dict
    recipe: dict
    manifest: dict = field(default_factory=dict)
    path: Path | None = None
    names: dict = field(default_factory=lambda: {"cross": "whole-number tokenizer", "same": "digit tokenizer"})
    cache: dict = field(default_factory=dict, repr=False)  # derived from the above: alignments of the splits

    @property
    def student_tok(self):
        return self.tokenizers["same"]


ROLE_OF = {"whole": "cross", "digits": "same"}  # the miniature's tokenizers by role


def recipe_hash(recipe: dict) -> str:
    import hashlib

    text = json.dumps({"version": VERSION, **recipe}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def check_recipe(recipe: dict) -> dict:
    need = set(RECIPES["default"])
    missing = need - set(recipe)
    if missing:
        raise LabkitError(f"xtok recipe lacks {sorted(missing)}; expected the keys of labkit.lab.xtok.RECIPES")
    return recipe


def number_tokenizers(corpus: list[str], vocab: int) -> dict:
    """{"whole": BPE keeping frequent numbers whole, "digits": BPE with one token per digit}, same corpus."""
    return {side: tiny.train_tokenizer(corpus, vocab_size=vocab, split_digits=side == "digits") for side in SIDES}


def numbers_single_token_share(tok, texts: list[str]) -> float:
    """Share of the numbers (" 19") in `texts` that `tok` writes as one token."""
    nums = [m for t in texts for m in re.findall(r" \d+", t)]
    return sum(len(alignment.encode_plain(tok, m)) == 1 for m in nums) / max(len(nums), 1)


def _build_part(part: str, recipe: dict, out: str) -> dict:
    """Worker side: train one teacher ("whole"/"digits") or the student init and save it to out/part."""
    from transformers import PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    from labkit.lab import task_teacher as tt

    hf_logging.disable_progress_bar()  # a forked worker's progress bars would write to the notebook's kernel
    side = "digits" if part == "student_init" else part
    tok = PreTrainedTokenizerFast.from_pretrained(str(Path(out) / f"tokenizer_{side}"))
    prefix = "student" if part == "student_init" else "teacher"
    t0 = time.perf_counter()
    model = tiny.tiny_causal_lm(
        tok,
        n_layers=recipe[f"{prefix}_layers"],
        hidden=recipe[f"{prefix}_hidden"],
        seed=recipe["seed"] + (1 if part == "student_init" else 0),
    )
    if part != "student_init":
        recipe = {**recipe, "teacher_steps": recipe[f"teacher_steps_{part}"]}
    h, acc = tt._sft(model, tok, recipe, prefix, 1, False)
    model.save_pretrained(str(Path(out) / part))
    return {
        f"{part}_valid_accuracy": acc,
        f"{part}_seconds": round(time.perf_counter() - t0, 1),
        f"{part}_loss_last": h.mean("loss", 20),
    }


def _build(recipe: dict, out: Path, processes: int | None) -> dict:
    from labkit.lab import task_teacher as tt
    from labkit.lab.parallel import map_runs

    splits = tt.task_records(recipe)
    corpus = [tt.prompt_of(r) + tt.target_of(r) for r in splits["train"]]
    toks = number_tokenizers(corpus, recipe["vocab"])
    for side, tok in toks.items():
        tok.save_pretrained(str(out / f"tokenizer_{side}"))
    parts = map_runs(
        _build_part,
        [{"part": p, "recipe": recipe, "out": str(out)} for p in ("digits", "whole", "student_init")],
        processes=processes,
    )
    targets = [tt.target_of(r) for r in splits["valid"]]
    manifest = {
        "recipe": recipe,
        "version": VERSION,
        "built": time.strftime("%Y-%m-%d %H:%M:%S"),
        "vocab_sizes": {s: len(t) for s, t in toks.items()},
        "numbers_single_token": {s: numbers_single_token_share(t, targets) for s, t in toks.items()},
    }
    for p in parts:
        manifest.update(p)
    return manifest


def xtok_kit(recipe: dict | str = "default", *, root: Path | None = None, processes: int | None = None) -> XTokKit:
    """Load the miniature of `recipe` (a RECIPES key or a dict), building it once (teachers on both cores)."""
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    from labkit.lab import task_teacher as tt

    if isinstance(recipe, str) and recipe not in RECIPES:
        raise LabkitError(f"xtok recipe {recipe!r}: expected one of {', '.join(RECIPES)} or a dict")
    recipe = check_recipe(dict(RECIPES[recipe] if isinstance(recipe, str) else recipe))
    path = Path(root or labkit_home() / "xtok_kits") / recipe_hash(recipe)
    tt._atomic(path, lambda tmp: _build(recipe, tmp, processes))
    manifest = json.loads((path / "manifest.json").read_text())
    toks = {ROLE_OF[s]: PreTrainedTokenizerFast.from_pretrained(str(path / f"tokenizer_{s}")) for s in SIDES}
    teachers = {ROLE_OF[s]: AutoModelForCausalLM.from_pretrained(str(path / s)).eval() for s in SIDES}
    student = AutoModelForCausalLM.from_pretrained(str(path / "student_init")).eval()
    return XTokKit(toks, teachers, student, tt.task_records(recipe), recipe, manifest, path)


# --------------------------------------------------------------------------- arms over seeds

# Every arm notebook 06 knows: SFT (the student's own cross-entropy on the gold solutions), and cross-tokenizer KD
# (labkit.methods.xtok) from the teacher it reads ("cross": another tokenizer; "same": the student's, where the
# hybrid is plain JSD_β). The "(KD only)" arms drop the CE term (ce_weight 0), which otherwise teaches every arm the
# gold digits directly (not in the default list: 6 more runs would not fit the 3-minute budget).
ARM_NAMES = ("sft", "uld", "hybrid", "same-tok KD", "hybrid (KD only)", "same-tok KD (KD only)")
SHORT = {
    INIT: "init",
    "same-tok KD": "same-tok\nKD",
    "hybrid (KD only)": "hybrid\nKD only",
    "same-tok KD (KD only)": "same-tok\nKD only",
}  # tick labels that fit side by side


def xtok_arms(
    names=ARM_NAMES, *, ce_weight: float = 0.5, beta: float = 0.5, init: bool = True, headline_seeds=None
) -> list[Arm]:
    """The arms `names` (from ARM_NAMES, in that order), with the initial student first when `init`;
    headline_seeds: the seeds of the headline claim's two arms, ULD and the hybrid (None: every arm's seeds)."""
    hs = tuple(headline_seeds) if headline_seeds else None

    def kd(label, loss, teacher, w, seeds=None):
        return Arm(
            label,
            "xtok",
            {"loss": loss, "beta": beta, "ce_weight": w},
            reads={"teacher": teacher},
            cost=2.0,
            seeds=seeds,
        )

    every = [
        Arm("sft", "sft"),
        kd("uld", "uld", "cross", ce_weight, hs),
        kd("hybrid", "hybrid", "cross", ce_weight, hs),
        kd("same-tok KD", "hybrid", "same", ce_weight),
        kd("hybrid (KD only)", "hybrid", "cross", 0.0),
        kd("same-tok KD (KD only)", "hybrid", "same", 0.0),
    ]
    names = check_arms(names)
    return ([Arm(INIT, None, cost=0.5)] if init else []) + [a for a in every if a.label in names]


def check_arms(arms) -> list[str]:
    items = [arms] if isinstance(arms, str) else list(arms)
    bad = [a for a in items if a not in ARM_NAMES]
    if bad or not items:
        raise LabkitError(f"parameter arms={arms!r}: expected a non-empty list from {', '.join(ARM_NAMES)}")
    return items


def number_logprobs(model, tok, records, batch_size: int = 64) -> dict:
    """Teacher-forced on the gold solutions: mean log-probability per digit token and per other token."""
    from labkit.lab import task_teacher as tt

    table = alignment.token_bytes(tok)
    sums = {"digit": [0.0, 0], "other": [0.0, 0]}
    model.eval()
    for a in range(0, len(records), batch_size):
        recs = records[a : a + batch_size]
        rolls = S.encode_rollouts(tok, [tt.prompt_of(r) for r in recs], [tt.target_of(r) for r in recs], 256)
        b = S.collate_rollouts(rolls, S.pad_id(tok))
        with torch.inference_mode():
            lp = torch.log_softmax(S.response_logits(model, b).float(), -1)
        got = lp.gather(-1, b["response"].unsqueeze(-1)).squeeze(-1)
        for i, j in b["response_mask"].nonzero().tolist():
            tid = int(b["response"][i, j])
            key = "digit" if _DIGIT.search(table[tid] if tid < len(table) else b"") else "other"
            sums[key][0] += float(got[i, j])
            sums[key][1] += 1
    return {f"{k}_logprob": v[0] / max(v[1], 1) for k, v in sums.items()}


def cut_of(c: alignment.Chunk) -> str:
    """How the two tokenizers cut a chunk: "<teacher tokens>:<student tokens>" ("1:1": cut the same, an exact
    chunk; "1:3": one teacher token is three student tokens, as " 19" -> "Ġ19" against "Ġ", "1", "9")."""
    return f"{c.teacher[1] - c.teacher[0]}:{c.student[1] - c.student[0]}"


def cut_key(cut: str) -> str:
    """The metric name of a cut: "1:3" -> "logprob_cut_1_3"."""
    return "logprob_cut_" + cut.replace(":", "_")


def _cut_plans(kit: XTokKit, records) -> list[tuple[list[int], list[int], list[tuple[str, int, int]]]]:
    """Per record: (prompt ids, response ids of the student, [(cut, start, end) of every chunk in the response]),
    cached on the kit (the alignments depend on the tokenizers and the records only)."""
    from labkit.lab import task_teacher as tt

    cache = kit.cache.setdefault("cut_plans", {})
    key = tuple(r.id for r in records)
    if key not in cache:
        tok_s, tok_t, out = kit.student_tok, kit.tokenizers["cross"], []
        for r in records:
            text = tt.target_of(r)
            s_resp, t_resp = alignment.encode_plain(tok_s, text), alignment.encode_plain(tok_t, text)
            al = alignment.align_ids(tok_t, tok_s, t_resp, s_resp)
            out.append((S.prompt_ids(tok_s, tt.prompt_of(r)), s_resp, [(cut_of(c), *c.student) for c in al.chunks]))
        cache[key] = out
    return cache[key]


def logprobs_by_cut(model, kit: XTokKit, records, batch_size: int = 64) -> dict:
    """Teacher-forced on the gold solutions: the student's mean log-probability per token of the chunks the two
    tokenizers cut the same ("logprob_cut_same", the 1:1 chunks), of those they cut differently
    ("logprob_cut_differently"), and per cut ("logprob_cut_1_2", "logprob_cut_1_3", ...: ``cut_of``), with the number
    of student tokens of each ("tokens_cut_..."). The regime knob of notebook 06, read off each test solution: how
    many student tokens one teacher token becomes."""
    plans = _cut_plans(kit, records)
    tok, sums = kit.student_tok, {}
    model.eval()
    for a in range(0, len(plans), batch_size):
        part = plans[a : a + batch_size]
        b = S.collate_rollouts([S.make_rollout(p, y, 10**9) for p, y, _ in part], S.pad_id(tok), S.model_device(model))
        with torch.inference_mode():
            lp = torch.log_softmax(S.response_logits(model, b).float(), -1)
        got = lp.gather(-1, b["response"].unsqueeze(-1)).squeeze(-1).cpu()
        for i, (_, _, chunks) in enumerate(part):
            for cut, start, end in chunks:
                v = float(got[i, start:end].sum())
                for k in (cut, "same" if cut == "1:1" else "differently"):
                    acc = sums.setdefault(k, [0.0, 0])
                    acc[0] += v
                    acc[1] += end - start
    out = {}
    for k, (total, n) in sums.items():
        name = k.replace(":", "_")
        out[f"logprob_cut_{name}"], out[f"tokens_cut_{name}"] = total / max(n, 1), n
    return out


def score(model, kit: XTokKit, records, max_new_tokens: int = 48) -> dict:
    """Task accuracy of the greedy answers, and the teacher-forced log-probabilities of the gold digits."""
    from labkit import evaluate
    from labkit.lab import task_teacher as tt

    tok = kit.student_tok
    greedy = evaluate.generate(
        model,
        tok,
        [tt.prompt_of(r) for r in records],
        max_new_tokens=max_new_tokens,
        stop_at_newline=False,
        batch_size=64,
    )
    return {
        "accuracy": tt.task_accuracy(model, tok, records, texts=greedy),
        **number_logprobs(model, tok, records),
        **logprobs_by_cut(model, kit, records),
        "samples": greedy[:3],
    }


class XTokExperiment:
    """Notebook 06's students: every arm continues from a fresh copy of the kit's student init, trained `steps`
    steps by its method (``labkit.methods.get(arm.method)``: sft, or xtok from the teacher ``arm.reads["teacher"]``),
    scored on the kit's `split`. The initial student (``Arm(INIT, None)``) is scored once per process and
    the same for every seed. Finished runs are kept: ``run`` on an (arm, seed) it ran before returns that Run.
    """

    def __init__(
        self,
        kit: XTokKit,
        *,
        steps: int,
        lr: float,
        batch_size: int,
        split: str = "test",
        max_new_tokens: int = 48,
        device: str = "cpu",
    ):
        self.kit, self.steps, self.lr, self.batch_size = kit, steps, lr, batch_size
        self.split, self.max_new_tokens, self.device = split, max_new_tokens, device
        self._init, self._done = None, {}

    @property
    def processes(self) -> int | None:
        """Forked workers for ``lab.arms.run``: one per core on the CPU, one process on an accelerator."""
        return None if self.device in ("cpu", "auto") else 1

    def train_config(self, seed: int) -> TrainConfig:
        return _arms.tiny_config(self.steps, self.batch_size, self.lr, seed, device=self.device)

    def score(self, model) -> tuple[dict, list]:
        """({metric: value} on the split, three greedy answers)."""
        got = score(model.eval(), self.kit, self.kit.splits[self.split], self.max_new_tokens)
        return {k: v for k, v in got.items() if k != "samples"}, got["samples"]

    def run(self, arm: Arm, seed: int) -> Run:
        if (arm, seed) in self._done:
            return self._done[(arm, seed)]
        t0 = time.perf_counter()
        if not arm.trains:  # the shared init: seed-independent, scored once
            if self._init is None:
                self._init = (*self.score(copy.deepcopy(self.kit.student_init)), time.perf_counter() - t0)
            metrics, samples, seconds = self._init
            return Run(arm.label, seed, {self.split: metrics}, seconds=seconds, extra={"samples": samples})
        from labkit.lab import task_teacher as tt

        kit, student = self.kit, copy.deepcopy(self.kit.student_init)
        train = kit.splits["train"]
        prompts, targets = [tt.prompt_of(r) for r in train], [tt.target_of(r) for r in train]
        student.train()
        method, config = methods.get(arm.method), self.train_config(seed)
        if "teacher" in arm.reads:  # KD from a teacher, through its own tokenizer
            role = arm.reads["teacher"]
            h = method.train(
                student,
                kit.teachers[role],
                kit.student_tok,
                kit.tokenizers[role],
                prompts,
                targets,
                config=config,
                **arm.settings,
            )
        else:
            h = method.train(student, kit.student_tok, prompts, targets, config=config, **arm.settings)
        curves = {
            k: [(r["step"], r[k]) for r in h.rows if r.get(k) is not None] for k in ("loss", "loss/kd", "loss/ce")
        }
        metrics, samples = self.score(student)
        out = Run(
            arm.label,
            seed,
            {self.split: metrics},
            curves={k: v for k, v in curves.items() if v},
            seconds=time.perf_counter() - t0,
            extra={"samples": samples},
        )
        self._done[(arm, seed)] = out
        return out


def numbers(runs: list[Run], **settings) -> dict:
    """The measured numbers papers.READINGS["06"] quotes: each arm's training CE over the last quarter of its
    steps (mean over seeds: "ce_<arm>"), with `settings` (steps, ce_weight)."""
    out = dict(settings)
    for arm in _arms.arm_labels(runs):
        tails = []
        for r in runs:
            pts = [v for _, v in r.curves.get("loss/ce", [])] if r.arm == arm else []
            if pts:
                tails.append(statistics.mean(pts[-max(1, len(pts) // 4) :]))
        if tails:
            out[f"ce_{arm.replace(' ', '_')}"] = statistics.mean(tails)
    return out


# --------------------------------------------------------------------------- claims

# (claim id, better arm, worse arm): each is measured on every metric of `xtok_claims` whose two arms ran; the
# statements are papers.STATEMENTS["06"][claim id]
CLAIMS = [
    ("uld>sft", "uld", "sft"),
    ("hybrid>uld", "hybrid", "uld"),
    ("same-tok>hybrid", "same-tok KD", "hybrid"),
    ("same-tok>hybrid(KD only)", "same-tok KD (KD only)", "hybrid (KD only)"),
]


def xtok_claims(runs: list[Run], metrics=("accuracy", "digit_logprob"), split: str = "test") -> list[dict]:
    """Notebook 06's claims, one per (paper claim, metric) whose two arms were run: effects per seed, 95% t-CI."""
    C = []
    for metric in metrics:
        by = _arms.by_arm(runs, metric, split)
        for cid, better, worse in CLAIMS:
            if better in by and worse in by and len(by[better]) >= 2:
                C.append(
                    _arms.claim(
                        runs, f"{cid}:{metric}", papers.statement("06", cid), metric, better, worse, split, label=metric
                    )
                )
    return C


HEADLINE = ("hybrid>uld:cut_differently", "hybrid", "uld", "logprob_cut_differently")


def headline_claim(runs: list[Run], split: str = "test") -> list[dict]:
    """Notebook 06's headline: the hybrid beats ULD on the gold tokens of the chunks the two tokenizers cut
    differently (the numbers of the miniature), log-probability per student token; [] without both arms."""
    cid, better, worse, metric = HEADLINE
    by = _arms.by_arm(runs, metric, split)
    if better not in by or worse not in by:
        return []
    text = papers.statement("06", "hybrid>uld:cut_differently")
    return [_arms.claim(runs, cid, text, metric, better, worse, split, label=metric, headline=True)]


def cut_sweep(runs: list[Run], better: str = "hybrid", worse: str = "uld", split: str = "test") -> list[dict]:
    """The regime sweep of notebook 06: one claim per cut ("1:1", then "1:2", "1:3", ... in order) that the test
    solutions contain, `better` − `worse` on the log-probability per student token of those chunks, paired by seed;
    each claim carries "cut" and "tokens" (the student tokens the bin holds)."""
    by_metric = {}
    for r in runs:
        for k in r.metrics.get(split, {}):
            if k.startswith("logprob_cut_") and k[len("logprob_cut_") :][:1].isdigit():
                by_metric[k] = k[len("logprob_cut_") :].replace("_", ":")
    order = sorted(by_metric.items(), key=lambda kv: tuple(int(x) for x in kv[1].split(":")))
    out = []
    for metric, cut in order:
        got = _arms.by_arm(runs, metric, split)
        if better in got and worse in got and len(set(got[better]) & set(got[worse])) >= 2:
            c = _arms.claim(
                runs,
                f"{better}>{worse}@cut={cut}",
                papers.statement("06", "cut", better=better, worse=worse, cut=cut),
                metric,
                better,
                worse,
                split,
                label=metric,
            )
            tokens = next(r.metrics[split].get("tokens" + metric[len("logprob") :]) for r in runs if r.arm == better)
            out.append({**c, "cut": cut, "tokens": tokens})
    return out


def where_it_holds(sweep: list[dict]) -> str:
    """One sentence, from the numbers, saying at which cuts the effect holds (its interval above 0)."""
    held = [c["cut"] for c in sweep if c["holds"]]
    if not sweep:
        return "no cut was measured."
    if not held:
        return f"it holds at none of the cuts measured ({', '.join(c['cut'] for c in sweep)})."
    rest = [c["cut"] for c in sweep if not c["holds"]]
    return f"it holds where the tokenizers cut {', '.join(held)}" + (
        f"; not at {', '.join(rest)}." if rest else ", at every cut measured."
    )


def xtok_notes(C: list[dict], numbers: dict | None = None, profile: str = "default") -> dict[str, str]:
    """{claim id: the measured effect and its reading} for the claims that do not hold: papers.READINGS["06"]
    filled from `numbers` (they explain the default miniature; other profiles get the measured effect alone)."""
    return _claims.not_holding(C, papers.READINGS["06"] if profile == "default" else {}, numbers=numbers)


def learning(runs: list[Run], metric: str = "accuracy") -> list[dict]:
    """lab.claims.learning: each trained arm against the shared student init (its step 0); no chance level (the
    answer is a generated number)."""
    return _arms.learning(runs, metric)


# --------------------------------------------------------------------------- the method on one batch


def chunk_terms(kit: XTokKit, record, *, beta: float = 0.5, student=None) -> list[dict]:
    """One solution of the task, both tokenizations aligned by bytes, and the KD term each chunk contributes under
    ULD and under the hybrid (labkit.methods.xtok.xtok_loss on a plan of that chunk alone, as training computes
    it), for `student` (default: the kit's student init) against the "cross" teacher."""
    from labkit.lab import task_teacher as tt
    from labkit.methods import xtok as X

    tok_s, tok_t, teacher = kit.student_tok, kit.tokenizers["cross"], kit.teachers["cross"]
    student = student if student is not None else kit.student_init
    prompt, text = tt.prompt_of(record), tt.target_of(record)
    s_resp, t_resp = alignment.encode_plain(tok_s, text), alignment.encode_plain(tok_t, text)
    al = alignment.align_ids(tok_t, tok_s, t_resp, s_resp)
    sb = S.collate_rollouts([S.make_rollout(S.prompt_ids(tok_s, prompt), s_resp, 10**9)], S.pad_id(tok_s), "cpu")
    tb = S.collate_rollouts([S.make_rollout(S.prompt_ids(tok_t, prompt), t_resp, 10**9)], S.pad_id(tok_t), "cpu")
    with torch.no_grad():
        s_logits, t_logits = S.response_logits(student.eval(), sb)[0], S.teacher_logits(teacher, tb)[0]
    s_tok, t_tok, vmap = sb["response"][0], tb["response"][0], alignment.vocab_map(tok_t, tok_s)
    t_label = dict(zip(("teacher", "student"), (tok_t, tok_s)))
    rows = []
    for c in al.chunks:
        plan = X.make_plan([alignment.Alignment(al.teacher_ids, al.student_ids, [c])], len(s_tok), len(t_tok))
        terms = {
            loss: float(
                X.xtok_loss(
                    s_logits,
                    t_logits,
                    s_tok,
                    t_tok,
                    plan,
                    vmap if loss == "hybrid" else None,
                    X.Settings(loss=loss, beta=beta),
                )
            )
            for loss in ("uld", "hybrid")
        }
        ids = {"teacher": al.teacher_ids[slice(*c.teacher)], "student": al.student_ids[slice(*c.student)]}
        rows.append(
            {
                "chunk": c.text.decode("utf-8", "replace"),
                "kind": c.kind,
                **{f"{side} tokens": " ".join(t_label[side].convert_ids_to_tokens(v)) for side, v in ids.items()},
                "ULD term": terms["uld"],
                "hybrid term": terms["hybrid"],
            }
        )
    return rows


# --------------------------------------------------------------------------- the profile


@dataclass(frozen=True)
class XTokProfile(TrainingProfile):
    """Notebook 06's settings (labkit.lab.profiles.XTOK and the notebook's own; seeds, seed, max_steps, lr,
    batch_size and device: profiles.TrainingProfile), checked once."""

    TABLE: ClassVar[dict] = _TABLE
    kit: str = ""
    cross_teacher: str = ""
    same_teacher: str = ""
    student: str = ""
    arms: list = field(default_factory=list, metadata=choices(*ARM_NAMES))
    ce_weight: float = 0.5
    beta: float = 0.5
    n_train: int = 0
    n_eval: int = 0
    n_texts: int = 0
    max_new_tokens: int = 0

    def check(self) -> None:
        super().check()
        if len(self.seeds) < 2:
            self.fail("seeds", "at least 2 distinct seeds (claims need an interval)")
        if self.kit not in ("none", *RECIPES):
            self.fail("kit", f"one of {', '.join(RECIPES)} or 'none'")
        for name in ("n_texts", "max_new_tokens"):
            if getattr(self, name) < 1:
                self.fail(name, "an integer >= 1")
        for name in ("ce_weight", "beta"):
            if not 0 <= getattr(self, name) <= 1:
                self.fail(name, "a number in [0, 1]")

    @property
    def train_device(self) -> str:
        """The CPU for the miniature (tiny models run fastest as one process per core), `device` for named models."""
        return "cpu" if self.kit != "none" else self.device


# --------------------------------------------------------------------------- notebook plumbing


def named_kit(
    cross_teacher: str, same_teacher: str, student: str, *, n_train: int, n_eval: int, device: str = "auto"
) -> XTokKit:
    """The same roles from named models (profile "paper"): a teacher with another tokenizer, a teacher with the
    student's tokenizer, the student as loaded; the synthetic arithmetic task (1-3 steps) as data."""
    from labkit import models
    from labkit.lab import task_teacher as tt

    toks = {"cross": models.load_tokenizer(cross_teacher), "same": models.load_tokenizer(student)}
    teachers = {
        "cross": models.load_model(cross_teacher, device=device).eval(),
        "same": models.load_model(same_teacher, device=device).eval(),
    }
    s = models.load_model(student, device=device)
    S.check_vocab(s, teachers["same"])
    recipe = {"task": "arithmetic", "steps": [1, 2, 3], "n_train": n_train, "n_valid": n_eval, "n_test": n_eval}
    return XTokKit(
        toks,
        teachers,
        s,
        tt.task_records(recipe),
        recipe,
        {"cross_teacher": cross_teacher, "same_teacher": same_teacher, "student": student},
        None,
        {"cross": cross_teacher, "same": same_teacher},
    )


def load_kit(P: XTokProfile) -> XTokKit:
    """The notebook's kit: the miniature of recipe P.kit, or (kit "none") the named models."""
    if P.kit != "none":
        return xtok_kit(P.kit)
    return named_kit(P.cross_teacher, P.same_teacher, P.student, n_train=P.n_train, n_eval=P.n_eval, device=P.device)


def real_pair(profile: str):
    """(Gemma-3 tokenizer, SmolLM2 tokenizer), the embedded models' tokenizers; None at profile smoke when they
    are not cached yet (tests never download; other profiles fetch them once)."""
    from labkit import models

    names = ("gemma3-270m", "smollm2-135m-instruct")
    if profile == "smoke" and not all(models.is_cached(n) for n in names):
        return None
    return tuple(models.load_tokenizer(n) for n in names)


def printable(text: str) -> str:
    """The text with characters outside the font's reach (emoji) written as U+XXXX (figure titles)."""
    return "".join(f"U+{ord(ch):X}" if ord(ch) > 0xFFFF else ch for ch in text)


def viewer_panels(sentence: str, kit: XTokKit, pair=None) -> list[dict]:
    """alignment_figure panels: the sentence in Gemma-3 vs SmolLM2 (when `pair`), and a test solution of the
    task in the kit's two tokenizers (numbers whole vs digit by digit)."""
    from labkit.lab import task_teacher as tt

    out = []
    if pair is not None:
        g, s = pair
        out.append(
            {
                "title": f"Gemma-3 (teacher) vs SmolLM2 (student): {printable(sentence)!r}",
                "alignment": alignment.align(g, s, sentence),
                "teacher_tok": g,
                "student_tok": s,
                "vmap": alignment.vocab_map(g, s),
                "names": ("Gemma-3", "SmolLM2"),
            }
        )
    text = tt.target_of(kit.splits["test"][0])
    tc, ts = kit.tokenizers["cross"], kit.tokenizers["same"]
    out.append(
        {
            "title": f"the task's tokenizers, {kit.names['cross']} (teacher) vs {kit.names['same']} (student): "
            f"a test solution",
            "alignment": alignment.align(tc, ts, text),
            "teacher_tok": tc,
            "student_tok": ts,
            "vmap": alignment.vocab_map(tc, ts),
            "names": ("whole numbers", "digits"),
        }
    )
    return out


def viewer_panel(namespace: dict, pair):
    """A text box bound to `sentence`: each edit redraws the Gemma-3 / SmolLM2 alignment as HTML below it."""
    import ipywidgets as w
    from IPython.display import HTML, display

    from labkit.lab import widgets

    out = w.Output()
    vmap = alignment.vocab_map(*pair)

    def redraw(ns):
        out.clear_output(wait=True)
        with out:
            al = alignment.align(pair[0], pair[1], ns["sentence"])
            display(HTML(alignment_html(al, pair[0], pair[1], vmap, ("Gemma-3", "SmolLM2"))))

    text = w.Text(
        value=namespace.get("sentence", ""),
        description="sentence",
        continuous_update=False,
        layout=w.Layout(width="100%", max_width="900px"),
    )
    p = widgets.panel(namespace, {"sentence": text}, redraw, "Alignment viewer (type any text)")
    p.widget.children = (*p.widget.children, out)
    redraw(namespace)
    return p


def count_sources(profile: str, data_dir: str, n_texts: int, pair, kit: XTokKit) -> dict[str, dict]:
    """{source: alignment_counts}: Gemma-3 vs SmolLM2 on the lab's real datasets (synthetic tasks when absent, or
    nothing when the pair is not loaded), and the kit's two tokenizers on the task's test solutions."""
    from labkit.lab import task_teacher as tt

    out = {}
    if pair is not None:
        texts = real_texts(data_dir, n_texts) or synthetic_texts(n_texts)
        vmap = alignment.vocab_map(*pair)
        out.update({f"Gemma-3 vs SmolLM2: {k}": alignment_counts(pair[0], pair[1], v, vmap) for k, v in texts.items()})
    sol = [tt.target_of(r) for r in kit.splits["test"]]
    out[f"{kit.names['cross']} vs {kit.names['same']}: task test solutions"] = alignment_counts(
        kit.tokenizers["cross"], kit.tokenizers["same"], sol
    )
    return out
