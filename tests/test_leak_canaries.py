"""No secret leaves: every secret value is a canary, looked for in everything the tool writes.

The canaries are the sandbox stack's own secret values (random, unique): every manifest secret of the
backend and worker env files, every other value whose name says it is secret (AWS_SECRET_ACCESS_KEY),
the password part of every URL, and the extra values the fault scenarios put in (wrong passwords and
keys, a malformed DSN), each carrying the marker CANARY. Each is looked for as is, URL-encoded (quote and
quote_plus), base64 (standard, unpadded and URL-safe) and hex.

Runs, each a fresh `preflight` process, all with `-v` (logging on stderr):
- `check` against the healthy stack and two fault scenarios (wrong credentials everywhere; unknown CA +
  a malformed `postgresql+psycopg://` DSN + refused connections), in every output format (console, json,
  junit, github with GITHUB_STEP_SUMMARY set, markdown), with `--save` and `--output` files;
  the healthy stack with `--source aws` too (values read from Secrets Manager);
- `report` (every document) for the healthy stack and the wrong-credentials scenario;
- `secrets missing` / `secrets status` (the latter with `--verify`: live checks);
- error paths: env files whose odd line holds a canary (exit 2 when no reader loads the file; judged
  with the line named when dotenv loads it), and plugins, registered through
  the real entry-point group, that crash with secrets in the message or fail to import with one.
Presigned URLs are secrets too: no `X-Amz-Signature=` may be followed by anything but the mask.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import pytest

from filot_preflight import manifest as manifest_mod
from filot_preflight.sandbox import envfiles
from filot_preflight.sandbox.base import LOOPBACK, free_port
from filot_preflight.sandbox.stack import Stack
from tests.fixtures_faults import write_env

ROOT = Path(__file__).resolve().parents[1]
CLEAN_TREES = [f"--source-dir={svc}={ROOT / 'tests' / 'fixtures' / 'trees' / 'clean' / svc}"
               for svc in ("backend", "gpu-worker")]
FORMATS = ("console", "json", "junit", "github", "markdown", "sarif")
SCENARIOS = ("healthy", "wrong_credentials", "unknown_ca_malformed_refused")
PARALLEL = 3
_SECRETISH = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|PRIVATE")


def canary() -> str:
    """A fresh value that is unmistakably ours."""
    return f"CANARY{secrets.token_hex(12)}"


def encodings(value: str) -> set[str]:
    """The forms in which a value can leak."""
    raw = value.encode()
    b64 = base64.b64encode(raw).decode()
    return {value, quote(value, safe=""), quote_plus(value), b64, b64.rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="), raw.hex(), raw.hex().upper()}


@dataclass
class Scenario:
    """Env files to run against and the canaries they hold."""

    backend: dict[str, str]
    worker: dict[str, str]
    canaries: set[str] = field(default_factory=set)


def secret_values(env: dict[str, str], secret_names: set[str], declared: set[str]) -> set[str]:
    """Values that must never be shown: manifest secrets, undeclared names that say they are secret
    (AWS_SECRET_ACCESS_KEY; a declared non-secret such as AWS_SECRETS_PREFIX is not), and URL passwords."""
    out = set()
    for name, value in env.items():
        if name in secret_names or (name not in declared and _SECRETISH.search(name)):
            out.add(value)
        if "://" in value:
            password = urlsplit(value).password
            if password:
                out.add(password)
    return {v for v in out if len(v) >= 8}


def _with_password(url: str, password: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, f"{p.username}:{quote(password, safe='')}@{p.hostname}:{p.port}", p.path, p.query, ""))


def scenarios(stack: Stack) -> dict[str, Scenario]:
    """The healthy stack, and two fault scenarios derived from it."""
    backend, worker = stack.env(), envfiles.read(stack.worker_env_file)
    m = manifest_mod.load()
    names, declared = {v.name for v in m.secrets()}, {v.name for v in m.variables}
    base = secret_values(backend, names, declared) | secret_values(worker, names, declared)
    out = {"healthy": Scenario(backend, worker, set(base))}

    wrong = {k: canary() for k in ("redis", "pg", "r2", "buli2", "temporal")}
    b = {**backend, "REDIS_URL": _with_password(backend["REDIS_URL"], wrong["redis"]),
         "DATABASE_URL": _with_password(backend["DATABASE_URL"], wrong["pg"]),
         "CF_R2_SECRET_ACCESS_KEY": wrong["r2"], "BULI2_API_KEY": wrong["buli2"], "TEMPORAL_API_KEY": wrong["temporal"]}
    w = {**worker, "REDIS_URL": b["REDIS_URL"], "CF_R2_SECRET_ACCESS_KEY": wrong["r2"]}
    out["wrong_credentials"] = Scenario(b, w, base | set(wrong.values()))

    pw = canary()
    db = urlsplit(backend["DATABASE_URL"])
    malformed = f"postgresql+psycopg://{db.username}:{pw}@{db.hostname}:{db.port}/filot"
    closed = f"{LOOPBACK}:{free_port()}"
    no_ca = ("PREFLIGHT_CA_FILE", "REDIS_TLS_CA_FILE", "AWS_CA_BUNDLE")
    b = {k: v for k, v in backend.items() if k not in no_ca}
    b |= {"DATABASE_URL": malformed, "BULI2_API_URL": f"https://{closed}", "API_BASE_URL": f"https://{closed}"}
    w = {k: v for k, v in worker.items() if k not in no_ca} | {"API_BASE_URL": f"https://{closed}"}
    out["unknown_ca_malformed_refused"] = Scenario(b, w, base | {pw, malformed})
    return out


# --- the runs -------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One `preflight` invocation: its arguments, exit code, output, and every file it wrote."""

    name: str
    argv: list[str]
    canaries: set[str]
    code: int = -1
    stdout: str = ""
    stderr: str = ""
    files: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def texts(self) -> dict[str, str]:
        return {"stdout": self.stdout, "stderr": self.stderr, **self.files}


