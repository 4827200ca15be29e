"""Findings about how each service reads its values: real files through sources.load_values, then the pure judge."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from filot_preflight import manifest
from filot_preflight.checkers.secrets.reading import RESULT_IDS, judge, reading_facts
from filot_preflight.errors import EnvFileError
from filot_preflight.sources import Value, load_values

SECRET = "kQ9xY2mN8pL4vR7tW1zC5bF6hJ0sD3gK8nM2qX7yA9eU4iO1zzq7Lp0Vb3Nc6Xe1"


@pytest.fixture(scope="module")
def m():
    return manifest.load()


def _results(m, files, environ=None, aws=()):
    store = load_values(m, [str(f) for f in files], environ=environ or {})
    store.add(aws)
    return judge(reading_facts(m, store)), store


def _by_id(results, rid):
    return [r for r in results if r.id == rid]


def _no_value(results, *values):
    text = "".join(r.model_dump_json() for r in results)
    for v in values:
        assert v not in text


def test_every_result_id_is_declared(m, tmp_path):
    p = tmp_path / "prod.env"
    p.write_text(f"JWT_SECRET=Ab3#{SECRET}\nJWT_SECRT=x\nLOG_LEVEL=info\nLOG_LEVEL=debug\nnot a line\n"
                 "SERVICE_INTERNAL_KEY=`" + SECRET + "`\n")
    results, _ = _results(m, [p], aws=[Value("REDIS_URL", SecretStr("rediss://x:6379\n"), "aws", "aws:filot/prod/redis")])
    assert {r.id for r in results} == set(RESULT_IDS)
    _no_value(results, SECRET, "rediss://x")


def test_hash_cut_names_place_and_both_lengths(m, tmp_path):
    p = tmp_path / "prod.env"
    p.write_text(f"NODE_ENV=production # a comment is fine\nJWT_SECRET=Ab3#{SECRET}\n")
    results, store = _results(m, [p])
    [cut] = _by_id(results, "secrets.reader_cut")
    assert cut.target == "JWT_SECRET" and cut.status == "fail"
    assert cut.evidence["origin"] == "prod.env:2" and cut.evidence["reader"] == "node-dotenv"
    assert (cut.evidence["written_length"], cut.evidence["read_length"]) == (len(SECRET) + 4, 3)
    assert store.get("JWT_SECRET").value.get_secret_value() == "Ab3"


def test_shared_line_read_differently_by_both_consumers(m, tmp_path):
    p = tmp_path / "prod.env"
    p.write_text(f'SERVICE_INTERNAL_KEY="{SECRET[:20]}\\t{SECRET[20:]}"\nJWT_SECRET=`{SECRET}`\n')
    results, _ = _results(m, [p])
    [div] = _by_id(results, "secrets.reader_divergence")  # JWT_SECRET is the backend's alone: no divergence
    assert div.target == "SERVICE_INTERNAL_KEY" and div.evidence["origin"] == "prod.env:1"
    assert "backend (node-dotenv) reads 66 characters" in div.summary
    assert "gpu-worker (python-dotenv) reads 65 characters" in div.summary
    _no_value(results, SECRET[:20])


def test_duplicates_name_both_places_and_the_one_taken(m, tmp_path):
    a, b = tmp_path / "a.env", tmp_path / "b.env"
    a.write_text("REDIS_URL=rediss://a.example.com:6379\nLOG_LEVEL=info\nLOG_LEVEL=warn\n")
    b.write_text("REDIS_URL=redis://b.example.com:6379\n")
    results, _ = _results(m, [a, b])
    dups = {r.target: r for r in _by_id(results, "secrets.duplicate")}
    assert dups["REDIS_URL"].evidence["places"] == "a.env:1, b.env:1"
    assert dups["REDIS_URL"].evidence["taken"] == "a.env:1"  # first file wins for both dotenv readers
    assert dups["LOG_LEVEL"].evidence["taken"] == "a.env:3"  # within a file the last line wins
    assert all(r.status == "warn" for r in dups.values())
    env, _ = _results(m, [a, b], environ={"REDIS_URL": "rediss://e.example.com:6379"})
    [redis] = [r for r in _by_id(env, "secrets.duplicate") if r.target == "REDIS_URL"]
    assert redis.evidence["taken"] == "environment"


@pytest.mark.parametrize(("name", "meant"), [("JWT_SECRT", "JWT_SECRET"), ("node_env", "NODE_ENV"),
                                             ("REDIS_URLL", "REDIS_URL"), ("RDEIS_URL", "REDIS_URL")])
def test_near_misses(m, tmp_path, name, meant):
    p = tmp_path / "prod.env"
    p.write_text(f"{name}=x\nUNRELATED_THING=y\n")
    results, _ = _results(m, [p])
    [nm] = _by_id(results, "secrets.near_miss")
    assert nm.evidence["name"] == name and nm.evidence["manifest_name"] == meant and nm.target == "prod.env:1"


def test_ignored_lines_name_file_and_line_not_the_text(m, tmp_path):
    p = tmp_path / "prod.env"
    p.write_text("NODE_ENV=production\nLOG_LEVEL: info\nsecret-looking junk line\nBARE\n")
    results, store = _results(m, [p])
    ignored = {r.target: r for r in _by_id(results, "secrets.ignored_line")}
    assert set(ignored) == {"prod.env:2", "prod.env:3", "prod.env:4"}
    assert "python-dotenv" in ignored["prod.env:2"].summary and "node-dotenv" not in ignored["prod.env:2"].summary
    assert store.get("LOG_LEVEL").value.get_secret_value() == "info"  # dotenv accepts `KEY: value`
    _no_value(results, "junk")


@pytest.mark.parametrize(("stored", "what", "meant"), [
    (SECRET + "\n", "a trailing newline", len(SECRET)),
    (" " + SECRET, "leading or trailing whitespace", len(SECRET)),
    (f'"{SECRET}"', "surrounding quotes", len(SECRET)),
])
def test_secrets_manager_value_with_stray_characters(m, stored, what, meant):
    aws = [Value("JWT_SECRET", SecretStr(stored), "aws", "aws:filot/prod/jwt-secret")]
    results, _ = _results(m, [], aws=aws)
    [r] = _by_id(results, "secrets.stored_extra")
    assert r.status == "fail" and what in r.summary
    assert (r.evidence["stored_length"], r.evidence["meant_length"]) == (len(stored), meant)
    _no_value(results, SECRET)


def test_clean_files_have_no_reading_findings(m, tmp_path):
    p = tmp_path / "prod.env"
    p.write_text(f'NODE_ENV=production\nJWT_SECRET="{SECRET}"\n# comment\n\nexport LOG_LEVEL=info\n')
    results, _ = _results(m, [p])
    assert results == []


def test_labelled_file_over_shared_is_layering_not_a_duplicate(m, tmp_path):
    shared, own = tmp_path / "prod.env", tmp_path / "worker.env"
    shared.write_text("OCR_QUEUE_KEY=ocr:jobs\n")
    own.write_text("OCR_QUEUE_KEY=ocr:jobs\nOCR_QUEUE_KEY=ocr:other\n")
    store = load_values(m, [str(shared), f"gpu-worker={own}"], environ={})
    [dup] = _by_id(judge(reading_facts(m, store)), "secrets.duplicate")
    assert dup.evidence["places"] == "worker.env:1, worker.env:2" and dup.evidence["taken"] == "worker.env:2"


def test_gpu_worker_comparison_uses_each_services_reading(m, tmp_path):
    """One shared line, two readers: the backend (dotenv) strips the backticks, the worker (python-dotenv) does not."""
    from filot_preflight.checkers.base import CheckContext, Options
    from filot_preflight.checkers.gpu_worker import judge as gpu_judge
    from filot_preflight.checkers.gpu_worker import key_pairs
    from filot_preflight.checkers.gpu_worker.judge import GpuFacts, RedisView
    from filot_preflight.redact import Redactor

    p = tmp_path / "prod.env"
    p.write_text("OCR_QUEUE_KEY=`ocr:jobs`\n")
    ctx = CheckContext(m, load_values(m, [str(p)], environ={}), Options(), Redactor())
    [queue] = [k for k in key_pairs(ctx, m.checks.queue) if k.var == "OCR_QUEUE_KEY"]
    assert (queue.backend, queue.worker) == ("ocr:jobs", "`ocr:jobs`")
    facts = GpuFacts(worker_view=True, backend_redis=RedisView(present=False), worker_redis=RedisView(present=False),
                     same_credentials=None, keys=(queue,), live_skipped="not live in this test")
    [same_key] = [r for r in gpu_judge(facts, m.checks.queue) if r.id == "gpu_worker.same_key"]
    assert same_key.status == "fail"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("AJWT_SECR=:'\"`#\\ \t\n\r$.{}-x") + ["\u00a0", "\u2028"]),
                    max_size=120),
       reader=st.sampled_from(["node-dotenv", "python-dotenv", "docker-env"]))
def test_any_text_is_read_or_refused_in_one_line(m, tmp_path, text, reader):
    """Every reader either loads the file (findings, no crash) or refuses it with one line naming the file."""
    p = tmp_path / "h.env"
    p.write_bytes(text.encode("utf-8"))
    services = [s.model_copy(update={"reader": reader}) for s in m.services]
    mm = m.model_copy(update={"services": services})
    try:
        store = load_values(mm, [str(p)], environ={})
    except EnvFileError as e:
        assert reader == "docker-env" and str(e).startswith(f"{p}:") and "\n" not in str(e)
        return
    for r in judge(reading_facts(mm, store)):
        assert "\n" not in r.summary and r.remediation
