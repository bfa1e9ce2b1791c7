"""The Session History metrics (H16), defined once.

Every metric is a sum of per-session measures over some statuses, or a ratio of two such sums.
What one session counts is MEASURES_SQL with the one rating that counts (`counted_review`: the
student's), both read through `measured` (the only place that says what a session counts, and
`review_measured` for a rating added or removed on its own); they are summed

- by the rollup triggers and their recount (creators/rollups.py) into one row per
  (course, tutor, status),
- over a filtered set of sessions (creators/selectors.py, when the filters need the sessions),
- over the rollup rows (creators/selectors.py, for whole histories),

each query returning the TOTALS below (a measure summed over some statuses), and `evaluate` turns
those into the COUNTS and RATIOS. No other code states a numerator or a denominator."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from sessions.models import (
    CLOSED,
    DID_NOT_TAKE_PLACE,
    LIVE,
    AssessmentRole,
    Session,
    SessionAssessment,
    Status,
)

# The page's status filter (H11) mapped onto backend statuses. A session "took place" once the
# tutor checked out: awaiting acknowledgement, approved, or disputed (it happened; the parent
# contests it). not_completed (an expired reschedule, a voided dispute) did not take place and is
# shown with the cancellations.
STATUS_BUCKETS = {
    "completed": CLOSED,
    "scheduled": LIVE,
    "cancelled": DID_NOT_TAKE_PLACE,
    "no_show": (Status.NO_SHOW,),
}
BUCKET_OF = {status: bucket for bucket, statuses in STATUS_BUCKETS.items() for status in statuses}

# Which rating is a rating of the session: the student's (the tutor's rating of the student is not).
RATED_BY = AssessmentRole.STUDENT
ASSESSMENT = SessionAssessment._meta.db_table


def counted_review(review: str) -> str:
    """SQL: the assessment row `review` is the rating the metrics count."""
    return f"{review}.author_role = '{RATED_BY}'"


# What one session `s` contributes, given its counted review `review` (NULL when there is none):
# - sessions: 1;
# - actual_us, actual_n: checked_out_at - checked_in_at in microseconds, and whether both times
#   exist (imported or legacy sessions without attendance add 0 to both);
# - rating_sum, rating_n: the student's rating, and whether there is one.
# The session measures read only the session's KEYS and READS; the review measures only the review.
KEYS = ("course_id", "tutor_id", "status")  # what the rollups are grouped by
READS = ("checked_in_at", "checked_out_at")  # an update that changes neither, nor a key, counts the same
SESSION_MEASURES = {
    "sessions": "1",
    "actual_us": "COALESCE((EXTRACT(EPOCH FROM (s.checked_out_at - s.checked_in_at)) * 1000000)::bigint, 0)",
    "actual_n": "(s.checked_in_at IS NOT NULL AND s.checked_out_at IS NOT NULL)::int",
}
REVIEW_MEASURES = {
    "rating_sum": "COALESCE(review.rating, 0)",
    "rating_n": "(review.rating IS NOT NULL)::int",
}
_EVERY_MEASURE = {**SESSION_MEASURES, **REVIEW_MEASURES}
MEASURES = tuple(_EVERY_MEASURE)
MEASURES_SQL = ", ".join([*(f"s.{key}" for key in KEYS),
                          *(f"{sql} AS {name}" for name, sql in _EVERY_MEASURE.items())])


def measured(sessions: str, where: str) -> str:
    """SQL: the KEYS and MEASURES of each session of `sessions` (a table, or a subquery in
    parentheses) that meets `where`, its counted review joined (one at most: an assessment per
    role)."""
    return (f"SELECT {MEASURES_SQL} FROM {sessions} s LEFT JOIN {ASSESSMENT} review "
            f"ON review.session_id = s.id AND {counted_review('review')} WHERE {where}")


def review_measured(reviews: str, where: str) -> str:
    """SQL: what each assessment of `reviews` (a table) that counts and whose session meets `where`
    adds to its session's MEASURES: the REVIEW_MEASURES, and 0 to the session measures."""
    columns = [*(f"s.{key}" for key in KEYS), *(f"0 AS {name}" for name in SESSION_MEASURES),
               *(f"{sql} AS {name}" for name, sql in REVIEW_MEASURES.items())]
    return (f"SELECT {', '.join(columns)} FROM {reviews} review JOIN {Session._meta.db_table} s "
            f"ON s.id = review.session_id WHERE {counted_review('review')} AND {where}")


