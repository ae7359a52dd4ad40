"""Tiny models for tests and smoke profiles: built from a config in well under a second, never downloaded.

    tok = train_tokenizer(default_corpus(), vocab_size=512)
    lm = tiny_causal_lm(tok)            # LlamaForCausalLM, 2 layers, hidden 64
    s2s = tiny_seq2seq(tok)             # T5ForConditionalGeneration

The tokenizer is a byte-level BPE (any text round-trips exactly) with one special token,
``<|endoftext|>``, used as bos, eos and pad, and a minimal chat template so that
chat-formatting code paths run on tiny models too. Everything is deterministic: the
same corpus gives the same tokenizer, the same seed the same weights (the global torch
random state is left untouched).
"""
from __future__ import annotations

import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from labkit.errors import LabkitError

SPECIAL = "<|endoftext|>"

# <|role|>\ncontent<|endoftext|>\n per message; the generation prompt opens an assistant turn.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|endoftext|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

# --------------------------------------------------------------------------- corpus

_NAMES = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy"]
_OBJECTS = ["apple", "ball", "book", "pen", "cup", "hat", "key", "coin", "box", "card"]
_SENTENCES = [
    "The sun rises in the east and sets in the west.",
    "Water boils at one hundred degrees Celsius at sea level.",
    "Plants need light, water and air to grow.",
    "A magnet attracts iron but not wood or plastic.",
    "The moon orbits the earth about once a month.",
    "Sound travels faster in water than in air.",
    "Ice is the solid form of water.",
    "Animals that eat only plants are called herbivores.",
    "Let's think step by step.",
    "So the answer is",
    "Question: Which of these is a source of light? Answer: the sun.",
    "The teacher explains the reason, and the student learns the answer.",
    "Scientists observe the world, form a hypothesis, and test it with careful experiments.",
    "Energy can change form: chemical energy in food becomes heat and motion in the body.",
    "Rocks are made of minerals; wind and rain slowly break them into sand and soil.",
    "Birds migrate south in autumn because food becomes scarce when the weather turns cold.",
    "Electricity flows through copper wires, while rubber and glass are good insulators.",
    "Friction between two surfaces produces heat and slows moving objects down.",
    "The heart pumps blood through arteries and veins to every organ of the body.",
    "Photosynthesis uses sunlight to turn carbon dioxide and water into sugar and oxygen.",
    "A thermometer measures temperature, a ruler measures length, a scale measures weight.",
    "Earthquakes happen when tectonic plates suddenly shift along a fault.",
    "Fossils tell us which plants and animals lived millions of years ago.",
    "Evaporation, condensation and precipitation are the main steps of the water cycle.",
    "Which statement is correct? Explain your reasoning before giving the final answer.",
    "Multiply, divide, add and subtract: twelve, twenty, thirty, forty, fifty, hundred, thousand.",
    "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday and Sunday make a week.",
    "January, February, March, April, May, June, July, August, September, October, November, December.",
    "Red, orange, yellow, green, blue, indigo and violet are the colours of the rainbow.",
    "Gravity pulls objects toward the ground; a heavier planet has stronger gravity.",
    "Mammals feed their young with milk, reptiles lay eggs, and fish breathe through gills.",
    "Recycling paper, plastic and metal reduces waste and protects natural resources.",
]


def default_corpus(n: int = 400, seed: int = 0) -> list[str]:
    """A fixed English + arithmetic corpus shaped like the lab's prompts (Q:/A:, options, steps).

    Args:
        n: number of generated problems (on top of the fixed sentences).
        seed: generator seed; the default corpus (and so the `tiny` tokenizer) is pinned by it.
    Returns:
        list of strings.
    """
    rng = random.Random(seed)
    lines = list(_SENTENCES)
    for i in range(n):
        a, b, c = rng.randint(2, 60), rng.randint(2, 40), rng.randint(1, 9)
        who, other = rng.sample(_NAMES, 2)
        obj = rng.choice(_OBJECTS)
        kind = i % 3
        if kind == 0:
            ans = a + b - c
            opts = [ans, ans + 2, ans - 3, ans + 7]
            rng.shuffle(opts)
            q = (f"{who} has {a} {obj}s. {other} gives {who} {b} more, then {who} loses {c}. "
                 f"How many {obj}s does {who} have now?")
            sol = f"1. {a} + {b} = {a + b}.\n2. {a + b} - {c} = {ans}.\nSo the answer is {ans}."
        elif kind == 1:
            ans = a * c
            opts = [ans, ans + c, ans - c, ans + 1]
            rng.shuffle(opts)
            q = f"Each box holds {a} {obj}s. How many {obj}s are in {c} boxes?"
            sol = f"1. {a} * {c} = {ans}.\nSo the answer is {ans}."
        else:
            x, y, z = rng.sample(_NAMES, 3)
            ans = x
            opts = [x, y, z]
            q = f"{x} is taller than {y}. {y} is taller than {z}. Who is the tallest?"
            sol = f"1. {x} > {y}.\n2. {y} > {z}.\nSo the answer is {x}."
        letters = "abcd"
        choice_text = " ".join(f"({letters[j]}) {o}" for j, o in enumerate(opts))
        lines.append(f"[answer] Q: {q}\nAnswer Choices: {choice_text}\nA: {sol}")
    return lines


