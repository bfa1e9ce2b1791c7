"""What the bot says and does, without Telegram's transport: the glue in telegram_bot.bot turns an
update into an Input, calls handle() (synchronous Django code), and sends back the Outs.

Who: a chat is a person only through its TelegramLink; an unlinked chat gets one polite
explanation and nothing else. Sessions are looked up among the linked person's own tutoring
sessions only, so a chat linked to anyone else finds "Session not found." and changes nothing.
What: every change goes through sessions.lifecycle (channel "telegram") and notes.services,
under their locks and time rules; a refusal is the lifecycle's own message. A button pressed after
the session changed runs into that refusal, and the answer shows the session as it is now.
Conversations (cancel, reschedule, reject, counter, notes) keep their step in ChatState. The
action commands and their /help lines are the registry's (sessions.actions: each entry's Command):
a command picks among the tutor's live sessions by the action's guard alone, a page at a time
(judged_page: paged in SQL, judged page by page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from notes import services as notes_services
from notes import uploads
from sessions import actions as registry
from sessions import lifecycle, projections, rules, selectors
from sessions.access import Viewer
from sessions.errors import Refused
from sessions.models import OCCUPYING_STATUSES, ChangeKind, Party, Session
from tutoring.input import InvalidInput, check_moment, parse_id

from .actions import ACTIONS, TELEGRAM, by_conversation
from .models import ChatState, LinkCode, TelegramLink

NOT_LINKED = ("Hello! This chat is not linked to a tutoring account yet. Sign in on the website, open "
              "Notification settings and choose “Link Telegram”; the link it gives you opens this chat "
              "and links it.")
# the bot's own commands, answered before the registry's (sessions.actions.COMMANDS: a test keeps their
# names apart); /help lists the registry's between /sessions and the rest
OWN_COMMANDS = ("start", "help", "unlink", "stop", "done", "sessions")
HELP = "\n".join([
    "/sessions – today's and your next sessions, with buttons",
    *(f"/{name} – {action.command.help}" for name, action in registry.COMMANDS.items()),
    "/done – finish notes", "/stop – leave the current step", "/unlink – unlink this chat",
])
NOT_FOUND = "Session not found."
STALE_STEP = "That step is over. Send /sessions to see where things stand."
DATE_FORMAT = "YYYY-MM-DD HH:MM"
NOTES_PROMPT = ("Send your notes now: text, photos, documents (up to {mb} MB) or voice messages. "
                "Send /done when you have finished.")
NOTES_ONLY = "I can keep text, photos, documents and voice messages as notes."
LIST_LIMIT = 5
PAGE = 8  # sessions on a picker's page: a row of buttons each, and a row to turn the page
PREVIOUS, NEXT = "‹ Previous", "Next ›"
BACK, ON = "b", "f"  # a page button's way: the page before its edge session, or after it
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BAD_PAGE = ("I cannot read that page button, so nothing was done. Send the command again to see your "
            "sessions (/help lists them).")


@dataclass
class Out:
    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)  # rows of (label, callback data)


@dataclass
class Input:
    chat_id: int
    kind: str  # "command", "button", "text", "file", "other"
    command: str = ""
    args: str = ""
    data: str = ""  # callback data
    text: str = ""
    username: str = ""


@dataclass
class FileIn:
    """A file of a message, described before it is downloaded."""

    file_id: str
    name: str
    size: int | None


# --- people and chats -------------------------------------------------------------------------


def linked_user(chat_id: int):
    link = TelegramLink.objects.select_related("user").filter(chat_id=chat_id, user__is_active=True).first()
    return link.user if link else None


def link_chat(chat_id: int, code: str, username: str = "", now: datetime | None = None) -> str:
    """/start <code>: bind this chat to the code's person (one chat per person, one person per chat)."""
    now = now or timezone.now()
    with transaction.atomic():
        link_code = (LinkCode.objects.select_for_update().select_related("user")
                     .filter(code=code[:64], used_at__isnull=True).first())
        if link_code is None or link_code.expires_at <= now or not link_code.user.is_active:
            return ("This link has expired or was already used. Open Notification settings on the website "
                    "and choose “Link Telegram” again: a link works once, for 10 minutes.")
        link_code.used_at = now
        link_code.save(update_fields=["used_at"])
        TelegramLink.objects.filter(chat_id=chat_id).exclude(user=link_code.user).delete()
        TelegramLink.objects.update_or_create(user=link_code.user, defaults={
            "chat_id": chat_id, "username": username[:64], "linked_at": now})
        ChatState.objects.filter(chat_id=chat_id).delete()
    return f"Linked: this chat now belongs to {link_code.user.name or link_code.user.username}.\n\n{HELP}"


