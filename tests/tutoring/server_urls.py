"""Views for tests/tutoring/test_server.py's handler tests (settings.ROOT_URLCONF points here in
them): a large page, a streamed one, one streamed inside a transaction, a quick one, and one that
waits for the test to let it finish."""

import threading

from django.db import connection, transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

entered, gate = threading.Event(), threading.Event()  # the held view: it says it started, then waits
PART = b"x" * 1000


def _touch_the_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def big(request):
    _touch_the_database()
    return HttpResponse(b"z" * 500_000)


def streamed(request):
    _touch_the_database()

    def parts():
        for _ in range(200):  # 200 KB: four batches
            _touch_the_database()
            yield PART
    return StreamingHttpResponse(parts())


def streamed_in_a_transaction(request):
    def parts():
        with transaction.atomic():
            _touch_the_database()
            for _ in range(200):
                yield PART
    return StreamingHttpResponse(parts())


def streamed_in_a_transaction_held(request):
    """A stream whose first batch, inside its transaction, waits for the test's gate."""
    def parts():
        with transaction.atomic():
            _touch_the_database()
            entered.set()
            gate.wait(30)
            for _ in range(200):
                yield PART
    return StreamingHttpResponse(parts())


def streamed_then_failing(request):
    def parts():
        _touch_the_database()
        yield PART
        raise RuntimeError("the stream failed")
    return StreamingHttpResponse(parts())


def streamed_async(request):
    _touch_the_database()

    async def parts():
        for _ in range(200):
            yield PART
    return StreamingHttpResponse(parts())


def database(request):
    _touch_the_database()
    return HttpResponse(b"database")


def quick(request):
    return HttpResponse(b"quick")


def held(request):
    entered.set()
    gate.wait(30)
    return HttpResponse(b"held")


urlpatterns = [path("big", big), path("streamed", streamed), path("streamed-in-a-transaction", streamed_in_a_transaction),
               path("streamed-in-a-transaction-held", streamed_in_a_transaction_held),
               path("streamed-then-failing", streamed_then_failing), path("streamed-async", streamed_async),
               path("database", database), path("quick", quick), path("held", held)]
