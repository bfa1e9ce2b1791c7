"""The creator's Session History page (spec 000, route /dashboard/teaching/sessions): the filtered
table (a card list on phones), the detail panel with its own URL, dispute resolution through the
action registry, the upcoming calendar, the metrics with a chart, CSV export, and the simple profile and
course pages it links to.

Filters live in the URL; the filter form updates the results with htmx (and works as a plain GET
form without JavaScript). A creator sees only their own courses' sessions; anyone else gets 404.
Every list runs a fixed number of queries and pages by keyset, so the last page costs what the
first does."""

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote, urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url

from analytics.events import record
from notes.selectors import summary_of
from sessions import actions as registry
from sessions import paging, projections
from sessions.access import Viewer, get_session_for
from sessions.errors import Refused
from sessions.models import AssessmentRole, Channel, Session, Status
from tutoring.input import check_day
from tutoring.guards import role_page
from tutoring.http import see_other
from tutoring.models import Course, Enrollment, Role, User
from tutoring.spreadsheet import csv_lines
from video import recordings

from . import selectors
from .forms import FILTER_KEYS, HistoryFilterForm, local_midnight
from .pagecache import Built, PageCache
from .selectors import BUCKET_OF
from .templatetags.creators_tags import option_list

PAGE_SIZE = 25
CSV_CHUNK = 1000
ANALYTICS_PAGE = "CSES"  # the spec's page code
STATUS_LABELS = {"completed": "Completed", "scheduled": "Scheduled", "cancelled": "Cancelled", "no_show": "No-show"}
def creator_of(request) -> User:
    return selectors.creator_or_404(request.user)


# --- the history ------------------------------------------------------------------------------


@dataclass
class Results:
    rows: list
    next_cursor: str | None
    error: bool = False


def _frame(creator, page: PageCache, now) -> dict:
    """What every URL of the creator's page shares: the filter choices (the creator's courses, the
    STs who teach them) with their <option> lists, and the header figures. One cached piece."""
    def build() -> Built:
        frame = selectors.history_frame(creator, now)
        choices = HistoryFilterForm.select_choices(frame.courses, frame.tutors)
        return Built({"courses": frame.courses, "tutors": frame.tutors,
                      "stats": {"total": frame.total, "this_week": frame.this_week},
                      "options": {name: option_list(choices[name]) for name in ("course", "st")}})

    return page.get(("frame",), build, frame=True)


def _cache_of(creator, now) -> PageCache:
    return PageCache.of(creator, now.astimezone(creator.tzinfo).date())


def _page(creator, now) -> tuple[PageCache, dict]:
    page = _cache_of(creator, now)
    return page, _frame(creator, page, now)


def _course_ids(form: HistoryFilterForm) -> list[int]:
    """The creator's course ids, from the choices the form has from the cached frame."""
    return [c for c, _ in form.fields["course"].choices if c]


def _form(request, frame: dict) -> HistoryFilterForm:
    return HistoryFilterForm(request.GET, courses=frame["courses"], tutors=frame["tutors"],
                             option_lists=frame["options"])


def _results(creator, filters, cursor: str | None, course_ids: list[int]) -> Results:
    """One page of rows (keyset: the last page costs what the first does). The metrics of the
    filtered set are a request of their own (`metrics_panel`), so the list stays cheap. A database
    failure becomes the page's "Unable to load sessions" state instead of an error page."""
    try:  # the cursor was validated (`_valid_cursor`): a mangled one is already the newest page
        rows = selectors.history_rows(creator, filters, course_ids=course_ids, cursor=cursor, limit=PAGE_SIZE)
    except DatabaseError:
        return Results(rows=[], next_cursor=None, error=True)
    rows, next_cursor = paging.cut(rows, PAGE_SIZE)
    return Results(rows=rows, next_cursor=next_cursor)