def unlink_user(user) -> bool:
    links = TelegramLink.objects.filter(user=user)
    chats = list(links.values_list("chat_id", flat=True))
    ChatState.objects.filter(chat_id__in=chats).delete()
    return links.delete()[0] > 0


def get_state(chat_id: int) -> dict:
    row = ChatState.objects.filter(chat_id=chat_id).first()
    return row.data if row else {}


def set_state(chat_id: int, data: dict | None) -> None:
    if data:
        ChatState.objects.update_or_create(chat_id=chat_id, defaults={"data": data, "updated_at": timezone.now()})
    else:
        ChatState.objects.filter(chat_id=chat_id).delete()


# --- sessions as the tutor sees them --------------------------------------------------------


def own_sessions(user):
    return Session.objects.filter(tutor=user).select_related("tutor", "student", "course")


def own_session(user, session_id) -> Session | None:
    try:
        return own_sessions(user).filter(pk=int(session_id)).first()
    except (TypeError, ValueError):
        return None


def when(session: Session, user) -> str:
    start = session.scheduled_start.astimezone(user.tzinfo)
    end = session.scheduled_end.astimezone(user.tzinfo)
    return f"{start:%a %d %b %H:%M}–{end:%H:%M}"


def describe(session: Session, user) -> str:
    what = session.course.title if session.course_id else "Session"
    label = projections.status_label(session, Viewer.of(user).relations(session))
    return f"{what} with {session.student.name or session.student.username}, {when(session, user)} ({label})"


def buttons_for(session: Session, user, now: datetime) -> list[list[tuple[str, str]]]:
    """The buttons of the actions the lifecycle allows now (projections' allowed actions)."""
    ctx = projections.context(session, Viewer.of(user), now)
    allowed = set(registry.allowed_in(ctx))
    proposal = ctx.open_proposal
    row = []
    for key, action in ACTIONS.items():
        if action.action.name not in allowed:
            continue
        if action.proposal:
            row.append((action.label, f"a:{key}:{session.id}:{proposal.id}"))
        else:
            row.append((action.label, f"a:{key}:{session.id}"))
    return [row[i:i + 2] for i in range(0, len(row), 2)]


def session_out(session: Session, user, now: datetime, prefix: str = "") -> Out:
    session.refresh_from_db()
    session.open_threads = None  # read the open thread again: the action may have changed it
    text = describe(session, user)
    ctx = projections.context(session, Viewer.of(user), now)
    if ctx.open_proposal is not None:
        p = ctx.open_proposal
        text += (f"\nReschedule request ({p.proposed_by_role}): "
                 f"{p.proposed_start.astimezone(user.tzinfo):%a %d %b %H:%M} ({user.time_zone})")
    return Out(f"{prefix}{text}", buttons_for(session, user, now))


def upcoming(user, now: datetime) -> list[Session]:
    """Today's sessions (in the tutor's zone) and the next ones, plus any still to close."""
    midnight, _ = user.local_day_bounds(now)
    return list(own_sessions(user).filter(status__in=OCCUPYING_STATUSES, scheduled_end__gte=midnight)
                .order_by("scheduled_start")[:LIST_LIMIT])


def _nearest(sessions: list[Session], now: datetime) -> Session | None:
    return min(sessions, key=lambda s: abs(s.scheduled_start - now), default=None)


# --- the entry point ------------------------------------------------------------------------


def handle(inp: Input, now: datetime | None = None) -> list[Out]:
    now = now or timezone.now()
    if inp.kind == "command" and inp.command == "start" and inp.args:
        return [Out(link_chat(inp.chat_id, inp.args.strip(), inp.username, now))]
    user = linked_user(inp.chat_id)
    if user is None:
        return [Out(NOT_LINKED)]
    if inp.kind == "command":
        return command(user, inp, now)
    if inp.kind == "button":
        return button(user, inp, now)
    if inp.kind == "text":
        return text_message(user, inp, now)
    if get_state(inp.chat_id).get("step") == "notes":
        return [Out(NOTES_ONLY)]
    return [Out("Send /sessions to see your sessions, or /help for the commands.")]


