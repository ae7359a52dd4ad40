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

import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
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
            q = (
                f"{who} has {a} {obj}s. {other} gives {who} {b} more, then {who} loses {c}. "
                f"How many {obj}s does {who} have now?"
            )
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


def train_tokenizer(corpus: list[str], vocab_size: int = 512, *, split_digits: bool = False) -> PreTrainedTokenizerFast:
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
        raise LabkitError(
            f"train_tokenizer: vocab_size={vocab_size} is too small; expected >= 258 "
            "(256 bytes + special token + one merge)"
        )
    if not isinstance(split_digits, bool):
        raise LabkitError(f"train_tokenizer: split_digits={split_digits!r}; expected True or False")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(corpus, vocab_size, [SPECIAL], split_digits),
        bos_token=SPECIAL,
        eos_token=SPECIAL,
        pad_token=SPECIAL,
        unk_token=None,
        padding_side="right",
        model_max_length=1024,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _train_bpe(corpus: list[str], vocab_size: int, specials: list[str], split_digits: bool) -> Tokenizer:
    """Byte-level BPE trained on ``corpus`` with ``specials`` first in the vocabulary (ids 0, 1, ...)."""
    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = (
        pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
        if split_digits
        else byte_level
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


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
        raise LabkitError(f"hidden={hidden}, heads={heads}: hidden must be a multiple of heads with an even head size")


def _seeded_build(cls, config, seed: int):
    """Build ``cls(config)`` under ``seed`` without disturbing the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    model.eval()
    return model


def tiny_causal_lm(
    tokenizer, *, n_layers: int = 2, hidden: int = 64, heads: int = 4, seed: int = 0, max_positions: int = 1024
) -> LlamaForCausalLM:
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


def tiny_seq2seq(
    tokenizer, *, n_layers: int = 2, hidden: int = 64, heads: int = 4, seed: int = 0
) -> T5ForConditionalGeneration:
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


def build_tiny_teacher(*, n_layers: int = 4, hidden: int = 128, heads: int = 4, vocab_size: int = 1024, seed: int = 0):
    """The catalog's ``tiny`` model: default corpus tokenizer (vocab ~1024) + 4-layer Llama, seed 0.

    Returns:
        (model, tokenizer)
    """
    tok = train_tokenizer(default_corpus(), vocab_size=vocab_size)
    return tiny_causal_lm(tok, n_layers=n_layers, hidden=hidden, heads=heads, seed=seed), tok


# --------------------------------------------------------------------------- dry-run stand-ins

DRY_RUN_ENV = "LABKIT_DRY_RUN"  # "1": load_model/resolve() swap in tiny stand-ins (--dry-run sets it)
DRY_RUN_CACHE_ENV = "LABKIT_DRY_RUN_CACHE"  # where stand-ins are saved (default: a per-user temp folder)
STAND_IN_RECIPE = "stand-in-v1"  # bump when a family below changes: cached stand-ins are rebuilt

_CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def dry_run() -> bool:
    """Whether this process is a dry run (``$LABKIT_DRY_RUN``). The one place that reads the variable:
    ``labkit.models`` loads tiny stand-ins and ``labkit.lab.profiles.resolve`` shrinks the paper profile."""
    value = os.environ.get(DRY_RUN_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise LabkitError(f"${DRY_RUN_ENV}={value!r}: expected 1 (dry run) or 0")


@dataclass(frozen=True)
class Family:
    """A model family's architecture and tokenizer conventions, as a tiny stand-in reproduces them.

    specials: special tokens (ids 0, 1, ... in order); bos/eos/pad/unk name them (None: the family has none,
    e.g. GPT-2 and Llama-2 have no pad token); template: the post-processor's single-text template
    ("<s> $A": the tokenizer prepends bos, "$A </s>": T5 appends eos); layers: stand-in layer count (the real
    count where a notebook derives ``NAME@layers=K`` students from it)."""

    name: str
    arch: str
    specials: tuple
    bos: str | None
    eos: str
    pad: str | None
    unk: str | None
    template: str = "$A"
    split_digits: bool = False
    vocab: int = 512
    layers: int = 2
    chat: str | None = None
    options: tuple = ()


FAMILIES = {
    "t5": Family(
        "t5",
        "T5ForConditionalGeneration",
        ("<pad>", "</s>", "<unk>"),
        None,
        "</s>",
        "<pad>",
        "<unk>",
        template="$A </s>",
        options=(("feed_forward_proj", "relu"), ("tie_word_embeddings", True)),
    ),
    "flan-t5": Family(
        "flan-t5",
        "T5ForConditionalGeneration",
        ("<pad>", "</s>", "<unk>"),
        None,
        "</s>",
        "<pad>",
        "<unk>",
        template="$A </s>",
        options=(("feed_forward_proj", "gated-gelu"), ("tie_word_embeddings", False)),
    ),  # T5 v1.1:
    # transformers 5 ties T5's embeddings always and reads tie_word_embeddings=False as "no decoder output scaling"
    "gpt2": Family(
        "gpt2", "GPT2LMHeadModel", ("<|endoftext|>",), "<|endoftext|>", "<|endoftext|>", None, "<|endoftext|>"
    ),
    "llama": Family(
        "llama",
        "LlamaForCausalLM",
        ("<unk>", "<s>", "</s>"),
        "<s>",
        "</s>",
        None,
        "<unk>",
        template="<s> $A",
        split_digits=True,
        options=(("tie_word_embeddings", False),),
    ),
    "smollm2": Family(
        "smollm2",
        "LlamaForCausalLM",
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        "<|im_start|>",
        "<|im_end|>",
        "<|im_end|>",
        "<|endoftext|>",
        split_digits=True,
        layers=30,
        chat=_CHATML,
        options=(("tie_word_embeddings", True),),
    ),
    "gemma3": Family(
        "gemma3",
        "Gemma3ForCausalLM",
        ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"),
        "<bos>",
        "<eos>",
        "<pad>",
        "<unk>",
        template="<bos> $A",
        split_digits=True,
        vocab=768,
        layers=18,
    ),
}

# model name (lower case) -> family: the first pattern that matches wins
STAND_INS = (
    (r"^smollm2-|smollm", "smollm2"),
    (r"^gemma3-|gemma-?3", "gemma3"),
    (r"flan-t5|t5-v1[._]1", "flan-t5"),
    (r"(^|/)t5-|^google-t5/", "t5"),
    (r"gpt2", "gpt2"),
    (r"llama", "llama"),
)


def stand_in_family(name: str) -> Family:
    """The family whose tiny stand-in replaces model ``name`` in a dry run; LabkitError when none fits."""
    low = str(name).lower()
    for pattern, family in STAND_INS:
        if re.search(pattern, low):
            return FAMILIES[family]
    raise LabkitError(
        f"dry run: no tiny stand-in for model {name!r} (families with one: "
        f"{', '.join(FAMILIES)}; add its family to labkit.tiny.STAND_INS so the dry run can check it)"
    )


def family_tokenizer(family: Family) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer on the default corpus with the family's special tokens and conventions."""
    tok = _train_bpe(default_corpus(), family.vocab, list(family.specials), family.split_digits)
    if family.template != "$A":
        ids = {t: family.specials.index(t) for t in family.specials if t in family.template}
        tok.post_processor = processors.TemplateProcessing(
            single=family.template,
            pair=f"{family.template} {family.template.replace('$A', '$B')}",
            special_tokens=list(ids.items()),
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=family.bos,
        eos_token=family.eos,
        pad_token=family.pad,
        unk_token=family.unk,
        padding_side="right",
        model_max_length=1024,
    )
    if family.chat:
        fast.chat_template = family.chat
    return fast


def family_model(family: Family, tokenizer, *, hidden: int = 64, heads: int = 4, seed: int = 0):
    """A random-init model of the family's architecture class sized to ``tokenizer``."""
    import transformers as tf

    def tid(token):
        return tokenizer.convert_tokens_to_ids(token) if token else None

    ids = {"bos_token_id": tid(family.bos), "eos_token_id": tid(family.eos), "pad_token_id": tid(family.pad)}
    opts = dict(family.options)
    n, v = family.layers, len(tokenizer)
    if family.arch == "T5ForConditionalGeneration":
        config = tf.T5Config(
            vocab_size=v,
            d_model=hidden,
            d_kv=hidden // heads,
            d_ff=2 * hidden,
            num_layers=n,
            num_decoder_layers=n,
            num_heads=heads,
            decoder_start_token_id=ids["pad_token_id"],
            pad_token_id=ids["pad_token_id"],
            eos_token_id=ids["eos_token_id"],
            **opts,
        )
    elif family.arch == "GPT2LMHeadModel":
        config = tf.GPT2Config(
            vocab_size=v,
            n_positions=1024,
            n_embd=hidden,
            n_layer=n,
            n_head=heads,
            bos_token_id=ids["bos_token_id"],
            eos_token_id=ids["eos_token_id"],
        )
    elif family.arch == "LlamaForCausalLM":
        config = tf.LlamaConfig(
            vocab_size=v,
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=n,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=2048,
            **ids,
            **opts,
        )
    elif family.arch == "Gemma3ForCausalLM":
        config = tf.Gemma3TextConfig(
            vocab_size=v,
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=n,
            num_attention_heads=heads,
            num_key_value_heads=1,
            head_dim=hidden // heads,
            sliding_window=64,
            max_position_embeddings=2048,
            **ids,
        )
    else:  # a Family added without a builder
        raise LabkitError(
            f"dry run: family {family.name!r} names architecture {family.arch!r}, which "
            "labkit.tiny.family_model cannot build"
        )
    return _seeded_build(getattr(tf, family.arch), config, seed)


def dry_run_cache() -> Path:
    """``$LABKIT_DRY_RUN_CACHE`` or ``<tempdir>/labkit-dry-run-<uid>``."""
    value = os.environ.get(DRY_RUN_CACHE_ENV)
    return Path(value).expanduser() if value else Path(tempfile.gettempdir()) / f"labkit-dry-run-{os.getuid()}"


def stand_in(name: str) -> Path:
    """The tiny stand-in of model ``name`` (a hub id or catalog name): a saved Hugging Face directory (model,
    tokenizer, ``config.labkit_stand_in_for``), built once from a config (seed 0, no download) and cached under
    dry_run_cache(). Larger siblings (``-xl``, ``-large``, ``7b``) get a wider stand-in than the base model,
    with the family's tokenizer, so a teacher and its student still share one vocabulary."""
    family = stand_in_family(name)
    hidden = 96 if re.search(r"xl|large|\d+b\b|\d+b-", str(name).lower()) else 64
    key = hashlib.sha256(f"{STAND_IN_RECIPE}|{name}|{family}|{hidden}".encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name))[-60:]
    root = dry_run_cache()
    dest = root / f"{slug}-{key}"
    if (dest / "stand_in.json").is_file():
        return dest
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{slug}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (dest / "stand_in.json").is_file():  # built by another process while we waited
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=f".{slug}.tmp-", dir=root))
        try:
            from transformers.utils import logging as hf_logging

            tok = family_tokenizer(family)
            model = family_model(family, tok, hidden=hidden)
            model.config.labkit_stand_in_for = str(name)
            was = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # a widget in a kernel (see labkit.models.quiet_progress)
            try:
                model.save_pretrained(str(tmp))
            finally:
                if was:
                    hf_logging.enable_progress_bar()
            tok.save_pretrained(str(tmp))
            (tmp / "stand_in.json").write_text(
                json.dumps(
                    {
                        "stand_in_for": str(name),
                        "family": family.name,
                        "architecture": family.arch,
                        "recipe": STAND_IN_RECIPE,
                        "hidden": hidden,
                        "layers": family.layers,
                        "vocab": len(tok),
                    },
                    indent=2,
                )
            )
            os.rename(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def stand_in_rows(schema: str, n: int = 32, seed: int = 0) -> list[dict]:
    """``n`` rows in the shape a Hugging Face dataset ``schema`` has on the hub (labkit.data.HUB_DATASETS:
    field names, nesting, answer keys), with made-up text: what a dry run loads instead of the hub, so that the
    real row mapping (labkit.data.from_hub_row) and everything after it run without a download."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(2, 60), rng.randint(2, 40)
        obj = rng.choice(_OBJECTS)
        question = f"A box has {a} {obj}s and {b} more are added. How many {obj}s are in the box?"
        texts = [str(a + b), str(a + b + 1), str(a - b), str(a * b)]
        rng.shuffle(texts)
        labels = ["A", "B", "C", "D"]
        key = labels[texts.index(str(a + b))]
        choices = {"text": texts, "label": labels}
        if schema == "openbookqa":
            rows.append(
                {
                    "id": f"obqa-{i}",
                    "question_stem": question,
                    "choices": choices,
                    "answerKey": key,
                    "fact1": "adding items increases the count",
                }
            )
        elif schema in ("arc", "commonsenseqa"):
            rows.append(
                {
                    "id": f"{schema}-{i}",
                    "question": question,
                    "choices": choices,
                    "answerKey": key,
                    "question_concept": obj,
                }
            )
        elif schema == "riddlesense":
            rows.append({"question": f"{question} ({i})", "choices": choices, "answerKey": key})
        elif schema == "piqa":
            label = i % 2
            sols = [f"Count all {a + b}.", f"Count only {a}."]
            rows.append(
                {"goal": f"Count the {obj}s ({i}).", "sol1": sols[label], "sol2": sols[1 - label], "label": label}
            )
        elif schema == "pubmedqa":
            rows.append(
                {
                    "pubid": 1000 + i,
                    "question": f"Does adding {obj}s raise the count ({i})?",
                    "context": {"contexts": [rng.choice(_SENTENCES)]},
                    "final_decision": "yes",
                    "long_answer": "Yes, adding items raises the count.",
                }
            )
        elif schema == "dolly":
            rows.append(
                {
                    "instruction": f"Explain step by step: {question}",
                    "context": rng.choice(_SENTENCES) if i % 3 == 0 else "",
                    "response": f"{a} + {b} = {a + b}. So there are {a + b} {obj}s.",
                    "category": "open_qa" if i % 3 else "closed_qa",
                }
            )
        else:
            raise LabkitError(
                f"dry run: no stand-in rows for hub dataset schema {schema!r}; add it to "
                "labkit.tiny.stand_in_rows so the dry run can check it"
            )
    return rows
