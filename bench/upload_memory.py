"""Benchmark of the upload path's peak memory: a tutor posts notes with a 10 MB voice memo.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/upload_memory.py [--repeat N] [--db NAME]

Uses its own database (bench_uploads on the server of DATABASE_URL; created and migrated when
missing), with a tutor, a student, a course and one session awaiting the parent's approval (made
once, reused by later runs; the notes a run adds are deleted at its end). The body of each request
is written to a file first and handed to Django's WSGIHandler as wsgi.input, with the tutor's
session cookie and a CSRF cookie and form field: the real request path (middleware, multipart
parsing through notes.uploads.LimitedUploadHandler into a temporary file, notes.services.add_notes
with its checks and hash, the storage, the database rows, the response), without django.test.Client,
which would build the whole body in memory. Measured, each --repeat times after a warm-up:

  * control: `data = f.read()` of the file itself: what "the file size" costs in the same units;
  * a plain form POST of text + a voice memo of 10 MB - 1 KB (accepted: 303, one attachment of that
    size, stored object of that size), on the local FileSystemStorage (the default) and on
    S3Storage against a SeaweedFS `weed mini` started (and stopped) by this run;
  * an htmx POST of text + an 11 MB memo, refused while it streams (200, the page says
    "voice-memo.mp3: the file is larger than 10 MB", the note is kept, nothing is stored).

For each: the growth of the process's resident set over the request (VmHWM, reset through
/proc/self/clear_refs just before, minus VmRSS then) and, in a separate pass (tracemalloc's own
bookkeeping would count in RSS), tracemalloc's peak of Python allocations over the request; also
both per step (multipart parsing, check_uploads, storage.save, the summary task). Max and median.

Target: the process grows by less than 25 % of the file size (max over the repetitions, every
upload scenario); the exit code is non-zero when it does not, when a check of the responses or
stored files fails, or when the control does not show about the file size (the method is blind).

Notes on the method: before each measured window the garbage is collected, and before it and
each step glibc's malloc_trim(0) gives the heap's free pages back, so memory that malloc kept
from an earlier request cannot be reused unseen: the high-water mark shows every page the
request touches beyond what was live before it (without the trim, the S3 upload's 2 MB of
checksum buffers vanish into memory freed by the warm-up). Celery runs eagerly
(CELERY_TASK_ALWAYS_EAGER; OPENAI_API_KEY unset: the local summarizer): the summary and the
notifications enqueued on commit run inside the request and are included in the measured window.
The sizes follow NOTES_MAX_UPLOAD_MB (10 by default): the limit - 1 KB, and the limit + 1 MB.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the project is not
    sys.path.insert(0, str(ROOT))

from bench.sweeps import use_database  # noqa: E402  (one way to get a database of its own)

TARGET_RATIO = 0.25  # growth must stay under this fraction of the file size
CONTROL_MIN_RATIO = 0.9  # the control must show at least this much, or the method cannot see a buffer
KB = 1024
MB = 1024 * 1024
HOST = "testserver"
SESSION_START = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)  # the bench session (a Monday, in the past)
WEED_ATTEMPTS = 3
STEPS = ("parse", "check", "store", "summary")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="measured requests per scenario (default 5)")
    parser.add_argument("--db", default="bench_uploads", help="database name (default bench_uploads)")
    return parser.parse_args(argv)


# --- set-up ------------------------------------------------------------------------------------


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")
    os.environ["DJANGO_ENV"] = "test"  # locmem mail, quiet logs, DEBUG off (no query log growing)
    os.environ["DEBUG"] = "false"
    # the summary and notifications run inline on commit (inside the measured request)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.pop("OPENAI_API_KEY", None)  # the local summarizer: no network in the window
    os.environ.pop("R2_BUCKET", None)  # the default notes storage is the local one
    import django

    django.setup()


def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


MALLOC_TRIM = _malloc_trim()


def trim() -> None:
    """Give malloc's free pages back to the system (they then count again when reused)."""
    if MALLOC_TRIM is not None:
        MALLOC_TRIM(0)


