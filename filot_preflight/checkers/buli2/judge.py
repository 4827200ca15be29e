"""The buli2 checker's facts and its pure judge (facts in, results out; table-tested without I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from filot_preflight.checkers.base import result
from filot_preflight.manifest import Buli2Settings
from filot_preflight.models import CheckResult, Status
from filot_preflight.net.fixes import insecure_fix, refused_summary
from filot_preflight.net.http_facts import HttpOutcome, failure_text
from filot_preflight.rules.hosts import HostCheck

NAME = "buli2"
API_URL, API_KEY, SECRET, CALLBACK = "BULI2_API_URL", "BULI2_API_KEY", "BULI2_SIGNATURE_SECRET", "BULI2_CALLBACK_URL"
FLAG = "--send-signed-callback"

# --- facts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemeTest:
    """Outcome of signing and verifying a sample callback locally; `problem` is None when it round-trips."""

    problem: str | None
    covers_body: bool = True
    covers_timestamp: bool = True
    key_bytes: int = 0
    digest_bytes: int = 0
    padded: bool = False  # the secret has leading/trailing whitespace (a pasted newline)


@dataclass(frozen=True)
class DnsFacts:
    """How the callback host resolved: each address with its kind (public/private/loopback)."""

    resolved: bool
    addresses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    error_kind: str | None = None


@dataclass(frozen=True)
class Buli2Facts:
    """Everything judge() needs. URLs are scheme://host:port/path only; no secret, no signature."""

    api_url: str = ""
    api_problem: str | None = "missing"
    api_host_kind: str = "public"
    has_key: bool = False
    with_key: HttpOutcome | None = None
    without_key: HttpOutcome | None = None
    callback_url: str = ""
    callback_problem: str | None = "missing"
    callback_path: str = ""
    dns: DnsFacts | None = None
    has_secret: bool = False
    scheme: SchemeTest | None = None
    unsigned: HttpOutcome | None = None
    tampered: HttpOutcome | None = None
    signed: HttpOutcome | None = None
    send_signed: bool = False
    insecure: bool = False
    allow_loopback: bool = False
    timeout: float = 10.0
    api_gate: HostCheck | None = None  # the pre-connect host gate's findings (refused: nothing was sent)
    callback_gate: HostCheck | None = None


# --- judge ----------------------------------------------------------------------------------------

_REFUSED = (400, 401, 403, 422)  # a webhook that rejects a bad signature answers one of these


def judge(f: Buli2Facts, s: Buli2Settings) -> list[CheckResult]:
    """Pure: facts to results. Ids: insecure, api_url, api_key, auth_enforced, callback_url,
    signature_scheme, callback_unsigned, callback_tampered, callback_signed."""
    out = []
    if f.insecure:
        out.append(_r("buli2.insecure", Status.WARN, "TLS certificates were not verified (--insecure)", "",
                      insecure_fix()))
    out += [_url("buli2.api_url", API_URL, f.api_problem, f.api_url, f.api_host_kind, f, f.api_gate)]
    out += _api(f, s)
    out += [_callback_url(f, s), _scheme(f, s), *_webhook(f)]
    return out


def _r(rule: str, status: Status, summary: str, target: str, fix: str = "", /, **ev: Any) -> CheckResult:
    # Positional-only, so that evidence may have keys named like the parameters (e.g. "status").
    return result(rule, NAME, status, summary, target=target, remediation=fix,
                  evidence={k: v for k, v in ev.items() if v is not None})


