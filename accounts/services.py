from django.db import IntegrityError, transaction

from common.errors import Conflict
from ledger.services import account_open_with_signup_grant

from .models import User


def user_signup(*, email: str, name: str, password: str) -> User:
    """Create a user and their ledger account with the signup grant, all or nothing."""
    email = email.strip().lower()
    name = name.strip()
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, name=name, password=password)
            account_open_with_signup_grant(user=user)
    except IntegrityError as exc:
        # Two signups racing past validation with the same email or name.
        raise Conflict("A user with this email or name already exists.") from exc
    return user


def user_update(*, user: User, name: str | None = None, availability: str | None = None) -> User:
    """Change the only two fields a user may change about themselves."""
    fields = []
    if name is not None:
        user.name = name.strip()
        fields.append("name")
    if availability is not None:
        user.availability = availability
        fields.append("availability")
    if fields:
        try:
            with transaction.atomic():
                user.save(update_fields=fields)
        except IntegrityError as exc:
            raise Conflict("A user with this name already exists.") from exc
    return user
