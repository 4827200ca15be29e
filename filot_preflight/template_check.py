"""Template mode: judge a committed env TEMPLATE (prod.env.template, *.env.example), not a deployment.

A template documents every manifest variable and must never carry a secret: a secret is either
empty or an obvious placeholder (`changeme`, `<...>`, `xxx`, `TODO`, `${...}`, the manifest's own
example). Settings that are filled in must be valid (placeholders allowed). Pure: no I/O, and no
message ever contains a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from filot_preflight.manifest import Manifest, UrlFormat, Variable
from filot_preflight.models import Status
from filot_preflight.rules import Rule, evaluate, placeholder_kind
from filot_preflight.sources import SETTINGS_PREFIX, Value

# Findings of the deployment rules that are fine in a template: a placeholder is what a template
# holds, and live verification is about a deployed value.
_ALLOWED_RULES = {Rule.PLACEHOLDER, Rule.NEEDS_VERIFICATION}


@dataclass(frozen=True)
class TemplateFinding:
    """One problem in a template. `line` is None for a finding about the whole file (a missing variable)."""

    variable: str
    status: Status  # FAIL or WARN
    message: str
    line: int | None = None


def check_template(
    manifest: Manifest, values: Sequence[Value], service: str | None = None
) -> list[TemplateFinding]:
    """Every finding for one template's parsed values (from `sources.read_env_file`), by line.

    With `service`, the template is that service's own (a repo's `.env.example`): only the variables
    the manifest lists it as consuming must be present.
    """
    out: list[TemplateFinding] = []
    first_line: dict[str, int | None] = {}
    for v in values:
        line = _line(v.origin)
        if v.name in first_line:
            out.append(TemplateFinding(v.name, Status.WARN, f"set again (first on line {first_line[v.name]}); "
                                       "the last one wins", line))
        else:
            first_line[v.name] = line
        if not manifest.has(v.name):
            if not v.name.startswith(SETTINGS_PREFIX):  # preflight's own settings are known, not app variables
                out.append(TemplateFinding(v.name, Status.WARN, "not in the manifest: declare it there or "
                                           "remove it from the template", line))
            continue
        var = manifest.variable(v.name)
        raw = v.value.get_secret_value()
        messages = _judge_secret(var, raw) if var.secret else _judge_setting(var, raw)
        out += [TemplateFinding(v.name, status, msg, line) for status, msg in messages]
    out.sort(key=lambda f: f.line or 0)
    expected = manifest.consumed_by(service) if service else manifest.variables
    whose = f"{service}'s template lists every variable {service} reads" if service else (
        "a template lists every manifest variable")
    out += [
        TemplateFinding(var.name, Status.FAIL, f"missing: {whose}; add {var.name}=", None)
        for var in expected
        if var.name not in first_line
    ]
    return out


def _judge_secret(var: Variable, raw: str) -> list[tuple[Status, str]]:
    """A secret must be empty or a placeholder; the message describes it, never quotes it."""
    v = raw.strip()
    if not v:
        return []
    password = _url_password(var, v)
    if password is not None:
        # A DSN can hold a placeholder host (ep-xxx...) around a real password: judge the password.
        if not password or placeholder_kind(var, password) is not None:
            return []
        what, hint = "holds a URL with a real-looking password", "<password>"
    elif placeholder_kind(var, v) is not None:
        return []
    else:
        what, hint = "is a secret with a real-looking value", f"<{_slug(var)}>"
    stored = f" (store it in Secrets Manager: {var.aws_secret.id})" if var.aws_secret else ""
    return [(Status.FAIL, f"{what}; a template leaves secrets empty or a placeholder such as {hint}: "
                          f"remove it{stored}, and rotate it if it was ever real")]


def _judge_setting(var: Variable, raw: str) -> list[tuple[Status, str]]:
    """A filled-in setting must pass the manifest's format rules; empty values and placeholders are fine."""
    if not raw.strip():
        return []
    return [
        (f.status, f.summary.removeprefix(f"{var.name} "))
        for f in evaluate(var, raw, offline=True)
        if f.rule not in _ALLOWED_RULES and f.status in (Status.FAIL, Status.WARN)
    ]


def _url_password(var: Variable, v: str) -> str | None:
    """The password of a URL-format secret (`user:PASSWORD@host`), or None when it has none."""
    if not isinstance(var.format, UrlFormat) or "://" not in v:
        return None
    try:
        return urlsplit(v).password
    except ValueError:  # not parseable: judged as a whole
        return None


def _slug(var: Variable) -> str:
    return var.name.lower().replace("_", "-")


def _line(origin: str) -> int | None:
    """The line number of a 'file:line' origin."""
    tail = origin.rpartition(":")[2]
    return int(tail) if tail.isdigit() else None