def _url_prefixes() -> dict:
    """The rows' link prefixes, reversed once per page instead of seven times per row."""
    return {name: reverse(route, args=[0])[:-2] for name, route in (
        ("course", "course"), ("profile", "profile"), ("session", "creator-session"), ("messages", "messages-with"))}


def history_context(request, creator, now, page: PageCache | None = None) -> dict:
    """The page's context with its filter form (built over the cached frame) and the results
    (cached by canonical URL)."""
    page = page or _cache_of(creator, now)
    frame = _frame(creator, page, now)
    form = _form(request, frame)
    state = form.state()
    context = {
        "form": form, "state": state, "query": urlencode(state), "stats": frame["stats"],
        "has_sessions": bool(frame["stats"]["total"]), "filtered": bool(state), "tab": "history", "now": now,
    }
    context["cursor"] = _valid_cursor(request.GET.get("cursor"))
    query = urlencode({**state, **({"cursor": context["cursor"]} if context["cursor"] else {})})
    context["here"] = f"{request.path}?{query}" if query else request.path
    # keyed by the canonical URL (the valid filters, a well-formed cursor): parameters that filter
    # nothing make no new pieces, and a piece never shows what only the raw URL said
    results = page.get(("results", context["here"]), lambda: _render_results(request, creator, context))
    return {**context, "results_html": mark_safe(results["html"]), "results_error": results["error"]}


def _known(request, *also: str) -> list[tuple[str, str]]:
    """What the page reads of its URL: the value of each filter parameter (and `also`) the URL
    gives, the last one when repeated (as the form and the cursor read them), in FILTER_KEYS'
    order."""
    return [(key, request.GET[key]) for key in (*FILTER_KEYS, *also) if key in request.GET]


def _as_read(request) -> str:
    """The URL as the page reads it (`_known`, with the cursor): what the URL shows is a function
    of it alone, so a parameter the page ignores, a repeat or another order makes no new piece."""
    return f"{request.path}?{urlencode(_known(request, 'cursor'))}"


def page_context(request, creator, now, *, keep: bool = True) -> dict:
    """What a full page of the history shows but the detail panel: the head (header figures, tabs,
    the filter form with its values and errors) and the results as HTML, with the filters' state
    and the figures (the page_view event). One cached piece per URL as the page reads it
    (`_as_read`: the form shows what the URL said, invalid values too), under the stamp: a second
    view builds no form. On a miss it is made from the frame and results pieces; a load failure
    is not kept, nor (`keep=False`) a session's full page, mostly seen once (its results piece is)."""
    page = _cache_of(creator, now)

    def build() -> Built:
        context = history_context(request, creator, now, page)
        head = render_to_string("creators/history.html#head", context, request)
        return Built({"head": str(head), "results": str(context["results_html"]), "error": context["results_error"],
                      "state": context["state"], "stats": context["stats"]},
                     keep=keep and not context["results_error"])

    piece = page.get(("page", _as_read(request)), build)
    return {"tab": "history", "head_html": mark_safe(piece["head"]), "results_html": mark_safe(piece["results"]),
            "results_error": piece["error"], "state": piece["state"], "stats": piece["stats"],
            "query": urlencode(piece["state"])}


def _valid_cursor(cursor: str | None) -> str:
    """The cursor when it is well-formed, else "" (the newest page)."""
    try:
        paging.parse_cursor(cursor or "")
    except Refused:
        return ""
    return cursor


