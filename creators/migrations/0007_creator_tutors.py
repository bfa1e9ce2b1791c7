"""creators.CreatorTutor: each (creator, tutor)'s sessions with the tutor's name and avatar, kept from
the CourseTutor rows, the courses' creators and the people by triggers (creators/rollups.py
generates the SQL, frozen here), filled from them as they are."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INSTALL = "\nCREATE OR REPLACE FUNCTION creators_creator_tutors() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n        \n    INSERT INTO creators_creatortutor AS t (creator_id, tutor_id, name, avatar_url, sessions)\n    SELECT d.creator_id, d.tutor_id, u.name, u.avatar_url, d.n\n    FROM (SELECT creator_id, tutor_id, SUM(n) AS n FROM (SELECT c.creator_id, x.tutor_id, 1 * x.sessions AS n FROM new_rows x JOIN tutoring_course c ON c.id = x.course_id) AS delta GROUP BY creator_id, tutor_id\n          HAVING SUM(n) <> 0) d\n    JOIN tutoring_user u ON u.id = d.tutor_id\n    ORDER BY d.creator_id, d.tutor_id\n    ON CONFLICT (creator_id, tutor_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;\n\n    ELSIF TG_OP = 'DELETE' THEN\n        \n    INSERT INTO creators_creatortutor AS t (creator_id, tutor_id, name, avatar_url, sessions)\n    SELECT d.creator_id, d.tutor_id, u.name, u.avatar_url, d.n\n    FROM (SELECT creator_id, tutor_id, SUM(n) AS n FROM (SELECT c.creator_id, x.tutor_id, -1 * x.sessions AS n FROM old_rows x JOIN tutoring_course c ON c.id = x.course_id) AS delta GROUP BY creator_id, tutor_id\n          HAVING SUM(n) <> 0) d\n    JOIN tutoring_user u ON u.id = d.tutor_id\n    ORDER BY d.creator_id, d.tutor_id\n    ON CONFLICT (creator_id, tutor_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;\n\n    ELSIF TG_OP = 'UPDATE' THEN\n        \n    INSERT INTO creators_creatortutor AS t (creator_id, tutor_id, name, avatar_url, sessions)\n    SELECT d.creator_id, d.tutor_id, u.name, u.avatar_url, d.n\n    FROM (SELECT creator_id, tutor_id, SUM(n) AS n FROM (SELECT c.creator_id, x.tutor_id, -1 * x.sessions AS n FROM old_rows x JOIN tutoring_course c ON c.id = x.course_id UNION ALL SELECT c.creator_id, x.tutor_id, 1 * x.sessions AS n FROM new_rows x JOIN tutoring_course c ON c.id = x.course_id) AS delta GROUP BY creator_id, tutor_id\n          HAVING SUM(n) <> 0) d\n    JOIN tutoring_user u ON u.id = d.tutor_id\n    ORDER BY d.creator_id, d.tutor_id\n    ON CONFLICT (creator_id, tutor_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;\n\n    ELSE\n        DELETE FROM creators_creatortutor;\n    END IF;\n    RETURN NULL;\nEND $$;\n\nCREATE TRIGGER creators_creators_t_ins AFTER INSERT ON creators_coursetutor REFERENCING NEW TABLE AS new_rows\n    FOR EACH STATEMENT EXECUTE FUNCTION creators_creator_tutors();\nCREATE TRIGGER creators_creators_t_upd AFTER UPDATE ON creators_coursetutor REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows\n    FOR EACH STATEMENT EXECUTE FUNCTION creators_creator_tutors();\nCREATE TRIGGER creators_creators_t_del AFTER DELETE ON creators_coursetutor REFERENCING OLD TABLE AS old_rows\n    FOR EACH STATEMENT EXECUTE FUNCTION creators_creator_tutors();\nCREATE TRIGGER creators_creators_t_trunc AFTER TRUNCATE ON creators_coursetutor FOR EACH STATEMENT EXECUTE FUNCTION creators_creator_tutors();\nINSERT INTO creators_creatortutor (creator_id, tutor_id, name, avatar_url, sessions) SELECT c.creator_id, x.tutor_id, u.name, u.avatar_url, SUM(x.sessions) AS sessions FROM creators_coursetutor x JOIN tutoring_course c ON c.id = x.course_id JOIN tutoring_user u ON u.id = x.tutor_id GROUP BY c.creator_id, x.tutor_id, u.name, u.avatar_url;\n\nCREATE OR REPLACE FUNCTION creators_creator_tutors_move() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    \n    INSERT INTO creators_creatortutor AS t (creator_id, tutor_id, name, avatar_url, sessions)\n    SELECT d.creator_id, d.tutor_id, u.name, u.avatar_url, d.n\n    FROM (SELECT creator_id, tutor_id, SUM(n) AS n FROM (SELECT x.creator_id, ct.tutor_id, x.sign * ct.sessions AS n FROM creators_coursetutor ct CROSS JOIN (VALUES (OLD.creator_id, -1), (NEW.creator_id, 1)) AS x(creator_id, sign) WHERE ct.course_id = NEW.id) AS delta GROUP BY creator_id, tutor_id\n          HAVING SUM(n) <> 0) d\n    JOIN tutoring_user u ON u.id = d.tutor_id\n    ORDER BY d.creator_id, d.tutor_id\n    ON CONFLICT (creator_id, tutor_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;\n\n    RETURN NULL;\nEND $$;\nCREATE TRIGGER creators_creators_c_move AFTER UPDATE OF creator_id ON tutoring_course FOR EACH ROW\n    WHEN (OLD.creator_id IS DISTINCT FROM NEW.creator_id)\n    EXECUTE FUNCTION creators_creator_tutors_move();\n\nCREATE OR REPLACE FUNCTION creators_creator_tutors_rename() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    UPDATE creators_creatortutor t SET name = NEW.name, avatar_url = NEW.avatar_url\n    FROM (SELECT id FROM creators_creatortutor WHERE tutor_id = NEW.id ORDER BY creator_id FOR UPDATE) k\n    WHERE t.id = k.id;  -- locked in key order, as the other writers lock them\n    RETURN NULL;\nEND $$;\nCREATE TRIGGER creators_creators_u_rename AFTER UPDATE OF name, avatar_url ON tutoring_user FOR EACH ROW\n    WHEN ((OLD.name, OLD.avatar_url) IS DISTINCT FROM (NEW.name, NEW.avatar_url))\n    EXECUTE FUNCTION creators_creator_tutors_rename();\n"

UNINSTALL = 'DROP TRIGGER IF EXISTS creators_creators_t_ins ON creators_coursetutor;\nDROP TRIGGER IF EXISTS creators_creators_t_upd ON creators_coursetutor;\nDROP TRIGGER IF EXISTS creators_creators_t_del ON creators_coursetutor;\nDROP TRIGGER IF EXISTS creators_creators_t_trunc ON creators_coursetutor;\nDROP FUNCTION IF EXISTS creators_creator_tutors();\nDROP TRIGGER IF EXISTS creators_creators_c_move ON tutoring_course;\nDROP FUNCTION IF EXISTS creators_creator_tutors_move();\nDROP TRIGGER IF EXISTS creators_creators_u_rename ON tutoring_user;\nDROP FUNCTION IF EXISTS creators_creator_tutors_rename();\n'


class Migration(migrations.Migration):

    dependencies = [
        ('creators', '0006_course_students'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CreatorTutor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=150)),
                ('avatar_url', models.URLField(blank=True)),
                ('sessions', models.IntegerField(default=0)),
                ('creator', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('tutor', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['creator', 'name', 'tutor'], include=('sessions', 'avatar_url'), name='creator_tutor_by_name')],
                'constraints': [models.UniqueConstraint(fields=('creator', 'tutor'), name='creator_tutor_key')],
            },
        ),
        migrations.RunSQL(INSTALL, UNINSTALL),
    ]
