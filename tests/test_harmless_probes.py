"""Probes are harmless: a FULL `preflight check` against the sandbox stack changes nothing it should not.

Seen from the servers themselves, during one full run (every checker, the Postgres migration lookup on):
- Redis: FiLot's BullMQ queue, filled by the real library (waiting, prioritized and failed
  jobs; the real BullMQ worker paused locally, so nothing consumes them, but connected), and the
  dead-letter list are byte-for-byte identical before and after (DUMP of every key), and the server's own
  MONITOR shows that every command the check's connections sent is a read (in READ_ONLY, and none
  flagged `write` by COMMAND INFO); the queue's keys are written by the worker and its scripts alone;
- Postgres: no transaction id handed out (next xid unchanged, cluster-wide) and no row inserted,
  updated or deleted in any database (pg_stat_database, pg_stat_user_tables), the rows of
  schema_migrations unchanged;
- Secrets Manager and ECS (moto): no secret, version or task definition created or changed.
Then:
- R2: no `_preflight/` object is left behind even when the run is SIGKILLed between the canary's PUT
  and its DELETE (a proxy holds every request after the PUT): a later run removes the stale canary;
- Ctrl-C / SIGTERM end with exit 130 and a partial report (stdout, or the --output file, which is
  replaced atomically: valid JSON, no temp file left); also while Secrets Manager is being read, before
  any checker runs.

Atomic writes when rendering or writing fails half-way are covered by tests/test_documents.py
(test_failure_mid_render_writes_nothing_and_keeps_old_files, test_failure_mid_write_leaves_old_file_and_no_temp).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from filot_preflight import manifest as manifest_mod
from filot_preflight.models import Report, Status
from filot_preflight.sandbox import envfiles, workers
from filot_preflight.sandbox.base import LOOPBACK, wait_until
from filot_preflight.sandbox.stack import Stack
from tests._servers import SilentServer
from tests._timing import within
from tests.fixtures_faults import established, stack_certs, write_env

ROOT = Path(__file__).resolve().parents[1]
# Everything a read-only probe of Redis may send (subcommands as `name|sub`). A new command in a checker
# must be added here on purpose, after checking it cannot change data.
READ_ONLY = {
    "hello", "auth", "client|setname", "client|setinfo", "select", "ping", "info", "config|get", "time",
    "type", "exists", "ttl", "pttl", "llen", "lindex", "lrange", "get", "mget", "hget", "hgetall", "hlen",
    "zcard", "zcount", "zrange", "zrangebyscore", "hmget", "client|list", "xlen", "xrange", "xrevrange", "xinfo|groups", "xinfo|stream",
    "xpending", "quit", "reset",
}
_CONTAINERS = {"client", "config", "xinfo", "object", "memory", "command", "cluster"}


def _env() -> dict[str, str]:
    """This process's environment without anything the tool would read as a value or a setting."""
    names = {v.name for v in manifest_mod.load().variables}
    return {k: v for k, v in os.environ.items() if k not in names and not k.startswith(("AWS_", "PREFLIGHT_"))}