CHECK_RUNS = [f"check-{s}-{f}" for s in SCENARIOS for f in FORMATS]
OTHER_RUNS = ["check-healthy-source-aws", "report-healthy", "report-wrong_credentials", "secrets-missing",
              "secrets-status-verify", "bad-env-file-quote", "bad-env-file-name", "bad-env-file-encoding",
              "plugin-crash"]
ALL_RUNS = CHECK_RUNS + OTHER_RUNS


def _base_env() -> dict[str, str]:
    names = {v.name for v in manifest_mod.load().variables}
    return {k: v for k, v in os.environ.items()
            if k not in names and not k.startswith(("AWS_", "PREFLIGHT_", "GITHUB_"))}


def _plugin(folder: Path) -> Path:
    """Two third-party checkers on the entry-point group: one crashes quoting secrets, one fails to import."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leaky_plugin.py").write_text(textwrap.dedent('''
        import base64
        from urllib.parse import quote

        from filot_preflight.checkers.base import Checker


        class Leaky(Checker):
            name = subsystem = "leaky"
            description = "crashes with secrets in its message, as careless drivers do"
            needs = ("JWT_SECRET", "DATABASE_URL")
            network = False

            async def run(self, ctx):
                key = ctx.value("JWT_SECRET") or ""
                raise RuntimeError(
                    f"cannot connect to {ctx.value('DATABASE_URL')} with key={key}, "
                    f"b64={base64.b64encode(key.encode()).decode()} hex={key.encode().hex()} url={quote(key, safe='')}"
                )
    '''))
    (folder / "leaky_import.py").write_text(textwrap.dedent('''
        import os

        raise ValueError(f"misconfigured: JWT_SECRET={os.environ.get('JWT_SECRET')} is not accepted here")
    '''))
    info = folder / "leaky_plugin-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: leaky-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[filot_preflight.checkers]\nleaky = leaky_plugin:Leaky\nleaky_import = leaky_import:Anything\n"
    )
    return folder


def moto_secret_values(env: dict[str, str]) -> set[str]:
    """The values of the manifest's secrets as stored in the sandbox's Secrets Manager (read back from moto;
    the same secret may hold non-secret settings as other JSON keys: those are not canaries)."""
    import boto3

    sm = boto3.client("secretsmanager", region_name=env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL"],
                      verify=env["AWS_CA_BUNDLE"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    prefix = env.get("AWS_SECRETS_PREFIX", "")
    out: set[str] = set()
    for var in manifest_mod.load().secrets():
        if var.aws_secret is None:
            continue
        sid = var.aws_secret.id if var.aws_secret.id.startswith(prefix) else prefix + var.aws_secret.id
        try:
            text = sm.get_secret_value(SecretId=sid).get("SecretString") or ""
        except sm.exceptions.ResourceNotFoundException:
            text = sm.get_secret_value(SecretId=var.aws_secret.id).get("SecretString") or ""
        value = json.loads(text).get(var.aws_secret.key) if var.aws_secret.key else text
        if isinstance(value, str):
            out.add(value)
    return {v for v in out if len(v) >= 8}


def plan(stack: Stack, root: Path) -> list[Run]:
    """Every run, with its own output folder; env files live apart from outputs (they hold the canaries)."""
    inputs = root / "inputs"
    inputs.mkdir()
    sc = scenarios(stack)
    env_args: dict[str, list[str]] = {}
    for name, s in sc.items():
        b = write_env(inputs / f"{name}.env", s.backend)
        w = write_env(inputs / f"{name}-worker.env", s.worker)
        env_args[name] = ["--env-file", str(b), "--env-file", f"gpu-worker={w}"]
    runs = []
    for name in ALL_RUNS:
        out = root / name
        out.mkdir()
        scen = next((s for s in SCENARIOS if f"-{s}" in name), "healthy")
        run = Run(name, [], set(sc[scen].canaries))
        # --timeout is the whole check's budget; no run here waits for it (nothing is silent), so it can be
        # generous: on a busy machine (load 25 on 2 cores: healthy runs of 22-25 s) a starved probe must not
        # change the paths taken. A run that audits no code is not fully checked, so never a release READY.
        # --send-signed-callback: safe against the sandbox stand-in, and else buli2 is only partly checked.
        live = [*env_args[scen], "--timeout", "60", "-v", "--send-signed-callback", *CLEAN_TREES]
        if name in CHECK_RUNS:
            fmt = name.rsplit("-", 1)[1]
            run.argv = ["check", *live, "--format", fmt, "--save", str(out / "saved.json")]
            if fmt == "github":
                run.env["GITHUB_STEP_SUMMARY"] = str(out / "step-summary.md")
            if fmt in ("markdown", "junit"):  # into a file (stdout then carries nothing, stderr the verdict)
                run.argv += ["--output", str(out / f"report.{fmt}")]
        elif name == "check-healthy-source-aws":
            run.argv = ["check", *live, "--source", "env", "--source", "aws", "--format", "json"]
            run.canaries |= moto_secret_values(sc["healthy"].backend)
        elif name.startswith("report-"):
            run.argv = ["report", *live, "--output", str(out / "docs")]
        elif name == "secrets-missing":
            run.argv = ["secrets", "missing", *env_args["healthy"], "--output", str(out / "missing.txt")]
        elif name == "secrets-status-verify":
            run.argv = ["secrets", "status", *env_args["healthy"], "--verify", "--allow-loopback",
                        "--output", str(out / "status.json")]
        elif name.startswith("bad-env-file"):
            c = canary()
            run.canaries.add(c)
            line = {"quote": f'JWT_SECRET="{c}', "name": f"1JWT_SECRET={c}"}.get(name.rsplit("-", 1)[1])
            bad = inputs / f"{name}.env"
            body = f"NODE_ENV=production\n{line}\n".encode() if line else f"JWT_SECRET={c}\xff\n".encode("latin-1")
            bad.write_bytes(body)
            run.argv = ["check", "--offline", "-v", "--env-file", str(bad)]
        elif name == "plugin-crash":
            run.argv = ["check", *env_args["healthy"], "-v", "--format", "json", "--only", "leaky",
                        "--only", "secrets"]
            run.env["PYTHONPATH"] = str(_plugin(root / "plugin"))
            run.env["JWT_SECRET"] = sc["healthy"].backend["JWT_SECRET"]
        runs.append(run)
    return runs


def execute(run: Run, root: Path) -> Run:
    env = {**_base_env(), **run.env}
    if "PYTHONPATH" in run.env:
        env["PYTHONPATH"] = os.pathsep.join([run.env["PYTHONPATH"], str(ROOT)])
    proc = subprocess.run([sys.executable, "-m", "filot_preflight", *run.argv], capture_output=True, text=True,
                          env=env, cwd=root / run.name, timeout=120)
    run.code, run.stdout, run.stderr = proc.returncode, proc.stdout, proc.stderr
    for p in sorted((root / run.name).rglob("*")):
        if p.is_file():
            run.files[str(p.relative_to(root / run.name))] = p.read_text(errors="replace")
    return run


@pytest.fixture(scope="module")
def runs(sandbox_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every run, PARALLEL at a time."""
    root = tmp_path_factory.mktemp("leaks")
    todo = plan(sandbox_stack, root)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        done = list(pool.map(lambda r: execute(r, root), todo))
    return {r.name: r for r in done}


