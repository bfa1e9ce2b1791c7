"""A user's calendar day in their own zone (User.local_day_bounds): the tutor's Today tab and the
desk's "did not check in today" both read it, so both agree on a day that DST makes 23 hours long."""

from datetime import UTC, datetime

from tutoring.models import User


def test_it_gives_a_dst_day_its_23_hours():
    """Issue 13 item 8: London goes to BST on 29 Mar 2026; that day runs 00:00 GMT to 00:00 BST."""
    user = User(username="zoned", time_zone="Europe/London")
    start, end = user.local_day_bounds(datetime(2026, 3, 29, 12, 0, tzinfo=UTC))
    assert start == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 29, 23, 0, tzinfo=UTC) == user.end_of_local_day(start)


def test_it_takes_the_day_of_the_users_zone_not_the_servers():
    """Issue 13 item 8: 20:00 UTC is already the next day in Auckland (NZDT, UTC+13)."""
    user = User(username="far", time_zone="Pacific/Auckland")
    start, end = user.local_day_bounds(datetime(2026, 12, 1, 20, 0, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 12, 1, 11, 0, tzinfo=UTC), datetime(2026, 12, 2, 11, 0, tzinfo=UTC))