def preflight(*args: str, timeout: float = 60, tmpdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`preflight ARGS` in a fresh process (with its own TMPDIR when given, to see what it leaves there)."""
    env = _env() | ({"TMPDIR": str(tmpdir)} if tmpdir else {})
    return subprocess.run([sys.executable, "-m", "filot_preflight", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=timeout)


def env_args(stack: Stack) -> list[str]:
    return ["--env-file", str(stack.env_file), "--env-file", f"gpu-worker={stack.worker_env_file}"]


# --- Redis: the server's own account of every command -----------------------------------------------


class Monitor:
    """MONITOR on its own TLS connection (raw RESP2): every command the server runs, with the client address."""

    _LINE = re.compile(r"^\+[\d.]+ \[\d+ ([^\]]+)\] (.*)$")
    _ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')

    def __init__(self, url: str, ca: str) -> None:
        p = urlsplit(url)
        host, port = p.hostname or LOOPBACK, p.port or 6379
        raw = socket.create_connection((host, port), timeout=5)
        self.sock = ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname=host)
        self.sock.sendall(f"AUTH {p.username or 'default'} {p.password}\r\nMONITOR\r\n".encode())
        self.buf = b""
        assert self._line() == "+OK" and self._line() == "+OK"
        self.sock.settimeout(0.2)
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _line(self) -> str:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.lines.append(self._line())
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except (OSError, EOFError):
                return

    def stop(self) -> list[tuple[str, list[str]]]:
        """Stop listening; (client address, [command, args...]) of every command seen."""
        time.sleep(0.3)  # let the last commands of the run arrive
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        out = []
        for line in self.lines:
            m = self._LINE.match(line)
            if m:
                args = [a.encode().decode("unicode_escape") for a in self._ARG.findall(m.group(2))]
                out.append((m.group(1), args))
        return out


def command_name(args: list[str]) -> str:
    """`get`, or `config|get` for container commands."""
    name = args[0].lower()
    return f"{name}|{args[1].lower()}" if name in _CONTAINERS and len(args) > 1 else name


# --- Postgres and AWS state ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PgState:
    """What the server says about writes: next xid, tuple counters per database and table, the migrations."""

    next_xid: int
    databases: tuple[tuple[str, int, int, int], ...]
    tables: tuple[tuple[str, int, int, int, int], ...]
    migrations: tuple[tuple[str, str], ...]


def pg_state(url: str) -> PgState:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        xid = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone()
        dbs = conn.execute("SELECT datname, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database"
                           " WHERE datname IS NOT NULL ORDER BY datname").fetchall()
        tables = conn.execute("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, n_live_tup FROM pg_stat_user_tables"
                              " ORDER BY relname").fetchall()
        rows = conn.execute("SELECT version, applied_at::text FROM schema_migrations ORDER BY 1").fetchall()
    assert xid is not None
    return PgState(int(xid[0]), tuple(dbs), tuple(tables), tuple(rows))


def aws_state(env: dict[str, str]) -> dict[str, Any]:
    """Every secret (ARN, versions and their stages, last change) and task definition in moto."""
    import boto3

    kw = {"region_name": env["AWS_REGION"], "endpoint_url": env["AWS_ENDPOINT_URL"], "verify": env["AWS_CA_BUNDLE"],
          "aws_access_key_id": env["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"]}
    sm, ecs = boto3.client("secretsmanager", **kw), boto3.client("ecs", **kw)
    secrets = {}
    for page in sm.get_paginator("list_secrets").paginate():
        for s in page["SecretList"]:
            d = sm.describe_secret(SecretId=s["ARN"])
            versions = {k: sorted(v) for k, v in d.get("VersionIdsToStages", {}).items()}
            secrets[d["Name"]] = (d["ARN"], versions, str(d.get("LastChangedDate")))
    families = sorted(ecs.list_task_definition_families()["families"])
    return {"secrets": secrets, "families": families,
            "taskdefs": sorted(ecs.list_task_definitions()["taskDefinitionArns"])}


# --- one observed full run ---------------------------------------------------------------------------


@dataclass
class Observed:
    """Before/after state of every store a full check touches, and the Redis commands it sent."""

    report: Report
    returncode: int
    queue: tuple[dict[str, Any], dict[str, Any]]  # every BullMQ key of the queue: (type, DUMP, PTTL)
    dead: tuple[list[bytes], list[bytes]]
    commands: list[tuple[str, list[str]]]
    calls: dict[str, int]  # INFO commandstats deltas over the run (MONITOR does not show admin commands)
    worker_addrs: set[str]
    queue_base: str
    pg: tuple[PgState, PgState]
    aws: tuple[dict[str, Any], dict[str, Any]]
    temp_left: list[str]  # what the run left in its own TMPDIR
    stderr: str = field(repr=False, default="")


def migration_manifest(folder: Path) -> Path:
    """The FiLot manifest with `checks.postgres.latest_migration` set, so the migration lookup runs too."""
    text = manifest_mod.default_path().read_text()
    assert "\nchecks:\n" in text
    path = folder / "filot-with-migration.yaml"
    path.write_text(text.replace("\nchecks:\n", "\nchecks:\n  postgres:\n    latest_migration: '0001_init'\n", 1))
    return path


# Keys the (paused) BullMQ worker itself keeps refreshing: its stalled-jobs check and job locks.
_WORKER_OWNED = (":stalled-check", ":lock")


def queue_keys(admin: redis.Redis, base: str) -> dict[str, Any]:
    """(type, DUMP, has TTL) of every key of the BullMQ queue, except those the worker refreshes."""
    keys = sorted(k.decode() for k in admin.scan_iter(match=f"{base}:*", count=1000))
    return {k: (admin.type(k), admin.dump(k), admin.pttl(k) > 0) for k in keys if not k.endswith(_WORKER_OWNED)}


def worker_side(observed: Observed) -> set[str]:
    """Client addresses of the worker, plus "lua": commands BullMQ's scripts run (the check sends no script)."""
    return observed.worker_addrs | {"lua"}


@pytest.fixture(scope="module")
def observed(sandbox_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    """Fill FiLot's BullMQ queue with the real library (a failed job, then, with the worker paused, waiting,
    prioritized and delayed jobs), watch Redis, Postgres and moto around one full `preflight check`."""
    env = sandbox_stack.env()
    prefix = manifest_mod.load().checks.queue.prefix
    worker = sandbox_stack.handles["gpu-worker"]
    queue, dead = env["OCR_QUEUE_KEY"], env["OCR_DEAD_LETTER_KEY"]
    base = f"{prefix}:{queue}"
    admin = redis.Redis.from_url(env["REDIS_URL"], ssl_ca_certs=env["REDIS_TLS_CA_FILE"], client_name="harmless-admin")
    workers.enqueue_bullmq(env, queue, [({"fail": "seeded by test_harmless_probes"}, {})], prefix=prefix, wait_s=20)
    workers.pause_gpu_worker(worker)
    saved_dead = admin.lrange(dead, 0, -1)
    try:
        # No delayed job: it would make BullMQ for Python block longer than its connection survives, and
        # the worker would drop out of getWorkers() for the tests that share this stack (delayed jobs are
        # read in test_gpu_worker_bullmq).
        workers.enqueue_bullmq(env, queue, [({"n": i}, {}) for i in range(3)] + [({"n": 3}, {"priority": 5})],
                               prefix=prefix)
        admin.lpush(dead, json.dumps({"id": "dead-1", "error": "seeded by test_harmless_probes"}))
        before_q, before_d = queue_keys(admin, base), admin.lrange(dead, 0, -1)
        pg_before, aws_before = pg_state(env["DATABASE_URL"]), aws_state(env)
        me = admin.client_id()
        worker_addrs = {c["addr"] for c in admin.client_list() if int(c["id"]) != me}
        # MONITOR before the counters and after them at the end: it sees at least what they count.
        monitor = Monitor(env["REDIS_URL"], env["REDIS_TLS_CA_FILE"])
        stats_before = admin.info("commandstats")
        folder = tmp_path_factory.mktemp("harmless")
        manifest, tmpdir = migration_manifest(folder), folder / "tmp"
        tmpdir.mkdir()
        # --phase all: the post-deployment probes (ECS services, scaling, alarms, rotation) are observed too.
        # --timeout is the whole check's budget: generous, healthy paths never wait for it, and on a busy
        # machine a starved probe must not change what is observed.
        proc = preflight("check", "--manifest", str(manifest), *env_args(sandbox_stack), "--format", "json",
                         "--timeout", "60", "--phase", "all", tmpdir=tmpdir)
        stats_after = admin.info("commandstats")
        commands = monitor.stop()
        # A connection the worker's pool opened during the run is the worker's too (named `<prefix>:...`).
        worker_addrs |= {c["addr"] for c in admin.client_list() if c.get("name", "").startswith(f"{prefix}:")}
        calls = {k.removeprefix("cmdstat_"): v["calls"] - stats_before.get(k, {}).get("calls", 0)
                 for k, v in stats_after.items()}
        time.sleep(1.0)  # backends flush their statistics when they end; give the probe's session a moment
        yield Observed(
            report=Report.model_validate_json(proc.stdout), returncode=proc.returncode,
            queue=(before_q, queue_keys(admin, base)), dead=(before_d, admin.lrange(dead, 0, -1)),
            commands=commands, calls={k: n for k, n in calls.items() if n}, worker_addrs=worker_addrs,
            queue_base=base, pg=(pg_before, pg_state(env["DATABASE_URL"])), aws=(aws_before, aws_state(env)),
            temp_left=sorted(p.name for p in tmpdir.iterdir()), stderr=proc.stderr,
        )
    finally:
        # Remove what this fixture added (jobs of the seeded states); the queue itself stays, as `up` made it.
        for key in admin.scan_iter(match=f"{base}:*"):
            state = key.decode().removeprefix(f"{base}:")
            if state in ("wait", "prioritized", "delayed", "failed", "pc") or state[:1].isdigit():
                admin.delete(key)
        admin.delete(dead)
        if saved_dead:
            admin.rpush(dead, *saved_dead)
        workers.resume_gpu_worker(worker)
        admin.close()


def test_the_observed_run_was_a_full_check(observed: Observed) -> None:
    """A control: every checker ran, and the probes that read the seeded queue and the database did so."""
    from filot_preflight import registry

    ran = {r.id.split(".")[0] for r in observed.report.results}
    assert set(registry.discover()) <= ran
    by_id = {r.id: r for r in observed.report.results}
    depth = by_id["gpu_worker.queue_depth"].evidence
    assert (depth["depth"], depth["wait_count"], depth["prioritized_count"], depth["failed_count"]) == (4, 3, 1, 1)
    assert by_id["postgres.read_only"].status is Status.PASS
    assert by_id["postgres.migration"].status is Status.PASS  # the lookup really ran, inside the read-only session
    assert by_id["aws_secrets.exists"].status is Status.PASS
    assert "Traceback" not in observed.stderr


def test_queue_and_dead_letter_are_byte_for_byte_unchanged(observed: Observed) -> None:
    """DUMP of every key of the BullMQ queue (job hashes, wait, prioritized, delayed, failed, meta, id) and
    the dead-letter list: identical before and after, TTLs too (no EXPIRE, no re-create)."""
    before, after = observed.queue
    assert before == after
    suffixes = {k.removeprefix(observed.queue_base + ":") for k in before}
    assert {"wait", "prioritized", "failed", "meta", "id"} <= suffixes
    assert observed.dead[0] == observed.dead[1] and observed.dead[0]


def test_redis_saw_only_reads_from_the_check(observed: Observed, sandbox_stack: Stack) -> None:
    """From the server's MONITOR: the check's connections sent reads only; COMMAND INFO agrees."""
    ours = [(addr, args) for addr, args in observed.commands if addr not in worker_side(observed)]
    # The probes set no client name (no CLIENT SETNAME, see docs/checks/redis.md): the redis checker's
    # connection starts with PING, the gpu_worker checker's with TIME.
    named = {addr for addr, args in ours if command_name(args) in ("ping", "time")}
    assert named, "no connection of the check was seen (did MONITOR miss the run?)"
    sent = {command_name(args) for _, args in ours}
    assert {"lindex", "hmget", "zrange", "zcard"} <= sent  # wait, job hashes, prioritized, failed were read
    assert sent <= READ_ONLY, f"commands outside the read-only set: {sorted(sent - READ_ONLY)}"
    env = sandbox_stack.env()
    admin = redis.Redis.from_url(env["REDIS_URL"], ssl_ca_certs=env["REDIS_TLS_CA_FILE"])
    try:
        info = admin.execute_command("COMMAND", "INFO", *sorted({n.split("|")[0] for n in sent}))
    finally:
        admin.close()
    flagged = sorted(n for n, spec in info.items() if spec and "write" in spec.get("flags", []))
    assert not flagged, f"the server flags these as writes: {flagged}"


def test_redis_command_counters_show_nothing_but_reads_and_the_workers_commands(observed: Observed) -> None:
    """INFO commandstats counts every command, admin ones too (CONFIG SET, FLUSHALL, ... which MONITOR
    never shows): over the run, every command outside the read-only set ran no more often than MONITOR saw
    the worker (or BullMQ's scripts) send it, so none of them came from the check."""
    by_worker: dict[str, int] = {}
    for addr, args in observed.commands:
        if addr in worker_side(observed):
            by_worker[command_name(args)] = by_worker.get(command_name(args), 0) + 1
    others = {k: n for k, n in observed.calls.items()
              if k not in READ_ONLY | {"monitor"} and n > by_worker.get(k, 0)}
    assert not others, f"commands outside the read-only set ran: {others}"
    assert "config|get" in observed.calls  # the redis checker's eviction-policy read, counted though not monitored


def test_queue_keys_are_written_by_the_worker_alone(observed: Observed) -> None:
    writes = [(addr, args) for addr, args in observed.commands
              if len(args) > 1 and args[1].startswith(observed.queue_base) and command_name(args) not in READ_ONLY]
    assert all(addr in worker_side(observed) for addr, _ in writes), writes


def test_no_postgres_write_anywhere_in_the_cluster(observed: Observed) -> None:
    before, after = observed.pg
    assert after.next_xid == before.next_xid, "a transaction id was assigned: something was written"
    assert after.databases == before.databases, "rows were inserted, updated or deleted"
    assert after.tables == before.tables
    assert after.migrations == before.migrations


def test_no_temp_file_left_behind(observed: Observed) -> None:
    """Regression: the CA bundle written for boto3 (~220 KB, system CAs + --ca-file) stayed in /tmp after
    every run; the console script's fast exit skips atexit, so it now removes its temp files itself."""
    assert observed.temp_left == []


def test_nothing_written_to_secrets_manager_or_ecs(observed: Observed) -> None:
    before, after = observed.aws
    assert before["secrets"] and before["families"]
    assert after == before


# --- R2: a run killed between the canary's PUT and its DELETE ---------------------------------------


class HoldingProxy(SilentServer):
    """HTTPS in front of SeaweedFS's plain S3 port (the stack's certificate, Host header passed through, so
    SigV4 signatures still verify). Once it has forwarded a PUT under `_preflight/`, it forwards nothing
    more: the canary's GET and DELETE wait forever, and the run can be killed with the canary in place."""

    def __init__(self, crt: Path, key: Path, upstream: int, bucket: str) -> None:
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(str(crt), str(key))
        self.upstream, self.marker = upstream, f"PUT /{bucket}/_preflight/".encode()
        self.put_forwarded = threading.Event()
        super().__init__()

    def _on_connection(self, conn: socket.socket) -> None:
        self.serve_in_thread(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        try:
            client = self.tls.wrap_socket(conn, server_side=True)
            up = socket.create_connection((LOOPBACK, self.upstream))
        except OSError:
            return
        threading.Thread(target=self._pump, args=(up, client), daemon=True).start()
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                need = int(m.group(1)) if m else 0
                while len(buf) < need:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                body, buf = buf[:need], buf[need:]
                if self.put_forwarded.is_set():
                    self.stop.wait()  # hold: never forwarded
                    return
                up.sendall(head + b"\r\n\r\n" + body)
                if head.startswith(self.marker):
                    self.put_forwarded.set()
        except OSError:
            return

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass


def test_canary_of_a_run_killed_between_put_and_delete_is_removed_by_a_later_run(
    sandbox_stack: Stack, tmp_path: Path
) -> None:
    """Killed right after the canary PUT, the run leaves its object; a later run deletes it once it is stale.

    The checker judges a canary's age by the unix time in its key (`_preflight/preflight-canary-<unix>-<uuid>`)
    and removes those older than an hour that carry the canary metadata. S3 cannot backdate LastModified, so the test ages
    the left-over canary by renaming it with a timestamp two hours old (same uuid, same body).
    """
    import boto3

    env = sandbox_stack.env()
    bucket, prefix = env["CF_R2_BUCKET"], "_preflight/"
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=env["CF_R2_ENDPOINT"], region_name="auto", verify=str(sandbox_stack.ca_file),
        aws_access_key_id=env["CF_R2_ACCESS_KEY_ID"], aws_secret_access_key=env["CF_R2_SECRET_ACCESS_KEY"],
    )

    def canaries() -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]

    assert canaries() == []
    certs = stack_certs(sandbox_stack)
    proxy = HoldingProxy(certs.server_crt, certs.server_key, sandbox_stack.handles["s3"].ports["s3.port"], bucket)
    held = write_env(tmp_path / "held.env", {**env, "CF_R2_ENDPOINT": f"https://{LOOPBACK}:{proxy.port}"})
    run = subprocess.Popen([sys.executable, "-m", "filot_preflight", "check", "--only", "r2", "--env-file", str(held),
                            "--timeout", "30", "--format", "json"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=_env(), cwd=ROOT)
    try:
        assert proxy.put_forwarded.wait(30), "the run never sent its canary PUT"
        wait_until(lambda: len(canaries()) == 1, 10, what="the canary object stored")
        run.send_signal(signal.SIGKILL)
        run.wait(10)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        proxy.close()
    left = canaries()
    assert len(left) == 1, "the killed run's canary must still be there (its DELETE never went out)"
    marker = "preflight-canary-"
    assert left[0].startswith(prefix + marker), left[0]
    stamp, _, rest = left[0][len(prefix + marker):].partition("-")
    assert stamp.isdigit() and rest, left[0]
    aged = f"{prefix}{marker}{int(time.time()) - 7200}-{rest}"
    # The copy keeps the canary metadata (x-amz-meta-preflight), which the sweep checks before deleting.
    s3.copy_object(Bucket=bucket, Key=aged, CopySource={"Bucket": bucket, "Key": left[0]})
    s3.delete_object(Bucket=bucket, Key=left[0])
    try:
        proc = preflight("check", "--only", "r2", *env_args(sandbox_stack), "--format", "json", "--timeout", "60")
        by_id = {r.id: r for r in Report.model_validate_json(proc.stdout).results}
        assert by_id["r2.canary_stale"].evidence == {"found": 1, "deleted": 1}
        assert by_id["r2.canary_cleanup"].status is Status.PASS  # and its own canary went too
        assert canaries() == []
    finally:
        for k in canaries():
            s3.delete_object(Bucket=bucket, Key=k)


# --- interrupts ------------------------------------------------------------------------------------

ENDPOINT_VARS = ("REDIS_URL", "DATABASE_URL", "TEMPORAL_ADDRESS", "CF_R2_ENDPOINT", "AWS_ENDPOINT_URL",
                 "BULI2_API_URL", "API_BASE_URL")


def silent_env(stack: Stack, port: int, folder: Path) -> list[str]:
    """--env-file arguments of the stack's env files with every endpoint moved to a silent port."""
    args = []
    for path, label in ((stack.env_file, ""), (stack.worker_env_file, "gpu-worker=")):
        values = envfiles.read(path)
        for k in ENDPOINT_VARS:
            if k in values:
                values[k] = re.sub(rf"{re.escape(LOOPBACK)}:\d+", f"{LOOPBACK}:{port}", values[k])
        args += ["--env-file", label + str(write_env(folder / path.name, values))]
    return args


def interrupt_when_connected(argv: list[str], port: int, sig: int, connections: int) -> tuple[int, str, str, float]:
    """Start `preflight ARGV`, send `sig` once it holds `connections` new connections to `port`."""
    before = established(port)
    tmpdir = Path(argv[argv.index("--env-file") + 1]).parent / "tmp"  # the run's own TMPDIR, beside its env files
    tmpdir.mkdir(exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "filot_preflight", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env() | {"TMPDIR": str(tmpdir)}, cwd=ROOT)
    try:
        wait_until(lambda: established(port) >= before + connections or proc.poll() is not None, 20,
                   what="the run connected to the silent port")
        assert proc.poll() is None, "the run ended before it was interrupted"
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        return proc.returncode, out, err, time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_during_the_checks_gives_a_partial_report_and_130(
    sandbox_stack: Stack, silent_port: int, tmp_path: Path, sig: int
) -> None:
    """SIGINT: the partial report on stdout. SIGTERM: into an --output file that already existed, which is
    replaced whole (valid JSON) with no temp file left beside it."""
    out_file = tmp_path / "report.json"
    out_file.write_text("a previous report\n")
    argv = ["check", *silent_env(sandbox_stack, silent_port, tmp_path), "--timeout", "30", "--format", "json"]
    if sig == signal.SIGTERM:
        argv += ["--output", str(out_file)]
    code, out, err, seconds = interrupt_when_connected(argv, silent_port, sig, connections=5)
    assert code == 130, err
    within(seconds, 2, "stopping after the signal")  # --timeout 30: a run that did not stop waits for it
    assert "Traceback" not in err
    text = out if sig == signal.SIGINT else out_file.read_text()
    report = Report.model_validate_json(text)
    assert report.partial and report.interrupted
    unfinished = {r.id.split(".")[0] for r in report.results if r.id.endswith(".unfinished")}
    assert {"redis", "postgres", "temporal", "backend"} <= unfinished
    assert any(r.id.startswith("secrets.") for r in report.results)  # what finished is kept
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.json")]
    assert not list((tmp_path / "tmp").iterdir())  # CA bundles of the abandoned probes removed too


def test_sigterm_while_secrets_manager_is_read_exits_130(sandbox_stack: Stack, silent_port: int, tmp_path: Path) -> None:
    """Before any checker runs (the Secrets Manager read of `--source aws`), SIGTERM is an interrupt too."""
    argv = ["check", *silent_env(sandbox_stack, silent_port, tmp_path), "--source", "env", "--source", "aws",
            "--timeout", "30", "--format", "json"]
    code, out, err, seconds = interrupt_when_connected(argv, silent_port, signal.SIGTERM, connections=1)
    assert code == 130 and "preflight: interrupted" in err, err
    assert "Traceback" not in err
    within(seconds, 2, "stopping after the signal")
