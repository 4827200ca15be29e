"""BULI2: the API key is accepted and required; callbacks go to a public https URL; the HMAC scheme works;
the backend's webhook refuses unsigned and tampered callbacks (proof that verification is on).

Probes are harmless: the webhook gets bodies marked `"preflight_probe": true` that it must refuse; a
correctly signed callback (which could start real work) is sent only with --send-signed-callback.
No secret, computed signature or full URL ever enters a fact. Facts and judge: `judge`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import json
import secrets
import socket
import string
import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from filot_preflight.checkers.base import CheckContext, Checker
from filot_preflight.checkers.buli2.judge import (
    API_KEY,
    API_URL,
    CALLBACK,
    NAME,
    SECRET,
    Buli2Facts,
    DnsFacts,
    SchemeTest,
    judge,
)
from filot_preflight.manifest import Buli2Signature
from filot_preflight.models import CheckResult
from filot_preflight.net import libraries as libs
from filot_preflight.net import tls as _tls
from filot_preflight.net.host_gate import check_host
from filot_preflight.net.http_probe import (
    CA_FILE,
    SETUP_SLOW,
    HttpOutcome,
    http_call,
    http_client,
    join_url,
    safe_url,
    url_problem,
)

# --- the signature scheme (pure) ------------------------------------------------------------------


def sign(secret: str, scheme: Buli2Signature, timestamp: str, body: str) -> str:
    """The signature header value for `body` at `timestamp` under `scheme` (key: the secret's UTF-8 bytes)."""
    msg = scheme.message.format(timestamp=timestamp, body=body).encode()
    mac = hmac.new(secret.encode(), msg, scheme.algorithm).digest()
    return scheme.prefix + (mac.hex() if scheme.encoding == "hex" else base64.b64encode(mac).decode())


def verify(secret: str, scheme: Buli2Signature, timestamp: str, body: str, header: str) -> bool:
    """What a correct receiver does: strip the prefix, decode, recompute, compare in constant time."""
    if not header.startswith(scheme.prefix):
        return False
    raw = header[len(scheme.prefix) :]
    try:
        given = bytes.fromhex(raw) if scheme.encoding == "hex" else base64.b64decode(raw, validate=True)
    except (ValueError, binascii.Error):
        return False
    msg = scheme.message.format(timestamp=timestamp, body=body).encode()
    return hmac.compare_digest(given, hmac.new(secret.encode(), msg, scheme.algorithm).digest())


def self_test(secret: str, scheme: Buli2Signature) -> SchemeTest:
    """Sign a sample, verify it, and check that a changed body or timestamp no longer verifies."""
    digest = hmac.new(b"k", b"", scheme.algorithm).digest_size
    base = SchemeTest(None, False, False, len(secret.encode()), digest, secret != secret.strip())
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(scheme.message) if f is not None}
    except ValueError as e:  # a lone brace
        return replace(base, problem=f"message template is not valid: {e}")
    base = replace(base, covers_body="body" in fields, covers_timestamp="timestamp" in fields)
    unknown = sorted(fields - {"body", "timestamp"})
    if unknown:
        return replace(base, problem=f"message template uses unknown placeholder {{{unknown[0]}}}")
    if not secret:
        return replace(base, problem=f"{SECRET} is empty")
    ts, body = "1700000000", '{"preflight_probe":true,"decision":"approved"}'
    header = sign(secret, scheme, ts, body)
    if not verify(secret, scheme, ts, body, header):
        return replace(base, problem="a freshly signed sample does not verify under the declared scheme")
    if base.covers_body and verify(secret, scheme, ts, body.replace("approved", "rejected"), header):
        return replace(base, problem="the signature does not change when the body changes")
    return base


# --- probe ----------------------------------------------------------------------------------------


def address_kind(addr: str) -> str:
    """'loopback', 'private' (anything not globally routable) or 'public' for an IP address."""
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if ip.is_loopback:
        return "loopback"
    return "public" if ip.is_global else "private"


async def resolve(ctx: CheckContext, host: str, port: int) -> DnsFacts:
    """Resolve `host` in a daemon thread, bounded by the checker's budget (getaddrinfo has no timeout of its own)."""
    try:
        infos = await asyncio.wait_for(
            ctx.blocking(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM), ctx.budget().step()
        )
    except TimeoutError:
        return DnsFacts(False, error_kind=_tls.ErrorKind.TIMEOUT)
    except (OSError, UnicodeError) as e:
        return DnsFacts(False, error_kind=_tls.classify(e) if isinstance(e, OSError) else _tls.ErrorKind.DNS)
    addrs = tuple(sorted({str(i[4][0]) for i in infos}))
    return DnsFacts(True, addrs, tuple(address_kind(a) for a in addrs))


def probe_body(**extra: Any) -> str:
    """A callback body no real handler would act on: it says it is a preflight probe."""
    doc = {"preflight_probe": True, "event": "preflight.signature_probe", "id": f"preflight-{secrets.token_hex(6)}",
           "note": "sent by filot-preflight to check webhook signature verification; not a review result", **extra}
    return json.dumps(doc, separators=(",", ":"))


