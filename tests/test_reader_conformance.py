"""The tool reads env files exactly as the real readers do: npm dotenv under Node, and python-dotenv.

Every corpus file in tests/fixtures/readers/ goes through the real npm `dotenv` (tests/node/read.js,
installed by `make node-deps` from the committed package-lock.json: dotenv 18, 17 and 16) and the real
python-dotenv (in a subprocess with a controlled environment), and the tool's reading must equal each
one for every key: single-file parsing, and the multi-file precedence (`config({path: [...]})`,
`load_dotenv` called per file) with and without `override`; 150 random files made of the fragments
the parsers disagree about are compared the same way. No hand-written expectation stands in for a
reader. Without node or the npm packages the tests skip, and fail under CI (env CI set). docker-env
has no Docker here: it is held to docker/cli's own kvfile test cases.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from filot_preflight import env_readers
from filot_preflight import manifest as manifest_mod
from filot_preflight.sources import load_values, read_env_bytes

ROOT = Path(__file__).resolve().parent
CORPUS = ROOT / "fixtures" / "readers"
NODE_DIR = ROOT / "node"
FILES = sorted(CORPUS.glob("*.env"))
PACKAGES = ("dotenv", "dotenv17", "dotenv16")
ENV = {"FROM_ENV": "from-the-environment", "REDIS_URL": "rediss://env.example.com:6379", "SHARED": "env"}
MULTI = [CORPUS / "first.env", CORPUS / "second.env", CORPUS / "corpus.env"]


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


def _node(package: str, files: list[Path], env: dict[str, str], override: bool = False) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed: run `bash scripts/install-system-deps.sh` (apt nodejs npm)")
    if not (NODE_DIR / "node_modules" / package).is_dir():
        _unavailable(f"npm package {package} missing: run `make node-deps` (npm ci in tests/node)")
    payload = json.dumps({"package": package, "files": [str(f) for f in files], "env": env, "override": override})
    out = subprocess.run([str(node), str(NODE_DIR / "read.js")], input=payload, capture_output=True, text=True,
                         timeout=60, check=True, cwd=NODE_DIR)
    return json.loads(out.stdout)


_PY = """
import json, os, sys
from dotenv import dotenv_values, load_dotenv
files, override = json.loads(sys.argv[1]), sys.argv[2] == "1"
parse = [{k: v for k, v in dotenv_values(f).items() if v is not None} for f in files]
error = None
try:
    for f in files:
        load_dotenv(f, override=override)
except ValueError as e:  # os.environ refuses a name python-dotenv parsed (e.g. one holding '=')
    error = str(e)
print(json.dumps({"parse": parse, "config": dict(os.environ), "error": error}))
"""


def _python(files: list[Path], env: dict[str, str], override: bool = False) -> dict[str, Any]:
    args = [sys.executable, "-c", _PY, json.dumps([str(f) for f in files]), "1" if override else "0"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True, env=_py_env(env))
    return json.loads(out.stdout)


def _py_env(env: dict[str, str]) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin"), **env}


def _ours(reader: str, path: Path, env: dict[str, str]) -> dict[str, str]:
    reading = env_readers.read(reader, read_env_bytes(path), env)
    return {e.key: e.value for e in reading.entries}  # last assignment wins within a file, as in every reader


def test_corpus_is_big_and_tricky():
    text = (CORPUS / "corpus.env").read_text(encoding="utf-8")
    assert len(text.splitlines()) >= 60
    for needle in ("'", '"', "`", "\\n", "#", "export ", " = ", "DUP=", "${", "BEGIN PRIVATE KEY", "=\n"):
        assert needle in text, needle
    assert b"\r\n" in (CORPUS / "crlf.env").read_bytes() and (CORPUS / "bom.env").read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_node_dotenv_parse(package: str, path: Path):
    real = _node(package, [path], {})["parse"][0]
    assert _ours("node-dotenv", path, {}) == real


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_python_dotenv_parse(path: Path):
    real = _python([path], ENV)["parse"][0]
    assert _ours("python-dotenv", path, _py_env(ENV)) == real


def _manifest(reader: str, override: bool) -> manifest_mod.Manifest:
    m = manifest_mod.load()
    services = [s.model_copy(update={"reader": reader, "override": override}) if s.name == "backend" else s
                for s in m.services]
    return m.model_copy(update={"services": services})


def _file_keys(files: list[Path]) -> set[str]:
    keys: set[str] = set()
    for f in files:
        for reader in ("node-dotenv", "python-dotenv"):
            keys |= {e.key for e in env_readers.read(reader, read_env_bytes(f), {}).entries}
    return keys


@pytest.mark.parametrize("override", [False, True], ids=["no-override", "override"])
@pytest.mark.parametrize("reader", ["node-dotenv", "python-dotenv"])
def test_multi_file_precedence(reader: str, override: bool):
    """`config({path: [a, b, c]})` / `load_dotenv(a); load_dotenv(b); ...` with an environment set."""
    real = (_node("dotenv", MULTI, ENV, override) if reader == "node-dotenv" else _python(MULTI, ENV, override))
    assert real.get("error") is None
    environ = _py_env(ENV) if reader == "python-dotenv" else dict(ENV)
    store = load_values(_manifest(reader, override), [str(f) for f in MULTI], environ=environ,
                        extra_names=set(ENV) | _file_keys(MULTI))
    keys = _file_keys(MULTI) | set(ENV)
    ours = {n: v.value.get_secret_value() for n, v in store.view("backend").items() if n in keys}
    assert ours == {k: v for k, v in real["config"].items() if k in keys}


@pytest.mark.parametrize("reader", ["node-dotenv", "python-dotenv"])
def test_two_files_first_file_wins(reader: str):
    """No environment: the first file's rediss:// URL is what the service connects with, not the second's redis://."""
    files = MULTI[:2]
    real = _node("dotenv", files, {}) if reader == "node-dotenv" else _python(files, {})
    store = load_values(_manifest(reader, False), [str(f) for f in files], environ=_py_env({}))
    assert store.get("REDIS_URL").value.get_secret_value() == real["config"]["REDIS_URL"]
    assert real["config"]["REDIS_URL"].startswith("rediss://first.")


