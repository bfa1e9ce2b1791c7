"""The session pages: the parent's child sessions, the tutor's sessions and ad-hoc log, the
student's sessions, and one session's card. Read-only: every change goes through actions.py.

Each list page runs a fixed number of queries (the viewer, the session rows with their relations,
the open threads with their proposals and reasons, the reason pickers) whatever the number of
sessions, and shows at most PAGE_SIZE cards per tab."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from tutoring.guards import role_page
from tutoring.http import see_other
from tutoring.input import parse_int
from tutoring.models import Course, Role

from .. import actions as registry
from .. import lifecycle, projections, rules, selectors
from ..access import Relation, Viewer, get_session_for
from ..errors import Refused
from ..forms import AdhocFormSet
from ..models import Channel, Party, ProposalStatus, Session, Status
from ..room_states import join_link

PAGE_SIZE = selectors.PAGE_SIZE
# The card's forms (the registry's entries with a Web part, in their places on the card); the
# coordinator's actions (verify, resolve, no-show) live in the admin.
CARD_FORMS = registry.CARD_FORMS


@dataclass(frozen=True)
class CardNotes:
    """The notes' reads a card needs: who reads them, a session's summary, the prefetch of a list's
    notes. The notes app lies above sessions, so it lends them from NotesConfig.ready
    (lend_notes); until then a card shows no notes."""

    can_read: Callable[[frozenset], bool] = lambda rels: False
    summary_of: Callable[[Session], object] = lambda session: None
    prefetch: Callable[[], list] = list


NOTES = CardNotes()


def lend_notes(notes: CardNotes) -> None:
    global NOTES
    NOTES = notes


@dataclass
class Card:
    """Everything one session card shows: built from prefetched rows, no queries of its own."""

    session: Session
    label: str
    when: str
    ends: str
    allowed: set
    lockouts: list
    thread: object
    proposal: object
    as_role: str
    is_student: bool
    error: dict | None = None
    data: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    summary: object = None
    reasons: dict = field(default_factory=dict)  # per action, the change reasons its form picks from
    join: dict | None = None  # the session room's Join link, or when it opens (sessions.room_states.join_link)
    outcomes: list = field(default_factory=list)  # what was decided, by whom, why (projections.outcomes)
    coordinator: object = None  # whom to message when online changes have closed (4 hours before)
    write_to: list = field(default_factory=list)  # "Message the tutor" / "Message the parent" links
    waiting_for: str = ""  # the proposer's view of an open request: whose answer it waits for
    versions: list = field(default_factory=list)  # the open request's proposals, in words

    # the card's parts, each the partial of a registry entry (templates/sessions/actions/<name>.html)
    parts = registry.ON_CARD

    @property
    def needs_answer(self) -> bool:
        return any(a.answers and a.name in self.allowed for a in CARD_FORMS)

    @property
    def duration_minutes(self) -> int:
        return int(self.session.duration.total_seconds() // 60)


def acting_role(rels, preferred: str | None = None) -> str:
    """The side the viewer acts in on this card: the page's role when they hold it, else their
    closest participant relation (a tutor who is also the parent picks by page)."""
    if preferred in Party.values and Relation(preferred) in rels:
        return preferred
    if Relation.PARENT in rels:
        return Party.PARENT
    if Relation.TUTOR in rels:
        return Party.TUTOR
    return ""


def build_card(session: Session, viewer: Viewer, now, *, as_role: str | None = None, pickers=None, error=None,
               data=None) -> Card:
    ctx = projections.context(session, viewer, now)
    role = acting_role(ctx.rels, as_role)
    # the card's parts the guards allow now (a part for one side only on that side's card)
    allowed = set(registry.allowed_in(ctx)) & {a.name for a in registry.ON_CARD if a.card.role in ("", role)}
    lockouts, locked = [], False
    proposer = ctx.open_proposal is not None and ctx.open_proposal.proposed_by_role == role
    for form in CARD_FORMS:
        if form.name in allowed:
            continue
        refused = rules.refusal(form.guard, ctx)
        if refused.message in lockouts or not registry.explains(form, refused, ctx, role):
            continue
        locked = locked or refused.code == "locked"
        lockouts.append(refused.message)
    pickers = pickers or {}
    reads_notes = NOTES.can_read(ctx.rels)  # not the student alone
    return Card(
        session=session,
        label=projections.status_label(session, ctx.rels),
        when=rules.local_time(session.scheduled_start, viewer.user),
        ends=f"{session.scheduled_end.astimezone(viewer.user.tzinfo):%H:%M}",
        allowed=allowed,
        lockouts=lockouts,
        thread=ctx.open_thread,
        proposal=ctx.open_proposal,
        as_role=role,
        is_student=Relation.STUDENT in ctx.rels,
        error=error,
        data=data or {},
        reasons={a.name: pickers.get(f"{role}_{a.card.reasons}", []) for a in registry.ON_CARD if a.card.reasons},
        notes=list(session.notes.all()) if reads_notes else [],
        summary=NOTES.summary_of(session) if reads_notes else None,
        join=join_link(session, viewer.user, now),
        outcomes=projections.outcomes(session, viewer.user, private=reads_notes),
        coordinator=coordinator_for(viewer) if locked else None,
        write_to=_write_to(session, ctx.rels, viewer.user),
        waiting_for=_other_side(session, ctx.open_proposal.proposed_by_role) if proposer else "",
        versions=_versions(ctx.open_thread, session, viewer.user),
    )


def _write_to(session: Session, rels, user) -> list[tuple[str, int]]:
    """Whom the viewer may message from this card: the parent writes to the tutor, the tutor to
    the student's parents (prefetched by selectors.card_rows) and the student, the student to the tutor
    (all allowed by messaging.services.can_message: they share this session)."""
    people = []
    if ({Relation.PARENT, Relation.STUDENT} & rels) and session.tutor_id != user.id:
        people.append(("Message the tutor", session.tutor_id))
    if Relation.TUTOR in rels:
        for link in getattr(session.student, "guardians", []):
            if link.parent_id != user.id:
                people.append((f"Message the parent, {link.parent.name}", link.parent_id))
    return people


def coordinator_for(viewer: Viewer):
    """The coordinator a person may message (the first active one), looked up once per viewer."""
    memo = viewer.__dict__  # Viewer is frozen: the memo lives beside its fields, for this request
    if "coordinator" not in memo:
        memo["coordinator"] = selectors.first_coordinator()
    return memo["coordinator"]


def _other_side(session: Session, proposer_role: str) -> str:
    """Whose answer the proposer waits for: "Tia's" or "the parent's"."""
    return f"{session.tutor.name}'s" if proposer_role == Party.PARENT else "the parent's"


def _versions(thread, session: Session, user) -> list[str]:
    """Each proposal of the open request in words: "Proposed by you on Tue 8 Dec: Thu 10 Dec
    15:00–16:00" / "Tom's counter-proposal: ..." (times in the reader's zone)."""
    if thread is None:
        return []
    tz, lines = user.tzinfo, []
    for p in thread.all_proposals:
        mine = p.proposed_by_id == user.id
        who = "you" if mine else p.proposed_by.name
        slot = (f"{p.proposed_start.astimezone(tz):%a %d %b %H:%M}–{p.proposed_end.astimezone(tz):%H:%M}"
                f" ({user.time_zone})")
        if p.version == 1:
            head = f"Proposed by {who} on {p.created_at.astimezone(tz):%a %d %b}"
        else:
            head = "Your counter-proposal" if mine else f"{who[:1].upper()}{who[1:]}'s counter-proposal"
        status = "" if p.status == ProposalStatus.OPEN else f" · {p.get_status_display()}"
        note = f" · “{p.note}”" if p.note and p.version > 1 else ""
        lines.append({"status": p.status, "text": f"{head}: {slot}{status}{note}"})
    return lines


def card_queryset(qs=None, *, with_notes: bool = True):
    """The cards' sessions with everything a card shows (selectors.card_rows, with the notes'
    prefetches the notes app lends); `with_notes=False` where the viewer reads no notes (a
    student's own page)."""
    return selectors.card_rows(qs, with_notes=with_notes, notes=NOTES.prefetch() if with_notes else ())


MAX_PAGE = 100_000  # 5,000,000 sessions deep; a larger ?page= shows the last empty page, not a 500


def _page(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", 1))), MAX_PAGE)
    except ValueError:
        return 1


def _tab(request, tabs, default: str) -> tuple[str, bool]:
    tab = request.GET.get("tab")
    return (tab, True) if tab in tabs else (default, False)


def _cards(rows, viewer, now, as_role, pickers=None, skip=()):
    return [build_card(s, viewer, now, as_role=as_role, pickers=pickers) for s in rows if s.id not in skip]


def _needs_first(waiting, rows, viewer, now, as_role, pickers):
    """The cards that need the viewer's answer, then the tab's cards without them (one card each)."""
    needs = [c for c in _cards(waiting, viewer, now, as_role, pickers) if c.needs_answer]
    return needs, _cards(rows, viewer, now, as_role, pickers, skip={c.session.id for c in needs})


# --- parent ------------------------------------------------------------------------------------


@never_cache  # back and forward re-fetch: a page never shows a session's old state
@role_page(Role.PARENT)
def family(request):
    """The parent's child sessions: Needs your answer, then Upcoming (7 days) / Future / Past."""
    viewer = Viewer.of(request.user)
    now = timezone.now()
    children = selectors.children_of(viewer)
    child = next((c for c in children if str(c.id) == request.GET.get("child")), None)
    ids = [child.id] if child else list(viewer.child_ids)
    base = card_queryset(selectors.students_sessions(ids))
    queries = selectors.family_tabs(base, now)
    tab, chosen = _tab(request, queries, "upcoming")
    page = _page(request)
    rows, more = selectors.page_of(queries[tab], page)
    steered = False
    if child and not chosen and not rows:
        # spec 004: a filtered Upcoming tab that is empty while the child's next actionable session
        # lies beyond the 7 days steers to Future instead of showing nothing.
        future, future_more = selectors.page_of(queries["future"], page)
        if any(s.status == Status.SCHEDULED for s in future):
            tab, rows, more, steered = "future", future, future_more, True
    waiting = selectors.family_waiting(base)
    pickers = selectors.reason_pickers([Party.PARENT])
    needs, cards = _needs_first(waiting, rows, viewer, now, Party.PARENT, pickers)
    return render(request, "sessions/family.html", {
        "children": children, "child": child, "tab": tab, "steered": steered, "page": page, "more": more,
        "tabs": [("upcoming", "Upcoming"), ("future", "Future"), ("past", "Past")],
        "cards": cards, "needs": needs, "next": request.get_full_path(),
    })


# --- tutor -------------------------------------------------------------------------------------


@never_cache  # back and forward re-fetch: a page never shows a session's old state
@role_page(Role.TUTOR)
def teach(request):
    """The tutor's sessions: Needs your answer, then Today / Upcoming / Past (in the tutor's zone)."""
    viewer = Viewer.of(request.user)
    now = timezone.now()
    day_start, day_end = request.user.local_day_bounds(now)
    base = card_queryset(selectors.tutors_sessions(request.user.id))
    queries = selectors.teach_tabs(base, day_start, day_end)
    tab, _ = _tab(request, queries, "today")
    page = _page(request)
    rows, more = selectors.page_of(queries[tab], page)
    waiting = selectors.teach_waiting(base, now)
    pickers = selectors.reason_pickers([Party.TUTOR])
    needs, cards = _needs_first(waiting, rows, viewer, now, Party.TUTOR, pickers)
    return render(request, "sessions/teach.html", {
        "tab": tab, "page": page, "more": more,
        "tabs": [("today", "Today"), ("upcoming", "Upcoming"), ("past", "Past")],
        "cards": cards, "needs": needs, "next": request.get_full_path(),
        "today_first": tab == "today",  # the tutor's day first, requests after it with a count on top
    })


@role_page(Role.TUTOR)
@require_http_methods(["GET", "POST"])
def teach_adhoc(request):
    """Batch-log ad-hoc add-on sessions: all or none; per-row errors keep every row's input."""
    with timezone.override(request.user.tzinfo):
        if request.method == "GET":
            extra = _count(request.GET.get("rows"), default=3, low=1, high=50)
            formset = AdhocFormSet(tutor=request.user)
            formset.extra = extra
            return render(request, "sessions/adhoc.html", {"formset": formset, "rows": extra})
        if "add_row" in request.POST:
            return _adhoc_with_another_row(request)
        formset = AdhocFormSet(request.POST, tutor=request.user)
        error = None
        if formset.is_valid():
            filled = [(i, f) for i, f in enumerate(formset.forms) if not f.is_blank()]
            try:
                created = lifecycle.log_adhoc_sessions(by=request.user, rows=[f.as_row() for _, f in filled],
                                                       channel=Channel.WEB)
            except Refused as exc:
                error = exc.message
                for row_error in exc.errors:
                    formset.forms[filled[row_error["row"]][0]].add_error(None, row_error["detail"])
            else:
                plural = "" if len(created) == 1 else "s"
                messages.success(request, f"Logged {len(created)} ad-hoc session{plural}.")
                return see_other("/teach/?tab=past")
        else:
            error = "Some rows need fixing; nothing was saved."
        return render(request, "sessions/adhoc.html", {"formset": formset, "error": error,
                                                       "rows": formset.total_form_count()}, status=422)


def _adhoc_with_another_row(request):
    """"Add a row" (works without JavaScript): the same form, every row's input kept, one more
    empty row, and no validation yet: the tutor has not submitted."""
    prefix = AdhocFormSet().prefix
    total = _count(request.POST.get(f"{prefix}-TOTAL_FORMS"), default=0, low=0, high=49)
    names = list(AdhocFormSet(tutor=request.user).empty_form.fields)
    initial = [{name: request.POST.get(f"{prefix}-{i}-{name}", "") for name in names} for i in range(total)]
    formset = AdhocFormSet(tutor=request.user, initial=initial)
    formset.extra = 1
    return render(request, "sessions/adhoc.html", {"formset": formset, "rows": total + 1})


def _count(value, *, default: int, low: int, high: int) -> int:
    """A count from the request, read as tutoring.input reads numbers, kept within low..high."""
    number = parse_int(value)
    return default if number is None else min(max(number, low), high)


# --- student -----------------------------------------------------------------------------------


@never_cache  # back and forward re-fetch: a page never shows a session's old state
@role_page(Role.STUDENT)
def learn(request):
    """The student's sessions: upcoming ones with a Join link to the session room, then past."""
    viewer = Viewer.of(request.user)
    now = timezone.now()
    base = card_queryset(selectors.students_sessions([request.user.id]), with_notes=False)
    upcoming, past = selectors.learn_lists(base, now)
    return render(request, "sessions/learn.html", {
        "upcoming": _cards(upcoming, viewer, now, None), "past": _cards(past, viewer, now, None),
    })


# --- a course, for its student or tutor (spec 002 "Back to Course") ------------------------------


def _course_or_404(course: Course | None) -> Course:
    if course is None:
        raise Http404("Course not found.")
    return course


def _course_page(request, course: Course, base, *, as_role: str | None):
    """The course's title and creator, then the viewer's sessions in it as on /learn/ (the tutor's
    cards with their forms and reason pickers, as on /teach/)."""
    viewer = Viewer.of(request.user)
    now = timezone.now()
    upcoming, past = selectors.learn_lists(base.filter(course=course), now)
    pickers = selectors.reason_pickers([as_role]) if as_role else None
    return render(request, "sessions/course.html", {
        "course": course, "zone": request.user.time_zone, "next": request.get_full_path(),
        "dashboard": "/learn/" if as_role is None else "/teach/",
        "upcoming": _cards(upcoming, viewer, now, as_role, pickers),
        "past": _cards(past, viewer, now, as_role, pickers),
    })


@never_cache
@role_page(Role.STUDENT)
def learn_course(request, course_id):
    """A course of the student's (enrolled, or with a session in it): its title, its creator and the
    student's sessions in it, upcoming (Join Session once the room opens) then past."""
    user = request.user
    course = _course_or_404(selectors.course_for_student(course_id, user))
    base = card_queryset(selectors.students_sessions([user.id]), with_notes=False)
    return _course_page(request, course, base, as_role=None)


@never_cache
@role_page(Role.TUTOR)
def teach_course(request, course_id):
    """A course the tutor teaches (an active match in it, or a session): its title, its creator and
    the tutor's sessions in it, upcoming (Join Session once the room opens) then past."""
    user = request.user
    course = _course_or_404(selectors.course_for_tutor(course_id, user))
    base = card_queryset(selectors.tutors_sessions(user.id))
    return _course_page(request, course, base, as_role=Party.TUTOR)


# --- one session -------------------------------------------------------------------------------


def card_response(request, session_id, *, status=200, error=None, data=None, template="sessions/session.html",
                  **extra):
    """The session's current card: just the card partial for htmx, else the whole page."""
    viewer = Viewer.of(request.user)
    session = get_session_for(viewer, session_id, queryset=card_queryset())
    as_role = request.POST.get("as_role") or request.GET.get("as_role") or None
    rels = viewer.relations(session)
    role = acting_role(rels, as_role)
    card = build_card(session, viewer, timezone.now(), as_role=role, error=error, data=data,
                      pickers=selectors.reason_pickers([role] if role else []))
    context = {"card": card, "next": back_to(request, session.id), **extra}
    name = "sessions/session.html#card" if request.htmx else "sessions/session.html"
    return render(request, name, context, status=status)


def back_to(request, session_id) -> str:
    """The page an action came from (its `next`), if it is on this site; else the session's page."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return f"/sessions/{session_id}/"


@never_cache  # back and forward re-fetch: a page never shows a session's old state
@login_required
def session_page(request, session_id):
    """One session's card (notifications link here)."""
    return card_response(request, session_id)
