"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

No Docker engine runs on the development machines or in CI, so these tests read the files:
docker-compose.yml is parsed with PyYAML (merge keys resolved, as Compose does) and its ${...}
values are interpolated the way Compose does it, then the deployment's promises are checked:
the services exist, exactly one beat, PostgreSQL and Redis are not published, every Django
process gets a production environment that the real settings accept, and depends_on holds
together.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"

SERVICES = {"postgres", "redis", "cache", "migrate", "web", "worker", "beat", "bot", "coturn"}
BACKING = {"postgres", "redis", "cache", "coturn"}
REQUIRED_DJANGO_VARIABLES = {"DJANGO_ENV", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


# --- Compose interpolation ------------------------------------------------------------------
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt},
# $VAR and $$ (a literal $); defaults and messages may nest further ${...}.

class InterpolationError(Exception):
    pass


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, env: dict[str, str]) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            depth, j = 1, i + 2
            while depth:
                if j >= len(text):
                    raise InterpolationError(f"unterminated ${{ in {text!r}")
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            out.append(_expand(text[i + 2:j - 1], env))
            i = j
        else:
            match = _NAME.match(text, i + 1)
            if not match:
                raise InterpolationError(f"invalid $ in {text!r}")
            out.append(env.get(match.group(), ""))
            i = match.end()
    return "".join(out)


def _expand(expr: str, env: dict[str, str]) -> str:
    match = _NAME.match(expr)
    if not match:
        raise InterpolationError(f"invalid variable in ${{{expr}}}")
    name, rest = match.group(), expr[match.end():]
    value = env.get(name)
    if not rest:
        return value or ""
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if rest.startswith(op):
            arg = rest[len(op):]
            unset = value is None or (op.startswith(":") and value == "")
            if op.endswith("-"):
                return interpolate(arg, env) if unset else value
            if op.endswith("?"):
                if unset:
                    message = interpolate(arg, env)
                    raise InterpolationError(f"required variable {name} is missing a value: {message}")
                return value
            return "" if unset else interpolate(arg, env)
    raise InterpolationError(f"invalid modifier in ${{{expr}}}")


def interpolated(node, env):
    """Compose interpolates values (not keys) everywhere in the file."""
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolated(value, env) for value in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def deploy_env(**changes) -> dict[str, str]:
    """What an operator's .env holds: the three required values."""
    env = {
        "SECRET_KEY": secrets.token_urlsafe(48)[:64],
        "ALLOWED_HOSTS": "tutoring.example.com",
        "POSTGRES_PASSWORD": "pg-" + secrets.token_hex(8),
    }
    env.update(changes)
    return {k: v for k, v in env.items() if v is not None}


@pytest.fixture(scope="module")
def compose() -> dict:
    return interpolated(raw_compose(), deploy_env())


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command_of(service: dict) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def runs_django(service: dict) -> bool:
    django_programs = ("manage.py", "celery", "gunicorn")
    return "build" in service or any(word in django_programs for word in command_of(service))


def depends_on(service: dict) -> dict[str, dict]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


# --- the services ---------------------------------------------------------------------------

def test_the_services_exist(compose):
    assert set(compose["services"]) == SERVICES


