from django.db import migrations, models


class Migration(migrations.Migration):
    """The answer of each handled update, kept until sent; the updates handled before count as answered."""

    dependencies = [("telegram_bot", "0001_initial")]

    operations = [
        migrations.AddField(model_name="processedupdate", name="answer",
                            field=models.JSONField(blank=True, default=list)),
        migrations.AddField(model_name="processedupdate", name="answering_since",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="processedupdate", name="answered_at",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.RunSQL("UPDATE telegram_bot_processedupdate SET answered_at = received_at",
                          migrations.RunSQL.noop),
    ]
