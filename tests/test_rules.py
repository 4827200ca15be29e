"""Unit tables for every value rule in rules.py (pure functions, no I/O)."""

from __future__ import annotations

import base64
import json
import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filot_preflight import manifest
from filot_preflight.manifest import (
    AwsSecretRef,
    EnumFormat,
    HostPortFormat,
    IntFormat,
    RegexFormat,
    SecretFormat,
    UrlFormat,
    Variable,
)
from filot_preflight.models import Status
from filot_preflight.rules import (
    Rule,
    classify_host,
    entropy_class,
    evaluate,
    find_reuse,
    how_to_set,
    key_material,
    placeholder_kind,
)

M = manifest.load()
RNG = random.Random(20241130)  # deterministic "random" keys: the tests must not flake


def rand_b64(n: int) -> str:
    return base64.b64encode(RNG.randbytes(n)).decode()


def rand_hex(n: int) -> str:
    return RNG.randbytes(n).hex()


def var(name: str = "X", **kw) -> Variable:
    kw.setdefault("section", "app")
    kw.setdefault("description", "test variable")
    return Variable(name=name, **kw)


def rules_of(findings) -> set[str]:
    return {f.rule.value for f in findings}


# --- hosts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", "loopback"),
        ("LOCALHOST", "loopback"),
        ("localhost.", "loopback"),
        ("api.localhost", "loopback"),
        ("ip6-localhost", "loopback"),
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("127.255.255.254", "loopback"),
        ("127.1", "loopback"),  # inet_aton short form
        ("0x7f.1", "loopback"),
        ("2130706433", "loopback"),  # 127.0.0.1 as one integer
        ("::1", "loopback"),
        ("[::1]", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "metadata"),
        ("169.254.169.253", "link-local"),
        ("fd00:ec2::254", "metadata"),
        ("::ffff:169.254.169.254", "metadata"),
        ("fe80::1%eth0", "link-local"),
        ("10.0.0.5", "private"),
        ("10.255.1.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.1", "private"),
        ("192.168.1.10", "private"),
        ("fd12:3456::1", "private"),
        ("::ffff:10.1.2.3", "private"),
        ("100.64.0.1", "reserved"),  # carrier-grade NAT
        ("224.0.0.1", "reserved"),
        ("redis", "single-label"),
        ("postgres", "single-label"),
        ("db.internal", "local-name"),
        ("host.docker.internal", "local-name"),
        ("printer.local", "local-name"),
        ("router.home.arpa", "local-name"),
        ("eu1-brave-falcon-41234.upstash.io", None),
        ("ep-quiet-river-a1b2c3d4-pooler.eu-central-1.aws.neon.tech", None),
        ("api.filot.example.com", None),
        ("172.32.0.1", None),  # just outside 172.16/12
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("localhost.example.com", None),  # a public name that merely starts with localhost
        ("", None),
    ],
)
def test_classify_host(host, expected):
    assert classify_host(host) == expected


# --- key material and entropy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoding", "expected"),
    [
        (rand_b64(48), "any", ("base64", 48)),  # openssl rand -base64 48: 64 chars, no padding
        (rand_b64(32), "any", ("base64", 32)),  # 44 chars with '=' padding
        (rand_b64(32).rstrip("="), "any", ("base64", 32)),  # padding dropped
        (base64.urlsafe_b64encode(RNG.randbytes(33)).decode(), "any", ("base64", 33)),
        (rand_hex(32), "any", ("hex", 32)),  # hex wins over base64 (which would claim 48)
        (rand_hex(32).upper(), "any", ("hex", 32)),
        (rand_hex(32), "hex", ("hex", 32)),
        (rand_hex(32)[:-1], "hex", None),  # odd length
        ("zz" + rand_hex(31), "hex", None),
        (rand_b64(32), "base64", ("base64", 32)),
        ("not base64!", "base64", None),
        ("abcde", "base64", None),  # length % 4 == 1 can never be base64
        ("ab=c", "base64", None),  # padding in the middle
        ("a+b-", "any", ("text", 4)),  # mixes the standard and url-safe alphabets
        ("pässwörd-with-ümlauts", "any", ("text", 24)),  # UTF-8 bytes, not characters
        ("correct horse battery staple", "any", ("text", 28)),
    ],
)
def test_key_material(value, encoding, expected):
    assert key_material(value, encoding) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "low"),
        ("a", "low"),
        ("a" * 64, "low"),
        ("ab" * 32, "low"),
        ("password", "low"),
        ("hunter2hunter2hunter2", "low"),
        ("P@ssw0rd!P@ssw0rd!", "low"),
        ("Password1234", "medium"),
        ("correct horse battery staple", "medium"),
        ("0123456789abcdef" * 2, "medium"),  # period 16: one period counts
        (rand_b64(16), "high"),
        (rand_b64(32), "high"),
        (rand_b64(48), "high"),
        (rand_hex(16), "high"),
        (rand_hex(32), "high"),
        (rand_b64(4096), "high"),  # very long
    ],
)
def test_entropy_class(value, expected):
    assert entropy_class(value) == expected


