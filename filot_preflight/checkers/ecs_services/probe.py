"""ecs_services' probe: DescribeServices in the manifest's cluster, the task definition each service runs
and the one ecs_taskdefs judged, and the service's recently stopped tasks. Read-only, a few calls per service.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.ecs_services.facts import Deployment as Deployment
from filot_preflight.checkers.ecs_services.facts import Facts as Facts
from filot_preflight.checkers.ecs_services.facts import ServiceFacts as ServiceFacts
from filot_preflight.checkers.ecs_services.facts import StoppedTask as StoppedTask
from filot_preflight.checkers.ecs_services.facts import TaskDefRef as TaskDefRef
from filot_preflight.net.aws_facts import epoch
from filot_preflight.net.aws_live import cluster_of, is_network, open_client, trouble, wanted_services

MAX_STOPPED = 20  # stopped tasks described per service: enough to show a crash loop, bounded


def base_facts(ctx: CheckContext) -> Facts:
    """The facts every outcome starts from (also a timed-out probe's)."""
    settings = ctx.manifest.checks.ecs
    wanted = wanted_services(ctx)
    return Facts(cluster_of(ctx), settings.cluster_var, settings.stopped_window_min, time.time(), wanted=tuple(wanted))


def probe(ctx: CheckContext) -> Facts:
    """Describe each service, its task definitions and stopped tasks; a failure is a fact."""
    base = base_facts(ctx)
    wanted = list(base.wanted)
    opened = open_client(ctx, "ecs")
    if opened.aws is None:
        return _with(base, skip_reason=opened.skip_reason, trouble=opened.trouble)
    if base.cluster is None or not wanted:
        return _with(base, region=opened.region)
    client = opened.aws.client
    files = _file_refs(ctx)
    try:
        services = _describe(client, base.cluster, wanted, files, base.now - base.window_min * 60)
    except Exception as e:  # noqa: BLE001 - a fact
        return _with(base, trouble=trouble(e), calls=opened.calls, region=opened.region)
    return _with(base, services=tuple(services), calls=opened.calls, region=opened.region, files=bool(files))


def _with(base: Facts, **kw: Any) -> Facts:
    return replace(base, **kw)


def _describe(client: Any, cluster: str, wanted: list[tuple[str, str]], files: dict[str, TaskDefRef],
              since: float) -> list[ServiceFacts]:
    resp = client.describe_services(cluster=cluster, services=[n for _, n in wanted][:10])
    by_name = {s.get("serviceName"): s for s in resp.get("services") or []}
    failures = {str(f.get("arn", "")).rsplit("/", 1)[-1]: str(f.get("reason", "")) for f in resp.get("failures") or []}

    def one(pair: tuple[str, str]) -> ServiceFacts:
        service, name = pair
        svc = by_name.get(name)
        if svc is None or svc.get("status") == "INACTIVE":
            why = failures.get(name) or ("INACTIVE" if svc is not None else "MISSING")
            return ServiceFacts(service, name, missing_reason=why)
        arn = str(svc.get("taskDefinition", ""))
        family = arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]
        reference = files.get(family) or _taskdef(client, family, "latest")
        # The service usually runs the latest revision: then one DescribeTaskDefinition serves both.
        latest_arn = f"{family}:{reference.revision}" if reference is not None else ""
        running = (replace(reference, origin="running") if reference is not None and reference.origin == "latest"
                   and arn.endswith(f"/{latest_arn}") else _taskdef(client, arn, "running"))
        return ServiceFacts(
            service, name, found=True, status=str(svc.get("status", "")),
            desired=int(svc.get("desiredCount") or 0), running=int(svc.get("runningCount") or 0),
            pending=int(svc.get("pendingCount") or 0), running_td=running, reference_td=reference,
            deployments=tuple(_deployment(d) for d in svc.get("deployments") or []),
            circuit_breaker=_breaker(svc), stopped=tuple(_stopped(client, cluster, name, since)),
        )

    # Services are independent: ask about them side by side (boto3 clients are thread-safe), bounded.
    with ThreadPoolExecutor(max_workers=min(4, len(wanted))) as pool:
        return list(pool.map(one, wanted))


def _taskdef(client: Any, ref: str, origin: str) -> TaskDefRef | None:
    if not ref:
        return None
    try:
        td = client.describe_task_definition(taskDefinition=ref)["taskDefinition"]
    except Exception as e:
        if is_network(e):
            raise
        return None  # deregistered / unknown: judged as "cannot tell"
    return _ref(td, origin)


def _ref(td: dict[str, Any], origin: str) -> TaskDefRef:
    secrets = tuple(sorted((str(s.get("name", "")), str(s.get("valueFrom", "")))
                           for c in td.get("containerDefinitions") or [] if isinstance(c, dict)
                           for s in c.get("secrets") or [] if isinstance(s, dict)))
    rev = td.get("revision")
    return TaskDefRef(str(td.get("family", "")), int(rev) if isinstance(rev, int) else None, secrets, origin)


def _file_refs(ctx: CheckContext) -> dict[str, TaskDefRef]:
    """The --task-def files ecs_taskdefs judged, by family (the CLI validated them before any probe)."""
    if not ctx.options.task_defs:
        return {}
    from filot_preflight.taskdefs import load_files

    return {td.get("family", ""): _ref(td, "file") for _, td in load_files(ctx.options.task_defs)}


def _deployment(d: dict[str, Any]) -> Deployment:
    return Deployment(str(d.get("status", "")), str(d.get("rolloutState", "")), str(d.get("rolloutStateReason", "")),
                      str(d.get("taskDefinition", "")), epoch(d.get("createdAt")), int(d.get("failedTasks") or 0))


def _breaker(svc: dict[str, Any]) -> tuple[bool, bool] | None:
    cb = (svc.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker")
    if not isinstance(cb, dict):
        return None
    return bool(cb.get("enable")), bool(cb.get("rollback"))


def _stopped(client: Any, cluster: str, service: str, since: float) -> list[StoppedTask]:
    arns = client.list_tasks(cluster=cluster, serviceName=service, desiredStatus="STOPPED",
                             maxResults=MAX_STOPPED).get("taskArns") or []
    if not arns:
        return []
    out = []
    for t in client.describe_tasks(cluster=cluster, tasks=arns[:MAX_STOPPED]).get("tasks") or []:
        at = epoch(t.get("stoppedAt"))
        if at is not None and at < since:
            continue
        out.append(StoppedTask(
            str(t.get("taskArn", "")).rsplit("/", 1)[-1], " ".join(str(t.get("stoppedReason", "")).split())[:300],
            str(t.get("stopCode", "") or ""), at,
            tuple(" ".join(str(c.get("reason", "")).split())[:200]
                  for c in t.get("containers") or [] if c.get("reason")),
        ))
    return out
