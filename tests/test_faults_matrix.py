"""Every live subsystem x every fault, through the real `preflight check` flow (core.execute), all at once.

Each case derives the two env files of the healthy sandbox stack, breaks ONE subsystem, runs a full
check (every registered checker, `--timeout 2`) and asserts that
- the broken subsystem's checkers each give a FAIL (not an ERROR, not a crash, not a pass) naming the
  right fault (`PATTERNS`), every FAIL with a fix;
- the run is complete (not partial) and not stuck; its time is reported against the promise (the whole
  check within --timeout + 0.5 s, measured in bench/concurrency.py) and is a warning when over it, a
  failure only when it is far over (tests/_timing.py): this machine may be busy;
- every other checker still completed: results from all of them, none `.unfinished`/`.crashed`/
  `.timeout`, no ERROR anywhere, and the other live subsystems do not fail (the fault stays in its lane).

The per-checker live tests (tests/test_*_live.py) prove each failure mode in depth; this matrix proves
the cross-cutting promise: same faults, whole tool, nothing else disturbed. Cases run concurrently in
`WORKERS` worker processes driven by asyncio (each run has a process and a GIL to itself; a worker runs
its cases one after another and imports the probe libraries once); only the cases pytest selected run.
The machine is shared, so the --timeout of the cases is calibrated in the same run: each worker times a
healthy check (libraries already imported, generous timeout) and its cases get `case_timeout` of it (at
least TIMEOUT): on an idle machine 2 s, on a loaded one more, so that a starved but healthy subsystem is
not mistaken for a broken one (--timeout is the whole check's budget). A case that fails under
concurrent load is run once more alone, which decides it; the first failure stays visible as a warning.

"Killed": a dedicated server is frozen (SIGSTOP) before the run, so the checker's connection is
queued by the kernel and it waits for an answer; once that connection is ESTABLISHED (~100 ms into
the run) the server's whole process group is SIGKILLed and the kernel resets the connection, exactly
what a crash in the middle of a conversation looks like. Freezing first makes "in the middle" certain
instead of a race against a fast checker.

Cases that cannot be produced locally are listed in NOT_PRODUCIBLE with the reason, and appear in the
test report as skips carrying that reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from filot_preflight import manifest as manifest_mod
from filot_preflight import registry
from filot_preflight.models import CheckResult, Report, Status
from filot_preflight.sandbox.base import LOOPBACK, ServiceHandle
from tests._timing import within
from tests.fixtures_faults import FaultLab, established, freeze, kill, wait_established, write_env

TIMEOUT = 2.0  # the cases' --timeout on an idle machine (the floor of the calibrated one)
MAX_TIMEOUT = 10.0
CALIBRATION_FACTOR = 4.0  # x a warm healthy check's seconds: room for the slowest checker of a case (r2)
CONTROL_TIMEOUT = 20.0  # healthy runs never wait for it; generous, so the calibration itself is not cut short
WORKERS = 2  # one per CPU here: while one waits on a silent socket, the other computes
ROOT = Path(__file__).resolve().parents[1]
HEALTHY = "healthy"

# Subsystem -> (checkers that must diagnose the fault, checkers that depend on it and must fail too).
# gpu_worker reads the same Redis: it fails with "fix the Redis connection first", the redis checker says why.
SUBSYSTEMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "redis": (("redis",), ("gpu_worker",)),
    "postgres": (("postgres",), ()),
    "temporal": (("temporal",), ()),
    "r2": (("r2",), ()),
    # The aws cases run with --phase all: the post-deployment checkers read the same AWS endpoint.
    "aws": (("aws_secrets", "ecs_taskdefs", "ecs_services", "autoscaling", "alarms", "rotation"), ()),
    "buli2": (("buli2",), ()),
    "backend": (("backend",), ()),
}
LIVE_CHECKERS = {n for primary, deps in SUBSYSTEMS.values() for n in (*primary, *deps)}
FAULTS = (
    "refused", "dns", "silent", "tls_on_plain", "plain_on_tls", "wrong_host", "unknown_ca", "expired",
    "wrong_credentials", "killed",
)
NOT_PRODUCIBLE: dict[tuple[str, str], str] = {
    ("aws", "wrong_credentials"): "moto, the AWS stand-in, accepts any key pair (it does not verify SigV4 "
    "signatures), so wrong AWS credentials cannot be produced locally; the aws checkers' handling of a denied "
    "call is covered by test_aws_secrets_live (missing credentials) and the judge tables",
    ("backend", "wrong_credentials"): "the backend's /health and /ready take no credentials; its only secret "
    "(BULI2_SIGNATURE_SECRET) is exercised by the buli2 row",
}
# What the diagnosing checkers' FAILs must say (summary, detail, remediation), per fault.
PATTERNS: dict[str, str] = {
    "refused": r"refus|did not accept connections",
    "dns": r"does not resolve",
    "silent": r"did not answer|no answer|not answer in time",
    "tls_on_plain": r"does not speak TLS|plain-text|does not offer SSL",
    "plain_on_tls": r"plain|unencrypted|not https|https://",
    "wrong_host": r"not valid for",
    "unknown_ca": r"trusted CA|--ca-file",
    "expired": r"expired",
    "wrong_credentials": r"credential|password|signature|refused BULI2_API_KEY",
    "killed": r"reset|closed|refused|handshake|failed|answer|connect",
}


@dataclass
class Breakage:
    """What a case changes: values of the backend and worker env files (None deletes), a server to kill."""

    backend: dict[str, str | None] = field(default_factory=dict)
    worker: dict[str, str | None] = field(default_factory=dict)
    victim: ServiceHandle | None = None
    victim_port: int = 0
    phase: str = "predeploy"  # the run's --phase


@dataclass
class Outcome:
    """One case's run: the report, its wall time, or what went wrong (an exception that escaped
    core.execute, or a victim the checker never reached)."""

    report: Report | None
    seconds: float
    error: str | None = None
    timeout: float = TIMEOUT  # the run's --timeout


def case_timeout(healthy_seconds: float) -> float:
    """The cases' --timeout for a worker whose warm healthy check took `healthy_seconds`."""
    return round(min(MAX_TIMEOUT, max(TIMEOUT, CALIBRATION_FACTOR * healthy_seconds)), 1)


