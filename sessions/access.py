"""Who may see a session and in which capacity. One helper returns a session only to a user who
may see it; everyone else gets 404, so the existence of other people's sessions never leaks."""

from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Q, QuerySet
from django.http import Http404

from tutoring.models import Guardianship, User

from .models import Session


class Relation(StrEnum):
    TUTOR = "tutor"
    STUDENT = "student"
    PARENT = "parent"
    COORDINATOR = "coordinator"
    CREATOR = "creator"


PARTICIPANTS = frozenset({Relation.TUTOR, Relation.STUDENT, Relation.PARENT})


@dataclass(frozen=True)
class Viewer:
    """A user plus what is needed to place them relative to any session without more queries."""

    user: User
    child_ids: frozenset[int]

    @classmethod
    def of(cls, user: User) -> "Viewer":
        children = Guardianship.objects.filter(parent=user).values_list("student_id", flat=True)
        return cls(user=user, child_ids=frozenset(children))

    @property
    def id(self) -> int:
        return self.user.id

    def relations(self, session: Session) -> frozenset[Relation]:
        rels = set()
        if session.tutor_id == self.user.id:
            rels.add(Relation.TUTOR)
        if session.student_id == self.user.id:
            rels.add(Relation.STUDENT)
        if session.student_id in self.child_ids:
            rels.add(Relation.PARENT)
        if self.user.is_coordinator:
            rels.add(Relation.COORDINATOR)
        if session.course_id is not None and session.course.creator_id == self.user.id:
            rels.add(Relation.CREATOR)
        return frozenset(rels)

    def visibility_filter(self) -> Q:
        return (
            Q(tutor_id=self.user.id)
            | Q(student_id=self.user.id)
            | Q(student_id__in=self.child_ids)
            | Q(course__creator_id=self.user.id)
        )


def visible_sessions(viewer: Viewer) -> QuerySet[Session]:
    qs = Session.objects.all()
    if viewer.user.is_coordinator:
        return qs
    return qs.filter(viewer.visibility_filter())


def get_session_for(viewer: Viewer, pk, *, queryset: QuerySet | None = None) -> Session:
    """The session if this viewer may see it, else Http404 (also for a malformed id)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("Session not found.") from None
    qs = queryset if queryset is not None else Session.objects.select_related("course", "tutor", "student")
    session = qs.filter(pk=pk).first()
    if session is None or not viewer.relations(session):
        raise Http404("Session not found.")
    return session