FRAGMENTS = ["A", "B_2", "my.key", "x-y", "export ", "=", " = ", ":", ": ", "'", '"', "`", "#", " #", "\\n", "\\",
             "\\\"", "\\'", "${A}", "$B", " ", "\t", "\n", "\r\n", "\r", "val", "ü", "\u00a0", "\ufeff", "\u2028"]


def _random_files(tmp: Path, count: int = 150) -> list[Path]:
    """Deterministic random env files made of the fragments the parsers disagree about."""
    import random

    rnd = random.Random(11)
    files = []
    for i in range(count):
        text = "".join(rnd.choice(FRAGMENTS) for _ in range(rnd.randint(1, 40)))
        path = tmp / f"r{i:03}.env"
        path.write_bytes(text.encode("utf-8"))
        files.append(path)
    return files


def test_random_fragments_read_as_the_real_readers_read_them(tmp_path: Path):
    files = _random_files(tmp_path)
    node = _node("dotenv", files, {})["parse"]
    python = _python(files, ENV)["parse"]
    for path, real_node, real_py in zip(files, node, python, strict=True):
        raw = path.read_bytes()
        assert _ours("node-dotenv", path, {}) == real_node, raw
        assert _ours("python-dotenv", path, _py_env(ENV)) == real_py, raw


# --- docker-env: no Docker daemon or CLI on the test machine, so these are docker/cli's own test cases
# (pkg/kvfile/kvfile_test.go), run through the tool's reader with the same inputs and expectations.

DOCKER_LOOKUP = "# comment=\nVAR=VAR_VALUE\nEMPTY_VAR=\nUNDEFINED_VAR\nDEFINED_VAR\n"
DOCKER_GOOD = ("foo=bar\n    baz=quux\n# comment\n_foobar=foobaz\nwith.dots=working\nand_underscore=working too\n"
               "\n    \t  ")


@pytest.mark.parametrize(("content", "env", "expected"), [
    (DOCKER_LOOKUP, {"DEFINED_VAR": "defined-value"}, ["VAR=VAR_VALUE", "EMPTY_VAR=", "DEFINED_VAR=defined-value"]),
    (DOCKER_GOOD, {}, ["foo=bar", "baz=quux", "_foobar=foobaz", "with.dots=working", "and_underscore=working too"]),
    ("", {}, []),
    ("\ufeffA='q' # kept\r\nB= spaced \n", {}, ["A='q' # kept", "B= spaced "]),
])
def test_docker_env_matches_docker_clis_own_cases(content: str, env: dict[str, str], expected: list[str]):
    reading = env_readers.read("docker-env", content.encode(), env)
    assert [f"{e.key}={e.value}" for e in reading.entries] == expected


@pytest.mark.parametrize("content", ["foo=bar\n    f   =quux\n", "first line\nanother invalid line",
                                     "# comment=\n=blank variable names are an error case\n",
                                     "foo=" + "a" * (64 * 1024 + 42)])
def test_docker_env_refuses_what_docker_refuses(content: str):
    with pytest.raises(env_readers.UnreadableFile):
        env_readers.read("docker-env", content.encode(), {})
