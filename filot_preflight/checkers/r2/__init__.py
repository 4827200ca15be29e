"""Cloudflare R2: bucket reachable, presigned PUT/GET round trip of a canary (always deleted), CORS for the
app origin, anonymous listing denied, clock skew, presign expiry. Wrong keys, a missing bucket, missing CORS
and clock skew each get their own result.

The probe (`probe.probe`) does the I/O; `judge` is pure. Presigned URLs are secrets: the probe teaches
them to the redactor as soon as they are minted, and no fact or result ever carries one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from filot_preflight.checkers.base import CheckContext, Checker, result
from filot_preflight.checkers.r2.probe import BUCKET, R2_MAX_PRESIGN_S, CorsRule, R2Facts
from filot_preflight.manifest import R2Settings
from filot_preflight.models import CheckResult, EvidenceValue, Status
from filot_preflight.net import fixes
from filot_preflight.net import libraries as libs
from filot_preflight.net.fixes import Endpoint, refused_summary

__all__ = ["R2Checker", "R2Facts", "CorsRule", "judge"]

NAME = "r2"
EXPIRY_VAR = "CF_R2_PRESIGN_EXPIRY_SECONDS"
LONG_PRESIGN_S = 86400
SKEW_WARN_S = 60.0
ORIGIN = "APP_ORIGIN"

# S3 error code of the bucket request -> (result id, summary, remediation)
AUTH_FAILURES: dict[str, tuple[str, str, str]] = {
    "SignatureDoesNotMatch": (
        "r2.secret_key",
        "R2 rejects the signature: CF_R2_SECRET_ACCESS_KEY does not belong to the access key",
        "Put the secret access key of this API token in CF_R2_SECRET_ACCESS_KEY (Cloudflare shows it once, when the "
        "token is created: roll the token if it is lost), and update the same secret in Secrets Manager so the ECS "
        "services get it too.",
    ),
    "InvalidAccessKeyId": (
        "r2.access_key",
        "R2 does not know CF_R2_ACCESS_KEY_ID",
        "Put the access key id of an active R2 API token of this account in CF_R2_ACCESS_KEY_ID (R2 dashboard, "
        "Manage API tokens), with that token's secret in CF_R2_SECRET_ACCESS_KEY.",
    ),
    "NoSuchBucket": (
        "r2.bucket",
        "the bucket does not exist",
        "Create the bucket in R2 or fix CF_R2_BUCKET (and check the endpoint's account / jurisdiction).",
    ),
    "AccessDenied": (
        "r2.permissions",
        "the API token may not access this bucket",
        "Give the token Object Read & Write on this bucket (R2, Manage API tokens, edit permissions).",
    ),
}
# the variable a rejected credential is about (the bucket is the target of the other results)
AUTH_TARGETS = {"r2.secret_key": "CF_R2_SECRET_ACCESS_KEY", "r2.access_key": "CF_R2_ACCESS_KEY_ID"}
SKEW_FIX = "Synchronise the clock (NTP / chrony): SigV4 refuses requests more than 15 minutes off."
# error kind of an unreachable endpoint -> summary; the fix comes from the shared table (net.fixes), except for
# a client that could not be built at all.
UNREACHABLE = {
    "dns": "the endpoint host does not resolve",
    "refused": "the endpoint refuses connections",
    "timeout": "no answer from the endpoint in time",
    "client": "cannot set up the S3 client",
    "not_tls": "the endpoint does not speak TLS",
    "reset": "the endpoint closed the connection without an answer",
}
CLIENT_FIX = ("boto3 could not build the S3 client: make --ca-file / PREFLIGHT_CA_FILE a readable PEM bundle, and "
              "check the AWS_* variables of this environment that boto3 also reads (AWS_CA_BUNDLE, AWS_CONFIG_FILE, "
              "AWS_PROFILE).")
TLS_FAILURES = {
    "tls_ca": "the endpoint's certificate is not signed by a trusted CA",
    "tls_hostname": "the endpoint's certificate is not valid for its host name",
    "tls_expired": "the endpoint's certificate has expired",
}
_DEFAULT_ENDPOINT = "https://<CF_R2_ACCOUNT_ID>.r2.cloudflarestorage.com"


def endpoint(f: R2Facts) -> Endpoint:
    """The R2 endpoint for the shared fix table (its host as shown: the account id stays masked)."""
    netloc = urlsplit(f.endpoint_shown).netloc.rpartition("@")[2]
    host, _, port = netloc.rpartition(":") if netloc.rpartition(":")[2].isdigit() else (netloc, "", "443")
    explicit = f.endpoint_var == "CF_R2_ENDPOINT"
    var = "CF_R2_ENDPOINT" if explicit else "CF_R2_ACCOUNT_ID / CF_R2_ENDPOINT"
    dns = (f"Or unset CF_R2_ENDPOINT to use {_DEFAULT_ENDPOINT}." if explicit else
           "A wrong CF_R2_ACCOUNT_ID makes a host that does not exist: copy the Account ID from the R2 dashboard.")
    return Endpoint(
        var, "R2", host=host, port=port, source="the R2 dashboard (Account ID, S3 API endpoint)",
        default_port="R2: 443", managed_by="Cloudflare R2", notes={"dns": dns},
        tls_switch=f"use https:// in CF_R2_ENDPOINT, or unset it to use {_DEFAULT_ENDPOINT}",
    )


def _r(rid: str, status: Status, summary: str, fix: str = "", *, target: str = BUCKET, detail: str = "",
       ev: dict[str, EvidenceValue] | None = None, **evidence: EvidenceValue) -> CheckResult:
    """One result of this checker; evidence from `ev` and keyword arguments."""
    return result(rid, NAME, status, summary, target=target, detail=detail, remediation=fix,
                  evidence={**(ev or {}), **evidence})


def judge_config(f: R2Facts) -> list[CheckResult]:
    """Endpoint shape, host kind, --insecure and the presign expiry: judged without I/O."""
    out: list[CheckResult] = []
    tgt = f.endpoint_var
    ev: dict[str, EvidenceValue] = {"endpoint": f.endpoint_shown, "host_kind": f.host_kind}
    if not f.endpoint_https:
        out.append(_r("r2.endpoint", Status.FAIL, "the endpoint is not https", "Use https://<CF_R2_ACCOUNT_ID>."
                      "r2.cloudflarestorage.com (or unset CF_R2_ENDPOINT).", target=tgt, ev=ev))
    if f.endpoint_account_mismatch:
        out.append(_r("r2.endpoint_account", Status.WARN, "CF_R2_ENDPOINT names another account than "
                      "CF_R2_ACCOUNT_ID", "Make them agree, or unset CF_R2_ENDPOINT.", target=tgt, ev=ev))
    if f.gate is not None and f.gate.refused:
        out.append(_r("r2.host", Status.FAIL, refused_summary(tgt, f.gate), fixes.fix("host_refused", endpoint(f)),
                      target=tgt, ev=ev | f.gate.evidence()))
    elif f.host_kind != "public":
        if f.allow_loopback:
            out.append(_r("r2.host", Status.PASS, f"the endpoint is a {f.host_kind} host (allowed)", target=tgt,
                          ev=ev, loopback_allowed=True))
        else:
            out.append(_r("r2.host", Status.FAIL, f"the endpoint is a {f.host_kind} host", "Use the R2 endpoint "
                          "in production (PREFLIGHT_ALLOW_LOOPBACK=true only for local runs).", target=tgt, ev=ev))
    if f.insecure:
        out.append(_r("r2.insecure", Status.WARN, "certificate verification is off (--insecure)",
                      fixes.insecure_fix(), target=tgt))
    out.append(judge_presign_expiry(f))
    return out


def judge_presign_expiry(f: R2Facts) -> CheckResult:
    """CF_R2_PRESIGN_EXPIRY_SECONDS must be a whole number of seconds within R2's 7-day limit."""
    raw = f.presign_expiry if f.presign_expiry is not None else f.presign_expiry_default
    try:
        n = int(str(raw).strip())
    except ValueError:
        return _r("r2.presign_expiry", Status.FAIL, f"{EXPIRY_VAR} is not a whole number of seconds",
                  f"Set {EXPIRY_VAR} to seconds, e.g. 900.", target=EXPIRY_VAR)
    ev: dict[str, EvidenceValue] = {"seconds": n, "max": R2_MAX_PRESIGN_S,
                                    "source": "set" if f.presign_expiry is not None else "manifest default"}
    if n <= 0 or n > R2_MAX_PRESIGN_S:
        return _r("r2.presign_expiry", Status.FAIL, f"{EXPIRY_VAR}={n} is outside 1..{R2_MAX_PRESIGN_S} (7 days)",
                  f"Set {EXPIRY_VAR} to at most {R2_MAX_PRESIGN_S}; 900 is typical.", target=EXPIRY_VAR, ev=ev)
    if n > LONG_PRESIGN_S:
        return _r("r2.presign_expiry", Status.WARN, f"presigned URLs live {n} s (more than a day)",
                  "Presigned URLs are bearer tokens: keep them short (e.g. 900 s).", target=EXPIRY_VAR, ev=ev)
    return _r("r2.presign_expiry", Status.PASS, f"presigned URLs live {n} s", target=EXPIRY_VAR, ev=ev)