def cases() -> list[Any]:
    """Every (subsystem, fault) as a pytest param; the unproducible ones skipped with their reason."""
    out = []
    for sub in SUBSYSTEMS:
        for fault in FAULTS:
            marks = [pytest.mark.skip(reason=NOT_PRODUCIBLE[(sub, fault)])] if (sub, fault) in NOT_PRODUCIBLE else []
            out.append(pytest.param(sub, fault, id=f"{sub}-{fault}", marks=marks))
    return out


# --- how each subsystem is pointed somewhere else -------------------------------------------------


def _db_url(lab: FaultLab, host: str, port: int, *, password: str | None = None, query: str | None = None) -> str:
    p = urlsplit(lab.backend["DATABASE_URL"])
    pw = quote(password, safe="") if password is not None else p.password
    return urlunsplit((p.scheme, f"{p.username}:{pw}@{host}:{port}", p.path, query if query is not None else p.query, ""))


def point(lab: FaultLab, sub: str, host: str, port: int, *, tls: bool = True, password: str | None = None) -> Breakage:
    """The subsystem's endpoint variable(s) aimed at host:port (credentials unchanged unless given)."""
    scheme = "https" if tls else "http"
    if sub == "redis":
        pw = quote(password or lab.redis_password, safe="")
        url = f"{'rediss' if tls else 'redis'}://default:{pw}@{host}:{port}/0"
        return Breakage({"REDIS_URL": url}, {"REDIS_URL": url})
    if sub == "postgres":
        return Breakage({"DATABASE_URL": _db_url(lab, host, port, password=password)})
    if sub == "temporal":
        return Breakage({"TEMPORAL_ADDRESS": f"{host}:{port}"})
    var = {"r2": "CF_R2_ENDPOINT", "aws": "AWS_ENDPOINT_URL", "buli2": "BULI2_API_URL", "backend": "API_BASE_URL"}[sub]
    url = f"{scheme}://{host}:{port}"
    return Breakage({var: url}, {var: url} if var in lab.worker else {})


