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
    """The shipped manifest: the backend reads with node-dotenv, the worker with python-dotenv; both let
    the process environment win over files, and a labelled file beats a shared one."""
    shared = tmp_path / "prod.env"
    shared.write_text("REDIS_URL=rediss://file\nLOG_LEVEL=info\nOCR_QUEUE_KEY=ocr:jobs\n")
    worker = tmp_path / "worker.env"
    worker.write_text("REDIS_URL=rediss://worker\nOCR_QUEUE_KEY=ocr:worker\n")
    environ = {"REDIS_URL": "rediss://process", "LOG_LEVEL": "debug", "HOME": "/root", "PREFLIGHT_TIMEOUT": "3"}
    store = load_values(m, [str(shared), f"gpu-worker={worker}"], environ=environ)
    assert store.get("REDIS_URL").value.get_secret_value() == "rediss://process"
    assert store.get("REDIS_URL", "gpu-worker").value.get_secret_value() == "rediss://process"
    assert store.get("LOG_LEVEL", "gpu-worker").origin == "environment"
    assert store.get("OCR_QUEUE_KEY").origin == "prod.env:3"
    assert store.get("OCR_QUEUE_KEY", "gpu-worker").origin == "worker.env:2"
    assert store.get("HOME") is None  # only manifest variables and PREFLIGHT_* from the process env
    assert store.settings() == {"PREFLIGHT_TIMEOUT": "3"}
    assert store.services() == {"gpu-worker"}
    assert "rediss" not in repr(store.get("REDIS_URL"))


def _with_reader(m, service, reader, override=False):
    services = [s.model_copy(update={"reader": reader, "override": override}) if s.name == service else s
                for s in m.services]
    return m.model_copy(update={"services": services})


@pytest.mark.parametrize(
    ("reader", "override", "winner"),
    [
        ("node-dotenv", False, "a.env:1"),
        ("python-dotenv", False, "a.env:1"),
        ("node-dotenv", True, "b.env:1"),
        ("docker-env", False, "b.env:1"),
    ],
)
def test_multi_file_order_per_reader(tmp_path, m, reader, override, winner):
    (tmp_path / "a.env").write_text("REDIS_URL=rediss://a\n")
    (tmp_path / "b.env").write_text("REDIS_URL=redis://b\n")
    files = [str(tmp_path / "a.env"), str(tmp_path / "b.env")]
    store = load_values(_with_reader(m, "backend", reader, override), files, environ={})
    assert store.get("REDIS_URL").origin == winner
    env = load_values(_with_reader(m, "backend", reader, override), files, environ={"REDIS_URL": "rediss://e"})
    assert env.get("REDIS_URL").origin == ("b.env:1" if override else "environment")


def test_each_service_reads_a_shared_file_with_its_own_reader(tmp_path, m):
    p = tmp_path / "prod.env"
    p.write_text("JWT_SECRET=Ab3#rest-of-the-secret\nSERVICE_INTERNAL_KEY=\"a\\tb\"\n")
    store = load_values(m, [str(p)], environ={})
    assert store.get("JWT_SECRET").value.get_secret_value() == "Ab3"  # dotenv cuts at '#'
    assert store.get("JWT_SECRET", "gpu-worker").value.get_secret_value() == "Ab3#rest-of-the-secret"
    assert store.get("SERVICE_INTERNAL_KEY").value.get_secret_value() == "a\\tb"  # only \n, \r expanded
    assert store.get("SERVICE_INTERNAL_KEY", "gpu-worker").value.get_secret_value() == "a\tb"


def test_lines_the_reader_tolerates_are_not_exit_2(tmp_path, m):
    p = tmp_path / "prod.env"
    p.write_text("export NODE_ENV\nBARE\nLOG_LEVEL: info\nmy.app-key=x\nAPP_ORIGIN='unterminated\nnot a line\n")
    store = load_values(m, [str(p)], environ={})
    assert store.get("LOG_LEVEL").value.get_secret_value() == "info"
    ignored = {(r.reader, line) for r in store.readings for line, _ in r.reading.ignored}
    assert ("node-dotenv", 6) in ignored and ("python-dotenv", 3) in ignored


def test_docker_env_reads_literally_and_refuses_spaced_names(tmp_path, m):
    p = tmp_path / "task.env"
    p.write_text("# comment\nREDIS_URL='rediss://q' # not a comment\nLOG_LEVEL\n")
    store = load_values(_with_reader(m, "backend", "docker-env"), [str(p)], environ={"LOG_LEVEL": "warn"})
    assert store.get("REDIS_URL").value.get_secret_value() == "'rediss://q' # not a comment"
    assert store.get("LOG_LEVEL").value.get_secret_value() == "warn"
    p.write_text("A B=1\n")
    with pytest.raises(EnvFileError, match=r"task.env:1: .*whitespace.*docker-env"):
        load_values(_with_reader(m, "backend", "docker-env"), [str(p)], environ={})


def test_ecs_service_reads_no_file(tmp_path, m):
    p = tmp_path / "w.env"
    p.write_text("REDIS_URL=rediss://w\n")
    ecs = _with_reader(m, "gpu-worker", "ecs")
    with pytest.raises(UsageError, match="reads no env file"):
        load_values(ecs, [f"gpu-worker={p}"], environ={})
    store = load_values(ecs, [str(p)], environ={})
    assert store.get("REDIS_URL", "gpu-worker") is None and store.get("REDIS_URL") is not None


def test_unknown_service_label(tmp_path, m):
    p = tmp_path / "w.env"
    p.write_text("A=1\n")
    with pytest.raises(UsageError, match="unknown service 'worker'"):
        load_values(m, [f"worker={p}"], environ={})
