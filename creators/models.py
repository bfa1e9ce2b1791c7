"""Maintained rollups behind the Session History metrics (H16).

One row per (course, tutor, status) holds the number of sessions, the sum of their actual
durations, and the sum and count of the students' ratings. PostgreSQL keeps them current with
statement-level triggers on sessions and assessments (creators/rollups.py has the SQL): every
writer (the lifecycle, the set-based sweeps, admin edits, bulk seeds) moves the counts in the same
transaction, a whole statement at once. The metrics of a creator's whole history, or of one
course, ST or status, are then a sum over a few thousand rows instead of an aggregate over every
session; `rollups.differences()` compares them with a full recount
(`stamps.rebuild_rollups()` recounts them)."""

from django.conf import settings
from django.db import models


class SessionRollup(models.Model):
    course = models.ForeignKey("tutoring.Course", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    tutor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                              related_name="+")
    status = models.CharField(max_length=32)
    sessions = models.IntegerField(default=0)
    actual_us = models.BigIntegerField(default=0)  # sum of checked_out_at - checked_in_at, microseconds
    actual_n = models.IntegerField(default=0)  # sessions with both times
    rating_sum = models.BigIntegerField(default=0)  # the students' ratings
    rating_n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course", "tutor", "status"], name="rollup_key")]

    def __str__(self) -> str:
        return f"course {self.course_id} tutor {self.tutor_id} {self.status}: {self.sessions}"


class CoursePersonCount(models.Model):
    """How many sessions one person has in a course (CourseTutor, CourseStudent), kept by a
    trigger (creators/rollups.py). Rows brought down to zero are kept and mean "no sessions"."""

    person = ""  # the person's field

    # read by course (the key's index); never by the person alone
    course = models.ForeignKey("tutoring.Course", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                               related_name="+")
    sessions = models.IntegerField(default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"course {self.course_id} {self.person} {getattr(self, f'{self.person}_id')}: {self.sessions}"


def _person():
    return models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                             db_index=False, related_name="+")


class CourseTutor(CoursePersonCount):
    """A tutor's sessions in a course: the rollup rows' sessions summed over their statuses, kept
    by a trigger on the rollups. The ST filter's choices and the creator's total are then a read
    of one row per (course, tutor), not a pass over every rollup row."""

    person = "tutor"
    tutor = _person()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course", "tutor"], name="course_tutor_key")]


class CourseStudent(CoursePersonCount):
    """A student's sessions in a course, kept by a trigger on the sessions. A student-name search
    of the Session History then reads the creator's matching students from here (a few hundred
    pairs) and only their sessions, instead of probing the sessions of everyone with that name in
    every course."""

    person = "student"
    student = _person()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course", "student"], name="course_student_key")]


class CreatorTutor(models.Model):
    """A tutor's sessions in all of a creator's courses, with the tutor's name and avatar: the
    CourseTutor rows of the creator's courses summed, kept by triggers (creators/rollups.py) on
    them, on a course given to another creator and on a tutor's new name or avatar. The Session
    History's ST filter, its total and the API's ST list are then one index read of the creator's
    STs in name order, not a sum over every (course, tutor) pair joined with the people. Rows
    brought down to zero are kept and mean "no sessions"."""

    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                                db_index=False, related_name="+")
    tutor = _person()
    name = models.CharField(max_length=150)  # the tutor's (User.name), kept current by a trigger
    avatar_url = models.URLField(blank=True)  # the tutor's (User.avatar_url), likewise
    sessions = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["creator", "tutor"], name="creator_tutor_key")]
        # the ST list: the creator's rows in name order, read from the index alone
        indexes = [models.Index(fields=["creator", "name", "tutor"], include=["sessions", "avatar_url"],
                                name="creator_tutor_by_name")]

    def __str__(self) -> str:
        return f"creator {self.creator_id} tutor {self.tutor_id} ({self.name}): {self.sessions}"


class ChangeStamp(models.Model):
    """A number that changes whenever anything a creator's Session History shows changes (set by
    PostgreSQL triggers, creators/stamps.py): the key under which its pieces are cached."""

    creator = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, related_name="+")
    version = models.BigIntegerField()  # any change the page shows
    frame = models.BigIntegerField()  # a change of its frame: totals, "this week", the filter choices

    def __str__(self) -> str:
        return f"creator {self.creator_id}: {self.version}"
