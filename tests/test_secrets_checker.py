"""The secrets checker on real env files: per-service views, reuse, required_if, and no value in any result."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
from pathlib import Path

import pytest

from filot_preflight import manifest
from filot_preflight.checkers.base import CheckContext, Options
from filot_preflight.checkers.secrets import RESULT_IDS, SecretsChecker, judge, probe
from filot_preflight.models import Status
from filot_preflight.redact import Redactor
from filot_preflight.registry import discover
from filot_preflight.rules import Rule
from filot_preflight.sources import load_values

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "manifests" / "example.prod.env"
DOC = ROOT / "docs" / "checks" / "secrets.md"
M = manifest.load()
RNG = random.Random(8)


def b64(n: int) -> str:
    return base64.b64encode(RNG.randbytes(n)).decode()


# Every checker the manifest's verified_by names, as if all were installed: results must not depend on
# which live checkers happen to be registered in this checkout.
VERIFIERS = frozenset(v.verified_by for v in M.variables if v.verified_by)


def run(*env_files: str, offline: bool = False, allow_loopback: bool = False) -> list:
    """Probe + judge on env files (no process environment), all verifying checkers assumed installed."""
    facts = probe(M, load_values(M, env_files, use_process_env=False))
    return judge(facts, offline=offline, allow_loopback=allow_loopback, checkers=VERIFIERS)


def run_checker(*env_files: str, **opts) -> list:
    """The real entry: SecretsChecker.run with a CheckContext."""
    store = load_values(M, env_files, use_process_env=False)
    return asyncio.run(SecretsChecker().run(CheckContext(M, store, Options(**opts), Redactor())))


def by_target(results) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in results:
        out.setdefault(r.target, []).append(r)
    return out


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def env_with(tmp_path: Path, name: str = "prod.env", drop=(), **overrides: str) -> str:
    """The example env file with some variables replaced, added or removed."""
    lines = []
    for line in EXAMPLE.read_text().splitlines():
        key = line.split("=", 1)[0]
        if key in drop or key in overrides:
            continue
        lines.append(line)
    lines += [f"{k}={v}" for k, v in overrides.items()]
    return write(tmp_path, name, "\n".join(lines) + "\n")


GOOD = {"JWT_SECRET": b64(48), "BULI2_API_KEY": b64(32), "BULI2_SIGNATURE_SECRET": b64(32),
        "REDIS_URL": "rediss://default:Upst4shPassw0rdXyz@eu1-brave-falcon-41234.upstash.io:6379"}


def test_example_env_reproduces_the_seed_story():
    results = run(str(EXAMPLE), offline=True)
    fails = sorted((r.id, r.target) for r in results if r.status is Status.FAIL)
    assert fails == [
        ("secrets.missing", "BULI2_API_KEY"),
        ("secrets.missing", "BULI2_SIGNATURE_SECRET"),
        ("secrets.missing", "JWT_SECRET"),
        ("secrets.tls", "REDIS_URL"),
    ]
    warns = {r.target for r in results if r.status is Status.WARN}
    assert {r.id for r in results if r.status is Status.WARN} == {"secrets.needs_verification"}
    assert {"DATABASE_URL", "AWS_ACCOUNT_ID", "CF_R2_ACCESS_KEY_ID"} <= warns
    counts = {s: sum(r.status is s for r in results) for s in Status}
    assert counts[Status.PASS] > 3 * (counts[Status.FAIL] + counts[Status.WARN])  # mostly passing
    assert counts[Status.ERROR] == 0
    # every variable is reported exactly once, backend under its plain name, worker-only ones prefixed
    targets = [r.target for r in results]
    assert len(targets) == len(set(targets)) == len(M.variables)
    assert "gpu-worker:OCR_MODEL_NAME" in targets and "gpu-worker:REDIS_URL" not in targets


def test_example_failures_carry_the_concrete_fix():
    res = by_target(run(str(EXAMPLE), offline=True))
    (jwt,) = res["JWT_SECRET"]
    assert jwt.remediation.startswith(
        "Generate: openssl rand -base64 48 and store it in AWS Secrets Manager at filot/prod/jwt-secret"
    )
    assert "set but empty" in jwt.summary and jwt.evidence["origin"] == "example.prod.env:13"
    (key,) = res["BULI2_API_KEY"]
    assert "BULI2 service team" in key.remediation and "filot/prod/buli2 (JSON key api_key)" in key.remediation
    (redis,) = res["REDIS_URL"]
    assert "rediss://" in redis.summary and "filot/prod/redis-url" in redis.remediation


def test_fixing_the_story_makes_secrets_ready(tmp_path):
    results = run(env_with(tmp_path, **GOOD))
    bad = [(r.id, r.target, r.summary) for r in results if r.status in (Status.FAIL, Status.ERROR)]
    assert bad == []
    ok = next(r for r in results if r.target == "REDIS_URL")
    assert ok.id == "secrets.ok" and ok.evidence["verified_by"] == "redis"


def test_reuse_across_secrets_fails_both(tmp_path):
    shared = b64(48)
    res = by_target(run(env_with(tmp_path, **{**GOOD, "JWT_SECRET": shared, "SESSION_SECRET": shared})))
    for name, other in (("JWT_SECRET", "SESSION_SECRET"), ("SESSION_SECRET", "JWT_SECRET")):
        (r,) = res[name]
        assert (r.id, r.status) == ("secrets.reused", Status.FAIL)
        assert r.evidence["reused_with"] == [other] and other in r.remediation


def test_reuse_across_services(tmp_path):
    shared = b64(48)
    backend = env_with(tmp_path, **{**GOOD, "JWT_SECRET": shared})
    worker = write(tmp_path, "worker.env", f"SERVICE_INTERNAL_KEY={shared}\n")
    res = by_target(run(backend, f"gpu-worker={worker}"))
    assert [r.id for r in res["JWT_SECRET"]] == ["secrets.reused"]
    (w,) = res["gpu-worker:SERVICE_INTERNAL_KEY"]
    assert w.id == "secrets.reused" and w.evidence["reused_with"] == ["JWT_SECRET"]
    assert w.summary.startswith("gpu-worker: ")


def test_same_secret_in_both_services_is_not_reuse(tmp_path):
    backend = env_with(tmp_path, **GOOD)
    key = next(line.split("=", 1)[1] for line in EXAMPLE.read_text().splitlines()
               if line.startswith("SERVICE_INTERNAL_KEY="))
    worker = write(tmp_path, "worker.env", f"SERVICE_INTERNAL_KEY={key}\n")
    results = run(backend, f"gpu-worker={worker}")
    assert not [r for r in results if r.id == "secrets.reused"]
    assert [r.id for r in by_target(results)["gpu-worker:SERVICE_INTERNAL_KEY"]] == ["secrets.ok"]


def test_required_if_temporal(tmp_path):
    # TEMPORAL_ADDRESS set but TEMPORAL_NAMESPACE (and TEMPORAL_TASK_QUEUE) missing.
    res = by_target(run(env_with(tmp_path, drop=("TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE"), **GOOD)))
    for name in ("TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE"):
        (r,) = res[name]
        assert (r.id, r.status) == ("secrets.missing", Status.FAIL)
        assert "required because TEMPORAL_ADDRESS is set" in r.summary and r.remediation
    # Without TEMPORAL_ADDRESS (absent or blank) the whole family is optional: SKIP with a reason.
    for drop, extra in ((("TEMPORAL_ADDRESS",), {}), ((), {"TEMPORAL_ADDRESS": ""})):
        res = by_target(run(env_with(tmp_path, drop=(*drop, "TEMPORAL_NAMESPACE"), **GOOD, **extra)))
        (ns,) = res["TEMPORAL_NAMESPACE"]
        assert (ns.id, ns.status) == ("secrets.optional", Status.SKIP)
        assert "optional, not set" in ns.summary and "TEMPORAL_ADDRESS" in ns.detail


def test_worker_env_file_is_judged_on_its_own_values(tmp_path):
    backend = env_with(tmp_path, **GOOD)
    worker = write(
        tmp_path, "worker.env",
        "REDIS_URL=redis://default:W0rkerRedisPw99@10.0.4.12:6379\nOCR_MODEL_NAME=\nLOG_LEVEL=verbose\n",
    )
    res = by_target(run(backend, f"gpu-worker={worker}"))
    assert {r.id for r in res["gpu-worker:REDIS_URL"]} == {"secrets.tls", "secrets.loopback"}
    assert [r.id for r in res["gpu-worker:OCR_MODEL_NAME"]] == ["secrets.missing"]
    assert [r.id for r in res["gpu-worker:LOG_LEVEL"]] == ["secrets.malformed"]
    assert [r.id for r in res["REDIS_URL"]] == ["secrets.ok"]  # the backend's own value is fine
    assert "gpu-worker:AWS_REGION" not in res  # shared value, already judged for the backend
    assert "gpu-worker:JWT_SECRET" not in res  # not consumed by the worker


def test_allow_loopback_for_a_sandbox_rehearsal(tmp_path):
    local = {
        **GOOD,
        "REDIS_URL": "rediss://default:SandboxPw12345678@127.0.0.1:6380",
        "DATABASE_URL": "postgresql://filot:SandboxPw12345678@localhost:5433/filot?sslmode=verify-full",
        "TEMPORAL_ADDRESS": "[::1]:7233",
    }
    strict = by_target(run(env_with(tmp_path, **local)))
    assert {r.id for n in ("REDIS_URL", "DATABASE_URL", "TEMPORAL_ADDRESS") for r in strict[n]} == {"secrets.loopback"}
    relaxed = by_target(run(env_with(tmp_path, **local), allow_loopback=True))
    for name in ("REDIS_URL", "DATABASE_URL", "TEMPORAL_ADDRESS"):
        (r,) = relaxed[name]
        assert r.status is Status.PASS and r.evidence["loopback_allowed"] is True


def test_needs_verification_only_offline_or_without_a_checker(tmp_path):
    path = env_with(tmp_path, **GOOD)
    facts = probe(M, load_values(M, [path], use_process_env=False))
    offline = by_target(judge(facts, offline=True, checkers={"postgres"}))
    assert [r.id for r in offline["DATABASE_URL"]] == ["secrets.needs_verification"]
    assert "--only postgres" in offline["DATABASE_URL"][0].remediation
    online = by_target(judge(facts, offline=False, checkers={"postgres"}))
    assert [r.id for r in online["DATABASE_URL"]] == ["secrets.ok"]
    assert [r.id for r in online["AWS_ACCOUNT_ID"]] == ["secrets.needs_verification"]  # no 'aws' checker here


def test_aws_and_env_origins_are_reported(tmp_path):
    path = env_with(tmp_path, **GOOD)
    res = by_target(run(path))
    (r,) = res["SESSION_SECRET"]
    assert r.evidence["source"] == "file" and re.fullmatch(r"prod\.env:\d+", r.evidence["origin"])
    assert r.evidence["entropy"] == "high" and r.evidence["length"] == 44


SECRET_VALUES = {
    "JWT_SECRET": "changeme-LeakCanary01",
    "SESSION_SECRET": "LeakCanarySharedValue02xx",
    "CSRF_SECRET": "LeakCanarySharedValue02xx",
    "SERVICE_INTERNAL_KEY": "LeakCanaryShort03",
    "ENCRYPTION_KEY": "LeakCanary-not-base64!04",
    "STACK_SECRET_SERVER_KEY": "sk_test_LeakCanary05abcdefghijkl",
    "DATABASE_URL": "postgresql+psycopg://app:LeakCanary06@10.0.0.7/filot?sslmode=prefer",
    "REDIS_URL": "redis://default:LeakCanary07@localhost:6379",
    "BULI2_API_KEY": "<LeakCanary08>",
    "BULI2_SIGNATURE_SECRET": " LeakCanary09padded ",
    "TEMPORAL_API_KEY": "LeakCanary10",
    "RESEND_API_KEY": "re_LeakCanary11",
    "AWS_ACCOUNT_ID": "12345678901LeakCanary12",
    "SENTRY_DSN": "http://LeakCanary13@o1.ingest.sentry.io/1",
}


@pytest.mark.parametrize("offline", [True, False])
def test_no_value_appears_in_any_result_field(tmp_path, offline):
    lines = [f'{k}="{v}"' for k, v in SECRET_VALUES.items()]
    results = run_checker(
        env_with(tmp_path, drop=tuple(SECRET_VALUES)), write(tmp_path, "bad.env", "\n".join(lines)), offline=offline
    )
    judged = {r.target for r in results if r.id != "secrets.ok"}
    assert set(SECRET_VALUES) <= judged  # every canary was actually judged as a problem
    blob = json.dumps([r.model_dump(mode="json") for r in results])
    assert "LeakCanary" not in blob
    for value in SECRET_VALUES.values():
        assert value not in blob and value.strip() not in blob


def test_checker_run_matches_the_pure_judge_offline():
    via_run = run_checker(str(EXAMPLE), offline=True)
    assert [(r.id, r.target) for r in via_run] == [(r.id, r.target) for r in run(str(EXAMPLE), offline=True)]


def test_every_result_is_well_formed():
    for r in run(str(EXAMPLE), offline=True):
        assert r.id in RESULT_IDS and r.subsystem == "secrets" and r.target
        if r.status is not Status.PASS:
            assert r.remediation or r.status is Status.SKIP
        if r.status is Status.SKIP:
            assert "not set" in r.summary and r.detail


def test_result_ids_match_rules_and_are_documented():
    assert set(RESULT_IDS) == {f"secrets.{rule.value}" for rule in Rule}
    headings = set(re.findall(r"^#{2,3} `?(secrets\.[a-z_]+)`?\s*$", DOC.read_text(), flags=re.M))
    assert set(RESULT_IDS) <= headings


def test_registered_offline_checker():
    cls = discover()["secrets"]
    assert cls is SecretsChecker and cls.network is False and cls.subsystem == "secrets"
