"""`sandbox.env` (the backend's view) and `gpu-worker.env` (the worker's view) of the running stack.

Each holds every manifest variable its service consumes that has a value, in manifest order and
grouped by section, plus the PREFLIGHT_* settings the tool reads from env files, so that
`preflight check --env-file DIR/sandbox.env --env-file gpu-worker=DIR/gpu-worker.env` needs no flag.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from filot_preflight.manifest import Manifest

BACKEND_FILE = "sandbox.env"
WORKER_FILE = "gpu-worker.env"
# Not manifest variables: how a client reaches the moto stand-in instead of AWS.
AWS_PLUMBING = (
    "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_EC2_METADATA_DISABLED",
)
_PLAIN = re.compile(r"^[A-Za-z0-9_./:@%+=,?&~*-]*$")


def write(
    folder: Path,
    manifest: Manifest,
    backend: Mapping[str, str],
    worker: Mapping[str, str],
    ca_file: Path,
) -> tuple[Path, Path]:
    """Write both env files (mode 0600: they hold secrets); return their paths."""
    preflight = {"PREFLIGHT_CA_FILE": str(ca_file.resolve()), "PREFLIGHT_ALLOW_LOOPBACK": "true"}
    aws = {k: backend[k] for k in AWS_PLUMBING if k in backend}
    backend_path = folder / BACKEND_FILE
    worker_path = folder / WORKER_FILE
    _write_file(backend_path, manifest, "backend", backend, {**preflight, **aws})
    _write_file(worker_path, manifest, "gpu-worker", {**backend, **worker}, preflight)
    return backend_path, worker_path


def read(path: Path) -> dict[str, str]:
    """Parse an env file written by `write` (KEY=VALUE lines, optional double quotes, # comments)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        values[key.strip()] = value
    return values


def _write_file(
    path: Path, manifest: Manifest, service: str, values: Mapping[str, str], extra: Mapping[str, str]
) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"# {service} view of the local preflight sandbox, written by `preflight sandbox up` at {stamp}.",
        "# Loopback stand-ins and throwaway secrets: never use these values anywhere else.",
    ]
    titles = {s.id: s.title for s in manifest.sections}
    section = None
    for var in manifest.consumed_by(service):
        if var.name not in values:
            continue
        if var.section != section:
            section = var.section
            lines += ["", f"# --- {titles.get(section, section)}"]
        lines.append(f"{var.name}={_quote(values[var.name])}")
    lines += ["", "# --- preflight settings for this sandbox (loopback is an explicit, reported relaxation)"]
    lines += [f"{k}={_quote(v)}" for k, v in extra.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")


def _quote(value: str) -> str:
    # Our values are URL/base64/hex-safe; quote anything else so every dotenv parser reads it alike.
    if _PLAIN.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