def command(user, inp: Input, now: datetime) -> list[Out]:
    name = inp.command
    if name in ("start", "help"):
        return [Out(HELP)]
    if name == "unlink":
        unlink_user(user)
        return [Out("This chat is unlinked: the bot will not write to you any more. "
                    "You can link it again from Notification settings on the website.")]
    if name in ("stop", "done"):
        state = get_state(inp.chat_id)
        set_state(inp.chat_id, None)
        if name == "done" and state.get("step") == "notes":
            return [Out("Notes finished. The parent is told once the summary is ready.")]
        return [Out("OK, nothing more to do here." if state else "There is nothing in progress.")]
    if name == "sessions":
        sessions = upcoming(user, now)
        if not sessions:
            return [Out("You have no sessions today or coming up.")]
        return [session_out(s, user, now) for s in sessions]
    if name in registry.COMMANDS:
        return pick(user, registry.COMMANDS[name], now)
    return [Out(f"I do not know /{name}.\n\n{HELP}")]


def pick(user, action: registry.Action, now: datetime) -> list[Out]:
    """An action's command, among the tutor's live sessions (selectors.tutors_live_run) as its
    guard judges them now. One allows it: its first button runs (or starts its conversation),
    unless the entry has more buttons to choose from; several: a picker, a row of the entry's
    buttons per session, PAGE at a time with ‹ Previous / Next › (page_button); none: the refusal
    of the nearest session whose refusal is worth explaining (nothing_to)."""
    keys = bot_keys(action)
    page, more = judged_page(user, action, now)
    if not page:
        return [nothing_to(user, action, now)]
    if len(page) == 1 and not more and len(keys) == 1:
        return run(user, keys[0], page[0][0], None, now, chat_id=None)
    return [picker(user, action, page, earlier=False, later=more)]


def bot_keys(action: registry.Action) -> list[str]:
    return [key for key, bot_action in ACTIONS.items() if bot_action.action is action]


def judged_page(user, action: registry.Action, now: datetime, *, edge: tuple[datetime, int] | None = None,
                backward: bool = False) -> tuple[list[tuple[Session, rules.Ctx]], bool]:
    """Up to PAGE of the tutor's live sessions the action's guard allows now, with their guards'
    context, in (start, id) order: the first ones, or those after `edge` (a session's start and
    id), or with `backward` those before it; and whether there are more that way.

    Paged in SQL, judged per page: each read takes the next rows beyond the edge that the entry's
    Command.candidates let through (its guard's status and time window, in SQL), and only those
    rows go through the guard. A row the guard still refuses (an open request, a check-in day
    that closed) leaves a gap, so the page reads on from its last row, twice as many rows each time,
    until it holds PAGE sessions and one more (that one only says there is a further page) or
    the rows run out. So a page is full whenever there are enough sessions to fill it, the guard
    runs on about a page of rows per press rather than on every session the tutor has, and the
    queries do not grow with them. A page is a position (the start and id of its edge session),
    not a number: a session cancelled or added meanwhile does not shift the sessions beyond it."""
    viewer = Viewer.of(user)
    where = action.command.candidates(now)
    found, limit = [], PAGE + 1
    while len(found) <= PAGE:
        rows = selectors.tutors_live_run(user, now, where=where, key=edge, backward=backward, limit=limit)
        for s in rows:
            ctx = projections.context(s, viewer, now)
            if rules.refusal(action.guard, ctx) is None:
                found.append((s, ctx))
        if len(rows) < limit:
            break
        edge, limit = (rows[-1].scheduled_start, rows[-1].pk), limit * 2
    page = found[:PAGE]
    return (page[::-1] if backward else page), len(found) > PAGE


def nothing_to(user, action: registry.Action, now: datetime) -> Out:
    """No session allows the action: the refusal of the nearest of the tutor's live sessions around
    now whose refusal is worth explaining, as the card explains a missing action
    (sessions.actions.explains)."""
    viewer = Viewer.of(user)
    explained = {}
    for s in selectors.tutors_live_around(user, now):
        ctx = projections.context(s, viewer, now)
        refused = rules.refusal(action.guard, ctx)
        if refused is not None and registry.explains(action, refused, ctx, Party.TUTOR):
            explained[s] = refused
    nearest = _nearest(list(explained), now)
    if nearest is None:
        return Out(f"You have no session to {action.command.verb} now.")
    return Out(f"{describe(nearest, user)}\n{explained[nearest].message}")


