"""JUnit XML: one testsuite per subsystem, one testcase per result; CI systems ingest it as test results."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import groupby
from typing import Any

from filot_preflight.models import CheckResult, Report, Status

# XML 1.0 forbids most control characters even when escaped; drop them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _case(parent: ET.Element, r: CheckResult) -> None:
    name = f"{r.id} [{r.target}]" if r.target else r.id
    tc = ET.SubElement(
        parent,
        "testcase",
        classname=_clean(f"preflight.{r.subsystem}"),
        name=_clean(name),
        time=f"{r.duration_ms / 1000:.3f}",
    )
    fix = f"Fix: {r.remediation}" + (f" (more: preflight explain {r.id})" if r.docs else "") if r.remediation else ""
    body = "\n".join(x for x in (r.detail, fix) if x)
    if r.status is Status.FAIL:
        ET.SubElement(tc, "failure", message=_clean(r.summary), type="fail").text = _clean(body)
    elif r.status is Status.ERROR:
        ET.SubElement(tc, "error", message=_clean(r.summary), type="error").text = _clean(body)
    elif r.status is Status.SKIP:
        ET.SubElement(tc, "skipped", message=_clean(r.summary))
    elif r.status is Status.WARN or r.waiver:
        note = f"WARN: {r.summary}" if r.status is Status.WARN else f"WAIVED: {r.waiver}"
        ET.SubElement(tc, "system-out").text = _clean("\n".join(x for x in (note, body) if x))


def render(report: Report, **_: Any) -> str:
    """A <testsuites> document; counts per suite are computed from its cases."""
    root = ET.Element("testsuites", name="preflight", tests=str(len(report.results)))
    ordered = sorted(report.results, key=lambda r: (r.subsystem, r.id, r.target))
    for subsystem, group in groupby(ordered, key=lambda r: r.subsystem):
        items = list(group)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_clean(subsystem),
            tests=str(len(items)),
            failures=str(sum(r.status is Status.FAIL for r in items)),
            errors=str(sum(r.status is Status.ERROR for r in items)),
            skipped=str(sum(r.status is Status.SKIP for r in items)),
            time=f"{sum(r.duration_ms for r in items) / 1000:.3f}",
        )
        for r in items:
            _case(suite, r)
    if report.partial:
        root.set("partial", "true")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