def test_real_random_keys_are_high_entropy_at_the_minimum_length():
    # 2,000 keys of exactly 16 bytes in three encodings: the estimator must not call any "medium".
    for _ in range(2000):
        raw = RNG.randbytes(16)
        for v in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("="), raw.hex()):
            assert entropy_class(v) == "high", v


# --- placeholders -----------------------------------------------------------------------------------

SECRET_VAR = var("API_TOKEN", secret=True, format=SecretFormat(min_bytes=16), example="tok_example_123")
PLAIN_VAR = var("CALLBACK_URL", format=UrlFormat(schemes=["https"]), example="https://api.filot.example.com")
ACCOUNT_VAR = var(
    "ACCOUNT", format=RegexFormat(pattern="[0-9]{12}"), example="123456789012", aws_secret=AwsSecretRef(id="x/acc")
)


@pytest.mark.parametrize(
    ("variable", "value", "kind"),
    [
        (SECRET_VAR, "changeme", "a replace-this marker"),
        (SECRET_VAR, "CHANGEME", "a replace-this marker"),
        (SECRET_VAR, "change_me", "a replace-this marker"),
        (SECRET_VAR, "sk_live_change-me", "a replace-this marker"),
        (SECRET_VAR, "ｃｈａｎｇｅｍｅ", "a replace-this marker"),  # fullwidth, NFKC-folded
        (SECRET_VAR, "replace-me", "a replace-this marker"),
        (SECRET_VAR, "TODO", "an unfinished-work marker"),
        (SECRET_VAR, "todo: ask ops", "an unfinished-work marker"),
        (SECRET_VAR, "FIXME", "an unfinished-work marker"),
        (SECRET_VAR, "xxx", "an x-filler"),
        (SECRET_VAR, "XXXX-XXXX-XXXX", "an x-filler"),
        (SECRET_VAR, "<secret>", "an angle-bracket template"),
        (SECRET_VAR, "<paste the key from the dashboard>", "an angle-bracket template"),
        (SECRET_VAR, "your-api-key-here", "template text (your ... here)"),
        (SECRET_VAR, "YOUR_SECRET_HERE", "template text (your ... here)"),
        (SECRET_VAR, "your_token", "template text (your ... here)"),
        (SECRET_VAR, "${API_TOKEN}", "an unexpanded shell/template reference"),
        (SECRET_VAR, "{{ api_token }}", "an unexpanded shell/template reference"),
        (SECRET_VAR, "$API_TOKEN", "an unexpanded shell/template reference"),
        (SECRET_VAR, "tok_example_123", "the manifest's own example value"),
        (SECRET_VAR, " TOK_EXAMPLE_123 ".strip(), "the manifest's own example value"),
        (SECRET_VAR, "password", "a generic word instead of a real value"),
        (SECRET_VAR, "Secret", "a generic word instead of a real value"),
        (SECRET_VAR, "null", "a generic word instead of a real value"),
        (SECRET_VAR, "sk_example_key", "an example/dummy marker"),
        (SECRET_VAR, "dummy-token-for-ci", "an example/dummy marker"),
        (SECRET_VAR, "abc...xyz", "an elided value (three dots)"),
        (SECRET_VAR, "abc\u2026", "an elided value (three dots)"),
        (SECRET_VAR, "aaaaaaaaaaaaaaaaaaaaaaaa", "a repeated-character pattern"),
        (SECRET_VAR, "abcabcabcabcabcabc", "a repeated-character pattern"),
        (SECRET_VAR, "1234567890", "a sequential run of characters"),
        (SECRET_VAR, "abcdefghijkl", "a sequential run of characters"),
        (SECRET_VAR, "987654321", "a sequential run of characters"),
        (ACCOUNT_VAR, "123456789012", "the manifest's own example value"),
        (ACCOUNT_VAR, "111111111111", "a repeated-character pattern"),
        (ACCOUNT_VAR, "234567890123", "a sequential run of characters"),
        (PLAIN_VAR, "https://<your-domain>/api/webhooks/buli2", "an angle-bracket template"),
        (PLAIN_VAR, "https://TODO/api", "an unfinished-work marker"),
        # not placeholders
        (SECRET_VAR, rand_b64(32), None),
        (SECRET_VAR, rand_hex(32), None),
        (SECRET_VAR, "exampleless-" + rand_b64(24), None),  # 'example' only as a whole token
        (SECRET_VAR, "todolist-" + rand_b64(24), None),
        (SECRET_VAR, "ab", None),
        (ACCOUNT_VAR, "125230980894", None),
        (PLAIN_VAR, "https://api.filot.example.com", None),  # a plain setting's example is a fine value
        (PLAIN_VAR, "https://example.com/hook", None),  # example domains only flag secrets
        (var("PORT", format=IntFormat(min=1, max=65535)), "1111", None),  # repeated digits are fine ints
        (var("NODE_ENV", format=EnumFormat(values=["production"]), example="production"), "production", None),
    ],
)
def test_placeholder_kind(variable, value, kind):
    assert placeholder_kind(variable, value) == kind


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("postgresql://app:<password>@db.neon.tech/filot", "an angle-bracket template"),
        ("rediss://default:<token>@eu1.upstash.io:6379", "an angle-bracket template"),
        ("${JWT_SECRET:-fallback}", "an unexpanded shell/template reference"),
        # symbol-rich random passwords: brackets and braces alone are not templates
        ("k<Q9>p!a}{Zr#", None),
        ("a<b3>c$}{x", None),
        ("v${1}w", None),
        ("p{{x}}q", None),
    ],
)
def test_placeholder_brackets_need_template_shape(value, kind):
    assert placeholder_kind(SECRET_VAR, value) == kind


