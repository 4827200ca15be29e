"""Issue 14 item 6 (part): the live checkers classify hosts with the same rules as the offline checks."""

from __future__ import annotations

import pytest

from filot_preflight.net.tls import host_kind
from filot_preflight.rules.hosts import classify_host


@pytest.mark.parametrize(("host", "kind"), [
    ("localhost.", "loopback"), ("127.1", "loopback"), ("2130706433", "loopback"), ("0x7f.1", "loopback"),
    ("[::1]", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("LOCALHOST", "loopback"),
    ("169.254.169.254", "private"), ("fe80::1%eth0", "private"), ("10.1.2.3", "private"), ("0.0.0.0", "private"),
    ("redis", "private"), ("db.internal", "private"), ("100.64.0.1", "private"),
    ("cache.upstash.io", "public"), ("8.8.8.8", "public"), ("2606:4700::1111", "public"),
])
def test_one_classification_everywhere(host, kind):
    assert host_kind(host) == kind
    assert (classify_host(host) is None) == (kind == "public")
