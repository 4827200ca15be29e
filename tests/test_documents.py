"""Documents rendered from a FIXED report: golden files, no unrendered markup, overrides, atomic writes.

Golden files live in tests/golden/<document>; regenerate them after an intended change with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_documents.py

and review the diff. Times are normalised to <time> and the tool version is pinned, so the files
change only when a template, the view-model or tests/golden/manifest.yaml changes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest

from filot_preflight import manifest as manifest_mod
from filot_preflight.documents import DOCUMENT_NAMES, CheckerInfo, RunInfo, render_documents, write_documents
from filot_preflight.documents import render as render_mod
from filot_preflight.documents.render import TemplateRenderError
from filot_preflight.fileio import OutputFileError
from filot_preflight.models import CheckResult, Report, Status
from filot_preflight.waivers import Waiver, apply

GOLDEN = Path(__file__).parent / "golden"
VERSION = "9.9.9-test"
_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?: UTC|Z|\+00:00)")

CHECKERS = [
    CheckerInfo("secrets", "secrets", "Every manifest variable: missing, malformed, weak", False),
    CheckerInfo("aws_secrets", "aws", "Every secret exists in Secrets Manager", True),
    CheckerInfo("ecs_taskdefs", "aws", "Task definitions reference secrets by ARN", False),
    CheckerInfo("backend", "backend", "Health and readiness endpoints", True, ("API_BASE_URL",)),
    CheckerInfo("postgres", "postgres", "TLS, login, latency, version", True, ("DATABASE_URL",)),
    CheckerInfo("redis", "redis", "TLS, AUTH, PING, eviction policy", True, ("REDIS_URL",)),
    CheckerInfo("gpu_worker", "gpu-worker", "Same queue as the backend; queue consumed", True, ("OCR_QUEUE_KEY",)),
    CheckerInfo("r2", "r2", "Presigned canary round trip and CORS", True),
    CheckerInfo("temporal", "temporal", "Namespace and pollers, or the Redis fallback", True),
    CheckerInfo("buli2", "buli2", "API key, callback URL and signature", True),
    CheckerInfo("mock_code", "code", "No mock code on production paths", False),
    CheckerInfo("env_drift", "code", "Code and manifest agree on variables", False),
    CheckerInfo("ecs_services", "aws", "Deployed ECS services", True, ("ECS_CLUSTER",), "postdeploy"),
    CheckerInfo("autoscaling", "aws", "ECS auto scaling", True, ("ECS_CLUSTER",), "postdeploy"),
    CheckerInfo("alarms", "aws", "CloudWatch alarms", True, (), "postdeploy"),
    CheckerInfo("rotation", "aws", "Secret rotation", True, (), "postdeploy"),
]
RUN = RunInfo(offline=False, skip=("temporal", "r2"))


def golden_manifest() -> manifest_mod.Manifest:
    """The frozen manifest of the golden files."""
    return manifest_mod.load(GOLDEN / "manifest.yaml")


def _r(id: str, status: Status, target: str = "", summary: str = "", **kw) -> CheckResult:
    return CheckResult(id=id, subsystem=kw.pop("subsystem", None) or _SUB[id.split(".")[0]], status=status,
                       target=target, summary=summary or f"{target or id} {status.value}", **kw)


_SUB = {"secrets": "secrets", "aws_secrets": "aws", "ecs_taskdefs": "aws", "backend": "backend", "postgres": "postgres",
        "redis": "redis", "gpu_worker": "gpu-worker", "r2": "r2", "temporal": "temporal", "buli2": "buli2",
        "mock_code": "code", "env_drift": "code", "policy": "policy"}


def fixed_report() -> Report:
    """A run touching every status and every path of the documents (waiver applied as `check` would)."""
    fix_gen = "Generate: openssl rand -base64 48 and store it at app/prod/jwt-secret"
    results = [
        _r("policy.relaxations", Status.WARN, summary="Production rules relaxed: loopback accepted",
           remediation="Run the release gate without relaxations."),
        _r("secrets.missing", Status.FAIL, "JWT_SECRET", "JWT_SECRET is not set", remediation=fix_gen),
        _r("secrets.ok", Status.PASS, "SESSION_SECRET", "SESSION_SECRET is set and valid",
           evidence={"length": 44, "entropy": "high", "origin": "prod.env:3"}),
        _r("secrets.weak", Status.WARN, "SERVICE_INTERNAL_KEY", "SERVICE_INTERNAL_KEY entropy estimate: medium",
           remediation="Regenerate: preflight secrets generate SERVICE_INTERNAL_KEY"),
        _r("secrets.needs_verification", Status.WARN, "DATABASE_URL", "DATABASE_URL passes the offline rules",
           remediation="Run preflight check --only postgres"),
        _r("secrets.ok", Status.PASS, "REDIS_URL", "REDIS_URL is set and valid", evidence={"verified_by": "redis"}),
        _r("secrets.ok", Status.PASS, "gpu-worker:REDIS_URL", "gpu-worker: REDIS_URL is set and valid"),
        _r("secrets.ok", Status.PASS, "CF_R2_ACCESS_KEY_ID", "CF_R2_ACCESS_KEY_ID is set and valid"),
        _r("secrets.ok", Status.PASS, "CF_R2_SECRET_ACCESS_KEY", "CF_R2_SECRET_ACCESS_KEY is set and valid"),
        _r("secrets.placeholder", Status.FAIL, "BULI2_API_KEY", "BULI2_API_KEY holds a placeholder: changeme",
           remediation="Replace the placeholder: obtain it from the BULI2 service team."),
        _r("secrets.optional", Status.SKIP, "TEMPORAL_ADDRESS", "TEMPORAL_ADDRESS: optional, not set"),
        _r("secrets.optional", Status.SKIP, "TEMPORAL_API_KEY", "TEMPORAL_API_KEY: optional, not set"),
        _r("secrets.malformed", Status.FAIL, "BULI2_CALLBACK_URL", "BULI2_CALLBACK_URL is not an https URL",
           remediation="Use the public https URL of the webhook."),
        _r("secrets.ok", Status.PASS, "OCR_QUEUE_KEY", "OCR_QUEUE_KEY is set and valid"),
        _r("aws_secrets.exists", Status.FAIL, "app/prod/jwt-secret", "app/prod/jwt-secret does not exist",
           remediation="Create app/prod/jwt-secret: preflight secrets generate JWT_SECRET --put"),
        _r("aws_secrets.exists", Status.PASS, "app/prod/r2", "app/prod/r2 exists"),
        _r("ecs_taskdefs.secret_ref", Status.PASS, "app-backend", "every secret referenced by ARN"),
        _r("backend.crashed", Status.ERROR, summary="backend crashed: RuntimeError: boom",
           remediation="This is a bug in the checker; run with -v for details and report it."),
        _r("postgres.sslmode", Status.FAIL, "DATABASE_URL", "sslmode=prefer does not require TLS",
           remediation="Use sslmode=verify-full.", evidence={"sslmode": "prefer"}),
        _r("postgres.version", Status.PASS, "db.example.com", "PostgreSQL 16.2", evidence={"version": "16.2"}),
        _r("redis.tls", Status.PASS, "REDIS_URL", "REDIS_URL uses TLS (rediss://)"),
        _r("redis.auth", Status.PASS, "REDIS_URL", "AUTH accepted"),
        _r("redis.eviction", Status.WARN, "REDIS_URL", "maxmemory-policy is allkeys-lru",
           remediation="Set maxmemory-policy to noeviction in the provider console.",
           evidence={"policy": "allkeys-lru", "source": "INFO memory"}),
        _r("gpu_worker.queue_depth", Status.WARN, "app:ocr:jobs", "412 jobs waiting",
           remediation="Scale the worker service.", evidence={"depth": 412, "oldest_age_s": 380}),
        _r("gpu_worker.heartbeat", Status.PASS, "app:ocr:worker", "heartbeat 4 s old", evidence={"age_s": 4}),
        _r("buli2.api_key", Status.SKIP, "BULI2_API_KEY", "not probed: BULI2_API_KEY is a placeholder"),
        _r("mock_code.sources", Status.SKIP, summary="no source trees given, so the code was not audited"),
        _r("mock_code.mock_switch", Status.PASS, summary="no mock switch turned on"),
    ]
    report = Report(
        tool_version=VERSION, manifest_name="golden", manifest_version="1.0-test",
        started_at=dt.datetime(2024, 11, 30, 12, 0, tzinfo=dt.UTC),
        finished_at=dt.datetime(2024, 11, 30, 12, 0, 7, tzinfo=dt.UTC), results=results,
    )
    waiver = Waiver("gpu_worker.queue_depth", "Backlog from the migration; drains by Friday (OPS-7)",
                    dt.date(2024, 12, 6), "app:ocr:jobs", "preflight.toml:waivers[0]")
    return apply(report, [waiver], today=dt.date(2024, 11, 30))


@pytest.fixture(autouse=True)
def pinned_version(monkeypatch):
    monkeypatch.setattr("filot_preflight.documents.context.__version__", VERSION)


def normalise(text: str) -> str:
    """Times vary between runs; everything else must not."""
    return _TIME.sub("<time>", text)


NOW = dt.datetime(2024, 11, 30, 12, 5, tzinfo=dt.UTC)


def render(**kw) -> dict[str, str]:
    kw.setdefault("generated_at", NOW)
    kw.setdefault("checkers", CHECKERS)
    kw.setdefault("run", RUN)
    return render_documents(golden_manifest(), fixed_report(), **kw)


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_golden(name):
    text = normalise(render(names=[name], generated_at=None)[name])  # the real clock: normalised away
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


def test_every_document_states_time_manifest_and_version():
    for name, text in render(generated_at=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)).items():
        assert ("2025-01-02 03:04:05 UTC" in text or "2025-01-02T03:04:05Z" in text), name
        assert "golden" in text and "1.0-test" in text and VERSION in text, name


@pytest.mark.parametrize("report", [fixed_report(), Report()], ids=["fixed", "empty"])
def test_no_unrendered_markup_with_either_manifest(report):
    for m in (golden_manifest(), manifest_mod.load()):
        docs = render_documents(m, report, checkers=CHECKERS)
        assert set(docs) == set(DOCUMENT_NAMES)
        for name, text in docs.items():
            for marker in ("{{", "}}", "{%", "%}", "{#"):
                assert marker not in text, f"{name} contains {marker!r}"
            assert not re.search(r"Undefined|[:=|] None\b|\bNone \||=None\b|\bnull\b(?!,|\n)", text), name


def test_json_document_is_valid_and_carries_statuses():
    data = json.loads(render(names=["production_secrets_required.json"])["production_secrets_required.json"])
    by_name = {s["name"]: s for s in data["secrets"]}
    assert data["manifest"] == {"name": "golden", "version": "1.0-test", "environment": "production"}
    assert by_name["JWT_SECRET"]["status"] == "missing"
    assert by_name["BULI2_API_KEY"]["status"] == "invalid"
    assert by_name["REDIS_URL"]["status"] == "existing"
    assert by_name["DATABASE_URL"]["status"] == "needs_verification"
    assert by_name["CF_R2_ACCESS_KEY_ID"]["status"] == "needs_verification"  # r2 was skipped in this run
    assert by_name["TEMPORAL_API_KEY"]["status"] == "not_set"
    assert by_name["CF_R2_SECRET_ACCESS_KEY"]["aws_secret"] == {"id": "app/prod/r2", "key": "secret_access_key"}
    assert sum(data["counts"].values()) == len(data["secrets"]) == 9


def test_unchecked_subsystem_never_reads_as_ready():
    docs = render()
    assert "NOT CHECKED" in docs["r2_config_validation.md"]
    assert "skipped with --skip r2" in docs["r2_config_validation.md"]
    assert "Nothing above is a \"ready\"" in docs["temporal_env_validation.md"]
    summary = docs["T8A_summary.md"]
    assert "| Cloudflare R2 | ❔ NOT CHECKED |" in summary
    assert "**Status:** ❌ NOT READY" in summary and "not checked" in summary


def test_env_template_needs_no_report_and_lists_every_variable():
    m = manifest_mod.load()
    text = render_documents(m, None)["prod.env.template"]
    assigned = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    assert [k for k, _ in assigned] == [v.name for s in m.sections for v in m.variables if v.section == s.id]
    values = dict(assigned)
    for v in m.variables:
        if v.secret:
            assert values[v.name] == "", v.name
        elif v.example is not None:
            assert values[v.name].strip("'") == v.example, v.name
    with pytest.raises(Exception, match="needs the results of a run"):
        render_documents(m, None, names=["T8A_summary.md"])


def test_env_template_quotes_values_dotenv_would_misread():
    from dotenv import dotenv_values

    text = render_documents(golden_manifest(), None)["prod.env.template"]
    parsed = dotenv_values(stream=__import__("io").StringIO(text))
    assert parsed["LOG_LEVEL"] == "info # default"
    assert parsed["OCR_QUEUE_KEY"] == "app:ocr:jobs"


def test_overriding_one_template_changes_only_that_file(tmp_path):
    base = render()
    (tmp_path / "redis_validation_report.md").write_text("Team Redis page for {{ meta.manifest_name }}\n")
    over = render(templates_dir=tmp_path)
    assert over["redis_validation_report.md"] == "Team Redis page for golden\n"
    assert {n for n in DOCUMENT_NAMES if base[n] != over[n]} == {"redis_validation_report.md"}


def test_broken_override_names_file_and_line(tmp_path):
    (tmp_path / "T8A_summary.md").write_text("ok\n{{ no_such_thing }}\n")
    with pytest.raises(TemplateRenderError, match=r"T8A_summary.md(:2)?: template error: .*no_such_thing"):
        render(templates_dir=tmp_path)
    (tmp_path / "T8A_summary.md").write_text("{% if %}\n")
    with pytest.raises(TemplateRenderError, match=r"T8A_summary.md:1: template error"):
        render(templates_dir=tmp_path)


def test_failure_mid_render_writes_nothing_and_keeps_old_files(tmp_path):
    out = tmp_path / "out"
    write_documents(render(), out)
    before = {p.name: p.read_text() for p in out.iterdir()}
    calls = []

    def explode_on_fifth(text: str) -> str:  # raises while the 5th document is being produced
        calls.append(text)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return text + "CHANGED"

    with pytest.raises(KeyboardInterrupt):
        write_documents(render(redact=explode_on_fifth), out)
    assert {p.name: p.read_text() for p in out.iterdir()} == before


def test_failure_mid_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_documents({"T8A_summary.md": "old\n"}, out)
    real_replace = os.replace

    def boom(src, dst):
        assert Path(src).read_text() == "new and complete\n"  # the temp file was fully written first
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OutputFileError, match="disk full"):  # one line, exit 2 (was a crash)
        write_documents({"T8A_summary.md": "new and complete\n"}, out)
    monkeypatch.setattr(os, "replace", real_replace)
    assert [p.name for p in out.iterdir()] == ["T8A_summary.md"]
    assert (out / "T8A_summary.md").read_text() == "old\n"


def test_write_into_a_file_path_is_bad_input(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(Exception, match="is not a directory"):
        write_documents({"T8A_summary.md": "x"}, f)


def test_unknown_override_file_is_reported_not_rendered(tmp_path, caplog):
    (tmp_path / "T8A_sumary.md").write_text("typo")
    with caplog.at_level("WARNING", logger="filot_preflight"):
        docs = render(templates_dir=tmp_path)
    assert "T8A_sumary.md" in caplog.text and "T8A_sumary.md" not in docs


def test_value_masker_masks_values_and_leaves_prose_alone():
    from pydantic import SecretStr

    from filot_preflight.documents.pipeline import value_masker
    from filot_preflight.sources import Value, ValueStore

    m = golden_manifest()
    assert render(redact=value_masker(m, ValueStore())) == render()
    store = ValueStore([Value("JWT_SECRET", SecretStr("canary-Zq9-secret-value"), "file", "t:1"),
                        Value("LOG_LEVEL", SecretStr("info"), "file", "t:2")])
    mask = value_masker(m, store)
    assert mask("x canary-Zq9-secret-value y info") == "x *** y info"
    assert mask("Create app/prod/jwt-secret: preflight secrets") == "Create app/prod/jwt-secret: preflight secrets"


def test_squeeze_keeps_code_fences():
    text = "a\n\n\n\nb\n```\nx\n\n\ny\n```\n"
    assert render_mod.squeeze_blank_lines(text) == "a\n\nb\n```\nx\n\n\ny\n```\n"


def test_checklist_patterns_match_documented_result_ids():
    """Every id pattern the shipped checklist decides items by exists in docs/checks (no silent drift)."""
    from fnmatch import fnmatchcase

    docs = Path(__file__).resolve().parents[1] / "docs" / "checks"
    source = (Path(__file__).resolve().parents[1] / "templates" / "T8A_predeployment_checklist.md").read_text()
    patterns = {p for call in re.findall(r"item\((.*?)\) }}", source) for p in re.findall(r'"([a-z0-9_*]+\.[a-z0-9_*]+)"', call)}
    assert len(patterns) > 20
    undocumented = []
    for p in sorted(patterns):
        doc = docs / f"{p.split('.')[0]}.md"
        if not doc.exists():
            undocumented.append(p)  # that checker has not documented its ids yet
            continue
        ids = re.findall(r"^#+ `?([a-z0-9_]+\.[a-z0-9_]+)`?\s*$", doc.read_text(), re.M)
        assert any(fnmatchcase(i, p) for i in ids), f"checklist pattern {p} matches no id in {doc.name}"
    assert len(undocumented) < len(patterns) / 2, undocumented


@pytest.mark.parametrize(("relaxed", "line"), [
    (False, "- [x] Run the pre-deployment checks (`preflight check`) — READY"),
    (True, "- [ ] Run the pre-deployment checks (`preflight check`) without relaxed rules — Production rules relaxed"),
])
def test_ready_run_ticks_the_gate_only_without_relaxations(relaxed, line):
    results = [_r("redis.tls", Status.PASS, "REDIS_URL")]
    if relaxed:
        results.append(_r("policy.relaxations", Status.WARN, summary="Production rules relaxed: loopback accepted"))
    docs = render_documents(golden_manifest(), Report(results=results), names=["T8A_predeployment_checklist.md"])
    assert line in docs["T8A_predeployment_checklist.md"]