def judge_reach(f: R2Facts) -> list[CheckResult]:
    """Endpoint reachable, clock in step, credentials accepted, bucket present."""
    tgt = f.endpoint_var
    if f.reachable is False:
        if f.error_kind in TLS_FAILURES:
            return [_r("r2.tls", Status.FAIL, TLS_FAILURES[f.error_kind], fixes.fix(f.error_kind, endpoint(f)),
                       target=tgt, detail=f.error, error_kind=f.error_kind)]
        summary = UNREACHABLE.get(f.error_kind or "", "the endpoint is unreachable")
        fix = CLIENT_FIX if f.error_kind == "client" else fixes.fix(f.error_kind, endpoint(f))
        return [_r("r2.endpoint", Status.FAIL, summary, fix, target=tgt, detail=f.error, error_kind=f.error_kind,
                   endpoint=f.endpoint_shown)]
    out = [_r("r2.endpoint", Status.PASS, "the endpoint answers over TLS", target=tgt, endpoint=f.endpoint_shown),
           judge_clock(f)]
    if f.bucket_ok:
        out.append(_r("r2.bucket", Status.PASS, f"bucket {f.bucket} is reachable with these keys", bucket=f.bucket))
    elif f.s3_error in AUTH_FAILURES:
        rid, summary, fix = AUTH_FAILURES[f.s3_error]
        out.append(_r(rid, Status.FAIL, summary, fix, target=AUTH_TARGETS.get(rid, BUCKET), detail=f.error,
                      bucket=f.bucket, s3_error=f.s3_error))
    elif f.s3_error != "RequestTimeTooSkewed":  # that one is r2.clock's
        out.append(_r("r2.bucket", Status.FAIL, f"the bucket request failed ({f.s3_error or 'no error code'})",
                      "Check that CF_R2_ENDPOINT points at R2's S3 API and the token's permissions.",
                      detail=f.error, bucket=f.bucket, s3_error=f.s3_error))
    return out


