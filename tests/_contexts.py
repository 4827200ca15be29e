"""A CheckContext over given values, with the redactor a real run would have (for live checker tests)."""

from __future__ import annotations

from pydantic import SecretStr

from filot_preflight.checkers.base import CheckContext, Options
from filot_preflight.manifest import Manifest
from filot_preflight.manifest import load as load_manifest
from filot_preflight.redact import Redactor, secret_values
from filot_preflight.sources import Value, ValueStore


def build_context(
    backend: dict[str, str],
    worker: dict[str, str] | None = None,
    *,
    manifest: Manifest | None = None,
    **options: object,
) -> CheckContext:
    """A CheckContext over real values: `backend` unlabelled (shared), `worker` labelled gpu-worker."""
    manifest = manifest or load_manifest()
    store = ValueStore()
    store.add(Value(k, SecretStr(v), "file", f"sandbox.env:{i}") for i, (k, v) in enumerate(backend.items(), 1))
    if worker is not None:
        store.add(
            Value(k, SecretStr(v), "file", f"gpu-worker.env:{i}", "gpu-worker")
            for i, (k, v) in enumerate(worker.items(), 1)
        )
    secret_names = {v.name for v in manifest.secrets()}
    known = {v.name for v in manifest.variables}
    redactor = Redactor(secret_values(store.values, secret_names, known))
    opts = Options(**options)  # type: ignore[arg-type]
    return CheckContext(manifest=manifest, values=store, options=opts, redactor=redactor)
