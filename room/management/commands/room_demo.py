"""`manage.py room_demo`: make sure demo-tutor and demo-student have a session whose room is open
now (starting within minutes), so whoever tries the demo can meet in the room at once. `make run`
calls it after seed_demo, on every start; it does nothing when such a session exists already."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from sessions import lifecycle
from sessions.models import LIVE, OCCUPYING_STATUSES, Channel, Session
from tutoring.models import Match, User

LENGTH = timedelta(minutes=45)


class Command(BaseCommand):
    help = "Schedule a demo-tutor / demo-student session whose room is open now (if none is)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("room_demo refuses to run in production (DJANGO_ENV=production).")
        users = {u.username: u for u in User.objects.filter(username__in=["demo-tutor", "demo-student",
                                                                           "demo-coordinator"])}
        if len(users) < 3:
            self.stdout.write("room_demo: no demo world; nothing to do.")
            return
        tutor, student = users["demo-tutor"], users["demo-student"]
        now = timezone.now()
        live = Session.objects.filter(tutor=tutor, student=student, status__in=LIVE,
                                      scheduled_start__lte=now + settings.ROOM_OPENS_BEFORE,
                                      scheduled_end__gt=now + timedelta(minutes=10)).first()
        if live:
            self.stdout.write(f"room_demo: session {live.pk} is open for the room at /session/{live.pk}")
            return
        start = now.replace(second=0, microsecond=0) + timedelta(minutes=5 - now.minute % 5)
        while Session.objects.filter(tutor=tutor, status__in=OCCUPYING_STATUSES, scheduled_start__lt=start + LENGTH,
                                     scheduled_end__gt=start).exists():
            start += timedelta(minutes=5)
        if start - now > settings.ROOM_OPENS_BEFORE:
            self.stdout.write("room_demo: the tutor is busy now; no room session added.")
            return
        # the course they are matched in (demo-creator's), so the creator sees the feedback
        match = Match.objects.filter(tutor=tutor, student=student, course__isnull=False).order_by("id").first()
        with lifecycle.silenced():
            session = lifecycle.create_session(by=users["demo-coordinator"], tutor_id=tutor.pk, student_id=student.pk,
                                               course_id=match.course_id if match else None, start=start,
                                               end=start + LENGTH, now=now, channel=Channel.ADMIN)
        self.stdout.write(f"room_demo: session {session.pk} ({tutor.name} with {student.name}) starts at "
                          f"{start:%H:%M} UTC; its room is open: /session/{session.pk}")