def judge_clock(f: R2Facts) -> CheckResult:
    """RequestTimeTooSkewed fails; a server Date more than a minute off warns."""
    if f.s3_error == "RequestTimeTooSkewed":
        return _r("r2.clock", Status.FAIL, "R2 rejects requests: this machine's clock is too far off", SKEW_FIX,
                  target="clock", skew_s=f.skew_s)
    if f.skew_s is None:
        return _r("r2.clock", Status.SKIP, "the endpoint sent no Date header to compare with", target="clock")
    if abs(f.skew_s) > SKEW_WARN_S:
        return _r("r2.clock", Status.WARN, f"local clock differs from the endpoint's by {f.skew_s:+.0f} s", SKEW_FIX,
                  target="clock", skew_s=f.skew_s)
    return _r("r2.clock", Status.PASS, f"clock within {SKEW_WARN_S:g} s of the endpoint's", target="clock",
              skew_s=f.skew_s)


def judge_canary(f: R2Facts, settings: R2Settings) -> list[CheckResult]:
    """Presigned PUT then GET of the canary, its deletion, and canaries left by killed runs."""
    ev: dict[str, EvidenceValue] = {"key": f.canary_key, "prefix": settings.canary_prefix}
    out: list[CheckResult] = []
    if f.put_status == 200:
        out.append(_r("r2.canary_put", Status.PASS, "presigned PUT of the canary object succeeded", ev=ev))
        if f.get_match:
            out.append(_r("r2.canary_get", Status.PASS, "presigned GET returned the same bytes", ev=ev))
        else:
            why = f.get_error or ("different bytes" if f.get_status == 200 else f"HTTP {f.get_status}")
            out.append(_r("r2.canary_get", Status.FAIL, f"presigned GET did not return the canary ({why})",
                          "Give the token Object Read on the bucket; check for a proxy rewriting bodies.",
                          ev=ev, http_status=f.get_status))
    elif f.canary_key is not None and f.put_status is None and (f.put_error is None or "Timeout" in f.put_error):
        # no answer and no error: the time limit ended the round trip, which says nothing about permissions
        out.append(_r("r2.canary_put", Status.FAIL, "presigned PUT timed out: no answer before the time limit",
                      "The endpoint did not answer the upload in time: check that CF_R2_ENDPOINT is reachable from "
                      "here and not throttled, or raise --timeout / PREFLIGHT_TIMEOUT.",
                      ev={**ev, "timed_out": True}))
    elif f.canary_key is not None:
        out.append(_r("r2.canary_put", Status.FAIL, f"presigned PUT failed ({f.put_error or f.put_status})",
                      "Give the token Object Write on the bucket; check keys and clock (they sign the URL).",
                      ev=ev, http_status=f.put_status))
    if f.canary_key is not None and f.deleted:
        out.append(_r("r2.canary_cleanup", Status.PASS, "canary object deleted", ev=ev))
    elif f.canary_key is not None:
        why = f.delete_error or "deletion not confirmed before the time limit"
        out.append(_r("r2.canary_cleanup", Status.FAIL, f"canary object may be left behind ({why})",
                      f"Delete {f.canary_key} and give the token delete permission; the next run also removes "
                      "canaries older than an hour.", ev=ev))
    stale: dict[str, EvidenceValue] = {"found": f.stale_found, "deleted": f.stale_deleted}
    if f.stale_error is not None:
        out.append(_r("r2.canary_stale", Status.WARN, f"could not remove old canaries: {f.stale_error}",
                      f"Delete the objects under {settings.canary_prefix} by hand.", ev=stale))
    elif f.stale_found:
        out.append(_r("r2.canary_stale", Status.PASS, f"removed {f.stale_deleted} canaries left by earlier runs",
                      ev=stale))
    return out


