"""Findings about HOW values are read: a value its reader cuts, a line two services read differently,
duplicates, near-miss names, lines a reader skips, and Secrets Manager values with stray characters.

Probe (`reading_facts`) walks the value store's per-reader readings and keeps names, places and
lengths only; `judge` is pure and turns them into `secrets.*` results. No value ever leaves the probe.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from filot_preflight.checkers.base import result
from filot_preflight.manifest import Manifest
from filot_preflight.models import CheckResult, Status
from filot_preflight.sources import SETTINGS_PREFIX, FileReading, ValueStore

SUBSYSTEM = "secrets"
RESULT_IDS = (
    "secrets.reader_cut",
    "secrets.reader_divergence",
    "secrets.duplicate",
    "secrets.near_miss",
    "secrets.ignored_line",
    "secrets.stored_extra",
)


@dataclass(frozen=True)
class Cut:
    """An unquoted value the service's reader ends at a `#` (`JWT_SECRET=Ab3#...` gives the app `Ab3`)."""

    name: str
    origin: str
    services: tuple[str, ...]
    reader: str
    written: int
    read: int


@dataclass(frozen=True)
class Divergence:
    """One line of a shared file that two consuming services read differently: (service, reader, length)."""

    name: str
    origin: str
    readings: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class Duplicate:
    """A name assigned more than once in the files one service reads; `taken` is where its value comes from."""

    name: str
    places: tuple[str, ...]
    taken: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class NearMiss:
    """A name in an env file that is not in the manifest but is one edit (or only case) away from one."""

    name: str
    origin: str
    manifest_name: str


@dataclass(frozen=True)
class Ignored:
    """A line a reader skips (never the line's text)."""

    origin: str
    why: tuple[str, ...]


@dataclass(frozen=True)
class StoredExtra:
    """A Secrets Manager value with surrounding whitespace, a newline or quotes stored inside it."""

    name: str
    origin: str
    what: str
    stored: int
    meant: int


