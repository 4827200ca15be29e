"""Issue 14 item 9: lookups are linear, saved results are capped, leftovers swept, templates sandboxed."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import SecretStr

from filot_preflight.sources import Value, ValueStore, read_env_file


def test_twenty_thousand_values_are_looked_up_in_linear_time(tmp_path):
    env = tmp_path / "big.env"
    env.write_text("".join(f"VAR_{i}=value-{i}\n" for i in range(20_000)))
    store = ValueStore()
    store.add(read_env_file(env))
    store.add([Value("VAR_7", SecretStr("worker"), "file", "w.env:1", "gpu-worker")])
    t0 = time.monotonic()
    view = store.view("backend")
    for name in view:
        store.get(name, "gpu-worker")
    assert time.monotonic() - t0 < 5  # was quadratic: 20,000 x 20,000 comparisons per view (49 s a run)
    assert len(view) == 20_000
    got = store.get("VAR_7", "gpu-worker")
    assert got is not None and got.value.get_secret_value() == "worker"
    assert store.get("VAR_7").value.get_secret_value() == "value-7"  # type: ignore[union-attr]
    store.add([Value("VAR_7", SecretStr("later"), "env", "environment")])  # later wins, index follows
    assert store.get("VAR_7").value.get_secret_value() == "later"  # type: ignore[union-attr]


def test_saved_results_over_the_cap_are_refused_quickly(tmp_path, capsys):
    from filot_preflight import diff
    from tests._cli import run

    big = tmp_path / "huge.json"
    one = '{"id":"x.ok","subsystem":"x","status":"pass","summary":"ok"},'
    with big.open("w") as f:
        f.write('{"results":[')
        f.write(one * (diff.MAX_RESULTS_BYTES // len(one) + 10))
        f.write('{"id":"x.ok","subsystem":"x","status":"pass","summary":"ok"}]}')
    t0 = time.monotonic()
    code, _, err = run(capsys, "render", str(big))
    assert code == 2 and "the limit is" in err and err.count("\n") == 1
    assert time.monotonic() - t0 < 10
    assert Path(big).stat().st_size > diff.MAX_RESULTS_BYTES


def test_stale_mtls_key_copies_are_swept_at_the_next_use():
    import os
    import tempfile

    from filot_preflight.checkers.temporal import MTLS_PREFIX, _pem_files

    old = Path(tempfile.mkdtemp(prefix=MTLS_PREFIX))
    (old / "client.key").write_text("left by a run killed during the handshake")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    fresh = Path(tempfile.mkdtemp(prefix=MTLS_PREFIX))  # another run's, in use right now
    try:
        with _pem_files(b"cert", b"key") as (cert, key):
            assert cert is not None and key is not None and key.read_bytes() == b"key"
        assert not old.exists() and fresh.exists()
        assert not cert.exists()
    finally:
        fresh.rmdir()


def test_template_overrides_run_sandboxed(tmp_path, capsys):
    from tests._cli import run

    root = Path(__file__).resolve().parents[1]
    tdir = tmp_path / "t"
    tdir.mkdir()
    (tdir / "T8A_summary.md").write_text(
        "{{ ''.__class__.__mro__[1].__subclasses__() }}{{ cycler.__init__.__globals__.os.popen('id').read() }}\n")
    code, out, err = run(capsys, "report", "--templates", str(tdir), "-o", str(tmp_path / "out"),
                         "--offline", "--env-file", str(root / "manifests" / "example.prod.env"))
    assert code == 2 and "template error" in err and err.count("\n") == 1, (code, err)
    assert "uid=" not in out + err


def test_control_characters_in_paths_are_escaped_in_errors(capsys, tmp_path):
    from tests._cli import run

    bad = tmp_path / "evil\n\x1b[31mred\x1b[0m.env"
    code, _, err = run(capsys, "check", "--offline", "--env-file", str(bad))
    assert code == 2 and err.count("\n") == 1 and "\x1b" not in err
    assert "evil\\n\\x1b[31mred" in err


def test_html_from_audited_source_is_text_in_markdown():
    from filot_preflight.models import CheckResult, Report, Status
    from filot_preflight.render import markdown

    evil = "<img src=x onerror=alert(1)>"
    report = Report(results=[CheckResult(id="mock_code.mock_import", subsystem="mock_code", status=Status.FAIL,
                                         target=f"src/{evil}.ts:3", summary=f"imports {evil}",
                                         remediation=f"remove {evil}")])
    out = markdown.render(report)
    assert evil not in out and "&lt;img src=x onerror=alert(1)&gt;" in out


def test_twenty_thousand_secret_values_are_masked_in_linear_time():
    """Issue 14 item 9 leftover: one Aho-Corasick pass, not an alternation of ~100,000 encoded values (whose
    compile took ~10 s and each call ~5 ms; 20,000 URLs sharing their first characters: 35 s and 32 ms)."""
    import secrets

    from filot_preflight.redact import Redactor
    from tests._timing import within

    for values in ([secrets.token_urlsafe(24) for _ in range(20_000)],
                   [f"https://user:{secrets.token_urlsafe(16)}@host{i}.example.com/db" for i in range(20_000)]):
        t0 = time.monotonic()
        r = Redactor(values)
        report = r.redact(("see https://api.example.com/health and " + values[7] + "\n") * 300)
        lines = [r.redact(f"line {i}: {values[i]} and {values[-1 - i]}") for i in range(1000)]
        within(time.monotonic() - t0, 2.0, "20,000 values learnt, compiled and 1,001 texts masked")
        assert values[7] not in report and report.count("***") == 300
        assert all(line == f"line {i}: *** and ***" for i, line in enumerate(lines))


def test_the_matcher_masks_as_the_longest_first_alternation_did():
    """The reference semantics (re's leftmost match, the longest value at that position): overlapping and
    nested values, values sharing their first characters, on random texts."""
    import random
    import re

    from filot_preflight.redact import MASK, Redactor

    rng = random.Random(14)
    for _ in range(200):
        # A tiny alphabet makes overlaps, nesting and shared prefixes common.
        # Many values starting alike make their keys grow past 8 characters; at most 16 characters in all, so
        # that no 16-character fragments are masked (the alternation never had those).
        shared = rng.choice(["", "a9a9", "a9a9a9a9"])
        values = {shared + "".join(rng.choice("ab9") for _ in range(rng.randint(8, 16 - len(shared))))
                  for _ in range(rng.randint(1, 40))}
        r = Redactor(values)
        alternation = re.compile("|".join(re.escape(v) for v in sorted(r._values, key=len, reverse=True)))
        for _ in range(5):
            text = "".join(rng.choice(["a", "b", "9", " ", shared]) for _ in range(rng.randint(0, 120)))
            assert r.redact_values(text) == alternation.sub(MASK, text), (sorted(values), text)
