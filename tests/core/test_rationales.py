"""Rationales: answer extraction, consistency, scripted/recorded/live teachers, the crash-safe cache, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from labkit import rationales as R
from labkit.data import Record, load_dataset
from labkit.errors import LabkitError

DATA = Path(os.environ.get("LABKIT_DATA", Path(__file__).parents[3] / "shared" / "data"))
needs_data = pytest.mark.skipif(not (DATA / "tinyllm").is_dir(), reason="real data (../shared/data) absent")
MC = Record(id="m", question="Where do fish live?", answer="water", choices=["trees", "water", "sand", "sea water"])


def _noisy_tiny_lm(tok, seed=1):
    """A tiny random Llama whose greedy output varies with the prompt (plain random init repeats one token)."""
    from labkit import tiny

    model = tiny.tiny_causal_lm(tok, seed=seed)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2 and "embed" not in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
        model.model.norm.weight.mul_(3.0)
    return model.eval()


@pytest.fixture(scope="module")
def tok():
    from labkit import tiny

    return tiny.train_tokenizer(tiny.default_corpus(), vocab_size=512)


@pytest.fixture(scope="module")
def lm(tok):
    return _noisy_tiny_lm(tok)


def live(tok, lm, name="tiny-live", **kw):
    return R.get_teacher(name, model=lm, tokenizer=tok, chat=False, bf16=False, **kw)


def test_consistency_counts_and_lengths():
    recs = [
        Record(
            id="1", question="a", answer="water", choices=MC.choices, rationales={"t": "w. The answer is (b) water"}
        ),
        Record(
            id="2", question="b", answer="water", choices=MC.choices, rationales={"t": "x y. The answer is (a) trees"}
        ),
        Record(id="3", question="c", answer="water", choices=MC.choices, rationales={"t": "no answer here"}),
        Record(id="4", question="d", answer="water", choices=MC.choices),
        # a recorded label wins over the text (PaLM's label)
        Record(
            id="5",
            question="e",
            answer="sand",
            choices=MC.choices,
            rationales={"t": "because"},
            teacher_labels={"t": "sand"},
        ),
    ]
    c = R.consistency(recs, "t")
    assert (c["total"], c["with_rationale"], c["parsed"], c["kept"], c["dropped"], c["unparsed"]) == (5, 4, 3, 2, 2, 1)
    assert c["rate"] == 0.5 and c["kept_ids"] == ["1", "5"]
    assert c["length"]["mean_words"] == 3.5 and c["length"]["max_words"] == 6  # 6 words + 1 word


# --- scripted teachers ------------------------------------------------------------------


def test_oracle_and_noisy_oracle():
    recs = load_dataset("synthetic:arithmetic", n=200)
    res = R.generate_rationales(
        ["oracle", "noisy-oracle@p=0.3", "noisy-oracle@p=0.3,style=terse"],
        recs,
        cache_dir="/nonexistent-never-written",
        progress=False,
    )
    out = res.attach(recs)
    assert R.consistency(out, "oracle")["rate"] == 1.0
    assert [t["oracle"] for t in res.texts] == [r.solution for r in recs]
    noisy = R.consistency(out, "noisy-oracle@p=0.3")
    assert 0.2 < noisy["dropped"] / 200 < 0.4 and noisy["unparsed"] == 0
    # each corrupted rationale has exactly one changed step and a wrong final answer
    for rec, t in zip(recs, res.texts):
        got, gold = t["noisy-oracle@p=0.3"].split("\n"), rec.solution.split("\n")
        if rec.id in noisy["kept_ids"]:
            assert got == gold
        else:
            assert sum(a != b for a, b in zip(got[:-1], gold[:-1])) == 1 and got[-1] != gold[-1]
        assert t["noisy-oracle@p=0.3,style=terse"].count("\n") == 0
    # seeded: same output again, another seed differs
    again = R.get_teacher("noisy-oracle@p=0.3")
    assert [again.rationale(r) for r in recs] == [t["noisy-oracle@p=0.3"] for t in res.texts]
    other = R.get_teacher("noisy-oracle@p=0.3,seed=1")
    assert [other.rationale(r) for r in recs] != [again.rationale(r) for r in recs]
    assert R.get_teacher("noisy-oracle@p=0").rationale(recs[0]) == recs[0].solution


def test_teacher_name_errors():
    with pytest.raises(LabkitError, match="unknown teacher 'gpt-9'.*flan-t5-xl.*oracle"):
        R.get_teacher("gpt-9")
    with pytest.raises(LabkitError, match=r"p=1.5 must be in \[0, 1\]"):
        R.get_teacher("noisy-oracle@p=1.5")
    with pytest.raises(LabkitError, match="gold solution"):
        R.get_teacher("oracle").rationale(MC)
    with pytest.raises(LabkitError, match="has no rationales.*tinyllm:obqa"):
        R.generate_rationales("flan-t5-xl", load_dataset("synthetic:ordering", n=3), progress=False)


# --- recorded teachers on the real files ------------------------------------------------------


@needs_data
def test_recorded_teachers_on_real_data():
    obqa = load_dataset("tinyllm:obqa", "test", data_dir=DATA, n=50)
    res = R.generate_rationales(["flan-t5-xl", "llama2-7b-chat"], obqa, progress=False)
    for i, rec in enumerate(obqa):
        assert res.texts[i]["flan-t5-xl"] == rec.rationales.get("flan-t5-xl")
    flan = R.consistency(res.attach(obqa), "flan-t5-xl")
    assert flan["with_rationale"] == 50 and flan["rate"] > 0.8  # teacher-forced FLAN-T5 mostly agrees
    cqa = load_dataset("dss:cqa", "train", data_dir=DATA, n=30)
    palm = R.consistency(R.generate_rationales("palm-540b", cqa, progress=False).attach(cqa), "palm-540b")
    assert palm["parsed"] >= 28 and palm["kept"] >= 20  # a few PaLM strings have no parsable label
    with pytest.raises(LabkitError, match="palm-540b.*flan-t5-xl"):
        R.generate_rationales("palm-540b", obqa, progress=False)


# --- the cache -------------------------------------------------------------------------------


def test_cache_skips_corrupt_trailing_line_and_appends_after_it(tmp_path):
    path = tmp_path / "c.jsonl"
    cache = R.RationaleCache(path)
    cache.append("a", "h1", ["one"])
    cache.append("b", "h2", ["two"])
    cache.close()
    with open(path, "ab") as f:
        f.write(b'{"id": "c", "prompt_hash": "h3", "te')  # a write cut by a crash
    with pytest.warns(UserWarning, match="corrupt trailing line 3"):
        cache = R.RationaleCache(path)
    assert cache.entries == {("a", "h1"): ["one"], ("b", "h2"): ["two"]}
    cache.append("c", "h3", ["three"])
    cache.close()
    with pytest.warns(UserWarning, match="corrupt line 3"):
        reloaded = R.RationaleCache(path)
    assert reloaded.get("c", "h3") == ["three"] and len(reloaded) == 3


def test_batched_equals_one_at_a_time_and_cache_resume(tok, lm, tmp_path):
    recs = load_dataset("synthetic:tracking", n=8)
    teacher = live(tok, lm)
    res = R.generate_rationales(
        [teacher], recs, k=1, cache_dir=tmp_path / "a", batch_size=4, max_new_tokens=16, progress=False
    )
    batched = [t["tiny-live"] for t in res.texts]
    assert res.stats["tiny-live"]["generated"] == 8 and len(set(batched)) > 4
    # one at a time with plain model.generate on the same prompts: identical greedy text
    built = R._build_prompts(teacher, recs, "teacher_forced", recs, 1, 0, 16, {"dropped_examples": 0, "truncated": 0})
    for (prompt, _), text in zip(built, batched):
        ids = tok(prompt, return_tensors="pt")
        out = lm.generate(**ids, max_new_tokens=16, do_sample=False, pad_token_id=tok.pad_token_id)
        one = tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        assert one.split("\n\nQ:")[0].strip() == text

    # crash after 2 batches (an exception that is not an OOM, so it is not retried)
    class Crash(Exception):
        pass

    class CrashingTeacher(R.LiveTeacher):
        def generate(self, prompts_, **kw):
            if self.calls == 2:
                raise Crash
            return super().generate(prompts_, **kw)

    crashing = CrashingTeacher("tiny-live", model=lm, tokenizer=tok, chat=False, bf16=False)
    with pytest.raises(Crash):
        R.generate_rationales(
            [crashing], recs, k=1, cache_dir=tmp_path / "b", batch_size=3, max_new_tokens=16, progress=False
        )
    path = R.cache_path(tmp_path / "b", "tiny-live", "teacher_forced", "greedy-m16")
    assert len(path.read_text().splitlines()) == 6  # two finished batches kept
    resumed = R.generate_rationales(
        [live(tok, lm)], recs, k=1, cache_dir=tmp_path / "b", batch_size=3, max_new_tokens=16, progress=False
    )
    assert {k: resumed.stats["tiny-live"][k] for k in ("generated", "cached", "failed")} == {
        "generated": 2,
        "cached": 6,
        "failed": 0,
    }
    assert [t["tiny-live"] for t in resumed.texts] == batched
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert sorted(ids) == sorted(r.id for r in recs)  # no loss, no duplicate
    # warm cache: zero model calls
    warm = live(tok, lm)
    again = R.generate_rationales(
        [warm], recs, k=1, cache_dir=tmp_path / "b", batch_size=3, max_new_tokens=16, progress=False
    )
    assert warm.calls == 0 and again.stats["tiny-live"]["cached"] == 8
    assert [t["tiny-live"] for t in again.texts] == batched


def test_failed_batches_are_retried_smaller(tok, lm, tmp_path):
    recs = load_dataset("synthetic:ordering", n=6)
    bad = recs[2].question

    class OOMTeacher(R.LiveTeacher):
        def generate(self, prompts_, **kw):
            if len(prompts_) > 2 or any(bad in p.split("\n\n")[-1] for p in prompts_):
                raise RuntimeError("CUDA out of memory (simulated)")
            return super().generate(prompts_, **kw)

    t = OOMTeacher("tiny-oom", model=lm, tokenizer=tok, chat=False, bf16=False)
    with pytest.warns(UserWarning, match="retrying"):
        res = R.generate_rationales([t], recs, k=1, cache_dir=tmp_path, batch_size=6, max_new_tokens=8, progress=False)
    st = res.stats["tiny-oom"]
    assert (st["generated"], st["failed"]) == (5, 1)
    assert res.texts[2]["tiny-oom"] is None and all(res.texts[i]["tiny-oom"] for i in (0, 1, 3, 4, 5))


def test_sampling_gives_n_paths(tok, lm, tmp_path):
    recs = load_dataset("synthetic:arithmetic", n=3)
    res = R.generate_rationales(
        [live(tok, lm)],
        recs,
        k=1,
        cache_dir=tmp_path,
        max_new_tokens=8,
        do_sample=True,
        n_samples=3,
        temperature=1.5,
        progress=False,
    )
    assert all(len(s["tiny-live"]) == 3 for s in res.samples)
    assert any(len(set(s["tiny-live"])) > 1 for s in res.samples)
    assert list(tmp_path.glob("*sample-n3-t1.5*.jsonl"))


# --- command line ---------------------------------------------------------------------------


def test_cli_final_line_and_resume(tok, lm, tmp_path, capsys):
    from labkit.cli import main

    model_dir = tmp_path / "tiny-model"
    lm.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    argv = [
        "rationales",
        "generate",
        "--teacher",
        str(model_dir),
        "--teacher",
        "oracle",
        "--dataset",
        "synthetic:arithmetic",
        "--limit",
        "5",
        "--cache",
        str(tmp_path / "cache"),
        "--max-new-tokens",
        "8",
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "generated=10 cached=0 failed=0"
    assert main(argv) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "generated=5 cached=5 failed=0"
    assert main(["rationales", "generate", "--teacher", "gpt-9", "--dataset", "synthetic:arithmetic"]) == 2
    assert "unknown teacher" in capsys.readouterr().err


@pytest.mark.slow
def test_kill_9_mid_run_loses_only_the_batch_in_flight(tmp_path):
    script = textwrap.dedent(f"""
        import sys, torch
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_rationales import _noisy_tiny_lm
        from labkit import tiny, rationales as R
        from labkit.data import load_dataset
        tok = tiny.train_tokenizer(tiny.default_corpus(), vocab_size=512)
        t = R.get_teacher("tiny-kill", model=_noisy_tiny_lm(tok), tokenizer=tok, chat=False, bf16=False)
        R.generate_rationales([t], load_dataset("synthetic:tracking", n=40), k=2, cache_dir={str(tmp_path)!r},
                              batch_size=2, max_new_tokens=32, progress=False)
    """)
    path = R.cache_path(tmp_path, "tiny-kill", "teacher_forced", "greedy-m32")
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if path.exists() and len(path.read_bytes().splitlines()) >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "generation finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = len([ln for ln in path.read_bytes().split(b"\n") if ln.strip()])
    assert 4 <= n_before < 40
    from labkit import tiny

    tok = tiny.train_tokenizer(tiny.default_corpus(), vocab_size=512)
    recs = load_dataset("synthetic:tracking", n=40)
    t = R.get_teacher("tiny-kill", model=_noisy_tiny_lm(tok), tokenizer=tok, chat=False, bf16=False)
    res = R.generate_rationales([t], recs, k=2, cache_dir=tmp_path, batch_size=8, max_new_tokens=32, progress=False)
    st = res.stats["tiny-kill"]
    assert st["cached"] >= n_before - 1 and st["cached"] + st["generated"] == 40 and st["failed"] == 0
    rows = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip().endswith("}")]
    assert sorted(r["id"] for r in rows) == sorted(r.id for r in recs)  # each example exactly once
