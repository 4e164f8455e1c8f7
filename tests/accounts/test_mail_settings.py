"""EMAIL_URL picks the mail backend (read once, when settings load: so in a fresh process)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SHOW = """
import django, json; django.setup()
from django.conf import settings as s
print(json.dumps({k: getattr(s, k, None) for k in (
    "EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS", "EMAIL_USE_SSL", "EMAIL_FILE_PATH", "DEFAULT_FROM_EMAIL", "FRONTEND_URL",
    "PASSWORD_RESET_TIMEOUT")}))
"""


def run(code: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    environment.update(DJANGO_SETTINGS_MODULE="linklearn.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def settings_with(**env) -> dict:
    result = run(SHOW, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_default_prints_mail_to_the_console():
    shown = settings_with()
    assert shown["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert shown["PASSWORD_RESET_TIMEOUT"] == 3600
    assert shown["FRONTEND_URL"] == ""


def test_smtp_with_starttls():
    shown = settings_with(
        EMAIL_URL="smtp+tls://mailer:s3cret@smtp.example.org:587",
        DEFAULT_FROM_EMAIL="help@example.org",
        FRONTEND_URL="https://app.example.org/",
        PASSWORD_RESET_TIMEOUT="900",
    )
    assert shown["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (shown["EMAIL_HOST"], shown["EMAIL_PORT"]) == ("smtp.example.org", 587)
    assert (shown["EMAIL_HOST_USER"], shown["EMAIL_HOST_PASSWORD"]) == ("mailer", "s3cret")
    assert shown["EMAIL_USE_TLS"] is True and shown["EMAIL_USE_SSL"] is False
    assert shown["DEFAULT_FROM_EMAIL"] == "help@example.org"
    assert shown["FRONTEND_URL"] == "https://app.example.org"  # no doubled slash in links
    assert shown["PASSWORD_RESET_TIMEOUT"] == 900


def test_smtp_without_port_keeps_djangos_default_port():
    assert settings_with(EMAIL_URL="smtp://smtp.example.org")["EMAIL_PORT"] == 25


def test_filemail_writes_the_reset_mail_into_the_directory(tmp_path):
    code = """
import django; django.setup()
from types import SimpleNamespace
from accounts import mail
mail.send_password_reset(user=SimpleNamespace(name="Ada", email="ada@example.com"), uid="MQ", token="abc-123")
mail.wait_for_mail()
"""
    result = run(code, EMAIL_URL=f"filemail:///{tmp_path}")
    assert result.returncode == 0, result.stderr
    (written,) = list(tmp_path.iterdir())
    text = written.read_text()
    assert "To: ada@example.com" in text
    assert "uid: MQ" in text and "token: abc-123" in text
