"""The document commands through the real CLI: report, secrets missing/status/generate, env template.

The canary test fills every secret with a unique value (valid, malformed, reused, inside URLs) and
checks that no document, and nothing on stdout/stderr, contains any of them.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest

from filot_preflight import manifest as manifest_mod
from filot_preflight.documents import DOCUMENT_NAMES
from tests._cli import run


@pytest.fixture
def canary_env(tmp_path, monkeypatch) -> tuple[Path, list[str]]:
    """An env file whose every secret holds a unique canary; returns it and the canaries to look for."""
    for v in manifest_mod.load().variables:  # nothing from the developer's own environment
        monkeypatch.delenv(v.name, raising=False)
    m = manifest_mod.load()
    values: dict[str, str] = {}
    canaries: list[str] = []
    for v in m.secrets():
        c = secrets.token_hex(24)
        canaries.append(c)
        values[v.name] = c
    pw_db, pw_redis = secrets.token_hex(16), secrets.token_hex(16)
    canaries += [pw_db, pw_redis]
    values["DATABASE_URL"] = f"postgresql://app:{pw_db}@db.example.com/app?sslmode=prefer"
    values["REDIS_URL"] = f"redis://default:{pw_redis}@localhost:6379"  # no TLS, loopback: failures quoting it
    canaries += [values["DATABASE_URL"], values["REDIS_URL"]]
    values["CSRF_SECRET"] = values["SESSION_SECRET"]  # reused: the finding names variables, not the value
    values["STACK_SECRET_SERVER_KEY"] = "ssk_test_" + secrets.token_hex(12)  # a test key
    values["CF_R2_ACCESS_KEY_ID"] = secrets.token_hex(16)  # well-formed: only the live r2 check can confirm it
    canaries += [values["STACK_SECRET_SERVER_KEY"], values["CF_R2_ACCESS_KEY_ID"]]
    values.update({"NODE_ENV": "production", "APP_ORIGIN": "https://app.example.com", "OCR_QUEUE_KEY": "q"})
    path = tmp_path / "canary.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path, canaries


def assert_no_canary(texts: dict[str, str], canaries: list[str]) -> None:
    for name, text in texts.items():
        for c in canaries:
            assert c not in text, f"a secret value leaked into {name}"


def test_report_offline_writes_every_document_without_any_value(capsys, tmp_path, canary_env):
    env, canaries = canary_env
    out = tmp_path / "docs"
    code, stdout, stderr = run(capsys, "report", "--offline", "-e", str(env), "-o", str(out))
    assert code == 1, stderr  # the run's own exit code: an --offline run is never a release READY
    docs = {p.name: p.read_text() for p in out.iterdir()}
    assert set(docs) == set(DOCUMENT_NAMES)
    assert_no_canary({**docs, "stdout": stdout, "stderr": stderr}, canaries)
    assert "the run was --offline and these checks need network access (redis)" in docs["redis_validation_report.md"]
    secrets_map = json.loads(docs["production_secrets_required.json"])
    by = {s["name"]: s for s in secrets_map["secrets"]}
    assert by["REDIS_URL"]["status"] == "invalid" and by["CSRF_SECRET"]["status"] == "invalid"
    assert by["DATABASE_URL"]["status"] == "invalid"  # sslmode=prefer
    assert by["JWT_SECRET"]["status"] == "invalid"  # 24 random bytes where 48 are required
    assert by["SESSION_SECRET"]["status"] == "invalid"  # reused by CSRF_SECRET
    assert by["CF_R2_ACCESS_KEY_ID"]["status"] == "needs_verification"  # r2 needs network
    assert not list(out.glob(".*.tmp"))


def test_secrets_commands_never_print_values(capsys, tmp_path, canary_env):
    env, canaries = canary_env
    code, out_missing, err1 = run(capsys, "secrets", "missing", "-e", str(env), "-o", "-")
    assert code == 1  # something required is invalid
    assert "INVALID SECRETS" in out_missing and "REDIS_URL" in out_missing
    code, out_status, err2 = run(capsys, "secrets", "status", "-e", str(env), "-o", "-")
    assert code == 0
    json.loads(out_status)
    code, out_env, err3 = run(capsys, "env", "template", "-o", "-")
    assert code == 0
    assert_no_canary({"missing": out_missing, "status": out_status, "env": out_env, "err": err1 + err2 + err3},
                     canaries)


def test_secrets_missing_exit_0_when_nothing_is_missing_or_invalid(capsys, tmp_path, monkeypatch):
    m = manifest_mod.load()
    for v in m.variables:
        monkeypatch.delenv(v.name, raising=False)
    env = tmp_path / "empty.env"
    env.write_text("")
    code, _, err = run(capsys, "secrets", "missing", "-e", str(env), "-o", str(tmp_path / "m.txt"))
    assert code == 1 and "missing" in err
    text = (tmp_path / "m.txt").read_text()
    assert "MISSING REQUIRED SECRETS" in text and "JWT_SECRET" in text and "filot/prod/jwt-secret" in text


def test_env_template_default_name_and_override(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "env", "template")
    assert code == 0 and (tmp_path / "prod.env.template").exists() and "prod.env.template" in err
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "prod.env.template").write_text("{% for v in variables %}{{ v.name }}=\n{% endfor %}")
    code, out, _ = run(capsys, "env", "template", "--templates", str(tpl), "-o", "-")
    assert out.splitlines() == [f"{v.name}=" for v in manifest_mod.load().variables]


def test_report_from_saved_json_with_one_override(capsys, tmp_path, canary_env):
    env, _ = canary_env
    saved = tmp_path / "r.json"
    run(capsys, "check", "--offline", "-e", str(env), "--format", "json", "-o", str(saved))
    plain, over, tpl = tmp_path / "plain", tmp_path / "over", tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "mock_cleanup_report.md").write_text("# Ours\n{{ sub['code'].label }}\n")
    assert run(capsys, "report", "--from", str(saved), "-o", str(plain))[0] == 1  # the saved run's code
    assert run(capsys, "report", "--from", str(saved), "-o", str(over), "--templates", str(tpl))[0] == 1
    changed = {n for n in DOCUMENT_NAMES
               if _strip_time((plain / n).read_text()) != _strip_time((over / n).read_text())}
    assert changed == {"mock_cleanup_report.md"}
    assert (over / "mock_cleanup_report.md").read_text() == "# Ours\nPARTIAL\n"


def _strip_time(text: str) -> str:
    from tests.test_documents import normalise

    return normalise(text)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["secrets", "generate", "NOPE"], "NOPE: not a variable of manifest filot"),
        (["secrets", "generate", "BULI2_API_KEY"], "has no generate recipe"),
        (["secrets", "generate", "JWT_SECRET", "--overwrite"], "--overwrite only applies with --put"),
        (["report", "--from", "/nonexistent.json"], "/nonexistent.json: cannot read"),
        (["report", "--offline", "--templates", "/nonexistent-dir"], "--templates /nonexistent-dir: not a directory"),
        (["diff", "/nonexistent.json", "/nonexistent.json"], "cannot read"),
        (["diff", "a", "b", "--format", "xml"], "--format xml: unknown format"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert out == ""  # in particular: no half of a generated batch was printed


def test_generate_prints_csprng_values_per_recipe(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "secrets", "generate", "JWT_SECRET", "SERVICE_INTERNAL_KEY", "JWT_SECRET")
    assert code == 0 and err == ""
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert list(lines) == ["JWT_SECRET", "SERVICE_INTERNAL_KEY"]  # duplicates once
    assert len(base64.b64decode(lines["JWT_SECRET"], validate=True)) == 48
    assert len(bytes.fromhex(lines["SERVICE_INTERNAL_KEY"])) == 32
    _, again, _ = run(capsys, "secrets", "generate", "JWT_SECRET")
    assert again.split("=", 1)[1].strip() != lines["JWT_SECRET"]
    assert list(tmp_path.iterdir()) == []  # values go to stdout and nowhere else


def test_generated_values_pass_the_secrets_rules():
    from filot_preflight.commands.secrets import new_value
    from filot_preflight.rules import Rule, evaluate

    m = manifest_mod.load()
    for v in m.variables:
        if v.generate is not None:
            findings = evaluate(v, new_value(v.generate), checkers=set())
            assert [f.rule for f in findings] in ([Rule.OK], [Rule.NEEDS_VERIFICATION]), (v.name, findings)


def test_generate_put_stores_without_printing(capsys, moto_aws, scratch_region, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_aws.keys["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_aws.keys["AWS_SECRET_ACCESS_KEY"])
    base = ["secrets", "generate", "--put", "--allow-loopback", "--aws-endpoint", moto_aws.endpoint, "--aws-region", scratch_region,
            "--ca-file", str(moto_aws.ca_file)]
    code, out, err = run(capsys, *base, "BULI2_SIGNATURE_SECRET")
    assert code == 0, err
    sm = moto_aws.client("secretsmanager", scratch_region)
    stored = json.loads(sm.get_secret_value(SecretId="filot/prod/buli2")["SecretString"])["signature_secret"]
    assert len(base64.b64decode(stored)) == 32
    assert stored not in out + err and "created filot/prod/buli2 key signature_secret" in out
    code, out, err = run(capsys, *base, "BULI2_SIGNATURE_SECRET")
    assert code == 2 and "pass --overwrite" in err
    code, out, err = run(capsys, *base, "--overwrite", "BULI2_SIGNATURE_SECRET")
    assert code == 0 and "updated" in out
    newer = json.loads(sm.get_secret_value(SecretId="filot/prod/buli2")["SecretString"])["signature_secret"]
    assert newer != stored and newer not in out + err
