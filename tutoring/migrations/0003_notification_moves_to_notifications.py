"""The in-app Notification model moves to the notifications app. Only Django's model state changes
here; notifications' first migration renames the table, keeping every row."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tutoring", "0002_user_name_trigram")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Notification")]),
    ]
