"""Fill the moto stand-in like production AWS: every manifest secret in Secrets Manager, and ECS task
definitions that reference each secret by ARN (`secrets[].valueFrom`), never in plain `environment`.

The task definitions are also written to DIR/taskdefs/<family>.json, as a deployment repo keeps them.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from filot_preflight.manifest import Manifest, Service
from filot_preflight.sandbox import envfiles


def seed_aws(folder: Path, manifest: Manifest) -> dict[str, Any]:
    """Store the secrets of DIR/sandbox.env in moto, register both task definitions and their services.

    Returns {"secrets": {id: arn}, "taskdefs": [paths]}. Needs a running sandbox with moto.
    """
    backend = envfiles.read(folder / envfiles.BACKEND_FILE)
    worker = envfiles.read(folder / envfiles.WORKER_FILE)
    values = {**worker, **backend}
    session = _session(backend)
    sm = session.client("secretsmanager", **_client_args(backend))
    arns = _store_secrets(sm, manifest, values)
    ecs = session.client("ecs", **_client_args(backend))
    iam = session.client("iam", **_client_args(backend))
    cluster = backend.get("ECS_CLUSTER", "filot-sandbox")
    ecs.create_cluster(clusterName=cluster)
    out = folder / "taskdefs"
    out.mkdir(exist_ok=True)
    paths = []
    for service in manifest.services:
        if not service.ecs_family:
            continue
        view = backend if service.name == "backend" else {**backend, **worker}
        taskdef = task_definition(manifest, service, view, arns)
        path = out / f"{service.ecs_family}.json"
        path.write_text(json.dumps(taskdef, indent=2) + "\n")
        paths.append(path)
        grant_execution_role(iam, taskdef)
        registered = ecs.register_task_definition(**taskdef)["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(cluster=cluster, serviceName=service.ecs_family, taskDefinition=registered, desiredCount=1)
    from filot_preflight.sandbox.aws_deploy import seed_deployment  # the post-deployment view (issue 19)

    deployed = seed_deployment(session, _client_args(backend), manifest, cluster)
    return {"secrets": arns, "taskdefs": paths, "deployment": deployed}


def grant_execution_role(iam: Any, taskdef: dict[str, Any]) -> None:
    """Create the task's execution role, allowed GetSecretValue on exactly the secrets it references (ECS's rule)."""
    role = taskdef["executionRoleArn"].rsplit("/", 1)[-1]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    # The secret's own ARN: valueFrom may add :json-key:version-stage:version-id after it.
    arns = sorted({":".join(s["valueFrom"].split(":")[:7]) for c in taskdef["containerDefinitions"]
                   for s in c.get("secrets", [])})
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": arns}]}
    if arns:
        iam.put_role_policy(RoleName=role, PolicyName="read-secrets", PolicyDocument=json.dumps(policy))


def warm(env: dict[str, str]) -> None:
    """Make moto load its ECS and Secrets Manager backends now (its first ECS call takes ~1 s).

    Called right after moto starts, while the slower servers are still starting.
    """
    session = _session(env)
    session.client("ecs", **_client_args(env)).list_clusters()
    session.client("secretsmanager", **_client_args(env)).list_secrets()


def task_definition(
    manifest: Manifest, service: Service, values: dict[str, str], arns: dict[str, str]
) -> dict[str, Any]:
    """The register-task-definition input for `service`: secrets by ARN, the rest as environment."""
    environment, secret_refs = [], []
    for var in manifest.consumed_by(service.name):
        if var.name not in values:
            continue
        if var.aws_secret is not None and var.aws_secret.id in arns:
            arn = arns[var.aws_secret.id]
            # ECS syntax for one key of a JSON secret: <arn>:<json-key>:<version-stage>:<version-id>
            value_from = f"{arn}:{var.aws_secret.key}::" if var.aws_secret.key else arn
            secret_refs.append({"name": var.name, "valueFrom": value_from})
        elif not var.secret:
            environment.append({"name": var.name, "value": values[var.name]})
        # A secret with no Secrets Manager home is left out: it must never sit in plain environment.
    account, region = values.get("AWS_ACCOUNT_ID", ""), values.get("AWS_REGION", "")
    family = service.ecs_family or service.name
    return {
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1024",
        "memory": "2048",
        "executionRoleArn": f"arn:aws:iam::{account}:role/{family}-execution",
        "containerDefinitions": [
            {
                "name": service.name,
                "image": f"{account}.dkr.ecr.{region}.amazonaws.com/{family}:sandbox",
                "essential": True,
                "environment": environment,
                "secrets": secret_refs,
            }
        ],
    }


def _store_secrets(sm: Any, manifest: Manifest, values: dict[str, str]) -> dict[str, str]:
    """Create (or update) one secret per aws_secret id; JSON secrets hold their keys together."""
    plain: dict[str, str] = {}
    grouped: dict[str, dict[str, str]] = defaultdict(dict)
    for var in manifest.variables:
        ref = var.aws_secret
        if ref is None or var.name not in values:
            continue
        if ref.key:
            grouped[ref.id][ref.key] = values[var.name]
        else:
            plain[ref.id] = values[var.name]

    def store(secret_id: str, body: str) -> tuple[str, str]:
        try:
            return secret_id, sm.create_secret(Name=secret_id, SecretString=body)["ARN"]
        except sm.exceptions.ResourceExistsException:
            return secret_id, sm.put_secret_value(SecretId=secret_id, SecretString=body)["ARN"]

    bodies = {**plain, **{k: json.dumps(v) for k, v in grouped.items()}}
    # Concurrent: ~20 round trips one after another add half a second to every `sandbox up`.
    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(lambda item: store(*item), bodies.items()))


def _session(env: dict[str, str]) -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )


def _client_args(env: dict[str, str]) -> dict[str, Any]:
    from botocore.config import Config

    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "verify": env.get("AWS_CA_BUNDLE") or True,
        "config": Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}),
    }
