"""creators.CourseTutor: each (course, tutor)'s sessions, kept from the rollup rows by a trigger on
them (creators/rollups.py generates the SQL, frozen here), filled from the rollups as they are."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INSTALL = "\nCREATE OR REPLACE FUNCTION creators_course_tutors() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n        \n    INSERT INTO creators_coursetutor AS t (course_id, tutor_id, sessions)\n    SELECT course_id, tutor_id, SUM(n) FROM (SELECT course_id, tutor_id, 1 * sessions AS n FROM new_rows) AS delta\n    GROUP BY course_id, tutor_id HAVING SUM(n) <> 0\n    ORDER BY course_id, tutor_id\n    ON CONFLICT (course_id, tutor_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;\n\n    ELSIF TG_OP = 'DELETE' THEN\n        \n    INSERT INTO creators_coursetutor AS t (course_id, tutor_id, sessions)\n    SELECT course_id, tutor_id, SUM(n) FROM (SELECT course_id, tutor_id, -1 * sessions AS n FROM old_rows) AS delta\n    GROUP BY course_id, tutor_id HAVING SUM(n) <> 0\n    ORDER BY course_id, tutor_id\n    ON CONFLICT (course_id, tutor_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;\n\n    ELSIF TG_OP = 'UPDATE' THEN\n        \n    INSERT INTO creators_coursetutor AS t (course_id, tutor_id, sessions)\n    SELECT course_id, tutor_id, SUM(n) FROM (SELECT course_id, tutor_id, -1 * sessions AS n FROM old_rows UNION ALL SELECT course_id, tutor_id, 1 * sessions AS n FROM new_rows) AS delta\n    GROUP BY course_id, tutor_id HAVING SUM(n) <> 0\n    ORDER BY course_id, tutor_id\n    ON CONFLICT (course_id, tutor_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;\n\n    ELSE\n        DELETE FROM creators_coursetutor;\n    END IF;\n    RETURN NULL;\nEND $$;\n\nCREATE TRIGGER creators_tutors_r_ins AFTER INSERT ON creators_sessionrollup REFERENCING NEW TABLE AS new_rows\n    FOR EACH STATEMENT EXECUTE FUNCTION creators_course_tutors();\nCREATE TRIGGER creators_tutors_r_upd AFTER UPDATE ON creators_sessionrollup REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows\n    FOR EACH STATEMENT EXECUTE FUNCTION creators_course_tutors();\nCREATE TRIGGER creators_tutors_r_del AFTER DELETE ON creators_sessionrollup REFERENCING OLD TABLE AS old_rows\n    FOR EACH STATEMENT EXECUTE FUNCTION creators_course_tutors();\nCREATE TRIGGER creators_tutors_r_trunc AFTER TRUNCATE ON creators_sessionrollup FOR EACH STATEMENT EXECUTE FUNCTION creators_course_tutors();\nINSERT INTO creators_coursetutor (course_id, tutor_id, sessions) SELECT course_id, tutor_id, SUM(sessions) FROM creators_sessionrollup GROUP BY course_id, tutor_id;\n"

UNINSTALL = 'DROP TRIGGER IF EXISTS creators_tutors_r_ins ON creators_sessionrollup;\nDROP TRIGGER IF EXISTS creators_tutors_r_upd ON creators_sessionrollup;\nDROP TRIGGER IF EXISTS creators_tutors_r_del ON creators_sessionrollup;\nDROP TRIGGER IF EXISTS creators_tutors_r_trunc ON creators_sessionrollup;\nDROP FUNCTION IF EXISTS creators_course_tutors();\n'


class Migration(migrations.Migration):

    dependencies = [
        ('creators', '0004_rollup_functions_from_metrics'),
        ('tutoring', '0005_match_state'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CourseTutor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sessions', models.IntegerField(default=0)),
                ('course', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tutoring.course')),
                ('tutor', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('course', 'tutor'), name='course_tutor_key')],
            },
        ),
        migrations.RunSQL(INSTALL, UNINSTALL),
    ]