_STACK_SERVICE = {"r2": ("s3", "s3.port.https"), "aws": ("moto", "https"), "buli2": ("buli2", "https"),
                  "backend": ("backend", "https")}
_PLAIN_TEMPORAL = {"TEMPORAL_API_KEY": None, "TEMPORAL_TLS_CERT": None, "TEMPORAL_TLS_KEY": None}


def breakage(lab: FaultLab, sub: str, fault: str) -> Breakage:
    """The env changes (and victim) that produce `fault` for `sub`; AWS faults in a --phase all run."""
    b = _breakage(lab, sub, fault)
    return dataclasses.replace(b, phase="all") if sub == "aws" else b


def _breakage(lab: FaultLab, sub: str, fault: str) -> Breakage:
    if fault == "refused":
        return point(lab, sub, LOOPBACK, lab.closed_port)
    if fault == "dns":
        return point(lab, sub, "nonexistent.invalid", 443)
    if fault == "silent":
        return point(lab, sub, LOOPBACK, lab.silent_port)
    if fault in ("wrong_host", "unknown_ca", "expired"):
        cert = "foreign" if fault == "unknown_ca" else fault
        if sub == "redis":
            return point(lab, sub, LOOPBACK, lab.redis[cert].ports["redis"])
        if sub == "postgres":  # its own role and password; sslmode=verify-full, the stack's CA as sslrootcert
            return Breakage({"DATABASE_URL": lab.postgres[cert].env["DATABASE_URL"]})
        return point(lab, sub, LOOPBACK, lab.https[cert].port)
    if fault == "tls_on_plain":
        if sub == "redis":
            return point(lab, sub, LOOPBACK, lab.redis["plain"].ports["redis"])
        if sub == "postgres":
            return Breakage({"DATABASE_URL": lab.pg_nossl.env["DATABASE_URL"]})
        if sub == "temporal":  # the dev server itself speaks plain gRPC; the API key makes the checker expect TLS
            return point(lab, sub, LOOPBACK, lab.stack.handles["temporal"].ports["grpc"])
        if sub == "r2":  # SeaweedFS's own plain-HTTP S3 port
            return point(lab, sub, LOOPBACK, lab.stack.handles["s3"].ports["s3.port"])
        return point(lab, sub, LOOPBACK, lab.plain_http.port)
    if fault == "plain_on_tls":
        if sub == "redis":
            return point(lab, sub, LOOPBACK, lab.stack.handles["redis"].ports["redis"], tls=False)
        if sub == "postgres":
            port = lab.stack.handles["postgres"].ports["postgres"]
            return Breakage({"DATABASE_URL": _db_url(lab, LOOPBACK, port, query="sslmode=disable")})
        if sub == "temporal":
            return Breakage(dict(_PLAIN_TEMPORAL))  # no API key, no client cert: plain gRPC to the TLS front
        name, port_name = _STACK_SERVICE[sub]
        return point(lab, sub, LOOPBACK, lab.stack.handles[name].ports[port_name], tls=False)
    if fault == "wrong_credentials":
        wrong = secrets.token_urlsafe(24)
        if sub == "redis":
            return point(lab, sub, LOOPBACK, lab.stack.handles["redis"].ports["redis"], password=wrong)
        if sub == "postgres":
            port = lab.stack.handles["postgres"].ports["postgres"]
            return Breakage({"DATABASE_URL": _db_url(lab, LOOPBACK, port, password=wrong)})
        var = {"temporal": "TEMPORAL_API_KEY", "r2": "CF_R2_SECRET_ACCESS_KEY", "buli2": "BULI2_API_KEY"}[sub]
        return Breakage({var: wrong}, {var: wrong} if var in lab.worker else {})
    if fault == "killed":
        return _victim(lab, sub)
    raise AssertionError(f"unknown fault {fault}")


