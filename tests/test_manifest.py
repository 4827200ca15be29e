"""The FiLot manifest and the manifest loader's error messages."""

import json
from pathlib import Path

import pytest

from filot_preflight import manifest
from filot_preflight.errors import ManifestError

ROOT = Path(__file__).resolve().parents[1]


def test_filot_manifest_has_what_the_seed_names():
    m = manifest.load()
    names = {v.name for v in m.variables}
    assert len(m.variables) >= 50
    assert sum(1 for v in m.variables if v.aws_secret) == 24
    for n in ["DATABASE_URL", "REDIS_URL", "SESSION_SECRET", "JWT_SECRET", "SERVICE_INTERNAL_KEY",
              "BULI2_API_KEY", "BULI2_SIGNATURE_SECRET", "AWS_ACCOUNT_ID"]:
        assert n in names
    for prefix in ["STACK_", "CF_R2_", "TEMPORAL_"]:
        assert any(n.startswith(prefix) for n in names)
    jwt = m.variable("JWT_SECRET")
    assert jwt.secret and jwt.format.min_bytes == 48 and jwt.aws_secret.id.endswith("jwt-secret")
    ns = m.variable("TEMPORAL_NAMESPACE")
    assert not ns.is_required(set()) and ns.is_required({"TEMPORAL_ADDRESS"})
    assert {"backend", "gpu-worker"} <= set(m.variable("REDIS_URL").consumers)


def test_committed_schema_is_current():
    committed = json.loads((ROOT / "manifests" / "manifest.schema.json").read_text())
    assert committed == manifest.json_schema(), "run: preflight manifest schema -o manifests/manifest.schema.json"


def test_json_manifest_is_accepted(tmp_path):
    import yaml

    data = yaml.safe_load((ROOT / "manifests" / "filot.yaml").read_text())
    p = tmp_path / "m.json"
    p.write_text(json.dumps(data))
    assert manifest.load(p).name == "filot"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", "name: x\n  version: [1\n", r"bad.yaml:\d+:\d+: invalid YAML"),
        ("bad.json", '{"name": "x",\n "version": }', r"bad.json:2:13: invalid JSON"),
        ("list.yaml", "- a\n- b\n", "mapping at the top level"),
        ("dupe.yaml", "name: a\nname: b\n", r"dupe.yaml:2:1: invalid YAML: duplicate key 'name'"),
        ("missing.yaml", "name: a\n", r"missing.yaml: version: Field required \(and \d+ more\)"),
        (
            "field.yaml",
            "name: a\nversion: '1'\nservices: [{name: backend}]\nsections: [{id: s, title: S}]\n"
            "variables:\n  - {name: lower, section: s, description: d}\n",
            r"field.yaml: variables.0.name: String should match pattern",
        ),
        (
            "section.yaml",
            "name: a\nversion: '1'\nservices: [{name: backend}]\nsections: [{id: s, title: S}]\n"
            "variables:\n  - {name: A, section: nope, description: d}\n",
            r"unknown section 'nope'",
        ),
        (
            "kind.yaml",
            "name: a\nversion: '1'\nservices: [{name: backend}]\nsections: [{id: s, title: S}]\n"
            "variables:\n  - {name: A, section: s, description: d, format: {kind: nope}}\n",
            r"variables.0.format: Input tag 'nope'",
        ),
    ],
)
def test_bad_manifest_names_the_place(tmp_path, name, text, message):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ManifestError, match=message):
        manifest.load(p)


def test_unreadable_manifest(tmp_path):
    with pytest.raises(ManifestError, match="cannot read manifest"):
        manifest.load(tmp_path / "nope.yaml")
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ManifestError, match="bin.yaml"):
        manifest.load(p)


def test_huge_manifest_is_refused_quickly(tmp_path):
    p = tmp_path / "huge.yaml"
    p.write_text("a: b\n" * 600_000)
    with pytest.raises(ManifestError, match="huge.yaml: manifest is .* bytes; the limit is"):
        manifest.load(p)
