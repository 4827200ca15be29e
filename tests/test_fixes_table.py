"""The shared fix table (checkers/_fixes.py) and its use: the same failure kind gets the same action in every
network checker (redis, postgres, temporal, r2, backend, buli2, aws), formatted with its own variable.

Judges only (pure, no I/O): each checker's facts are built with one failure of a kind, judged, and the FAIL's
remediation is checked for the action that kind needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from filot_preflight.checkers.aws_secrets import Facts as AwsFacts
from filot_preflight.checkers.aws_secrets import judge as aws_judge
from filot_preflight.checkers.backend import BackendFacts, CertFacts
from filot_preflight.checkers.backend import judge as backend_judge
from filot_preflight.checkers.buli2.judge import Buli2Facts
from filot_preflight.checkers.buli2.judge import judge as buli2_judge
from filot_preflight.checkers.postgres import PgFacts
from filot_preflight.checkers.postgres import judge as pg_judge
from filot_preflight.checkers.postgres.dsn import DsnInfo
from filot_preflight.checkers.r2 import R2Facts
from filot_preflight.checkers.r2 import judge as r2_judge
from filot_preflight.checkers.redis.judge import RedisFacts, RedisSettings
from filot_preflight.checkers.redis.judge import judge as redis_judge
from filot_preflight.checkers.temporal.judge import TemporalFacts, TemporalJudgeSettings
from filot_preflight.checkers.temporal.judge import judge as temporal_judge
from filot_preflight.manifest import AwsSettings, BackendSettings, Buli2Settings, PostgresSettings, R2Settings
from filot_preflight.models import CheckResult, Status
from filot_preflight.net import fixes as _fixes
from filot_preflight.net import tls as _tls
from filot_preflight.net.aws import AwsProblem
from filot_preflight.net.http_probe import HttpOutcome
from filot_preflight.net.secrets_manager import AwsRead

HOST = "svc.example.com"


def _fail(results: list[CheckResult], rid_prefix: str = "") -> CheckResult:
    fails = [r for r in results if r.status is Status.FAIL and r.id.startswith(rid_prefix)]
    assert fails, [(r.id, r.status.value) for r in results]
    return fails[-1]


def redis(kind: str) -> str:
    stage = "redis" if kind in ("auth", "reset") else "tls"
    f = RedisFacts(scheme="rediss", host=HOST, port=6379, db=0, has_password=True, stage=stage, error_kind=kind)
    return _fail(redis_judge(f, RedisSettings())).remediation


def postgres(kind: str) -> str:
    dsn = DsnInfo(host=HOST, port="5432", dbname="neondb", user="app", sslmode="verify-full")
    return _fail(pg_judge(PgFacts(dsn=dsn, connected=False, error_kind=kind), PostgresSettings())).remediation


def temporal(kind: str) -> str:
    stage = "connect" if kind in ("auth", "reset", "plain_on_tls") else "tls"
    f = TemporalFacts(configured=True, host=HOST, port=7233, tls=True, auth="api_key", namespace="filot.acct",
                      task_queue="ocr", stage=stage, error_kind=kind)
    return _fail(temporal_judge(f, TemporalJudgeSettings())).remediation


def r2(kind: str) -> str:
    base = R2Facts(endpoint_var="CF_R2_ENDPOINT", endpoint_shown=f"https://{HOST}", bucket="b", presign_expiry="900")
    if kind == "SignatureDoesNotMatch":
        f = R2Facts(**{**base.__dict__, "reachable": True, "bucket_ok": False, "s3_error": kind, "skew_s": 0.0})
    else:
        f = R2Facts(**{**base.__dict__, "reachable": False, "error_kind": kind})
    return _fail(r2_judge(f, R2Settings())).remediation


def _down(kind: str) -> HttpOutcome:
    return HttpOutcome(False, elapsed_ms=5.0, error_kind=kind, error="boom")


def backend(kind: str) -> str:
    ok = HttpOutcome(True, status=200, elapsed_ms=5.0, body_bytes=2, is_json=True)
    f = BackendFacts(url=f"https://{HOST}", url_problem=None, health=_down(kind), ready=ok,
                     cert=CertFacts(tcp_ok=True, verified=True, not_after="2030-01-01", days_left=900))
    return _fail(backend_judge(f, BackendSettings()), "backend.health").remediation


def buli2(kind: str) -> str:
    key = HttpOutcome(True, status=401, elapsed_ms=5.0) if kind == "401" else _down(kind)
    f = Buli2Facts(api_url=f"https://{HOST}", api_problem=None, has_key=True, with_key=key,
                   without_key=HttpOutcome(True, status=401, elapsed_ms=5.0))
    return _fail(buli2_judge(f, Buli2Settings()), "buli2.api_key").remediation


def aws(kind: str) -> str:
    coarse, _, fine = kind.partition("/")
    read = AwsRead(problem=AwsProblem(coarse, "boom", fix_kind=fine), region="eu-central-1")
    return _fail(aws_judge(AwsFacts(read, ()), AwsSettings())).remediation


CHECKERS: dict[str, tuple[Callable[[str], str], str]] = {  # name -> (fix of a kind, its endpoint variable)
    "redis": (redis, "REDIS_URL"), "postgres": (postgres, "DATABASE_URL"), "temporal": (temporal, "TEMPORAL_ADDRESS"),
    "r2": (r2, "CF_R2_ENDPOINT"), "backend": (backend, "API_BASE_URL"), "buli2": (buli2, "BULI2_API_URL"),
    "aws": (aws, "AWS_ENDPOINT_URL"),
}
# family -> each checker's spelling of that failure (a checker that cannot produce it is left out)
KINDS: dict[str, dict[str, str]] = {
    "dns": {c: "dns" for c in CHECKERS},
    "refused": {**{c: "refused" for c in CHECKERS}, "aws": "unreachable/refused"},
    "unreachable": {"redis": "connect_timeout", "postgres": "timeout", "temporal": "connect_timeout", "r2": "timeout",
                    "backend": "connect_timeout", "buli2": "connect_timeout", "aws": "timeout"},
    "no_answer": {"redis": "no_answer", "temporal": "no_answer", "backend": "read_timeout", "buli2": "read_timeout"},
    "reset": {"redis": "reset", "temporal": "reset", "r2": "reset", "backend": "reset", "buli2": "reset",
              "aws": "closed"},
    "not_tls": {"redis": "tls_on_plain", "postgres": "server_ssl", "temporal": "tls_on_plain", "r2": "not_tls",
                "backend": "not_tls", "buli2": "not_tls", "aws": "not_tls"},
    "unknown_ca": {"redis": "unknown_ca", "postgres": "tls_ca", "temporal": "unknown_ca", "r2": "tls_ca",
                   "backend": "unknown_ca", "buli2": "unknown_ca", "aws": "tls"},
    "hostname": {"redis": "hostname_mismatch", "postgres": "tls_hostname", "temporal": "hostname_mismatch",
                 "r2": "tls_hostname", "backend": "hostname_mismatch", "buli2": "hostname_mismatch",
                 "aws": "tls_hostname"},
    "expired": {"redis": "cert_expired", "postgres": "tls_expired", "temporal": "cert_expired", "r2": "tls_expired",
                "backend": "cert_expired", "buli2": "cert_expired", "aws": "tls_expired"},
}
# family -> what its fix must say (all of them, case-insensitive), and how it opens in every checker
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "dns": (("host name", "does not resolve", "DNS"), "The host name"),
    "refused": (("port", "firewall", "running"), "Nothing accepts connections on"),
    "unreachable": (("egress", "firewall"), ""),
    "no_answer": (("never answers", "port"), ""),
    "reset": (("closed the connection", "running"), ""),
    "not_tls": (("TLS", "do not"), ""),
    "unknown_ca": (("--ca-file", "PREFLIGHT_CA_FILE", "full chain"), "The certificate of"),
    "hostname": (("host name the certificate was issued for", "subjectAltName"), "The certificate of"),
    "expired": (("renew it on the server", "clock"), "The certificate of"),
}
CASES = [pytest.param(fam, c, k, id=f"{fam}-{c}") for fam, per in KINDS.items() for c, k in per.items()]


@pytest.mark.parametrize(("family", "checker", "kind"), CASES)
def test_each_kind_names_its_action_in_every_checker(family: str, checker: str, kind: str) -> None:
    fix = CHECKERS[checker][0](kind)
    words, opening = ACTIONS[family]
    missing = [w for w in words if w.lower() not in fix.lower()]
    assert not missing, f"{checker} {kind}: no {missing} in: {fix}"
    assert fix.startswith(opening), f"{checker} {kind} does not open like the others: {fix}"
    assert "see the detail" not in fix.lower()


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_network_fixes_name_the_endpoint_variable_and_host(checker: str) -> None:
    fix_of, var = CHECKERS[checker]
    for family in ("dns", "refused", "unreachable", "hostname"):
        fix = fix_of(KINDS[family][checker])
        assert var in fix, f"{checker} {family}: {var} not named in: {fix}"
        if checker != "aws":  # the AWS remedy does not know the endpoint's host
            assert HOST in fix, f"{checker} {family}: {HOST} not named in: {fix}"


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_unknown_ca_fix_is_not_given_for_other_certificate_problems(checker: str) -> None:
    fix_of = CHECKERS[checker][0]
    for family in ("hostname", "expired"):
        assert "--ca-file" not in fix_of(KINDS[family][checker]), f"{checker} {family} suggests --ca-file"


@pytest.mark.parametrize(
    ("checker", "kind", "names"),
    [("redis", "plain_on_tls", "rediss://"), ("temporal", "plain_on_tls", "TEMPORAL_API_KEY"),
     ("aws", "closed", "https://"), ("backend", "reset", "https://"), ("buli2", "reset", "https://")],
)
def test_plain_text_to_a_tls_port_says_how_to_turn_tls_on(checker: str, kind: str, names: str) -> None:
    assert names in CHECKERS[checker][0](kind)


@pytest.mark.parametrize(
    ("checker", "kind", "names"),
    [("redis", "auth", "REDIS_URL"), ("postgres", "auth", "DATABASE_URL"), ("temporal", "auth", "TEMPORAL_API_KEY"),
     ("r2", "SignatureDoesNotMatch", "CF_R2_SECRET_ACCESS_KEY"), ("buli2", "401", "BULI2_API_KEY"),
     ("aws", "auth", "AWS_ACCESS_KEY_ID")],
)
def test_wrong_credentials_name_the_variable_and_where_new_ones_come_from(checker: str, kind: str, names: str) -> None:
    fix = CHECKERS[checker][0](kind)
    assert names in fix
    assert re.search(r"current|new|again|refresh|production key|roll", fix), fix


# --- the table itself -----------------------------------------------------------------------------------------

EP = _fixes.Endpoint("X_URL", "the thing", host="h.example.com", port=1234, source="the console",
                     ca_vars=("X_CA_FILE",), managed_by="Acme", notes={"refused": "Acme: port 1234 only."})


@pytest.mark.parametrize("kind", _fixes.KINDS)
def test_every_kind_is_filled_in(kind: str) -> None:
    fix = _fixes.fix(kind, EP)
    assert "{" not in fix and (fix[0].isupper() or fix.startswith("h.example.com")), fix
    bare = _fixes.fix(kind, _fixes.Endpoint("X_URL", "the thing"))  # a judge that knows no host
    assert "{" not in bare and "None" not in bare and "the host in the host" not in bare, bare


def test_aliases_and_unknown_kinds() -> None:
    assert _fixes.canonical("tls_ca") == "unknown_ca" and _fixes.canonical("closed") == "reset"
    assert _fixes.canonical(_tls.ErrorKind.CONNECT_TIMEOUT) == "unreachable"
    assert _fixes.canonical("no_such_kind") == "other" and _fixes.canonical(None) == "other"
    assert {_fixes.canonical(k) for k in vars(_tls.ErrorKind).values() if isinstance(k, str)} <= set(_fixes.KINDS)


def test_endpoint_details_reach_the_text() -> None:
    assert _fixes.fix("refused", EP).endswith("Acme: port 1234 only.")
    assert "X_CA_FILE" in _fixes.fix("unknown_ca", EP) and "intercepting" in _fixes.fix("unknown_ca", EP)
    assert "the console" in _fixes.fix("dns", EP) and "h.example.com" in _fixes.fix("dns", EP)
    assert "X_CA_FILE" in _fixes.insecure_fix(("X_CA_FILE",)) and "PREFLIGHT_INSECURE" in _fixes.insecure_fix()
    assert "X_KEY" in _fixes.credentials_fix("X_KEY", "key", "the console")


def test_rustls_connection_reset_is_a_reset() -> None:
    text = "transport error: hyper::Error(Io, Kind(ConnectionReset))"  # temporalio after a killed frontend
    assert _tls.classify_text(text) == _tls.ErrorKind.RESET