def _victim(lab: FaultLab, sub: str) -> Breakage:
    v = lab.victims[sub]
    if sub == "redis":
        b = point(lab, sub, LOOPBACK, v.ports["redis"], password=urlsplit(v.env["REDIS_URL"]).password)
        port = v.ports["redis"]
    elif sub == "postgres":
        b, port = Breakage({"DATABASE_URL": v.env["DATABASE_URL"]}), v.ports["postgres"]
    elif sub == "temporal":  # a plain dev server of its own: no API key or client certificate
        b, port = Breakage({"TEMPORAL_ADDRESS": v.env["TEMPORAL_ADDRESS"], **_PLAIN_TEMPORAL}), v.ports["grpc"]
    else:
        port = v.ports["s3.port.https" if sub == "r2" else "https"]
        b = point(lab, sub, LOOPBACK, port)
    b.victim, b.victim_port = v, port
    return b


# --- running the cases ----------------------------------------------------------------------------


def _apply(base: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    out = dict(base)
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def _ask(lab: FaultLab, b: Breakage, folder: Path, timeout: float = TIMEOUT) -> bytes:
    folder.mkdir(parents=True, exist_ok=True)
    backend = write_env(folder / "sandbox.env", _apply(lab.backend, b.backend))
    worker = write_env(folder / "gpu-worker.env", _apply(lab.worker, b.worker))
    ask = {"env_files": [str(backend), f"gpu-worker={worker}"], "timeout": timeout, "phase": b.phase}
    return (json.dumps(ask) + "\n").encode()


def _worker_env() -> dict[str, str]:
    """The test process's environment without anything the tool would read as a value or a setting."""
    names = {v.name for v in manifest_mod.load().variables}
    return {k: v for k, v in os.environ.items() if k not in names and not k.startswith(("AWS_", "PREFLIGHT_"))}


async def _case(proc: asyncio.subprocess.Process, lab: FaultLab, b: Breakage, folder: Path,
                timeout: float = TIMEOUT) -> Outcome:
    assert proc.stdin is not None and proc.stdout is not None
    ask = _ask(lab, b, folder, timeout)
    before = 0
    if b.victim is not None:
        freeze(b.victim)
        before = established(b.victim_port)
    proc.stdin.write(ask)
    await proc.stdin.drain()
    problem = None
    if b.victim is not None:
        try:
            await asyncio.to_thread(wait_established, b.victim_port, before)
        except Exception as e:  # noqa: BLE001 - recorded on the case; the run is still collected
            problem = f"the checker never connected to the frozen server: {e}"
        kill(b.victim)
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    answer = json.loads(line)
    report = Report.model_validate(answer["report"]) if answer["report"] is not None else None
    return Outcome(report, float(answer["seconds"]), answer["error"] or problem, timeout)


async def _run_all(lab: FaultLab, todo: dict[str, tuple[Breakage, Path]], logs: Path, workers: int = WORKERS,
                   tag: str = "") -> dict[str, Outcome]:
    """`workers` worker processes (fixtures_faults.serve_cases) take cases from one queue, longest first."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    slow = ("silent", "killed")
    for cid in sorted(todo, key=lambda c: not c.endswith(slow)):
        queue.put_nowait(cid)
    done: dict[str, Outcome] = {}

    async def worker(n: int) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"worker-{tag}{n}.stderr", "wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "from tests.fixtures_faults import serve_cases; serve_cases()",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
                cwd=ROOT, env=_worker_env(), limit=64 * 1024 * 1024,  # one report per line: far over 64 KiB
            )
            try:
                # A healthy run loads the probe libraries, so that the cases measure the tool rather than
                # this worker's first imports; a second one is the control case and the calibration.
                await _case(proc, lab, Breakage(), logs / f"warm-up-{tag}{n}", CONTROL_TIMEOUT)
                control = await _case(proc, lab, Breakage(), logs / f"{HEALTHY}-{tag}{n}", CONTROL_TIMEOUT)
                done[f"{HEALTHY}-{tag}{n}"] = control
                timeout = case_timeout(control.seconds)
                if timeout > TIMEOUT:
                    warnings.warn(f"worker {tag}{n}: a healthy check took {control.seconds:.2f}s (a busy machine): "
                                  f"its cases run with --timeout {timeout:g} instead of {TIMEOUT:g}", stacklevel=1)
                while not queue.empty():
                    cid = queue.get_nowait()
                    done[cid] = await _case(proc, lab, *todo[cid], timeout)
            finally:
                assert proc.stdin is not None
                proc.stdin.close()
                try:
                    await asyncio.wait_for(proc.wait(), timeout=10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

    await asyncio.gather(*(worker(n) for n in range(workers)))
    return done


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, fault_lab: FaultLab, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, Outcome]:
    """Run every case pytest selected in this module, concurrently; outcomes by case id."""
    selected = {item.callspec.id for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")}
    root = tmp_path_factory.mktemp("matrix")
    todo: dict[str, tuple[Breakage, Path]] = {}
    for sub in SUBSYSTEMS:
        for fault in FAULTS:
            cid = f"{sub}-{fault}"
            if cid in selected and (sub, fault) not in NOT_PRODUCIBLE:
                todo[cid] = (breakage(fault_lab, sub, fault), root / cid)
    if ALL_CA_ID in selected:
        todo[ALL_CA_ID] = (no_ca_files(fault_lab), root / ALL_CA_ID)
    outcomes = asyncio.run(_run_all(fault_lab, todo, root))
    # The bounds are wall-clock promises; on a shared machine a burst of load elsewhere can starve a run.
    # A case that failed is run once more, alone, and its verdict is that run's (the first failure is
    # reported as a warning, so load-sensitivity stays visible).
    failed = {cid: why for cid in todo if (why := failure(cid, outcomes[cid]))}
    if failed or any(control_failure(o) for k, o in outcomes.items() if k.startswith(HEALTHY)):
        again = {}
        for cid in failed:
            sub, _, fault = cid.partition("-")
            if fault == "killed":
                fault_lab.fresh_victim(sub)  # the first one is dead
            b = no_ca_files(fault_lab) if cid == ALL_CA_ID else breakage(fault_lab, sub, fault)
            again[cid] = (b, root / "alone" / cid)
        outcomes.update(asyncio.run(_run_all(fault_lab, again, root / "alone", workers=1, tag="alone-")))
        for cid, why in failed.items():
            warnings.warn(f"{cid}: failed under concurrent load ({why.splitlines()[0][:200]}); "
                          f"run alone it {'failed too' if failure(cid, outcomes[cid]) else 'passed'}", stacklevel=1)
    stderr = "".join(p.read_text(errors="replace") for p in root.rglob("worker-*.stderr"))
    assert "Traceback" not in stderr, stderr[-3000:]
    return outcomes


def expectations(cid: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(primary checkers, dependent checkers, pattern) a case is judged by."""
    if cid == ALL_CA_ID:
        return (tuple(n for p, _ in SUBSYSTEMS.values() for n in p), tuple(n for _, d in SUBSYSTEMS.values() for n in d),
                PATTERNS["unknown_ca"])
    sub, _, fault = cid.partition("-")
    return (*SUBSYSTEMS[sub], PATTERNS[fault])


def _selected(report: Report) -> list[str]:
    """The registered checkers the run's --phase selects (post-deployment checkers stay out of a predeploy run)."""
    from filot_preflight.checkers.base import in_phase

    return [n for n, c in registry.discover().items() if in_phase(c.phase, report.phase)]


def control_failure(out: Outcome) -> str | None:
    """Why a healthy control run is not clean, or None."""
    if out.error is not None or out.report is None:
        return out.error or "no report"
    bad = [(r.id, r.status.value, r.summary) for r in out.report.results if r.status in (Status.FAIL, Status.ERROR)]
    missing = [n for n in _selected(out.report) if not _mine(out.report.results, n)]
    return f"failing results {bad}, checkers without a result {missing}" if bad or missing else None


def failure(cid: str, out: Outcome) -> str | None:
    """Why the case fails its assertions, or None."""
    try:
        assert_contained(out, *expectations(cid))
    except AssertionError as e:
        return str(e) or "assertion failed"
    return None


# --- the assertions -------------------------------------------------------------------------------


def _text(results: list[CheckResult]) -> str:
    return "\n".join(f"{r.id} {r.summary} {r.detail} {r.remediation}" for r in results)


def _mine(results: list[CheckResult], checker: str) -> list[CheckResult]:
    return [r for r in results if r.id.startswith(f"{checker}.")]


def assert_contained(out: Outcome, primary: tuple[str, ...], dependent: tuple[str, ...] = (),
                     pattern: str | None = None) -> None:
    """The broken checkers FAIL with fixes (the primary ones saying `pattern`); every checker completed on its
    own; no ERROR anywhere; no other live subsystem fails."""
    assert out.error is None, out.error
    assert out.report is not None
    res = out.report.results
    within(out.seconds, out.timeout + 0.5, f"a check with --timeout {out.timeout:g}")
    assert not out.report.partial and not out.report.interrupted
    stuck = [(r.id, r.summary) for r in res if r.id.endswith((".unfinished", ".crashed", ".timeout"))]
    assert not stuck, f"checkers did not complete on their own: {stuck}"
    errors = [(r.id, r.summary) for r in res if r.status is Status.ERROR]
    assert not errors, f"ERROR results: {errors}"
    selected = _selected(out.report)
    missing = [n for n in selected if not _mine(res, n)]
    assert not missing, f"checkers without a result: {missing}"
    # A checker of another phase did not run (the post-deployment ones outside the AWS row's --phase all).
    for name in (n for n in (*primary, *dependent) if n in selected):
        fails = [r for r in _mine(res, name) if r.status is Status.FAIL]
        assert fails, f"{name} did not fail: {[(r.id, r.status.value, r.summary) for r in _mine(res, name)]}"
        no_fix = [r.id for r in fails if not r.remediation.strip()]
        assert not no_fix, f"FAIL without a fix: {no_fix}"
        if pattern is not None and name in primary:
            assert re.search(pattern, _text(fails), re.IGNORECASE), f"{name} FAILs do not say /{pattern}/:\n{_text(fails)}"
    lanes = LIVE_CHECKERS - {*primary, *dependent}
    spill = [(r.id, r.summary) for r in res if r.status is Status.FAIL and r.id.split(".")[0] in lanes]
    assert not spill, f"a healthy subsystem failed too: {spill}"


@pytest.mark.parametrize(("sub", "fault"), cases())
def test_fault(outcomes: dict[str, Outcome], sub: str, fault: str) -> None:
    """One subsystem broken one way: it fails with the right fix, in time; everything else completes."""
    assert_contained(outcomes[f"{sub}-{fault}"], *expectations(f"{sub}-{fault}"))


ALL_CA_ID = "all-unknown_ca_without_any_ca_file"


def no_ca_files(lab: FaultLab) -> Breakage:
    """No PREFLIGHT_CA_FILE, REDIS_TLS_CA_FILE, AWS_CA_BUNDLE or sslrootcert: the sandbox CA is unknown to all."""
    gone: dict[str, str | None] = {"PREFLIGHT_CA_FILE": None, "REDIS_TLS_CA_FILE": None, "AWS_CA_BUNDLE": None}
    port = lab.stack.handles["postgres"].ports["postgres"]
    return Breakage({**gone, "DATABASE_URL": _db_url(lab, LOOPBACK, port, query="sslmode=verify-full")}, dict(gone))


@pytest.mark.parametrize("case", [ALL_CA_ID], ids=[ALL_CA_ID])
def test_unknown_ca_everywhere_at_once(outcomes: dict[str, Outcome], case: str) -> None:
    """The literal "no PREFLIGHT_CA_FILE" case: every TLS subsystem fails on trust, and every checker completes."""
    assert_contained(outcomes[case], *expectations(case))


def test_healthy_control_run_in_every_worker(outcomes: dict[str, Outcome]) -> None:
    """The unbroken stack through the same flow: nothing fails, so every FAIL above is the fault's doing.
    (Like the cases: a control that failed under concurrent load must pass when run alone.)"""
    concurrent = {k: control_failure(o) for k, o in outcomes.items() if k.startswith(HEALTHY) and "alone" not in k}
    alone = {k: control_failure(o) for k, o in outcomes.items() if k.startswith(f"{HEALTHY}-alone")}
    assert len(concurrent) == WORKERS
    if any(concurrent.values()):
        warnings.warn(f"healthy control failed under concurrent load: {concurrent}", stacklevel=1)
        assert alone and not any(alone.values()), alone


def test_all_silent_in_a_fresh_process(fault_lab: FaultLab, tmp_path: Path) -> None:
    """Every live subsystem silent at once, in a fresh `preflight check` process (probe libraries imported
    during the run, as in CI): the run ends in time and each checker gives its OWN diagnosis, not the
    runner's generic `.timeout` (the regression the runner's per-checker budget start fixed)."""
    b = Breakage()
    for sub in SUBSYSTEMS:
        part = point(fault_lab, sub, LOOPBACK, fault_lab.silent_port)
        b.backend.update(part.backend)
        b.worker.update(part.worker)
    ask = json.loads(_ask(fault_lab, b, tmp_path))
    argv = [sys.executable, "-m", "filot_preflight", "check", "--timeout", str(TIMEOUT), "--format", "json"]
    for f in ask["env_files"]:
        argv += ["--env-file", f]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=_worker_env(), cwd=ROOT, timeout=60)
    wall = time.monotonic() - t0
    assert proc.returncode == 1, proc.stderr
    report = Report.model_validate_json(proc.stdout)
    assert report.finished_at is not None
    run_s = (report.finished_at - report.started_at).total_seconds()
    primary = tuple(n for p, _ in SUBSYSTEMS.values() for n in p)
    dependent = tuple(n for _, d in SUBSYSTEMS.values() for n in d)
    assert_contained(Outcome(report, run_s), primary, dependent, PATTERNS["silent"])
    within(wall, TIMEOUT + 0.5, "the whole all-silent process (startup included)")


def test_every_case_is_run_or_listed_with_a_reason() -> None:
    """No silent gaps: each cell of the matrix is a case, or in NOT_PRODUCIBLE with a reason of substance."""
    cells = {(s, f) for s in SUBSYSTEMS for f in FAULTS}
    assert set(NOT_PRODUCIBLE) <= cells
    assert all(len(reason) > 40 for reason in NOT_PRODUCIBLE.values())
    assert set(PATTERNS) == set(FAULTS)
    live = {n for n, cls in registry.discover().items() if cls.network}
    # ecs_taskdefs runs offline with --task-def files, but fetches live without them (as in the sandbox).
    assert live <= LIVE_CHECKERS, f"live checkers missing from the matrix: {live - LIVE_CHECKERS}"


