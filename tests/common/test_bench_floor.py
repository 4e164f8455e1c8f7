"""/api/bench/floor/ exists only while BENCH_FLOOR_VIEW is on, and production checks refuse it."""

import importlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import clear_url_caches

from common.checks import bench_floor_view_off

ROOT = Path(__file__).resolve().parents[2]


def _reload_urls():
    import linklearn.urls

    importlib.reload(linklearn.urls)
    clear_url_caches()


@pytest.fixture
def floor_on(settings):
    settings.BENCH_FLOOR_VIEW = True
    _reload_urls()
    yield
    settings.BENCH_FLOOR_VIEW = False
    _reload_urls()


def test_floor_is_not_routed_by_default(client, settings):
    assert settings.BENCH_FLOOR_VIEW is False

    response = client.get("/api/bench/floor/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_floor_answers_a_constant_page_of_twenty_when_on(client, floor_on):
    first = client.get("/api/bench/floor/")
    second = client.get("/api/bench/floor/")

    assert first.status_code == 200
    assert first["Content-Type"] == "application/json"
    assert len(first.json()["results"]) == 20
    assert first.content == second.content


def test_deploy_check_warns_while_the_floor_is_on(settings):
    settings.BENCH_FLOOR_VIEW = True
    assert [w.id for w in bench_floor_view_off(None)] == ["linklearn.W001"]
    settings.BENCH_FLOOR_VIEW = False
    assert bench_floor_view_off(None) == []


def test_check_deploy_fails_with_the_floor_on():
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}}
    env.update(DEBUG="False", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="example.com")
    env["BENCH_FLOOR_VIEW"] = "True"
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "BENCH_FLOOR_VIEW" in result.stdout + result.stderr
