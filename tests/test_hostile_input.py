"""Hostile input: any manifest or env file ends in a result or a clean exit 2 with one line, never a traceback.

Property-based (hypothesis) over `manifest.load`, `sources.read_env_file` and the whole CLI
(`preflight check --offline --env-file F --format json`), plus named examples of each kind of
nastiness: huge files, binary garbage, wrong encodings, duplicate keys, BOMs, CRLF, `export `
prefixes, quoted and multi-line values, NUL bytes, very long lines, deep nesting, alias bombs.
Each crash found here was fixed in its parser and is kept below as a regression example.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filot_preflight import cli, diff, manifest
from filot_preflight.errors import EnvFileError, ManifestError, PreflightError
from filot_preflight.sources import MAX_ENV_FILE_BYTES, decode_json_secret, read_env_file

ROOT = Path(__file__).resolve().parents[1]
FILOT_DOC: dict[str, Any] = yaml.safe_load((ROOT / "manifests" / "filot.yaml").read_text(encoding="utf-8"))
NAMES = [v["name"] for v in FILOT_DOC["variables"]]
SETTINGS = ["PREFLIGHT_TIMEOUT", "PREFLIGHT_ALLOW_LOOPBACK", "PREFLIGHT_CA_FILE", "PREFLIGHT_INSECURE"]
# Modest counts keep the suite fast; HOSTILE_SCALE=50 runs a deep search (the crashes below were found so).
SCALE = int(os.environ.get("HOSTILE_SCALE", "1"))
FAST = settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLI = settings(max_examples=25 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module", autouse=True)
def _clean_environ():
    """The CLI also reads manifest variables from the process env: only the files under test count."""
    with pytest.MonkeyPatch.context() as mp:
        for k in list(os.environ):
            if k in NAMES or k.startswith("PREFLIGHT_"):
                mp.delenv(k)
        yield


# --- helpers -----------------------------------------------------------------------------------


def load_or_error(path: Path) -> manifest.Manifest | None:
    """A Manifest, or None after a ManifestError whose message is one line. Anything else fails the test."""
    try:
        return manifest.load(path)
    except ManifestError as e:
        assert "\n" not in str(e) and "\r" not in str(e), repr(str(e))
        return None


def env_or_error(path: Path) -> list[Any] | None:
    try:
        values = read_env_file(path)
    except EnvFileError as e:
        assert "\n" not in str(e), repr(str(e))
        return None
    for v in values:
        assert v.name.isidentifier() and "\r" not in v.value.get_secret_value()
    return values


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """cli.main in this process: (exit code, stdout, stderr). cli.main turns any escape into exit 3."""
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(argv)
        except SystemExit as e:
            code = e.code
    return int(code or 0), out.getvalue(), err.getvalue()


def assert_clean(code: int, out: str, err: str) -> None:
    """A result (exit 0/1: one JSON report, no crashed checker) or exit 2 with one line on stderr."""
    assert "Traceback" not in err and "Traceback" not in out
    assert code in (0, 1, 2), (code, err[-500:])
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("preflight: error: "), err
        return
    report = json.loads(out)
    crashed = [r["summary"] for r in report["results"] if r["id"].endswith((".crashed", "unfinished"))]
    assert not crashed, crashed


def check_env(path: Path) -> None:
    assert_clean(*run_cli(["check", "--offline", "--env-file", str(path), "--format", "json"]))


# --- strategies --------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
structures = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=25,
)
ENV_PIECES = ["export ", "A=", "KEY", "=", "'", '"', "\\", "\n", "\r\n", "\r", "#", " ", "\t", "${A}", "\ufeff",
              "\x00", "é", "\x0b", "\x0c", "\u2028", "\x85", "==", "A B=", "1A=", "\\n", "'''", "\"\"\""]
env_text = st.lists(st.sampled_from(ENV_PIECES) | st.text(max_size=5), max_size=40).map("".join)
HOSTILE_VALUES = ["", " ", "http://[", "https://[::1", "redis://:@:99999999", "postgresql://u:p@h:0/d?sslmode=",
                  "rediss://h:-1", "nan", "inf", "-1", "1e999", "9" * 5000, "0x10", "maybe", "${X}", "a" * 10_000,
                  "é", "//", "://", "unix:///tmp/x", "file:///etc/passwd", "http://0x7f000001", "%zz", "http://a b",
                  "[::1]:70000", "host:", ":123", "sk_test_", "base64:===", "{" * 3000]
env_values = st.sampled_from(HOSTILE_VALUES) | st.text(max_size=40).filter(
    lambda s: not any(c in s for c in "\n\r'\\\x00"))


# --- manifest ----------------------------------------------------------------------------------


@FAST
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".yaml", ".json", ".yml", ""]))
def test_manifest_from_arbitrary_bytes(work: Path, data: bytes, suffix: str) -> None:
    path = work / f"bytes{suffix}"
    path.write_bytes(data)
    load_or_error(path)


@FAST
@given(doc=structures, fmt=st.sampled_from(["yaml", "json"]))
def test_manifest_from_arbitrary_structures(work: Path, doc: Any, fmt: str) -> None:
    path = work / f"structure.{fmt}"
    path.write_text(json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc), encoding="utf-8")
    load_or_error(path)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for k, v in items:
        out += _paths(v, (*prefix, k))
    return out


FILOT_PATHS = _paths(FILOT_DOC)


@FAST
@given(where=st.sampled_from(FILOT_PATHS), new=structures, op=st.sampled_from(["set", "delete", "duplicate"]),
       fmt=st.sampled_from(["yaml", "json"]))
def test_manifest_mutated_filot(work: Path, where: tuple[Any, ...], new: Any, op: str, fmt: str) -> None:
    """The real manifest with one node replaced, removed or repeated: valid, or one precise error."""
    doc = copy.deepcopy(FILOT_DOC)
    parent = doc
    for k in where[:-1]:
        parent = parent[k]
    key = where[-1]
    if op == "set":
        parent[key] = new
    elif op == "delete":
        del parent[key]
    elif isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))  # e.g. a variable twice
    path = work / f"mutated.{fmt}"
    path.write_text(json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc), encoding="utf-8")
    load_or_error(path)


def _filot_text(**kw: Any) -> str:
    return (ROOT / "manifests" / "filot.yaml").read_text(encoding="utf-8")


BOMB = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                 + [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in zip("abcdefg", "bcdefgh", strict=True)])
MANIFEST_CASES: dict[str, tuple[str, bytes, str | None]] = {
    # name: (suffix, content, text the error must contain; None = loads fine)
    "deep-json": (".json", b"[" * 100_000 + b"]" * 100_000, "invalid JSON"),  # was RecursionError, exit 3
    "bigint-json": (".json", b'{"name": ' + b"1" * 5000 + b"}", "invalid JSON"),  # was ValueError, exit 3
    "duplicate-key-json": (".json", b'{"name": "a", "name": "b"}', "duplicate key 'name'"),  # was silently kept
    "deep-yaml": (".yaml", b"[" * 100_000 + b"]" * 100_000, "invalid YAML"),
    "bigint-yaml": (".yaml", b"name: " + b"1" * 5000, "invalid YAML"),
    "duplicate-key-yaml": (".yaml", b"name: a\nname: b\n", "duplicate key 'name'"),
    "newline-in-key": (".yaml", b'name: x\nversion: 1\nservices: []\nsections: []\nvariables: []\n'
                       b'checks: {"q\\nz": 1}\n', "checks.'q\\nz'"),  # was a two-line error
    "bom-crlf": (".yaml", b"\xef\xbb\xbf" + _filot_text().replace("\n", "\r\n").encode(), None),
    "utf16": (".yaml", _filot_text().encode("utf-16"), "cannot read manifest"),
    "latin1": (".yaml", "name: Müller\n".encode("latin-1"), "cannot read manifest"),
    "nul": (".yaml", b"name: a\x00b\n", "invalid YAML"),
    "binary": (".yaml", bytes(range(256)) * 64, "cannot read manifest"),
    "python-tag": (".yaml", b"!!python/object/apply:os.system [echo hi]\n", "invalid YAML"),
    "alias-bomb": (".yaml", (BOMB + "\nname: x\nversion: 1\nservices: []\nsections: []\nvariables: *h\n").encode(),
                   "variables.0"),
    "huge-comment": (".yaml", b"# " + b"x" * 200 + b"\n" * 1 + (b"# " + b"y" * 200 + b"\n") * 20_000,
                     "the limit is"),
    "huge-line": (".yaml", b"name: '" + b"x" * 4_000_000 + b"'\n", "the limit is"),
    "empty": (".yaml", b"", "must be a mapping"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_manifest_named_cases(work: Path, case: str) -> None:
    suffix, content, needle = MANIFEST_CASES[case]
    path = work / f"{case}{suffix}"
    path.write_bytes(content)
    if needle is None:
        assert load_or_error(path) is not None
        return
    with pytest.raises(ManifestError) as e:
        manifest.load(path)
    assert needle in str(e.value) and "\n" not in str(e.value)


# --- env files ---------------------------------------------------------------------------------


@FAST
@given(data=st.binary(max_size=400))
def test_env_file_from_arbitrary_bytes(work: Path, data: bytes) -> None:
    path = work / "bytes.env"
    path.write_bytes(data)
    env_or_error(path)


@FAST
@given(text=env_text, encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
def test_env_file_from_dotenv_pieces(work: Path, text: str, encoding: str) -> None:
    path = work / "pieces.env"
    path.write_bytes(text.encode(encoding, "replace"))
    env_or_error(path)


def _value(path: Path, name: str) -> str:
    values = [v for v in read_env_file(path) if v.name == name]
    return values[-1].value.get_secret_value()


ENV_CASES: dict[str, tuple[bytes, dict[str, str]]] = {
    "export-prefix": (b"export A=1\nexport  B='two'\n", {"A": "1", "B": "two"}),
    "quotes": (b"A='x y'\nB=\"a\\nb\"\nC=plain # comment\n", {"A": "x y", "B": "a\nb", "C": "plain"}),
    "multi-line": (b'A="line1\nline2"\nB=after\n', {"A": "line1\nline2", "B": "after"}),
    "bom-crlf": (b"\xef\xbb\xbfA=1\r\nB='x'\r\n", {"A": "1", "B": "x"}),
    "duplicate-keys": (b"A=first\nA=second\n", {"A": "second"}),  # later wins, as in a shell
    "long-line": (b"A=" + b"x" * 1_000_000 + b"\n", {"A": "x" * 1_000_000}),
}


@pytest.mark.parametrize("case", sorted(ENV_CASES))
def test_env_file_named_cases_parse(work: Path, case: str) -> None:
    content, expected = ENV_CASES[case]
    path = work / f"{case}.env"
    path.write_bytes(content)
    for name, value in expected.items():
        assert _value(path, name) == value


ENV_ERRORS: dict[str, tuple[bytes, str]] = {
    "nul": (b"A=1\nB=x\x00y\n", ":2: contains a NUL byte"),
    "latin1": ("A=1\nB=Müller\n".encode("latin-1"), ":2: not valid UTF-8"),
    "utf16": ("A=1\n".encode("utf-16"), "not valid UTF-8"),
    "binary": (bytes(range(256)) * 8, "not valid UTF-8"),
    "malformed": (b"A=1\nnot a line\n", ":2: malformed line"),
    "too-big": (b"A=" + b"x" * (MAX_ENV_FILE_BYTES + 1), "the limit is"),
}


@pytest.mark.parametrize("case", sorted(ENV_ERRORS))
def test_env_file_named_cases_fail_cleanly(work: Path, case: str) -> None:
    content, needle = ENV_ERRORS[case]
    path = work / f"{case}.env"
    path.write_bytes(content)
    with pytest.raises(EnvFileError) as e:
        read_env_file(path)
    assert needle in str(e.value) and "\n" not in str(e.value)


# --- the whole CLI -----------------------------------------------------------------------------


@CLI
@given(data=st.binary(max_size=300) | env_text.map(lambda s: s.encode("utf-8")))
def test_cli_check_with_arbitrary_env_file(work: Path, data: bytes) -> None:
    path = work / "cli.env"
    path.write_bytes(data)
    check_env(path)


@CLI
@given(env=st.dictionaries(st.sampled_from(NAMES + SETTINGS), env_values, max_size=12))
def test_cli_check_with_hostile_values(work: Path, env: dict[str, str]) -> None:
    """Manifest variables and PREFLIGHT_* settings with hostile values: the checkers judge, none crashes."""
    path = work / "values.env"
    path.write_text("".join(f"{k}='{v}'\n" for k, v in env.items()), encoding="utf-8")
    check_env(path)


@pytest.mark.parametrize("case", ["binary", "huge", "just-under-limit", "utf16", "nul", "crlf-bom-export"])
def test_cli_subprocess_never_shows_a_traceback(work: Path, case: str) -> None:
    """The installed entry point in a real process: nothing escapes as a traceback on stderr."""
    content = {
        "binary": bytes(range(256)) * 64,
        "huge": b"A=" + b"x" * (6 * 1024 * 1024),
        # Not a secret: a multi-MB secret value costs ~12 s in Redactor.add (regex of its variants).
        "just-under-limit": b"# " + b"y" * 1000 + b"\nNODE_ENV=" + b"z" * (MAX_ENV_FILE_BYTES - 2048) + b"\n",
        "utf16": "SESSION_SECRET=abc\n".encode("utf-16"),
        "nul": b"SESSION_SECRET=a\x00b\n",
        "crlf-bom-export": b"\xef\xbb\xbfexport SESSION_SECRET='abc'\r\nexport NODE_ENV=production\r\n",
    }[case]
    path = work / f"sub-{case}.env"
    path.write_bytes(content)
    env = {k: v for k, v in os.environ.items() if k not in NAMES and not k.startswith("PREFLIGHT_")}
    r = subprocess.run([sys.executable, "-m", "filot_preflight", "check", "--offline", "--env-file", str(path),
                        "--format", "json"], capture_output=True, text=True, timeout=120, env=env, cwd=work)
    assert_clean(r.returncode, r.stdout, r.stderr)


# --- other JSON inputs with the same crash (regressions) ----------------------------------------


def test_deep_or_huge_json_elsewhere_is_bad_input_not_a_crash(work: Path) -> None:
    deep = work / "deep-report.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(PreflightError, match="invalid JSON"):
        diff.load_saved(deep)  # `preflight render/diff/report --from`
    assert_clean(*run_cli(["check", "--offline", "--task-def", str(deep), "--format", "json"]))
    toml = work / "deep.toml"
    toml.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    assert_clean(*run_cli(["check", "--offline", "--config", str(toml), "--format", "json"]))
    # A Secrets Manager value of nested brackets is "not a JSON secret", not a crash of --source aws.
    assert decode_json_secret("filot/prod/x", "[" * 60_000) is None
