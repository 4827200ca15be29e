"""The redactor masks known values in every shape they leak in, and secret-shaped patterns."""

import base64
import logging
from urllib.parse import quote

import pytest

from filot_preflight.redact import MASK, RedactingFilter, Redactor
from tests._timing import within

SECRET = "s3cr3t/Val+ue=="


@pytest.mark.parametrize(
    "leak",
    [SECRET, quote(SECRET, safe=""), base64.b64encode(SECRET.encode()).decode(), f"x{SECRET}y"],
)
def test_known_values_in_any_encoding(leak):
    red = Redactor([SECRET])
    out = red.redact(f"error: {leak} happened")
    assert "s3cr3t" not in out and MASK in out


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("connect postgresql://app:pw-123@db:5432/x failed", "postgresql://app:***@db", "pw-123"),
        ("https://b.s3/k?X-Amz-Signature=abcdef0123&X-Amz-Credential=AKID%2F2024", "X-Amz-Signature=***", "abcdef0123"),
        ("host=db password=hunter22 dbname=x", "password=***", "hunter22"),
        ("Authorization: Bearer tok.en.value", "Authorization: Bearer ***", "tok.en.value"),
    ],
)
def test_patterns(text, kept, gone):
    out = Redactor().redact(text)
    assert kept in out and gone not in out


def test_url_password_learned_from_value():
    red = Redactor(["rediss://default:Pa%24%24word-long@h:6380"])
    assert "Pa$$word-long" not in red.redact("AUTH failed for Pa$$word-long")


def test_short_values_are_not_masked_everywhere():
    assert Redactor(["ab"]).redact("abc cab") == "abc cab"


def test_nested_and_logging(caplog):
    red = Redactor([SECRET])
    assert red.redact_obj({"a": [SECRET, 1], SECRET: (SECRET,)}) == {"a": [MASK, 1], MASK: (MASK,)}
    logger = logging.getLogger("test-redact")
    logger.addFilter(RedactingFilter(red))
    with caplog.at_level(logging.INFO, logger="test-redact"):
        logger.info("value %s", SECRET)
        try:
            raise ValueError(SECRET)
        except ValueError:
            logger.exception("boom")
    assert SECRET not in caplog.text


def test_paths_ending_in_secret_are_prose_not_keys():
    text = "Create filot/prod/jwt-secret: preflight secrets generate JWT_SECRET"
    assert Redactor().redact(text) == text
    assert "hunter22" not in Redactor().redact('{"secret": hunter22}')


def test_atomic_write_keeps_an_ordinary_mode(tmp_path):
    import os

    from filot_preflight.fileio import atomic_write

    p = tmp_path / "r.md"
    atomic_write(p, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask
    p.chmod(0o640)
    atomic_write(p, "y")
    assert p.stat().st_mode & 0o777 == 0o640 and p.read_text() == "y"


def test_huge_secret_values_are_masked_fast():
    import time

    big = "k" * 3_000_000 + "END"
    t0 = time.perf_counter()
    red = Redactor([big, "short-secret"])
    out = red.redact(f"a {big} b short-secret c")
    assert out == "a *** b *** c"
    within(time.perf_counter() - t0, 2.0, "masking a 3 MB secret")
