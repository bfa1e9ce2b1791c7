"""Issue 18 item 4: the room's socket is rate-limited. Connection attempts per user
(ROOM_CONNECTS_PER_MINUTE, counted in the cache) and messages per connection (a token bucket):
over either, an error frame {"code": "rate_limited"} and close code 4429 (the flood of messages:
tests/room/test_socket.py); both recover with time."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from room.consumers import BURST, RATE_PER_SECOND, TokenBucket
from tests.room.test_socket import close_the_consumers_connection, refusal, run, socket, welcome  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_connection_attempts_per_user_are_limited_and_the_limit_lifts(live, student, tutor, settings):
    settings.ROOM_CONNECTS_PER_MINUTE = 2
    # the real clock (the room opens by it), standing at the start of a minute and moving on
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(start, tick=True) as clock:
        first, second, third = (socket(live.id, student) for _ in range(3))

        async def scenario():
            for comm in (first, second):
                await welcome(comm)
                await comm.disconnect()
            return await refusal(third)
        message, code = run(scenario)
        assert code == 4429
        assert 0 < message.pop("retry_after") <= 60  # seconds: the page waits that long (static/js/room.js)
        assert message == {"type": "error", "code": "rate_limited",
                           "detail": "Too many connection attempts: try again in 1 minute."}

        comm = socket(live.id, tutor)

        async def other():  # the tutor has a count of their own
            await welcome(comm)
            await comm.disconnect()
        run(other)

        clock.shift(timedelta(seconds=60))

        comm = socket(live.id, student)

        async def later():
            await welcome(comm)
            await comm.disconnect()
        run(later)


def test_the_message_bucket_refills_with_time():
    now = [0.0]
    bucket = TokenBucket(RATE_PER_SECOND, BURST, clock=lambda: now[0])
    assert all(bucket.take() for _ in range(BURST))
    assert not bucket.take()  # the burst is spent
    now[0] += 0.25
    assert sum(bucket.take() for _ in range(10)) == RATE_PER_SECOND // 4  # RATE_PER_SECOND more a second
    now[0] += 10
    assert sum(bucket.take() for _ in range(BURST + 5)) == BURST  # never more than the burst
