"""labkit.releases (`labkit data fetch`) against a local HTTP server on 127.0.0.1 that serves archives
built here from ../shared/data: served, already there, interrupted, corrupt, wrong row count, offline."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import json
import os
import socket
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from labkit import data, releases
from labkit.cli import main as cli_main
from labkit.errors import LabkitError

DATA = Path(os.environ.get("LABKIT_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
pytestmark = pytest.mark.skipif(
    not (DATA / "tinyllm" / "arc").is_dir() or not (DATA / "dss" / "svamp").is_dir(),
    reason="real data (../shared/data) absent",
)


def _files(folder: Path):
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _tar_gz(prefix: str, folder: Path, edit=None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for p in _files(folder):
            raw = p.read_bytes()
            raw = edit(p, raw) if edit else raw
            info = tarfile.TarInfo(f"{prefix}/{p.relative_to(folder)}")
            info.size = len(raw)
            t.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def _zip(prefix: str, folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in _files(folder):
            z.writestr(f"{prefix}/{p.relative_to(folder)}", p.read_bytes())
    return buf.getvalue()


class _Server:
    """Serves {path: bytes} on 127.0.0.1; counts requests; `cut` sends only half of a body, then hangs up."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests, self.cut = files, [], set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if self.path in outer.cut else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _sha(folder: Path, names) -> dict[str, str]:
    return {
        f"arc/{p.relative_to(folder)}": hashlib.sha256(p.read_bytes()).hexdigest()
        for p in _files(folder)
        if p.name in names
    }


def _drop_last_valid_row(path: Path, raw: bytes) -> bytes:
    """The valid split (questions and rationales, JSON arrays) without its last row: 294 where 295 are expected."""
    if path.name not in ("arc_valid.json", "valid_CoT_0.json"):
        return raw
    return json.dumps(json.loads(raw)[:-1]).encode()


@pytest.fixture()
def server():
    arc = DATA / "tinyllm" / "arc"
    s = _Server(
        {
            "/tinyllm.tar.gz": _tar_gz("TinyLLM-x/datasets/arc", arc),
            "/dss.zip": _zip("datasets/svamp", DATA / "dss" / "svamp"),
            "/garbage.zip": b"PK\x03\x04 this is not a zip file at all" * 10,
            "/short.tar.gz": _tar_gz("TinyLLM-x/datasets/arc", arc, edit=_drop_last_valid_row),
        }
    )
    yield s
    s.close()


def _releases(url, tinyllm_path="/tinyllm.tar.gz", sha256=None):
    arc = DATA / "tinyllm" / "arc"
    return {
        "tinyllm": dataclasses.replace(
            releases.RELEASES["tinyllm"],
            url=url + tinyllm_path,
            members={"arc": "TinyLLM-x/datasets/arc"},
            rows={"arc": releases.RELEASES["tinyllm"].rows["arc"]},
            sha256=_sha(arc, {"arc_test.json", "train_CoT_0.json"}) if sha256 is None else sha256,
        ),
        "dss": dataclasses.replace(
            releases.RELEASES["dss"],
            url=url + "/dss.zip",
            members={"svamp": "datasets/svamp"},
            rows={"svamp": releases.RELEASES["dss"].rows["svamp"]},
        ),
    }


def test_fetch_unpacks_validates_and_loads_then_skips(server, tmp_path, capsys):
    dest = releases.fetch(["tinyllm", "dss"], tmp_path / "data", releases=_releases(server.url), progress=False)
    out = capsys.readouterr().out
    assert "tinyllm:arc: train 1117, valid 295, test 1165" in out and "dss:svamp: train 800, test 200" in out
    recs = data.load_dataset("tinyllm:arc", "valid", data_dir=dest)
    assert len(recs) == 295 and recs[0].rationales
    assert len(data.load_dataset("dss:svamp", "test", data_dir=dest)) == 200
    manifest = (dest / "tinyllm" / "manifest.json").read_text()
    assert server.url in manifest and '"files_checked": 2' in manifest
    assert not [p for p in dest.iterdir() if p.name.startswith(".tinyllm-") or p.name.startswith(".dss-")]
    n = len(server.requests)
    releases.fetch(["tinyllm", "dss"], dest, releases=_releases(server.url), progress=False)  # already there
    assert len(server.requests) == n and "already in" in capsys.readouterr().out


