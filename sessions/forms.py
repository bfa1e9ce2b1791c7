"""Web forms for the session pages. They only parse input (types, required fields); the rules
and their messages stay in sessions.lifecycle, so a form never refuses what the API allows."""

from django import forms
from django.core.exceptions import ValidationError

from tutoring.input import DateTimeField, TextField
from tutoring.models import Match

from .models import ChangeKind, ChangeReason, NoShowParty, Party
from .rules import DISPUTE_TOO_SHORT, MAX_TEXT, MIN_DISPUTE_REASON


class LocalDateTimeField(DateTimeField):
    """A datetime-local input, read in the active time zone (the viewer's, set by the view)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"required": "Please choose a new start time.",
                                             "invalid": "Enter a date and time like 2026-11-20 15:30."})
        super().__init__(**kwargs)


def note_field(**kwargs) -> TextField:
    return TextField(max_length=MAX_TEXT, required=False, what="note", **kwargs)


class ProposalForm(forms.Form):
    proposal_id = forms.IntegerField(error_messages={"required": "This proposal is no longer open."})


class CheckOutForm(forms.Form):
    student_absent = forms.BooleanField(required=False, label="Student did not attend")


class DisputeForm(forms.Form):
    # the lifecycle asks for it ("Please give a reason for the dispute."), with the same minimum
    reason = TextField(max_length=MAX_TEXT, min_length=MIN_DISPUTE_REASON, too_short=DISPUTE_TOO_SHORT,
                       required=False, what="reason for the dispute", widget=forms.Textarea(attrs={"rows": 3}))


class CancelForm(forms.Form):
    reason_id = forms.IntegerField(required=False, error_messages={"invalid": "Choose one of the reasons."})
    note = note_field()
    policy_id = forms.IntegerField(required=False)
    as_role = forms.ChoiceField(choices=[("", ""), ("parent", "parent"), ("tutor", "tutor")], required=False)
    confirm = forms.BooleanField(error_messages={"required": "Tick the box to confirm the cancellation."})

    def clean_as_role(self):
        return self.cleaned_data["as_role"] or None


class RescheduleForm(forms.Form):
    proposed_start = LocalDateTimeField()
    reason_id = forms.IntegerField(required=False, error_messages={"invalid": "Choose one of the reasons."})
    note = note_field()
    as_role = forms.ChoiceField(choices=[("", ""), ("parent", "parent"), ("tutor", "tutor")], required=False)

    def clean_as_role(self):
        return self.cleaned_data["as_role"] or None


class RejectForm(ProposalForm):
    reason = TextField(max_length=MAX_TEXT, required=False, what="reason for declining")


class CounterForm(ProposalForm):
    proposed_start = LocalDateTimeField()
    note = note_field()


# --- the coordinator's actions in the admin (each collects its input on an intermediate page) ---


def reason_field(*, label: str, required_message: str) -> TextField:
    return TextField(label=label, max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3}),
                     help_text="Kept on each session's audit trail.", what="reason",
                     error_messages={"required": required_message})


class VerifyForm(forms.Form):
    reason = reason_field(label="Reason for the override",
                          required_message="Please give a reason for the override.")


class ResolveDisputeForm(forms.Form):
    decision = forms.ChoiceField(widget=forms.RadioSelect, choices=[
        ("approve", "Approve: the session counts and a lesson credit is used"),
        ("void", "Void: the session did not count (not completed, no credit)"),
    ])
    reason = reason_field(label="Reason for the decision",
                          required_message="Please give a reason for the decision.")


class NoShowForm(forms.Form):
    party = forms.ChoiceField(label="Who did not attend", widget=forms.RadioSelect,
                              choices=NoShowParty.choices)
    reason = reason_field(label="Reason", required_message="Please give a reason.")


class CancelReasonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.get_role_display()}: {obj.label}"


class CancelOnBehalfForm(forms.Form):
    on_behalf_of = forms.ChoiceField(label="Cancel on behalf of", widget=forms.RadioSelect,
                                     choices=Party.choices)
    reason = CancelReasonChoice(
        label="Reason", help_text="Pick one of that side's reasons.",
        queryset=ChangeReason.objects.filter(kind=ChangeKind.CANCEL, active=True),
    )
    note = TextField(label="Note", required=False, max_length=MAX_TEXT, what="note",
                     widget=forms.Textarea(attrs={"rows": 2}),
                     help_text="Required for reasons such as “Other”.")

    def clean(self):
        # the lifecycle takes the reason's id and checks it belongs to the side cancelled for
        data = super().clean()
        if data.get("reason") is not None:
            data["reason_id"] = data["reason"].pk
        return data


class AdhocRowForm(forms.Form):
    """One ad-hoc session; a row left entirely empty is skipped."""

    student = forms.TypedChoiceField(coerce=int, required=False, label="Student")
    course = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Course")
    start = LocalDateTimeField(required=False, label="Start")
    end = LocalDateTimeField(required=False, label="End")
    note = note_field(label="Note")

    def __init__(self, *args, students=(), courses=(), no_course=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.no_course = no_course  # the tutor has a match without a course
        self.fields["student"].choices = [("", "Choose…"), *students]
        self.fields["course"].choices = [("", "No course" if no_course else "Choose…"), *courses]

    def is_blank(self) -> bool:
        return not any((self.data.get(self.add_prefix(name)) or "").strip() for name in self.fields)

    def clean(self):
        data = super().clean()
        if not self.is_blank():
            for name in ("student", "start", "end") if self.no_course else ("student", "course", "start", "end"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, ValidationError("Required.", code="required"))
        return data

    def as_row(self) -> dict:
        d = self.cleaned_data
        return {"student_id": d["student"], "course_id": d["course"], "start": d["start"], "end": d["end"],
                "note": d["note"]}


class BaseAdhocFormSet(forms.BaseFormSet):
    def __init__(self, *args, tutor=None, **kwargs):
        # only the students and courses of the tutor's own active matches (the lifecycle refuses
        # any other); a student matched in two courses is listed once
        matches = list(Match.objects.filter(tutor=tutor, active=True).select_related("student", "course")
                       .order_by("student__name", "student_id"))
        self.students = list(dict.fromkeys((m.student_id, m.student.name) for m in matches))
        self.courses = sorted({(m.course_id, m.course.title) for m in matches if m.course_id}, key=lambda c: c[1])
        self.no_course = any(m.course_id is None for m in matches)
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {"students": self.students, "courses": self.courses, "no_course": self.no_course}


AdhocFormSet = forms.formset_factory(AdhocRowForm, formset=BaseAdhocFormSet, extra=3, max_num=50,
                                     absolute_max=50)
