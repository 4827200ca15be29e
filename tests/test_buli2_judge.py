"""Table tests of buli2.judge (pure) and of the signature scheme helpers (sign / verify / self_test)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace

import pytest

from filot_preflight.checkers.buli2 import address_kind, probe_body, self_test, sign, verify
from filot_preflight.checkers.buli2.judge import Buli2Facts, DnsFacts, SchemeTest, judge
from filot_preflight.manifest import Buli2Settings, Buli2Signature
from filot_preflight.models import CheckResult, Status
from filot_preflight.net.http_probe import HttpOutcome

SETTINGS = Buli2Settings(signature=Buli2Signature(prefix="sha256="))


def http(status: int) -> HttpOutcome:
    return HttpOutcome(True, status=status, elapsed_ms=5.0, body_bytes=10, is_json=True)


def down(kind: str) -> HttpOutcome:
    return HttpOutcome(False, elapsed_ms=2000.0, error_kind=kind, error="boom")


GOOD = Buli2Facts(
    api_url="https://api.buli2.example.com", api_problem=None, has_key=True, with_key=http(200),
    without_key=http(401), callback_url="https://api.filot.example.com/api/webhooks/buli2", callback_problem=None,
    callback_path="/api/webhooks/buli2", dns=DnsFacts(True, ("93.184.216.34",), ("public",)), has_secret=True,
    scheme=SchemeTest(None, key_bytes=44, digest_bytes=32), unsigned=http(401), tampered=http(401),
)
ALL_PASS = {
    "buli2.api_url": Status.PASS, "buli2.api_key": Status.PASS, "buli2.auth_enforced": Status.PASS,
    "buli2.callback_url": Status.PASS, "buli2.signature_scheme": Status.PASS, "buli2.callback_unsigned": Status.PASS,
    "buli2.callback_tampered": Status.PASS, "buli2.callback_signed": Status.SKIP,
}
LOCAL = DnsFacts(True, ("127.0.0.1",), ("loopback",))

CASES: list[tuple[str, Buli2Facts, dict[str, Status]]] = [
    ("all good", GOOD, ALL_PASS),
    ("signed callback sent and accepted", replace(GOOD, send_signed=True, signed=http(200)),
     {"buli2.callback_signed": Status.PASS}),
    ("signed callback refused: secrets differ", replace(GOOD, send_signed=True, signed=http(401)),
     {"buli2.callback_signed": Status.FAIL, "buli2.callback_tampered": Status.PASS}),
    ("signed callback 500", replace(GOOD, send_signed=True, signed=http(500)), {"buli2.callback_signed": Status.FAIL}),
    ("wrong api key", replace(GOOD, with_key=http(401)), {"buli2.api_key": Status.FAIL,
                                                          "buli2.auth_enforced": Status.PASS}),
    ("api key forbidden", replace(GOOD, with_key=http(403)), {"buli2.api_key": Status.FAIL}),
    ("auth not enforced", replace(GOOD, without_key=http(200)),
     {"buli2.auth_enforced": Status.FAIL, "buli2.api_key": Status.WARN}),
    ("odd status without key", replace(GOOD, without_key=http(404)), {"buli2.auth_enforced": Status.WARN}),
    ("health path wrong", replace(GOOD, with_key=http(404), without_key=http(404)), {"buli2.api_key": Status.FAIL}),
    ("buli2 5xx", replace(GOOD, with_key=http(502)), {"buli2.api_key": Status.FAIL}),
    ("buli2 redirect", replace(GOOD, with_key=http(302)), {"buli2.api_key": Status.FAIL}),
    ("api refused", replace(GOOD, with_key=down("refused"), without_key=down("refused")),
     {"buli2.api_key": Status.FAIL, "buli2.auth_enforced": Status.SKIP}),
    ("api timeout", replace(GOOD, with_key=down("connect_timeout"), without_key=down("connect_timeout")),
     {"buli2.api_key": Status.FAIL}),
    ("no api key", replace(GOOD, has_key=False, with_key=None), {"buli2.api_key": Status.SKIP,
                                                                "buli2.auth_enforced": Status.PASS}),
    ("no api url", replace(GOOD, api_url="", api_problem="missing", with_key=None, without_key=None),
     {"buli2.api_url": Status.SKIP, "buli2.api_key": Status.SKIP, "buli2.auth_enforced": Status.SKIP}),
    ("http api url: key not sent", replace(GOOD, api_problem="not_https", with_key=None),
     {"buli2.api_url": Status.FAIL, "buli2.api_key": Status.SKIP, "buli2.auth_enforced": Status.PASS}),
    ("api on loopback", replace(GOOD, api_host_kind="loopback"), {"buli2.api_url": Status.FAIL}),
    ("api on loopback allowed", replace(GOOD, api_host_kind="loopback", allow_loopback=True),
     {"buli2.api_url": Status.PASS}),
    ("callback http", replace(GOOD, callback_problem="not_https"), {"buli2.callback_url": Status.FAIL}),
    ("callback malformed", replace(GOOD, callback_problem="malformed", unsigned=None, tampered=None),
     {"buli2.callback_url": Status.FAIL, "buli2.callback_unsigned": Status.SKIP}),
    ("callback missing", replace(GOOD, callback_problem="missing", unsigned=None, tampered=None, dns=None),
     {"buli2.callback_url": Status.SKIP, "buli2.callback_tampered": Status.SKIP,
      "buli2.callback_signed": Status.SKIP}),
    ("callback resolves to loopback", replace(GOOD, dns=LOCAL), {"buli2.callback_url": Status.FAIL}),
    ("callback loopback allowed", replace(GOOD, dns=LOCAL, allow_loopback=True), {"buli2.callback_url": Status.PASS}),
    ("callback mixed public and private", replace(GOOD, dns=DnsFacts(True, ("10.0.0.1", "93.184.216.34"),
                                                                     ("private", "public"))),
     {"buli2.callback_url": Status.FAIL}),
    ("callback does not resolve", replace(GOOD, dns=DnsFacts(False, error_kind="dns")),
     {"buli2.callback_url": Status.FAIL}),
    ("callback dns timeout", replace(GOOD, dns=DnsFacts(False, error_kind="timeout")),
     {"buli2.callback_url": Status.FAIL}),
    ("callback path differs", replace(GOOD, callback_path="/webhooks"), {"buli2.callback_url": Status.WARN}),
    ("verification off", replace(GOOD, unsigned=http(200), tampered=http(202)),
     {"buli2.callback_unsigned": Status.FAIL, "buli2.callback_tampered": Status.FAIL}),
    ("only tampered accepted", replace(GOOD, tampered=http(200)),
     {"buli2.callback_unsigned": Status.PASS, "buli2.callback_tampered": Status.FAIL}),
    ("refused with 400", replace(GOOD, unsigned=http(400), tampered=http(403)),
     {"buli2.callback_unsigned": Status.PASS, "buli2.callback_tampered": Status.PASS}),
    ("no webhook route", replace(GOOD, unsigned=http(404), tampered=http(404)),
     {"buli2.callback_unsigned": Status.FAIL, "buli2.callback_tampered": Status.FAIL}),
    ("webhook crashes", replace(GOOD, unsigned=http(500)), {"buli2.callback_unsigned": Status.FAIL}),
    ("webhook rate limited", replace(GOOD, unsigned=http(429)), {"buli2.callback_unsigned": Status.WARN}),
    ("webhook unreachable", replace(GOOD, unsigned=down("refused"), tampered=down("refused")),
     {"buli2.callback_unsigned": Status.FAIL, "buli2.callback_tampered": Status.SKIP}),
    ("no secret", replace(GOOD, has_secret=False, scheme=None, tampered=None, send_signed=True),
     {"buli2.signature_scheme": Status.SKIP, "buli2.callback_tampered": Status.SKIP,
      "buli2.callback_signed": Status.SKIP, "buli2.callback_unsigned": Status.PASS}),
    ("scheme broken", replace(GOOD, scheme=SchemeTest("bad template"), tampered=None),
     {"buli2.signature_scheme": Status.FAIL, "buli2.callback_tampered": Status.SKIP}),
    ("body not signed", replace(GOOD, scheme=SchemeTest(None, covers_body=False, key_bytes=44, digest_bytes=32)),
     {"buli2.signature_scheme": Status.FAIL}),
    ("no timestamp signed", replace(GOOD, scheme=SchemeTest(None, covers_timestamp=False, key_bytes=44,
                                                            digest_bytes=32)),
     {"buli2.signature_scheme": Status.WARN}),
    ("short key", replace(GOOD, scheme=SchemeTest(None, key_bytes=16, digest_bytes=32)),
     {"buli2.signature_scheme": Status.WARN}),
    ("padded secret", replace(GOOD, scheme=SchemeTest(None, key_bytes=45, digest_bytes=32, padded=True)),
     {"buli2.signature_scheme": Status.WARN}),
    ("insecure", replace(GOOD, insecure=True), {"buli2.insecure": Status.WARN, "buli2.api_key": Status.PASS}),
]


def by_id(facts: Buli2Facts) -> dict[str, CheckResult]:
    results = judge(facts, SETTINGS)
    out = {r.id: r for r in results}
    assert len(out) == len(results), "one result per id"
    for r in results:
        assert r.subsystem == "buli2"
        if r.status != Status.PASS:
            assert r.remediation, f"{r.id} ({r.status}) has no fix"
        if r.status == Status.SKIP:
            assert r.summary, "a SKIP says why"
    return out


@pytest.mark.parametrize(("name", "facts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_judge_table(name: str, facts: Buli2Facts, expected: dict[str, Status]) -> None:
    got = by_id(facts)
    assert {k: got[k].status for k in expected} == expected


def test_every_rule_reported_once_and_insecure_only_when_set() -> None:
    assert set(by_id(GOOD)) == set(ALL_PASS)


def test_verification_off_says_so() -> None:
    got = by_id(replace(GOOD, unsigned=http(200)))["buli2.callback_unsigned"]
    assert "signature verification is off" in got.summary and "BULI2_SIGNATURE_SECRET" in got.remediation


def test_signed_skip_names_the_flag() -> None:
    got = by_id(GOOD)["buli2.callback_signed"]
    assert "--send-signed-callback" in got.summary


def test_auth_not_enforced_is_its_own_fail() -> None:
    got = by_id(replace(GOOD, without_key=http(200)))
    assert got["buli2.auth_enforced"].status == Status.FAIL
    assert "WITHOUT the API key" in got["buli2.auth_enforced"].summary


def test_connection_failures_have_kind_specific_fixes() -> None:
    fixes = {k: by_id(replace(GOOD, with_key=down(k)))["buli2.api_key"] for k in ("dns", "refused", "read_timeout",
                                                                                   "unknown_ca", "cert_expired")}
    assert len({r.remediation for r in fixes.values()}) == len(fixes)
    assert all(r.evidence["error_kind"] == k for k, r in fixes.items())


# --- the scheme --------------------------------------------------------------------------------------

SECRET = "whsec-test-0123456789abcdef0123456789abcdef"


def test_sign_matches_an_independent_hmac() -> None:
    sig = Buli2Signature(prefix="sha256=")
    expected = hmac.new(SECRET.encode(), b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign(SECRET, sig, "1700000000", "{}") == f"sha256={expected}"


@pytest.mark.parametrize(
    "sig",
    [Buli2Signature(), Buli2Signature(prefix="sha256="), Buli2Signature(algorithm="sha512", encoding="base64"),
     Buli2Signature(message="{timestamp}:{body}", prefix="v1=")],
)
def test_sign_verify_round_trip(sig: Buli2Signature) -> None:
    header = sign(SECRET, sig, "1700000000", '{"a":1}')
    assert verify(SECRET, sig, "1700000000", '{"a":1}', header)
    assert not verify(SECRET, sig, "1700000000", '{"a":2}', header)
    assert not verify(SECRET, sig, "1700000001", '{"a":1}', header)
    assert not verify(SECRET + "x", sig, "1700000000", '{"a":1}', header)
    assert not verify(SECRET, sig, "1700000000", '{"a":1}', "garbage")


def test_base64_encoding_is_base64() -> None:
    sig = Buli2Signature(encoding="base64")
    header = sign(SECRET, sig, "1", "b")
    assert len(base64.b64decode(header)) == 32


@pytest.mark.parametrize(
    ("secret", "sig", "problem", "covers_body", "covers_ts", "padded"),
    [
        (SECRET, Buli2Signature(), None, True, True, False),
        (SECRET, Buli2Signature(message="{body}"), None, True, False, False),
        (SECRET, Buli2Signature(message="{timestamp}"), None, False, True, False),
        (SECRET, Buli2Signature(message="{timestamp}.{payload}"), "unknown placeholder {payload}", False, True, False),
        (SECRET, Buli2Signature(message="{timestamp}.{body"), "not valid", False, False, False),
        ("", Buli2Signature(), "is empty", True, True, False),
        (SECRET + "\n", Buli2Signature(), None, True, True, True),
    ],
)
def test_self_test(secret: str, sig: Buli2Signature, problem: str | None, covers_body: bool, covers_ts: bool,
                   padded: bool) -> None:
    t = self_test(secret, sig)
    assert (t.problem is None) == (problem is None)
    if problem:
        assert problem in (t.problem or "")
    assert (t.covers_body, t.covers_timestamp, t.padded) == (covers_body, covers_ts, padded)
    assert t.digest_bytes == 32 and t.key_bytes == len(secret.encode())


@pytest.mark.parametrize(
    ("addr", "kind"),
    [("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.1.1", "private"),
     ("100.64.0.1", "private"), ("169.254.169.254", "private"), ("93.184.216.34", "public"),
     ("2606:4700::1111", "public"), ("fe80::1%eth0", "private")],
)
def test_address_kind(addr: str, kind: str) -> None:
    assert address_kind(addr) == kind


def test_probe_body_says_it_is_a_probe() -> None:
    import json

    doc = json.loads(probe_body())
    assert doc["preflight_probe"] is True and doc["id"].startswith("preflight-")


def test_every_emitted_id_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "checks" / "buli2.md").read_text()
    ids = {r.id for _, facts, _ in CASES for r in judge(facts, SETTINGS)}
    assert len(ids) == 9
    assert not [i for i in ids if f"## {i}\n" not in doc]
