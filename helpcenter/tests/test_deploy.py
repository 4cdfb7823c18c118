"""The production environment example (.env.production.example) passes `check --deploy`, and
the HTTPS redirect spares the load balancers' /healthz."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

EXAMPLE = settings.BASE_DIR / ".env.production.example"


def example_environment(*, without: tuple[str, ...] = ()) -> dict[str, str]:
    """The example's KEY=VALUE lines, with a strong random SECRET_KEY in place of the
    placeholder."""
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    values["SECRET_KEY"] = secrets.token_urlsafe(50)
    return {key: value for key, value in values.items() if key not in without}


def check_deploy(environment: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    # A process of its own: settings read the environment once, and this one must not see
    # (or leak into) the test run's. Only PATH is inherited, so DATABASE_URL, REDIS_URL or
    # TEST_DATABASE_NAME of the test run cannot help the example pass.
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env={
            "PATH": os.environ.get("PATH", ""),
            "HELPCENTER_VAR_DIR": str(tmp_path),
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_example_passes_check_deploy_with_no_issues(tmp_path):
    result = check_deploy(example_environment(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_without_hsts(tmp_path):
    """The negative control: the same check does fail when a line is missing."""
    result = check_deploy(example_environment(without=("SECURE_HSTS_SECONDS",)), tmp_path)
    assert result.returncode == 1
    assert "security.W004" in result.stderr


def test_the_examples_placeholder_secret_key_is_refused(tmp_path):
    environment = {**example_environment(), "SECRET_KEY": "CHANGE-ME"}
    result = check_deploy(environment, tmp_path)
    assert result.returncode == 1
    assert "security.W009" in result.stderr


@pytest.fixture
def https_only(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000


def test_plain_http_is_redirected_to_https_but_healthz_is_not(client, db, https_only):
    page = client.get("/en/")
    assert page.status_code == 301
    assert page["Location"] == "https://testserver/en/"
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok"}


def test_https_responses_carry_hsts(client, db, https_only):
    response = client.get("/healthz", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000"
