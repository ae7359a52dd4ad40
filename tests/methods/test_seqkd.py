"""SeqKD (labkit.methods.seqkd): SFT on the teacher's cached greedy outputs."""

from __future__ import annotations

from labkit import sequences as S
from labkit.methods import seqkd


def test_seqkd_trains_on_cached_teacher_outputs(tok, teacher, kd):
    h = seqkd.train(kd.student(), teacher, tok, kd.PROMPTS, max_new_tokens=8, config=kd.cfg())
    ok, a, b = kd.falls(h.series("loss/ce"))
    assert ok and b < 0.8 * a, (a, b)
    # the cached outputs are the teacher's greedy continuations
    greedy = S.sample_responses(
        teacher,
        [S.prompt_ids(tok, p) for p in kd.PROMPTS],
        max_new_tokens=8,
        eos_id=tok.eos_token_id,
        pad=tok.pad_token_id,
        greedy=True,
    )
    assert [r["response"] for r in h.meta["teacher_rollouts"]] == greedy