@dataclass(frozen=True)
class Total:
    """The sum of one measure over the sessions whose status is in `buckets` (None: every status)."""

    measure: str
    buckets: tuple[str, ...] | None = None
    # its column name in a query's result: t_<measure>_<buckets or all>, made once
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "key", f"t_{self.measure}_{'_'.join(self.buckets) if self.buckets else 'all'}")

    @property
    def statuses(self) -> list[str] | None:
        return None if self.buckets is None else [str(s) for b in self.buckets for s in STATUS_BUCKETS[b]]

    def of(self, sums: dict) -> int:
        return int(sums.get(self.key) or 0)  # SUM(bigint) arrives as Decimal, SUM of nothing as NULL


@dataclass(frozen=True)
class Ratio:
    """numerator / denominator (`evaluate`: None when the denominator is 0), times `scale`,
    rounded to `digits`."""

    numerator: Total
    denominator: Total
    scale: float = 1.0
    digits: int = 4


COUNTS = {
    "total": Total("sessions"),
    "completed": Total("sessions", ("completed",)),
    "cancelled": Total("sessions", ("cancelled",)),
    "no_show": Total("sessions", ("no_show",)),
    "scheduled": Total("sessions", ("scheduled",)),
}
RATIOS = {
    # the mean actual length of the sessions that took place and have both times, in minutes
    "average_duration_minutes": Ratio(Total("actual_us", ("completed",)), Total("actual_n", ("completed",)),
                                      scale=1 / 60_000_000, digits=1),
    # of the sessions that are settled (not those still scheduled or in progress)
    "completion_rate": Ratio(Total("sessions", ("completed",)),
                             Total("sessions", ("completed", "cancelled", "no_show"))),
    # of the sessions that were due to happen
    "no_show_rate": Ratio(Total("sessions", ("no_show",)), Total("sessions", ("completed", "no_show"))),
    # the mean of the students' ratings (1-5)
    "average_rating": Ratio(Total("rating_sum"), Total("rating_n"), digits=2),
}
RATINGS = Total("rating_n")

# every sum a query must return, once each
TOTALS = list(dict.fromkeys([*COUNTS.values(), *(t for r in RATIOS.values() for t in (r.numerator, r.denominator)),
                             RATINGS]))


_TOTAL_KEYS = [t.key for t in TOTALS]
_COUNT_KEYS = [(name, total.key) for name, total in COUNTS.items()]
_RATIO_PARTS = [(name, r.numerator.key, r.denominator.key, r.scale, r.digits) for name, r in RATIOS.items()]


def add_up(rows: Iterable[dict]) -> dict:
    """The TOTALS of several rows (per tutor, per course) added up."""
    rows = [{key: row.get(key) or 0 for key in _TOTAL_KEYS} for row in rows]
    return {key: sum(row[key] for row in rows) for key in _TOTAL_KEYS}


def evaluate(sums: dict) -> dict:
    """The metrics from a row holding every Total of TOTALS under its key (the per-ST breakdown
    evaluates some 500 rows a request: each total is read once, the keys were made once)."""
    total = {key: int(sums.get(key) or 0) for key in _TOTAL_KEYS}  # SUM(bigint) arrives as Decimal
    metrics = {name: total[key] for name, key in _COUNT_KEYS}
    for name, numerator, denominator, scale, digits in _RATIO_PARTS:
        below = total[denominator]
        metrics[name] = round(total[numerator] * scale / below, digits) if below else None
    metrics["ratings"] = total[RATINGS.key]
    return metrics
