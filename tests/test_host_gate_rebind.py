"""Issue 14 item 6, DNS rebinding: a public-looking name whose DNS answer is 127.0.0.1 or 169.254.169.254.

The host gate resolves every name before a probe connects and refuses the host when ANY address is not
public. To make the real resolver (glibc, /etc/hosts) give that answer without touching this machine's
/etc/hosts, each run is a child process in a private mount namespace (`unshare -m`) with its own hosts file
bind-mounted over /etc/hosts; the recording listener runs here, in the same network namespace. Needs root
(or user namespaces): skipped where `unshare` is not allowed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_host_gate import CASES, Listener, v4  # noqa: F401 - v4 is a fixture

ROOT = Path(__file__).resolve().parents[1]
NAME = "cache.rebind-test.example"  # literally a public name: only its DNS answer makes it loopback
META = "meta.rebind-test.example"


@pytest.fixture(scope="module")
def hosts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rebind") / "hosts"
    path.write_text(f"127.0.0.1 localhost\n127.0.0.1 {NAME}\n169.254.169.254 {META}\n")
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            f"mount --bind {path} /etc/hosts && getent hosts {NAME}"],
                           capture_output=True, text=True, timeout=20)
    if probe.returncode != 0 or "127.0.0.1" not in probe.stdout:
        pytest.skip(f"no private mount namespace here: {probe.stderr.strip()[:200]}")
    return path


def _child(hosts: Path, name: str, host: str, port: int, allow_loopback: bool) -> dict[str, Any]:
    args = json.dumps({"name": name, "host": host, "port": port, "allow_loopback": allow_loopback})
    cmd = f"mount --bind {hosts} /etc/hosts && exec {sys.executable} -m tests._rebind_child \"$0\""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", cmd, args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_name_that_resolves_to_loopback_gets_no_connection(name: str, hosts_file: Path, v4: Listener) -> None:  # noqa: F811
    res = _child(hosts_file, name, NAME, v4.port, allow_loopback=False)
    assert v4.seen() == (0, b""), f"{name} connected to {NAME} (-> 127.0.0.1) without --allow-loopback"
    for rid in CASES[name].refused_ids:
        assert res[rid]["status"] == "fail", res[rid]
        assert f"{NAME} resolves to 127.0.0.1" in f"{res[rid]['summary']} {res[rid]['detail']}"


def test_the_same_name_reaches_the_listener_with_allow_loopback(hosts_file: Path, v4: Listener) -> None:  # noqa: F811
    """The control: the name really leads to the listener, so "no connection" above is the gate's doing."""
    _child(hosts_file, "redis", NAME, v4.port, allow_loopback=True)
    conns, got = v4.seen()
    assert conns >= 1 and got  # a TLS ClientHello at least


@pytest.mark.parametrize("name", ["redis", "backend", "aws_secrets"])
def test_a_name_that_resolves_to_the_metadata_address_is_refused_even_with_allow_loopback(
    name: str, hosts_file: Path
) -> None:
    res = _child(hosts_file, name, META, 80, allow_loopback=True)
    rid = CASES[name].refused_ids[0]
    assert res[rid]["status"] == "fail"
    assert f"{META} resolves to 169.254.169.254" in f"{res[rid]['summary']} {res[rid]['detail']}"