def _url(rule: str, var: str, problem: str | None, url: str, kind: str, f: Buli2Facts,
         gate: HostCheck | None = None) -> CheckResult:
    fix = f"Set {var} to the production https URL."
    if gate is not None and gate.refused:
        return _r(rule, Status.FAIL, refused_summary(var, gate), var,
                  f"{fix} Loopback/private hosts are only for a sandbox (--allow-loopback); cloud metadata addresses "
                  "are refused even then.", url=url, host_kind=gate.kind, **gate.evidence())
    if problem == "missing":
        return _r(rule, Status.SKIP, f"{var} is not set; nothing to probe (the secrets check reports it)", var, fix)
    if problem == "malformed":
        return _r(rule, Status.FAIL, f"{var} is not a valid http(s) URL", var, fix)
    if problem == "not_https":
        return _r(rule, Status.FAIL, f"{var} uses plain http", var, fix, url=url)
    if kind != "public" and not f.allow_loopback:
        return _r(rule, Status.FAIL, f"{var} points at a {kind} host", var,
                  f"{fix} Loopback/private hosts are only for a sandbox (--allow-loopback).", url=url, host_kind=kind)
    return _r(rule, Status.PASS, f"{var} is an https URL", var, url=url, host_kind=kind,
              loopback_allowed=True if kind != "public" else None)


def _no_answer(rule: str, o: HttpOutcome, what: str, var: str, target: str, f: Buli2Facts) -> CheckResult:
    url, service = (f.api_url, "BULI2's API") if var == API_URL else (f.callback_url, "the backend's webhook")
    summary, fix = failure_text(o.error_kind, what, var, f.timeout, url=url, service=service)
    return result(rule, NAME, Status.FAIL, summary, target=target, detail=o.error, remediation=fix,
                  evidence={"error_kind": o.error_kind, "latency_ms": o.elapsed_ms})


def _api(f: Buli2Facts, s: Buli2Settings) -> list[CheckResult]:
    target = f"{API_URL} + {s.health_path}"
    if f.with_key is None and f.without_key is None:
        why = f"{API_URL} is not set or not a URL (see buli2.api_url)"
        if f.api_gate is not None and f.api_gate.refused:
            why = f"nothing is sent to {f.api_gate.host} (see buli2.api_url)"
        return [_r(r, Status.SKIP, f"not probed: {why}", target, f"Set {API_URL} and {API_KEY}.")
                for r in ("buli2.api_key", "buli2.auth_enforced")]
    out, w, wo = [], f.with_key, f.without_key
    open_ = wo is not None and wo.answered and wo.status is not None and 200 <= wo.status < 300
    if w is None and f.has_key:
        out.append(_r("buli2.api_key", Status.SKIP, f"{API_KEY} not sent: {API_URL} is plain http", API_KEY,
                      f"Set {API_URL} to BULI2's https URL; the key is never sent in clear text."))
    elif w is None:
        out.append(_r("buli2.api_key", Status.SKIP, f"{API_KEY} is not set; the key cannot be tried", API_KEY,
                      f"Set {API_KEY} (obtain the production key from the BULI2 team)."))
    elif not w.answered:
        out.append(_no_answer("buli2.api_key", w, "BULI2 API", API_URL, target, f))
    else:
        out.append(_key_status(w, s, target, open_))
    if wo is None:  # pragma: no cover - the unauthenticated request is always made when the URL is usable
        return out
    ev: dict[str, Any] = {"status": wo.status, "latency_ms": wo.elapsed_ms}
    if not wo.answered:
        if w is not None and not w.answered:
            out.append(_r("buli2.auth_enforced", Status.SKIP, "BULI2 API not reached (see buli2.api_key)", target,
                          "Fix the connection problem reported by buli2.api_key."))
        else:
            out.append(_no_answer("buli2.auth_enforced", wo, "BULI2 API without key", API_URL, target, f))
    elif wo.status in (401, 403):
        out.append(_r("buli2.auth_enforced", Status.PASS, f"a request without the key is refused ({wo.status})", target,
                      **ev))
    elif open_:
        out.append(_r("buli2.auth_enforced", Status.FAIL,
                      f"a request WITHOUT the API key was accepted ({wo.status}): auth is not enforced there",
                      target, f"The endpoint proves nothing about {API_KEY}: point checks.buli2.health_path at a "
                      "BULI2 endpoint that requires the key, and check that BULI2_API_URL is BULI2's API.", **ev))
    else:
        out.append(_r("buli2.auth_enforced", Status.WARN, f"a request without the key got {wo.status}, not 401/403",
                      target, "Expected 401/403 for a missing key; check checks.buli2.health_path.", **ev))
    return out


