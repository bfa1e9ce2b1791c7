"""An index for a creator's history searched by student (creators.selectors.newest_rows): each
(student, course)'s newest rows, their ids in the index. Built CONCURRENTLY, so writes to sessions
go on while it builds (seconds on a million sessions)."""

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ('tutoring', '0005_match_state'),
        ('tutoring_sessions', '0005_policy_trial_exception'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='session',
            index=models.Index(fields=['student', 'course', 'scheduled_start'], include=('id',),
                               name='session_student_course_start'),
        ),
    ]