def judge_cors(f: R2Facts) -> CheckResult:
    """A rule must let APP_ORIGIN PUT (uploads) and GET (downloads), with a Content-Type header."""
    if f.cors is None:
        return _r("r2.cors", Status.SKIP, "CORS not checked (time limit reached)", target=ORIGIN)
    if f.cors == "unsupported":
        return _r("r2.cors", Status.SKIP, "this S3 server does not implement the CORS API: not verified",
                  target=ORIGIN, detail=f.cors_error or "")
    if f.cors == "error":
        return _r("r2.cors", Status.FAIL, f"cannot read the bucket's CORS rules ({f.cors_error})",
                  "Let the token read bucket settings, or check the rules in the R2 dashboard.", target=ORIGIN)
    if f.cors == "missing":
        return _r("r2.cors_missing", Status.FAIL, "the bucket has no CORS rules: browser uploads will fail",
                  "Add a CORS policy in R2 (bucket Settings) allowing APP_ORIGIN, methods PUT and GET, "
                  "header Content-Type.", target=ORIGIN)
    if not f.app_origin:
        return _r("r2.cors", Status.SKIP, "APP_ORIGIN is not set: cannot tell whether CORS allows the app",
                  target=ORIGIN)
    rules = [r for r in f.cors_rules if r.allows_origin(f.app_origin)]
    ev: dict[str, EvidenceValue] = {"origin": f.app_origin, "rules": len(f.cors_rules), "matching": len(rules)}
    if not rules:
        return _r("r2.cors_origin", Status.FAIL, "no CORS rule allows APP_ORIGIN",
                  "Add APP_ORIGIN to AllowedOrigins in the bucket's CORS policy.", target=ORIGIN, ev=ev)
    methods = {m.upper() for r in rules for m in r.methods}
    ev["methods"] = sorted(methods)
    if "PUT" not in methods:
        return _r("r2.cors", Status.FAIL, "CORS allows APP_ORIGIN but not PUT: presigned uploads fail",
                  "Add PUT to AllowedMethods of the rule.", target=ORIGIN, ev=ev)
    lacks = [] if "GET" in methods else ["GET (downloads)"]
    if not {h.lower() for r in rules for h in r.headers} & {"*", "content-type"}:
        lacks.append("the Content-Type header")
    if lacks:
        return _r("r2.cors", Status.WARN, f"CORS for APP_ORIGIN lacks {' and '.join(lacks)}",
                  "Allow GET, and AllowedHeaders Content-Type (or *), in the rule.", target=ORIGIN, ev=ev)
    return _r("r2.cors", Status.PASS, "CORS allows APP_ORIGIN to PUT and GET", target=ORIGIN, ev=ev)


