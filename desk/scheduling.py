"""The admin's scheduling pages (issue 17 item 2): accept a match with a weekly pattern, change or
end a pattern, and add a single session. Each pattern page previews first: the dates (in the
tutor's zone and the viewer's) and every conflict with the tutor's or the student's other sessions
are listed before anything is written; confirming writes through desk/patterns.py, which creates
and moves sessions only through the lifecycle. The add page calls lifecycle.create_session."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import Channel, Session
from tutoring.input import DateTimeField, DayField, TextField, parse_id
from tutoring.models import Course, MatchState, Role, User

from . import patterns
from .models import WeeklyPattern

PREVIEW, CONFIRM, END = "_preview", "_confirm", "_end"


class PatternForm(forms.Form):
    weekdays = forms.TypedMultipleChoiceField(coerce=int, widget=forms.CheckboxSelectMultiple,
                                              choices=list(enumerate(patterns.WEEKDAY_NAMES)),
                                              error_messages={"required": "Choose at least one weekday."})
    start_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                 help_text="In the tutor's time zone: it stays the same local time when the "
                                           "clocks change.")
    minutes = forms.IntegerField(label="Length (minutes)", min_value=patterns.MIN_MINUTES, max_value=8 * 60,
                                 initial=60)
    starts_on = DayField(label="First day")
    weeks = forms.IntegerField(min_value=1, max_value=patterns.MAX_WEEKS, required=False,
                               help_text="Leave empty to plan until the student's lesson credits are used up.")
    # the conflicts the coordinator was shown (session ids): confirming schedules around exactly those
    seen = TextField(max_length=2000, required=False, what="list of conflicts", widget=forms.HiddenInput)

    def spec(self) -> patterns.PatternInput:
        d = self.cleaned_data
        return patterns.PatternInput(weekdays=tuple(d["weekdays"]), start_time=d["start_time"],
                                     minutes=d["minutes"], starts_on=d["starts_on"], weeks=d["weeks"])

    def seen_ids(self) -> set[int]:
        seen = (parse_id(p.strip()) for p in (self.cleaned_data.get("seen") or "").split(","))
        return {pk for pk in seen if pk is not None}


def _initial(pattern: WeeklyPattern | None) -> dict:
    if pattern is None:
        return {"starts_on": timezone.localdate(), "minutes": 60}
    return {"weekdays": pattern.weekdays, "start_time": pattern.start_time, "minutes": pattern.minutes,
            "starts_on": pattern.starts_on, "weeks": pattern.weeks}


def pattern_page(modeladmin, request, *, match=None, pattern=None):
    """Accept `match` with a pattern, or change/end `pattern`: preview, then confirm."""
    match = match or pattern.match
    now = timezone.now()
    form = PatternForm(request.POST if request.method == "POST" else None, initial=_initial(pattern))
    plan = None
    if request.method == "POST" and END in request.POST and pattern is not None:
        try:
            outcome = patterns.end_pattern(pattern.pk, by=request.user, end_match=bool(request.POST.get("end_match")),
                                           now=now)
        except Refused as exc:
            messages.error(request, f"{exc.message} Nothing was changed.")
        else:
            messages.success(request, f"The pattern ended: {len(outcome.withdrawn)} future sessions withdrawn; "
                                      "sessions someone already acted on were kept.")
        return HttpResponseRedirect(reverse("admin:desk_weeklypattern_change", args=[pattern.pk]))
    if request.method == "POST" and form.is_valid():
        try:
            if CONFIRM in request.POST:
                return _confirm(request, form, match=match, pattern=pattern, now=now)
            plan = (patterns.preview(match.pk, by=request.user, spec=form.spec(), now=now) if pattern is None else
                    patterns.preview_change(pattern.pk, by=request.user, spec=form.spec(), now=now))
        except Refused as exc:
            if exc.code == "conflicts":
                plan = _plan_again(request, form, match, pattern, now)
                messages.warning(request, "The conflicts changed since the preview: review them again. "
                                          "Nothing was saved.")
            else:
                form.add_error(None, f"{exc.message} Nothing was saved.")
        if plan is not None:
            form.data = form.data.copy()
            form.data["seen"] = ",".join(str(c.session.pk) for c in plan.conflicts)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": (f"Weekly pattern: {match}" if pattern is not None else f"Accept and schedule: {match}"
                  if match.state == MatchState.PROPOSED else f"Set a weekly pattern: {match}"),
        "match": match, "pattern": pattern, "form": form, "plan": plan,
        "tutor_zone": pattern.time_zone if pattern else match.tutor.time_zone,
        "sessions": (pattern.links.select_related("session").order_by("session__scheduled_start", "session__pk")
                     if pattern else []),
        "preview_name": PREVIEW, "confirm_name": CONFIRM, "end_name": END,
        "description": patterns.describe(pattern) if pattern else "",
    }
    return TemplateResponse(request, "desk/pattern.html", context)


def _plan_again(request, form, match, pattern, now):
    if pattern is None:
        return patterns.preview(match.pk, by=request.user, spec=form.spec(), now=now)
    return patterns.preview_change(pattern.pk, by=request.user, spec=form.spec(), now=now)


def _confirm(request, form, *, match, pattern, now):
    """Write, around the conflicts the coordinator saw; a new conflict sends them back to the preview."""
    plan = _plan_again(request, form, match, pattern, now)
    unseen = {c.session.pk for c in plan.conflicts} - form.seen_ids()
    if unseen:
        raise Refused("New conflicts.", code="conflicts")
    if pattern is None:
        accepting = match.state == MatchState.PROPOSED
        pattern, created, plan = (patterns.accept_match if accepting else patterns.set_pattern)(
            match.pk, by=request.user, spec=form.spec(), confirm=True, now=now)
        text = f"{'Match accepted' if accepting else 'Weekly pattern set'}: {len(created)} sessions scheduled"
    else:
        outcome = patterns.change_pattern(pattern.pk, by=request.user, spec=form.spec(), confirm=True, now=now)
        text = (f"Pattern changed: {len(outcome.moved)} sessions moved, {len(outcome.created)} added, "
                f"{len(outcome.withdrawn)} withdrawn")
    skipped = len(plan.conflicts)
    left_out = "1 date" if skipped == 1 else f"{skipped} dates"
    messages.success(request, text + (f"; {left_out} left out for conflicts." if skipped else "."))
    return HttpResponseRedirect(reverse("admin:desk_weeklypattern_change", args=[pattern.pk]))


# --- one session ------------------------------------------------------------------------------


class PersonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.username})"


class SessionAddForm(forms.Form):
    tutor = PersonChoice(queryset=User.objects.filter(roles__contains=[Role.TUTOR], is_active=True).order_by("name"))
    student = PersonChoice(queryset=User.objects.filter(roles__contains=[Role.STUDENT], is_active=True)
                           .order_by("name"))
    course = forms.ModelChoiceField(queryset=Course.objects.order_by("title"), required=False,
                                    empty_label="The course of their match",
                                    help_text="The student must be enrolled in it. Left as “The course of "
                                              "their match”: the course of the tutor's match with this "
                                              "student (none when they have no match with a course).")
    start = DateTimeField(help_text="In your time zone.")
    minutes = forms.IntegerField(label="Length (minutes)", min_value=patterns.MIN_MINUTES, max_value=8 * 60,
                                 initial=60)
    is_trial = forms.BooleanField(label="Trial session", required=False)


def add_session_page(modeladmin, request):
    """The session admin's add page: a form whose save is lifecycle.create_session (channel admin)."""
    # ?tutor=&student=&course= preselect (the match list's "Add one session" link passes its pair)
    initial = {k: v for k, v in request.GET.items() if k in ("tutor", "student", "course") and parse_id(v)}
    form = SessionAddForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            session = lifecycle.create_session(
                by=request.user, tutor_id=d["tutor"].pk, student_id=d["student"].pk, start=d["start"],
                end=d["start"] + timedelta(minutes=d["minutes"]), course_id=d["course"].pk if d["course"] else None,
                is_trial=d["is_trial"], channel=Channel.ADMIN)
        except Refused as exc:
            form.add_error(None, f"{exc.message} Nothing was saved.")
        else:
            messages.success(request, f"Session {session.pk} scheduled; the family and the tutor are notified.")
            return HttpResponseRedirect(reverse("admin:tutoring_sessions_session_change", args=[session.pk]))
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": Session._meta, "title": "Schedule a session", "form": form,
    }
    return TemplateResponse(request, "desk/session_add.html", context)