def picker(user, action: registry.Action, page: list[tuple[Session, rules.Ctx]], *, earlier: bool, later: bool,
           prefix: str = "") -> Out:
    keys = bot_keys(action)
    rows = []
    for s, ctx in page:
        tail = f":{ctx.open_proposal.id}" if action.proposal and ctx.open_proposal else ""
        rows.append([(f"{ACTIONS[keys[0]].label}: {when(s, user)}", f"a:{keys[0]}:{s.id}{tail}")]
                    + [(ACTIONS[k].label, f"a:{k}:{s.id}{tail}") for k in keys[1:]])
    turn = ([(PREVIOUS, page_data(keys[0], BACK, page[0][0]))] if earlier else []) + (
        [(NEXT, page_data(keys[0], ON, page[-1][0]))] if later else [])
    return Out(f"{prefix}Which session do you want to {action.command.verb}?", rows + ([turn] if turn else []))


def page_data(key: str, way: str, edge: Session) -> str:
    """A page button's callback data, "p:<the command's first button key>:<b|f>:<edge start in µs
    since 1970>:<edge id>": at most 2+3+2+19+19 = 45 bytes (a start in the year 9999, a bigint
    id), inside Telegram's limit of 64."""
    return f"p:{key}:{way}:{(edge.scheduled_start - EPOCH) // timedelta(microseconds=1)}:{edge.pk}"


def read_edge(micros: str, pk: str) -> tuple[datetime, int] | None:
    if not (micros.isascii() and micros.isdecimal() and pk.isascii() and pk.isdecimal()):
        return None
    try:
        return EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except OverflowError:
        return None


def page_button(user, parts: list[str], now: datetime) -> list[Out]:
    """‹ Previous / Next › on a picker: the page before or after its edge session, judged now (the
    pressed message is edited to it). Data that is not a page button's (a forged command, way or
    number) is refused; an edge that is not one of this tutor's sessions is "not found"; a Next
    with nothing left after it (the sessions changed meanwhile) says so over the first page."""
    action = next((a for a in registry.COMMANDS.values() if bot_keys(a)[:1] == [parts[1]]), None) \
        if len(parts) == 5 else None
    edge = read_edge(parts[3], parts[4]) if action is not None and parts[2] in (BACK, ON) else None
    if edge is None:
        return [Out(BAD_PAGE)]
    if not own_sessions(user).filter(pk=edge[1]).exists():
        return [Out(NOT_FOUND)]
    if parts[2] == BACK:
        page, earlier = judged_page(user, action, now, edge=edge, backward=True)
        if earlier or len(page) == PAGE:
            return [picker(user, action, page, earlier=earlier, later=True)]
        prefix = ""  # fewer than a page before it now: the first page, full
    else:
        page, later = judged_page(user, action, now, edge=edge)
        if page:
            return [picker(user, action, page, earlier=True, later=later)]
        prefix = f"There are no more sessions to {action.command.verb} after those now.\n"
    page, later = judged_page(user, action, now)
    if not page:
        return [nothing_to(user, action, now)]
    return [picker(user, action, page, earlier=False, later=later, prefix=prefix)]


def button(user, inp: Input, now: datetime) -> list[Out]:
    parts = inp.data.split(":")
    if parts[0] == "a" and len(parts) in (3, 4) and parts[1] in ACTIONS:
        session = own_session(user, parts[2])
        if session is None:
            return [Out(NOT_FOUND)]
        proposal_id = parts[3] if len(parts) == 4 else None
        return run(user, parts[1], session, proposal_id, now, chat_id=inp.chat_id)
    if parts[0] == "p":
        return page_button(user, parts, now)
    if parts[0] in ("r", "y", "n") and len(parts) == 2:
        return step_button(user, inp.chat_id, parts[0], parts[1], now)
    return [Out(STALE_STEP)]


