"""The mock_code and env_drift checkers end to end on the fixture trees (tests/fixtures/trees).

`clean/` must yield no finding at all (every result PASS); in `dirty/`, every line marked
`PLANTED: <rule>` must be reported at that file and line, and nothing unplanted may be reported.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from filot_preflight import manifest
from filot_preflight.audit import clear_cache
from filot_preflight.checkers.base import CheckContext, Options
from filot_preflight.checkers.env_drift import EnvDriftChecker
from filot_preflight.checkers.mock_code import MockCodeChecker
from filot_preflight.models import CheckResult, Status
from filot_preflight.redact import Redactor
from filot_preflight.registry import discover, select
from filot_preflight.sources import ValueStore, read_env_file

TREES = Path(__file__).parent / "fixtures" / "trees"
DOCS = Path(__file__).parent.parent / "docs" / "checks"
M = manifest.load()
MOCK_RULES = {"mocks_dir", "mock_import", "mock_switch", "test_key", "localhost", "project_mock", "test_package",
              "committed_secret"}
FAKE_KEYS = ("4eC39HqLyjWDarjtT1zdp7dc", "TYooMQauvdEDq54NiTphI7jx")


def dirs(kind: str) -> dict[str, Path]:
    return {"backend": TREES / kind / "backend", "gpu-worker": TREES / kind / "gpu-worker"}


def run(source_dirs: dict[str, Path], values: ValueStore | None = None) -> list[CheckResult]:
    ctx = CheckContext(M, values or ValueStore(), Options(source_dirs=source_dirs, offline=True), Redactor())

    async def both() -> list[CheckResult]:
        a, b = await asyncio.gather(MockCodeChecker().run(ctx), EnvDriftChecker().run(ctx))
        return a + b

    return asyncio.run(both())


@pytest.fixture(scope="module")
def dirty() -> list[CheckResult]:
    return run(dirs("dirty"))


def planted() -> list[tuple[str, str, int, str]]:
    """(service, path relative to the service root, line, rule) of every PLANTED marker."""
    out = []
    for service, root in dirs("dirty").items():
        for p in sorted(root.rglob("*")):
            if not p.is_file():
                continue
            for n, line in enumerate(p.read_text().splitlines(), 1):
                m = re.search(r"PLANTED: (\w+)", line)
                if m:
                    out.append((service, p.relative_to(root).as_posix(), n, m.group(1)))
    return out


def test_clean_trees_have_no_finding() -> None:
    results = run(dirs("clean"))
    bad = [(r.id, r.target, r.summary) for r in results if r.status != Status.PASS]
    assert bad == []
    ids = {r.id for r in results}
    assert {f"mock_code.{rule}" for rule in MOCK_RULES} <= ids
    assert {"env_drift.undeclared", "env_drift.unread", "env_drift.queue_keys"} <= ids
    sources = [r for r in results if r.id == "mock_code.sources"]
    assert all(isinstance(r.evidence["files_scanned"], int) and r.evidence["files_scanned"] > 2 for r in sources)


def test_every_planted_finding_is_reported(dirty: list[CheckResult]) -> None:
    markers = planted()
    assert len(markers) >= 25
    for service, path, line, rule in markers:
        where = f"{path}:{line}"
        if rule == "mocks_dir" and "folder" in Path(TREES / "dirty" / service / path).read_text():
            found = [r for r in dirty if r.id == "mock_code.mocks_dir" and r.target == str(Path(path).parent)]
        elif rule in MOCK_RULES:
            found = [r for r in dirty if r.id == f"mock_code.{rule}" and r.target == where]
        elif rule == "dynamic":
            found = [r for r in dirty if r.id == "env_drift.dynamic" and r.target == where]
        elif rule == "queue_keys":
            found = [r for r in dirty if r.id == "env_drift.queue_keys" and r.status == Status.FAIL
                     and where in r.detail]
        else:
            found = [r for r in dirty if r.id == f"env_drift.{rule}" and r.status != Status.PASS
                     and any(where in loc for loc in r.evidence.get("locations", []))]
        assert found, f"not reported: {service} {where} ({rule})"
        assert all(r.evidence.get("service", service) == service for r in found)


def test_no_unplanted_mock_findings(dirty: list[CheckResult]) -> None:
    marked = {(path, line) for _, path, line, rule in planted() if rule in MOCK_RULES}
    folders = {str(Path(p).parent) for _, p, _, rule in planted() if rule == "mocks_dir"}
    for r in dirty:
        if r.id.startswith("mock_code.") and r.status != Status.PASS and r.id != "mock_code.sources":
            if r.target in folders:
                continue
            path, _, line = r.target.rpartition(":")
            assert (path, int(line)) in marked, f"unplanted: {r.target} {r.summary}"


def test_dirty_statuses(dirty: list[CheckResult]) -> None:
    def status(rid: str, target: str) -> Status:
        return next(r.status for r in dirty if r.id == rid and r.target == target)

    assert status("mock_code.localhost", "src/config.ts:9") == Status.WARN  # a fallback
    assert status("mock_code.localhost", "src/config.ts:14") == Status.FAIL
    assert status("mock_code.mocks_dir", "src/__mocks__") == Status.WARN
    assert status("mock_code.mocks_dir", "src/services/ocr-client.js:2") == Status.FAIL
    assert status("env_drift.consumer_missing", "GPU_DEVICE") == Status.FAIL
    assert status("env_drift.consumer_missing", "OCR_MAX_RETRIES") == Status.WARN
    assert status("env_drift.undeclared", "HF_TOKEN") == Status.FAIL
    assert not [r for r in dirty if r.id == "mock_code.mock_switch" and "staging" in r.target]
    assert not [r for r in dirty if "PAYMENTS_MOCK" in r.summary], "a mock switch set to false is fine"


def test_waived_lines_are_listed_not_reported(dirty: list[CheckResult]) -> None:
    assert not [r for r in dirty if r.target in ("src/config.ts:15", "src/config.ts:23")]
    waived = next(r for r in dirty if r.id == "mock_code.sources" and r.evidence["service"] == "backend")
    assert waived.evidence["waived"] == [
        "src/config.ts:15 [localhost] link shown in the local-dev banner only",
        "src/config.ts:23 [localhost] fixed fallback documented in the runbook",
    ]


def test_results_never_hold_a_key(dirty: list[CheckResult]) -> None:
    text = " ".join(r.model_dump_json() for r in dirty)
    for key in FAKE_KEYS:
        assert key not in text


def test_run_env_values_are_checked_for_switches_and_keys(tmp_path: Path) -> None:
    env = tmp_path / "prod.env"
    env.write_text("NODE_ENV=production\nUSE_MOCK_OCR=true\nSTRIPE_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc\n")
    store = ValueStore()
    store.add(read_env_file(env))
    results = run({}, store)
    got = {(r.id, r.status, r.target) for r in results if r.status != Status.PASS}
    assert got == {
        ("mock_code.sources", Status.SKIP, ""),
        ("env_drift.sources", Status.SKIP, ""),
        ("mock_code.mock_switch", Status.FAIL, "prod.env:2"),
        ("mock_code.test_key", Status.FAIL, "prod.env:3"),
    }
    assert "4eC39" not in " ".join(r.model_dump_json() for r in results)


def test_without_source_dirs_both_skip_and_say_how() -> None:
    for r in run({}):
        if r.id.endswith(".sources"):
            assert r.status == Status.SKIP and "--source-dir backend=PATH" in r.remediation


def test_missing_source_dir_fails(tmp_path: Path) -> None:
    results = run({"backend": tmp_path / "absent", "gpu-worker": TREES / "clean" / "gpu-worker"})
    src = [(r.id, r.status) for r in results if r.id.endswith(".sources") and r.status != Status.PASS]
    assert src == [("mock_code.sources", Status.FAIL), ("env_drift.sources", Status.FAIL)]


def test_a_change_shows_after_clear_cache(tmp_path: Path) -> None:
    (tmp_path / "a.ts").write_text("export const a = 1;\n")
    before = run({"backend": tmp_path})
    (tmp_path / "a.ts").write_text("import nock from 'nock';\n")
    clear_cache()
    after = run({"backend": tmp_path})
    imp = "mock_code.mock_import"
    assert [r.status for r in before if r.id == imp] == [Status.PASS]
    assert [r.status for r in after if r.id == imp] == [Status.FAIL]


def test_registered_and_offline() -> None:
    found = discover()
    assert found["mock_code"] is MockCodeChecker and found["env_drift"] is EnvDriftChecker
    chosen = {c.name for c in select(found, [], [], offline=True)}
    assert {"mock_code", "env_drift"} <= chosen


def test_every_emitted_id_is_documented(dirty: list[CheckResult]) -> None:
    emitted = {r.id for r in dirty} | {r.id for r in run(dirs("clean"))} | {r.id for r in run({})}
    for checker in ("mock_code", "env_drift"):
        doc = (DOCS / f"{checker}.md").read_text()
        headings = set(re.findall(r"^##+ `?([a-z_]+\.[a-z_]+)`?", doc, re.M))
        mine = {i for i in emitted if i.startswith(checker + ".")}
        assert mine <= headings, f"undocumented: {sorted(mine - headings)}"


def test_several_trees_of_one_service_are_all_scanned(tmp_path: Path) -> None:
    """`--source-dir backend=A --source-dir backend=B`: both trees are scanned, their reads merged."""
    from filot_preflight.commands.common import source_dirs

    a, b = tmp_path / "api", tmp_path / "jobs"
    (a / "src").mkdir(parents=True)
    (b / "src").mkdir(parents=True)
    (a / "src" / "a.ts").write_text("export const x = process.env.FROM_TREE_A;\n")
    (b / "src" / "b.ts").write_text("import sinon from 'sinon';\nexport const y = process.env.FROM_TREE_B;\n")
    parsed = source_dirs([f"backend={a}", f"backend={b}", f"backend={a}"])
    assert parsed == {"backend": (a, b)}
    clear_cache()
    results = run(dict(parsed))
    sources = [r for r in results if r.id == "env_drift.sources"]
    assert sorted(r.target for r in sources) == [f"backend={a}", f"backend={b}"]
    undeclared = {r.target for r in results if r.id == "env_drift.undeclared"}
    assert {"FROM_TREE_A", "FROM_TREE_B"} <= undeclared
    assert [r.target for r in results if r.id == "mock_code.mock_import"] == ["src/b.ts:1"]


def test_committed_credentials_are_found_without_their_values(dirty: list[CheckResult]) -> None:
    """Seven credentials planted in dirty/backend/src/services/vendors.ts: each a FAIL with its type; the
    results (summaries, details, evidence) never carry a value."""
    import json

    found = {r.target: r for r in dirty if r.id == "mock_code.committed_secret" and r.status == Status.FAIL}
    assert {t for t in found if t.startswith("src/services/vendors.ts:")} == {
        f"src/services/vendors.ts:{n}" for n in (3, 4, 6, 7, 8, 9, 10)
    }
    assert "AWS Access Key" in found["src/services/vendors.ts:3"].summary
    assert "Basic Auth Credentials" in found["src/services/vendors.ts:6"].summary
    assert "Private Key" in found["src/services/vendors.ts:10"].summary
    assert "rotate" in found["src/services/vendors.ts:3"].remediation.lower()
    dump = json.dumps([r.model_dump(mode="json") for r in dirty])
    for value in ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "Vq8xN2pLr5tW", "sk_live_51Hq9", "xoxb-1234", "eyJhbGci",
                  "MIIBOgIBAAJBAKj34"):
        assert value not in dump


def test_a_manifest_secret_value_in_code_is_found(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from filot_preflight.sources import Value

    secret_var = next(v.name for v in M.variables if v.secret)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.ts").write_text("export const k = 'correct-horse-battery';\n")
    store = ValueStore()
    store.add([Value(secret_var, SecretStr("correct-horse-battery"), "env-file", "prod.env:3")])
    clear_cache()
    results = run({"backend": tmp_path}, store)
    hits = [r for r in results if r.id == "mock_code.committed_secret" and r.status == Status.FAIL]
    assert [r.target for r in hits] == ["src/a.ts:1"]
    assert secret_var in hits[0].summary and "correct-horse" not in hits[0].summary
