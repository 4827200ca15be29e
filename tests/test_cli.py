"""The CLI through its real entry point: exit codes, one-line errors, formats, config, plugins."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from filot_preflight import cli

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv, code=None):
    with pytest.raises(SystemExit) as e:
        cli.main(list(argv))
    out = capsys.readouterr()
    if code is not None:
        assert e.value.code == code, out
    return e.value.code, out.out, out.err


def test_version_and_help(capsys):
    _, out, _ = run(capsys, "--version", code=0)
    assert out.startswith("preflight ")
    _, out, _ = run(capsys, "--help", code=0)
    assert "check" in out and "manifest" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["check", "--bogus"], "No such option: --bogus"),
        (["check", "--format", "yaml"], "--format yaml: unknown format"),
        (["check", "--offline", "--only", "nope"], "--only nope: unknown checker"),
        (["check", "--offline", "--env-file", "/nonexistent.env"], "/nonexistent.env: cannot read env file"),
        (["check", "--offline", "--source", "vault"], "--source vault: unknown source"),
        (["check", "--offline", "--source-dir", "nopath"], "--source-dir nopath: expected SERVICE=PATH"),
        (["check", "--offline", "--timeout", "-1"], "--timeout"),
        (["manifest", "validate", "/nonexistent.yaml"], "cannot read manifest"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    _, out, err = run(capsys, *argv, code=2)
    assert needle in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out


def test_line_the_reader_skips_is_a_warning_not_exit_2(capsys, tmp_path):
    """Both readers load this file (they skip line 2), so it is judged, with the line named."""
    p = tmp_path / "prod.env"
    p.write_text("NODE_ENV=production\nnot an assignment\n")
    code, out, err = run(capsys, "check", "--offline", "--only", "secrets", "--format", "json", "--env-file", str(p))
    assert code == 1 and err == ""
    ignored = [r for r in json.loads(out)["results"] if r["id"] == "secrets.ignored_line"]
    assert [r["target"] for r in ignored] == ["prod.env:2"] and ignored[0]["status"] == "warn"
    assert "not an assignment" not in out


def test_env_file_no_reader_can_load_is_exit_2(capsys, tmp_path):
    p = tmp_path / "prod.env"
    p.write_bytes(b"NODE_ENV=production\nB=\xff\n")
    _, _, err = run(capsys, "check", "--offline", "--env-file", str(p), code=2)
    assert err.strip() == f"preflight: error: {p}:2: not valid UTF-8 (byte 22)"


def test_hash_in_unquoted_secret_fails_as_the_backend_reads_it(capsys, tmp_path):
    """`JWT_SECRET=Ab3#...`: npm dotenv gives the backend 3 characters; the run must not pass it."""
    secret = "Ab3#kQ9xY2mN8pL4vR7tW1zC5bF6hJ0sD3gK8nM2qX7yA9eU4iO1zzq7Lp0Vb3Nc6Xe1"
    p = tmp_path / "prod.env"
    p.write_text(f"JWT_SECRET={secret}\n")
    _, out, _ = run(capsys, "check", "--offline", "--only", "secrets", "--format", "json", "--env-file", str(p),
                    code=1)
    jwt = {r["id"]: r for r in json.loads(out)["results"] if r["target"] == "JWT_SECRET"}
    assert jwt["secrets.weak"]["status"] == "fail" and jwt["secrets.weak"]["evidence"]["length"] == 3
    cut = jwt["secrets.reader_cut"]
    assert cut["status"] == "fail" and cut["evidence"]["written_length"] == len(secret)
    assert cut["evidence"]["read_length"] == 3 and cut["evidence"]["origin"] == "prod.env:1"
    assert secret not in out and secret[4:20] not in out


def test_bad_setting_in_env_file(capsys, tmp_path):
    p = tmp_path / "prod.env"
    p.write_text("PREFLIGHT_TIMEOUT=soon\n")
    _, _, err = run(capsys, "check", "--offline", "--env-file", str(p), code=2)
    assert "PREFLIGHT_TIMEOUT: expected a number of seconds" in err


def test_manifest_validate_and_schema(capsys, tmp_path):
    _, out, _ = run(capsys, "manifest", "validate", code=0)
    assert "valid manifest filot" in out and "24 mapped to Secrets Manager" in out
    bad = tmp_path / "m.yaml"
    bad.write_text("name: x\nversion: 1\nservices: []\nsections: []\nvariables: [{name: A}]\n")
    _, _, err = run(capsys, "manifest", "validate", str(bad), code=2)
    assert "variables.0.section: Field required" in err
    _, out, _ = run(capsys, "manifest", "schema", code=0)
    assert json.loads(out)["title"] == "filot-preflight manifest"


def test_offline_check_of_example_env_is_not_ready_with_json(capsys):
    code, out, _ = run(capsys, "check", "--offline", "--env-file", str(ROOT / "manifests/example.prod.env"),
                       "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["ready"] is False
    failing = {(r["id"], r["target"]) for r in data["results"] if r["status"] == "fail"}
    assert ("secrets.missing", "JWT_SECRET") in failing
    assert all(r["subsystem"] not in ("redis", "postgres") for r in data["results"])  # offline: no probes


def test_config_file_and_waivers(capsys, tmp_path, monkeypatch):
    env = tmp_path / "prod.env"
    env.write_text("NODE_ENV=development\n")
    (tmp_path / "preflight.toml").write_text(
        f'env_files = ["{env}"]\n'
        '[[waivers]]\nid = "secrets.malformed"\ntarget = "NODE_ENV"\nreason = "staging run"\nexpires = 2999-01-01\n'
        '[[waivers]]\nid = "secrets.missing"\ntarget = "JWT_SECRET"\nreason = "old"\nexpires = 2000-01-01\n'
    )
    monkeypatch.chdir(tmp_path)
    _, out, _ = run(capsys, "check", "--offline", "--only", "secrets", "--format", "json")
    results = json.loads(out)["results"]
    node = [r for r in results if r["target"] == "NODE_ENV"]
    assert node and all(r["status"] == "waived" and r["waiver"] == "staging run" for r in node)
    assert any(r["id"] == "waiver.expired" and r["status"] == "fail" for r in results)
    (tmp_path / "preflight.toml").write_text("timeout = true\n")
    _, _, err = run(capsys, "check", "--offline", code=2)
    assert "preflight.toml: timeout: wrong type bool" in err


def test_example_plugin_installs_and_runs(tmp_path):
    """A third-party checker registers through the same entry-point group as the built-ins."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target),
         str(ROOT / "examples" / "preflight-plugin-example")],
        check=True, capture_output=True,
    )
    env_file = tmp_path / "freeze.env"
    env_file.write_text("RELEASE_FREEZE_UNTIL=2999-12-31\n")
    import os

    env = {**os.environ, "PYTHONPATH": str(target)}
    listing = subprocess.run([sys.executable, "-m", "filot_preflight", "checkers"], env=env,
                             capture_output=True, text=True, check=True)
    assert "release_freeze" in listing.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "filot_preflight", "check", "--offline", "--only", "release_freeze",
         "--env-file", str(env_file), "--format", "json"],
        env=env, capture_output=True, text=True,
    )
    data = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [(r["id"], r["status"]) for r in data["results"]] == [("release_freeze.active", "fail")]