def test_random_printable_passwords_are_rarely_placeholders():
    # Generated passwords with symbols (not the manifest's base64/hex recipes) must not look like
    # templates: measured at about 2 in 10,000 for 44 characters.
    alphabet = string.ascii_letters + string.digits + string.punctuation
    rng = random.Random(44)
    hits = sum(
        placeholder_kind(SECRET_VAR, "".join(rng.choice(alphabet) for _ in range(44))) is not None
        for _ in range(20_000)
    )
    assert hits <= 10


def test_placeholder_suppresses_weaker_findings():
    found = evaluate(M.variable("JWT_SECRET"), "changeme")
    assert [(f.rule, f.status) for f in found] == [(Rule.PLACEHOLDER, Status.FAIL)]
    assert "filot/prod/jwt-secret" in found[0].remediation


# --- URLs: scheme, TLS, hosts ---------------------------------------------------------------------

REDIS = M.variable("REDIS_URL")
PG = M.variable("DATABASE_URL")
HTTPS = M.variable("APP_ORIGIN")
NEON = "ep-quiet-river-a1b2c3d4-pooler.eu-central-1.aws.neon.tech"
UPSTASH = "eu1-brave-falcon-41234.upstash.io"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (REDIS, f"rediss://default:pw0rdAbc12@{UPSTASH}:6379", {"ok"}),
        (REDIS, f"REDISS://default:pw0rdAbc12@{UPSTASH}:6379", {"ok"}),  # schemes are case-insensitive
        (REDIS, f"redis://default:pw0rdAbc12@{UPSTASH}:6379", {"tls"}),
        (REDIS, "redis://localhost:6379", {"tls", "loopback"}),
        (REDIS, "rediss://127.0.0.2:6380", {"loopback"}),
        (REDIS, "rediss://[::1]:6380/0", {"loopback"}),
        (REDIS, "rediss://10.0.3.7:6379", {"loopback"}),
        (REDIS, "rediss://192.168.0.20:6379", {"loopback"}),
        (REDIS, "rediss://localhost.:6379", {"loopback"}),
        (REDIS, "rediss://redis:6379", {"loopback"}),  # docker-compose service name
        (REDIS, "unix:///var/run/redis.sock", {"malformed"}),
        (REDIS, f"{UPSTASH}:6379", {"malformed"}),  # no scheme at all
        (REDIS, f"rediss://{UPSTASH}:notaport", {"malformed"}),
        (REDIS, f"rediss://{UPSTASH}:70000", {"malformed"}),
        (REDIS, "rediss://[::1:6379", {"malformed"}),  # broken IPv6 literal
        (REDIS, "rediss:///0", {"malformed"}),  # no host
        (PG, f"postgresql://app:pw@{NEON}/filot?sslmode=require", {"ok"}),
        (PG, f"postgresql://app:pw@{NEON}/filot?sslmode=verify-ca", {"ok"}),
        (PG, f"postgres://app:pw@{NEON}/filot?sslmode=verify-full", {"ok"}),
        (PG, f"postgresql://app:pw@{NEON}/filot?connect_timeout=5&sslmode=verify-full", {"ok"}),
        (PG, f"postgresql://app:pw@{NEON}/filot?sslmode=disable", {"tls"}),
        (PG, f"postgresql://app:pw@{NEON}/filot?sslmode=allow", {"tls"}),
        (PG, f"postgresql://app:pw@{NEON}/filot?sslmode=prefer", {"tls"}),
        (PG, f"postgresql://app:pw@{NEON}/filot", {"tls"}),  # absent: libpq defaults to prefer
        (PG, f"postgresql://app:pw@{NEON}/filot?ssl=true", {"tls"}),  # not libpq's parameter
        (PG, f"postgresql://app:pw@{NEON}/filot?sslmode=", {"malformed"}),
        (PG, f"postgresql://app:pw@{NEON}/filot?sslmode=REQUIRE", {"malformed"}),  # libpq is case-sensitive
        (PG, f"postgresql://app:pw@{NEON}/filot?sslmode=disable&sslmode=require", {"malformed"}),
        (PG, f"postgresql+psycopg://app:pw@{NEON}/filot?sslmode=require", {"malformed"}),
        (PG, f"postgresql+asyncpg://app:pw@{NEON}/filot", {"malformed", "tls"}),
        (PG, f"mysql://app:pw@{NEON}/filot?sslmode=require", {"malformed"}),
        (PG, "postgresql://app:pw@localhost:5432/filot?sslmode=require", {"loopback"}),
        (PG, "postgresql://app:pw@127.0.0.1/filot", {"tls", "loopback"}),
        (HTTPS, "https://app.filot.example.com", {"ok"}),
        (HTTPS, "http://app.filot.example.com", {"tls"}),
        (HTTPS, "ftp://app.filot.example.com", {"malformed"}),
        (HTTPS, "https://", {"malformed"}),
        (HTTPS, "https://localhost:3000", {"loopback"}),
        (HTTPS, "https://[fe80::1%25eth0]:8443", {"loopback"}),
        (HTTPS, "https://app.filot.example.com/" + "a" * 100_000, {"ok"}),  # very long
        (HTTPS, "https://bücher.example/", {"ok"}),  # IDN host
        (HTTPS, " https://app.filot.example.com", {"malformed"}),  # leading whitespace
        (HTTPS, "https://app.filot.example.com\t", {"malformed"}),
    ],
)
def test_url_rules(variable, value, expected):
    assert rules_of(evaluate(variable, value)) == expected


