"""Template mode: `check_template` (pure, tables) and `preflight env check-template FILE...` (real CLI)."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest
from pydantic import SecretStr

from filot_preflight.manifest import Manifest
from filot_preflight.models import Status
from filot_preflight.sources import Value
from filot_preflight.template_check import check_template
from tests._cli import run

RNG = random.Random(20241201)  # deterministic "random" secrets: the tests must not flake
REAL_JWT = base64.b64encode(RNG.randbytes(48)).decode()
REAL_PW = "Qm7vT2kLx9RzP4wN"

M = Manifest.model_validate({
    "name": "t", "version": "1",
    "services": [{"name": "backend"}],
    "sections": [{"id": "s", "title": "S"}],
    "variables": [
        {"name": "JWT_SECRET", "section": "s", "description": "d", "secret": True,
         "format": {"kind": "secret", "min_bytes": 48}, "aws_secret": {"id": "filot/prod/jwt-secret"}},
        {"name": "DATABASE_URL", "section": "s", "description": "d", "secret": True,
         "format": {"kind": "url", "schemes": ["postgresql"], "tls_param": "sslmode"},
         "example": "postgresql://app:...@ep-example.neon.tech/filot?sslmode=verify-full"},
        {"name": "API_KEY", "section": "s", "description": "d", "secret": True, "required": False,
         "example": "key-from-dashboard"},
        {"name": "PORT", "section": "s", "description": "d", "format": {"kind": "int", "min": 1, "max": 65535}},
        {"name": "NODE_ENV", "section": "s", "description": "d",
         "format": {"kind": "enum", "values": ["production"]}},
        {"name": "APP_ORIGIN", "section": "s", "description": "d", "format": {"kind": "url", "schemes": ["https"]}},
        {"name": "TEMPORAL_ADDRESS", "section": "s", "description": "d", "required": False,
         "format": {"kind": "hostport"}, "example": "ns.a1b2c.tmprl.cloud:7233"},
    ],
})


def values(**given: str) -> list[Value]:
    """Every manifest variable, empty unless given, one per line (so only `given` can draw a finding)."""
    merged = {v.name: "" for v in M.variables} | given
    return [Value(n, SecretStr(v), "file", f"t.env:{i}") for i, (n, v) in enumerate(merged.items(), 1)]


def judged(name: str, value: str) -> list[tuple[Status, str]]:
    findings = check_template(M, values(**{name: value}))
    for f in findings:  # the value is never quoted, whatever the finding
        assert not (len(value) >= 4 and value in f.message), f
    return [(f.status, f.variable) for f in findings]


# --- secrets: empty or a placeholder, never a value --------------------------------------------------

@pytest.mark.parametrize(("name", "value"), [
    ("JWT_SECRET", ""),
    ("JWT_SECRET", "   "),
    ("JWT_SECRET", "changeme"),
    ("JWT_SECRET", "<jwt-secret>"),
    ("JWT_SECRET", "xxx"),
    ("JWT_SECRET", "xxxxxxxxxxxxxxxx"),
    ("JWT_SECRET", "TODO"),
    ("JWT_SECRET", "${JWT_SECRET}"),
    ("JWT_SECRET", "your-jwt-secret-here"),
    ("JWT_SECRET", "secret"),
    ("API_KEY", "key-from-dashboard"),  # the manifest's own example
    ("DATABASE_URL", "postgresql://app:...@ep-example.neon.tech/filot?sslmode=verify-full"),
    ("DATABASE_URL", "postgresql://<user>:<password>@<host>/filot?sslmode=verify-full"),
    ("DATABASE_URL", "postgresql://app:changeme@ep-cool-name.neon.tech/filot?sslmode=require"),
    ("DATABASE_URL", "postgresql://app:${DB_PASSWORD}@ep-cool-name.neon.tech/filot"),
    ("DATABASE_URL", "postgresql://app:@ep-cool-name.neon.tech/filot"),  # user info, empty password
    ("DATABASE_URL", "${DATABASE_URL}"),
])
def test_secret_placeholders_pass(name, value):
    assert judged(name, value) == []


@pytest.mark.parametrize(("name", "value"), [
    ("JWT_SECRET", REAL_JWT),
    ("JWT_SECRET", "short-but-real-9f8e"),  # weak is still a value: it must not be committed
    ("API_KEY", "sk_live_" + RNG.randbytes(12).hex()),
    # a placeholder host does not excuse a real password, nor a generic word one
    ("DATABASE_URL", f"postgresql://app:{REAL_PW}@ep-xxx.neon.tech/filot?sslmode=require"),
    ("DATABASE_URL", f"postgresql://<user>:{REAL_PW}@<host>/filot"),
    ("DATABASE_URL", "postgresql://app@ep-cool-name.neon.tech/filot"),  # no password: judged whole
])
def test_secret_values_fail(name, value):
    assert judged(name, value) == [(Status.FAIL, name)]


def test_secret_failure_says_what_to_do_without_the_value():
    (f,) = check_template(M, values(JWT_SECRET=REAL_JWT))
    assert f.line == 1 and "empty or a placeholder" in f.message and "filot/prod/jwt-secret" in f.message
    assert "rotate" in f.message and REAL_JWT not in repr(f)
    (f,) = check_template(M, values(DATABASE_URL=f"postgresql://u:{REAL_PW}@h.neon.tech/db"))
    assert "password" in f.message and REAL_PW not in repr(f)


# --- settings: empty or placeholder fine, else the manifest's format rules ---------------------------

@pytest.mark.parametrize(("name", "value", "expected"), [
    ("PORT", "", []),
    ("PORT", "8080", []),
    ("PORT", "<port>", []),
    ("PORT", "TODO", []),
    ("PORT", "http", [Status.FAIL]),
    ("PORT", "70000", [Status.FAIL]),
    ("PORT", " 8080", [Status.FAIL]),  # whitespace is malformed
    ("NODE_ENV", "production", []),
    ("NODE_ENV", "Production", [Status.FAIL]),
    ("NODE_ENV", "staging", [Status.FAIL]),
    ("APP_ORIGIN", "https://app.filot.example.com", []),
    ("APP_ORIGIN", "https://<your-domain>", []),
    ("APP_ORIGIN", "http://app.filot.example.com", [Status.FAIL]),  # tls
    ("APP_ORIGIN", "https://localhost:3000", [Status.FAIL]),  # loopback
    ("APP_ORIGIN", "app.filot.example.com", [Status.FAIL]),
    ("TEMPORAL_ADDRESS", "ns.a1b2c.tmprl.cloud:7233", []),  # the manifest's example
    ("TEMPORAL_ADDRESS", "ns.a1b2c.tmprl.cloud", [Status.FAIL]),
])
def test_settings_are_checked_against_their_format(name, value, expected):
    assert judged(name, value) == [(s, name) for s in expected]


def test_setting_message_drops_the_repeated_name():
    (f,) = check_template(M, values(PORT="http"))
    assert f.message == "is not an integer" and f.variable == "PORT"


# --- the file as a whole -----------------------------------------------------------------------------

def test_every_missing_variable_fails_in_manifest_order_without_a_line():
    findings = check_template(M, [])
    assert [(f.variable, f.status, f.line) for f in findings] == [(v.name, Status.FAIL, None) for v in M.variables]
    assert findings[0].message.endswith("add JWT_SECRET=")


def test_unknown_variables_warn_and_preflight_settings_do_not():
    vals = [*values(), Value("EXTRA", SecretStr("1"), "file", "t.env:40"),
            Value("PREFLIGHT_ALLOW_LOOPBACK", SecretStr("true"), "file", "t.env:41")]
    findings = check_template(M, vals)
    assert [(f.variable, f.status, f.line) for f in findings] == [("EXTRA", Status.WARN, 40)]


def test_a_variable_set_twice_warns_and_every_occurrence_is_judged():
    vals = [*values(), Value("JWT_SECRET", SecretStr(REAL_JWT), "file", "t.env:9")]
    findings = check_template(M, vals)
    assert [(f.status, f.line) for f in findings] == [(Status.WARN, 9), (Status.FAIL, 9)]
    assert "first on line 1" in findings[0].message


def test_findings_are_ordered_by_line_and_missing_ones_come_last():
    vals = [Value("PORT", SecretStr("x"), "file", "t.env:7"), Value("EXTRA", SecretStr(""), "file", "t.env:2")]
    findings = check_template(M, vals)
    assert [f.line for f in findings][:2] == [2, 7] and all(f.line is None for f in findings[2:])
    assert len(findings) == 2 + len(M.variables) - 1


# --- the command ---------------------------------------------------------------------------------------

@pytest.fixture
def template(tmp_path, capsys) -> Path:
    """The FiLot template as `preflight env template` writes it."""
    path = tmp_path / "prod.env.template"
    assert run(capsys, "env", "template", "-o", str(path))[0] == 0
    return path


def test_generated_template_round_trips(capsys, template):
    code, out, err = run(capsys, "env", "check-template", str(template))
    assert code == 0, out + err
    assert out == "preflight: 1 template(s) checked: 0 failed, 0 warning(s): OK\n"


def test_generated_template_round_trips_with_another_manifest(capsys, tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text(M.model_dump_json())
    path = tmp_path / "svc.env.example"
    assert run(capsys, "env", "template", "--manifest", str(manifest), "-o", str(path))[0] == 0
    assert run(capsys, "env", "check-template", "--manifest", str(manifest), str(path))[0] == 0
    # the same file against the FiLot manifest: most variables missing
    code, out, _ = run(capsys, "env", "check-template", str(path))
    assert code == 1 and f"{path}: fail: SESSION_SECRET: missing" in out


def test_a_real_secret_fails_naming_file_line_and_variable_never_the_value(capsys, template):
    lines = template.read_text().splitlines()
    n = lines.index("JWT_SECRET=") + 1
    lines[n - 1] = f"JWT_SECRET={REAL_JWT}"
    template.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "env", "check-template", str(template))
    assert code == 1
    assert out.splitlines()[0].startswith(f"{template}:{n}: fail: JWT_SECRET: ")
    assert out.splitlines()[-1].endswith("1 failed, 0 warning(s): FAILED")
    # not the value, nor any 12-character piece of it
    text = out + err
    assert not any(REAL_JWT[i:i + 12] in text for i in range(len(REAL_JWT) - 11))


def test_several_files_in_one_call(capsys, template, tmp_path):
    bad = tmp_path / "worker.env.example"
    bad.write_text("PORT=http\n")
    code, out, _ = run(capsys, "env", "check-template", str(template), str(bad))
    assert code == 1
    assert f"{bad}:1: fail: PORT: is not an integer" in out.splitlines()
    assert str(template) not in out and "2 template(s) checked" in out


def test_warnings_alone_pass(capsys, template):
    template.write_text(template.read_text() + "UNKNOWN_THING=1\n")
    code, out, _ = run(capsys, "env", "check-template", str(template))
    assert code == 0 and ": warn: UNKNOWN_THING: not in the manifest" in out and "1 warning(s): OK" in out


@pytest.mark.parametrize(("content", "needle"), [
    (None, "cannot read env file"),
    ("PORT=8080\nnot an assignment\n", ":2: malformed line"),
    (b"PORT=\xff\n", "not valid UTF-8"),
])
def test_bad_file_is_one_line_and_exit_2_before_any_finding(capsys, template, tmp_path, content, needle):
    bad = tmp_path / "bad.env.template"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    elif content is not None:
        bad.write_text(content)
    template.write_text("JWT_SECRET=\n")  # many findings, none printed: the bad file stops the run first
    code, out, err = run(capsys, "env", "check-template", str(template), str(bad))
    assert code == 2 and out == ""
    assert err.startswith(f"preflight: error: {bad}") and needle in err and len(err.splitlines()) == 1


def test_no_file_is_a_usage_error(capsys):
    code, _, err = run(capsys, "env", "check-template")
    assert code == 2 and "Missing argument" in err


def test_a_service_template_needs_only_that_services_variables(tmp_path, capsys):
    from filot_preflight import manifest as manifest_mod
    from filot_preflight.template_check import check_template

    m = manifest_mod.load()
    worker_vars = [v for v in m.variables if "gpu-worker" in v.consumers]
    p = tmp_path / ".env.example"
    p.write_text("".join(f"{v.name}=\n" for v in worker_vars))
    from filot_preflight.sources import read_env_file

    values = read_env_file(p)
    assert not [f for f in check_template(m, values, "gpu-worker") if f.status == "fail"]
    missing = [f for f in check_template(m, values) if f.status == "fail"]
    assert missing and all(f.message.startswith("missing:") for f in missing)
    assert {f.variable for f in missing} == {v.name for v in m.variables} - {v.name for v in worker_vars}
    import pytest

    from filot_preflight import cli

    with pytest.raises(SystemExit) as e:
        cli.main(["env", "check-template", "--service", "gpu-worker", str(p)])
    assert e.value.code == 0
    with pytest.raises(SystemExit) as e:
        cli.main(["env", "check-template", "--service", "worker", str(p)])
    assert e.value.code == 2 and "--service worker: unknown service" in capsys.readouterr().err
