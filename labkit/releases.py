"""The papers' public data releases, one command away: pinned URLs, download, unpack, validate.

    labkit data fetch tinyllm dss                 # into $LABKIT_DATA (default $LABKIT_HOME/data)
    labkit data fetch dss --dest ~/data           # then: --data-dir ~/data, or LABKIT_DATA=~/data

    import labkit as lk
    lk.releases.fetch(["tinyllm", "dss"])         # -> the data folder (holds tinyllm/ and dss/)

Each release is a file at an immutable URL (a git commit, never a branch):

- ``tinyllm``: the TinyLLM code release (Tian et al., Apache-2.0) at commit 9f5bebe, as GitHub's
  archive of that commit; we keep ``datasets/obqa`` and ``datasets/arc`` (questions + FLAN-T5-xl and
  LLaMA-2-chat rationales). Every kept file is checked against its SHA-256, computed from the
  git blobs of that commit.
- ``dss``: distilling step-by-step's ``datasets.zip`` (Hsieh et al., Apache-2.0) at commit ef94426;
  we keep ``datasets/cqa`` and ``datasets/svamp`` (questions + PaLM-540B rationales). No hash of the
  zip could be computed here (no copy of it was reachable), so it is validated by loading only, and
  the SHA-256 it had is recorded in the manifest for later comparison.

Steps, each safe to interrupt: pooch downloads into a temporary file renamed when complete (an
interrupted download restarts from zero, never leaves half a file); the archive is unpacked into a
temporary folder next to the destination; every dataset in it is *loaded* (row counts per split as
the release documents them, rationales parsed); only then are the datasets moved into place, one
rename each, with a ``manifest.json``. A second call finds the manifest and does nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pooch

pooch.get_logger().setLevel("WARNING")  # our own messages say what is downloaded and checked

from labkit import data
from labkit.errors import LabkitError
from labkit.paths import data_home

MIN_PARSED = 0.95  # a release whose rationales parse less often than this is not the one we know


@dataclass(frozen=True)
class Release:
    """A public data release: where it is, what to keep from it, and what a good copy holds.

    Args:
        name: "tinyllm" or "dss" (the family in labkit.data).
        url: immutable URL of an archive (.tar.gz or .zip).
        members: {dataset: folder inside the archive}; the folder's files go to <dest>/<name>/<dataset>/.
        rows: {dataset: {split: rows}} as the release documents them.
        sha256: {"<dataset>/<path>": hex} per kept file ({} = validate by loading only).
        archive_sha256: hex of the archive itself, or None when unknown.
    """

    name: str
    url: str
    members: dict[str, str]
    rows: dict[str, dict[str, int]]
    sha256: dict[str, str] = field(default_factory=dict)
    archive_sha256: str | None = None
    licence: str = ""


TINYLLM_COMMIT = "9f5bebec8b22037f80ffa8d17bfeb01a2a524a3b"
DSS_COMMIT = "ef944263c9ddfd40a9888557f3e7d17513fd1a7e"

RELEASES = {
    "tinyllm": Release(
        name="tinyllm",
        url=f"https://github.com/YikunHan42/TinyLLM/archive/{TINYLLM_COMMIT}.tar.gz",
        members={"obqa": f"TinyLLM-{TINYLLM_COMMIT}/datasets/obqa", "arc": f"TinyLLM-{TINYLLM_COMMIT}/datasets/arc"},
        rows={"obqa": {"train": 4957, "valid": 500, "test": 500}, "arc": {"train": 1117, "valid": 295, "test": 1165}},
        sha256={
            "arc/arc_test.json": "bcdb5956e060f1f24e0dbf9e5832fecab74341f3844c1c0e7883f8ef95bb686c",
            "arc/arc_train.json": "87b67a6c8491577afc8b8d302ab029bcfc409ed453321667cd4b26080bb3b6bc",
            "arc/arc_valid.json": "9b1f66c13c857ebaf72c1f6aefc6aac882363eb3a84ad379394df0410a2cb7a5",
            "arc/llm/test_CoT_0.json": "8df18e16f1755125d398918b6d04ba6729505686666effa0e31009520504fd55",
            "arc/llm/test_CoT_1.json": "7744493752bf8bbff9fb785412c35cd1d3ab9bfc1e00fa5f809ac699ffa4d804",
            "arc/llm/test_CoT_2.json": "b1cc07b7866c8b6eaf6f2d37d75bebf742a51180723184db36d6ec712529cad0",
            "arc/llm/train_CoT_0.json": "fc0bbac6c58971bd5f160da6f7520197edff22a462684093ff8fc7a46f3be983",
            "arc/llm/train_CoT_1.json": "439a501fcc2488d3132c5fe9e3da0aa89d771d586abb682e071085d56a76afa7",
            "arc/llm/train_CoT_2.json": "c9bbe91bbdaa3af96ef6d10c74a2b27c41d9e2a790d36f645819f381250fd0b0",
            "arc/llm/valid_CoT_0.json": "fb6ba5a743e4e9ca01d55803f08dd6baec5bdc62616e8bae2a176926b97f95de",
            "obqa/llm/test_CoT_0.json": "e2e13817e4b8020ce738951d34e8342b1a8ea24b23d6358f83d368336066918d",
            "obqa/llm/train_CoT_0.json": "808aeceb806f86f54ee4533159e560ee500bc64a43c3fcbcf0703f6e631ab744",
            "obqa/llm/train_CoT_1.json": "c0ca41b9c5e2b32790d0cf2bac18b873e23d810d1535cb3c850508c591444dec",
            "obqa/llm/train_CoT_2.json": "f21141ab9e4cf3d75a61a21abbe5842d1419615710867a4deeb1050179a28995",
            "obqa/llm/train_CoT_3.json": "bfe57f402a4a12fcd27f7aaec184f216621ebd8b4fe1c296e1812ca01a14a8da",
            "obqa/llm/train_CoT_4.json": "f452bf6130ecf7fd3b252caa33d61e1d8d726d2ad02e1ca291746b4f7ced453e",
            "obqa/llm/train_CoT_5.json": "892251aabb1f39802f95e8df19e2ed049eb2fb799e92500660324e7bac3b67f5",
            "obqa/llm/train_CoT_6.json": "3727ee5826bffcfcca537787ba6c47db8f58bcb276e9b8f9c674caadc02e3bbf",
            "obqa/llm/train_CoT_7.json": "24d7d0b03425204d79bdaf018f85ee02fd743267455d25ee9586d7b921efe1aa",
            "obqa/llm/train_CoT_8.json": "895c86c5c4ecc3c9811e4e819f389329adf4d1f27883857cba28c64912526d08",
            "obqa/llm/train_CoT_9.json": "4119922974804e97a9c13ad8198e2dbd710e841c91c6fbafa4c3b1197139be51",
            "obqa/llm/valid_CoT_0.json": "83ce667f26561ae4268dd79fc333b96b9ba19cc7331e9f159bc416fb71244bd7",
            "obqa/obqa_test.json": "fa468c9b1548c5fcd92982b7efa18ad8bcd8ab57ea5acdcc1c50291c51127c9b",
            "obqa/obqa_train.json": "cfeec3fa9af8750ec164548108a2920db08ed6aad264bcadfd47aef94a72fcc2",
            "obqa/obqa_valid.json": "8703b278ce12eab49f000f1f247e6839c2ea4d4fc009513915a0d3b654c6b8f1",
        },
        licence="Apache-2.0 (TinyLLM code release); questions: OpenBookQA, ARC",
    ),
    "dss": Release(
        name="dss",
        url=f"https://github.com/google-research/distilling-step-by-step/raw/{DSS_COMMIT}/datasets.zip",
        members={"cqa": "datasets/cqa", "svamp": "datasets/svamp"},
        rows={"cqa": {"train": 9741, "test": 1221}, "svamp": {"train": 800, "test": 200}},
        licence="Apache-2.0 (distilling step-by-step); questions: CommonsenseQA, SVAMP",
    ),
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(release: Release, cache: Path, progress: bool) -> Path:
    """The archive in `cache` (pooch: temporary file, renamed when complete; hash checked when known)."""
    fname = f"{release.name}-{release.url.rsplit('/', 1)[-1]}"
    if not (cache / fname).exists():
        print(f"{release.name}: downloading {release.url}", flush=True)
    try:
        return Path(
            pooch.retrieve(
                release.url, known_hash=release.archive_sha256, fname=fname, path=cache, progressbar=progress
            )
        )
    except ValueError as e:  # pooch: hash mismatch (the bad file is removed)
        raise LabkitError(f"{release.url}: {e}") from None
    except Exception as e:  # requests' connection errors and HTTP errors
        raise LabkitError(
            f"could not download the {release.name} release from {release.url} ({type(e).__name__}: {e}). "
            f"Without network: copy the files to a folder holding {release.name}/ and pass --data-dir DIR "
            f"or set LABKIT_DATA=DIR."
        ) from None


def _unpack(archive: Path, release: Release, into: Path) -> None:
    """Extract each kept member folder to into/<dataset>/ (paths checked: nothing outside `into`)."""
    prefixes = {ds: folder.rstrip("/") + "/" for ds, folder in release.members.items()}

    def target(member: str) -> Path | None:
        for ds, prefix in prefixes.items():
            if member.startswith(prefix) and not member.endswith("/"):
                rel = Path(member[len(prefix) :])
                if rel.is_absolute() or ".." in rel.parts:
                    raise LabkitError(f"{archive}: unsafe path {member!r} in the archive")
                return into / ds / rel
        return None

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    out = target(info.filename)
                    if out is not None:
                        out.parent.mkdir(parents=True, exist_ok=True)
                        with z.open(info) as src, open(out, "wb") as dst:
                            shutil.copyfileobj(src, dst)
        else:
            with tarfile.open(archive) as t:
                for info in t:
                    out = target(info.name) if info.isfile() else None
                    if out is not None:
                        out.parent.mkdir(parents=True, exist_ok=True)
                        with t.extractfile(info) as src, open(out, "wb") as dst:
                            shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        archive.unlink(missing_ok=True)  # a corrupt download is not kept: the next call downloads again
        raise LabkitError(
            f"{archive}: not a readable archive ({type(e).__name__}: {e}); removed, run again to download it anew"
        ) from None
    missing = [ds for ds in release.members if not (into / ds).is_dir()]
    if missing:
        raise LabkitError(f"{release.url}: the archive has no {', '.join(release.members[m] for m in missing)}")


def validate(release: Release, folder: Path) -> dict:
    """Check a release unpacked in folder/<dataset>/: file hashes (when pinned), row counts, parse rates.

    Returns {dataset: labkit.data.dataset_info(...) summary}; raises LabkitError naming the file and the
    expected and found values.
    """
    for rel, expected in release.sha256.items():
        path = folder / rel
        if not path.is_file():
            raise LabkitError(f"{path}: missing from the {release.name} release")
        found = _sha256(path)
        if found != expected:
            raise LabkitError(f"{path}: SHA-256 {found}, expected {expected} ({release.name} at {release.url})")
    summary = {}
    for ds, splits in release.rows.items():
        info = data.dataset_info(f"{release.name}:{ds}", data_dir=folder / ds)
        for split, n in splits.items():
            if info["splits"].get(split) != n:
                raise LabkitError(f"{folder / ds}/{ds}_{split}.json: {info['splits'].get(split)} rows, expected {n}")
        for teacher, r in info["rationales"].items():
            if r["total"] and r["parsed"] / r["total"] < MIN_PARSED:
                raise LabkitError(
                    f"{folder / ds}/llm: {r['parsed']}/{r['total']} {teacher} rationales parse, "
                    f"expected at least {MIN_PARSED:.0%}"
                )
        summary[ds] = {
            "splits": info["splits"],
            "rationales_parsed": {t: f"{r['parsed']}/{r['total']}" for t, r in info["rationales"].items()},
        }
    return summary


def _installed(dest: Path, release: Release) -> bool:
    try:
        manifest = json.loads((dest / release.name / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("url") == release.url and all((dest / release.name / ds).is_dir() for ds in release.rows)


def fetch(
    names, dest=None, *, releases: dict[str, Release] | None = None, force: bool = False, progress: bool = True
) -> Path:
    """Download, unpack and validate the named releases into `dest` (default: ``data_home()``).

    Returns the data folder (pass it as data_dir / --data-dir, or set LABKIT_DATA to it). A release
    already in place (its manifest names the same URL) is skipped unless force.
    """
    releases = releases or RELEASES
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in releases]
    if unknown or not names:
        raise LabkitError(f"unknown release(s) {unknown or names}: expected some of {', '.join(releases)}")
    dest = Path(dest).expanduser() if dest is not None else data_home()
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        release = releases[name]
        if _installed(dest, release) and not force:
            print(f"{name}: already in {dest / name} (manifest.json); --force to fetch again")
            continue
        archive = _download(release, dest / ".downloads", progress)
        with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=dest) as tmp:
            staged = Path(tmp)
            _unpack(archive, release, staged)
            summary = validate(release, staged)
            family = dest / name
            family.mkdir(exist_ok=True)
            for ds in release.members:  # one rename per dataset: never half a dataset
                final = family / ds
                if final.exists():
                    shutil.rmtree(final)
                os.replace(staged / ds, final)
            manifest = {
                "release": name,
                "url": release.url,
                "archive_sha256": _sha256(archive),
                "files_checked": len(release.sha256),
                "licence": release.licence,
                "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "datasets": summary,
            }
            tmp_manifest = family / "manifest.json.tmp"
            tmp_manifest.write_text(json.dumps(manifest, indent=2))
            os.replace(tmp_manifest, family / "manifest.json")
        for ds, s in summary.items():
            print(
                f"{name}:{ds}: "
                + ", ".join(f"{k} {v}" for k, v in s["splits"].items())
                + "; rationales "
                + ", ".join(f"{t} {v}" for t, v in s["rationales_parsed"].items())
            )
    return dest


def cli_fetch(args) -> int:
    """`labkit data fetch NAME... [--dest DIR] [--force]`."""
    dest = fetch(args.names, args.dest, force=args.force)
    print(f"data: {dest}  (use --data-dir {dest} or LABKIT_DATA={dest})")
    return 0
