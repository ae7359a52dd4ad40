"""Sequence-level KD (Kim & Rush, 2016): fine-tune the student on the teacher's own outputs.

    ŷ = decode_p(x)  (greedy, or sampled);     L(θ) = - Σ_t log q_θ(ŷ_t | ŷ_<t, x)

Black-box: only the teacher's text (token ids) is used, never its distribution. The teacher
decodes every training prompt once; the outputs are kept (``history.meta["teacher_rollouts"]``) and
can be reused (``teacher_rollouts=``). See docs/methods.md §4 (a MiniLLM baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit import sequences as S
from labkit.loop import History, TrainConfig, prepare_model, run_loop
from labkit.methods.base import need, settings_of, teacher_outputs
from labkit.methods.sft import SFTObjective

NAME = "seqkd"


@dataclass
class SeqKDSettings:
    """Args:
    do_sample: sample the teacher's outputs (temperature) instead of greedy decoding.
    temperature: sampling temperature.
    max_new_tokens: length limit of the teacher's outputs.
    """

    do_sample: bool = False
    temperature: float = 1.0
    max_new_tokens: int = 64

    def __post_init__(self):
        need(self, "temperature", isinstance(self.temperature, (int, float)) and self.temperature > 0, "a number > 0")
        need(
            self, "max_new_tokens", isinstance(self.max_new_tokens, int) and self.max_new_tokens >= 1, "an integer >= 1"
        )


Settings = SeqKDSettings


def train(
    student,
    teacher,
    tokenizer,
    prompts: list[str],
    *,
    config: TrainConfig | None = None,
    teacher_rollouts: list[dict] | None = None,
    **settings,
) -> History:
    """SeqKD: SFT of `student` on `teacher`'s outputs for `prompts` (or on given ``teacher_rollouts``).

    settings: see ``SeqKDSettings``. Returns: History with "loss", "loss/ce"; meta["teacher_texts"].
    """
    config, s = config or TrainConfig(), settings_of(SeqKDSettings, settings)
    student = prepare_model(student, config)
    S.check_vocab(student, teacher)
    if teacher_rollouts is None:
        ids = [S.prompt_ids(tokenizer, p) for p in prompts]
        teacher_rollouts = teacher_outputs(
            teacher,
            tokenizer,
            ids,
            config,
            max_new_tokens=s.max_new_tokens,
            do_sample=s.do_sample,
            temperature=s.temperature,
        )
    objective = SFTObjective(student, tokenizer, config, teacher_rollouts)
    objective.name = NAME
    history = run_loop(student, config, objective)
    history.meta.update(
        teacher_rollouts=teacher_rollouts, teacher_texts=S.rollout_texts(tokenizer, teacher_rollouts), **vars(s)
    )
    return history