def check_clear_refs() -> None:
    """Reset the high-water mark once, or stop: without it the peaks cannot be measured here."""
    try:
        reset_hwm()
    except OSError as exc:
        raise SystemExit(f"cannot reset the RSS high-water mark through /proc/self/clear_refs ({exc}): "
                         "this benchmark needs Linux and a writable clear_refs") from None


def cast():
    """The tutor, and one session of theirs awaiting the parent: made once per database."""
    from sessions.models import Session, Status
    from tutoring.models import Course, Enrollment, Role, User

    def user(username, *roles):
        found = User.objects.filter(username=username).first()
        return found or User.objects.create_user(username=username, password=None, name=username.title(),
                                                 email=f"{username}@example.test", roles=list(roles))

    tutor = user("bench-upload-tutor", Role.TUTOR)
    student = user("bench-upload-student", Role.STUDENT)
    course, _ = Course.objects.get_or_create(creator=user("bench-upload-creator", Role.CREATOR),
                                             title="Upload benchmark")
    Enrollment.objects.get_or_create(course=course, student=student)
    session, _ = Session.objects.update_or_create(
        tutor=tutor, scheduled_start=SESSION_START,
        defaults={"student": student, "course": course, "scheduled_end": SESSION_START + timedelta(hours=1),
                  "status": Status.AWAITING_APPROVAL_PARENT, "checked_in_at": SESSION_START,
                  "checked_out_at": SESSION_START + timedelta(hours=1)})
    clear_notes(session)
    return tutor, session


def clear_notes(session) -> None:
    from notes.models import Attachment, Note, Summary

    Attachment.objects.filter(note__session=session).delete()
    Note.objects.filter(session=session).delete()
    Summary.objects.filter(session=session).delete()