def run(user, key: str, session: Session, proposal_id, now: datetime, chat_id) -> list[Out]:
    action = ACTIONS[key]
    chat_id = chat_id or user.telegram_link.chat_id
    if not action.starts:  # a button that runs the action at once
        try:
            done = action.run(session, user, proposal_id, now)
        except Refused as refused:
            return [session_out(session, user, now, prefix=f"{refused.message}\nNow: ")]
        outs = [session_out(session, user, now, prefix=f"{done}\n")]
        if action.button.notes_after:
            set_state(chat_id, {"step": "notes", "session": session.id})
            outs.append(Out(NOTES_PROMPT.format(mb=uploads.max_upload_mb())))
        return outs
    # a conversation: checked now, and again by the lifecycle when it ends
    refusal = registry.refusal(action.action.name, projections.context(session, Viewer.of(user), now))
    if refusal is not None:
        return [session_out(session, user, now, prefix=f"{refusal.message}\nNow: ")]
    if action.starts == "notes":
        set_state(chat_id, {"step": "notes", "session": session.id})
        return [Out(NOTES_PROMPT.format(mb=uploads.max_upload_mb()))]
    if action.starts in ("cancel", "reschedule"):
        kind = ChangeKind.CANCEL if action.starts == "cancel" else ChangeKind.RESCHEDULE
        reasons = list(selectors.change_reasons(Party.TUTOR, kind))
        set_state(chat_id, {"step": f"{action.starts}_reason", "session": session.id})
        return [Out(f"{describe(session, user)}\nWhy do you want to {action.starts}?",
                    [[(r.label, f"r:{r.id}")] for r in reasons] + [[("Never mind", "n:0")]])]
    if action.starts == "reject":
        set_state(chat_id, {"step": "reject_reason", "session": session.id, "proposal": proposal_id})
        return [Out("Why are you declining the new time? Send your reason as a message (/stop to leave it).")]
    if action.starts == "counter":
        set_state(chat_id, {"step": "counter_time", "session": session.id, "proposal": proposal_id})
        return [Out(ask_time(user))]
    return [Out(STALE_STEP)]


def ask_time(user) -> str:
    return f"Send the new start as {DATE_FORMAT}, in your time zone ({user.time_zone}); /stop to leave it."


def read_time(text: str, user) -> datetime | None:
    try:
        naive = datetime.strptime(" ".join(text.split()), "%Y-%m-%d %H:%M")
    except ValueError:
        return None
    return naive.replace(tzinfo=user.tzinfo)


def step_button(user, chat_id: int, kind: str, value: str, now: datetime) -> list[Out]:
    state = get_state(chat_id)
    step = state.get("step", "")
    session = own_session(user, state.get("session")) if state else None
    if kind == "n":
        set_state(chat_id, None)
        return [Out("OK, nothing changed.")]
    if session is None:
        return [Out(STALE_STEP)]
    if kind == "r" and step in ("cancel_reason", "reschedule_reason"):
        change = step.split("_")[0]
        reason = selectors.change_reasons(Party.TUTOR, change).filter(pk=parse_id(value) or 0).first()
        if reason is None:
            return [Out(f"Choose one of the tutor's {change} reasons.")]
        state |= {"reason": reason.id}
        if reason.requires_note:
            set_state(chat_id, state | {"step": f"{change}_note"})
            return [Out(f"Please say more about “{reason.label}”: send it as a message.")]
        return after_reason(user, chat_id, session, state, now)
    if kind == "y" and step == "cancel_confirm":
        set_state(chat_id, None)
        return finish(user, session, "cancel", None, now, reason_id=state["reason"], note=state.get("note", ""),
                      policy_id=state.get("policy"))
    if kind == "y" and step in ("reschedule_confirm", "counter_confirm"):
        set_state(chat_id, None)
        start = datetime.fromisoformat(state["start"])
        if step == "reschedule_confirm":
            return finish(user, session, "reschedule", None, now, proposed_start=start, reason_id=state["reason"],
                          note=state.get("note", ""))
        return finish(user, session, "counter", state["proposal"], now, proposed_start=start)
    return [Out(STALE_STEP)]


def finish(user, session: Session, conversation: str, proposal_id, now: datetime, **data) -> list[Out]:
    """A conversation's last step: its button's action with what the chat collected, then the
    session as it is now under the action's done text (or the lifecycle's refusal)."""
    try:
        done = by_conversation(conversation).run(session, user, proposal_id, now, data)
    except Refused as refused:
        return [session_out(session, user, now, prefix=f"{refused.message}\nNow: ")]
    return [session_out(session, user, now, prefix=f"{done}\n")]


