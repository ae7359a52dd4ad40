"""Two tokenizations of one text, side by side: the bytes of every token, a vocabulary map, aligned spans.

    import labkit as lk
    al = lk.alignment.align(teacher_tok, student_tok, " Ann has 12 apples.")
    al.chunks          # [Chunk(teacher=(0, 1), student=(0, 1), text=b" Ann", kind="exact"), ...]
    al.counts()        # {"exact": 5, "merged": 1, ...}
    vmap = lk.alignment.vocab_map(teacher_tok, student_tok)     # cached on disk, content-addressed
    vmap.teacher_to_student[teacher_id]                          # student id with the same string, or -1

Why bytes. Character offsets from ``return_offsets_mapping`` disagree between tokenizer families
(a byte-level BPE token holding half of an emoji gets the whole emoji's offsets, whitespace may or
may not be counted, BOS has an empty span), so the lab reconstructs the exact bytes each token
contributes to the text: byte-level BPE (GPT-2, SmolLM2: "Ġ" = space, every byte a printable
character) through the inverse of GPT-2's byte table; SentencePiece-style tokenizers (Gemma: "▁" =
space, ``<0xNN>`` byte fallback) by replacing the marker and reading fallback bytes. Special tokens
(BOS, EOS, chat markers) contribute no bytes. Two tokenizations of the same text then have the same
byte string, and an aligned *chunk* is a stretch between byte positions where both have a token
boundary: "exact" when each side has one token there (the same string), "merged" otherwise (a
number split 1-vs-3, a word cut differently, a multi-byte character in pieces).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from labkit.errors import LabkitError
from labkit.paths import labkit_home

_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@lru_cache(maxsize=1)
def _gpt2_byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's bytes_to_unicode: the printable character standing for each byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _decoder_kind(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    text = str(backend.decoder) if backend is not None and backend.decoder is not None else ""
    if text.startswith("ByteLevel"):
        return "bytelevel"
    if "▁" in text or "ByteFallback" in text or "Metaspace" in text:
        return "metaspace"
    return "generic"


def token_bytes(tokenizer) -> list[bytes]:
    """The bytes each vocabulary entry contributes to a decoded text (b"" for special tokens).

    Cached on the tokenizer object (computing it for a 262k vocabulary takes about a second).
    """
    cached = getattr(tokenizer, "_labkit_token_bytes", None)
    if cached is not None:
        return cached
    kind, special = _decoder_kind(tokenizer), set(tokenizer.all_special_ids)
    table = _gpt2_byte_decoder()
    vocab = tokenizer.get_vocab()
    out = [b""] * max(len(tokenizer), max(vocab.values()) + 1)
    for tok, i in vocab.items():
        if i in special:
            continue
        if kind == "bytelevel":
            try:
                out[i] = bytes(table[c] for c in tok)
            except KeyError:  # an added token written in plain text
                out[i] = tok.encode("utf-8")
        elif kind == "metaspace":
            m = _BYTE_FALLBACK.match(tok)
            out[i] = bytes([int(m.group(1), 16)]) if m else tok.replace("▁", " ").encode("utf-8")
        else:
            out[i] = tokenizer.convert_tokens_to_string([tok]).encode("utf-8")
    tokenizer._labkit_token_bytes = out
    return out


def encode_plain(tokenizer, text: str) -> list[int]:
    """Token ids of `text` with no special tokens added (what both sides align)."""
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# --------------------------------------------------------------------------- aligned spans


@dataclass(frozen=True)
class Chunk:
    """Tokens teacher[a:b] and student[c:d] cover the same bytes `text`."""

    teacher: tuple[int, int]
    student: tuple[int, int]
    text: bytes
    kind: str  # "exact" (1 token each side) or "merged"


@dataclass
class Alignment:
    teacher_ids: list[int]
    student_ids: list[int]
    chunks: list[Chunk]
    teacher_special: list[int] = field(default_factory=list)  # positions with no bytes (BOS, EOS, ...)
    student_special: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Chunks by kind, and tokens covered on each side."""
        out = {"exact": 0, "merged": 0}
        for c in self.chunks:
            out[c.kind] += 1
        out["teacher_tokens"], out["student_tokens"] = len(self.teacher_ids), len(self.student_ids)
        out["teacher_special"], out["student_special"] = len(self.teacher_special), len(self.student_special)
        return out


def _ends(ids: list[int], table: list[bytes]) -> tuple[list[int], list[int], bytes]:
    """(byte end of every token, positions of zero-byte tokens, the whole byte string)."""
    ends, special, pos, parts = [], [], 0, []
    for k, i in enumerate(ids):
        b = table[i] if 0 <= i < len(table) else b""
        if not b:
            special.append(k)
        pos += len(b)
        parts.append(b)
        ends.append(pos)
    return ends, special, b"".join(parts)


