"""ecs_taskdefs with task-definition files (offline) and live by family against the sandbox's moto."""

from __future__ import annotations

import asyncio
import json

import pytest

from filot_preflight.checkers.ecs_taskdefs import EcsTaskDefsChecker, TaskDefFileError, load_files
from filot_preflight.models import Status
from filot_preflight.runner import run_checks
from filot_preflight.sandbox.base import free_port

OTHER_ACCOUNT = "999988887777"


def run(ctx):
    return asyncio.run(run_checks([EcsTaskDefsChecker()], ctx, handle_signals=False)).results


def not_ok(results):
    return [(r.id, r.target, r.summary) for r in results if r.status not in (Status.PASS, Status.SKIP)]


def test_sandbox_taskdef_files_pass_offline_without_any_network(moto_aws, clean_aws_env):
    # A dead endpoint and no credentials: files must not need AWS at all.
    ctx = moto_aws.context(values=moto_aws.values(with_keys=False), task_defs=tuple(moto_aws.taskdefs),
                           offline=True, aws_endpoint=f"https://127.0.0.1:{free_port()}")
    assert len(moto_aws.taskdefs) == 2
    res = run(ctx)
    assert not not_ok(res)
    source = next(r for r in res if r.id == "ecs_taskdefs.source")
    assert source.evidence["mode"] == "files" and source.evidence["calls"] == 0
    accounts = [r for r in res if r.id == "ecs_taskdefs.account"]
    assert [r.status for r in accounts] == [Status.PASS, Status.PASS]
    assert {r.evidence["account"] for r in accounts} == {moto_aws.account}
    assert {r.target for r in res if r.id == "ecs_taskdefs.secrets"} == {"filot-backend/backend",
                                                                         "filot-gpu-worker/gpu-worker"}


def test_live_fetch_by_family(moto_aws):
    res = run(moto_aws.context())
    assert not not_ok(res)
    source = next(r for r in res if r.id == "ecs_taskdefs.source")
    assert source.evidence["mode"] == "live" and source.evidence["calls"] == 2
    assert sorted(source.evidence["families"]) == ["filot-backend", "filot-gpu-worker"]
    # The sandbox's execution roles may read exactly what their task definitions reference (IAM, read from moto).
    access = {r.target: r.status for r in res if r.id == "ecs_taskdefs.secret_access"}
    assert access == {"filot-backend/filot-backend-execution": Status.PASS,
                      "filot-gpu-worker/filot-gpu-worker-execution": Status.PASS}


def test_offline_without_files_skips_with_reason(moto_aws):
    res = run(moto_aws.context(offline=True))
    assert [(r.id, r.status) for r in res] == [("ecs_taskdefs.source", Status.SKIP)]
    assert "--offline" in res[0].summary


def test_aws_not_configured_without_files_skips_with_reason(moto_aws, clean_aws_env):
    res = run(moto_aws.context(values=moto_aws.values(with_keys=False)))
    assert [(r.id, r.status) for r in res] == [("ecs_taskdefs.source", Status.SKIP)]
    assert "no_credentials" in res[0].summary


def test_live_wrong_account_and_missing_family(moto_aws, scratch_region):
    td = json.loads(next(p for p in moto_aws.taskdefs if p.name == "filot-backend.json").read_text())
    td["executionRoleArn"] = td["executionRoleArn"].replace(moto_aws.account, OTHER_ACCOUNT)
    for s in td["containerDefinitions"][0]["secrets"]:
        s["valueFrom"] = s["valueFrom"].replace(f":{moto_aws.account}:", f":{OTHER_ACCOUNT}:")
    moto_aws.client("ecs", scratch_region).register_task_definition(**td)
    res = run(moto_aws.context(aws_region=scratch_region, values=moto_aws.values({"AWS_REGION": scratch_region})))
    (account,) = [r for r in res if r.id == "ecs_taskdefs.account"]
    assert account.status is Status.FAIL and account.target == "filot-backend"
    assert f"references account {OTHER_ACCOUNT}, expected {moto_aws.account}" in account.summary
    assert "executionRoleArn" in account.evidence["in"] and "JWT_SECRET" in account.evidence["in"]
    family = {r.target: r.status for r in res if r.id == "ecs_taskdefs.family"}
    assert family == {"filot-gpu-worker": Status.FAIL}
    # region of the seeded ARNs (eu-central-1) differs from this region: every reference says so
    refs = [r for r in res if r.id == "ecs_taskdefs.secret_ref"]
    assert refs and all(f"expected {scratch_region}" in r.summary for r in refs)


def test_broken_file_gets_each_failure(moto_aws, tmp_path):
    td = json.loads(next(p for p in moto_aws.taskdefs if p.name == "filot-gpu-worker.json").read_text())
    c = td["containerDefinitions"][0]
    c["image"] = c["image"].rsplit(":", 1)[0] + ":latest"
    del td["executionRoleArn"]
    moved = next(s for s in c["secrets"] if s["name"] == "REDIS_URL")
    c["secrets"].remove(moved)
    c["environment"].append({"name": "REDIS_URL", "value": "rediss://default:hunter2hunter2@cache.example:6379"})
    jwt = next(s for s in c["secrets"] if s["name"] == "SERVICE_INTERNAL_KEY")
    jwt["valueFrom"] = jwt["valueFrom"].replace(f":{moto_aws.account}:", f":{OTHER_ACCOUNT}:")
    path = tmp_path / "worker.json"
    path.write_text(json.dumps({"taskDefinition": td}))  # describe-task-definition output shape
    res = run(moto_aws.context(task_defs=(path,), offline=True))
    got = {(r.id, r.status) for r in res}
    assert {("ecs_taskdefs.image", Status.FAIL), ("ecs_taskdefs.execution_role", Status.FAIL),
            ("ecs_taskdefs.plain_env", Status.FAIL), ("ecs_taskdefs.secrets", Status.FAIL),
            ("ecs_taskdefs.account", Status.FAIL)} <= got
    plain = next(r for r in res if r.id == "ecs_taskdefs.plain_env")
    assert plain.evidence["variables"] == ["REDIS_URL"]
    assert "hunter2" not in json.dumps([r.model_dump(mode="json") for r in res])
    family = {r.target: r.status for r in res if r.id == "ecs_taskdefs.family"}
    assert family == {"filot-backend": Status.SKIP}  # no file given for it: said, not failed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{\n  "family": "x",\n  "containerDefinitions": [\n    {"name": "a",}\n  ]\n}\n', r"bad\.json:4:18: invalid JSON"),
        ('{"family": "x"}', r"bad\.json: not an ECS task definition"),
        ('[{"family": "x", "containerDefinitions": []}, 3]', r"bad\.json\[1\]: not an ECS task definition"),
    ],
)
def test_bad_file_is_bad_input_naming_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(TaskDefFileError, match=message) as err:
        load_files([path])
    assert err.value.exit_code == 2


def test_unreadable_file(tmp_path):
    with pytest.raises(TaskDefFileError, match="cannot read task definition"):
        load_files([tmp_path / "missing.json"])


def test_list_and_describe_shapes_are_accepted(tmp_path, moto_aws):
    tds = [json.loads(p.read_text()) for p in moto_aws.taskdefs]
    path = tmp_path / "all.json"
    path.write_text(json.dumps([tds[0], {"taskDefinition": tds[1]}]))
    assert [td["family"] for _, td in load_files([path])] == [tds[0]["family"], tds[1]["family"]]