def _render_results(request, creator, context) -> Built:
    """The results section (the table or cards, the pager, the empty and failure states) as HTML;
    a load failure is shown, not cached."""
    tz = creator.tzinfo
    form, state = context["form"], context["state"]
    filters = form.filters(today=context["now"].astimezone(tz).date(), tz=tz)
    results = _results(creator, filters, context["cursor"] or None, _course_ids(form))
    u = _url_prefixes()
    rows = _decorate(results.rows, tz)
    after = f"?{context['query']}" if context["query"] else ""
    for s in rows:  # links and dates made once in Python: the template loop is the page's cost
        s.view_url = f"{u['session']}{s.id}/{after}"
        s.iso_start = s.scheduled_start.isoformat()
        s.when = f"{s.local_start:%a %d %b %Y, %H:%M}"
    only_student = None
    if filters.student_id:  # named only when the student has sessions in the creator's courses
        only_student = (User.objects.filter(pk=filters.student_id, student_sessions__course__creator=creator)
                        .values_list("name", flat=True).first()) or "this student"
    others = urlencode({k: v for k, v in state.items() if k != "student_id"})
    html = render_to_string("creators/history.html#results", {
        **context, "results": results, "rows": rows, "u": u, "next_here": quote(context["here"], safe="/"),
        "only_student": only_student, "all_students_url": f"{request.path}?{others}" if others else request.path,
        "newer_url": f"?{context['query']}" if context["cursor"] else "",
        "older_url": f"?{urlencode({**state, 'cursor': results.next_cursor})}" if results.next_cursor else "",
    }, request)
    return Built({"html": str(html), "error": results.error}, keep=not results.error)


def _decorate(rows, tz) -> list:
    for s in rows:
        s.bucket = BUCKET_OF[s.status]
        s.bucket_label = STATUS_LABELS[s.bucket]
        actual = s.actual_duration
        s.actual_minutes = round(actual.total_seconds() / 60) if actual else None
        s.local_start = s.scheduled_start.astimezone(tz)
    return rows


@never_cache
@role_page(Role.CREATOR)
@require_GET
def history(request):
    """The Session History page; htmx filter changes get the results partial only."""
    creator = creator_of(request)
    if request.GET.get("tab") == "upcoming":
        return calendar(request, creator)
    now = timezone.now()
    if request.htmx and not request.htmx.history_restore_request:
        context = history_context(request, creator, now)
        _record_filter_changes(request, context["form"])
        response = HttpResponse(context["results_html"], status=503 if context["results_error"] else 200)
        # the address bar shows the canonical URL ("?st=12"), not every field of the form, empty or not
        return push_url(response, context["here"])
    context = page_context(request, creator, now)
    status = 503 if context["results_error"] else 200
    record("page_view", user=creator, page=ANALYTICS_PAGE,
           data={"session_count": context["stats"]["total"], "filter_state": context["state"]})
    return render(request, "creators/history.html", context, status=status)


def _record_filter_changes(request, form: HistoryFilterForm) -> None:
    """filter_applied for each filter whose value differs from the page the request came from
    (both read through the same form, so they compare alike)."""
    if request.GET.get("cursor"):
        return  # paging, not filtering
    try:
        came_from = urlsplit(request.htmx.current_url or "").query
    except ValueError:  # a malformed HX-Current-URL header: compare with no filters
        came_from = ""
    before = form.with_data(QueryDict(came_from)).state()
    now = form.state()
    for key in FILTER_KEYS:
        if now.get(key, "") != before.get(key, ""):
            record("filter_applied", user=request.user, page=ANALYTICS_PAGE,
                   data={"filter_type": key, "value": now.get(key, "")[:200]})


