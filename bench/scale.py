"""Scale: a 1,000-secret manifest checked against Secrets Manager (moto's server) in ~50 calls and < 10 s.

    .venv/bin/python bench/scale.py [--secrets 1000]

Builds a manifest with the FiLot manifest's structure (services, sections, checks) whose variables
are N secrets, each at its own Secrets Manager id; starts moto with the sandbox module
(`filot_preflight.sandbox.moto`, HTTPS with the sandbox CA), stores the N secrets, then runs
`preflight check --only aws_secrets`. API calls are counted from moto's own request log (independent
of the checker's counter, which is printed beside it). Peak memory: ru_maxrss of the check process.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from _util import ROOT, Goals, preflight_argv, run

from filot_preflight.sandbox import base, certs, moto

REGION = "eu-central-1"
CALLS_GOAL = 55  # "about 50": ceil(1000 / 20) BatchGetSecretValue calls, a few to spare
SECONDS_GOAL = 10.0
MEMORY_GOAL_MB = 300.0
REQUEST_LINE = re.compile(r'"(GET|POST|PUT|DELETE|HEAD) [^"]*" \d{3}')


def build_manifest(path: Path, n: int) -> list[str]:
    """Write an N-secret manifest shaped like manifests/filot.yaml; return the secret ids."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "manifests" / "filot.yaml").read_text())
    ids = [f"filot/bench/secret-{i:04d}" for i in range(n)]
    data["variables"] = [{
        "name": "AWS_REGION", "section": "aws", "description": "Region of Secrets Manager.",
        "consumers": ["backend", "gpu-worker"],
    }] + [{
        "name": f"BENCH_SECRET_{i:04d}", "section": "security", "description": f"Bench secret {i}.",
        "secret": True, "format": {"kind": "secret", "min_bytes": 32}, "aws_secret": {"id": sid},
        "generate": {"bytes": 32, "encoding": "base64"},
    } for i, sid in enumerate(ids)]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return ids


def seed(endpoint: str, ca: Path, keys: dict[str, str], ids: list[str]) -> None:
    """Store every secret (concurrently: moto answers one request per thread)."""
    import boto3
    from botocore.config import Config

    sm = boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint, verify=str(ca),
                      aws_access_key_id=keys["AWS_ACCESS_KEY_ID"], aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
                      config=Config(max_pool_connections=16))
    value = lambda: base64.b64encode(secrets.token_bytes(32)).decode()  # noqa: E731
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda sid: sm.create_secret(Name=sid, SecretString=value()), ids))


def requests_in(log: Path, offset: int) -> int:
    """HTTP requests moto logged after byte `offset` of its log."""
    with log.open("rb") as f:
        f.seek(offset)
        return sum(1 for line in f.read().decode("utf-8", "replace").splitlines() if REQUEST_LINE.search(line))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--secrets", type=int, default=1000)
    args = ap.parse_args()
    goals = Goals()
    with tempfile.TemporaryDirectory(prefix="preflight-bench-") as tmp:
        d = Path(tmp)
        ids = build_manifest(d / "manifest.yaml", args.secrets)
        ctx = base.SandboxContext(d, certs.make_certs(d / "certs"), {"AWS_REGION": REGION})
        handle = moto.start(ctx)
        try:
            env = handle.env
            t0 = time.perf_counter()
            seed(env["AWS_ENDPOINT_URL"], ctx.certs.ca_pem, env, ids)
            print(f"moto {env['AWS_ENDPOINT_URL']}: stored {len(ids)} secrets in {time.perf_counter() - t0:.1f}s")
            env_file = d / "aws.env"
            # PREFLIGHT_CA_FILE, as in the sandbox's env file: the process may carry its own AWS_CA_BUNDLE.
            env_file.write_text("".join(f"{k}={env[k]}\n" for k in sorted(env))
                                + f"PREFLIGHT_CA_FILE={ctx.certs.ca_pem}\nPREFLIGHT_ALLOW_LOOPBACK=true\n")
            assert handle.log is not None
            offset = handle.log.stat().st_size
            r = run(preflight_argv("check", "--manifest", str(d / "manifest.yaml"), "--env-file", str(env_file),
                                   "--only", "aws_secrets", "--format", "json"),
                    env={"AWS_EC2_METADATA_DISABLED": "true"}, timeout=120)
            time.sleep(0.2)  # moto writes its log line after the response
            calls = requests_in(handle.log, offset)
        finally:
            handle.stop()
    if r.code not in (0, 1) or not r.stdout.startswith("{"):
        print(f"check failed (exit {r.code}): {r.stderr.strip()[:500]}")
        goals.check("the 1,000-secret check runs", f"exit {r.code}", False)
        goals.exit()
    rep = r.json()
    config: dict[str, Any] = next((x for x in rep["results"] if x["id"] == "aws_secrets.config"), {})
    exists: dict[str, Any] = next((x for x in rep["results"] if x["id"] == "aws_secrets.exists"), {})
    why = f" ({config.get('detail', '')[:300]})" if config.get("status") != "pass" else ""
    print(f"aws_secrets.config: {config.get('status')} {config.get('summary')}{why}; "
          f"aws_secrets.exists: {exists.get('status')} {exists.get('summary')}")
    print(f"API calls: {calls} in moto's request log (checker's own count: {config.get('evidence', {}).get('calls')})")
    goals.check(f"{args.secrets} secrets read in about {args.secrets // 20} API calls (<= {CALLS_GOAL})",
                f"{calls} calls", calls <= CALLS_GOAL and config.get("status") == "pass")
    goals.check(f"the {args.secrets}-secret check ends in under {SECONDS_GOAL:g} s", f"{r.seconds:.2f} s wall",
                r.seconds < SECONDS_GOAL)
    goals.check(f"peak memory of the {args.secrets}-secret check under {MEMORY_GOAL_MB:g} MB",
                f"{r.maxrss_mb:.0f} MB (ru_maxrss)", r.maxrss_mb < MEMORY_GOAL_MB)
    goals.exit()


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    main()