def judge_anonymous(f: R2Facts) -> CheckResult:
    """An unsigned listing of the bucket must be refused."""
    if f.anon_status is None and f.anon_error is None:
        return _r("r2.anonymous_list", Status.SKIP, "not checked (time limit reached)")
    if f.anon_status in (400, 401, 403):
        return _r("r2.anonymous_list", Status.PASS, "anonymous listing is denied", http_status=f.anon_status)
    if f.anon_status == 200:
        return _r("r2.anonymous_list", Status.FAIL, "anyone can list the bucket without credentials",
                  "Turn off public listing (R2: no public bucket access for the S3 API; review bucket policies).",
                  http_status=200)
    return _r("r2.anonymous_list", Status.WARN, f"anonymous listing: inconclusive ({f.anon_error or f.anon_status})",
              "Try an unsigned GET of the bucket URL by hand: it must answer 403.", http_status=f.anon_status)


def judge(f: R2Facts, settings: R2Settings) -> list[CheckResult]:
    """Turn facts into results (pure)."""
    if f.missing:
        names = ", ".join(f.missing)
        return [_r("r2.config", Status.FAIL, f"R2 cannot be checked: {names} not set",
                   f"Set {names} (R2 dashboard: account id, Manage API tokens, bucket name).", target=f.missing[0])]
    out = judge_config(f)
    if f.reachable is None:  # not probed (plain-http endpoint) or no answer before the time limit
        if f.timed_out:
            out.append(_r("r2.endpoint", Status.FAIL, UNREACHABLE["timeout"], fixes.fix("timeout", endpoint(f)),
                          target=f.endpoint_var))
        return out
    out += judge_reach(f)
    if f.bucket_ok:
        out += [*judge_canary(f, settings), judge_cors(f), judge_anonymous(f)]
    if f.timed_out:
        out.append(_r("r2.incomplete", Status.FAIL, "the probe did not finish within the time limit",
                      "Check the endpoint's latency from here, or raise --timeout."))
    return out


class R2Checker(Checker):
    """R2 bucket, presigned canary round trip, CORS for the app, anonymous access, clock and expiry."""

    name = NAME
    subsystem = "r2"
    description = "CF_R2_*: bucket, presigned PUT/GET canary (deleted after), CORS for APP_ORIGIN, anonymous listing"
    needs = ("CF_R2_ACCESS_KEY_ID", "CF_R2_SECRET_ACCESS_KEY", "CF_R2_BUCKET")
    libraries = libs.AWS + libs.HTTP

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe (blocking I/O in a daemon thread, bounded), then judge."""
        from filot_preflight.checkers.r2.probe import probe

        return judge(await probe(ctx), ctx.manifest.checks.r2)
