"""The in-app Notification model arrives from the tutoring app with its rows: the table is renamed
(its indexes, constraints and data stay), and Django's state takes the model as it was there."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("tutoring", "0003_notification_moves_to_notifications"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql="ALTER TABLE tutoring_notification RENAME TO notifications_notification;",
                    reverse_sql="ALTER TABLE notifications_notification RENAME TO tutoring_notification;",
                ),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("kind", models.CharField(max_length=40)),
                        ("text", models.CharField(max_length=500)),
                        ("url", models.CharField(blank=True, max_length=300)),
                        ("event_id", models.BigIntegerField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("read_at", models.DateTimeField(blank=True, null=True)),
                        ("recipient", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                        related_name="notifications",
                                                        to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "indexes": [models.Index(fields=["recipient", "-created_at"], name="notification_inbox")],
                        "constraints": [models.UniqueConstraint(fields=("event_id", "recipient"),
                                                                name="notification_once_per_event")],
                    },
                ),
            ],
        ),
    ]
