"""labkit.lean_llama: the plain-tensor Llama decoder gives the transformers forward's log-probabilities (float64,
left-padded rows, finished rows masked, grouped-query attention, biases), the same samples through
sample_responses, and refuses models it does not compute exactly (LoRA layers, other architectures)."""

from __future__ import annotations

import pytest
import torch

from labkit import lean_llama, tiny
from labkit import sequences as S

PROMPTS = ["Q: Ann has 3 apples. How many?\nA:", "Q: Bo?\nA:", "Q: Carol has 12 cups and gets 4 more cups.\nA:"]


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=200), vocab_size=400)


def llama(tok, *, heads=4, kv_heads=4, bias=False, seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        attention_bias=bias,
        mlp_bias=bias,
        max_position_embeddings=256,
        rope_theta=500.0,
        tie_word_embeddings=False,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    m = LlamaForCausalLM(cfg).double().eval()
    with torch.no_grad():  # non-trivial norms and biases, so that a misplaced one shows
        for name, p in m.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.3 * torch.randn_like(p))
    return m


def full_forward_log_probs(model, ids: list[int]) -> torch.Tensor:
    """The independent reference: one unpadded sequence through the transformers forward, no cache."""
    with torch.no_grad():
        return torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].double(), -1)


@pytest.mark.parametrize("heads,kv_heads,bias", [(4, 4, False), (4, 2, True)])
def test_log_probs_equal_the_full_forward_on_padded_rows(tok, heads, kv_heads, bias):
    model = llama(tok, heads=heads, kv_heads=kv_heads, bias=bias)
    assert lean_llama.supports(model)
    prompts = [S.prompt_ids(tok, p) for p in PROMPTS]
    assert len({len(p) for p in prompts}) == 3  # left padding matters
    batch = S.collate_rollouts([{"prompt": p, "response": []} for p in prompts], tok.pad_token_id, "cpu")
    P = batch["P"]
    ids, mask, pos = (batch[k][:, :P] for k in ("input_ids", "attention_mask", "position_ids"))
    dec = lean_llama.LlamaDecoder(model, ids, mask, pos, max_new_tokens=6)
    seqs = [list(p) for p in prompts]
    g = torch.Generator().manual_seed(3)
    for step in range(5):
        lp = dec.log_probs(1.0)
        for i, s in enumerate(seqs):
            if s is not None:
                # float64 weights; log_probs returns float32 (as the transformers path does), hence 1e-6
                torch.testing.assert_close(lp[i].double(), full_forward_log_probs(model, s), atol=1e-6, rtol=0)
        tok_ = torch.multinomial(lp.exp(), 1, generator=g).squeeze(1)
        real = torch.tensor([s is not None for s in seqs])
        if step == 1:  # row 1 finishes: its later tokens are pads, masked from attention
            real[1] = False
            seqs[1] = None
        tok_ = torch.where(real, tok_, torch.full_like(tok_, tok.pad_token_id))
        for i, s in enumerate(seqs):
            if s is not None:
                s.append(int(tok_[i]))
        dec.advance(tok_, real)


def test_sample_responses_draw_the_same_tokens_with_and_without_it(tok, monkeypatch):
    model = llama(tok, heads=4, kv_heads=2, seed=1).float()
    teacher = llama(tok, seed=2).float()
    prompts = [S.prompt_ids(tok, p) for p in PROMPTS] * 3
    stops = set(range(len(tok) - 30, len(tok)))  # random models: many "eos" ids end rows early
    kw = dict(max_new_tokens=12, eos_id=stops, pad=tok.pad_token_id, teacher=teacher, teacher_mix=0.3, batch_size=4)
    assert lean_llama.supports(model) and lean_llama.supports(teacher)  # the lean path is the one compared
    lean = S.sample_responses(model, prompts, generator=torch.Generator().manual_seed(0), **kw)
    monkeypatch.setenv("LABKIT_LEAN_DECODE", "0")
    assert not lean_llama.enabled()
    ref = S.sample_responses(model, prompts, generator=torch.Generator().manual_seed(0), **kw)
    assert lean == ref
    assert len({len(r) for r in lean}) > 1  # some rows stop early, some run on


def test_refuses_models_it_does_not_compute(tok):
    from peft import LoraConfig, get_peft_model

    assert lean_llama.supports(tiny.tiny_causal_lm(tok, n_layers=1, hidden=32, heads=2, seed=0))
    lora = get_peft_model(llama(tok), LoraConfig(r=2, target_modules=["q_proj"]))
    assert not lean_llama.supports(lora)
    assert not lean_llama.supports(lora.get_base_model())  # LoRA layers injected in place
    family = tiny.stand_in_family("openai-community/gpt2")
    assert not lean_llama.supports(tiny.family_model(family, tiny.family_tokenizer(family)))


def test_cache_overflow_is_an_error(tok):
    model = llama(tok)
    ids = torch.tensor([S.prompt_ids(tok, PROMPTS[1])])
    dec = lean_llama.LlamaDecoder(model, ids, torch.ones_like(ids), torch.arange(ids.shape[1])[None], max_new_tokens=1)
    dec.log_probs(1.0)
    dec.advance(torch.tensor([5]), torch.tensor([True]))
    dec.log_probs(1.0)  # the one new position fits
    with pytest.raises(RuntimeError, match="exceed the cache"):
        dec.advance(torch.tensor([5]), torch.tensor([True]))
