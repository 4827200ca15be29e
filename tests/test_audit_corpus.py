"""The audits measured on real code: recall and precision per tree of the hand-labelled corpus.

tests/fixtures/corpus holds excerpts of public repositories (origin, commit and licence in each tree's
NOTICE) with labels made by reading the code; bench/audit_corpus.py compares a real scan with them. These
are behaviour figures, not times, so the goals are asserted: reads and drift recall and precision at least
95% on every tree, mock findings at least 90% precise.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_corpus", ROOT / "bench" / "audit_corpus.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["audit_corpus"] = mod
    spec.loader.exec_module(mod)
    return mod


bench = _bench()
TREES = bench.trees()


def test_the_corpus_has_at_least_six_licensed_trees() -> None:
    assert len(TREES) >= 6
    for tree in TREES:
        lab = bench.labels(tree)
        notice = (tree / "NOTICE").read_text(encoding="utf-8")
        assert lab["origin"]["commit"] in notice and lab["origin"]["repo"] in notice
        assert lab["origin"]["licence"].split()[0] in {"MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause"}
        assert (tree / "LICENSE").stat().st_size > 500
        assert "without running filot-preflight" in lab["method"]
        assert lab["reads"], tree.name


@pytest.mark.parametrize("tree", TREES, ids=[t.name for t in TREES])
def test_recall_and_precision_meet_the_goals(tree: Path) -> None:
    s = bench.measure(tree)
    reads, drift, mocks = s["reads"], s["drift"], s["mocks"]
    assert reads.recall >= bench.GOAL_READS, f"missed reads: {reads.missed[:10]}"
    assert reads.precision >= bench.GOAL_READS, f"reads not in the labels: {reads.false[:10]}"
    assert drift.recall >= bench.GOAL_DRIFT, f"missed drift: {drift.missed[:10]}"
    assert drift.precision >= bench.GOAL_DRIFT, f"false drift: {drift.false[:10]}"
    assert mocks.precision >= bench.GOAL_MOCKS, f"false mock findings: {mocks.false[:10]}"
    assert drift.labelled >= 4 and reads.labelled >= 10  # the comparison is not empty


def test_a_missed_read_lowers_recall(tmp_path: Path) -> None:
    """The measure is not vacuous: a labelled read the code does not make is a miss, and drift sees it."""
    import shutil

    import yaml

    tree = tmp_path / "t"
    shutil.copytree(bench.CORPUS / "node-express-boilerplate", tree)
    lab = yaml.safe_load((tree / "labels.yaml").read_text(encoding="utf-8"))
    lab["reads"]["NOT_READ_ANYWHERE"] = ["src/config/config.js:1"]
    (tree / "labels.yaml").write_text(yaml.safe_dump(lab), encoding="utf-8")
    s = bench.measure(tree)
    assert s["reads"].missed == ["NOT_READ_ANYWHERE src/config/config.js:1"]
    assert "unread NOT_READ_ANYWHERE" in s["drift"].false