@never_cache
@role_page(Role.CREATOR)
@require_GET
def metrics_panel(request):
    """H16: the metrics of the filtered set and the per-ST breakdown with its chart. Loaded by
    the page after the table (htmx), or as a page of its own without JavaScript."""
    creator = creator_of(request)
    now = timezone.now()
    page, frame = _page(creator, now)
    form = _form(request, frame)
    tz = creator.tzinfo
    filters = form.filters(today=now.astimezone(tz).date(), tz=tz)
    state = form.state()

    def build() -> Built:
        try:
            m, by_st = selectors.creator_metrics(creator, filters, course_ids=_course_ids(form))
        except DatabaseError:
            m, by_st = {}, []
        html = render_to_string("creators/metrics.html#metrics", {
            "m": m, "by_st": by_st, "chart": chart(by_st), "filtered": bool(state), "error": not m,
            "query": urlencode(state), "profile_url": reverse("profile", args=[0])[:-2]}, request)
        return Built({"html": str(html), "error": not m}, keep=bool(m))

    # keyed by what the metrics depend on (the resolved filters) and by the links' query string
    section = page.get(("metrics", repr(filters), urlencode(state)), build)
    status = 503 if section["error"] else 200
    if request.htmx:
        return HttpResponse(section["html"], status=status)
    return render(request, "creators/metrics.html", {"metrics_html": mark_safe(section["html"]),
                                                     "query": urlencode(state)}, status=status)


# --- detail panel -----------------------------------------------------------------------------


def detail_context(creator, session_id) -> dict:
    session = selectors.creator_session(creator, session_id)
    if session is None:
        raise Http404("Not found.")
    _decorate([session], creator.tzinfo)
    # one label for the panel, the status as it is now ("In progress", "Awaiting parent acknowledgement"):
    # the bucket of the filters is the table's column
    session.status_text = projections.status_label(session, frozenset())
    return {
        "s": session,
        "student_feedback": selectors.feedback(session, AssessmentRole.STUDENT),
        "tutor_feedback": selectors.feedback(session, AssessmentRole.TUTOR),
        "dispute": selectors.dispute_of(session),
        "notes": list(session.notes.all()),
        "summary": summary_of(session),
        "recording": session.available_recordings[0] if session.available_recordings else None,
    }


@never_cache
@login_required
@require_GET
def detail(request, session_id):
    """The detail panel (its own URL): the panel for htmx, else the page with the panel open."""
    creator = creator_of(request)
    panel = detail_context(creator, session_id)
    record("session_viewed", user=creator, page=ANALYTICS_PAGE, data={"session_id": panel["s"].id})
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "creators/history.html#detail", {**panel, "query": _query(request)})
    context = page_context(request, creator, timezone.now(), keep=False)
    return render(request, "creators/history.html", {**context, **panel, "detail_open": True})


def _query(request) -> str:
    return urlencode(_known(request))


@login_required
@require_POST
def resolve(request, session_id):
    """The creator resolves a dispute on their own course's session, through the action registry."""
    creator = creator_of(request)
    panel = detail_context(creator, session_id)
    session = panel["s"]
    decision = request.POST.get("decision", "")
    try:
        registry.BY_NAME["resolve_dispute"].perform(
            session, by=creator, channel=Channel.WEB,
            data={"decision": decision, "reason": request.POST.get("reason", "")})
    except Refused as exc:
        context = {**panel, "query": _query(request), "resolve_error": exc.message,
                   "resolve_data": request.POST}
        if request.htmx:
            return render(request, "creators/history.html#detail", context)
        whole = page_context(request, creator, timezone.now(), keep=False)
        return render(request, "creators/history.html", {**whole, **context, "detail_open": True},
                      status=exc.status)
    done = "Dispute resolved: the session counts." if decision == "approve" else \
        "Dispute resolved: the session is void (Not Completed)."
    if request.htmx:
        return render(request, "creators/history.html#detail",
                      {**detail_context(creator, session.id), "query": _query(request), "done": done})
    messages.success(request, done)
    return see_other(reverse("creator-session", args=[session.id]) + (f"?{_query(request)}" if _query(request)
                                                                       else ""))


# --- calendar (Upcoming tab) ------------------------------------------------------------------


def _anchor(value: str | None, today: date) -> date:
    """The calendar's date from the URL; today when it is missing, malformed or out of range."""
    try:
        return check_day(date.fromisoformat(value)) if value else today
    except ValueError:  # malformed, or outside the shared range (InvalidInput is a ValueError)
        return today


