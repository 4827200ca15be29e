"""The architecture diagram, generated from the manifest, each box marked with its status (pure).

Services (manifest `services`) are columns at the top; the external systems they use hang off a
vertical line under each service. A service uses a system when it consumes a variable of the
system's manifest sections; it uses Secrets Manager when it consumes a secret stored there.
Plain ASCII only (no emoji), so the columns line up in any monospace font.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from filot_preflight.documents.catalog import COMPONENTS, INTERNAL_SECTIONS, LABELS, Component
from filot_preflight.documents.results import SubsystemView
from filot_preflight.manifest import Manifest

GAP = 6  # columns between the component boxes and the first service line
DESC_MAX = 34


@dataclass(frozen=True)
class ComponentView:
    """An external system: its status and, per service, the variables that link them."""

    key: str
    title: str
    subsystem: str | None
    status: str
    label: str
    note: str
    used_by: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class ServiceView:
    """A deployable of the manifest, its status (from the subsystem of the same name) and its ECS family."""

    name: str
    description: str
    ecs_family: str | None
    status: str
    label: str
    note: str
    variables: int
    secrets: int


def _components(manifest: Manifest) -> list[Component]:
    present = {s.id for s in manifest.sections}
    out, claimed = [], set()
    for c in COMPONENTS:
        secs = tuple(s for s in c.sections if s in present)
        if secs or c.key == "aws" and any(v.aws_secret for v in manifest.variables):
            out.append(Component(c.key, c.title, c.subsystem, secs))
            claimed |= set(secs)
    for s in manifest.sections:
        if s.id not in claimed and s.id not in INTERNAL_SECTIONS:
            out.append(Component(s.id, s.title, s.id, (s.id,)))
    return out


def _links(manifest: Manifest, c: Component) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out = []
    for svc in manifest.services:
        names = [
            v.name for v in manifest.consumed_by(svc.name)
            if v.section in c.sections or (c.key == "aws" and v.aws_secret is not None)
        ]
        if names:
            out.append((svc.name, tuple(names)))
    return tuple(out)


def _state(sub: SubsystemView | None, has_checker: bool) -> tuple[str, str, str]:
    if not has_checker:
        return "no check", "NO CHECK", "no live check exists for this system; verify it by hand"
    if sub is None:
        return "not checked", LABELS["not checked"], "no results in this run"
    return sub.status, sub.label, sub.note


def build(manifest: Manifest, subsystems: Mapping[str, SubsystemView]) -> tuple[list[ServiceView], list[ComponentView]]:
    """Services and components with their status."""
    services = []
    for s in manifest.services:
        st, label, note = _state(subsystems.get(s.name), True)
        used = manifest.consumed_by(s.name)
        services.append(ServiceView(s.name, s.description, s.ecs_family, st, label, note,
                                    len(used), sum(1 for v in used if v.secret)))
    comps = []
    for c in _components(manifest):
        st, label, note = _state(subsystems.get(c.subsystem or ""), c.subsystem is not None)
        comps.append(ComponentView(c.key, c.title, c.subsystem, st, label, note, _links(manifest, c)))
    return services, comps


class _Canvas:
    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def put(self, x: int, y: int, text: str) -> None:
        while len(self.rows) <= y:
            self.rows.append([])
        row = self.rows[y]
        if len(row) < x + len(text):
            row.extend(" " * (x + len(text) - len(row)))
        row[x:x + len(text)] = list(text)

    def box(self, x: int, y: int, w: int, lines: list[str]) -> None:
        self.put(x, y, "+" + "-" * (w - 2) + "+")
        for i, line in enumerate(lines, 1):
            self.put(x, y + i, "| " + line.ljust(w - 4) + " |")
        self.put(x, y + len(lines) + 1, "+" + "-" * (w - 2) + "+")

    def text(self) -> str:
        return "\n".join("".join(r).rstrip() for r in self.rows) + "\n"


def _short(s: str) -> str:
    return s if len(s) <= DESC_MAX else s[: DESC_MAX - 3] + "..."


def diagram(services: list[ServiceView], comps: list[ComponentView]) -> str:
    """The ASCII diagram: service boxes on top, system boxes below, `*` where a service uses a system."""
    cw = max([len(c.title) for c in comps] + [len(f"[{c.label}]") for c in comps] + [24]) + 4
    sw = max([len(s.name) for s in services] + [len(_short(s.description)) for s in services] + [16]) + 4
    cv = _Canvas()
    x0 = cw + GAP
    xs = [x0 + i * (sw + 3) for i in range(len(services))]
    bus = {s.name: x + sw // 2 for s, x in zip(services, xs, strict=True)}
    for s, x in zip(services, xs, strict=True):
        cv.box(x, 0, sw, [s.name, _short(s.description), f"[{s.label}]"])
    top = 5
    # Each service's line runs down to the last system it uses.
    last = {s.name: -1 for s in services}
    for i, c in enumerate(comps):
        for svc, _ in c.used_by:
            last[svc] = i
    for i, c in enumerate(comps):
        y = top + 1 + i * 4
        for svc, bx in bus.items():
            if last[svc] >= i:  # the line stops at the arrow of the last system it uses
                for dy in range(-1 if i == 0 else 0, 2 if last[svc] == i else 4):
                    cv.put(bx, y + dy, "|")
        cv.box(0, y, cw, [c.title, f"[{c.label}]"])
        users = {svc for svc, _ in c.used_by}
        if users:
            end = max(bus[svc] for svc in users)
            for x in range(cw, end):
                if cv.rows[y + 1][x:x + 1] != ["|"]:
                    cv.put(x, y + 1, "-")
            cv.put(cw, y + 1, "<")
            for svc in users:
                cv.put(bus[svc], y + 1, "*")
    return cv.text()