def after_reason(user, chat_id: int, session: Session, state: dict, now: datetime) -> list[Out]:
    if state["step"].startswith("cancel"):
        guidance = lifecycle.cancellation_guidance(session, by=user, as_role=Party.TUTOR, now=now)
        if not guidance["allowed"]:
            set_state(chat_id, None)
            return [session_out(session, user, now, prefix=f"{guidance['refusal']}\nNow: ")]
        set_state(chat_id, state | {"step": "cancel_confirm", "policy": guidance["policy_id"]})
        notice = guidance["notice"]  # the web's cancel card says the same (projections.cancellation_notice)
        lines = [f"Cancel {describe(session, user)}?", notice["penalty"], notice["details"], notice["waiver"]]
        return [Out("\n".join(line for line in lines if line), [[("Yes, cancel it", "y:1"), ("Keep the session", "n:0")]])]
    set_state(chat_id, state | {"step": "reschedule_time"})
    return [Out(ask_time(user))]


def text_message(user, inp: Input, now: datetime) -> list[Out]:
    state = get_state(inp.chat_id)
    step = state.get("step", "")
    if not step:
        return [Out("Send /sessions to see your sessions, or /help for the commands.")]
    session = own_session(user, state.get("session"))
    if session is None:
        set_state(inp.chat_id, None)
        return [Out(STALE_STEP)]
    if step == "notes":
        return add_notes(user, session, text=inp.text, files=(), now=now)
    if step in ("cancel_note", "reschedule_note"):
        try:
            note = rules.optional_text(inp.text, "note")
        except Refused as refused:
            return [Out(refused.message)]
        if not note:
            return [Out("Please write a few words.")]
        change = step.split("_")[0]
        return after_reason(user, inp.chat_id, session, state | {"step": f"{change}_reason", "note": note}, now)
    if step in ("reschedule_time", "counter_time"):
        start = read_time(inp.text, user)
        if start is None:
            return [Out(f"I could not read that. {ask_time(user)}")]
        try:  # the year 9999 overflows once the length is added: the shared range first
            check_moment(start)
        except InvalidInput as exc:
            return [Out(f"{exc} {ask_time(user)}")]
        end = start + (session.scheduled_end - session.scheduled_start)
        confirm = "reschedule_confirm" if step == "reschedule_time" else "counter_confirm"
        set_state(inp.chat_id, state | {"step": confirm, "start": start.isoformat()})
        return [Out(f"Propose {start:%a %d %b %H:%M}–{end:%H:%M} ({user.time_zone}) for "
                    f"{describe(session, user)}?", [[("Yes, propose it", "y:1"), ("Never mind", "n:0")]])]
    if step == "reject_reason":
        set_state(inp.chat_id, None)
        return finish(user, session, "reject", state.get("proposal"), now, reason=inp.text)
    return [Out(STALE_STEP)]


# --- notes ----------------------------------------------------------------------------------


def notes_target(chat_id: int) -> tuple[object, Session | None, str]:
    """(user, session, "") when this chat is taking notes, else (user, None, what to answer)."""
    user = linked_user(chat_id)
    if user is None:
        return None, None, NOT_LINKED
    state = get_state(chat_id)
    session = own_session(user, state.get("session")) if state.get("step") == "notes" else None
    if session is None:
        return user, None, ("Files are kept as notes right after check-out: press “Add notes” on a session "
                            "in /sessions first.")
    return user, session, ""


def too_large(name: str) -> str:
    return f"Nothing was saved: {uploads.Refusal(name, uploads.too_large_reason(), 'too_large')}"


def add_notes(user, session: Session, *, text: str, files, now: datetime) -> list[Out]:
    try:
        submission = notes_services.add_notes(session, by=user, text=text, files=files, channel=TELEGRAM, now=now)
    except Refused as refused:
        return [Out(refused.message)]
    saved = []
    if submission.note.text:
        saved.append("your text")
    saved += [a.original_name for a in submission.attachments]
    lines = [f"Saved: {', '.join(saved)}."]
    lines += [f"Not saved: {r}" for r in submission.refusals]
    lines.append("Send more, or /done when you have finished.")
    return [Out("\n".join(lines))]


def max_bytes() -> int:
    return uploads.max_upload_bytes()
