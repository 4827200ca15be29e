"""Temporal (optional): TLS + API key or mTLS, namespace, live pollers on the task queue, server version.

When TEMPORAL_ADDRESS is unset the backend falls back to the Redis queue: the checker skips with that
reason and verifies the fallback is configured. Otherwise a bounded TLS handshake with Python's `ssl`
(error classification, server certificate) precedes `temporalio`'s `ServiceClient.connect`, which is wrapped in
`asyncio.wait_for`: its own connect timeout does not bound a host that accepts and never answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from filot_preflight.checkers.base import GRACE, CheckContext, Checker
from filot_preflight.checkers.temporal.judge import Poller, TemporalFacts, TemporalJudgeSettings, judge
from filot_preflight.fileio import read_pem, sweep_stale_dirs
from filot_preflight.models import CheckResult
from filot_preflight.net import libraries as libs
from filot_preflight.net import tls as _tls
from filot_preflight.net.host_gate import check_host

__all__ = ["TemporalChecker", "TemporalFacts", "TemporalJudgeSettings", "judge", "probe"]

EK = _tls.ErrorKind


async def probe(ctx: CheckContext) -> TemporalFacts:
    """Facts about Temporal as the backend is configured; never raises for a network failure."""
    t = ctx.manifest.checks.temporal
    address = ctx.value(t.address_var)
    if not address:
        queue_vars = ["REDIS_URL", *ctx.manifest.checks.queue.queue_key_vars]
        own = [v.name for v in ctx.manifest.variables if v.section == "temporal" and v.name != t.address_var]
        return TemporalFacts(
            configured=False, address_var=t.address_var,
            fallback_missing=tuple(v for v in queue_vars if not ctx.value(v)),
            partial_vars=tuple(v for v in own if ctx.value(v)),
        )
    base = TemporalFacts(configured=True, address_var=t.address_var, timeout_s=ctx.options.timeout,
                         insecure=ctx.options.insecure, namespace=ctx.value("TEMPORAL_NAMESPACE"),
                         task_queue=ctx.value("TEMPORAL_TASK_QUEUE"))
    try:
        host, port = parse_address(address)
    except ValueError as e:
        return dataclasses.replace(base, address_error=str(e))
    api_key = ctx.value("TEMPORAL_API_KEY")
    cert_pem, key_pem, cert_error = _client_pair(ctx.value("TEMPORAL_TLS_CERT"), ctx.value("TEMPORAL_TLS_KEY"))
    client_cert = None
    if cert_pem and not cert_error:
        try:
            client_cert = _tls.cert_from_pem(cert_pem.decode("ascii", errors="replace"))
        except ValueError:
            cert_error = "TEMPORAL_TLS_CERT holds no PEM certificate"
    mtls = cert_pem is not None and key_pem is not None and not cert_error
    auth = "+".join(a for a, on in (("api_key", bool(api_key)), ("mtls", mtls)) if on) or "none"
    facts = dataclasses.replace(
        base, host=host, port=port, host_kind=_tls.host_kind(host), tls=bool(api_key) or mtls, auth=auth,
        client_cert=client_cert, client_cert_error=cert_error,
        ca_sources=("--ca-file",) if ctx.options.ca_file else (),
    )
    gate = await check_host(ctx, host)
    facts = dataclasses.replace(facts, gate=gate, host_kind=gate.kind)
    if gate.refused:
        return facts  # the host policy refuses it: no connection, no API key, no client certificate
    if not facts.tls and facts.host_kind != "loopback":
        return facts  # plaintext to a remote host: refused by the judge, not attempted
    conn = _Conn(ctx, facts, api_key, cert_pem if mtls else None, key_pem if mtls else None)
    return dataclasses.replace(await conn.run(), error=ctx.redactor.redact(conn.error))


def parse_address(address: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets); no scheme, port required."""
    if "://" in address:
        raise ValueError("no scheme expected (write host:port)")
    host, sep, port = address.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port")
    return host, int(port)


def _client_pair(cert: str | None, key: str | None) -> tuple[bytes | None, bytes | None, str | None]:
    """PEM bytes of the mTLS certificate and key, each given as PEM text or a file path."""
    if not cert and not key:
        return None, None, None
    if not cert or not key:
        missing = "TEMPORAL_TLS_KEY" if cert else "TEMPORAL_TLS_CERT"
        return None, None, f"{missing} is not set (certificate and key go together)"
    out = []
    for name, value in (("TEMPORAL_TLS_CERT", cert), ("TEMPORAL_TLS_KEY", key)):
        if "-----BEGIN" in value:
            out.append(value.encode())
            continue
        try:
            # Bounded, regular files only, never blocking: a FIFO path here hung the event loop, so that
            # --deadline and Ctrl-C no longer worked.
            out.append(read_pem(value, name).encode())
        except OSError:
            return None, None, f"{name} is neither PEM text nor a readable file"
    return out[0], out[1], None


