"""The compute ledger: floating-point operations counted from tokens × parameters.

    import labkit as lk
    spec = lk.compute.spec_of(student)                       # Spec(params, layers, width) of a causal LM
    lk.compute.forward_flops(spec, [12, 30])                 # one forward over two sequences of 12 and 30 tokens
    history.series("flops")                                  # every training run: cumulative FLOPs per step

The counts (Kaplan et al., 2020, "Scaling laws for neural language models", Table 1; the usual 2N / 6N):

    forward, one sequence of n tokens:   C_fwd(n) = 2 N n + 4 L d Σ_{t=1..n} t = 2 N n + 2 L d n (n + 1)
    forward + backward (training):       C_train(n) = 3 C_fwd(n)                      (backward = 2 × forward)
    sampling R tokens after a P-token prompt, KV-cached:  C_fwd(P + R - 1)
                                         (the prompt once, then one token at a time; the last token is not fed back)

N counts the parameters a token multiplies: every weight but the input embedding table (a lookup), with the output
head counted even when it is tied to that table (its V × d product is real work, and large for small models).
The attention term: at a position with c visible tokens, each of L layers computes q·k over c keys and the
weighted sum of c values, 2 c d FLOPs each (d = heads × head size). Padding is not counted: the ledger measures
what a method needs, not how a batch was packed. Element-wise work (norms, softmax, activations) is left out.

Where the counts are written (``labkit.loop.run_loop``): each history row holds the step's ``flops/<part>`` and the
cumulative ``flops``. Parts:
- ``flops/train``: the student's forward and backward over the tokens it trains on;
- ``flops/sample``: the student's sampling (on-policy methods);
- ``flops/teacher``: the teacher's forward over the tokens it scores (and its share of teacher-mixed sampling);
- ``flops/reward``: reward evaluation (0 for a rule that parses the final answer; a reward model is a scorer);
- ``flops/reference``: a frozen reference model's forward (a KL penalty to the initial student).

A model without a config (``labkit.known.KnownTeacher`` computes its conditionals exactly and has no weights) costs
nothing unless it is given a nominal size: ``set_spec(teacher, Spec(...))`` (e.g. ``scaled(spec_of(student), 4)``,
the paper's 32B teacher over an 8B student).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from labkit.errors import LabkitError

PARTS = ("train", "sample", "teacher", "reward", "reference")


@dataclass(frozen=True)
class Spec:
    """What a model's FLOPs are counted from.

    params: N, the parameters a token multiplies (no input embedding; the output head included).
    layers: L, attention layers a token passes through.
    width: d, the attention width (heads × head size).
    """

    params: int
    layers: int
    width: int

    def __post_init__(self):
        for name in ("params", "layers", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise LabkitError(f"Spec.{name}={value!r}: expected an integer >= 0")


ZERO = Spec(0, 0, 0)


def _config_value(config, *names, default=0) -> int:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return default


def spec_of(model) -> Spec:
    """The model's ``Spec``: its ``flops_spec`` attribute when set (``set_spec``), else counted from its weights and
    config (num_hidden_layers / num_layers; heads × head_dim, else hidden_size / d_model). A model without a
    config or without weights (a known teacher) gives ``ZERO``."""
    given = getattr(model, "flops_spec", None)
    if given is not None:
        return given
    if model is None:
        return ZERO
    config = getattr(model, "config", None)
    layers = _config_value(config, "num_hidden_layers", "num_layers", "n_layer")
    if config is None or layers == 0:
        return ZERO
    layers += _config_value(config, "num_decoder_layers")  # encoder-decoder: the decoder's layers too
    heads, head_dim = _config_value(config, "num_attention_heads", "n_head"), _config_value(config, "head_dim")
    width = heads * head_dim if heads and head_dim else _config_value(config, "hidden_size", "d_model", "n_embd")
    total = sum(p.numel() for p in model.parameters())
    embed = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    n = total
    if embed is not None:
        n -= embed.weight.numel()
        if head is not None and head.weight is embed.weight:  # tied: the table is also the head's weight
            n += head.weight.numel()
    return Spec(int(n), int(layers), int(width))


def set_spec(model, spec: Spec):
    """Give `model` a nominal size for the ledger (e.g. a known teacher standing in for a large LM); returns it."""
    if not isinstance(spec, Spec):
        raise LabkitError(f"set_spec: spec={spec!r}; expected a labkit.compute.Spec")
    model.flops_spec = spec
    return model


def scaled(spec: Spec, factor: float) -> Spec:
    """A model `factor` times larger in parameters, at the same depth and with the width grown by √factor
    (N ∝ L d² at fixed depth)."""
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or factor <= 0:
        raise LabkitError(f"scaled: factor={factor!r}; expected a number > 0")
    return Spec(round(spec.params * factor), spec.layers, round(spec.width * math.sqrt(factor)))


def _lengths(lengths: Iterable[int]) -> list[int]:
    out = [int(n) for n in lengths]
    if any(n < 0 for n in out):
        raise LabkitError(f"sequence lengths {out[:8]}: expected integers >= 0")
    return out


def forward_flops(spec: Spec, lengths: Iterable[int]) -> float:
    """Σ over sequences of C_fwd(n) = 2 N n + 2 L d n (n + 1): one causal forward over each whole sequence."""
    return float(sum(2 * spec.params * n + 2 * spec.layers * spec.width * n * (n + 1) for n in _lengths(lengths)))


def train_flops(spec: Spec, lengths: Iterable[int]) -> float:
    """Forward and backward over each sequence: 3 C_fwd(n) (the backward pass costs twice the forward)."""
    return 3.0 * forward_flops(spec, lengths)


def sample_flops(spec: Spec, prompt_lengths: Iterable[int], response_lengths: Iterable[int]) -> float:
    """KV-cached sampling of each response after its prompt: C_fwd(P + R - 1) (nothing for an empty response)."""
    pairs = list(zip(_lengths(prompt_lengths), _lengths(response_lengths), strict=True))
    return forward_flops(spec, [p + r - 1 for p, r in pairs if r > 0])


def rollout_lengths(rollouts: Iterable[dict]) -> list[int]:
    """Prompt + response tokens of each rollout ({"prompt": ids, "response": ids})."""
    return [len(r["prompt"]) + len(r["response"]) for r in rollouts]


def sampled(spec: Spec, rollouts: Iterable[dict]) -> float:
    """``sample_flops`` of rollouts whose responses were sampled after their prompts."""
    rs = list(rollouts)
    return sample_flops(spec, [len(r["prompt"]) for r in rs], [len(r["response"]) for r in rs])


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is not positive."""
    return numerator / denominator if denominator > 0 else float("nan")