def _key_status(o: HttpOutcome, s: Buli2Settings, target: str, open_: bool) -> CheckResult:
    code = o.status or 0
    ev: dict[str, Any] = {"status": code, "latency_ms": o.elapsed_ms, "header": s.api_key_header}
    if 200 <= code < 300 and open_:
        return _r("buli2.api_key", Status.WARN, f"answered {code} with the key, but also without it: key not proven",
                  target, "See buli2.auth_enforced: probe an endpoint that requires the key.", **ev)
    if 200 <= code < 300:
        return _r("buli2.api_key", Status.PASS, f"BULI2 accepted {API_KEY} ({code}, {o.elapsed_ms:g} ms)", target, **ev)
    if code in (401, 403):
        return _r("buli2.api_key", Status.FAIL, f"BULI2 refused {API_KEY} ({code})", API_KEY,
                  f"The key is wrong, revoked or for another environment: get the production key from the BULI2 "
                  f"team and store it in {API_KEY}; check that BULI2 expects it in the {s.api_key_header} header.",
                  **ev)
    if code in (404, 405):
        return _r("buli2.api_key", Status.FAIL, f"BULI2 health endpoint not found ({code})", target,
                  f"Check the base path in {API_URL} and checks.buli2.health_path ({s.health_path}).", **ev)
    if 300 <= code < 400:
        return _r("buli2.api_key", Status.FAIL, f"BULI2 API redirects ({code}) to {o.location or '?'}", target,
                  f"Set {API_URL} to the final https URL.", **ev)
    if code >= 500:
        return _r("buli2.api_key", Status.FAIL, f"BULI2 API answered {code}", target,
                  "BULI2 is failing: retry, then contact the BULI2 team with the time of the request.", **ev)
    return _r("buli2.api_key", Status.FAIL, f"BULI2 API answered {code} with the key", target,
              f"Unexpected answer: check {API_URL} and checks.buli2.health_path.", **ev)


def _callback_url(f: Buli2Facts, s: Buli2Settings) -> CheckResult:
    res = _url("buli2.callback_url", CALLBACK, f.callback_problem, f.callback_url, "public", f, f.callback_gate)
    if res.status != Status.PASS or f.dns is None:
        return res
    d = f.dns
    ev: dict[str, Any] = {"url": f.callback_url}
    if not d.resolved:
        if d.error_kind == "timeout":
            summary = f"{CALLBACK}: DNS gave no answer within {f.timeout:g}s"
        else:
            summary = f"{CALLBACK}: the host name does not resolve"
        host = urlsplit(f.callback_url).hostname or "the callback host"
        return _r("buli2.callback_url", Status.FAIL, summary, CALLBACK,
                  f"BULI2 calls {host} from the internet: create its public DNS record (A/AAAA, or a CNAME to the "
                  f"public load balancer), or correct the host name in {CALLBACK}.",
                  **ev, error_kind=d.error_kind)
    ev |= {"addresses": list(d.addresses)}
    bad = sorted({k for k in d.kinds if k != "public"})
    if bad and not f.allow_loopback:
        return _r("buli2.callback_url", Status.FAIL, f"{CALLBACK} resolves to {'/'.join(bad)} addresses",
                  CALLBACK, "BULI2 calls from the internet: the callback host must resolve to public addresses "
                  "only (public load balancer, not an internal one).", **ev)
    if bad:
        ev["loopback_allowed"] = True
    if f.callback_path.rstrip("/") != s.callback_path.rstrip("/"):
        return _r("buli2.callback_url", Status.WARN, f"{CALLBACK} path {f.callback_path} is not the webhook route "
                  f"{s.callback_path}", CALLBACK, f"Use the backend's webhook route {s.callback_path} (or fix "
                  "checks.buli2.callback_path in the manifest).", **ev)
    return _r("buli2.callback_url", Status.PASS, f"{CALLBACK} is https and resolves to "
              f"{'allowed local' if bad else 'public'} addresses", CALLBACK, **ev)


