"""Settings fail fast: a bad environment stops `manage.py` at start-up with a message naming the
variable, and a complete production environment passes `check --deploy` with no warning.

Each case runs manage.py in a subprocess with an environment built from scratch, so nothing from
the developer's shell (or from the test run's own DJANGO_ENV=test) leaks in. DATABASE_URL and
REDIS_URL come from the test run's environment (`make test` starts embedded services and sets
them); `check` does not connect to either.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "tutoring" / "settings.py"
ENV_EXAMPLE = ROOT / ".env.example"

# Enough of the parent environment for Python to run; everything else is explicit per case.
_PASS_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
ABSENT = object()  # marks a variable the case removes


def good_secret_key() -> str:
    return secrets.token_urlsafe(48)[:64]


def production_env() -> dict[str, str]:
    return {
        "DJANGO_ENV": "production",
        "SECRET_KEY": good_secret_key(),
        "ALLOWED_HOSTS": "tutoring.example.com",
    }


def manage(*args: str, **changes) -> subprocess.CompletedProcess:
    """Run manage.py with a clean environment: the test services' URLs plus `changes`
    (a value of ABSENT removes the variable)."""
    env = {name: os.environ[name] for name in _PASS_THROUGH if name in os.environ}
    env["DJANGO_SETTINGS_MODULE"] = "tutoring.settings"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    env["REDIS_URL"] = os.environ["REDIS_URL"]
    for name, value in changes.items():
        if value is ABSENT:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def prod(**changes) -> dict:
    return {**production_env(), **changes}


BAD_ENVIRONMENTS = [
    # (environment changes, the variable the message must name)
    pytest.param(prod(SECRET_KEY=ABSENT), "SECRET_KEY", id="production-without-SECRET_KEY"),
    pytest.param(prod(SECRET_KEY=""), "SECRET_KEY", id="production-with-empty-SECRET_KEY"),
    pytest.param(prod(SECRET_KEY="too-short-to-be-a-secret"), "SECRET_KEY",
                 id="production-with-short-SECRET_KEY"),
    pytest.param(prod(SECRET_KEY="ab" * 40), "SECRET_KEY", id="production-with-low-entropy-SECRET_KEY"),
    pytest.param(prod(SECRET_KEY="django-insecure-" + good_secret_key()), "SECRET_KEY",
                 id="production-with-django-insecure-SECRET_KEY"),
    pytest.param(prod(ALLOWED_HOSTS=ABSENT), "ALLOWED_HOSTS", id="production-without-ALLOWED_HOSTS"),
    pytest.param(prod(ALLOWED_HOSTS=" , "), "ALLOWED_HOSTS", id="production-with-blank-ALLOWED_HOSTS"),
    pytest.param(prod(DEBUG="true"), "DEBUG", id="production-with-DEBUG-on"),
    pytest.param({"DEBUG": "maybe"}, "DEBUG", id="DEBUG=maybe"),
    pytest.param({"DATABASE_URL": ABSENT}, "DATABASE_URL", id="DATABASE_URL-missing"),
    pytest.param(prod(DATABASE_URL=ABSENT), "DATABASE_URL", id="production-DATABASE_URL-missing"),
    pytest.param({"DATABASE_URL": "mysql://tutoring:pw@db.example.com/tutoring"}, "DATABASE_URL",
                 id="DATABASE_URL-mysql"),
    pytest.param({"DATABASE_URL": "sqlite:///tutoring.sqlite3"}, "DATABASE_URL", id="DATABASE_URL-sqlite"),
    pytest.param({"DATABASE_URL": "nosuchdb://db.example.com/x"}, "DATABASE_URL",
                 id="DATABASE_URL-unknown-scheme"),
    pytest.param({"DB_POOL_MAX_SIZE": "many"}, "DB_POOL_MAX_SIZE", id="DB_POOL_MAX_SIZE-not-a-number"),
    pytest.param({"DB_POOL_MIN_SIZE": "20", "DB_POOL_MAX_SIZE": "10"}, "DB_POOL_MIN_SIZE", id="pool-min-over-max"),
    pytest.param({"DB_POOL_TIMEOUT": "0"}, "DB_POOL_TIMEOUT", id="DB_POOL_TIMEOUT-zero"),
    pytest.param({"DB_SERVER_SIDE_BINDING": "sometimes"}, "DB_SERVER_SIDE_BINDING",
                 id="DB_SERVER_SIDE_BINDING=sometimes"),
    pytest.param({"DB_PREPARE_THRESHOLD": "often"}, "DB_PREPARE_THRESHOLD",
                 id="DB_PREPARE_THRESHOLD-not-a-number"),
    pytest.param({"DB_PREPARE_THRESHOLD": "-1"}, "DB_PREPARE_THRESHOLD", id="DB_PREPARE_THRESHOLD-negative"),
    pytest.param({"REDIS_URL": ABSENT}, "REDIS_URL", id="REDIS_URL-missing"),
    pytest.param({"REDIS_URL": "http://x"}, "REDIS_URL", id="REDIS_URL-http"),
    pytest.param({"CACHE_URL": "memcached://x"}, "CACHE_URL", id="CACHE_URL-scheme"),
    pytest.param({"CELERY_TASK_ALWAYS_EAGER": "sometimes"}, "CELERY_TASK_ALWAYS_EAGER",
                 id="CELERY_TASK_ALWAYS_EAGER=sometimes"),
    pytest.param({"TIME_ZONE": "Mars/Base"}, "TIME_ZONE", id="TIME_ZONE=Mars/Base"),
    pytest.param({"DJANGO_ENV": "staging"}, "DJANGO_ENV", id="DJANGO_ENV=staging"),
    pytest.param(prod(SECURE_SSL_REDIRECT="perhaps"), "SECURE_SSL_REDIRECT",
                 id="production-SECURE_SSL_REDIRECT=perhaps"),
    pytest.param(prod(SECURE_HSTS_SECONDS="a year"), "SECURE_HSTS_SECONDS",
                 id="production-SECURE_HSTS_SECONDS-not-a-number"),
    pytest.param({"ADHOC_MAX_AGE_DAYS": "a month"}, "ADHOC_MAX_AGE_DAYS",
                 id="ADHOC_MAX_AGE_DAYS-not-a-number"),
    pytest.param({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", id="LOG_LEVEL-unknown"),
    pytest.param({"R2_BUCKET": "notes"}, "R2_ENDPOINT_URL", id="R2_BUCKET-without-endpoint"),
    pytest.param({"R2_BUCKET": "notes", "R2_ENDPOINT_URL": "https://x.r2.cloudflarestorage.com",
                  "R2_ACCESS_KEY_ID": "k"}, "R2_SECRET_ACCESS_KEY", id="R2_BUCKET-without-secret"),
    pytest.param({"NOTES_LINK_SECONDS": "3600"}, "NOTES_LINK_SECONDS", id="NOTES_LINK_SECONDS-over-5-minutes"),
    pytest.param({"NOTES_MAX_UPLOAD_MB": "ten"}, "NOTES_MAX_UPLOAD_MB", id="NOTES_MAX_UPLOAD_MB-not-a-number"),
    pytest.param({"OPENAI_TIMEOUT_SECONDS": "soon"}, "OPENAI_TIMEOUT_SECONDS",
                 id="OPENAI_TIMEOUT_SECONDS-not-a-number"),
    pytest.param({"SITE_URL": "127.0.0.1:8014"}, "SITE_URL", id="SITE_URL-without-scheme"),
    pytest.param({"SITE_URL": "https://tutoring.example.com/app"}, "SITE_URL", id="SITE_URL-with-a-path"),
    pytest.param(prod(SITE_URL="http://tutoring.example.com"), "SITE_URL", id="production-SITE_URL-http"),
    pytest.param({"RESEND_WEBHOOK_SECRET": "secret"}, "RESEND_WEBHOOK_SECRET", id="RESEND_WEBHOOK_SECRET-not-whsec"),
    pytest.param({"EMAIL_BACKEND": "notifications.backends.ResendBackend"}, "RESEND_API_KEY",
                 id="Resend-backend-without-a-key"),
    pytest.param({"BROKER_PUBLISH_TIMEOUT_SECONDS": "60"}, "BROKER_PUBLISH_TIMEOUT_SECONDS",
                 id="BROKER_PUBLISH_TIMEOUT_SECONDS-too-long"),
    pytest.param({"NOTIFY_MAX_ATTEMPTS": "0"}, "NOTIFY_MAX_ATTEMPTS", id="NOTIFY_MAX_ATTEMPTS-zero"),
    pytest.param({"NOTIFY_RETRY_MAX_MINUTES": "often"}, "NOTIFY_RETRY_MAX_MINUTES",
                 id="NOTIFY_RETRY_MAX_MINUTES-not-a-number"),
]


@pytest.mark.parametrize(("changes", "variable"), BAD_ENVIRONMENTS)
def test_bad_environment_stops_start_up_naming_the_variable(changes, variable):
    result = manage("check", **changes)
    assert result.returncode != 0, f"manage.py check accepted {changes}:\n{result.stdout}{result.stderr}"
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured:"), result.stderr
    assert variable in last_line, result.stderr


def test_full_production_environment_passes_the_deploy_check():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deploy_check_is_real():
    """The positive test above means something: weakening a protection fails the same command."""
    result = manage("check", "--deploy", "--fail-level", "WARNING", **prod(SECURE_SSL_REDIRECT="false"))
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout


def test_r2_settings_give_a_private_s3_storage_with_short_links():
    """Notes attachments on R2: region auto, no ACL (the bucket stays private), presigned links of
    NOTES_LINK_SECONDS, no overwriting, one streamed PUT per file."""
    code = ("from django.conf import settings; import json; o = settings.STORAGES['notes']; "
            "print(json.dumps([o['BACKEND'], {k: v for k, v in o['OPTIONS'].items() if isinstance(v, (str, int, "
            "bool, type(None)))}, o['OPTIONS']['transfer_config'].multipart_threshold, "
            "o['OPTIONS']['client_config'].request_checksum_calculation]))")
    result = manage("shell", "-c", code, R2_BUCKET="notes", R2_ENDPOINT_URL="https://acc.r2.cloudflarestorage.com",
                    R2_ACCESS_KEY_ID="key", R2_SECRET_ACCESS_KEY="secret", NOTES_LINK_SECONDS="120")
    assert result.returncode == 0, result.stderr
    backend, options, threshold, checksums = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    assert backend == "storages.backends.s3.S3Storage"
    assert options == {"bucket_name": "notes", "endpoint_url": "https://acc.r2.cloudflarestorage.com",
                       "access_key": "key", "secret_key": "secret", "region_name": "auto", "default_acl": None,
                       "querystring_auth": True, "querystring_expire": 120, "file_overwrite": False}
    assert threshold > 10 * 1024 * 1024 and checksums == "when_required"


def mailer_and_site(**env) -> list:
    code = ("from django.conf import settings; import json; "
            "print(json.dumps([settings.MAILERS['default'], settings.SITE_URL, settings.DEFAULT_FROM_EMAIL]))")
    result = manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return __import__("json").loads(result.stdout.strip().splitlines()[-1])


def test_email_goes_through_resend_with_a_key_and_is_kept_locally_in_development_without():
    mailer, site, sender = mailer_and_site(DJANGO_ENV=ABSENT, RESEND_API_KEY="re_live_key",
                                           RESEND_API_URL="http://127.0.0.1:9999/", SITE_URL="http://127.0.0.1:8014")
    assert mailer == {"BACKEND": "notifications.backends.ResendBackend",
                      "OPTIONS": {"api_key": "re_live_key", "api_url": "http://127.0.0.1:9999", "timeout": 10}}
    assert site == "http://127.0.0.1:8014"
    mailer, site, sender = mailer_and_site(DJANGO_ENV=ABSENT)
    assert mailer == {"BACKEND": "notifications.backends.KeepLocallyBackend"} and site == "http://127.0.0.1:8000"
    mailer, site, sender = mailer_and_site(**production_env())
    assert mailer["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (site, sender) == ("https://tutoring.example.com", "Tutoring <no-reply@tutoring.example.com>")


@pytest.mark.parametrize(("changes", "check"), [
    ({"EMAIL_BACKEND": "notifications.backends.KeepLocallyBackend"}, "notifications.W001"),
    ({"DEFAULT_FROM_EMAIL": "Tutoring <no-reply@localhost>"}, "notifications.W002"),
])
def test_the_deploy_check_refuses_mail_that_goes_nowhere(changes, check):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **prod(**changes))
    assert result.returncode != 0 and check in result.stderr + result.stdout


def test_make_run_sets_site_url_from_the_port():
    """Links in the demo's emails point at the port it serves on (they once said 8000 whatever PORT was)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("devstack", ROOT / "scripts" / "devstack.py")
    devstack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(devstack)
    assert devstack.dev_environment({}, "8014") == {"DJANGO_ENV": "development", "SITE_URL": "http://127.0.0.1:8014"}
    assert devstack.dev_environment({"SITE_URL": "https://demo.example.com"}, "8014")["SITE_URL"] == (
        "https://demo.example.com")
    mailer, site, _ = mailer_and_site(**devstack.dev_environment({}, "8014"))
    assert site == "http://127.0.0.1:8014"


def test_development_needs_only_the_service_urls():
    result = manage("check", DJANGO_ENV=ABSENT)
    assert result.returncode == 0, result.stdout + result.stderr


def variables_read_by_settings() -> set[str]:
    source = SETTINGS.read_text()
    names = set(re.findall(r"env_(?:str|bool|int|list)\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    names |= set(re.findall(r"ENV\.get\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    names |= set(re.findall(r"ENV\[\s*\"([A-Z][A-Z0-9_]*)\"\s*\]", source))
    names |= set(re.findall(r"\"([A-Z][A-Z0-9_]*)\"\s+(?:not\s+)?in\s+ENV\b", source))
    return names


def test_env_example_documents_every_variable_settings_reads():
    read = variables_read_by_settings()
    assert {"DJANGO_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TIME_ZONE"} <= read  # the regexes work
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    assert read - documented == set(), "add these to .env.example"
