"""What the post-deployment AWS checkers share on the probe side: a client built the one way
(`net.aws.make_client`: endpoint, region, CA, timeouts) and problems turned into `AwsTrouble`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol, TypeVar

from filot_preflight.checkers.base import CheckContext
from filot_preflight.net.aws import AwsAccess, AwsClient, classify, make_client
from filot_preflight.net.aws_facts import AwsTrouble


class _HasTrouble(Protocol):
    """A post-deployment checker's Facts: a dataclass (so `replace` works) with a `trouble` field."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def trouble(self) -> AwsTrouble | None: ...


F = TypeVar("F", bound=_HasTrouble)  # a post-deployment checker's Facts (a frozen dataclass with `trouble`)


@dataclass
class Opened:
    """A client, or why there is none (`skip_reason` for offline / not configured)."""

    aws: AwsClient | None
    skip_reason: str = ""
    trouble: AwsTrouble | None = None  # a client that must not be used (its endpoint's host is refused): a FAIL

    @property
    def calls(self) -> int:
        """API operations made so far."""
        return self.aws.counter.calls if self.aws is not None else 0

    @property
    def region(self) -> str:
        """The client's region ('' without a client)."""
        return self.aws.region if self.aws is not None else ""


def open_client(ctx: CheckContext, service: str) -> Opened:
    """A bounded boto3 client for `service`, or a skip reason (offline, no region or credentials)."""
    if ctx.options.offline:
        return Opened(None, "--offline")
    try:
        return Opened(make_client(service, AwsAccess.from_options(ctx.options, ctx.values)))
    except Exception as e:  # noqa: BLE001 - not configured is a fact; aws_secrets says how to configure
        p = classify(e)
        if p.kind == "host_refused":  # configured, but pointed at a host the policy refuses: nothing sent
            return Opened(None, trouble=AwsTrouble(p.kind, p.message, p.code, p.remedy))
        return Opened(None, f"AWS is not usable ({p.kind}: {p.message})")


def trouble(e: BaseException) -> AwsTrouble:
    """An API call's exception as a judge-side fact (kind, message, code and the fix)."""
    p = classify(e)
    return AwsTrouble(p.kind, p.message, p.code, p.remedy)


def is_network(e: BaseException) -> bool:
    """Credentials, access or network: the whole probe stops (as opposed to one missing resource)."""
    return classify(e).kind != "error"


def pages(call: Any, key: str, max_pages: int = 5, **kwargs: Any) -> list[dict[str, Any]]:
    """Up to `max_pages` pages of a NextToken-paginated call: bounded even on a huge account."""
    out: list[dict[str, Any]] = []
    token = None
    for _ in range(max_pages):
        resp = call(**kwargs, **({"NextToken": token} if token else {}))
        out.extend(resp.get(key) or [])
        token = resp.get("NextToken")
        if not token:
            break
    return out


def wanted_services(ctx: CheckContext) -> list[tuple[str, str]]:
    """(manifest service, ECS service name) for each service that runs on ECS."""
    names = ctx.manifest.checks.ecs.service_names
    out = []
    for s in ctx.manifest.services:
        ecs_name = names.get(s.name) or s.ecs_family
        if ecs_name:
            out.append((s.name, ecs_name))
    return out


def cluster_of(ctx: CheckContext) -> str | None:
    """The cluster: `checks.ecs.cluster`, else the value of `checks.ecs.cluster_var` (ECS_CLUSTER)."""
    settings = ctx.manifest.checks.ecs
    return settings.cluster or (ctx.value(settings.cluster_var) or "").strip() or None


async def within_budget(ctx: CheckContext, probe: Callable[[CheckContext], F],
                        base_facts: Callable[[CheckContext], F]) -> F:
    """Run a blocking AWS probe in a daemon thread, bounded by the checker's budget (--timeout from its start).

    boto3's own connect/read timeouts fire first on one silent call; this bounds a probe of several calls (and a
    slow client set-up), so the checker still gives its own `<checker>.source` result, never the runner's:
    on a timeout, `base_facts(ctx)` with the timeout as its `trouble`.
    """
    try:
        return await asyncio.wait_for(ctx.blocking(probe, ctx), ctx.budget().bound())
    except TimeoutError:
        message = f"no answer from AWS within --timeout {ctx.options.timeout:g}s"
        remedy = ("Check that the AWS endpoint is reachable from here (region, --aws-endpoint / AWS_ENDPOINT_URL, "
                  "egress firewall), or raise --timeout if it is merely slow.")
        return replace(base_facts(ctx), trouble=AwsTrouble("timeout", message, "", remedy))
