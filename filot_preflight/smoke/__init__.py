"""`preflight smoke`: one synthetic OCR job end to end through the real path, then everything removed.

Writes on purpose (never part of `check`): a PDF uploaded to R2 with a presigned PUT under the canary
prefix, a job enqueued the way the backend enqueues it (the manifest's queue layout, BullMQ by the real
library), the worker's result awaited with a deadline, then the job, its result and the object removed.
Leftovers of a killed run are swept by the next run once their expiry (written into their names) passed.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from filot_preflight.checkers.base import CheckContext
from filot_preflight.models import Status
from filot_preflight.net.host_gate import check_host_sync
from filot_preflight.net.redis_conn import UrlError, parse_url, trusted_cas
from filot_preflight.smoke import document, jobs
from filot_preflight.smoke.model import SmokeReport, Step

STEPS = ("inputs", "sweep", "upload", "enqueue", "result", "cleanup")
R2_VARS = ("CF_R2_ACCESS_KEY_ID", "CF_R2_SECRET_ACCESS_KEY", "CF_R2_BUCKET")
EXPIRY_MARGIN_S = 5  # beyond the run's own worst case (wait + 8 timeouts), before a next run may sweep


class _Run:
    """The steps of one smoke run, recorded in order; a step's text is redacted before it is kept."""

    def __init__(self, ctx: CheckContext, report: SmokeReport, echo: Callable[[Step], None]) -> None:
        self.ctx, self.report, self.echo = ctx, report, echo

    def add(self, name: str, status: Status, summary: str, seconds: float | None = None,
            remediation: str | None = None, **evidence: Any) -> Step:
        red = self.ctx.redactor.redact
        step = Step(name=name, status=status, summary=red(summary)[:400], seconds=None if seconds is None else
                    round(seconds, 3), remediation=red(remediation) if remediation else None,
                    evidence={k: red(v) if isinstance(v, str) else v for k, v in evidence.items()})
        self.report.steps.append(step)
        self.echo(step)
        return step

    def skip_rest(self, why: str) -> None:
        done = {s.name for s in self.report.steps}
        for name in STEPS:
            if name not in done:
                self.add(name, Status.SKIP, f"not run: {why}")

    @contextmanager
    def timed(self) -> Iterator[Callable[[], float]]:
        t0 = time.monotonic()
        yield lambda: time.monotonic() - t0


def run(ctx: CheckContext, wait_s: float | None = None, echo: Callable[[Step], None] = lambda _s: None) -> SmokeReport:
    """Run the smoke job; a failure is a step with its fix, never an exception (Ctrl-C: cleanup, then partial)."""
    m, o = ctx.manifest, ctx.options
    wait = wait_s if wait_s is not None else m.checks.smoke.wait_s
    expiry = int(time.time() + wait + 8 * o.timeout + EXPIRY_MARGIN_S)
    rid = f"{expiry}-{uuid.uuid4().hex}"
    job_id, key = f"{jobs.MARKER}{rid}", f"{m.checks.r2.canary_prefix}{document.MARKER}{rid}"
    report = SmokeReport(smoke_id=job_id, started_at=datetime.now(UTC), layout=m.checks.queue.layout)
    r = _Run(ctx, report, echo)
    try:
        plan = _inputs(r)
        if plan is not None:
            _steps(r, plan, job_id, key, wait, expiry)
    except KeyboardInterrupt:
        report.interrupted = True
    r.skip_rest("interrupted" if report.interrupted else "an earlier step failed")
    report.finished_at = datetime.now(UTC)
    return report