# --------------------------------------------------------------------------- tokenizer


def train_tokenizer(corpus: list[str], vocab_size: int = 512, *, split_digits: bool = False
                    ) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``corpus``.

    Args:
        corpus: training texts (non-empty).
        vocab_size: target size including the 256 byte symbols and the special token; a small corpus
            may stop short of it (``len(tokenizer)`` is the real size).
        split_digits: cut every digit into its own token, and a number's leading space into a token of
            its own, " 123" -> "Ġ", "1", "2", "3" (as Gemma, Llama-2 and SmolLM2 do); False (default) lets
            BPE merge frequent numbers into single tokens, " 123" -> "Ġ123" (as GPT-2 does; Llama-3
            keeps up to three digits together).
    Returns:
        PreTrainedTokenizerFast with bos = eos = pad = ``<|endoftext|>``, padding_side "right",
        and a minimal chat template.
    """
    corpus = [t for t in corpus if t]
    if not corpus:
        raise LabkitError("train_tokenizer: corpus is empty; expected a list of non-empty strings")
    if vocab_size < 258:
        raise LabkitError(f"train_tokenizer: vocab_size={vocab_size} is too small; expected >= 258 "
                          "(256 bytes + special token + one merge)")
    if not isinstance(split_digits, bool):
        raise LabkitError(f"train_tokenizer: split_digits={split_digits!r}; expected True or False")
    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                         if split_digits else byte_level)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[SPECIAL],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=SPECIAL,
        eos_token=SPECIAL,
        pad_token=SPECIAL,
        unk_token=None,
        padding_side="right",
        model_max_length=1024,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


# --------------------------------------------------------------------------- models


def _token_ids(tokenizer) -> dict:
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else eos
    return {"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad}


def _check_shape(n_layers: int, hidden: int, heads: int) -> None:
    if n_layers < 1:
        raise LabkitError(f"n_layers={n_layers}: expected >= 1")
    if hidden % heads or (hidden // heads) % 2:
        raise LabkitError(f"hidden={hidden}, heads={heads}: hidden must be a multiple of heads "
                          "with an even head size")


def _seeded_build(cls, config, seed: int):
    """Build ``cls(config)`` under ``seed`` without disturbing the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    model.eval()
    return model


def tiny_causal_lm(tokenizer, *, n_layers: int = 2, hidden: int = 64, heads: int = 4,
                   seed: int = 0, max_positions: int = 1024) -> LlamaForCausalLM:
    """A random-init Llama-architecture causal LM sized to ``tokenizer``.

    Tied input/output embeddings (like SmolLM2), SiLU MLP of width 4*hidden, RMSNorm.

    Returns:
        LlamaForCausalLM in eval mode, float32, on CPU.
    """
    _check_shape(n_layers, hidden, heads)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=n_layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        **_token_ids(tokenizer),
    )
    return _seeded_build(LlamaForCausalLM, config, seed)


def tiny_seq2seq(tokenizer, *, n_layers: int = 2, hidden: int = 64, heads: int = 4,
                 seed: int = 0) -> T5ForConditionalGeneration:
    """A random-init T5 encoder-decoder sized to ``tokenizer`` (decoder starts from the pad token).

    Returns:
        T5ForConditionalGeneration in eval mode, float32, on CPU.
    """
    _check_shape(n_layers, hidden, heads)
    ids = _token_ids(tokenizer)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=hidden,
        d_kv=hidden // heads,
        d_ff=4 * hidden,
        num_layers=n_layers,
        num_decoder_layers=n_layers,
        num_heads=heads,
        decoder_start_token_id=ids["pad_token_id"],
        pad_token_id=ids["pad_token_id"],
        eos_token_id=ids["eos_token_id"],
    )
    return _seeded_build(T5ForConditionalGeneration, config, seed)


def build_tiny_teacher(*, n_layers: int = 4, hidden: int = 128, heads: int = 4,
                       vocab_size: int = 1024, seed: int = 0):
    """The catalog's ``tiny`` model: default corpus tokenizer (vocab ~1024) + 4-layer Llama, seed 0.

    Returns:
        (model, tokenizer)
    """
    tok = train_tokenizer(default_corpus(), vocab_size=vocab_size)
    return tiny_causal_lm(tok, n_layers=n_layers, hidden=hidden, heads=heads, seed=seed), tok
