"""--format sarif is valid SARIF 2.1.0 (the official OASIS schema, committed in tests/fixtures/sarif) and
carries every code finding with its file and line; GitHub annotations carry file=, line= and title=."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from filot_preflight import render
from filot_preflight.models import CheckResult, Report, Status
from tests.test_audit_checkers import dirs, run

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def dirty_report() -> Report:
    return Report(results=run(dirs("dirty")))


def test_sarif_is_valid_and_carries_every_code_finding(dirty_report: Report) -> None:
    doc = json.loads(render.get("sarif")(dirty_report))
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    results = doc["runs"][0]["results"]
    located = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["locations"][0]["physicalLocation"].get("region", {}).get("startLine"))
               for r in results if r.get("locations")}
    code = [r for r in dirty_report.results if r.status in (Status.WARN, Status.FAIL) and "line" in r.evidence
            and r.evidence["line"]]
    assert code
    for r in code:
        assert (r.id, Path(str(r.evidence["path"])).as_posix(), r.evidence["line"]) in located, r.target
    rule_ids = {rule["id"] for rule in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in results} <= rule_ids


def test_grouped_results_are_expanded_in_sarif() -> None:
    many = CheckResult(id="env_drift.dynamic", subsystem="code", status=Status.WARN, summary="3 more like the above",
                       target="+3 more", remediation="fix",
                       evidence={"count": 3, "locations": ["src/a.ts:1", "src/b.py:7", "worker/c.py:9"]})
    doc = json.loads(render.get("sarif")(Report(results=[many])))
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    got = [(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in doc["runs"][0]["results"]]
    assert got == [("src/a.ts", 1), ("src/b.py", 7), ("worker/c.py", 9)]


def test_github_annotations_carry_file_line_and_title(dirty_report: Report) -> None:
    out = render.get("github")(dirty_report)
    lines = [x for x in out.splitlines() if "mock_code.committed_secret" in x]
    assert lines
    assert all(x.startswith("::error file=") and ",line=" in x and ",title=" in x for x in lines)
    assert any("vendors.ts,line=3,title=" in x for x in lines)