def test_exactly_one_beat(compose):
    services = compose["services"]
    beats = [name for name, s in services.items()
             if "beat" in command_of(s) or {"-B", "--beat"} & set(command_of(s))]
    assert beats == ["beat"]
    beat = services["beat"]
    assert command_of(beat)[:4] == ["celery", "-A", "tutoring", "beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in beat
    assert not beat.get("profiles"), "the beat must start with every `docker compose up`"
    assert "only one" in COMPOSE_FILE.read_text().lower() or "exactly one" in COMPOSE_FILE.read_text().lower()


def test_worker_web_and_migrate_commands(compose):
    services = compose["services"]
    assert command_of(services["worker"])[:4] == ["celery", "-A", "tutoring", "worker"]
    web = command_of(services["web"])
    assert web[:2] == ["gunicorn", "tutoring.asgi:application"]  # ASGI: the room's WebSockets too
    assert "--worker-class=uvicorn_worker.UvicornWorker" in web
    assert command_of(services["migrate"])[:3] == ["python", "manage.py", "migrate"]
    assert services["migrate"].get("restart", "no") == "no", "a one-shot must not be restarted"


def test_bot_starts_only_when_asked(compose):
    bot = compose["services"]["bot"]
    assert bot["profiles"] == ["bot"]
    assert command_of(bot) == ["python", "manage.py", "runbot"]
    # ... and that command exists (Django finds it among the installed apps' commands)
    from django.core.management import get_commands

    assert get_commands()["runbot"] == "telegram_bot"


def test_postgres_18_keeps_its_data_in_a_volume(compose):
    postgres = compose["services"]["postgres"]
    assert postgres["image"].split(":")[1].split(".")[0] == "18"
    # The 18+ image refuses a mount at /var/lib/postgresql/data; its data lives in .../18/docker.
    targets = [v.split(":")[1] for v in postgres["volumes"]]
    assert "/var/lib/postgresql" in targets
    assert postgres["volumes"][0].split(":")[0] in compose["volumes"]
    assert "healthcheck" in postgres


def test_redis_7_with_a_healthcheck(compose):
    redis = compose["services"]["redis"]
    assert redis["image"].split(":")[1].split(".")[0] == "7"
    assert "healthcheck" in redis


def test_the_broker_never_evicts_and_the_cache_does(compose):
    """A queued task must never be dropped to make room; a full cache must evict, not refuse
    writes (a creator's many cached pages cannot stop task publishing)."""
    broker, cache = (command_of(compose["services"][name]) for name in ("redis", "cache"))
    assert broker[broker.index("--maxmemory-policy") + 1] == "noeviction"
    assert cache[cache.index("--maxmemory-policy") + 1] == "allkeys-lru"
    assert cache[cache.index("--maxmemory") + 1] == "256mb"
    assert "healthcheck" in compose["services"]["cache"]


def published(service: dict) -> list[tuple[str | None, str]]:
    """(host_ip, container_port) for each published port, short or long syntax."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append((port.get("host_ip"), str(port["target"])))
            continue
        parts = str(port).split(":")
        if len(parts) >= 3:  # HOST_IP:HOST_PORT:CONTAINER_PORT ([::1] would need brackets)
            out.append((":".join(parts[:-2]).strip("[]"), parts[-1]))
        else:  # HOST_PORT:CONTAINER_PORT or CONTAINER_PORT: every interface
            out.append((None, parts[-1]))
    return out


@pytest.mark.parametrize("name", sorted(BACKING))
def test_databases_are_not_published_to_the_world(compose, name):
    for host_ip, _ in published(compose["services"][name]):
        assert host_ip not in (None, "", "0.0.0.0", "::"), f"{name} is published on every interface"


def test_nothing_publishes_database_ports_and_web_only_on_loopback(compose):
    for name, service in compose["services"].items():
        for host_ip, container_port in published(service):
            assert container_port.split("/")[0] not in ("5432", "6379"), name
            assert host_ip in ("127.0.0.1", "::1"), f"{name} publishes {container_port} on {host_ip or 'all'}"
    assert published(compose["services"]["web"]) == [("127.0.0.1", "8000")]


def test_web_health_check_asks_healthz(compose):
    test = compose["services"]["web"]["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL")
    assert any("/healthz" in part for part in test)


# --- the environment ------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SERVICES - BACKING))
def test_every_django_service_gets_the_production_environment(compose, name):
    service = compose["services"][name]
    assert runs_django(service)
    env = environment_of(service)
    assert REQUIRED_DJANGO_VARIABLES <= set(env), f"{name} lacks {REQUIRED_DJANGO_VARIABLES - set(env)}"
    assert env["DJANGO_ENV"] == "production"
    assert env["SECRET_KEY"] and env["ALLOWED_HOSTS"]
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert env["REDIS_URL"].startswith("redis://")


def test_only_the_django_services_run_django(compose):
    assert {n for n, s in compose["services"].items() if runs_django(s)} == SERVICES - BACKING


def test_default_urls_point_at_the_bundled_services():
    env = deploy_env(POSTGRES_PASSWORD="s3cret")
    web = environment_of(interpolated(raw_compose(), env)["services"]["web"])
    assert web["DATABASE_URL"] == "postgresql://tutoring:s3cret@postgres:5432/tutoring"
    assert web["REDIS_URL"] == "redis://redis:6379/0"
    assert web["CACHE_URL"] == "redis://cache:6379/0"
    postgres = interpolated(raw_compose(), env)["services"]["postgres"]["environment"]
    assert (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"], postgres["POSTGRES_PASSWORD"]) == (
        "tutoring", "tutoring", "s3cret")


def test_managed_services_override_the_urls():
    env = deploy_env(DATABASE_URL="postgresql://app:pw@db.internal:5432/prod",
                     REDIS_URL="rediss://cache.internal:6380/1")
    web = environment_of(interpolated(raw_compose(), env)["services"]["web"])
    assert web["DATABASE_URL"] == "postgresql://app:pw@db.internal:5432/prod"
    assert web["REDIS_URL"] == "rediss://cache.internal:6380/1"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "POSTGRES_PASSWORD"])
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_compose_refuses_to_start_without_a_required_value(missing, how):
    env = deploy_env(**{missing: None if how == "unset" else ""})
    with pytest.raises(InterpolationError, match=missing):
        interpolated(raw_compose(), env)


def test_the_interpolated_web_environment_passes_the_deploy_check(compose):
    """The environment compose hands to the containers (including the optional variables passed
    through empty) is one the real settings accept: `check --deploy` with no warning. Only the
    service URLs are swapped for this test run's own, since there is no `postgres` host here."""
    env = environment_of(compose["services"]["web"])
    env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    env["REDIS_URL"] = os.environ["REDIS_URL"]
    env.update({name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ})
    env["DJANGO_SETTINGS_MODULE"] = "tutoring.settings"
    command = [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"]
    result = subprocess.run(command, check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_setting_reaches_the_django_containers(compose):
    """A variable the settings read but compose does not pass could never be set in production."""
    from tests.tutoring.test_settings import variables_read_by_settings

    set_by_the_image = {"STATIC_ROOT", "MEDIA_ROOT"}
    never_in_production = {"DEBUG", "CELERY_TASK_ALWAYS_EAGER"}
    expected = variables_read_by_settings() - set_by_the_image - never_in_production
    for name in SERVICES - BACKING:
        assert expected - set(environment_of(compose["services"][name])) == set(), name


def test_every_compose_variable_is_documented_in_env_example():
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    assert used - documented == set()


# --- depends_on -----------------------------------------------------------------------------

def test_depends_on_conditions_are_valid(compose):
    services = compose["services"]
    for name, service in services.items():
        for dep, spec in depends_on(service).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert dep != name
            condition = spec.get("condition", "service_started")
            assert condition in CONDITIONS, f"{name} -> {dep}: {condition}"
            target = services[dep]
            if condition == "service_healthy":
                assert "healthcheck" in target, f"{name} waits for {dep} to be healthy: it has no healthcheck"
            if condition == "service_completed_successfully":
                assert target.get("restart", "no") == "no", f"{name} waits for {dep} to exit: not a one-shot"
            if not service.get("profiles"):
                assert not target.get("profiles"), f"{name} always starts but needs {dep}, in a profile"


def test_depends_on_has_no_cycle(compose):
    services = compose["services"]
    state: dict[str, str] = {}

    def visit(name, path):
        assert state.get(name) != "open", f"depends_on cycle: {' -> '.join([*path, name])}"
        if state.get(name) == "done":
            return
        state[name] = "open"
        for dep in depends_on(services[name]):
            visit(dep, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


@pytest.mark.parametrize("name", ["web", "worker", "beat", "bot"])
def test_django_processes_wait_for_migrations_and_healthy_services(compose, name):
    deps = depends_on(compose["services"][name])
    assert deps["migrate"]["condition"] == "service_completed_successfully"
    assert deps["postgres"]["condition"] == "service_healthy"
    assert deps["redis"]["condition"] == "service_healthy"


def test_migrate_waits_for_a_healthy_postgres(compose):
    assert depends_on(compose["services"]["migrate"])["postgres"]["condition"] == "service_healthy"


# --- Dockerfile -----------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def copy_sources() -> list[str]:
    """The build-context paths the Dockerfile copies (not COPY --from another stage)."""
    sources = []
    for kw, rest in dockerfile_instructions():
        if kw == "COPY" and not rest.startswith("--from"):
            sources += [word for word in rest.split()[:-1] if not word.startswith("--")]
    return sources


def test_dockerfile_runtime_is_python_313_slim_and_not_root():
    instructions = dockerfile_instructions()
    args = dict(rest.split("=", 1) for kw, rest in instructions if kw == "ARG" and "=" in rest)
    froms = [interpolate(rest, args) for kw, rest in instructions if kw == "FROM"]
    assert froms[-1].split()[0] == "python:3.13-slim"
    users = [rest for kw, rest in instructions if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_installs_only_the_locked_runtime_dependencies():
    runs = [rest for kw, rest in dockerfile_instructions() if kw == "RUN"]
    syncs = [r for r in runs if "uv sync" in r]
    assert syncs and all("--locked" in r and "--no-dev" in r for r in syncs)
    assert not any(re.search(r"\bpip install\b|\buv pip\b", r) for r in runs)


def test_dockerfile_collects_static_and_serves_asgi_with_gunicorn_and_uvicorn_workers():
    instructions = dockerfile_instructions()
    assert any(kw == "RUN" and "collectstatic --noinput" in rest for kw, rest in instructions)
    cmd = [rest for kw, rest in instructions if kw == "CMD"][-1]
    assert '"gunicorn", "tutoring.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker"' in cmd


def test_dockerfile_copies_every_local_app():
    copied = {source.rstrip("/") for source in copy_sources()}
    local = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}
    assert local, "INSTALLED_APPS lists no local app?"
    assert local - copied == set(), "add a COPY line for these apps to the Dockerfile"
    assert {"manage.py", "templates", "static"} <= copied


def test_every_copy_source_is_in_the_repository():
    """COPY fails the build on a missing source, and git does not keep empty folders: each source
    must exist and (a folder) hold at least one file, as it will in a fresh clone."""
    for source in copy_sources():
        path = ROOT / source
        assert path.exists(), f"COPY {source}: not in the repository"
        if path.is_dir():
            files = [f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
            assert files, f"COPY {source}: the folder is empty, so a fresh clone will not have it"
