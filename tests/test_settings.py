"""Settings come from the environment: defaults for a laptop, explicit opt-in for production."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from crowd.settings import database_from_url, env_bool, prepare_threshold

ROOT = Path(__file__).resolve().parent.parent
STRONG_SECRET = "x7!Kq" * 12


def run_django(args: list[str], tmp_path, **env) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh interpreter with only the given variables set."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))
    }
    clean.update({"QUORUM_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_postgres_url_becomes_a_pooled_connection():
    db = database_from_url("postgres://quorum:p%40ss@db.internal:6543/quorum?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"]) == ("quorum", "quorum", "p@ss")
    assert (db["HOST"], db["PORT"]) == ("db.internal", "6543")
    assert db["OPTIONS"]["sslmode"] == "require"
    assert db["OPTIONS"]["pool"]["max_size"] >= 1
    assert db["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize(
    ("raw", "threshold"), [(None, 5), ("", 5), ("0", 0), ("12", 12), ("off", None), ("None", None)]
)
def test_prepare_threshold_is_a_count_or_off(monkeypatch, raw, threshold):
    if raw is None:
        monkeypatch.delenv("DATABASE_PREPARE_THRESHOLD", raising=False)
    else:
        monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", raw)
    assert prepare_threshold() == threshold
    assert database_from_url("postgres://q@db/q")["OPTIONS"]["prepare_threshold"] == threshold


@pytest.mark.parametrize("raw", ["-1", "sometimes"])
def test_a_malformed_prepare_threshold_is_refused(monkeypatch, raw):
    monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", raw)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_PREPARE_THRESHOLD"):
        prepare_threshold()


def test_unknown_database_scheme_is_refused():
    with pytest.raises(ImproperlyConfigured, match="mysql"):
        database_from_url("mysql://root@localhost/quorum")


def test_malformed_boolean_is_refused(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", True)


def test_defaults_need_no_services(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG)"
    )
    result = run_django(["shell", "-v", "0", "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "True"]
    assert (tmp_path / ".secret_key").exists()


def test_production_mode_refuses_to_start_without_a_secret(tmp_path):
    result = run_django(["check"], tmp_path, DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_mode_passes_the_deploy_check(tmp_path):
    result = run_django(
        ["check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=STRONG_SECRET,
        DJANGO_ALLOWED_HOSTS="quorum.example.org",
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_broker_url_turns_eager_mode_off(tmp_path):
    code = "import django; django.setup(); from django.conf import settings as s; print(s.CELERY_TASK_ALWAYS_EAGER)"
    result = run_django(
        ["shell", "-v", "0", "-c", code], tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/9"
    )
    assert result.stdout.strip() == "False", result.stderr


def test_every_variable_is_documented():
    import re

    source = (ROOT / "crowd" / "settings.py").read_text()
    names = set(re.findall(r'env_(?:str|bool|int|list)\(\s*"([A-Z_]+)"', source))
    names |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', source))
    assert len(names) > 15
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    missing = sorted(n for n in names if f"{n}=" not in example or f"`{n}`" not in readme)
    assert not missing, f"undocumented variables: {missing}"
