"""A consequence (gpu_worker.redis) carries its diagnosed cause (redis.*), and is listed after it."""

from __future__ import annotations

from pathlib import Path

from filot_preflight.consequences import link
from filot_preflight.models import CheckResult, Report, Status
from filot_preflight.sandbox import envfiles
from filot_preflight.sandbox.stack import Stack
from tests._cli import run


def r(id: str, status: Status, target: str, summary: str = "s", fix: str = "") -> CheckResult:
    sub = "gpu-worker" if id.startswith("gpu_worker") else id.split(".")[0]
    return CheckResult(id=id, subsystem=sub, status=status, target=target, summary=summary, remediation=fix)


def test_the_consequence_names_the_live_diagnosis_over_the_url_rule() -> None:
    results = [r("gpu_worker.redis", Status.FAIL, "REDIS_URL", "closed: crashed or restarted", "restart it"),
               r("redis.tls", Status.FAIL, "REDIS_URL (h:1)", "plain redis://", "use rediss://"),
               r("redis.plain_on_tls", Status.FAIL, "REDIS_URL (h:1)", "h:1 requires TLS", "change the scheme")]
    gpu = link(results)[0]
    assert "crashed" not in gpu.summary and "h:1 requires TLS" in gpu.summary and "redis.plain_on_tls" in gpu.summary
    assert gpu.remediation.startswith("Fix redis.plain_on_tls first") and gpu.evidence["cause"] == "redis.plain_on_tls"
    ordered = [x.id for x in Report(results=results).sorted_results()]
    assert ordered.index("redis.plain_on_tls") < ordered.index("gpu_worker.redis")  # cause first


def test_without_a_redis_failure_the_consequence_keeps_its_own_words() -> None:
    own = r("gpu_worker.redis", Status.FAIL, "REDIS_URL", "could not read the queue (timeout)")
    assert link([own, r("redis.ping", Status.PASS, "REDIS_URL (h:1)")]) == [own, r("redis.ping", Status.PASS, "REDIS_URL (h:1)")]


def test_plain_redis_on_the_tls_port_live(sandbox_stack: Stack, tmp_path: Path, capsys) -> None:
    url = envfiles.read(sandbox_stack.env_file)["REDIS_URL"]
    plain = tmp_path / "plain.env"
    plain.write_text("REDIS_URL=" + url.replace("rediss://", "redis://", 1) + "\n")
    plain.chmod(0o600)
    # The plain file first: both services read env files as dotenv does, where the first file's value wins.
    code, out, _ = run(capsys, "check", "--only", "redis", "--only", "gpu_worker", "--env-file", str(plain),
                       "--env-file", str(sandbox_stack.env_file), "--format", "json", "--timeout", "3")
    import json

    res = {x["id"]: x for x in json.loads(out)["results"]}
    assert code == 1 and res["redis.plain_on_tls"]["status"] == "fail"
    gpu = res["gpu_worker.redis"]
    assert "crashed" not in gpu["summary"] + gpu["remediation"]
    # The worker's probe does not log in over redis:// (the password would cross unencrypted): it says so
    # instead of guessing at a cause; a failed read would carry the redis checker's diagnosis.
    if gpu["status"] == "skip":
        assert "redis://" in gpu["summary"] and "login not tried" in gpu["summary"]
    else:
        assert "redis.plain_on_tls" in gpu["summary"] and "rediss://" in gpu["remediation"]