def _inputs(r: _Run) -> dict[str, Any] | None:
    """The values and the policy checks (TLS, hosts); None (and a FAIL step) when the run cannot start."""
    ctx, m, o = r.ctx, r.ctx.manifest, r.ctx.options
    qvar = (m.checks.queue.queue_key_vars or ["OCR_QUEUE_KEY"])[0]
    account, endpoint = ctx.value("CF_R2_ACCOUNT_ID"), ctx.value("CF_R2_ENDPOINT")
    names = ("REDIS_URL", qvar, *R2_VARS)
    missing = [n for n in names if not ctx.value(n)] + ([] if account or endpoint else ["CF_R2_ACCOUNT_ID"])
    if missing:
        r.add("inputs", Status.FAIL, f"missing: {', '.join(missing)}", remediation="Give the values the "
              "backend runs with (--env-file, --source aws); `preflight check` lists where each one lives.",
              missing=missing)
        return None
    endpoint = (endpoint or f"https://{account}.r2.cloudflarestorage.com").rstrip("/")
    try:
        ep = parse_url(str(ctx.value("REDIS_URL")))
    except UrlError as e:
        r.add("inputs", Status.FAIL, f"REDIS_URL: {e}", remediation="Fix REDIS_URL (`preflight check --only redis`)")
        return None
    problems = _policy(ep.tls, urlsplit(endpoint), ep.host, o)
    if problems:
        r.add("inputs", Status.FAIL, "; ".join(problems), remediation="Run smoke against the production "
              "endpoints over TLS; --allow-loopback / --allow-plaintext-auth relax this for a local stack only.")
        return None
    cas = trusted_cas(ctx)
    if cas.error:
        r.add("inputs", Status.FAIL, cas.error, remediation="Point --ca-file / REDIS_TLS_CA_FILE at a PEM file.")
        return None
    relaxed = [flag for flag, on in (("--allow-loopback", o.allow_loopback), ("--insecure", o.insecure),
                                     ("--allow-plaintext-auth", o.allow_plaintext_auth)) if on]
    r.add("inputs", Status.PASS, f"queue {ctx.value(qvar)} ({m.checks.queue.layout}), bucket "
          f"{ctx.value('CF_R2_BUCKET')}" + (f"; relaxed: {', '.join(relaxed)}" if relaxed else ""),
          queue_var=qvar, layout=m.checks.queue.layout, relaxations=relaxed)
    return {"ep": ep, "cas": cas.files, "queue": str(ctx.value(qvar)), "endpoint": endpoint,
            "creds": (str(ctx.value(R2_VARS[0])), str(ctx.value(R2_VARS[1]))), "bucket": str(ctx.value(R2_VARS[2]))}


def _policy(redis_tls: bool, r2: Any, redis_host: str, o: Any) -> list[str]:
    """Why credentials must not be sent: no TLS, or a host the pre-connect gate refuses (net.host_gate: the
    literal form or any address the name resolves to is loopback/private/metadata, without --allow-loopback)."""
    out = []
    if not redis_tls and not o.allow_plaintext_auth:
        out.append("REDIS_URL is redis:// (no TLS): the password would travel in clear text")
    if r2.scheme != "https":
        out.append("the R2 endpoint is not https://")
    for what, host in (("REDIS_URL", redis_host), ("R2 endpoint", r2.hostname or "")):
        gate = check_host_sync(host, allow_loopback=o.allow_loopback, timeout=o.timeout)
        if gate.refused:
            out.append(f"{what} host: {gate.reason}")
    return out