def test_url_tls_remediations_name_the_concrete_fix():
    (redis,) = evaluate(REDIS, f"redis://default:pw@{UPSTASH}:6379")
    assert "rediss://" in redis.summary and "filot/prod/redis-url" in redis.remediation
    (pg,) = evaluate(PG, f"postgresql://app:pw@{NEON}/filot?sslmode=prefer")
    assert "sslmode=prefer" in pg.summary
    assert "sslmode=verify-full" in pg.remediation and "filot/prod/database-url" in pg.remediation


# --- host:port --------------------------------------------------------------------------------------

TEMPORAL = M.variable("TEMPORAL_ADDRESS")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("filot-prod.k7m2q.tmprl.cloud:7233", {"ok"}),
        ("filot-prod.k7m2q.tmprl.cloud.:7233", {"ok"}),
        ("localhost:7233", {"loopback"}),
        ("localhost.:7233", {"loopback"}),
        ("127.0.0.1:7233", {"loopback"}),
        ("[::1]:7233", {"loopback"}),
        ("10.1.2.3:7233", {"loopback"}),
        ("temporal:7233", {"loopback"}),
        ("filot-prod.k7m2q.tmprl.cloud", {"malformed"}),  # no port
        ("https://filot-prod.k7m2q.tmprl.cloud:7233", {"malformed"}),
        ("filot-prod.k7m2q.tmprl.cloud:0", {"malformed"}),
        ("filot-prod.k7m2q.tmprl.cloud:65536", {"malformed"}),
        ("filot-prod.k7m2q.tmprl.cloud:72x3", {"malformed"}),
        ("::1:7233", {"malformed"}),  # IPv6 needs brackets
        ("filot prod:7233", {"malformed"}),
    ],
)
def test_hostport_rules(value, expected):
    assert rules_of(evaluate(TEMPORAL, value)) == expected


