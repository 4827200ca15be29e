"""Renderers are pure functions of the Report: valid, escaped, sorted, no exit-code decisions."""

import json
import xml.etree.ElementTree as ET

from filot_preflight import render
from filot_preflight.models import CheckResult, Report, Status


def report() -> Report:
    return Report(
        manifest_name="filot",
        manifest_version="1",
        results=[
            CheckResult(id="redis.tls", subsystem="redis", status=Status.FAIL, target="REDIS_URL",
                        summary='plain redis:// <used> & "quoted"', remediation="Use rediss://",
                        evidence={"scheme": "redis"}, duration_ms=12.5),
            CheckResult(id="postgres.ok", subsystem="postgres", status=Status.PASS, summary="fine"),
            CheckResult(id="temporal.configured", subsystem="temporal", status=Status.SKIP,
                        summary="not configured: Redis fallback in effect"),
            CheckResult(id="r2.cors", subsystem="r2", status=Status.WARN, summary="100% | odd\nline",
                        remediation="Add a CORS rule"),
            CheckResult(id="x.crashed", subsystem="x", status=Status.ERROR, summary="bad \x07 byte"),
        ],
    )


def test_json_shape():
    data = json.loads(render.get("json")(report()))
    assert data["ready"] is False and data["partial"] is False
    assert data["summary"] == {"pass": 1, "warn": 1, "fail": 1, "skip": 1, "error": 1, "waived": 0}
    first = data["results"][0]
    assert set(first) >= {"id", "subsystem", "status", "summary", "detail", "remediation", "evidence", "duration_ms"}


def test_junit_is_valid_escaped_xml():
    root = ET.fromstring(render.get("junit")(report()))
    assert root.tag == "testsuites"
    cases = root.findall(".//testcase")
    assert len(cases) == 5
    fail = root.find(".//testcase[@name='redis.tls [REDIS_URL]']/failure")
    assert fail is not None and fail.get("message") == 'plain redis:// <used> & "quoted"'
    assert "Use rediss://" in fail.text
    assert root.find(".//testsuite[@name='x']").get("errors") == "1"
    assert root.find(".//testcase/skipped") is not None


def test_github_annotations_are_escaped(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = render.get("github")(report())
    lines = out.splitlines()
    assert lines[0].startswith("::error title=x.crashed::")
    assert any(l.startswith("::warning title=r2.cors::100%25 | odd%0Aline") for l in lines)
    assert "::error title=redis.tls REDIS_URL::" in out
    assert "Preflight: NOT READY" in summary.read_text()


def test_markdown_and_console_are_worst_first_with_fixes():
    md = render.get("markdown")(report())
    assert md.index("x.crashed") < md.index("redis.tls") < md.index("r2.cors") < md.index("postgres.ok")
    assert "100% \\| odd line" in md and "Use rediss://" in md
    con = render.get("console")(report(), color=False)
    assert "postgres.ok" not in con and "passed: postgres 1" in con
    con = render.get("console")(report(), color=False, show_pass=True)
    # blocking (errors and failures, grouped by subsystem, causes first), then warnings, then the passes
    assert con.index("Blocking (2)") < con.index("x.crashed") < con.index("Warnings (1)") < con.index("postgres.ok")
    assert con.index("Blocking (2)") < con.index("FAIL   redis.tls") < con.index("Warnings (1)")
    assert "fix: Use rediss://" in con
    assert con.strip().splitlines()[-1].startswith("NOT READY")


def test_json_output_matches_the_published_schema():
    import jsonschema

    from filot_preflight.commands.schema_cmd import results_schema

    doc = json.loads(render.get("json")(report()))
    jsonschema.validate(doc, results_schema())
    doc["results"][0]["status"] = "maybe"
    import pytest

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, results_schema())
