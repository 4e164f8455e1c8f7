from django.db import migrations


class Migration(migrations.Migration):
    """`start_time` used to be set when the invitee accepted; it is now shown as the creation time
    (`created_at`), and the moment of acceptance keeps its value under its own name. A rename
    carries every existing row over as it is: accepted sessions keep their acceptance time,
    sessions never accepted (pending, or rejected from pending) keep null."""

    dependencies = [
        ("tutoring", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="session", old_name="start_time", new_name="accepted_at"),
    ]