@pytest.mark.parametrize("value", ["rediss://localhost:6380", "rediss://127.0.0.2:6380", "rediss://[::1]:6380"])
def test_allow_loopback_passes_with_evidence(value):
    (f,) = evaluate(REDIS, value, allow_loopback=True)
    assert (f.rule, f.status) == (Rule.OK, Status.PASS)
    assert f.evidence["loopback_allowed"] is True and f.evidence["host_class"] == "loopback"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (var("SIDE", format=HostPortFormat(public=False)), "127.0.0.1:9000", {"ok"}),
        (var("SIDE", format=HostPortFormat(public=True)), "127.0.0.1:9000", {"loopback"}),
        (var("METRICS", format=UrlFormat(schemes=["http"], public=False)), "http://localhost:9100", {"ok"}),
        (var("METRICS", format=UrlFormat(schemes=["http"], public=True)), "http://localhost:9100", {"loopback"}),
    ],
)
def test_public_false_formats_accept_local_hosts(variable, value, expected):
    assert rules_of(evaluate(variable, value)) == expected


def test_allow_loopback_does_not_excuse_plaintext():
    assert rules_of(evaluate(REDIS, "redis://localhost:6379", allow_loopback=True)) == {"tls"}


# --- ints, enums, regexes ---------------------------------------------------------------------------

PORT = var("PORT", format=IntFormat(min=1, max=65535))
LOW_ONLY = var("N", format=IntFormat(min=0))
LEVEL = var("LOG_LEVEL", format=EnumFormat(values=["info", "debug"]))
ACCOUNT = M.variable("AWS_ACCOUNT_ID")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (PORT, "8080", {"ok"}),
        (PORT, "1", {"ok"}),
        (PORT, "65535", {"ok"}),
        (PORT, "+443", {"ok"}),
        (PORT, "0", {"malformed"}),
        (PORT, "65536", {"malformed"}),
        (PORT, "-1", {"malformed"}),
        (PORT, "80.0", {"malformed"}),
        (PORT, "1e3", {"malformed"}),
        (PORT, "1_000", {"malformed"}),  # Python's int() accepts it; Node's parseInt does not
        (PORT, "٣٠٠٠", {"malformed"}),  # Arabic-Indic digits
        (PORT, "8080 ", {"malformed"}),
        (PORT, "9" * 40, {"malformed"}),
        (LOW_ONLY, "99999999", {"ok"}),
        (LOW_ONLY, "-5", {"malformed"}),
        (LEVEL, "info", {"ok"}),
        (LEVEL, "INFO", {"malformed"}),
        (LEVEL, "verbose", {"malformed"}),
        (ACCOUNT, "125230980894", {"ok"}),
        (ACCOUNT, "12523098089", {"malformed"}),
        (ACCOUNT, "1252309808941", {"malformed"}),
        (ACCOUNT, "12523098089a", {"malformed"}),
        (ACCOUNT, "1252-3098-0894", {"malformed"}),
        (ACCOUNT, "１２５２３０９８０８９４", {"malformed"}),  # fullwidth digits
        (ACCOUNT, "123456789012", {"placeholder"}),  # the manifest's example
        (var("BAD", format=RegexFormat.model_construct(pattern="[unclosed")), "x", {"malformed"}),  # skips the load-time check
    ],
)
def test_int_enum_regex(variable, value, expected):
    assert rules_of(evaluate(variable, value)) == expected


def test_case_only_enum_mismatch_says_case_sensitive():
    (f,) = evaluate(LEVEL, "Info")
    assert "case-sensitive" in f.summary and "one of: info, debug" in f.remediation