# --- the assertions ------------------------------------------------------------------------------------


def find_leaks(texts: dict[str, str], canaries: set[str]) -> list[str]:
    """(where, which form of which canary) for every canary found in any text."""
    forms = {form: c for c in canaries for form in encodings(c) if len(form) >= 8}
    pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))
    found = []
    for where, text in texts.items():
        for m in pattern.finditer(text):
            c = forms[m.group(0)]
            found.append(f"{where}: {'the value' if m.group(0) == c else 'an encoding'} of a canary "
                         f"({c[:4]}...{len(c)} chars) at {m.start()}: ...{text[max(0, m.start() - 40):m.start()]}")
    return found


_SIGNATURE = re.compile(r"(?i)X-Amz-Signature(?:=|%3D)(?!\*\*\*)[^&\s\"'<>]")


@pytest.mark.parametrize("name", ALL_RUNS)
def test_no_canary_in_any_output(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.canaries
    leaks = find_leaks(run.texts(), run.canaries)
    assert not leaks, "\n".join(leaks[:10])
    bare = [where for where, text in run.texts().items() if _SIGNATURE.search(text)]
    assert not bare, f"an unmasked presigned-URL signature in {bare}"
    assert "Traceback" not in run.stderr, run.stderr[-2000:]


def _results(run: Run) -> dict[str, list[str]]:
    text = run.stdout if run.stdout.lstrip().startswith("{") else run.files["saved.json"]
    out: dict[str, list[str]] = {}
    for r in json.loads(text)["results"]:
        out.setdefault(r["id"], []).append(r["status"])
    return out


CONTROLS: dict[str, Callable[[Run], None]] = {}


def control(name: str) -> Callable[[Callable[[Run], None]], Callable[[Run], None]]:
    def wrap(fn: Callable[[Run], None]) -> Callable[[Run], None]:
        CONTROLS[name] = fn
        return fn
    return wrap


@control("check-healthy-json")
def _healthy(run: Run) -> None:
    res = _results(run)
    assert run.code == 0, run.stderr
    assert res["r2.canary_put"] == ["pass"] and res["r2.canary_get"] == ["pass"]  # presigned URLs were minted
    assert "preflight: read" in run.stderr  # -v logging was on


@control("check-wrong_credentials-json")
def _wrong(run: Run) -> None:
    res = _results(run)
    assert run.code == 1
    assert {"redis.auth", "postgres.auth", "r2.secret_key", "temporal.auth", "buli2.api_key"} <= set(res)


@control("check-unknown_ca_malformed_refused-json")
def _unknown_ca(run: Run) -> None:
    res = _results(run)
    assert run.code == 1
    assert "redis.cert_unknown_ca" in res and "r2.tls" in res and "buli2.api_key" in res
    assert res["postgres.dsn"] == ["fail"] or any(k.startswith("postgres.") and "fail" in v for k, v in res.items())


@control("check-healthy-github")
def _github(run: Run) -> None:
    assert run.files.get("step-summary.md"), "GITHUB_STEP_SUMMARY was not written"


@control("check-healthy-source-aws")
def _aws(run: Run) -> None:
    assert run.code == 0 and "from AWS Secrets Manager" in run.stderr, run.stderr


@control("report-wrong_credentials")
def _report(run: Run) -> None:
    docs = {f: t for f, t in run.files.items() if f.startswith("docs/")}
    assert run.code == 1 and len(docs) >= 5, run.stderr  # report exits with the run's code (wrong credentials: 1)
    assert any("redis.auth" in t for t in docs.values())  # the failures are in the documents


@control("secrets-status-verify")
def _status(run: Run) -> None:
    assert run.code == 0 and json.loads(run.files["status.json"])["secrets"]


@control("plugin-crash")
def _plugin_ran(run: Run) -> None:
    res = _results(run)
    assert res.get("leaky.crashed") == ["error"], res
    assert res.get("plugin.leaky_import") == ["error"], res


def _bad_env(run: Run) -> None:
    assert run.code == 2 and re.search(r"bad-env-file-\w+\.env:\d+: ", run.stderr), run.stderr


def _tolerated_env(run: Run) -> None:
    """dotenv loads these files (an unterminated quote, a name starting with a digit): judged, line named."""
    assert run.code == 1 and re.search(r"bad-env-file-\w+\.env:2", run.stdout), run.stdout[-2000:]


CONTROLS["bad-env-file-encoding"] = _bad_env
for _n in ("bad-env-file-quote", "bad-env-file-name"):
    CONTROLS[_n] = _tolerated_env


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_the_runs_took_the_paths_they_are_meant_to(runs: dict[str, Run], name: str) -> None:
    """Controls: a leak test is only as good as the paths it exercised."""
    CONTROLS[name](runs[name])


def test_the_detector_finds_every_form_of_a_canary() -> None:
    """The search itself is tested: each planted form of a canary is found, ordinary text is not."""
    c = canary()
    for form in encodings(c):
        assert find_leaks({"x": f"before {form} after"}, {c}), form
    assert not find_leaks({"x": "nothing to see, CANARY without its tail"}, {c})
    assert _SIGNATURE.search("https://h/b/k?X-Amz-Signature=abc123") and not _SIGNATURE.search("X-Amz-Signature=***")


def test_canaries_cover_every_kind_of_secret(sandbox_stack: Stack) -> None:
    """Manifest secrets of both env files, undeclared secret-looking names, and URL passwords are canaries."""
    healthy = scenarios(sandbox_stack)["healthy"]
    env = healthy.backend
    expected = {env["JWT_SECRET"], env["CF_R2_SECRET_ACCESS_KEY"], env["AWS_SECRET_ACCESS_KEY"], env["REDIS_URL"],
                urlsplit(env["REDIS_URL"]).password, urlsplit(env["DATABASE_URL"]).password,
                urlsplit(env["DATABASE_URL_DIRECT"]).password, healthy.worker["SERVICE_INTERNAL_KEY"]}
    assert expected <= healthy.canaries
    assert env["AWS_SECRETS_PREFIX"] not in healthy.canaries  # a declared, non-secret setting
    stored = moto_secret_values(env)  # what `--source aws` reads: the same values, all canaries already
    assert len(stored) >= 10 and stored <= healthy.canaries


def test_redactor_masks_hex_dumps_of_a_secret() -> None:
    """Regression: a plugin error quoting `key.hex()` leaked the key (the Redactor knew base64 and URL forms only)."""
    from filot_preflight.redact import Redactor

    c = canary()
    text = Redactor([c]).redact(f"key {c.encode().hex()} / {c.encode().hex().upper()}")
    assert c.encode().hex() not in text and c.encode().hex().upper() not in text and text.count("***") == 2
