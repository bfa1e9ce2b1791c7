"""SessionEvent becomes a real outbox: `notified_at` is empty until the notifications relay has
turned the event into deliveries.

Events recorded before this migration were notified by the old after-commit task, so they get the
migration's time: the column is added with now() as its default, which PostgreSQL stores once in
the catalogue instead of rewriting the table (no UPDATE, so the append-only trigger never fires),
and the default is dropped at once, so new events start empty. The trigger then allows exactly one
write: stamping `notified_at` on an event that has none, with every other column unchanged.
"""

from django.db import migrations, models

TABLE = "tutoring_sessions_sessionevent"


class Migration(migrations.Migration):
    dependencies = [("tutoring_sessions", "0002_lean_indexes_injected_times")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="sessionevent", name="notified_at",
                                    field=models.DateTimeField(blank=True, null=True)),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f"""
                    ALTER TABLE {TABLE} ADD COLUMN notified_at timestamp with time zone NULL DEFAULT now();
                    ALTER TABLE {TABLE} ALTER COLUMN notified_at DROP DEFAULT;
                    """,
                    reverse_sql=f"ALTER TABLE {TABLE} DROP COLUMN notified_at;",
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="sessionevent",
            index=models.Index(condition=models.Q(("notified_at__isnull", True)), fields=["id"],
                               name="event_unnotified"),
        ),
        migrations.RunSQL(
            sql="""
            CREATE OR REPLACE FUNCTION session_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- the one write an event allows: the outbox relay stamping when it was notified, once
                IF TG_OP = 'UPDATE' AND OLD.notified_at IS NULL AND NEW.notified_at IS NOT NULL
                   AND (to_jsonb(NEW) - 'notified_at') = (to_jsonb(OLD) - 'notified_at') THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'session events are append-only (% refused)', TG_OP;
            END $$;
            """,
            reverse_sql="""
            CREATE OR REPLACE FUNCTION session_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'session events are append-only (% refused)', TG_OP;
            END $$;
            """,
        ),
    ]
