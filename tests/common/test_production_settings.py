"""The production guard runs when settings are imported, so it is checked in a fresh process."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    environment.update(DJANGO_SETTINGS_MODULE="linklearn.settings", ALLOWED_HOSTS="example.com", **env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


SETUP = ["-c", "import django; django.setup()"]


@pytest.mark.parametrize(
    "key",
    [None, "", "django-insecure-link-and-learn-development-only", "short-key"],
    ids=["missing", "empty", "default", "short"],
)
def test_production_refuses_to_start_without_a_real_secret_key(key):
    env = {"DEBUG": "False"}
    if key is not None:
        env["SECRET_KEY"] = key
    result = run(*SETUP, **env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_starts_with_a_real_secret_key():
    result = run(*SETUP, DEBUG="False", SECRET_KEY=secrets.token_urlsafe(64))
    assert result.returncode == 0, result.stderr


def test_deploy_checks_are_clean():
    result = run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="False",
        SECRET_KEY=secrets.token_urlsafe(64),
    )
    assert result.returncode == 0, result.stdout + result.stderr
