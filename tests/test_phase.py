"""`preflight check --phase predeploy|postdeploy|all`: which checkers run, and the checklist of a healthy
`--phase all` run against the sandbox (at most 4 manual items)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from filot_preflight import registry
from filot_preflight.errors import UsageError
from tests._cli import run

ROOT = Path(__file__).resolve().parents[1]

POSTDEPLOY = {"ecs_services", "autoscaling", "alarms", "rotation"}
BOTH = {"backend", "buli2", "gpu_worker"}


def names(phase, only=()):
    return {c.name for c in registry.select(registry.discover(), list(only), [], False, phase)}


def test_each_phase_selects_its_checkers():
    everything = set(registry.discover())
    assert everything >= POSTDEPLOY | BOTH
    assert names("predeploy") == everything - POSTDEPLOY
    assert names("postdeploy") == POSTDEPLOY | BOTH
    assert names("all") == everything
    assert names("predeploy", only=["alarms"]) == {"alarms"}  # --only names win over the phase


def test_an_unknown_phase_is_bad_input(capsys):
    with pytest.raises(UsageError, match="--phase later: unknown phase"):
        registry.select(registry.discover(), [], [], False, "later")
    code, out, err = run(capsys, "check", "--offline", "--phase", "later")
    assert code == 2 and err.strip().startswith("preflight: error: --phase later: unknown phase")


def test_phase_all_against_the_healthy_sandbox_is_ready_with_at_most_4_manual_items(capsys, sandbox_stack, tmp_path):
    saved, docs = tmp_path / "all.json", tmp_path / "docs"
    env = ["--env-file", str(sandbox_stack.env_file), "--env-file", f"gpu-worker={sandbox_stack.worker_env_file}"]
    trees = ROOT / "tests" / "fixtures" / "trees" / "clean"  # a run that audits no code is not fully checked
    env += [f"--source-dir=backend={trees / 'backend'}", f"--source-dir=gpu-worker={trees / 'gpu-worker'}",
            "--send-signed-callback"]  # safe against the sandbox's stand-in; else buli2 is only partly checked
    code, _, _ = run(capsys, "check", *env, "--phase", "all", "--format", "json", "-o", str(saved))
    report = json.loads(saved.read_text())
    bad = [(r["id"], r["target"], r["summary"]) for r in report["results"] if r["status"] in ("fail", "error")]
    assert code == 0 and not bad, bad
    assert report["phase"] == "all"
    assert {r["id"].partition(".")[0] for r in report["results"]} >= POSTDEPLOY
    assert run(capsys, "report", "--from", str(saved), "-o", str(docs))[0] == 0
    checklist = (docs / "T8A_predeployment_checklist.md").read_text()
    manual = [line for line in checklist.splitlines() if "— manual:" in line]
    assert len(manual) <= 4, manual
    for item in ("Deploy the backend API service", "Deploy the GPU worker service", "Configure CloudWatch alarms",
                 "Configure ECS auto-scaling", "Secret rotation policy", "Review CloudWatch metrics",
                 "Verify health endpoints"):
        line = next(x for x in checklist.splitlines() if item in x)
        assert line.startswith("- [x]"), line


def test_the_default_phase_runs_no_postdeploy_checker(capsys, tmp_path):
    saved = tmp_path / "r.json"
    run(capsys, "check", "--offline", "--format", "json", "-o", str(saved))
    report = json.loads(saved.read_text())
    assert report["phase"] == "predeploy"
    assert not {r["id"].partition(".")[0] for r in report["results"]} & POSTDEPLOY
    assert not [r for r in report["results"] if re.match(r"(ecs_services|alarms)\.", r["id"])]


def test_checklist_patterns_can_name_a_target():
    from filot_preflight.checkers.base import result
    from filot_preflight.documents.checklist import Checklist
    from filot_preflight.models import Report, Status

    rep = Report(results=[
        result("ecs_services.count", "aws", Status.PASS, "2/2", target="filot-backend"),
        result("ecs_services.count", "aws", Status.FAIL, "0 of 1", target="filot-gpu-worker", remediation="scale"),
    ])
    cl = Checklist(rep, {})
    assert cl.decide("ecs_services.*@filot-backend").done
    worker = cl.decide("ecs_services.*@filot-gpu-worker")
    assert not worker.done and "0 of 1" in worker.reason and "scale" in worker.reason
    assert not cl.decide("ecs_services.*").done


def test_postdeploy_offline_checks_nothing_so_it_is_bad_input(capsys):
    code, _, err = run(capsys, "check", "--offline", "--phase", "postdeploy")
    assert code == 2 and "every post-deployment check needs the network" in err
