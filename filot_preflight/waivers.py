"""Waivers: a team accepts a known failure for a while, with a reason and an expiry date.

Configured in `preflight.toml` (top-level `[[waivers]]`) or in `pyproject.toml` under
`[[tool.preflight.waivers]]`:

    [[waivers]]
    id = "redis.eviction_policy"        # a result id, exactly as reported
    target = "REDIS_URL"                # optional: only the result about this target
    reason = "Upstash forbids CONFIG; policy set to noeviction in the console (OPS-142)"
    expires = 2025-01-31                # a TOML date (or "2025-01-31")

An active waiver turns a FAIL or WARN into WAIVED with `waiver` set (every output shows it as
waived and counts it as passed; the original status stays in the evidence). A waiver that matches
no result of a checker that ran (a typo: `secrets.missnig`) adds a WARN `waiver.unmatched`.
An expired waiver waives nothing and adds a FAIL `waiver.expired` naming it, so a forgotten
waiver cannot hide a problem for ever.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filot_preflight.errors import PreflightError
from filot_preflight.fileio import read_limited
from filot_preflight.models import CheckResult, Report, Status, docs_link

CONFIG_FILE = "preflight.toml"
PYPROJECT = "pyproject.toml"
MAX_CONFIG_BYTES = 1024 * 1024  # a config of waivers is a few KB
SUBSYSTEM = "waivers"
EXPIRED_ID = "waiver.expired"
UNMATCHED_ID = "waiver.unmatched"
_WAIVABLE = {Status.FAIL, Status.WARN}
_FIELDS = {"id", "target", "reason", "expires"}


class WaiverError(PreflightError):
    """The waiver configuration is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Waiver:
    """One accepted failure: which result, why, and until when (inclusive)."""

    id: str
    reason: str
    expires: dt.date
    target: str | None = None
    origin: str = ""

    def matches(self, r: CheckResult) -> bool:
        """Whether this waiver is about result `r` (same id; same target when one is given)."""
        return r.id == self.id and (self.target is None or r.target == self.target)

    def active(self, today: dt.date) -> bool:
        """Valid through its expiry day."""
        return today <= self.expires

    @property
    def label(self) -> str:
        """How a person refers to it: id, plus the target when there is one."""
        return f"{self.id} [{self.target}]" if self.target else self.id


