"""creators.CourseStudent: each (course, student)'s sessions, kept from the sessions by a trigger on
them (creators/rollups.py generates the SQL, frozen here), filled from the sessions as they are
(one pass over them: seconds on a million sessions)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INSTALL = "\nCREATE OR REPLACE FUNCTION creators_course_students() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n        \n    INSERT INTO creators_coursestudent AS t (course_id, student_id, sessions)\n    SELECT course_id, student_id, SUM(n) FROM (SELECT course_id, student_id, 1 AS n FROM new_rows WHERE course_id IS NOT NULL) AS delta\n    GROUP BY course_id, student_id HAVING SUM(n) <> 0\n    ORDER BY course_id, student_id\n    ON CONFLICT (course_id, student_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;\n\n    ELSIF TG_OP = 'DELETE' THEN\n        \n    INSERT INTO creators_coursestudent AS t (course_id, student_id, sessions)\n    SELECT course_id, student_id, SUM(n) FROM (SELECT course_id, student_id, -1 AS n FROM old_rows WHERE course_id IS NOT NULL) AS delta\n    GROUP BY course_id, student_id HAVING SUM(n) <> 0\n    ORDER BY course_id, student_id\n    ON CONFLICT (course_id, student_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;\n\n    ELSIF TG_OP = 'UPDATE' THEN\n        \n    INSERT INTO creators_coursestudent AS t (course_id, student_id, sessions)\n    SELECT course_id, student_id, SUM(n) FROM (SELECT course_id, student_id, -1 AS n FROM old_rows WHERE course_id IS NOT NULL UNION ALL SELECT course_id, student_id, 1 AS n FROM new_rows WHERE course_id IS NOT NULL) AS delta\n    GROUP BY course_id, student_id HAVING SUM(n) <> 0\n    ORDER BY course_id, student_id\n    ON CONFLICT (course_id, student_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;\n\n    ELSE\n        DELETE FROM creators_coursestudent;\n    END IF;\n    RETURN NULL;\nEND $$;\n\nCREATE TRIGGER creators_students_s_ins AFTER INSERT ON tutoring_sessions_session REFERENCING NEW TABLE AS new_rows\n    FOR EACH STATEMENT EXECUTE FUNCTION creators_course_students();\nCREATE TRIGGER creators_students_s_upd AFTER UPDATE ON tutoring_sessions_session REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows\n    FOR EACH STATEMENT EXECUTE FUNCTION creators_course_students();\nCREATE TRIGGER creators_students_s_del AFTER DELETE ON tutoring_sessions_session REFERENCING OLD TABLE AS old_rows\n    FOR EACH STATEMENT EXECUTE FUNCTION creators_course_students();\nCREATE TRIGGER creators_students_s_trunc AFTER TRUNCATE ON tutoring_sessions_session FOR EACH STATEMENT EXECUTE FUNCTION creators_course_students();\nINSERT INTO creators_coursestudent (course_id, student_id, sessions) SELECT course_id, student_id, COUNT(*) AS sessions FROM tutoring_sessions_session WHERE course_id IS NOT NULL GROUP BY course_id, student_id;\n"

UNINSTALL = 'DROP TRIGGER IF EXISTS creators_students_s_ins ON tutoring_sessions_session;\nDROP TRIGGER IF EXISTS creators_students_s_upd ON tutoring_sessions_session;\nDROP TRIGGER IF EXISTS creators_students_s_del ON tutoring_sessions_session;\nDROP TRIGGER IF EXISTS creators_students_s_trunc ON tutoring_sessions_session;\nDROP FUNCTION IF EXISTS creators_course_students();\n'


class Migration(migrations.Migration):

    dependencies = [
        ('creators', '0005_course_tutors'),
        ('tutoring_sessions', '0006_student_course_index'),  # the pairs' rows are read from its index
        ('tutoring', '0005_match_state'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CourseStudent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sessions', models.IntegerField(default=0)),
                ('course', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tutoring.course')),
                ('student', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('course', 'student'), name='course_student_key')],
            },
        ),
        migrations.RunSQL(INSTALL, UNINSTALL),
    ]