def _scheme(f: Buli2Facts, s: Buli2Settings) -> CheckResult:
    sig = s.signature
    ev: dict[str, Any] = {"algorithm": f"hmac-{sig.algorithm}", "encoding": sig.encoding, "header": sig.header,
          "timestamp_header": sig.timestamp_header, "message": sig.message}
    t = f.scheme
    if t is None:
        return _r("buli2.signature_scheme", Status.SKIP, f"{SECRET} is not set; nothing to sign with", SECRET,
                  f"Set {SECRET} (generate 32+ random bytes and share them with BULI2).", **ev)
    ev |= {"key_bytes": t.key_bytes, "digest_bytes": t.digest_bytes}
    fix_scheme = "Fix checks.buli2.signature in the manifest to match BULI2's documented scheme."
    if t.problem:
        return _r("buli2.signature_scheme", Status.FAIL, f"signature self-test failed: {t.problem}", SECRET, fix_scheme,
                  **ev)
    if not t.covers_body:
        return _r("buli2.signature_scheme", Status.FAIL, "the signed message does not include {body}", SECRET,
                  fix_scheme, **ev)
    if t.padded:
        return _r("buli2.signature_scheme", Status.WARN, f"{SECRET} has leading/trailing whitespace", SECRET,
                  "Store the secret without the trailing newline; sender and receiver may key the HMAC differently.",
                  **ev)
    if not t.covers_timestamp:
        return _r("buli2.signature_scheme", Status.WARN, "the signed message has no {timestamp}: replays are possible",
                  SECRET, fix_scheme, **ev)
    if t.key_bytes < t.digest_bytes:
        return _r("buli2.signature_scheme", Status.WARN, f"{SECRET} is shorter ({t.key_bytes} bytes) than the HMAC "
                  f"output ({t.digest_bytes})", SECRET, "Rotate to a secret of at least 32 random bytes.", **ev)
    return _r("buli2.signature_scheme", Status.PASS, "a sample callback signed with the secret verifies under the "
              "declared scheme", SECRET, **ev)


def _webhook(f: Buli2Facts) -> list[CheckResult]:
    target = CALLBACK
    if f.callback_problem in ("missing", "malformed"):
        why = f"{CALLBACK} is {'not set' if f.callback_problem == 'missing' else 'not a URL'}"
        return [_r(r, Status.SKIP, f"not probed: {why}", target, f"Set {CALLBACK}.")
                for r in ("buli2.callback_unsigned", "buli2.callback_tampered", "buli2.callback_signed")]
    if f.callback_gate is not None and f.callback_gate.refused:
        why = f"nothing is sent to {f.callback_gate.host} (see buli2.callback_url)"
        return [_r(r, Status.SKIP, f"not probed: {why}", target, f"Set {CALLBACK} to the public https URL.")
                for r in ("buli2.callback_unsigned", "buli2.callback_tampered", "buli2.callback_signed")]
    out = [_refusal("buli2.callback_unsigned", "an unsigned callback", f.unsigned, f)]
    if f.tampered is None:
        why = (f"{SECRET} is not set" if not f.has_secret
               else "the signed message does not include {body}, so a tampered callback would be correctly "
               "signed" if f.scheme is not None and not f.scheme.problem and not f.scheme.covers_body
               else "the signature self-test failed")
        out.append(_r("buli2.callback_tampered", Status.SKIP, f"not probed: {why}", target,
                      f"Set {SECRET} and fix buli2.signature_scheme."))
    elif not f.tampered.answered and f.unsigned is not None and not f.unsigned.answered:
        out.append(_r("buli2.callback_tampered", Status.SKIP, "webhook not reached (see buli2.callback_unsigned)",
                      target,
                          "Fix the connection problem reported by buli2.callback_unsigned."))
    else:
        out.append(_refusal("buli2.callback_tampered", "a tampered callback", f.tampered, f))
    out.append(_signed(f))
    return out