class _Conn:
    """One bounded conversation with Temporal; fills in facts step by step."""

    def __init__(self, ctx: CheckContext, facts: TemporalFacts, api_key: str | None,
                 cert: bytes | None, key: bytes | None) -> None:
        self.ctx, self.f, self.api_key, self.cert, self.key = ctx, facts, api_key, cert, key
        self.timeout = ctx.options.timeout
        self.dl = ctx.budget()  # the checker's: every step below gets what is left of it
        self.error = ""

    def _fail(self, stage: str, kind: str, error: str) -> TemporalFacts:
        self.error = error
        return dataclasses.replace(self.f, stage=stage, error_kind=kind)

    async def _blocking(self, fn: Any, *args: Any) -> Any:
        step = self.dl.step()
        return await asyncio.wait_for(self.ctx.blocking(fn, *args, step), timeout=step + GRACE)

    async def run(self) -> TemporalFacts:
        f = self.f
        assert f.host is not None and f.port is not None
        try:
            if f.tls:
                with _pem_files(self.cert, self.key) as (cert_file, key_file):
                    sslctx = _tls.client_context(self._ca_files(), insecure=f.insecure,
                                                 client_cert=cert_file, client_key=key_file)
                    tls = await self._blocking(_tls.probe_tls, f.host, f.port, sslctx)
                if not tls.tls_ok:
                    kind = {EK.HANDSHAKE_TIMEOUT: "no_answer", EK.NOT_TLS: "tls_on_plain"}.get(tls.error_kind,
                                                                                           tls.error_kind)
                    return self._fail("tcp" if not tls.tcp_ok else "tls", kind, tls.error)
                self.f = dataclasses.replace(f, server_cert=tls.cert, tls_version=tls.tls_version)
            else:
                await self._blocking(_tcp_connect, f.host, f.port)
        except TimeoutError:
            return self._fail("tcp", "no_answer", f"no answer within {self.timeout:g}s")
        except OSError as e:
            return self._fail("tcp", _tls.classify(e), str(e))
        return await self._talk()

    def _ca_files(self) -> list[Path]:
        return [Path(self.ctx.options.ca_file)] if self.ctx.options.ca_file else []

    async def _talk(self) -> TemporalFacts:
        # The service client, not temporalio.client.Client: the probe makes plain RPCs, and the high-level
        # client module (schedules, workflows, interceptors: hundreds of dataclasses) doubles the import.
        from temporalio.service import ConnectConfig, RetryConfig, RPCError, ServiceClient

        f = self.f
        try:
            client = await asyncio.wait_for(
                ServiceClient.connect(ConnectConfig(
                    target_host=f"{f.host}:{f.port}", api_key=self.api_key,
                    tls=self._tls_config() if f.tls else False, identity="filot-preflight",
                    retry_config=RetryConfig(max_retries=0), connect_timeout=timedelta(seconds=self.dl.step()),
                )),
                timeout=self.dl.step(),
            )
            info = await self._rpc(client.workflow_service.get_system_info, _requests().GetSystemInfoRequest())
        except TimeoutError:
            return self._fail("connect", "no_answer", f"no answer within {self.timeout:g}s")
        except (RuntimeError, RPCError) as e:
            return self._fail("connect", await self._connect_error_kind(e), str(e))
        self.f = dataclasses.replace(f, server_version=info.server_version or None)
        await self._namespace(client)
        await self._pollers(client)
        return self.f

    async def _rpc(self, method: Any, request: Any) -> Any:
        step = self.dl.step()
        return await asyncio.wait_for(method(request, timeout=timedelta(seconds=step)), timeout=step + GRACE)

    async def _connect_error_kind(self, e: BaseException) -> str:
        kind = _rpc_kind(e)
        if not self.f.tls and kind in (EK.OTHER, EK.RESET, EK.TLS_ERROR):
            assert self.f.host is not None and self.f.port is not None
            try:
                if await self._blocking(_tls.speaks_tls, self.f.host, self.f.port):
                    return "plain_on_tls"
            except TimeoutError:
                pass
        return kind

    def _tls_config(self) -> Any:
        from temporalio.service import TLSConfig

        roots = None
        if self.ctx.options.ca_file:
            # An extra CA, not a replacement: the system bundle plus the given file.
            system = ssl.get_default_verify_paths().cafile
            roots = ((read_pem(system, "CA bundle").encode() if system and Path(system).is_file() else b"")
                     + b"\n" + read_pem(self.ctx.options.ca_file, "CA file").encode())
        domain = None
        if self.f.insecure and self.f.server_cert and self.f.server_cert.sans:
            # temporalio cannot skip verification; --insecure relaxes what it can: the host name.
            domain = self.f.server_cert.sans[0]
        return TLSConfig(server_root_ca_cert=roots, domain=domain, client_cert=self.cert,
                         client_private_key=self.key)

    async def _namespace(self, client: Any) -> None:
        from temporalio.service import RPCError

        if not self.f.namespace:
            return
        try:
            resp = await self._rpc(client.workflow_service.describe_namespace,
                                   _requests().DescribeNamespaceRequest(namespace=self.f.namespace))
        except (RPCError, RuntimeError, TimeoutError) as e:
            self.error = str(e)
            self.f = dataclasses.replace(self.f, namespace_error=_rpc_kind(e, not_found=True))
            return
        from temporalio.api.enums.v1 import NamespaceState

        state = NamespaceState.Name(resp.namespace_info.state).removeprefix("NAMESPACE_STATE_")
        self.f = dataclasses.replace(self.f, namespace_state=state)

    async def _pollers(self, client: Any) -> None:
        from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.service import RPCError

        f = self.f
        if not f.task_queue or not f.namespace or f.namespace_error:
            return
        now = datetime.now(UTC)
        seen: dict[str, float] = {}
        try:
            for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
                request = _requests().DescribeTaskQueueRequest(
                    namespace=f.namespace, task_queue_type=kind,
                    task_queue=TaskQueue(name=f.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL))
                resp = await self._rpc(client.workflow_service.describe_task_queue, request)
                for p in resp.pollers:
                    age = (now - p.last_access_time.ToDatetime(tzinfo=UTC)).total_seconds()
                    seen[p.identity] = round(min(age, seen.get(p.identity, age)), 1)
        except (RPCError, RuntimeError, TimeoutError) as e:
            self.f = dataclasses.replace(f, pollers_error=_rpc_kind(e))
            return
        self.f = dataclasses.replace(f, pollers=tuple(Poller(i, a) for i, a in sorted(seen.items())))