# --- secret strength --------------------------------------------------------------------------------

JWT = M.variable("JWT_SECRET")
ENC = M.variable("ENCRYPTION_KEY")  # base64 declared
SIK = M.variable("SERVICE_INTERNAL_KEY")
HEXKEY = var("HEXKEY", secret=True, format=SecretFormat(min_bytes=32, encoding="hex"))


@pytest.mark.parametrize(
    ("variable", "value", "expected", "status"),
    [
        (JWT, rand_b64(48), {"ok"}, Status.PASS),  # openssl rand -base64 48
        (JWT, rand_b64(64), {"ok"}, Status.PASS),
        (JWT, rand_hex(48), {"ok"}, Status.PASS),
        (JWT, rand_b64(32), {"weak"}, Status.FAIL),  # openssl rand -base64 32: too short for a JWT key
        (JWT, rand_hex(32), {"weak"}, Status.FAIL),  # 64 hex chars = 32 bytes, not 48
        (JWT, rand_b64(47), {"weak"}, Status.FAIL),
        (JWT, "Tr0ub4dor&3", {"weak"}, Status.FAIL),
        (JWT, "é" * 3 + "ü", {"weak"}, Status.FAIL),
        (SIK, rand_hex(32), {"ok"}, Status.PASS),
        (SIK, rand_b64(32), {"ok"}, Status.PASS),
        (SIK, "correct horse battery staple pls", {"weak"}, Status.WARN),  # long enough, medium entropy
        (ENC, rand_b64(32), {"ok"}, Status.PASS),
        (ENC, rand_b64(32).rstrip("="), {"ok"}, Status.PASS),
        (ENC, rand_b64(16), {"weak"}, Status.FAIL),
        (ENC, "not base64 at all!", {"malformed"}, Status.FAIL),
        (HEXKEY, rand_hex(32), {"ok"}, Status.PASS),
        (HEXKEY, rand_b64(32), {"malformed"}, Status.FAIL),
        (HEXKEY, rand_hex(16), {"weak"}, Status.FAIL),
    ],
)
def test_secret_strength(variable, value, expected, status):
    found = evaluate(variable, value)
    assert rules_of(found) == expected
    assert {f.status for f in found} == {status}


def test_weak_jwt_secret_names_48_bytes_and_the_recipe():
    (f,) = evaluate(JWT, rand_b64(32))
    assert "32 bytes" in f.summary and "48" in f.summary
    assert f.evidence["decoded_bytes"] == 32 and f.evidence["min_bytes"] == 48
    assert "openssl rand -base64 48" in f.remediation
    assert "AWS Secrets Manager at filot/prod/jwt-secret" in f.remediation


@pytest.mark.parametrize("variable", [v for v in M.secrets() if v.generate is not None], ids=lambda v: v.name)
def test_values_from_each_generate_recipe_pass(variable):
    # What `preflight secrets generate` produces must satisfy the rules it is generated for.
    g = variable.generate
    for _ in range(200):
        raw = RNG.randbytes(g.bytes)
        value = {
            "base64": base64.b64encode(raw).decode(),
            "hex": raw.hex(),
            "urlsafe": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        }[g.encoding]
        assert rules_of(evaluate(variable, value)) == {"ok"}, value


# --- test keys ----------------------------------------------------------------------------------------

STRIPE = var("STRIPE_KEY", secret=True, format=SecretFormat(min_bytes=16, test_prefixes=["sk_test_", "acme_dev_"]))


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (STRIPE, "sk_test_" + rand_b64(24), {"test_key"}),
        (STRIPE, "pk_test_" + rand_b64(24), {"test_key"}),
        (STRIPE, "acme_dev_" + rand_b64(24), {"test_key"}),  # the manifest's own prefix
        (STRIPE, "sk_live_" + rand_b64(24), {"ok"}),
        (STRIPE, "SK_TEST_" + rand_b64(24), {"ok"}),  # prefixes are case-sensitive, as providers issue them
        (M.variable("RESEND_API_KEY"), "sk_test_" + "A1b2C3d4E5f6G7h8i9", {"malformed", "test_key"}),
        (var("PLAIN", format=RegexFormat(pattern=".+")), "sk_test_abc", {"ok"}),  # only secrets
    ],
)
def test_test_keys(variable, value, expected):
    assert rules_of(evaluate(variable, value)) == expected