@dataclass(frozen=True)
class ReadingFacts:
    """Everything `judge` needs; names, places and lengths only."""

    cuts: tuple[Cut, ...] = ()
    divergences: tuple[Divergence, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    near_misses: tuple[NearMiss, ...] = ()
    ignored: tuple[Ignored, ...] = ()
    stored_extra: tuple[StoredExtra, ...] = ()


def _printable(name: str) -> str:
    """A name as printed: python-dotenv accepts quoted names that may hold a newline; results stay one line."""
    return name if name.isprintable() else repr(name)


def _origin(r: FileReading, line: int) -> str:
    return f"{r.name}:{line}"


def _service_readings(manifest: Manifest, store: ValueStore) -> dict[str, list[FileReading]]:
    out: dict[str, list[FileReading]] = {}
    for s in manifest.services:
        reader = store.reader_of(s.name).reader
        out[s.name] = [r for r in store.readings if r.reader == reader and r.service in (None, s.name)]
    return out


def reading_facts(manifest: Manifest, store: ValueStore) -> ReadingFacts:
    """Facts about the readings in `store` (no I/O: the files were read by sources.load_values)."""
    per_service = _service_readings(manifest, store)
    consumers = {v.name: set(v.consumers) for v in manifest.variables}
    cuts: dict[tuple[str, str], Cut] = {}
    dups: dict[tuple[str, tuple[str, ...], str], list[str]] = defaultdict(list)
    lines: dict[tuple[str, str, int], dict[str, tuple[str, str]]] = defaultdict(dict)  # (file, name, line)
    for service, readings in per_service.items():
        # a labelled file overriding a shared one is the intended layering, not a duplicate
        places: dict[tuple[str, bool], list[str]] = defaultdict(list)
        for r in readings:
            for e in r.reading.entries:
                places[(e.key, r.service is None)].append(_origin(r, e.line))
                if r.service is None:
                    lines[(str(r.path), e.key, e.line)][service] = (r.reader, e.value)
                if e.cut_from is not None and service in consumers.get(e.key, ()):
                    key = (e.key, _origin(r, e.line))
                    old = cuts.get(key)
                    svcs = (*old.services, service) if old else (service,)
                    cuts[key] = Cut(e.key, key[1], svcs, r.reader, e.cut_from, len(e.value))
        for (name, _), where in places.items():
            if len(where) > 1:
                taken = store.get(name, service)
                dups[(_printable(name), tuple(where), taken.origin if taken else "nowhere")].append(service)
    return ReadingFacts(
        cuts=tuple(cuts.values()),
        divergences=tuple(_divergences(lines, consumers)),
        duplicates=tuple(Duplicate(n, p, t, tuple(s)) for (n, p, t), s in dups.items()),
        near_misses=tuple(_near_misses(manifest, store)),
        ignored=tuple(_ignored(store)),
        stored_extra=tuple(_stored_extra(manifest, store)),
    )


def _divergences(
    lines: dict[tuple[str, str, int], dict[str, tuple[str, str]]], consumers: dict[str, set[str]]
) -> list[Divergence]:
    out = []
    for (path, name, line), seen in lines.items():
        relevant = {s: rv for s, rv in seen.items() if s in consumers.get(name, ())}
        if len({v for _, v in relevant.values()}) > 1:
            readings = tuple((s, r, len(v)) for s, (r, v) in relevant.items())
            out.append(Divergence(name, f"{path.rsplit('/', 1)[-1]}:{line}", readings))
    return out


def _near_misses(manifest: Manifest, store: ValueStore) -> list[NearMiss]:
    known = {v.name for v in manifest.variables}
    by_len: dict[int, list[str]] = {}  # one edit changes the length by one at most: only those names are compared
    for k in sorted(known):
        by_len.setdefault(len(k), []).append(k)
    out: dict[tuple[str, str], NearMiss] = {}
    for r in store.readings:
        for e in r.reading.entries:
            if e.key in known or e.key.startswith(SETTINGS_PREFIX):
                continue
            n = len(e.key)
            near = sorted(by_len.get(n - 1, []) + by_len.get(n, []) + by_len.get(n + 1, []))
            match = next((k for k in near if _one_edit(e.key, k)), None)
            if match is not None:
                out.setdefault((e.key, _origin(r, e.line)), NearMiss(_printable(e.key), _origin(r, e.line), match))
    return list(out.values())


def _one_edit(a: str, b: str) -> bool:
    """Equal but for case, or one insertion, deletion, substitution or swap of neighbours apart."""
    if abs(len(a) - len(b)) > 1:
        return False
    if a.lower() == b.lower():
        return True
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _ignored(store: ValueStore) -> list[Ignored]:
    out: dict[str, list[str]] = defaultdict(list)
    for r in store.readings:
        for line, why in r.reading.ignored:
            out[_origin(r, line)].append(f"{r.reader}: {_printable(why)}")
    return [Ignored(o, tuple(dict.fromkeys(w))) for o, w in out.items()]


def _stored_extra(manifest: Manifest, store: ValueStore) -> list[StoredExtra]:
    out = []
    for v in store.values:
        if v.source != "aws" or not manifest.has(v.name):
            continue
        text = v.value.get_secret_value()
        stripped = text.strip()
        if text != stripped:
            what = "a trailing newline" if text.endswith("\n") else "leading or trailing whitespace"
            out.append(StoredExtra(v.name, v.origin, what, len(text), len(stripped)))
        elif len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
            out.append(StoredExtra(v.name, v.origin, "surrounding quotes", len(text), len(text) - 2))
    return out


def judge(facts: ReadingFacts) -> list[CheckResult]:
    """Pure: one result per finding; evidence holds names, places, readers and lengths, never a value."""
    out = []
    for c in facts.cuts:
        out.append(result(
            "secrets.reader_cut", SUBSYSTEM, Status.FAIL,
            f"{c.name} at {c.origin}: {c.reader} ends the unquoted value at '#': {c.read} of {c.written} characters",
            target=c.name, evidence={"origin": c.origin, "reader": c.reader, "services": ", ".join(c.services),
                                     "written_length": c.written, "read_length": c.read},
            remediation=f"Quote the value in {c.origin.rsplit(':', 1)[0]} ({c.name}=\"...\"), or store it without "
                        "'#'; dotenv treats an unquoted '#' as the start of a comment."))
    for d in facts.divergences:
        how = "; ".join(f"{s} ({r}) reads {n} characters" for s, r, n in d.readings)
        out.append(result(
            "secrets.reader_divergence", SUBSYSTEM, Status.FAIL,
            f"{d.name} at {d.origin} is read differently: {how}",
            target=d.name, evidence={"origin": d.origin, "readers": how},
            remediation="Write the line so every reader agrees: quote the value with double quotes and avoid "
                        "'#', backticks and backslash escapes, or give each service its own labelled env file."))
    for dup in facts.duplicates:
        out.append(result(
            "secrets.duplicate", SUBSYSTEM, Status.WARN,
            f"{dup.name} is set {len(dup.places)} times ({', '.join(dup.places)}); "
            f"{', '.join(dup.services)} take{'s' if len(dup.services) == 1 else ''} {dup.taken}",
            target=dup.name, evidence={"places": ", ".join(dup.places), "taken": dup.taken,
                                       "services": ", ".join(dup.services)},
            remediation=f"Keep one definition of {dup.name} and delete the others."))
    for nm in facts.near_misses:
        out.append(result(
            "secrets.near_miss", SUBSYSTEM, Status.WARN,
            f"{nm.name} at {nm.origin} is not in the manifest; did you mean {nm.manifest_name}?",
            target=nm.origin, evidence={"origin": nm.origin, "name": nm.name, "manifest_name": nm.manifest_name},
            remediation=f"Rename {nm.name} to {nm.manifest_name} (names are case-sensitive), or remove it."))
    for ig in facts.ignored:
        out.append(result(
            "secrets.ignored_line", SUBSYSTEM, Status.WARN,
            f"{ig.origin}: line skipped ({'; '.join(ig.why)})",
            target=ig.origin, evidence={"origin": ig.origin, "why": "; ".join(ig.why)},
            remediation="Write it as NAME=value (quote values with spaces or '#'), or delete it."))
    for se in facts.stored_extra:
        out.append(result(
            "secrets.stored_extra", SUBSYSTEM, Status.FAIL,
            f"{se.name} from {se.origin} holds {se.what}: the service sees {se.stored} characters, "
            f"{se.meant} without it",
            target=se.name, evidence={"origin": se.origin, "stored_length": se.stored, "meant_length": se.meant},
            remediation=f"Store {se.name} again without {se.what} (aws secretsmanager put-secret-value "
                        "--secret-string with the bare value, not a file that ends in a newline); ECS injects "
                        "the stored value verbatim."))
    return out
