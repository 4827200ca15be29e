"""Remediation text: where a value is stored and the concrete fix for each rule."""

from __future__ import annotations

from collections.abc import Sequence

from filot_preflight.manifest import SecretFormat, UrlFormat, Variable
from filot_preflight.rules.findings import Rule
from filot_preflight.rules.formats import format_hint


def where_stored(var: Variable) -> str:
    """'AWS Secrets Manager at <id> (JSON key <k>)', or the service environment for plain settings."""
    if var.aws_secret is None:
        return "the service's environment (ECS task definition)"
    key = f" (JSON key {var.aws_secret.key})" if var.aws_secret.key else ""
    return f"AWS Secrets Manager at {var.aws_secret.id}{key}"


def how_to_set(var: Variable) -> str:
    """The concrete fix for a value that must be (re)set: the manifest's recipe, and where it goes."""
    where = where_stored(var)
    verb = "store it in" if var.aws_secret else "set it in"
    if var.obtain:
        step = var.obtain.rstrip(". ")
        # "Generate: openssl rand -base64 48 and store it in ..." reads as one instruction;
        # a where-to-find-it recipe ("From the Neon console, ...") reads better as two sentences.
        text = f"{step} and {verb} {where}" if step.startswith("Generate:") else f"{step}. {verb.capitalize()} {where}"
    elif isinstance(var.format, SecretFormat):
        flag = "-hex" if var.format.encoding == "hex" else "-base64"
        text = f"Generate: openssl rand {flag} {var.format.min_bytes} and {verb} {where}"
    elif var.example and not var.secret:
        text = f"Set {var.name} to a value like {var.example} in {where}"
    else:
        text = f"Set {var.name} ({var.description.rstrip('. ')}) in {where}"
    if var.generate is not None:
        text += f" (or run: preflight secrets generate {var.name})"
    return text + "."


def _remediation(var: Variable, rule: Rule, reasons: Sequence[str], reused_with: Sequence[str]) -> str:
    fix = how_to_set(var)
    if rule is Rule.TLS:
        fmt = var.format
        if isinstance(fmt, UrlFormat) and fmt.tls_param and any(fmt.tls_param in r for r in reasons):
            return (f"Add {fmt.tls_param}=verify-full (or require) to the query string of {var.name} and update "
                    f"it in {where_stored(var)}.")
        return f"Use the TLS URL ({format_hint(var)}). {fix}"
    if rule is Rule.MALFORMED:
        return f"Expected {format_hint(var)}. {fix}"
    if rule is Rule.WEAK:
        return f"Replace it with a new random value. {fix}"
    if rule is Rule.LOOPBACK:
        return (f"Point {var.name} at the production endpoint (a public host). {fix} For a local rehearsal "
                "against loopback services, pass --allow-loopback or set PREFLIGHT_ALLOW_LOOPBACK=true.")
    if rule is Rule.TEST_KEY:
        return f"Use the live (production) key instead of a test-mode key. {fix}"
    if rule is Rule.REUSED:
        return (f"Give {var.name} its own value (it is the same as {', '.join(reused_with)}), so rotating or "
                f"leaking one does not affect the other. {fix}")
    return fix