def find_config(start: Path | None = None) -> Path | None:
    """`preflight.toml`, else a `pyproject.toml` with a [tool.preflight] table, in `start` (default cwd)."""
    base = start or Path.cwd()
    own = base / CONFIG_FILE
    if own.is_file():
        return own
    py = base / PYPROJECT
    if py.is_file():
        try:
            data = tomllib.loads(read_limited(py, MAX_CONFIG_BYTES, "config").decode("utf-8"))
        except (OSError, PreflightError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
            return None  # someone else's pyproject; only an explicit path makes it our error
        if isinstance(data.get("tool"), dict) and "preflight" in data["tool"]:
            return py
    return None


def load(path: Path) -> list[Waiver]:
    """Read the waivers of `path` (preflight.toml or pyproject.toml); WaiverError names file and field."""
    try:
        data = tomllib.loads(read_limited(path, MAX_CONFIG_BYTES, "config", WaiverError).decode("utf-8"))
    except OSError as e:
        raise WaiverError(f"{path}: cannot read: {e.strerror or e.__class__.__name__}") from None
    except UnicodeDecodeError:
        raise WaiverError(f"{path}: not valid UTF-8") from None
    except (tomllib.TOMLDecodeError, RecursionError) as e:  # RecursionError: arrays nested too deep
        raise WaiverError(f"{path}: invalid TOML: {e}") from None
    prefix = ""
    table: Any = data
    if path.name == PYPROJECT:
        tool = data.get("tool", {})
        table = tool.get("preflight", {}) if isinstance(tool, dict) else None
        prefix = "tool.preflight."
        if not isinstance(table, dict):
            raise WaiverError(f"{path}: tool.preflight: expected a table")
    raw = table.get("waivers", [])
    if not isinstance(raw, list):
        raise WaiverError(f"{path}: {prefix}waivers: expected an array of tables ([[waivers]])")
    return [_parse(path, f"{prefix}waivers[{i}]", item) for i, item in enumerate(raw)]


def load_default(start: Path | None = None) -> list[Waiver]:
    """Waivers from the config found in `start` (default cwd); none when there is no config."""
    path = find_config(start)
    return load(path) if path is not None else []


def _parse(path: Path, where: str, item: Any) -> Waiver:
    if not isinstance(item, dict):
        raise WaiverError(f"{path}: {where}: expected a table with id, reason and expires")
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise WaiverError(f"{path}: {where}.{unknown[0]}: unknown field; allowed: {', '.join(sorted(_FIELDS))}")
    for name in ("id", "reason", "expires"):
        if name not in item:
            raise WaiverError(f"{path}: {where}.{name}: required")
    wid, reason, target = item["id"], item["reason"], item.get("target")
    if not isinstance(wid, str) or "." not in wid or wid != wid.strip():
        raise WaiverError(f"{path}: {where}.id: expected a result id such as 'redis.tls', got {wid!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise WaiverError(f"{path}: {where}.reason: expected a non-empty string saying why")
    if target is not None and (not isinstance(target, str) or not target):
        raise WaiverError(f"{path}: {where}.target: expected a non-empty string")
    return Waiver(wid, reason.strip(), _date(path, f"{where}.expires", item["expires"]), target, f"{path.name}:{where}")


def _date(path: Path, where: str, value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise WaiverError(f"{path}: {where}: expected a date like 2025-01-31, got {value!r}")


def apply(report: Report, waivers: list[Waiver], today: dt.date | None = None) -> Report:
    """A copy of `report` with active waivers applied and one FAIL per expired waiver.

    Only FAIL and WARN are waived: an ERROR means the check itself broke, and hiding that would
    hide that nothing was checked.
    """
    if not waivers:
        return report
    day = today or dt.date.today()
    active = [w for w in waivers if w.active(day)]
    out: list[CheckResult] = []
    for r in report.results:
        w = next((w for w in active if w.matches(r)), None)
        if w is not None and r.status in _WAIVABLE and r.waiver is None:
            r = r.with_updates(
                status=Status.WAIVED,
                waiver=w.reason,
                evidence={**r.evidence, "waived_status": r.status.value, "waiver_expires": w.expires.isoformat()},
            )
        out.append(r)
    # Applying twice (check, then report --from) must not report an expired waiver twice.
    seen = {(r.id, r.target) for r in out if r.id in (EXPIRED_ID, UNMATCHED_ID)}
    out.extend(_expired(w, day) for w in waivers if not w.active(day) and (EXPIRED_ID, w.label) not in seen)
    ran = set(report.checkers_run) if report.checkers_run is not None else None
    out.extend(
        _unmatched(w) for w in active
        if (UNMATCHED_ID, w.label) not in seen and not any(w.matches(r) for r in report.results)
        and (ran is None or w.id.partition(".")[0] in ran or not _known_checker(w.id, report))
    )
    return report.model_copy(update={"results": out})


def _known_checker(wid: str, report: Report) -> bool:
    """Whether the waiver's id names a checker of this installation (run or left out by the flags)."""
    return wid.partition(".")[0] in {*(report.checkers_run or ()), *(report.checkers_not_run or ())}


def _unmatched(w: Waiver) -> CheckResult:
    return CheckResult(
        id=UNMATCHED_ID,
        subsystem=SUBSYSTEM,
        status=Status.WARN,
        target=w.label,
        summary=f"Waiver for {w.label} matches no result of this run: it waives nothing",
        detail=f"Waiver ({w.origin}) said: {w.reason}",
        remediation=f"Correct the id (and target) to a result id exactly as reported (`preflight explain <id>` "
        f"lists them), or delete the waiver from {w.origin.split(':', 1)[0] or CONFIG_FILE}.",
        evidence={"id": w.id, "target": w.target},
        docs=docs_link("core", UNMATCHED_ID),
    )


def _expired(w: Waiver, day: dt.date) -> CheckResult:
    return CheckResult(
        id=EXPIRED_ID,
        subsystem=SUBSYSTEM,
        status=Status.FAIL,
        target=w.label,
        summary=f"Waiver for {w.label} expired on {w.expires.isoformat()}",
        detail=f"Waiver ({w.origin}) said: {w.reason}",
        remediation=f"Fix {w.id} and delete the waiver, or extend its `expires` date with a new reason "
        f"in {w.origin.split(':', 1)[0] or CONFIG_FILE}.",
        evidence={"expires": w.expires.isoformat(), "days_expired": (day - w.expires).days},
        docs=docs_link("core", EXPIRED_ID),
    )