def test_interrupted_download_leaves_nothing_then_restarts(server, tmp_path):
    server.cut.add("/tinyllm.tar.gz")
    with pytest.raises(LabkitError, match="could not download the tinyllm release"):
        releases.fetch("tinyllm", tmp_path, releases=_releases(server.url), progress=False)
    assert not (tmp_path / "tinyllm").exists()
    assert not [p for p in (tmp_path / ".downloads").iterdir() if p.suffix == ".gz"]  # no half archive kept
    server.cut.clear()
    releases.fetch("tinyllm", tmp_path, releases=_releases(server.url), progress=False)
    assert (tmp_path / "tinyllm" / "arc" / "arc_test.json").is_file()


def test_failure_after_download_keeps_the_archive_and_installs_nothing(server, tmp_path, monkeypatch):
    def boom(release, folder):
        raise LabkitError("interrupted while validating")

    monkeypatch.setattr(releases, "validate", boom)
    with pytest.raises(LabkitError, match="interrupted"):
        releases.fetch("dss", tmp_path, releases=_releases(server.url), progress=False)
    assert not (tmp_path / "dss").exists() and not list(tmp_path.glob(".dss-*"))
    monkeypatch.undo()
    n = len(server.requests)
    releases.fetch("dss", tmp_path, releases=_releases(server.url), progress=False)
    assert len(server.requests) == n  # the downloaded archive was reused
    assert (tmp_path / "dss" / "svamp" / "svamp_train.json").is_file()


def test_corrupt_archive_is_removed_with_a_clear_error(server, tmp_path):
    rel = {"dss": dataclasses.replace(_releases(server.url)["dss"], url=server.url + "/garbage.zip")}
    with pytest.raises(LabkitError, match="not a readable archive"):
        releases.fetch("dss", tmp_path, releases=rel, progress=False)
    assert not list((tmp_path / ".downloads").glob("*garbage*")) and not (tmp_path / "dss").exists()


def test_wrong_row_count_and_wrong_hash_name_the_file(server, tmp_path):
    with pytest.raises(LabkitError, match=r"arc_valid\.json: 294 rows, expected 295"):
        releases.fetch("tinyllm", tmp_path, releases=_releases(server.url, "/short.tar.gz", sha256={}), progress=False)
    bad = {"arc/arc_test.json": "0" * 64}
    with pytest.raises(LabkitError, match=r"arc_test\.json: SHA-256 [0-9a-f]{64}, expected 0{64}"):
        releases.fetch("tinyllm", tmp_path / "b", releases=_releases(server.url, sha256=bad), progress=False)
    assert not (tmp_path / "tinyllm").exists() and not (tmp_path / "b" / "tinyllm").exists()


def test_offline_fails_at_once_with_the_url_and_the_alternative(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rel = _releases(f"http://127.0.0.1:{port}")
    t0 = time.perf_counter()
    with pytest.raises(LabkitError) as e:
        releases.fetch("dss", tmp_path, releases=rel, progress=False)
    assert time.perf_counter() - t0 < 10
    assert f"http://127.0.0.1:{port}/dss.zip" in str(e.value) and "--data-dir" in str(e.value)
    assert "LABKIT_DATA" in str(e.value)


def test_cli_unknown_release_and_pinned_urls(capsys):
    assert cli_main(["data", "fetch", "flan"]) == 2
    assert "unknown release" in capsys.readouterr().err
    for r in releases.RELEASES.values():  # immutable: a 40-hex commit in every URL
        assert any(
            len(part) >= 40 and all(c in "0123456789abcdef" for c in part[:40])
            for part in r.url.replace("-", "/").replace(".", "/").split("/")
        ), r.url
