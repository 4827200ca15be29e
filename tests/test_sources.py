"""Env files, precedence and provenance."""

import pytest

from filot_preflight import manifest
from filot_preflight.errors import EnvFileError, UsageError
from filot_preflight.sources import load_values, parse_env_spec, read_env_file


@pytest.fixture(scope="module")
def m():
    return manifest.load()


def test_parsing_handles_export_quotes_multiline_bom_crlf(tmp_path):
    p = tmp_path / "prod.env"
    p.write_bytes(
        b"\xef\xbb\xbf# comment\r\nexport A=1\r\nB='two words'\r\nC=\"multi\nline\"\r\n\r\nD=\r\nA=override\n"
    )
    vals = read_env_file(p)
    got = {v.name: v.value.get_secret_value() for v in vals}
    assert got == {"A": "override", "B": "two words", "C": "multi\nline", "D": ""}
    assert [v.origin for v in vals if v.name == "B"] == ["prod.env:3"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"A=1\nthis is not an assignment\n", r"bad.env:2: malformed line"),
        (b"A=1\nB\n", r"bad.env:2: malformed line"),
        (b"A=1\n\xff\xfeB=2\n", r"bad.env:2: not valid UTF-8"),
        (b"A=1\nB=\x00\n", r"bad.env:2: contains a NUL byte"),
        (b"A='unterminated\n", r"bad.env:1: malformed line"),
    ],
)
def test_malformed_env_file_names_the_line(tmp_path, content, message):
    p = tmp_path / "bad.env"
    p.write_bytes(content)
    with pytest.raises(EnvFileError, match=message):
        read_env_file(p)


def test_missing_file(tmp_path):
    with pytest.raises(EnvFileError, match="cannot read env file"):
        read_env_file(tmp_path / "nope.env")


def test_spec_labels():
    assert parse_env_spec("prod.env")[0] is None
    assert parse_env_spec("gpu-worker=worker.env") == ("gpu-worker", parse_env_spec("worker.env")[1])
    assert parse_env_spec("./dir/a=b.env")[0] is None


def test_precedence_and_service_views(tmp_path, m):
    shared = tmp_path / "prod.env"
    shared.write_text("REDIS_URL=rediss://file\nLOG_LEVEL=info\n")
    worker = tmp_path / "worker.env"
    worker.write_text("REDIS_URL=rediss://worker\n")
    environ = {"REDIS_URL": "rediss://process", "LOG_LEVEL": "debug", "HOME": "/root", "PREFLIGHT_TIMEOUT": "3"}
    store = load_values(m, [str(shared), f"gpu-worker={worker}"], environ=environ)
    assert store.get("REDIS_URL").value.get_secret_value() == "rediss://file"
    assert store.get("REDIS_URL", "gpu-worker").value.get_secret_value() == "rediss://worker"
    assert store.get("LOG_LEVEL", "gpu-worker").origin == "prod.env:2"
    assert store.get("HOME") is None  # only manifest variables and PREFLIGHT_* from the process env
    assert store.settings() == {"PREFLIGHT_TIMEOUT": "3"}
    assert store.services() == {"gpu-worker"}
    assert "rediss" not in repr(store.get("REDIS_URL"))


def test_unknown_service_label(tmp_path, m):
    p = tmp_path / "w.env"
    p.write_text("A=1\n")
    with pytest.raises(UsageError, match="unknown service 'worker'"):
        load_values(m, [f"worker={p}"], environ={})