# --- missing, optional, required_if ----------------------------------------------------------------

NS = M.variable("TEMPORAL_NAMESPACE")
OPT = var("OPT", required=False, default="10")


@pytest.mark.parametrize(
    ("variable", "value", "present", "rule", "status"),
    [
        (JWT, None, set(), Rule.MISSING, Status.FAIL),
        (JWT, "", set(), Rule.MISSING, Status.FAIL),
        (JWT, "   ", set(), Rule.MISSING, Status.FAIL),
        (JWT, "\t\n", set(), Rule.MISSING, Status.FAIL),
        (NS, None, {"TEMPORAL_ADDRESS"}, Rule.MISSING, Status.FAIL),
        (NS, "", {"TEMPORAL_ADDRESS"}, Rule.MISSING, Status.FAIL),
        (NS, None, set(), Rule.OPTIONAL, Status.SKIP),
        (NS, None, {"OTHER"}, Rule.OPTIONAL, Status.SKIP),
        (OPT, None, set(), Rule.OPTIONAL, Status.SKIP),
        (OPT, "  ", set(), Rule.OPTIONAL, Status.SKIP),
    ],
)
def test_missing_and_optional(variable, value, present, rule, status):
    (f,) = evaluate(variable, value, present=present)
    assert (f.rule, f.status) == (rule, status)


def test_missing_messages():
    (f,) = evaluate(NS, None, present={"TEMPORAL_ADDRESS"})
    assert "required because TEMPORAL_ADDRESS is set" in f.summary
    assert "filot/prod/temporal (JSON key namespace)" in f.remediation
    (blank,) = evaluate(JWT, "")
    assert "set but empty" in blank.summary and blank.evidence["length"] == 0
    (skip,) = evaluate(OPT, None)
    assert skip.summary == "OPT: optional, not set" and "default 10" in skip.detail
    (cond,) = evaluate(NS, None)
    assert "only when TEMPORAL_ADDRESS is set" in cond.detail


def test_how_to_set_uses_obtain_and_the_secret_path():
    assert how_to_set(JWT) == (
        "Generate: openssl rand -base64 48 and store it in AWS Secrets Manager at filot/prod/jwt-secret "
        "(or run: preflight secrets generate JWT_SECRET)."
    )
    assert how_to_set(M.variable("BULI2_API_KEY")).startswith("Obtain from the BULI2 service team")
    assert "filot/prod/buli2 (JSON key api_key)" in how_to_set(M.variable("BULI2_API_KEY"))
    assert how_to_set(M.variable("OCR_MODEL_NAME")) == (
        "Set OCR_MODEL_NAME to a value like paddleocr-v4 in the service's environment (ECS task definition)."
    )
    assert "openssl rand -hex 32" in how_to_set(HEXKEY)


# --- needs verification -------------------------------------------------------------------------------

GOOD_PG = f"postgresql://app:pw@{NEON}/filot?sslmode=verify-full"


@pytest.mark.parametrize(
    ("offline", "checkers", "rule", "status"),
    [
        (True, None, Rule.NEEDS_VERIFICATION, Status.WARN),
        (True, {"postgres", "secrets"}, Rule.NEEDS_VERIFICATION, Status.WARN),
        (False, None, Rule.OK, Status.PASS),
        (False, {"postgres"}, Rule.OK, Status.PASS),
        (False, {"secrets"}, Rule.NEEDS_VERIFICATION, Status.WARN),  # its checker is not installed
        (True, {"secrets"}, Rule.NEEDS_VERIFICATION, Status.WARN),
    ],
)
def test_needs_verification(offline, checkers, rule, status):
    (f,) = evaluate(PG, GOOD_PG, offline=offline, checkers=checkers)
    assert (f.rule, f.status) == (rule, status)
    assert f.evidence["verified_by"] == "postgres"


def test_needs_verification_text():
    (off,) = evaluate(PG, GOOD_PG, offline=True, checkers={"postgres"})
    assert "postgres checker" in off.summary and "--offline" in off.summary
    assert "preflight check --only postgres" in off.remediation
    (absent,) = evaluate(PG, GOOD_PG, offline=True, checkers={"secrets"})
    assert "--only" not in absent.remediation and "preflight checkers" in absent.remediation


def test_failing_value_is_not_also_needs_verification():
    assert rules_of(evaluate(PG, f"postgresql://app:pw@{NEON}/filot", offline=True)) == {"tls"}