def log_in(user) -> str:
    """A real session of the signed-in tutor (django.contrib.auth's login): its key."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def log_out(session_key: str) -> None:
    from importlib import import_module

    from django.conf import settings

    import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).delete()


def start_s3(base: Path):
    """A `weed mini` of our own, with its bucket (tests/fakes/seaweedfs.py): (process, server)."""
    from tests.fakes.seaweedfs import start_weed

    failures = []
    for attempt in range(1, WEED_ATTEMPTS + 1):
        try:
            return start_weed(base, attempt)
        except Exception as exc:  # noqa: BLE001 - reported below after the last attempt
            failures.append(f"attempt {attempt}: {exc!r}")
    raise SystemExit("SeaweedFS (weed mini) did not start:\n" + "\n".join(failures))


def stop_s3(proc) -> None:
    import subprocess

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def s3_storages(server) -> dict:
    """settings.STORAGES with "notes" on the bucket, as the R2 branch of tutoring/settings.py."""
    from django.conf import settings

    from tutoring.settings import s3_notes_storage

    return {**settings.STORAGES, "notes": s3_notes_storage(
        bucket=server.bucket, endpoint_url=server.endpoint_url, access_key=server.access_key,
        secret_key=server.secret_key, region=server.region)}


def local_storages(location: Path) -> dict:
    from django.conf import settings

    return {**settings.STORAGES, "notes": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                           "OPTIONS": {"location": str(location)}}}


# --- measuring ---------------------------------------------------------------------------------


def proc_status_kb(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/self/status")


def reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # 5: reset the peak resident set size (VmHWM) to the current one


class Probe:
    """One way of measuring memory, in bytes: "rss" (the process) or "py" (tracemalloc)."""

    def __init__(self, mode: str):
        self.mode = mode
        self.high = 0  # the highest peak seen in the window, across the steps' resets

    def reset(self) -> None:
        if self.mode == "rss":
            trim()
            reset_hwm()
        else:
            tracemalloc.reset_peak()

    def now(self) -> int:
        return proc_status_kb("VmRSS") * KB if self.mode == "rss" else tracemalloc.get_traced_memory()[0]

    def peak(self) -> int:
        return proc_status_kb("VmHWM") * KB if self.mode == "rss" else tracemalloc.get_traced_memory()[1]

    def checkpoint(self) -> None:
        self.high = max(self.high, self.peak())

    @contextmanager
    def window(self):
        """Measure a block: yields a dict that gets "growth" (peak over the block minus the start)."""
        gc.collect()
        self.reset()
        start = self.now()
        self.high = 0
        out = {}
        yield out
        self.checkpoint()
        out["growth"] = self.high - start


@contextmanager
def steps_instrumented(probe: Probe, found: dict):
    """Wrap the upload path's steps; found[step] gets each call's growth over its own start (the
    probe's overall peak is kept across the resets each step makes)."""
    from django.http import multipartparser

    from notes import services, storage, uploads

    def wrap(step, fn):
        def wrapper(*args, **kwargs):
            probe.checkpoint()
            probe.reset()
            start = probe.now()
            try:
                return fn(*args, **kwargs)
            finally:
                growth = probe.peak() - start
                probe.checkpoint()
                found[step] = max(found.get(step, 0), growth)
        return wrapper

    targets = [(multipartparser.MultiPartParser, "parse", "parse"), (uploads, "check_uploads", "check"),
               (storage, "save", "store"), (services, "summarize", "summary")]
    with ExitStack() as stack:
        for owner, attr, step in targets:
            stack.enter_context(mock.patch.object(owner, attr, wrap(step, getattr(owner, attr))))
        yield


@dataclass
class Result:
    name: str
    size: int  # the file's size, for the ratios
    kind: str  # "control", "accepted" or "refused"
    growth: list[int] = field(default_factory=list)  # RSS, per repetition
    py_peak: list[int] = field(default_factory=list)  # tracemalloc, per repetition
    seconds: list[float] = field(default_factory=list)  # of the RSS pass
    steps_rss: dict = field(default_factory=dict)  # step -> max growth
    steps_py: dict = field(default_factory=dict)
    first: int | None = None  # RSS growth of the warm-up request (first use of everything)
    problems: list[str] = field(default_factory=list)
    status: str = "-"


def measure(result: Result, action, repeat: int, *, steps: bool, before=None, after=None) -> Result:
    """Run action() `repeat` times in an RSS pass, then as many in a tracemalloc pass (separately:
    tracemalloc's own bookkeeping would count in RSS). before() and after(its value, action's)
    run outside the window, for the checks."""
    for mode in ("rss", "py"):
        probe = Probe(mode)
        found = result.steps_rss if mode == "rss" else result.steps_py
        if mode == "py":
            tracemalloc.start()
        try:
            for _ in range(repeat):
                seen = before() if before else None
                with ExitStack() as stack:
                    if steps:
                        stack.enter_context(steps_instrumented(probe, found))
                    out = stack.enter_context(probe.window())
                    started = time.perf_counter()
                    answer = action()
                    seconds = time.perf_counter() - started
                if mode == "rss":
                    result.growth.append(out["growth"])
                    result.seconds.append(seconds)
                else:
                    result.py_peak.append(out["growth"])
                if after:
                    after(seen, answer)
                del answer
        finally:
            if mode == "py":
                tracemalloc.stop()
    first = f"; first request {mb(result.first)} MB" if result.first is not None else ""
    print(f"  {result.name}: {result.status}, RSS growth max {mb(max(result.growth))} MB, "
          f"Python peak max {mb(max(result.py_peak))} MB{first}", flush=True)
    return result


def control(name: str, path: Path, size: int, repeat: int) -> Result:
    """Reading the whole file into memory: the cost of "the file size" in the same units."""

    def read_whole():
        with open(path, "rb") as f:
            data = f.read()
        del data

    return measure(Result(name, size, "control"), read_whole, repeat, steps=False)


# --- the requests ------------------------------------------------------------------------------


@dataclass
class Upload:
    """One request body on disk and what it should give."""

    name: str
    body: Path
    length: int
    size: int  # the file's size
    htmx: bool
    accepted: bool


class Bench:
    def __init__(self, *, session, session_key: str, token: str, temp_dir: Path):
        from django.conf import settings
        from django.core.handlers.wsgi import WSGIHandler

        self.session = session
        self.cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}; {settings.CSRF_COOKIE_NAME}={token}"
        self.temp_dir = temp_dir  # FILE_UPLOAD_TEMP_DIR: must be empty after every request
        self.handler = WSGIHandler()

    def environ(self, upload: Upload, fh) -> dict:
        from tests.notes.files import MULTIPART_CONTENT_TYPE

        env = {
            "REQUEST_METHOD": "POST", "PATH_INFO": f"/sessions/{self.session.id}/notes/", "SCRIPT_NAME": "",
            "QUERY_STRING": "", "SERVER_NAME": HOST, "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": HOST, "HTTP_ACCEPT": "text/html",
            "CONTENT_TYPE": MULTIPART_CONTENT_TYPE, "CONTENT_LENGTH": str(upload.length),
            "HTTP_COOKIE": self.cookie,
            "wsgi.input": fh, "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        if upload.htmx:
            env["HTTP_HX_REQUEST"] = "true"
        return env

    def post(self, upload: Upload) -> tuple[str, dict, bytes]:
        """One request through the WSGI handler, as a server would make it."""
        got = {}

        def start_response(status, headers, exc_info=None):
            got["status"], got["headers"] = status, dict(headers)
            return lambda data: None

        with open(upload.body, "rb") as fh:
            response = self.handler(self.environ(upload, fh), start_response)
            try:
                body = b"".join(response)
            finally:
                response.close()  # request_finished: closes (and deletes) the upload's temporary file
        return got["status"], got["headers"], body

    def stored_names(self) -> list[str]:
        from notes import storage

        try:
            return storage.attachment_storage().listdir(f"notes/{self.session.id}")[1]
        except FileNotFoundError:
            return []

    def attachment_ids(self) -> list[int]:
        from notes.models import Attachment

        return list(Attachment.objects.filter(note__session=self.session).values_list("id", flat=True))

    def verify(self, upload: Upload, status: str, headers: dict, body: bytes, before: tuple) -> list[str]:
        """What the response and the stores must show after one request (outside the window)."""
        from notes import storage, uploads
        from notes.models import Attachment, Summary, SummaryStatus

        ids_before, names_before = before
        problems = []
        new_ids = sorted(set(self.attachment_ids()) - set(ids_before))
        new_names = sorted(set(self.stored_names()) - set(names_before))
        if upload.accepted:
            location = headers.get("Location", "")
            if not status.startswith("303") or location != f"/sessions/{self.session.id}/notes/":
                problems.append(f"expected 303 to the notes page, got {status} {location!r}")
            if len(new_ids) != 1:
                problems.append(f"expected one new attachment row, got {len(new_ids)}")
            else:
                item = Attachment.objects.get(pk=new_ids[0])
                stored = storage.attachment_storage().size(item.storage_name)
                if item.size != upload.size or stored != upload.size:
                    problems.append(f"attachment size {item.size:,}, stored {stored:,}, sent {upload.size:,}")
                if [item.storage_name.rsplit("/", 1)[1]] != new_names:
                    problems.append(f"expected the one new stored file {item.storage_name}, got {new_names}")
            summary = Summary.objects.filter(session=self.session).first()
            if (summary is None or summary.status != SummaryStatus.READY
                    or summary.summarized_version != summary.version):
                problems.append(f"the eager summary did not run: {summary and summary.status}")
        else:
            refusal = f"voice-memo.mp3: {uploads.too_large_reason()}".encode()
            if not status.startswith("200") or refusal not in body:
                problems.append(f"expected 200 showing {refusal.decode()!r}, got {status}")
            if new_ids or new_names:
                problems.append(f"a refused file was stored: {len(new_ids)} rows, {len(new_names)} objects")
        leftovers = list(self.temp_dir.iterdir())
        if leftovers:
            problems.append(f"{len(leftovers)} temporary upload file(s) left behind")
            for path in leftovers:
                path.unlink()
        return problems

    def run(self, name: str, upload: Upload, repeat: int) -> Result:
        result = Result(name, upload.size, "accepted" if upload.accepted else "refused")

        def before():
            return self.attachment_ids(), self.stored_names()

        def after(seen, answer):
            status, headers, body = answer
            result.status = status.split()[0]
            result.problems += self.verify(upload, status, headers, body, seen)

        # warm-up (imports, templates, connections, the storage client); its growth is shown apart
        seen = before()
        with Probe("rss").window() as out:
            answer = self.post(upload)
        result.first = out["growth"]
        after(seen, answer)
        return measure(result, lambda: self.post(upload), repeat, steps=True, before=before, after=after)


# --- the files ---------------------------------------------------------------------------------


def write_files(work: Path, token: str) -> tuple[Path, Upload, Upload]:
    """The raw memo (for the control) and the two request bodies, written chunk by chunk."""
    from notes import uploads
    from tests.notes.files import padded, write_multipart

    limit = uploads.max_upload_bytes()
    accepted_size, refused_size = limit - KB, limit + MB
    memo = work / "voice-memo.mp3"
    with open(memo, "wb") as out:
        out.writelines(padded("mp3", accepted_size)[1].chunks())
    made = []
    for label, size, htmx in (("accepted", accepted_size, False), ("refused", refused_size, True)):
        body = work / f"body-{label}.multipart"
        fields = {"csrfmiddlewaretoken": token, "text": f"Benchmark notes ({label} voice memo)."}
        length = write_multipart(body, fields=fields, files=[("files", *padded("mp3", size))])
        made.append(Upload(label, body, length, size, htmx=htmx, accepted=label == "accepted"))
    return memo, made[0], made[1]


# --- the report --------------------------------------------------------------------------------


def mb(n: float) -> str:
    return f"{n / MB:.2f}"


def pct(n: float, size: int) -> str:
    return f"{100 * n / size:.1f}%"


def spread(values: list[int], size: int) -> str:
    """'max (median) max-as-%-of-size', 25 characters."""
    return f"{mb(max(values)):>7} ({mb(statistics.median(values)):>6}) {pct(max(values), size):>8}"


def print_table(results: list[Result], *, repeat: int, malloc: str) -> None:
    print()
    accepted = next(r for r in results if r.kind == "accepted")
    print(f"Upload memory: a voice memo of {accepted.size:,} bytes (the limit - 1 KB); {repeat} repetitions "
          "each after a warm-up; max (median); % of the file sent")
    header = (f"{'scenario':<36} {'status':>6} {'ms':>6} {'RSS growth MB':>16} {'of file':>8} "
              f"{'Python peak MB':>16} {'of file':>8} {'1st req MB':>11}")
    print(header)
    print("-" * len(header))
    for r in results:
        first = mb(r.first) if r.first is not None else "-"
        print(f"{r.name:<36} {r.status:>6} {1000 * statistics.median(r.seconds):>6.0f} "
              f"{spread(r.growth, r.size)} {spread(r.py_peak, r.size)} {first:>11}")
    print()
    print("per step, max over the repetitions, MB: RSS growth / Python peak, each over the step's own start")
    print(f"{'scenario':<36} " + " ".join(f"{s:>15}" for s in STEPS))
    for r in results:
        if r.steps_rss or r.steps_py:
            cells = [f"{mb(r.steps_rss[s]) if s in r.steps_rss else '-':>6} / "
                     f"{mb(r.steps_py[s]) if s in r.steps_py else '-':>6}" for s in STEPS]
            print(f"{r.name:<36} " + " ".join(cells))
    print("parse: the multipart body into a temporary file (CsrfViewMiddleware reading request.POST);")
    print("check: notes.uploads.check_uploads (sniff + sha256); store: notes.storage.save; summary: the")
    print("eager summary task on commit. RSS growth: VmHWM (reset via /proc/self/clear_refs) minus VmRSS")
    print(f"at the start; {malloc}.")
    print("ms: median wall time of the RSS pass. 1st req: the warm-up request's RSS growth (first use of")
    print("imports, templates, clients: not the upload's own cost).")
    print("The eager Celery tasks (summary, notifications) run on commit inside the request: included.")


def verdict(results: list[Result]) -> int:
    print()
    ok = True
    for r in results:
        worst = max(r.growth)
        if r.kind == "control":
            if worst < CONTROL_MIN_RATIO * r.size:
                print(f"FAILED: {r.name}: grew by only {mb(worst)} MB for a {mb(r.size)} MB read: "
                      "this measurement cannot see a buffer of the file size")
                ok = False
            continue
        met = worst < TARGET_RATIO * r.size
        print(f"{'PASS' if met else 'FAIL'}: {r.name}: grew by {mb(worst)} MB = {pct(worst, r.size)} of the "
              f"file (target < {TARGET_RATIO:.0%} = {mb(TARGET_RATIO * r.size)} MB)")
        ok &= met
        for problem in dict.fromkeys(r.problems):
            print(f"FAILED CHECK: {r.name}: {problem}")
            ok = False
    return 0 if ok else 1


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_clear_refs()
    malloc = "malloc_trim(0) before each window and step" if MALLOC_TRIM else "no malloc_trim (not glibc)"
    use_database(args.db)
    setup_django()
    from django.core.files.storage import storages
    from django.core.management import call_command
    from django.middleware.csrf import CSRF_ALLOWED_CHARS
    from django.test.utils import override_settings
    from django.utils.crypto import get_random_string

    from notes import uploads

    call_command("migrate", verbosity=0)
    tutor, session = cast()
    token = get_random_string(32, CSRF_ALLOWED_CHARS)  # the cookie's secret; the form field sends it as is
    session_key = log_in(tutor)
    work = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
    weed = None
    try:
        memo, accepted, refused = write_files(work, token)
        temp_dir = work / "upload-tmp"  # FILE_UPLOAD_TEMP_DIR, checked empty after every request
        temp_dir.mkdir()
        bench = Bench(session=session, session_key=session_key, token=token, temp_dir=temp_dir)
        started = time.perf_counter()
        weed, server = start_s3(work / "seaweedfs")
        print(f"weed mini up in {time.perf_counter() - started:.1f} s at {server.endpoint_url}", flush=True)
        print("measuring...", flush=True)
        results = [control("control: f.read() of the file, 1st", memo, accepted.size, args.repeat)]
        refused_label = f"refused ({uploads.size_text(refused.size)})"
        for configured in (local_storages(work / "notes"), s3_storages(server)):
            # override_settings sends setting_changed, on which Django empties the storages cache
            with override_settings(STORAGES=configured, FILE_UPLOAD_TEMP_DIR=str(temp_dir),
                                   ALLOWED_HOSTS=[HOST]):
                backend = type(storages["notes"]).__name__
                expected = configured["notes"]["BACKEND"].rsplit(".", 1)[1]
                if backend != expected:
                    raise RuntimeError(f"storages['notes'] is a {backend}, not {expected}: cache not reset")
                results.append(bench.run(f"{backend}: accepted", accepted, args.repeat))
                results.append(bench.run(f"{backend}: {refused_label}", refused, args.repeat))
        # again at the end: the method still sees a buffer of the file size after all the requests
        results.append(control("control: f.read() of the file, last", memo, accepted.size, args.repeat))
        print_table(results, repeat=args.repeat, malloc=malloc)
        return verdict(results)
    finally:
        if weed is not None:
            stop_s3(weed)
        clear_notes(session)
        log_out(session_key)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
