"""The legacy session import (issue 17 item 6, spec 004 L29), a django-import-export resource.

A CSV with the columns

    external_id  the session's id in the old system (required; the natural key)
    tutor        the tutor's username
    student      the student's username
    start, end   ISO 8601 date-times with their offset, e.g. 2025-03-04T16:00:00+01:00
    course       optional: the course id (the student must be enrolled)
    status       optional: approved (the default), cancelled_by_tutor, cancelled_by_parent,
                 not_completed or no_show
    source       optional: imported (the default) or legacy

becomes past sessions through `sessions.lifecycle.import_past_session`: exempt from check-in and
check-out and from package deduction, recorded without notifying anyone. The admin runs the whole
file as a dry run first (in a transaction that is rolled back) and lists every row's errors by
column; only a file without errors can be confirmed, and the confirmed run is all or nothing. A row
whose external_id was imported before is skipped when it says the same, and refused when it says
something else: importing a file twice adds nothing.
"""

from datetime import datetime

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from import_export import fields, resources, widgets

from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import Source, Status
from tutoring.input import InvalidInput, check_moment, clean_text, parse_id
from tutoring.models import Role, User

from .models import ImportedSession

COLUMNS = ("external_id", "tutor", "student", "start", "end", "course", "status", "source")
STATUSES = [s.value for s in lifecycle.IMPORTABLE_STATUSES]
SOURCES = [Source.IMPORTED.value, Source.LEGACY.value]
# which column a lifecycle refusal is about
REFUSAL_COLUMN = {
    "unknown_tutor": "tutor", "unknown_student": "student", "same_person": "student",
    "time_required": "start", "start_required": "start", "slot_taken": "start",
    "end_before_start": "end", "too_long": "end", "not_ended": "end",
    "unknown_course": "course", "not_enrolled": "course", "bad_status": "status", "bad_source": "source",
}


def _text(row, column) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _moment(value: str, column: str, errors: dict):
    if not value:
        errors[column] = f"Give the {column} as a date and time with its offset, e.g. 2025-03-04T16:00:00+01:00."
        return None
    try:
        return check_moment(datetime.fromisoformat(value))
    except InvalidInput as exc:
        errors[column] = str(exc)
    except ValueError:
        errors[column] = f"“{value[:40]}” is not a date and time: write it like 2025-03-04T16:00:00+01:00."
    return None


def _person(username: str, role: str, column: str, errors: dict):
    if not username:
        errors[column] = f"Give the {column}'s username."
        return None
    person = User.objects.filter(username=username, roles__contains=[role], is_active=True).first()
    if person is None:
        errors[column] = f"No active {role} with the username “{username[:150]}”."
    return person


class LegacySessionResource(resources.ModelResource):
    """Rows in, sessions out; the preview shows each row as read (attributes set by import_instance)."""

    external_id = fields.Field(attribute="external_id", column_name="external_id", widget=widgets.CharWidget())
    tutor = fields.Field(attribute="row_tutor", column_name="tutor")
    student = fields.Field(attribute="row_student", column_name="student")
    start = fields.Field(attribute="row_start", column_name="start")
    end = fields.Field(attribute="row_end", column_name="end")
    course = fields.Field(attribute="row_course", column_name="course")
    status = fields.Field(attribute="row_status", column_name="status")
    source = fields.Field(attribute="row_source", column_name="source")

    class Meta:
        model = ImportedSession
        fields = COLUMNS
        import_id_fields = ("external_id",)
        use_transactions = True
        clean_model_instances = False
        report_skipped = True

    def get_queryset(self):
        return ImportedSession.objects.select_related("session__tutor", "session__student")

    def import_instance(self, instance, row, **kwargs):
        """Read and check every column of the row; all of its problems at once, by column."""
        errors: dict[str, str] = {}
        try:
            external_id = clean_text(row.get("external_id"), max_length=100, min_length=1, what="external_id")
        except InvalidInput as exc:
            external_id = ""
            errors["external_id"] = str(exc)
        instance.external_id = external_id
        values = {c: _text(row, c) for c in COLUMNS if c != "external_id"}
        for column, value in values.items():
            setattr(instance, f"row_{column}", value)
        tutor = _person(values["tutor"], Role.TUTOR, "tutor", errors)
        student = _person(values["student"], Role.STUDENT, "student", errors)
        start = _moment(values["start"], "start", errors)
        end = _moment(values["end"], "end", errors)
        course_id = None
        if values["course"]:
            if (course_id := parse_id(values["course"])) is None or course_id >= 2**31:
                course_id = None
                errors["course"] = "The course is its number (or leave it empty)."
        status = values["status"] or Status.APPROVED.value
        if status not in STATUSES:
            errors["status"] = f"The status must be one of: {', '.join(STATUSES)}."
        source = values["source"] or Source.IMPORTED.value
        if source not in SOURCES:
            errors["source"] = f"The source must be one of: {', '.join(SOURCES)}."
        instance.planned = {"tutor": tutor, "student": student, "start": start, "end": end,
                            "course_id": course_id, "status": status, "source": source}
        if instance.pk and not errors and not self._same_as_before(instance):
            errors["external_id"] = (f"“{external_id}” was imported before as session {instance.session_id} "
                                     "with other data: change that session in the admin instead.")
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def _same_as_before(instance) -> bool:
        s, p = instance.session, instance.planned
        return (s.tutor_id, s.student_id, s.scheduled_start, s.scheduled_end, s.course_id, s.status, s.source) == (
            p["tutor"].pk, p["student"].pk, p["start"], p["end"], p["course_id"], p["status"], p["source"])

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """An external_id imported before with the same data: nothing to do."""
        return bool(instance.pk) and not import_validation_errors

    def save_instance(self, instance, is_create, row, **kwargs):
        p, user = instance.planned, kwargs.get("user")
        try:
            session = lifecycle.import_past_session(
                by=user, tutor_id=p["tutor"].pk, student_id=p["student"].pk, start=p["start"], end=p["end"],
                course_id=p["course_id"], status=p["status"], source=p["source"],
                data={"external_id": instance.external_id})
        except Refused as exc:
            raise ValidationError({REFUSAL_COLUMN.get(exc.code, NON_FIELD_ERRORS): exc.message}) from None
        instance.session = session
        instance.imported_by = user
        instance.save()