# --- reuse --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], {}),
        ([("a", "A", "v1"), ("b", "B", "v2")], {}),
        ([("a", "A", "same"), ("b", "B", "same")], {"a": ["B"], "b": ["A"]}),
        ([("a", "A", "same"), ("b", "B", " same ")], {"a": ["B"], "b": ["A"]}),  # whitespace does not hide reuse
        ([("a", "A", "s"), ("b", "B", "s"), ("c", "C", "s")], {"a": ["B", "C"], "b": ["A", "C"], "c": ["A", "B"]}),
        ([("A", "K", "s"), ("w:K", "K", "s")], {}),  # one secret read by two services is not reuse
        ([("A", "K", "s"), ("w:K", "K", "s"), ("J", "J", "s")], {"A": ["J"], "w:K": ["J"], "J": ["K"]}),
        ([("a", "A", ""), ("b", "B", "")], {}),
        ([("a", "A", "  "), ("b", "B", "\t")], {}),
    ],
)
def test_find_reuse(items, expected):
    assert find_reuse(items) == expected


def test_reused_secret_fails_and_names_the_other():
    value = rand_b64(48)
    (f,) = evaluate(JWT, value, reused_with=["SESSION_SECRET"])
    assert (f.rule, f.status) == (Rule.REUSED, Status.FAIL)
    assert "SESSION_SECRET" in f.summary and f.evidence["reused_with"] == ["SESSION_SECRET"]
    assert "filot/prod/jwt-secret" in f.remediation


# --- values never leave -----------------------------------------------------------------------------

LEAK_CASES = [
    (JWT, "changeme-" + "Zq8vLm3Kp0"),
    (JWT, "Zq8vLm3Kp0Xw"),
    (JWT, rand_b64(32)),
    (JWT, rand_b64(48)),
    (JWT, "sk_test_" + rand_b64(40)),
    (REDIS, "redis://default:Zq8vLm3Kp0Xw@localhost:6379"),
    (PG, "postgresql+psycopg://u:Zq8vLm3Kp0Xw@10.0.0.1/db?sslmode=prefer"),
    (PG, GOOD_PG + "&application_name=Zq8vLm3Kp0Xw"),
    (TEMPORAL, "127.0.0.1:7233"),
    (ACCOUNT, "12345678901x"),
    (M.variable("STACK_SECRET_SERVER_KEY"), "ssk_short"),
    (M.variable("RESEND_API_KEY"), "  re_Zq8vLm3Kp0XwYt7u  "),
]


@pytest.mark.parametrize(("variable", "value"), LEAK_CASES)
def test_no_finding_contains_the_value(variable, value):
    for offline in (True, False):
        for f in evaluate(variable, value, offline=offline, reused_with=["OTHER"] if variable.secret else ()):
            blob = json.dumps([f.summary, f.remediation, f.detail, f.evidence])
            assert value not in blob and value.strip() not in blob
            assert set(f.evidence) <= {
                "length", "entropy", "min_bytes", "decoded_bytes", "encoding", "host_class",
                "loopback_allowed", "verified_by", "reused_with", "required_if",
            }


CANARY = "Qz7Wv"  # no message text contains it, so finding it in a result can only be a leak
_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "+/=_-:@.?&%[]<>$ \u00e9\u0434", max_size=40)
_PREFIXES = ["", "rediss://", "redis://default:", "postgresql://u:", "https://", "sk_test_", "[::1]:", "localhost:"]


@settings(max_examples=400, deadline=None)
@given(
    parts=st.tuples(st.sampled_from(_PREFIXES), _TEXT, _TEXT),
    name=st.sampled_from(["JWT_SECRET", "REDIS_URL", "DATABASE_URL", "TEMPORAL_ADDRESS", "AWS_ACCOUNT_ID", "PORT"]),
)
def test_any_value_gives_findings_without_leaking_it(parts, name):
    prefix, a, b = parts
    value = f"{prefix}{a}{CANARY}{b}"
    findings = evaluate(M.variable(name), value, offline=True)
    assert findings
    for f in findings:
        assert f.variable == name
        assert f.status is Status.PASS or f.remediation or f.rule is Rule.OPTIONAL
        assert CANARY not in json.dumps([f.summary, f.remediation, f.detail, f.evidence], ensure_ascii=False)
