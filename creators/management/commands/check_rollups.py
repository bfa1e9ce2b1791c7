"""Compare the Session History rollups with a full recount of the sessions; --rebuild recounts."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from creators import rollups, stamps


class Command(BaseCommand):
    help = "Check that the creator metrics rollups equal a recount of the sessions (--rebuild to recount)."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="recount everything, then check again")

    def handle(self, *args, rebuild=False, **options):
        if rebuild:
            with transaction.atomic():
                stamps.rebuild_rollups()
            self.stdout.write("rebuilt the rollups from the sessions")
        wrong = rollups.differences()
        if wrong:
            for row in wrong[:20]:
                if row[2] == "course_tutors":  # a CourseTutor row against the rollups' sum
                    self.stderr.write(f"course {row[0]} tutor {row[1]}: {row[3]} sessions in creators_coursetutor "
                                      f"vs {row[4]} in the rollups")
                elif row[2] == "course_students":  # a CourseStudent row against the sessions counted
                    self.stderr.write(f"course {row[0]} student {row[1]}: {row[3]} sessions in creators_coursestudent "
                                      f"vs {row[4]} in the sessions")
                elif row[2] == "creator_tutors":  # a CreatorTutor row against its course tutors, its tutor
                    self.stderr.write(f"creator {row[0]} tutor {row[1]}: {row[3]} in creators_creatortutor "
                                      f"vs {row[4]} from the course tutors and the people")
                else:
                    self.stderr.write(f"course {row[0]} tutor {row[1]} {row[2]}: rollup {row[3]} vs recount {row[4]}")
            raise CommandError(f"{len(wrong)} rollup rows differ from a recount (run with --rebuild)")
        self.stdout.write("the rollups equal a recount")
