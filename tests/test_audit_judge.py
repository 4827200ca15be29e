"""Table tests of the pure judges of the source audits: mock_code.judge, env_drift.judge, judge_queues."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from filot_preflight import manifest
from filot_preflight.audit.model import (
    CONSTANT,
    CONSUME,
    DEFAULT,
    PRODUCE,
    EnvRead,
    Finding,
    QueueRef,
    TreeScan,
)
from filot_preflight.audit.queue_judge import judge_queues
from filot_preflight.audit.report import MAX_PER_RULE
from filot_preflight.checkers.env_drift import DriftFacts
from filot_preflight.checkers.env_drift import judge as drift_judge
from filot_preflight.checkers.mock_code import MockFacts, ValueHit, value_hits
from filot_preflight.checkers.mock_code import judge as mock_judge
from filot_preflight.manifest import CodeSettings, Manifest
from filot_preflight.models import CheckResult, Status
from filot_preflight.sources import Value

M = manifest.load()


def tree(service: str, **kw: object) -> TreeScan:
    scan = TreeScan(root=f"/src/{service}", service=service, files_scanned=3)
    for k, v in kw.items():
        setattr(scan, k, v)
    return scan


def statuses(results: list[CheckResult], rid: str) -> list[Status]:
    return [r.status for r in results if r.id == rid]


def non_pass_have_fixes(results: list[CheckResult]) -> None:
    for r in results:
        if r.status in (Status.WARN, Status.FAIL):
            assert r.remediation, f"{r.id} {r.target} has no remediation"
        if r.status == Status.SKIP:
            assert r.summary, "a SKIP says why"


# --- mock_code ------------------------------------------------------------------------------------

MOCK_CASES: list[tuple[str, list[Finding], dict[str, list[Status]]]] = [
    ("clean", [], {f"mock_code.{r}": [Status.PASS] for r in
                   ("mocks_dir", "mock_import", "mock_switch", "test_key", "localhost")}),
    ("__mocks__ folder only warns", [Finding("mocks_dir", "src/__mocks__", 0, "2 file(s)")],
     {"mock_code.mocks_dir": [Status.WARN]}),
    ("import from __mocks__ fails", [Finding("mocks_dir", "src/a.ts", 3, "imports from '../__mocks__/x'")],
     {"mock_code.mocks_dir": [Status.FAIL]}),
    ("mock library", [Finding("mock_import", "src/a.ts", 1, "imports 'sinon'")],
     {"mock_code.mock_import": [Status.FAIL], "mock_code.localhost": [Status.PASS]}),
    ("loopback endpoint fails, fallback warns",
     [Finding("localhost", "a.ts", 1, "localhost:1"), Finding("localhost", "a.ts", 2, "localhost:2", True)],
     {"mock_code.localhost": [Status.FAIL, Status.WARN]}),
    ("switch and key in a tree env file",
     [Finding("mock_switch", ".env.production", 2, "MOCK_X=true"), Finding("test_key", ".env", 3, "pk_test_…")],
     {"mock_code.mock_switch": [Status.FAIL], "mock_code.test_key": [Status.FAIL]}),
]


@pytest.mark.parametrize(("label", "findings", "expected"), MOCK_CASES, ids=[c[0] for c in MOCK_CASES])
def test_mock_judge(label: str, findings: list[Finding], expected: dict[str, list[Status]]) -> None:
    results = mock_judge(MockFacts((tree("backend", findings=findings),), ()))
    for rid, want in expected.items():
        assert statuses(results, rid) == want, rid
    assert statuses(results, "mock_code.sources") == [Status.PASS]
    non_pass_have_fixes(results)
    for r in results:
        if r.status != Status.PASS and r.id != "mock_code.sources":
            assert r.target.startswith(r.evidence["file"]), "target names the file (and line)"


def test_mock_judge_without_trees_still_checks_env_values() -> None:
    hits = (ValueHit("mock_switch", "prod.env:4", "mock switch USE_MOCK_OCR is on"),)
    results = mock_judge(MockFacts((), hits))
    assert statuses(results, "mock_code.sources") == [Status.SKIP]
    assert "--source-dir" in next(r for r in results if r.id == "mock_code.sources").remediation
    assert [(r.status, r.target) for r in results if r.id == "mock_code.mock_switch"] == [(Status.FAIL, "prod.env:4")]
    assert statuses(results, "mock_code.test_key") == [Status.PASS]
    assert not statuses(results, "mock_code.mock_import"), "no claim about code that was not scanned"


def test_mock_judge_caps_many_findings() -> None:
    findings = [Finding("mock_import", f"src/m{n:03}.ts", 1, "imports 'nock'") for n in range(MAX_PER_RULE + 15)]
    results = [r for r in mock_judge(MockFacts((tree("backend", findings=findings),), ())) if r.id.endswith("import")]
    assert len(results) == MAX_PER_RULE + 1
    more = results[-1]
    assert more.target == "+15 more" and more.status == Status.FAIL and more.evidence["count"] == 15
    assert "src/m034.ts:1" in more.evidence["locations"]


def test_missing_tree_fails_with_fix() -> None:
    results = mock_judge(MockFacts((tree("backend", error="does not exist"),), ()))
    src = [r for r in results if r.id == "mock_code.sources"]
    assert [r.status for r in src] == [Status.FAIL] and "--source-dir backend=" in src[0].remediation


@pytest.mark.parametrize(
    ("name", "value", "rules"),
    [
        ("USE_MOCK_OCR", "true", ["mock_switch"]),
        ("MOCK_PAYMENTS", "1", ["mock_switch"]),
        ("PAYMENTS_MOCK", "yes", ["mock_switch"]),
        ("PAYMENTS_MOCK", "false", []),
        ("MOCKINGBIRD", "true", []),
        ("STRIPE_SECRET_KEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", ["test_key"]),
        ("STRIPE_SECRET_KEY", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", []),
    ],
)
def test_value_hits(name: str, value: str, rules: list[str]) -> None:
    hits = value_hits([Value(name, SecretStr(value), "file", "prod.env:7")])
    assert [h.rule for h in hits] == rules
    for h in hits:
        assert h.origin == "prod.env:7" and value not in h.what


# --- env_drift ------------------------------------------------------------------------------------


def read(name: str | None, line: int = 1, default: bool = False, path: str = "src/config.ts") -> EnvRead:
    return EnvRead(name, path, line, default, "" if name else "name")


def all_reads(service: str) -> list[EnvRead]:
    return [read(v.name, i + 1) for i, v in enumerate(M.consumed_by(service))]


def drift(*scans: TreeScan, m: Manifest = M) -> list[CheckResult]:
    return drift_judge(DriftFacts(scans), m)


def test_drift_clean_when_code_and_manifest_agree() -> None:
    results = drift(tree("backend", env_reads=all_reads("backend")), tree("gpu-worker", env_reads=all_reads("gpu-worker")))
    assert {r.status for r in results if r.id != "env_drift.queue_keys"} == {Status.PASS}


DRIFT_CASES: list[tuple[str, dict[str, list[EnvRead]], dict[str, list[tuple[Status, str]]]]] = [
    ("undeclared var fails", {"backend": [read("STRIPE_SECRET_KEY")]},
     {"env_drift.undeclared": [(Status.FAIL, "STRIPE_SECRET_KEY")]}),
    ("platform vars are not undeclared", {"backend": [read("HOME"), read("npm_package_version"), read("LC_ALL")]},
     {"env_drift.undeclared": [(Status.PASS, "")]}),
    ("read by a non-consumer fails", {"backend": [read("GPU_DEVICE")]},
     {"env_drift.consumer_missing": [(Status.FAIL, "GPU_DEVICE")]}),
    ("... but only warns when every read has a fallback", {"backend": [read("GPU_DEVICE", default=True)]},
     {"env_drift.consumer_missing": [(Status.WARN, "GPU_DEVICE")]}),
    ("... fails if one read has no fallback",
     {"backend": [read("GPU_DEVICE", 1, True), read("GPU_DEVICE", 2, False)]},
     {"env_drift.consumer_missing": [(Status.FAIL, "GPU_DEVICE")]}),
    ("dynamic read warns with its place", {"backend": [read(None, 9)]},
     {"env_drift.dynamic": [(Status.WARN, "src/config.ts:9")]}),
]


@pytest.mark.parametrize(("label", "reads", "expected"), DRIFT_CASES, ids=[c[0] for c in DRIFT_CASES])
def test_drift_judge(label: str, reads: dict[str, list[EnvRead]], expected: dict[str, list[tuple[Status, str]]]) -> None:
    base = {"backend": all_reads("backend"), "gpu-worker": all_reads("gpu-worker")}
    scans = [tree(svc, env_reads=base[svc] + reads.get(svc, [])) for svc in base]
    results = drift(*scans)
    for rid, want in expected.items():
        assert [(r.status, r.target) for r in results if r.id == rid] == want, rid
    non_pass_have_fixes(results)


def test_unread_and_unused_consumer() -> None:
    backend = [r for r in all_reads("backend") if r.name not in ("SENTRY_DSN", "LOG_LEVEL")]
    results = drift(tree("backend", env_reads=backend), tree("gpu-worker", env_reads=all_reads("gpu-worker")))
    assert [(r.status, r.target) for r in results if r.id == "env_drift.unread"] == [(Status.WARN, "SENTRY_DSN")]
    unused = [r for r in results if r.id == "env_drift.consumer_unused"]
    assert [(r.status, r.target, r.evidence["service"]) for r in unused] == [(Status.WARN, "LOG_LEVEL", "backend")]


def test_implicit_reads_are_never_unread() -> None:
    backend = [r for r in all_reads("backend") if r.name not in ("AWS_REGION", "NODE_ENV")]
    results = drift(tree("backend", env_reads=backend), tree("gpu-worker", env_reads=all_reads("gpu-worker")))
    assert statuses(results, "env_drift.unread") == [Status.PASS]
    assert statuses(results, "env_drift.consumer_unused") == [Status.PASS]


def test_only_scanned_services_are_judged_for_unread() -> None:
    results = drift(tree("backend", env_reads=all_reads("backend")))
    assert statuses(results, "env_drift.unread") == [Status.PASS], "worker-only variables are not blamed on backend"
    assert statuses(results, "env_drift.queue_keys") == [Status.SKIP]


def test_manifest_code_settings_extend_the_lists() -> None:
    code = CodeSettings(ignore_vars=["FEATURE_*"], implicit_reads=["SENTRY_DSN"])
    m = M.model_copy(update={"checks": M.checks.model_copy(update={"code": code})})
    backend = [r for r in all_reads("backend") if r.name != "SENTRY_DSN"] + [read("FEATURE_X")]
    results = drift(tree("backend", env_reads=backend), tree("gpu-worker", env_reads=all_reads("gpu-worker")), m=m)
    assert statuses(results, "env_drift.undeclared") == [Status.PASS]
    assert statuses(results, "env_drift.unread") == [Status.PASS]


def test_unknown_service_label_fails() -> None:
    results = drift(tree("frontend", env_reads=[read("VITE_X")]))
    assert [(r.id, r.status) for r in results] == [("env_drift.sources", Status.FAIL)]
    assert "backend" in results[0].summary


def test_drift_without_trees_skips() -> None:
    results = drift()
    assert [(r.id, r.status) for r in results] == [("env_drift.sources", Status.SKIP)]
    assert "--source-dir backend=" in results[0].remediation


# --- queue keys -----------------------------------------------------------------------------------


def q(kind: str, value: str | None = None, ident: str | None = None, label: str = "lpush", line: int = 1) -> QueueRef:
    return QueueRef(kind, label, "src/q.ts", line, value=value, ident=ident)


def queues(backend: list[QueueRef], worker: list[QueueRef], configured: dict[tuple[str, str], str] | None = None,
           backend_env: dict[str, str] | None = None, worker_env: dict[str, str] | None = None) -> list[CheckResult]:
    scans = {
        "backend": tree("backend", queue_refs=backend, const_env=backend_env or {}),
        "gpu-worker": tree("gpu-worker", queue_refs=worker, const_env=worker_env or {}),
    }
    return judge_queues(scans, configured or {})


QUEUE_CASES: list[tuple[str, dict[str, object], list[Status]]] = [
    ("same literal", {"backend": [q(PRODUCE, "jobs")], "worker": [q(CONSUME, "jobs")]}, [Status.PASS]),
    ("different literals", {"backend": [q(PRODUCE, "filot:ocr:jobs")], "worker": [q(CONSUME, "ocr_jobs")]},
     [Status.FAIL]),
    ("same env var", {"backend": [q(PRODUCE, ident="k")], "worker": [q(CONSUME, ident="k")],
                      "backend_env": {"k": "OCR_QUEUE_KEY"}, "worker_env": {"k": "OCR_QUEUE_KEY"}}, [Status.PASS]),
    ("same env var, configured differently per service",
     {"backend": [q(PRODUCE, ident="k")], "worker": [q(CONSUME, ident="k")],
      "backend_env": {"k": "OCR_QUEUE_KEY"}, "worker_env": {"k": "OCR_QUEUE_KEY"},
      "configured": {("backend", "OCR_QUEUE_KEY"): "a", ("gpu-worker", "OCR_QUEUE_KEY"): "b"}}, [Status.FAIL]),
    ("literal vs env, unknown value", {"backend": [q(PRODUCE, "jobs")], "worker": [q(CONSUME, ident="k")],
                                       "worker_env": {"k": "OCR_QUEUE_KEY"}}, [Status.WARN]),
    ("literal vs env, configured equal",
     {"backend": [q(PRODUCE, "jobs")], "worker": [q(CONSUME, ident="k")], "worker_env": {"k": "OCR_QUEUE_KEY"},
      "configured": {("gpu-worker", "OCR_QUEUE_KEY"): "jobs"}}, [Status.PASS]),
    ("literal vs env, configured different",
     {"backend": [q(PRODUCE, "jobs")], "worker": [q(CONSUME, ident="k")], "worker_env": {"k": "OCR_QUEUE_KEY"},
      "configured": {("gpu-worker", "OCR_QUEUE_KEY"): "other"}}, [Status.FAIL]),
    ("one match plus an extra queue on each side",
     {"backend": [q(PRODUCE, "jobs"), q(PRODUCE, "emails")], "worker": [q(CONSUME, "jobs"), q(CONSUME, "prio")]},
     [Status.PASS, Status.WARN, Status.WARN]),
    ("constant resolves the identifier",
     {"backend": [q(PRODUCE, ident="OCR_QUEUE"), q(CONSTANT, "jobs", label="OCR_QUEUE")],
      "worker": [q(CONSUME, "jobs")]}, [Status.PASS]),
    ("nothing pushed in code", {"backend": [], "worker": [q(CONSUME, "jobs")]}, [Status.SKIP]),
    ("fallbacks differ, var unset", {"backend": [q(DEFAULT, "a", label="OCR_QUEUE_KEY")],
                                     "worker": [q(DEFAULT, "b", label="OCR_QUEUE_KEY")]}, [Status.FAIL, Status.SKIP]),
    ("fallbacks differ, var set in both",
     {"backend": [q(DEFAULT, "a", label="OCR_QUEUE_KEY")], "worker": [q(DEFAULT, "b", label="OCR_QUEUE_KEY")],
      "configured": {("backend", "OCR_QUEUE_KEY"): "x", ("gpu-worker", "OCR_QUEUE_KEY"): "x"}},
     [Status.WARN, Status.SKIP]),
    ("same constant, different values",
     {"backend": [q(CONSTANT, "a", label="DEAD_QUEUE")], "worker": [q(CONSTANT, "b", label="DEAD_QUEUE")]},
     [Status.WARN, Status.SKIP]),
]


@pytest.mark.parametrize(("label", "case", "expected"), QUEUE_CASES, ids=[c[0] for c in QUEUE_CASES])
def test_queue_judge(label: str, case: dict[str, object], expected: list[Status]) -> None:
    results = queues(case["backend"], case["worker"], case.get("configured"),  # type: ignore[arg-type]
                     case.get("backend_env"), case.get("worker_env"))  # type: ignore[arg-type]
    assert [r.status for r in results] == expected
    assert {r.id for r in results} == {"env_drift.queue_keys"}
    non_pass_have_fixes([r for r in results if r.status != Status.SKIP])


def test_queue_judge_names_both_places() -> None:
    [r] = queues([q(PRODUCE, "filot:ocr:jobs", line=8)], [q(CONSUME, "ocr_jobs", line=30)])
    assert "'filot:ocr:jobs'" in r.summary and "'ocr_jobs'" in r.summary
    assert "src/q.ts:8" in r.detail and "src/q.ts:30" in r.detail


def test_queue_judge_needs_both_trees() -> None:
    [r] = judge_queues({"backend": tree("backend")}, {})
    assert r.status == Status.SKIP and "gpu-worker" in r.summary
