"""Issue 14 item 10: the encoded and partial forms a secret can leak in are masked too."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from filot_preflight.redact import Redactor, process_env_secrets

PASSWORD = 'p"a\\ss-é-W0rd-9f3k'
URL = f"rediss://default:{PASSWORD}@cache.example.com:6379"
TOKEN = "tkn_" + "8fJ2kQ0zLw5mX7vB3nR1cY6dE4gH9aT"


@pytest.mark.parametrize(
    "leak",
    [
        base64.b64encode(f"default:{PASSWORD}".encode()).decode(),  # an HTTP Basic header echoed back
        base64.b64encode(PASSWORD.encode()).decode(),
        json.dumps(PASSWORD)[1:-1],  # the JSON report / a JSON error body
        json.dumps(PASSWORD, ensure_ascii=False)[1:-1],
        repr(PASSWORD)[1:-1],  # an exception's repr of the value
        json.dumps(json.dumps({"password": PASSWORD})),  # a JSON body logged inside JSON
        TOKEN[3:19],  # a 16-character fragment
        TOKEN[10:],
    ],
)
def test_encoded_and_partial_forms_are_masked(leak):
    r = Redactor([URL, TOKEN])
    out = r.redact(f"server said: <{leak}>")
    assert leak not in out
    assert PASSWORD not in out and TOKEN[3:19] not in out


def test_ordinary_text_is_untouched():
    r = Redactor([URL, TOKEN])
    text = "redis.tls PASS for cache.example.com:6379 (rediss://default:***@...) took 12 ms"
    assert r.redact(text) == text


def test_process_env_secrets_take_long_secret_looking_values_only():
    env = {"VENDOR_API_KEY": "k" * 20, "FEATURE_TOKEN_ENABLED": "true", "HOME": "/root/" + "x" * 20}
    assert process_env_secrets(env) == ["k" * 20]


class _Echo(BaseHTTPRequestHandler):
    """A Secrets Manager stand-in whose CreateSecret error echoes the request body (as some proxies do)."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith("GetSecretValue"):
            payload = {"__type": "ResourceNotFoundException", "message": "not found"}
        else:
            payload = {"__type": "ValidationException", "message": f"bad request: {body}"}
        data = json.dumps(payload).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_secrets_generate_put_never_prints_the_new_value(capsys, monkeypatch):
    from filot_preflight.commands import secrets as secrets_cmd
    from tests._cli import run

    printed: list[str] = []
    real = secrets_cmd.new_value

    def spy(recipe):  # type: ignore[no-untyped-def]
        v = real(recipe)
        printed.append(v)
        return v

    monkeypatch.setattr(secrets_cmd, "new_value", spy)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        code, out, err = run(capsys, "secrets", "generate", "JWT_SECRET", "--put", "--aws-region", "us-east-1",
                             "--aws-endpoint", f"http://127.0.0.1:{server.server_port}", "--allow-loopback")
    finally:
        server.shutdown()
    assert code == 2 and printed, (code, out, err)
    assert "bad request" in err  # the echo did reach the message ...
    for form in (printed[0], json.dumps(printed[0])[1:-1], printed[0][:16]):
        assert form not in out + err  # ... with the value masked