def align_ids(teacher_tok, student_tok, teacher_ids: list[int], student_ids: list[int]) -> Alignment:
    """Align two token sequences of the same text; LabkitError when their bytes differ."""
    t_ends, t_special, t_text = _ends(teacher_ids, token_bytes(teacher_tok))
    s_ends, s_special, s_text = _ends(student_ids, token_bytes(student_tok))
    if t_text != s_text:
        k = next((i for i, (x, y) in enumerate(zip(t_text, s_text)) if x != y), min(len(t_text), len(s_text)))
        raise LabkitError(
            f"the two tokenizations are not of the same text: they differ at byte {k}: teacher "
            f"{t_text[max(0, k - 20) : k + 20]!r} vs student {s_text[max(0, k - 20) : k + 20]!r}"
        )
    t_real = [k for k in range(len(teacher_ids)) if k not in set(t_special)]
    s_real = [k for k in range(len(student_ids)) if k not in set(s_special)]
    chunks, i, j, start = [], 0, 0, 0
    while i < len(t_real) and j < len(s_real):
        a, c = i, j
        while t_ends[t_real[i]] != s_ends[s_real[j]]:  # advance the side that ends first
            if t_ends[t_real[i]] < s_ends[s_real[j]]:
                i += 1
            else:
                j += 1
        end = t_ends[t_real[i]]
        nt, ns = i - a + 1, j - c + 1
        kind = "exact" if nt == 1 and ns == 1 else "merged"
        chunks.append(Chunk((t_real[a], t_real[i] + 1), (s_real[c], s_real[j] + 1), t_text[start:end], kind))
        start, i, j = end, i + 1, j + 1
    return Alignment(list(teacher_ids), list(student_ids), chunks, t_special, s_special)


def align(teacher_tok, student_tok, text: str) -> Alignment:
    """Tokenize `text` with both tokenizers (no special tokens) and align the two sequences."""
    return align_ids(teacher_tok, student_tok, encode_plain(teacher_tok, text), encode_plain(student_tok, text))


# --------------------------------------------------------------------------- vocabulary map


@dataclass
class VocabMap:
    """teacher_to_student[i] = the student id whose token is the same string as teacher id i, else -1.

    Ordinary tokens match by their bytes (so "Ġthe" and "▁the" match: both are b" the"); special tokens
    match by their written form ("<|im_end|>"). student_to_teacher is the inverse (-1 where none).
    """

    teacher_to_student: torch.Tensor  # (V_t,) int64
    student_to_teacher: torch.Tensor  # (V_s,) int64
    key: str

    @property
    def n_matched(self) -> int:
        return int((self.teacher_to_student >= 0).sum())


def tokenizer_fingerprint(tokenizer) -> str:
    """SHA-256 of the vocabulary and the special tokens: equal for equal tokenizers, whatever their path."""
    doc = json.dumps(
        {
            "vocab": sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1]),
            "special": sorted(tokenizer.all_special_tokens),
            "decoder": _decoder_kind(tokenizer),
        }
    )
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def _build_map(teacher_tok, student_tok) -> tuple[torch.Tensor, torch.Tensor]:
    t_bytes, s_bytes = token_bytes(teacher_tok), token_bytes(student_tok)
    by_bytes = {}
    for i, b in enumerate(s_bytes):
        if b:
            by_bytes.setdefault(b, i)
    s_special = {t: i for t, i in zip(student_tok.all_special_tokens, student_tok.all_special_ids)}
    t2s = torch.full((len(t_bytes),), -1, dtype=torch.long)
    for i, b in enumerate(t_bytes):
        if b and b in by_bytes:
            t2s[i] = by_bytes[b]
    for t, i in zip(teacher_tok.all_special_tokens, teacher_tok.all_special_ids):
        if t in s_special and i < len(t2s):
            t2s[i] = s_special[t]
    s2t = torch.full((len(s_bytes),), -1, dtype=torch.long)
    hit = (t2s >= 0).nonzero()[:, 0]
    s2t[t2s[hit]] = hit  # where two teacher ids share a student id, the last one wins
    t2s[(s2t[t2s.clamp(min=0)] != torch.arange(len(t2s))) & (t2s >= 0)] = -1  # keep the map one-to-one
    return t2s, s2t


def vocab_map(teacher_tok, student_tok, cache_dir=None) -> VocabMap:
    """The exact-match map between two vocabularies, computed once per pair and cached on disk
    (``$LABKIT_HOME/vocab_maps/<teacher fingerprint>-<student fingerprint>.pt``, written atomically)."""
    key = f"{tokenizer_fingerprint(teacher_tok)[:16]}-{tokenizer_fingerprint(student_tok)[:16]}"
    path = Path(cache_dir) if cache_dir is not None else labkit_home() / "vocab_maps"
    file = path / f"{key}.pt"
    if file.is_file():
        try:
            state = torch.load(file, weights_only=True)
            return VocabMap(state["teacher_to_student"], state["student_to_teacher"], key)
        except (OSError, RuntimeError, KeyError):
            pass  # a damaged cache file is rebuilt below
    t2s, s2t = _build_map(teacher_tok, student_tok)
    path.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".tmp{os.getpid()}")
    torch.save({"teacher_to_student": t2s, "student_to_teacher": s2t}, tmp)
    os.replace(tmp, file)
    return VocabMap(t2s, s2t, key)