def _requests() -> Any:
    from temporalio.api import workflowservice

    return workflowservice.v1


def _rpc_kind(e: BaseException, not_found: bool = False) -> str:
    """Error kind of a temporalio failure: RPCError status, else the (Rust) error text."""
    if isinstance(e, TimeoutError):
        return EK.TIMEOUT
    status = getattr(e, "status", None)
    code = getattr(status, "name", "")
    text = str(e).lower()
    if code == "NOT_FOUND" and not_found:
        return "not_found"
    if code == "UNAUTHENTICATED" or "unauthenticated" in text:
        return "auth"
    if code == "PERMISSION_DENIED" or "permissiondenied" in text or "permission denied" in text:
        return "permission"
    return _tls.classify_text(str(e))


def _tcp_connect(host: str, port: int, timeout: float) -> None:
    with socket.create_connection((host, port), timeout=timeout):
        pass


MTLS_PREFIX = "preflight-mtls-"


class _pem_files:
    """Client certificate and key as 0600 temp files for the ssl module (it reads only files); removed after."""

    def __init__(self, cert: bytes | None, key: bytes | None) -> None:
        self.cert, self.key = cert, key
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> tuple[Path | None, Path | None]:
        if self.cert is None or self.key is None:
            return None, None
        sweep_stale_dirs(MTLS_PREFIX)  # copies of the key a killed run left behind
        self._dir = tempfile.TemporaryDirectory(prefix=MTLS_PREFIX)
        paths = (Path(self._dir.name) / "client.crt", Path(self._dir.name) / "client.key")
        for p, data in zip(paths, (self.cert, self.key), strict=True):
            p.touch(mode=0o600)
            p.write_bytes(data)
        return paths

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            self._dir.cleanup()


class TemporalChecker(Checker):
    """TEMPORAL_*: connect with TLS/API key/mTLS, namespace, live pollers, version, certificate expiry."""

    name: ClassVar[str] = "temporal"
    subsystem: ClassVar[str] = "temporal"
    description: ClassVar[str] = (
        "Temporal (optional): TLS + API key or mTLS, namespace, live task-queue pollers, server version, "
        "client certificate expiry; if unset, checks the Redis fallback"
    )
    needs: ClassVar[tuple[str, ...]] = ("TEMPORAL_ADDRESS",)
    libraries = libs.TEMPORAL

    def libraries_for(self, ctx: CheckContext) -> tuple[str, ...]:
        """temporalio only when Temporal is configured (optional: without it the app falls back to Redis)."""
        return self.libraries if ctx.value("TEMPORAL_ADDRESS") else ()

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe and judge against `checks.temporal`."""
        t = ctx.manifest.checks.temporal
        settings = TemporalJudgeSettings(poller_max_age_s=t.poller_max_age_s,
                                         cert_expiry_warn_days=t.cert_expiry_warn_days,
                                         allow_loopback=ctx.options.allow_loopback)
        return judge(await probe(ctx), settings)
