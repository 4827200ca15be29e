"""The CI integration files: the composite GitHub Action (run locally, step by step, as the runner
would), the example GitHub and GitLab workflows, and the pre-commit hooks (parsed, and their commands
run for real)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from filot_preflight import cli

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
GH_WORKFLOW = ROOT / "docs" / "ci" / "github-workflow.yml"
GITLAB = ROOT / "docs" / "ci" / "gitlab-ci.yml"
EXAMPLE_ENV = ROOT / "manifests" / "example.prod.env"
TREES = ROOT / "tests" / "fixtures" / "trees"
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", [ACTION, HOOKS, GH_WORKFLOW, GITLAB], ids=lambda p: p.name)
def test_yaml_files_parse(path):
    assert _load(path), f"{path} is empty"


@pytest.mark.parametrize(("path", "schema"), [(ACTION, "vendor.github-actions"),
                                            (GH_WORKFLOW, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")],
                         ids=["action", "github-workflow", "gitlab-ci"])
def test_ci_files_match_the_schemastore_schemas(path, schema):
    """The schemas GitHub and GitLab files are written against (vendored by check-jsonschema, offline)."""
    pytest.importorskip("check_jsonschema", reason="check-jsonschema is not installed (pip install check-jsonschema)")
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- action.yml: structure ----------------------------------------------------------------------------


def test_action_inputs_are_declared_and_used_and_never_spliced_into_scripts():
    action = _load(ACTION)
    assert action["runs"]["using"] == "composite"
    declared = set(action["inputs"])
    assert {"manifest", "env-files", "source", "strict", "formats", "extra-args", "python-version",
            "working-directory"} <= declared
    text = ACTION.read_text(encoding="utf-8")
    used = set(re.findall(r"inputs\.([a-z][a-z0-9-]*)", text))
    assert used == declared, f"undeclared: {used - declared}; unused: {declared - used}"
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash", step["name"]
            # an input spliced into a script is shell code; through env: it is data
            assert "${{" not in step["run"], f"{step['name']}: use env: instead of ${{{{ }}}} in run:"
        assert all(d.get("description") for d in action["inputs"].values())


def test_action_uploads_before_it_sets_the_outcome():
    steps = _load(ACTION)["runs"]["steps"]
    names = [s.get("id") or s.get("uses", "").split("@")[0] or s["name"] for s in steps]
    check, upload = names.index("check"), names.index("actions/upload-artifact")
    assert check < names.index("render") < upload < len(steps) - 1
    assert steps[upload]["if"].startswith("always()")
    assert "steps.check.outputs.exit-code" in steps[-1]["env"]["CODE"] and 'exit "$CODE"' in steps[-1]["run"]
    check_run = steps[check]["run"]
    assert "--format github" in check_run and "--save" in check_run
    assert "preflight render" in steps[check + 1]["run"] and "report --from" in steps[check + 1]["run"]
    assert check_run.count("preflight \"${args[@]}\"") == 1  # the checks run once


# --- action.yml: run locally --------------------------------------------------------------------------


@dataclass
class StepResult:
    """What one `run:` step did."""

    name: str
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)


class LocalRunner:
    """Runs a composite action's `run:` steps like the Actions runner: `bash --noprofile --norc -eo
    pipefail`, per-step GITHUB_OUTPUT files, GITHUB_PATH, one GITHUB_STEP_SUMMARY, `${{ }}` in env,
    `working-directory` and `if:`. `uses:` steps are not run (only recorded, with their evaluated `with:`).
    The install step is replaced by putting this checkout's .venv on PATH (tested apart)."""

    def __init__(self, workspace: Path, inputs: dict[str, str]) -> None:
        action = _load(ACTION)
        self.steps = action["runs"]["steps"]
        self.inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()} | inputs
        self.workspace = workspace
        self.temp = workspace / "_runner_temp"
        self.temp.mkdir()
        self.summary = self.temp / "step_summary.md"
        self.summary.touch()
        self.path = [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
        self.outputs: dict[str, dict[str, str]] = {}
        self.results: list[StepResult] = []
        self.uses: dict[str, dict[str, str]] = {}
        self.failed = False

    def value(self, expr: str) -> str:
        kind, _, rest = expr.partition(".")
        if kind == "inputs":
            return self.inputs[rest]
        if kind == "steps":
            sid, _, key = rest.partition(".outputs.")
            return self.outputs.get(sid, {}).get(key, "")
        if expr == "github.action_path":
            return str(ROOT)
        if expr == "runner.temp":
            return str(self.temp)
        raise AssertionError(f"the local runner does not know {expr!r}; teach it")

    def sub(self, text: Any) -> str:
        return EXPR.sub(lambda m: self.value(m.group(1)), str(text))

    def condition(self, cond: str | None) -> bool:
        if cond is None:
            return not self.failed
        result, always = True, False
        for term in (t.strip() for t in cond.split("&&")):
            if term == "always()":
                always = True
            elif m := re.fullmatch(r"([\w.-]+) (!=|==) ''", term):
                result &= (self.value(m.group(1)) != "") == (m.group(2) == "!=")
            else:
                raise AssertionError(f"the local runner does not understand if: {cond!r}")
        return result and (always or not self.failed)

    def run(self) -> LocalRunner:
        for step in self.steps:
            if not self.condition(step.get("if")):
                continue
            if "uses" in step:
                self.uses[step["uses"].split("@")[0]] = {k: self.sub(v) for k, v in step.get("with", {}).items()}
                continue
            if step.get("id") == "install":
                continue
            self._run(step)
        return self

    def _run(self, step: dict[str, Any]) -> None:
        out_file = self.temp / f"output_{len(self.results)}"
        path_file = self.temp / f"path_{len(self.results)}"
        out_file.touch()
        path_file.touch()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PREFLIGHT_"))}
        env |= {"PATH": os.pathsep.join(self.path), "GITHUB_OUTPUT": str(out_file), "GITHUB_PATH": str(path_file),
                "GITHUB_STEP_SUMMARY": str(self.summary), "RUNNER_TEMP": str(self.temp), "COLUMNS": "120"}
        env |= {k: self.sub(v) for k, v in step.get("env", {}).items()}
        script = self.temp / "step.sh"
        script.write_text(step["run"], encoding="utf-8")
        cwd = self.workspace / self.sub(step.get("working-directory", "."))
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=120)
        outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
        self.outputs[step.get("id", step["name"])] = outputs
        self.path[:0] = [p for p in path_file.read_text().splitlines() if p]
        self.results.append(StepResult(step["name"], proc.returncode, proc.stdout, proc.stderr, outputs))
        self.failed |= proc.returncode != 0

    def step(self, name_start: str) -> StepResult:
        return next(r for r in self.results if r.name.startswith(name_start))


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "work space"  # a space in the path, as on some self-hosted runners
    ws.mkdir()
    shutil.copy(EXAMPLE_ENV, ws / "prod.env")
    return ws


def test_action_not_ready_run_annotates_summarises_renders_uploads_then_fails(workspace):
    r = LocalRunner(workspace, {"env-files": "prod.env\n", "extra-args": "--offline",
                                "formats": "json, junit markdown report"}).run()
    check = r.step("preflight check")
    assert check.code == 0 and check.outputs["exit-code"] == "1" and check.outputs["ready"] == "false", check
    assert re.search(r"^::error title=secrets\.missing JWT_SECRET::", check.stdout, re.M), check.stdout
    assert "secrets.missing" in r.summary.read_text()  # the github renderer appended the markdown report
    out = Path(check.outputs["output-dir"])
    saved = json.loads((out / "results.json").read_text())
    fails = sum(res["status"] == "fail" for res in saved["results"])
    junit = ET.parse(out / "preflight-junit.xml").getroot()
    assert junit.tag == "testsuites" and sum(len(s.findall("testcase/failure")) for s in junit) == fails > 0
    assert (out / "preflight.md").read_text().strip()
    assert (out / "preflight-report" / "missing_required_secrets.txt").is_file()
    render = r.step("Render")
    assert render.code == 0 and "NOT READY" in render.stdout, render  # the console view in the log
    assert render.outputs["junit"] == str(out / "preflight-junit.xml")
    assert r.uses["actions/upload-artifact"] == {"name": "preflight-report", "path": str(out),
                                                 "if-no-files-found": "warn"}
    final = r.results[-1]
    assert final.name.startswith("Outcome") and final.code == 1 and "::error" in final.stdout
    from filot_preflight.commands.schema_cmd import results_schema

    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(saved, results_schema())


def test_action_ready_run_passes_and_quoted_extra_args_stay_whole(workspace):
    tree = workspace / "back end"
    shutil.copytree(TREES / "clean" / "backend", tree)
    r = LocalRunner(workspace, {"extra-args": "--offline --only mock_code --partial-ok --source-dir 'backend=back end'",
                                "strict": "true", "formats": "junit"}).run()
    check = r.step("preflight check")
    assert check.outputs["exit-code"] == "0" and check.outputs["ready"] == "true", check
    # a narrowed run passes only with --partial-ok, and still says it is no release verdict
    assert r.results[-1].code == 0
    shown = " ".join(r.step("Render the saved result (no second run)").stdout.split())
    assert "READY for the selected checks: mock_code; not a release verdict" in shown
    assert not (Path(check.outputs["output-dir"]) / "preflight-report").exists()  # not asked for


def test_action_bad_input_exits_2_after_upload_without_rendering(workspace):
    stale = workspace / "preflight-out" / "preflight-junit.xml"  # from an earlier run on a self-hosted runner
    stale.parent.mkdir()
    stale.write_text("<testsuites/>")
    (workspace / "preflight-out" / "keep.txt").write_text("not ours")
    r = LocalRunner(workspace, {"env-files": "missing.env", "extra-args": "--offline"}).run()
    check = r.step("preflight check")
    assert not stale.exists() and (workspace / "preflight-out" / "keep.txt").exists()
    assert check.outputs["exit-code"] == "2" and "missing.env: cannot read env file" in check.stderr
    assert "stopped before checking" in r.step("Render").stdout
    assert "actions/upload-artifact" in r.uses
    assert r.results[-1].code == 2 and "invalid input" in r.results[-1].stdout


@pytest.mark.parametrize(("inputs", "message"), [
    ({"strict": "maybe"}, "strict: expected true or false"),
    ({"formats": "junit yaml"}, "formats: unknown 'yaml'"),
])
def test_action_rejects_bad_inputs_before_running(workspace, inputs, message):
    r = LocalRunner(workspace, inputs).run()
    check = r.step("preflight check")
    assert check.outputs == {"exit-code": "2"} and message in check.stdout
    assert r.results[-1].code == 2 and "actions/upload-artifact" not in r.uses


def test_action_inputs_are_data_not_code(workspace):
    r = LocalRunner(workspace, {"extra-args": "--offline $(touch pwned) `touch pwned2`",
                                "env-files": "prod.env; touch pwned3"}).run()
    assert not list(workspace.glob("pwned*")) and not list(Path.cwd().glob("pwned*"))
    assert r.step("preflight check").outputs["exit-code"] == "2"


@pytest.mark.skipif(not os.environ.get("PREFLIGHT_TEST_INSTALL"),
                    reason="installs every dependency into a fresh venv (12 s from a local wheel cache, more from "
                    "PyPI); set PREFLIGHT_TEST_INSTALL=1 to run it")
def test_action_install_step_installs_from_the_action_path(tmp_path):
    """The real install step: a fresh venv, `pip install <action path> <plugins>`, `preflight --version`."""
    step = next(s for s in _load(ACTION)["runs"]["steps"] if s.get("id") == "install")
    script = tmp_path / "install.sh"
    script.write_text(step["run"])
    src = tmp_path / "action"  # a copy without the .venv, as the runner checks the action out
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "*cache*", ".sandbox", "out"))
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path), "GITHUB_PATH": str(tmp_path / "path"),
           "ACTION_PATH": str(src), "PATH": os.environ["PATH"],
           "INPUT_PLUGINS": f"\n  {src / 'examples' / 'preflight-plugin-example'}  \n"}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().startswith("preflight 0.")
    bin_dir = tmp_path / "filot-preflight-venv" / "bin"
    assert (tmp_path / "path").read_text().strip() == str(bin_dir)
    listing = subprocess.run([str(bin_dir / "preflight"), "checkers"], capture_output=True, text=True, check=True)
    assert "release_freeze" in listing.stdout  # the plugin landed in the same venv


# --- example workflows ----------------------------------------------------------------------------------


def test_github_workflow_uses_the_action_with_declared_inputs():
    wf = _load(GH_WORKFLOW)
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers
    declared = set(_load(ACTION)["inputs"])
    steps = [s for job in wf["jobs"].values() for s in job["steps"]]
    ours = [s for s in steps if "filot-preflight" in s.get("uses", "")]
    assert ours, "the example does not use the action"
    for s in ours:
        assert set(s.get("with", {})) <= declared, set(s["with"]) - declared


def test_gitlab_example_publishes_the_junit_file_it_writes():
    ci = _load(GITLAB)
    jobs = {k: v for k, v in ci.items() if isinstance(v, dict) and "script" in v}
    assert jobs
    for name, job in jobs.items():
        junit = job["artifacts"]["reports"]["junit"]
        script = "\n".join(job["script"])
        assert job["artifacts"]["when"] == "always", name
        assert f"--output {junit}" in script or f"-o {junit}" in script, (name, junit)
        assert script.count("preflight check") == 1 and "preflight render" in script


# --- pre-commit hooks --------------------------------------------------------------------------------


def _hooks() -> dict[str, dict[str, Any]]:
    return {h["id"]: h for h in _load(HOOKS)}


def _run(capsys, argv: list[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out + out.err


def test_hooks_file_declares_the_three_hooks_with_real_commands(capsys):
    hooks = _hooks()
    assert set(hooks) == {"preflight-manifest-validate", "preflight-env-template", "preflight-mock-audit"}
    code, help_text = _run(capsys, ["--help"])
    assert code == 0
    for hid, h in hooks.items():
        assert {"name", "entry", "language"} <= set(h) and h["language"] == "python", hid
        words = h["entry"].split()
        assert words[0] == "preflight", hid
        assert re.search(rf"^\W*{re.escape(words[1])}\s", help_text, re.M), f"{hid}: `preflight --help` lacks {words[1]}"
        code, text = _run(capsys, [*words[1:], *h.get("args", []), "--help"])
        assert code == 0 and "Usage" in text, f"{hid}: {h['entry']} is not a command: {text}"
        re.compile(h["files"])


def test_manifest_hook_validates_the_file_pre_commit_passes(capsys, tmp_path):
    h = _hooks()["preflight-manifest-validate"]
    files = re.compile(h["files"])
    assert files.search("manifests/filot.yaml") and files.search("svc/manifests/prod.json")
    assert not files.search("src/app.yaml") and re.search(h["exclude"], "manifests/manifest.schema.json")
    argv = h["entry"].split()[1:]
    assert _run(capsys, [*argv, str(ROOT / "manifests" / "filot.yaml")])[0] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [\n")
    code, text = _run(capsys, [*argv, str(bad)])
    assert code == 2 and "bad.yaml" in text


def test_manifest_hook_accepts_several_files_in_one_call(capsys):
    argv = _hooks()["preflight-manifest-validate"]["entry"].split()[1:]
    manifest = str(ROOT / "manifests" / "filot.yaml")
    assert _run(capsys, [*argv, manifest, manifest])[0] == 0


def test_mock_audit_hook_passes_a_clean_tree_and_fails_a_dirty_one(capsys, monkeypatch):
    h = _hooks()["preflight-mock-audit"]
    assert h["pass_filenames"] is False and re.search(h["files"], "src/server.ts")
    argv = [*h["entry"].split()[1:], *h["args"]]
    monkeypatch.chdir(TREES / "clean" / "backend")
    code, text = _run(capsys, argv)
    assert code == 0 and "READY" in text
    monkeypatch.chdir(TREES / "dirty" / "backend")
    code, text = _run(capsys, argv)
    assert code == 1 and "mock_code.mock_import" in text


def test_env_template_hook_checks_the_templates_pre_commit_passes(capsys, tmp_path):
    h = _hooks()["preflight-env-template"]
    assert "stages" not in h and h.get("pass_filenames", True)  # every stage; pre-commit passes the files
    files = re.compile(h["files"])
    assert files.search("deploy/prod.env.template") and files.search("backend.env.example")
    assert not files.search("prod.env") and not files.search("src/app.ts")
    argv = h["entry"].split()[1:]
    template = tmp_path / "prod.env.template"
    assert _run(capsys, ["env", "template", "-o", str(template)])[0] == 0
    assert _run(capsys, [*argv, str(template), str(template)])[0] == 0  # several files in one call
    code, text = _run(capsys, [*argv, str(EXAMPLE_ENV)])  # a filled-in env file is no template
    lines = EXAMPLE_ENV.read_text(encoding="utf-8").splitlines()
    n, value = next((i, ln.partition("=")[2]) for i, ln in enumerate(lines, 1) if ln.startswith("SESSION_SECRET="))
    assert code == 1 and f"{EXAMPLE_ENV}:{n}: fail: SESSION_SECRET: " in text and value not in text