def _steps(r: _Run, p: dict[str, Any], job_id: str, key: str, wait: float, expiry: int) -> None:
    """sweep, upload, enqueue, result; cleanup always runs once anything may have been created."""
    ctx, o = r.ctx, r.ctx.options
    try:
        bucket = document.open_bucket(p["endpoint"], p["creds"], p["bucket"], ctx.manifest.checks.r2.canary_prefix, o)
        queue = jobs.open_queue(ctx.manifest, p["ep"], p["cas"], o.insecure, o.timeout, p["queue"])
    except Exception as e:  # noqa: BLE001 - a bad CA file, an unsupported layout: the step's result
        r.add("sweep", Status.FAIL, f"could not open the bucket or the queue: {e}",
              remediation="Run `preflight check --only r2 --only gpu_worker` for the exact cause.")
        return
    uploaded = enqueued = False
    try:
        _sweep(r, bucket, queue)
        with r.timed() as took:
            # The presigned URL lives as long as the run may (its leftovers' expiry), at least a minute.
            ok, what = document.upload(bucket, key, max(60, int(expiry - time.time())), ctx.redactor)
        uploaded = ok
        r.add("upload", Status.PASS if ok else Status.FAIL, f"presigned PUT {key}: {what}", took(),
              None if ok else "Give the R2 token Object Read & Write on the bucket; `preflight check --only r2`.",
              key=key)
        if not ok:
            return
        with r.timed() as took:
            data = {ctx.manifest.checks.smoke.document_field: key, "bucket": p["bucket"], "smoke": True,
                    "smokeId": job_id}
            queue.enqueue(job_id, data)
        enqueued = True
        r.add("enqueue", Status.PASS, f"job {job_id} added to {p['queue']}", took(), job_id=job_id)
        _result(r, queue, job_id, wait)
    except Exception as e:  # noqa: BLE001 - a refused command, a dropped connection: the step's result
        step = "enqueue" if uploaded and not enqueued else "result" if enqueued else "upload"
        r.add(step, Status.FAIL, f"{type(e).__name__}: {e}", remediation="Check the Redis user's grants "
              "(the producer needs BullMQ's write commands and EVALSHA) and `preflight check --only gpu_worker`.")
    finally:
        _cleanup(r, bucket, queue, job_id if enqueued else None, key if uploaded else None)


def _sweep(r: _Run, bucket: document.Bucket, queue: Any) -> None:
    with r.timed() as took:
        objects, queued = document.sweep(bucket), queue.sweep(time.time())
    error = objects.get("stale_error")
    r.add("sweep", Status.FAIL if error else Status.PASS,
          f"left by earlier runs: {objects.get('stale_deleted', 0)} document(s), {queued['stale_deleted']} job(s) "
          "removed" + (f"; {error}" if error else ""), took(),
          "Give the R2 token list/delete on the canary prefix." if error else None,
          documents_removed=objects.get("stale_deleted", 0), jobs_removed=queued["stale_deleted"])


def _result(r: _Run, queue: Any, job_id: str, wait: float) -> None:
    with r.timed() as took:
        out = queue.wait(job_id, time.monotonic() + wait)
    if out.done:
        r.add("result", Status.PASS, f"{out.state} after {took():.2f} s: {out.detail}", took(), state=out.state)
    elif out.state == "failed":
        r.add("result", Status.FAIL, f"the worker failed the job: {out.detail}", took(), "Read the GPU worker's "
              "logs for this job id: it reached the worker, which could not process the document.", state=out.state)
    else:
        r.add("result", Status.FAIL, f"no result within {wait:g} s (job still {out.state})", took(),
              "Is the GPU worker running and consuming this queue? `preflight check --only gpu_worker` (workers, "
              "queue name, prefix, paused); raise checks.smoke.wait_s / --wait for a slow first job.", state=out.state)


def _cleanup(r: _Run, bucket: document.Bucket, queue: Any, job_id: str | None, key: str | None) -> None:
    with r.timed() as took:
        parts: list[str] = []
        ok = True
        for what, fn, arg in (("job", queue.remove, job_id), ("document", lambda k: document.remove(bucket, k), key)):
            if arg is None:
                continue
            try:
                done, text = fn(arg)
            except Exception as e:  # noqa: BLE001 - reported; the next run sweeps it
                done, text = False, f"{type(e).__name__}: {e}"
            ok, parts = ok and done, [*parts, f"{what}: {text}"]
        for close in (queue.close, bucket.close):
            with contextlib.suppress(Exception):  # closing a broken connection: nothing left to do
                close()
    r.add("cleanup", Status.PASS if ok else Status.FAIL, "; ".join(parts) or "nothing was created", took(),
          None if ok else "The next `preflight smoke` removes it once its expiry passed; or delete it by hand.")