def test_render_a_saved_run_in_another_format(capsys, tmp_path):
    import xml.etree.ElementTree as ET

    saved = tmp_path / "results.json"
    run(capsys, "check", "--offline", "--env-file", str(ROOT / "manifests/example.prod.env"), "--save", str(saved),
        "--format", "json", code=1)
    _, out, _ = run(capsys, "render", str(saved), "--format", "junit", code=1)
    assert ET.fromstring(out).tag == "testsuites"
    _, _, err = run(capsys, "render", str(tmp_path / "nope.json"), code=2)
    assert "nope.json: cannot read" in err


def test_config_paths_are_relative_to_the_config_file_and_no_flags_switch_off(capsys, tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    (proj / "env").mkdir(parents=True)
    (proj / "env" / "worker.env").write_text("PREFLIGHT_ALLOW_LOOPBACK=true\n")
    (proj / "preflight.toml").write_text('env_files = ["gpu-worker=env/worker.env"]\nstrict = true\n')
    monkeypatch.chdir(tmp_path)
    _, out, _ = run(capsys, "check", "--offline", "--only", "secrets", "--config", str(proj / "preflight.toml"),
                    "--format", "json")
    data = json.loads(out)
    assert data["strict"] is True
    assert any(r["id"] == "policy.relaxations" for r in data["results"])
    _, out, _ = run(capsys, "check", "--offline", "--only", "secrets", "--config", str(proj / "preflight.toml"),
                    "--no-strict", "--no-allow-loopback", "--format", "json")
    data = json.loads(out)
    assert data["strict"] is False
    assert not any(r["id"] == "policy.relaxations" for r in data["results"])


def test_process_env_settings_beat_env_file_settings(capsys, tmp_path, monkeypatch):
    env = tmp_path / "a.env"
    env.write_text("PREFLIGHT_ALLOW_LOOPBACK=true\n")
    monkeypatch.setenv("PREFLIGHT_ALLOW_LOOPBACK", "false")
    _, out, _ = run(capsys, "check", "--offline", "--only", "secrets", "--env-file", str(env), "--format", "json")
    assert not any(r["id"] == "policy.relaxations" for r in json.loads(out)["results"])


def test_manifest_validate_takes_several_files(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [\n")
    code, out, err = run(capsys, "manifest", "validate", str(ROOT / "manifests/filot.yaml"), str(bad))
    assert code == 2 and "valid manifest filot" in out
    assert err.count("\n") == 1 and "bad.yaml" in err


def test_allow_plaintext_auth_is_a_relaxation_from_every_layer(capsys, tmp_path, monkeypatch):
    """The only way to let a probe send a password without TLS; always visible as policy.relaxations."""
    (tmp_path / "preflight.toml").write_text("allow_plaintext_auth = true\n")
    monkeypatch.chdir(tmp_path)
    _, out, _ = run(capsys, "check", "--offline", "--only", "secrets", "--format", "json")
    relaxed = [r for r in json.loads(out)["results"] if r["id"] == "policy.relaxations"]
    assert relaxed and "--allow-plaintext-auth" in relaxed[0]["summary"]
    _, out, _ = run(capsys, "check", "--offline", "--only", "secrets", "--no-allow-plaintext-auth", "--format", "json")
    assert not any(r["id"] == "policy.relaxations" for r in json.loads(out)["results"])
    (tmp_path / "preflight.toml").write_text("")
    monkeypatch.setenv("PREFLIGHT_ALLOW_PLAINTEXT_AUTH", "yes")
    _, out, _ = run(capsys, "check", "--offline", "--only", "secrets", "--format", "json")
    assert any(r["id"] == "policy.relaxations" for r in json.loads(out)["results"])


def test_two_env_files_the_backend_keeps_the_first(capsys, tmp_path):
    """`config({path: [a, b]})`: the first file's rediss:// URL is the backend's; b's redis:// only a duplicate."""
    a, b = tmp_path / "a.env", tmp_path / "b.env"
    a.write_text("REDIS_URL=rediss://default:pw@eu1-example.upstash.io:6379\n")
    b.write_text("REDIS_URL=redis://default:pw@eu1-example.upstash.io:6379\n")
    _, out, _ = run(capsys, "check", "--offline", "--only", "secrets", "--format", "json",
                    "--env-file", str(a), "--env-file", str(b), code=1)
    redis = {r["id"]: r for r in json.loads(out)["results"] if r["target"] == "REDIS_URL"}
    origins = {r["evidence"]["origin"] for i, r in redis.items() if i != "secrets.duplicate"}
    assert "secrets.tls" not in redis and origins == {"a.env:1"}
    assert redis["secrets.duplicate"]["evidence"]["taken"] == "a.env:1"
