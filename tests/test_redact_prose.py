"""The redactor masks plausible secrets wherever they appear, but never eats prose or the tool's own fixes."""

from __future__ import annotations

from filot_preflight.manifest import load as load_manifest
from filot_preflight.redact import Redactor, plausible_secret
from filot_preflight.rules import Rule, evaluate

FIX = "Put an old password: copy the current one into both, then store the secret: run preflight secrets generate."


def test_a_word_or_short_secret_does_not_mask_that_word_everywhere() -> None:
    red = Redactor(["copy", "current", "Password", "postgres"])
    assert red.redact(f"{FIX} The postgres checker passed.") == f"{FIX} The postgres checker passed.".replace(
        "password: copy", "password: ***").replace("secret: run", "secret: ***")  # only the patterns, see below
    assert red.redact_values(FIX) == FIX


def test_plausible_secrets_are_still_masked_everywhere_and_in_urls() -> None:
    red = Redactor(["Xk9#mQ2vLp", "redis://default:s3cr3t-Pa55w0rd@h:1"])
    assert red.redact("got Xk9#mQ2vLp back") == "got *** back"
    assert "s3cr3t-Pa55w0rd" not in red.redact("AUTH failed for s3cr3t-Pa55w0rd")
    assert plausible_secret("Xk9#mQ2vLp") and not plausible_secret("postgres") and not plausible_secret("abc12")


def test_fix_text_keeps_its_words_through_the_runner_path() -> None:
    # remediation goes through redact_values: a known value is masked, a secret-shaped phrase is not
    red = Redactor(["Xk9#mQ2vLp"])
    assert red.redact_values(f"{FIX} (was Xk9#mQ2vLp)") == f"{FIX} (was ***)"


def _weak(name: str, value: str) -> list[str]:
    var = next(v for v in load_manifest().secrets() if v.name == name)
    findings = evaluate(var, value, present=frozenset({name}), allow_loopback=False, offline=True,
                        reused_with=(), checkers=frozenset())
    return [f.summary for f in findings if f.rule is Rule.WEAK]


def test_a_word_or_short_secret_is_itself_a_weak_finding() -> None:
    # a secret without a length rule of its own (free-form TLS key) that the redactor could not mask
    assert any("ordinary word" in s for s in _weak("TEMPORAL_TLS_KEY", "Sunflower"))
    assert any("ordinary word" in s for s in _weak("TEMPORAL_TLS_KEY", "k3y!"))
    assert _weak("BULI2_API_KEY", "Sunflower")  # its own minimum length says so already (one finding)