async def probe(ctx: CheckContext) -> Buli2Facts:
    """Every network step concurrently, each bounded: the API with and without key, DNS, the webhook probes."""
    opts, s = ctx.options, ctx.manifest.checks.buli2
    budget = ctx.budget()  # shared by the steps below: each request gets what is left when it starts
    api, key = ctx.value(API_URL) or "", ctx.value(API_KEY) or ""
    cb, secret = ctx.value(CALLBACK) or "", ctx.value(SECRET) or ""
    facts = Buli2Facts(
        api_url=safe_url(api) if api else "", api_problem=url_problem(api), has_key=bool(key),
        callback_url=safe_url(cb) if cb else "", callback_problem=url_problem(cb), has_secret=bool(secret),
        send_signed=opts.send_signed_callback, insecure=opts.insecure, allow_loopback=opts.allow_loopback,
        timeout=opts.timeout,
    )
    if secret:
        facts = replace(facts, scheme=self_test(secret, s.signature))
    api_ok = facts.api_problem in (None, "not_https")
    cb_ok = facts.callback_problem in (None, "not_https")
    # The host gate before any request: a refused host gets neither the key nor a callback.
    if api_ok:
        gate = await check_host(ctx, urlsplit(api).hostname or "")
        facts = replace(facts, api_host_kind=gate.kind, api_gate=gate)
        api_ok = not gate.refused
    if cb_ok:
        gate = await check_host(ctx, urlsplit(cb).hostname or "")
        facts = replace(facts, callback_path=urlsplit(cb).path or "/", callback_gate=gate)
        cb_ok = not gate.refused
    if not (api_ok or cb_ok):
        return facts
    try:
        # Off the event loop: importing httpx and loading CA bundles takes ~150 ms that would
        # otherwise delay every other checker's start.
        client = await asyncio.wait_for(ctx.blocking(http_client, opts), budget.bound())
    except TimeoutError:
        slow = HttpOutcome(False, error_kind=_tls.ErrorKind.TIMEOUT, error=SETUP_SLOW)
        return replace(facts, with_key=slow, without_key=slow, unsigned=slow, tampered=slow)
    except (OSError, ValueError) as e:
        fail = HttpOutcome(False, error_kind=CA_FILE, error=ctx.redactor.redact(str(e))[:300])
        return replace(facts, with_key=fail, without_key=fail, unsigned=fail, tampered=fail)
    steps: dict[str, Any] = {}
    async with client:

        def call(method: str, url: str, headers: dict[str, str] | None = None, body: str | None = None) -> Any:
            return http_call(client, method, url, timeout=budget.step(), redactor=ctx.redactor, headers=headers,
                             content=body.encode() if body is not None else None)

        if api_ok:
            health = join_url(api, s.health_path)
            if key and urlsplit(api).scheme == "https":  # never send the key in clear text
                steps["with_key"] = call("GET", health, {s.api_key_header: key})
            steps["without_key"] = call("GET", health)
        if cb_ok:
            parts = urlsplit(cb)
            steps["dns"] = resolve(ctx, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
            steps.update(_callback_steps(ctx, s.signature, cb, secret, facts, call))
        done = dict(zip(steps, await asyncio.gather(*steps.values()), strict=True))
    return replace(facts, **done)


def _callback_steps(
    ctx: CheckContext, sig: Buli2Signature, url: str, secret: str, facts: Buli2Facts, call: Any
) -> dict[str, Any]:
    """The webhook probes: unsigned, tampered (signed for another body), and the signed one if asked for."""
    json_type = {"Content-Type": "application/json"}
    steps = {"unsigned": call("POST", url, json_type, probe_body())}
    if not secret or (facts.scheme and (facts.scheme.problem or not facts.scheme.covers_body)):
        # A message without {body} signs the same for any body: the "tampered" callback would be a correctly
        # signed one, sent without --send-signed-callback. Not sent; buli2.signature_scheme fails instead.
        return steps
    ts = str(int(time.time()))
    body = probe_body()
    tampered_body = body[:-1] + ',"tampered":true}'
    good = sign(secret, sig, ts, body)
    ctx.redactor.add([good])  # belt and braces: a signature must never be printed
    headers = {**json_type, sig.header: good, sig.timestamp_header: ts}
    steps["tampered"] = call("POST", url, headers, tampered_body)
    if facts.send_signed:
        steps["signed"] = call("POST", url, headers, body)
    return steps


class Buli2Checker(Checker):
    """BULI2 API key, callback URL, signature scheme, and the backend's webhook verification."""

    name = NAME
    subsystem = NAME
    description = "BULI2 key accepted and required; callback URL public https; webhook refuses unsigned/tampered"
    needs = (API_URL, API_KEY, SECRET, CALLBACK)
    libraries = libs.HTTP
    network = True
    phase = "any"  # also post-deployment: liveness of the deployed endpoints

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe, then judge."""
        return judge(await probe(ctx), ctx.manifest.checks.buli2)