def _refusal(rule: str, what: str, o: HttpOutcome | None, f: Buli2Facts) -> CheckResult:
    target = CALLBACK
    if o is None:  # pragma: no cover - always probed when the URL is usable
        return _r(rule, Status.SKIP, "not probed", target, f"Set {CALLBACK}.")
    if not o.answered:
        return _no_answer(rule, o, "BULI2 webhook", CALLBACK, target, f)
    code = o.status or 0
    ev: dict[str, Any] = {"status": code, "latency_ms": o.elapsed_ms}
    if 200 <= code < 300:
        return _r(rule, Status.FAIL, f"the webhook ACCEPTED {what} ({code}): signature verification is off",
                  target, "Verify the HMAC signature in the webhook handler before doing anything and answer 401 "
                  f"on a mismatch; make sure {SECRET} is set in the backend (handlers often skip verification "
                  "when it is empty).", **ev)
    if code in _REFUSED:
        return _r(rule, Status.PASS, f"the webhook refused {what} ({code})", target, **ev)
    if code in (404, 405, 410):
        return _r(rule, Status.FAIL, f"no webhook route at {CALLBACK} ({code})", target,
                  f"Set {CALLBACK} to the backend's webhook route (checks.buli2.callback_path).", **ev)
    if 300 <= code < 400:
        return _r(rule, Status.FAIL, f"the webhook redirects ({code}) to {o.location or '?'}", target,
                  f"Set {CALLBACK} to the final https URL: BULI2 does not follow redirects of a POST.", **ev)
    if code >= 500:
        return _r(rule, Status.FAIL, f"the webhook failed ({code}) on {what} instead of refusing it", target,
                  "The handler should reject a bad signature with 401 before parsing; read the backend's logs.", **ev)
    return _r(rule, Status.WARN, f"the webhook answered {what} with {code}: inconclusive", target,
              "Expected 401/403 for a bad signature; retry later (rate limit?) and check the handler.", **ev)


def _signed(f: Buli2Facts) -> CheckResult:
    rule, target = "buli2.callback_signed", CALLBACK
    if not f.send_signed:
        return _r(rule, Status.SKIP, f"no signed test callback sent (it could start real work); pass {FLAG} to "
                  "send one", target, f"When a test callback is acceptable, run again with {FLAG}.")
    if f.signed is None:
        why = f"{SECRET} is not set" if not f.has_secret else "the signature self-test failed"
        return _r(rule, Status.SKIP, f"no signed test callback sent: {why}", target,
                  f"Set {SECRET} and fix buli2.signature_scheme.")
    o = f.signed
    if not o.answered:
        return _no_answer(rule, o, "BULI2 webhook", CALLBACK, target, f)
    code = o.status or 0
    ev: dict[str, Any] = {"status": code, "latency_ms": o.elapsed_ms}
    if 200 <= code < 300:
        return _r(rule, Status.PASS, f"the webhook accepted a correctly signed callback ({code})", target, **ev)
    if code in _REFUSED:
        return _r(rule, Status.FAIL, f"the webhook REFUSED a correctly signed callback ({code})", target,
                  f"The backend verifies with another secret or scheme: make {SECRET} identical in the backend "
                  "and at BULI2, match checks.buli2.signature to the handler, and check the server clock.", **ev)
    return _r(rule, Status.FAIL, f"the webhook answered a correctly signed callback with {code}", target,
              "Read the backend's logs for this request (its body has preflight_probe: true).", **ev)
