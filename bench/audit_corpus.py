"""How right are the source audits on real code? Recall and precision per tree of a hand-labelled corpus.

    .venv/bin/python bench/audit_corpus.py [--json]

The corpus is tests/fixtures/corpus/<tree>/: excerpts of public repositories (origin, commit and licence in
each tree's NOTICE and labels.yaml) and labels made by reading the code, not by running this scanner. For
each tree the audit is run as `preflight check` runs it (scan_tree, then env_drift's judge against a small
manifest built from the labels) and compared with the labels:

- reads: (name, file:line) of every env read the code really makes;
- drift: the env_drift findings (undeclared, unread, consumer_missing, consumer_unused, dynamic) against
  the labels' expected_drift;
- mocks: mock_code findings against the labelled mocks (precision is the goal; recall is shown).

Goals (per tree): reads and drift recall and precision >= 95%, mock precision >= 90%.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filot_preflight.audit import make_config, scan_tree  # noqa: E402
from filot_preflight.audit.model import COMMITTED_SECRET, TreeScan  # noqa: E402
from filot_preflight.checkers import env_drift  # noqa: E402
from filot_preflight.manifest import Manifest  # noqa: E402
from filot_preflight.models import Status  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "corpus"
GOAL_READS = GOAL_DRIFT = 0.95
GOAL_MOCKS = 0.90
DRIFT_RULES = ("undeclared", "unread", "consumer_missing", "consumer_unused", "dynamic")
OTHER = "other-service"  # consumes the labels' `elsewhere` variables; never scanned


@dataclass
class Score:
    """Found vs labelled items of one kind; the misses and false alarms are kept to print them."""

    labelled: int
    found: int
    hits: int
    missed: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Share of labelled items found (1.0 when nothing is labelled)."""
        return self.hits / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        """Share of found items that are labelled (1.0 when nothing is found)."""
        return self.hits / self.found if self.found else 1.0


def _score(truth: set[str], found: set[str]) -> Score:
    return Score(len(truth), len(found), len(truth & found), sorted(truth - found), sorted(found - truth))


def trees() -> list[Path]:
    """The corpus trees (folders with a labels.yaml)."""
    return sorted(p.parent for p in CORPUS.glob("*/labels.yaml"))


def labels(tree: Path) -> dict[str, Any]:
    """A tree's labels."""
    data: dict[str, Any] = yaml.safe_load((tree / "labels.yaml").read_text(encoding="utf-8"))
    return data


def manifest_for(lab: dict[str, Any]) -> Manifest:
    """The small manifest of a tree: the labelled names minus `omit`, plus `extra`; `elsewhere` belongs to
    another service only.
    """
    svc, m = lab["service"], lab["manifest"]
    names = (set(lab["reads"]) - set(m["omit"])) | set(m["extra"])
    variables = [{"name": n, "section": "s", "description": "corpus",
                  "consumers": [OTHER] if n in m["elsewhere"] else [svc]} for n in sorted(names)]
    return Manifest.model_validate({
        "name": "corpus", "version": "1", "services": [{"name": svc}, {"name": OTHER}],
        "sections": [{"id": "s", "title": "S"}], "variables": variables,
    })


def _drift_found(scan: TreeScan, manifest: Manifest) -> set[str]:
    results = env_drift.judge(env_drift.DriftFacts((scan,)), manifest)
    rules = {f"{env_drift.NAME}.{r}" for r in DRIFT_RULES}
    out: set[str] = set()
    for r in results:
        if r.id in rules and r.status != Status.PASS:
            # a '+N more' result (the judge caps each rule) carries every target in its evidence
            targets = r.evidence.get("locations", []) if r.target.startswith("+") else [r.target]
            out.update(f"{r.id.split('.', 1)[1]} {t}" for t in targets)
    return out


def _mock_score(lab: dict[str, Any], scan: TreeScan) -> Score:
    # A labelled mock may name several acceptable lines (a multi-line read: the call's line and the literal's).
    accept: dict[tuple[str, str, int], str] = {}
    for m in lab["mocks"]:
        path, line = m["where"].rsplit(":", 1)
        for n in [int(line), *m.get("also", [])]:
            accept[(m["rule"], path, n)] = f"{m['rule']} {m['where']}"
    found = {f"{f.rule} {f.where}": (f.rule, f.path, f.line) for f in scan.findings if f.rule != COMMITTED_SECRET}
    hits = {accept[k] for k in found.values() if k in accept}
    false = sorted(w for w, k in found.items() if k not in accept)
    labelled = {f"{m['rule']} {m['where']}" for m in lab["mocks"]}
    return Score(len(labelled), len(found), len(found) - len(false), sorted(labelled - hits), false)


def measure(tree: Path) -> dict[str, Score]:
    """Scores of one tree: reads, drift, mocks."""
    lab = labels(tree)
    scan = scan_tree(tree, lab["service"], make_config())
    truth_reads = {f"{n} {w}" for n, ws in lab["reads"].items() for w in ws}
    found_reads = {f"{r.name} {r.where}" for r in scan.env_reads if r.name is not None}
    exp = lab["expected_drift"]
    truth_drift = {f"{rule} {t}" for rule in DRIFT_RULES for t in exp.get(rule, [])}
    return {
        "reads": _score(truth_reads, found_reads),
        "drift": _score(truth_drift, _drift_found(scan, manifest_for(lab))),
        "mocks": _mock_score(lab, scan),
    }


def meets_goals(s: dict[str, Score]) -> bool:
    """Whether one tree's scores meet the goals."""
    return (min(s["reads"].recall, s["reads"].precision, s["drift"].recall, s["drift"].precision) >= GOAL_READS
            and s["mocks"].precision >= GOAL_MOCKS)


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def main() -> int:
    """Print the table (or JSON) and one goal line per tree; exit 1 when a goal is missed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the scores as JSON")
    ap.add_argument("--verbose", action="store_true", help="list every miss and false alarm")
    args = ap.parse_args()
    scores = {t.name: measure(t) for t in trees()}
    if args.json:
        print(json.dumps({t: {k: {**asdict(v), "recall": v.recall, "precision": v.precision} for k, v in s.items()}
                          for t, s in scores.items()}, indent=2))
    else:
        print(f"{'tree':26} {'reads':>5} {'recall':>7} {'prec':>7} | {'drift':>5} {'recall':>7} {'prec':>7} | "
              f"{'mocks':>5} {'found':>5} {'prec':>7} {'recall':>7}")
        for t, s in scores.items():
            r, d, m = s["reads"], s["drift"], s["mocks"]
            print(f"{t:26} {r.labelled:5} {_pct(r.recall):>7} {_pct(r.precision):>7} | {d.labelled:5} "
                  f"{_pct(d.recall):>7} {_pct(d.precision):>7} | {m.labelled:5} {m.found:5} {_pct(m.precision):>7} "
                  f"{_pct(m.recall):>7}")
            if args.verbose:
                for kind, sc in s.items():
                    for x in sc.missed:
                        print(f"    {kind} missed: {x}")
                    for x in sc.false:
                        print(f"    {kind} false:  {x}")
    ok = True
    for t, s in scores.items():
        good = meets_goals(s)
        ok &= good
        print(f"goal: {t}: reads and drift recall/precision >= 95%, mock precision >= 90%: "
              f"{'OK' if good else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
