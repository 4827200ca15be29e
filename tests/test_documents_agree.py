"""Every output tells the same verdict: documents, console, markdown and JSON of four real runs agree.

The runs go through the CLI (`check --save`, then `report --from` and `render`): a healthy live run
against the sandbox, a failing one (a wrong Redis password), the offline example and a narrowed
run (`--only redis --only postgres`). Subsystem statuses and the verdict come from one computation
in the Report (filot_preflight/verdicts.py); these tests catch a document that decides on its own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from filot_preflight.documents.catalog import LABELS, subsystem_info
from filot_preflight.sandbox import envfiles
from filot_preflight.sandbox.stack import Stack
from tests._cli import run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "manifests" / "example.prod.env"
CLEAN = ROOT / "tests" / "fixtures" / "trees" / "clean"
VALIDATION = ("redis_validation_report.md", "gpu_worker_env_validation.md", "r2_config_validation.md",
              "temporal_env_validation.md", "mock_cleanup_report.md")


def _live_args(st: Stack) -> list[str]:
    td = st.dir / "taskdefs"
    return ["--env-file", str(st.env_file), "--env-file", f"gpu-worker={st.worker_env_file}",
            "--task-def", str(td / "filot-backend.json"), "--task-def", str(td / "filot-gpu-worker.json"),
            "--source-dir", f"backend={CLEAN / 'backend'}", "--source-dir", f"gpu-worker={CLEAN / 'gpu-worker'}",
            "--send-signed-callback"]


def _wrong_redis_password(st: Stack, folder: Path) -> Path:
    url = urlsplit(envfiles.read(st.env_file)["REDIS_URL"])
    netloc = f"{url.username or 'default'}:not-the-password-{'x' * 12}@{url.hostname}:{url.port}"
    path = folder / "wrong-redis.env"
    path.write_text(f"REDIS_URL={urlunsplit(url._replace(netloc=netloc))}\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def runs(sandbox_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("agree")
    live = _live_args(sandbox_stack)
    cases = {
        "healthy": live,
        # First: the backend reads its env files as node-dotenv does, and there the first file wins.
        "failing": ["--env-file", str(_wrong_redis_password(sandbox_stack, folder)), *live],
        "offline": ["--offline", "--env-file", str(EXAMPLE)],
        "narrowed": ["--only", "redis", "--only", "postgres", "--env-file", str(sandbox_stack.env_file)],
    }
    return {name: {"args": args, "folder": folder / name} for name, args in cases.items()}


def _do(capsys: pytest.CaptureFixture[str], case: dict) -> dict:
    folder: Path = case["folder"]
    saved = folder / "results.json"
    code, out, err = run(capsys, "check", *case["args"], "--save", str(saved))
    rcode, _, rerr = run(capsys, "report", "--from", str(saved), "-o", str(folder / "docs"))
    mcode, md, _ = run(capsys, "render", str(saved), "--format", "markdown")
    data = json.loads(saved.read_text(encoding="utf-8"))
    docs = {p.name: p.read_text(encoding="utf-8") for p in (folder / "docs").iterdir()}
    return {"code": code, "console": out, "report_code": rcode, "report_err": rerr, "render_code": mcode,
            "markdown": md, "json": data, "docs": docs}


EXPECTED = {  # decision, exit code
    "healthy": ("ready", 0),
    "failing": ("not_ready", 1),
    "offline": ("not_ready", 1),
    "narrowed": ("ready_selected", 1),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_output_agrees(name: str, runs: dict[str, dict], capsys: pytest.CaptureFixture[str]) -> None:
    got = _do(capsys, runs[name])
    data, docs = got["json"], got["docs"]
    decision, code = EXPECTED[name]
    verdict = data["verdict"]
    assert data["decision"] == decision, verdict
    # one exit code, whichever command shows the run
    assert got["code"] == got["report_code"] == got["render_code"] == code
    # the console ends with the verdict; the markdown heads with it; report prints it
    assert " ".join(got["console"].split()).endswith(" ".join(verdict.split()))
    assert f"## Preflight: {verdict}" in got["markdown"]
    assert verdict in got["report_err"]
    assert data["ready"] is (decision == "ready")
    assert data["scope"]["complete"] is (name in ("healthy", "failing"))
    summary = docs["T8A_summary.md"]
    assert f"**Verdict:** {verdict}" in summary
    if decision == "ready":
        assert "**Status:** ✅ READY" in summary and "not fully checked" not in summary
        assert "ready for deployment" in summary
        assert data["subsystems"]["postgres"] == "ready"  # two not-applicable skips are no gap
        assert "Database unreachable" not in summary
    else:
        assert "✅ READY" not in summary.split("## 1.")[0] and "is ready for deployment" not in summary
        assert not verdict.startswith("READY for production")
    if decision == "ready_selected":
        assert "not a release verdict" in verdict and "NO RELEASE VERDICT" in summary
    # the components table shows each subsystem's status exactly as the Report computed it
    for sid, status in data["subsystems"].items():
        title = subsystem_info(sid).title
        row = next((ln for ln in summary.splitlines() if ln.startswith(f"| {title} |")), None)
        if row is not None:
            assert LABELS[status] in row, (sid, status, row)
    # counts that two sections give must match
    verify = re.search(r"### Needs Verification \((\d+)\)", summary)
    assert verify is not None
    assert int(verify.group(1)) == len(re.findall(r"\[ \] Verify `", summary))
    missing = int(re.search(r"### Missing \((\d+)\)", summary).group(1))  # type: ignore[union-attr]
    assert missing == sum(1 for r in data["results"] if r["id"] == "secrets.missing" and r["status"] == "fail")
    assert summary.count("missing secret(s)") == 0  # missing variables are counted once, among the blocking ones
    # a validation report never shows a problem in its table and "no findings" below it
    for doc in VALIDATION:
        text = docs[doc]
        if re.search(r"❌ (invalid|missing|fail)", text):
            assert "No findings: nothing to fix" not in text, doc
        assert f"Verdict: **{verdict}**" in text
    secrets_json = json.loads(docs["production_secrets_required.json"])
    assert secrets_json["run"]["ready"] is data["ready"]


def test_partial_ok_lets_a_narrowed_clean_run_exit_0(sandbox_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--only", "redis", "--env-file", str(sandbox_stack.env_file), "--partial-ok")
    assert code == 0
    assert "READY for the selected checks: redis; not a release verdict (--only redis)" in " ".join(out.split())


@pytest.mark.parametrize("argv", [["--offline", "--only", "redis"], ["--only", "secrets", "--skip", "secrets"]])
def test_a_selection_of_nothing_is_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", *argv, "--env-file", str(EXAMPLE))
    assert code == 2 and "selects no checker" in err and not out
    assert len(err.strip().splitlines()) == 1
