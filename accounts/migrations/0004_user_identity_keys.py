"""Identities compare in NFKC case-folded form with IDNA domains (SPEC section 2).

Existing rows get their canonical email and a `name_key`. Two rows that turn out to be one
identity (`alice` and `ａｌｉｃｅ`, `x@example.org` and `x@ｅｘａｍｐｌｅ.org`) are not merged or
renamed here: the migration stops and lists them, so an operator decides which account is which.
"""

from collections import defaultdict

from django.db import migrations, models

import accounts.models
from accounts import identity


class IdentityClash(RuntimeError):
    pass


def canonical_identities(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    emails, names = defaultdict(list), defaultdict(list)
    rows = list(User.objects.order_by("pk").values_list("pk", "email", "name"))
    for pk, email, name in rows:
        emails[identity.normalize_email(email, strict=False)].append(pk)
        names[identity.name_key(name)].append(pk)
    clashes = [
        f"  email {key!r}: users {', '.join(map(str, ids))}" for key, ids in emails.items() if len(ids) > 1
    ] + [f"  name {key!r}: users {', '.join(map(str, ids))}" for key, ids in names.items() if len(ids) > 1]
    if clashes:
        raise IdentityClash(
            "These users are one identity under the look-alike rules (accounts.identity); "
            "rename or deactivate-and-rename all but one of each group, then migrate again:\n"
            + "\n".join(clashes)
        )
    for pk, email, name in rows:
        User.objects.filter(pk=pk).update(
            email=identity.normalize_email(email, strict=False),
            name=identity.normalize_name(name),
            name_key=identity.name_key(name),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_token_family"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="name_key",
            field=models.TextField(editable=False, null=True),
        ),
        migrations.RunPython(canonical_identities, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="user",
            name="name_key",
            field=models.TextField(editable=False, unique=True),
        ),
        migrations.RemoveConstraint(model_name="user", name="user_email_ci_unique"),
        migrations.RemoveConstraint(model_name="user", name="user_name_ci_unique"),
        migrations.AlterField(
            model_name="user",
            name="email",
            field=models.EmailField(
                max_length=254, unique=True, validators=[accounts.models.validate_email_identity]
            ),
        ),
        migrations.AlterField(
            model_name="user",
            name="name",
            field=models.CharField(max_length=150, validators=[accounts.models.validate_name_identity]),
        ),
    ]
