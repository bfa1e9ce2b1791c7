"""Who may message whom, starting a conversation, sending, reading. The views call only these."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Left
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from notifications.outbox import notify
from sessions.models import Session
from tutoring.models import Course, Enrollment, Guardianship, Role, User

from .models import Conversation, Message

THREAD_LIMIT = 200  # the thread page shows the last 200 messages
INBOX_LIMIT = 200  # and the inbox the 200 most recent conversations
PREVIEW_CHARS = 80


def can_message(a: User, b: User) -> bool:
    """May `a` start a conversation with `b`? The rule is symmetric: two different active people
    may talk when they are connected through sessions or courses:

    - either of them is a coordinator (coordinators may talk to anyone);
    - a session has one as tutor and the other as student;
    - a session has one as tutor and a child of the other (Guardianship) as student;
    - one created a course in which the other is enrolled (Enrollment), or is the tutor or the
      student of a session of that course.

    At most two queries (none for a coordinator or for someone talking to themselves)."""
    if a.pk is None or b.pk is None or a.pk == b.pk or not (a.is_active and b.is_active):
        return False
    if a.is_coordinator or b.is_coordinator:
        return True

    def children(parent: User):
        return Guardianship.objects.filter(parent=parent).values("student_id")

    def courses(creator: User):
        return Course.objects.filter(creator=creator).values("id")

    # Every branch pins tutor_id or student_id, so the (tutor, start) and (student, start) indexes
    # answer it without reading the sessions table end to end.
    connected = Session.objects.filter(
        Q(tutor=a, student=b) | Q(tutor=b, student=a)
        | Q(tutor=a, student_id__in=children(b)) | Q(tutor=b, student_id__in=children(a))
        | Q(tutor=b, course_id__in=courses(a)) | Q(student=b, course_id__in=courses(a))
        | Q(tutor=a, course_id__in=courses(b)) | Q(student=a, course_id__in=courses(b))
    )
    if connected.exists():
        return True
    enrolled = Q(course__creator=a, student=b) | Q(course__creator=b, student=a)
    return Enrollment.objects.filter(enrolled).exists()


PEOPLE_LIMIT = 200


def people_to_message(user: User, limit: int = PEOPLE_LIMIT) -> list[User]:
    """Everyone `user` may start a conversation with (exactly can_message's rule, as one query),
    by name: the "New message" list."""
    if user.pk is None or not user.is_active:
        return []
    others = User.objects.filter(is_active=True).exclude(pk=user.pk)
    if user.is_coordinator:
        return list(others.order_by("name", "id")[:limit])
    children = Guardianship.objects.filter(parent=user).values("student_id")
    my_courses = Course.objects.filter(creator=user).values("id")
    taught = Session.objects.filter(tutor=user)
    in_courses = Session.objects.filter(Q(tutor=user) | Q(student=user)).exclude(course=None).values("course_id")
    enrolled_in = Enrollment.objects.filter(student=user).values("course_id")
    connected = (
        Q(roles__contains=[Role.COORDINATOR]) | Q(is_superuser=True)
        | Q(pk__in=Session.objects.filter(student=user).values("tutor_id"))                 # my tutors
        | Q(pk__in=taught.values("student_id"))                                            # my students
        | Q(pk__in=Session.objects.filter(student_id__in=children).values("tutor_id"))     # my children's tutors
        | Q(pk__in=Guardianship.objects.filter(student_id__in=taught.values("student_id"))
            .values("parent_id"))                                                          # my students' parents
        | Q(pk__in=Session.objects.filter(course_id__in=my_courses).values("tutor_id"))    # my courses' tutors
        | Q(pk__in=Session.objects.filter(course_id__in=my_courses).values("student_id"))  # and students
        | Q(pk__in=Enrollment.objects.filter(course_id__in=my_courses).values("student_id"))
        | Q(pk__in=Course.objects.filter(Q(id__in=in_courses) | Q(id__in=enrolled_in)).values("creator_id"))
    )
    return list(others.filter(connected).order_by("name", "id")[:limit])


def ordered_pair(a: User, b: User) -> tuple[User, User]:
    return (a, b) if a.pk < b.pk else (b, a)


def _existing(low: User, high: User) -> Conversation | None:
    return Conversation.objects.filter(user_low=low, user_high=high).first()


def existing_conversation(a: User, b: User) -> Conversation | None:
    """The pair's conversation if one was started (by a first message); never makes one."""
    return _existing(*ordered_pair(a, b))


def conversation_between(a: User, b: User) -> tuple[Conversation, bool]:
    """The one conversation of this pair, made if there is none yet: (conversation, created).
    Safe when two requests start the same pair at once: the unique index lets one insert win and
    the other reads that row. Does not check can_message: the caller does."""
    low, high = ordered_pair(a, b)
    found = _existing(low, high)
    if found is not None:
        return found, False
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives the conflict
            return Conversation.objects.create(user_low=low, user_high=high), True
    except IntegrityError:
        return Conversation.objects.get(user_low=low, user_high=high), False


def conversation_for(user: User, conversation_id) -> Conversation:
    """The conversation if `user` takes part in it, with both people loaded; else Http404 (also
    for coordinators: they read conversations in the admin, not as a participant)."""
    conversation = (
        Conversation.objects.select_related("user_low", "user_high")
        .filter(Q(user_low=user) | Q(user_high=user), pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise Http404("Conversation not found.")
    return conversation


def thread_url(conversation: Conversation) -> str:
    return reverse("messages-thread", args=[conversation.id])


def first_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def send(conversation: Conversation, sender: User, body: str, *, now=None) -> Message:
    """Store a message from a participant (body already cleaned), move the conversation to the
    top of both inboxes and notify the other person once the transaction commits."""
    if sender.id not in conversation.participant_ids:
        raise Http404("Conversation not found.")
    now = now or timezone.now()
    with transaction.atomic():
        message = Message.objects.create(conversation=conversation, sender=sender, body=body, created_at=now)
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=now)
        conversation.updated_at = now
        # the deliveries are written with the message (the outbox) and sent once it commits
        notify([conversation.other(sender)], kind="message", source=f"message:{message.id}", now=now,
               data={"sender": sender.name, "preview": first_line(body), "url": thread_url(conversation)})
    return message


def mark_read(conversation: Conversation, reader: User, *, now=None) -> int:
    """The other side's unread messages become read; returns how many. One query."""
    return (
        Message.objects.filter(conversation=conversation, read_at__isnull=True)
        .exclude(sender=reader)
        .update(read_at=now or timezone.now())
    )


def thread(conversation: Conversation, limit: int = THREAD_LIMIT) -> list[Message]:
    """The last `limit` messages, oldest first. One query."""
    latest = Message.objects.filter(conversation=conversation).order_by("-created_at", "-id")[:limit]
    return list(reversed(latest))


@dataclass
class InboxRow:
    conversation: Conversation
    other: User
    preview: str
    last_at: object
    last_mine: bool
    unread: int


def inbox(user: User, limit: int = INBOX_LIMIT) -> list[InboxRow]:
    """The user's conversations, most recent first, each with the other person, the last message's
    first line and time, and how many of the other's messages are unread. One query."""
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-created_at", "-id")
    unread = (
        Message.objects.filter(conversation=OuterRef("pk"), read_at__isnull=True).exclude(sender=user)
        .order_by().values("conversation").annotate(n=Count("*")).values("n")
    )
    rows = (
        Conversation.objects.filter(Q(user_low=user) | Q(user_high=user))
        .select_related("user_low", "user_high")
        .annotate(
            last_body=Subquery(last.annotate(head=Left("body", 400)).values("head")[:1]),
            last_at=Subquery(last.values("created_at")[:1]),
            last_sender=Subquery(last.values("sender_id")[:1]),
            unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
        )
        .order_by("-updated_at", "-id")[:limit]
    )
    return [
        InboxRow(conversation=c, other=c.other(user), preview=first_line(c.last_body or ""),
                 last_at=c.last_at, last_mine=c.last_sender == user.id, unread=c.unread)
        for c in rows
    ]


def unread(user: User):
    """The user's unread messages: in their conversations, not read, not their own (the
    navigation's badge counts these, notifications.context_processors)."""
    return (Message.objects.filter(Q(conversation__user_low=user) | Q(conversation__user_high=user),
                                   read_at__isnull=True)
            .exclude(sender=user))


def unread_total(user: User) -> int:
    """All of the user's unread messages. One query."""
    return unread(user).count()