def calendar(request, creator):
    """H15: scheduled sessions by month or week, with who, when and which course; no actions."""
    now = timezone.now()
    tz = creator.tzinfo
    today = now.astimezone(tz).date()
    view = "week" if request.GET.get("view") == "week" else "month"
    anchor = _anchor(request.GET.get("date"), today)
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        days = [first + timedelta(days=i) for i in range(7)]
        previous, following = first - timedelta(days=7), first + timedelta(days=7)
        title = f"Week of {first:%d %B %Y}"
    else:
        month = anchor.replace(day=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        first = month - timedelta(days=month.weekday())  # the Monday on or before the 1st
        last = next_month - timedelta(days=1)
        last += timedelta(days=6 - last.weekday())  # the Sunday on or after the month's last day
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        previous, following = (month - timedelta(days=1)).replace(day=1), next_month
        title = f"{month:%B %Y}"
    start, end = local_midnight(days[0], tz), local_midnight(days[-1] + timedelta(days=1), tz)
    error = False
    try:
        sessions = list(selectors.scheduled_between(creator, start, end)
                        .select_related("tutor", "student", "course")[:1000])
    except DatabaseError:
        sessions, error = [], True
    by_day: dict[date, list] = {day: [] for day in days}
    for s in sessions:
        s.local_start = s.scheduled_start.astimezone(tz)
        by_day.setdefault(s.local_start.date(), []).append(s)
    weeks = [days[i:i + 7] for i in range(0, len(days), 7)]
    context = {
        "tab": "upcoming", "view": view, "title": title, "today": today, "anchor": anchor,
        "weeks": [[{"day": d, "sessions": by_day[d], "outside": view == "month" and d.month != anchor.month}
                   for d in week] for week in weeks],
        "previous": previous, "following": following, "count": len(sessions), "error": error,
        "stats": _page(creator, now)[1]["stats"], "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    }
    template = "creators/history.html#calendar" if request.htmx and not request.htmx.history_restore_request \
        else "creators/history.html"
    return render(request, template, context, status=503 if error else 200)


# --- metrics chart ----------------------------------------------------------------------------


def chart(by_st: list[dict]) -> dict:
    """A horizontal bar chart (server-rendered SVG) of sessions per ST, split into completed,
    cancelled, no-show and scheduled; the 12 busiest STs."""
    rows = sorted(by_st, key=lambda r: -r["total"])[:12]
    most = max((r["total"] for r in rows), default=0) or 1
    width, label_w, bar_h, gap = 320, 110, 18, 8
    bars = []
    for i, r in enumerate(rows):
        x = label_w
        segments = []
        for key in ("completed", "cancelled", "no_show", "scheduled"):
            w = round((width - label_w - 40) * r[key] / most, 1)
            if w:
                segments.append({"key": key, "x": x, "w": w})
            x += w
        bars.append({"y": i * (bar_h + gap), "name": r["tutor"]["name"], "total": r["total"], "segments": segments,
                     "end": x})
    return {"bars": bars, "width": width, "height": max(len(bars) * (bar_h + gap), bar_h), "bar_h": bar_h,
            "label_w": label_w}


# --- CSV export -------------------------------------------------------------------------------


CSV_COLUMNS = ["session_id", "date", "time", "time_zone", "course", "student", "st", "scheduled_minutes",
               "actual_minutes", "status", "backend_status", "rating", "low_rating", "recording"]


@role_page(Role.CREATOR)
@require_GET
def export_csv(request):
    """The filtered list as CSV, streamed in keyset chunks: the first byte comes at once and memory
    stays flat whatever the number of rows."""
    creator = creator_of(request)
    now = timezone.now()
    form = _form(request, _page(creator, now)[1])
    tz = creator.tzinfo
    qs = form.filters(today=now.astimezone(tz).date(), tz=tz).apply(selectors.creator_sessions(creator))
    def rows():
        """Every cell goes through tutoring.spreadsheet's formula guard (csv_lines)."""
        yield CSV_COLUMNS
        cursor = None
        while True:
            chunk = list(paging.order(selectors.table_rows(paging.after_cursor(qs, cursor, newest_first=True)),
                                      newest_first=True)[:CSV_CHUNK])
            for s in chunk:
                local = s.scheduled_start.astimezone(tz)
                actual = s.actual_duration
                yield [
                    s.id, f"{local:%Y-%m-%d}", f"{local:%H:%M}", creator.time_zone,
                    s.course.title if s.course else "", s.student.name, s.tutor.name,
                    round(s.duration.total_seconds() / 60), round(actual.total_seconds() / 60) if actual else "",
                    STATUS_LABELS[BUCKET_OF[s.status]], s.status, s.rating or "", "yes" if s.low_rating else "",
                    "yes" if s.has_recording else ""]
            if len(chunk) < CSV_CHUNK:
                return
            cursor = paging.cursor_of(chunk[-1])

    response = StreamingHttpResponse(csv_lines(rows()), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().astimezone(tz)
    response["Content-Disposition"] = f'attachment; filename="session-history-{stamp:%Y%m%d-%H%M}.csv"'
    return response


# --- profile and course pages -----------------------------------------------------------------


def _visible_person(viewer: User, person_id) -> User:
    """Yourself; anyone for a coordinator; for a creator, the students enrolled in and the STs
    teaching their courses. Everyone else: 404."""
    try:
        person = User.objects.get(pk=int(person_id))
    except (TypeError, ValueError, User.DoesNotExist):
        raise Http404("Not found.") from None
    if person.pk == viewer.pk or viewer.is_coordinator:
        return person
    if selectors.is_creator(viewer):
        courses = Course.objects.filter(creator=viewer)
        if (Enrollment.objects.filter(course__in=courses, student=person).exists()
                or Session.objects.filter(course__in=courses, tutor=person).exists()):
            return person
    raise Http404("Not found.")


@never_cache
@login_required
def profile(request, person_id):
    person = _visible_person(request.user, person_id)
    context = {"person": person}
    if selectors.is_creator(request.user):
        mine = selectors.creator_sessions(request.user)
        as_student = mine.filter(student=person)
        as_tutor = mine.filter(tutor=person)
        context |= {
            "student_metrics": selectors.metrics(as_student) if as_student.exists() else None,
            "tutor_metrics": selectors.metrics(as_tutor) if as_tutor.exists() else None,
            "courses": list(Course.objects.filter(creator=request.user, enrollments__student=person)
                            .order_by("title")),
        }
    return render(request, "creators/profile.html", context)


@never_cache
@login_required
def course_page(request, course_id):
    viewer = request.user
    course = Course.objects.filter(pk=course_id).select_related("creator").first()
    if course is None or not (course.creator_id == viewer.pk or viewer.is_coordinator):
        raise Http404("Not found.")
    students = list(User.objects.filter(enrollments__course=course).order_by("name")[:200])
    tutors = list(User.objects.filter(pk__in=Session.objects.filter(course=course).values("tutor_id"))
                  .order_by("name")[:200])
    return render(request, "creators/course.html", {
        "course": course, "students": students, "tutors": tutors,
        "metrics": selectors.metrics(Session.objects.filter(course=course)),
        "upcoming": Session.objects.filter(course=course, status=Status.SCHEDULED,
                                           scheduled_start__gte=timezone.now()).count(),
    })


# --- recordings -------------------------------------------------------------------------------


@login_required
@require_GET
def recording(request, session_id):
    """Play a recording: a redirect to a link valid at most 5 minutes."""
    session = get_session_for(Viewer.of(request.user), session_id)
    found = recordings.latest_recording(session)
    if found is None:
        raise Http404("Recording not available")
    response = HttpResponseRedirect(recordings.recording_link(found))
    response["Cache-Control"] = "private, no-store"
    return response
