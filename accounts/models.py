from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from . import identity


def validate_email_identity(value):
    """Model-level check (admin forms, createsuperuser): IDNA must accept the domain."""
    try:
        identity.normalize_email(value)
    except identity.InvalidIdentity as exc:
        raise ValidationError(str(exc), code="invalid") from exc


def validate_name_identity(value):
    try:
        identity.validate_name(value)
    except identity.InvalidIdentity as exc:
        raise ValidationError(str(exc), code="invalid") from exc


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email, *, strict: bool = False) -> str:
        """The one spelling of an email we store and compare (see accounts.identity)."""
        return identity.normalize_email(email, strict=strict)

    @staticmethod
    def normalize_name(name) -> str:
        return identity.normalize_name(name)

    def get_by_natural_key(self, email):
        # Login, createsuperuser and the admin all find a user here, by the canonical email.
        return self.get(email=self.normalize_email(email))

    def create_user(self, email, name, password=None, *, password_hash: str | None = None, **extra):
        """Create a user together with their ledger account and signup grant.

        Every way of creating a user (signup, `createsuperuser`, the admin) goes through here, so
        no user can exist without an account to hold credits. `password_hash` (from
        make_password) instead of `password` lets a caller hash before opening a transaction.
        """
        # Imported here: ledger refers to the user model, so a module-level import would cycle.
        from ledger.services import account_open_with_signup_grant

        email, name = self.normalize_email(email, strict=True), self.normalize_name(name)
        if not email:
            raise ValueError("Users need an email address.")
        if not name:
            raise ValueError("Users need a name.")
        identity.validate_name(name)
        user = self.model(email=email, name=name, **extra)
        if password_hash is not None:
            user.password = password_hash
        else:
            user.set_password(password)
        with transaction.atomic(using=self._db):
            user.save(using=self._db)
            account_open_with_signup_grant(user=user)
        return user

    def create_superuser(self, email, name, password=None, **extra):
        # createsuperuser checks that the email is free but not the name: say so, as its error.
        if self.filter(name_key=identity.name_key(name)).exists():
            raise ValidationError({"name": "A user with this name already exists."})
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, name, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A learner and teacher. Logs in by email; `name` is the public handle.

    Credits are not a field here: the user's ledger account holds them (see `ledger`).
    Whether a user is online is derived from their live connections (see `realtime`).
    """

    # Stored canonical (accounts.identity.normalize_email), so this unique index is the rule.
    email = models.EmailField(max_length=254, unique=True, validators=[validate_email_identity])
    name = models.CharField(max_length=150, validators=[validate_name_identity])
    # The name's comparison form, kept by save(); its unique index stops look-alike twins even
    # when two requests race past the service's check.
    name_key = models.TextField(unique=True, editable=False)
    availability = models.CharField(max_length=255, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Set when the account was deleted (accounts.services.account_delete): the row stays for the
    # ledger and the reviews, anonymised and deactivated.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["id"]

    def save(self, *args, **kwargs):
        self.email = UserManager.normalize_email(self.email)
        self.name = UserManager.normalize_name(self.name)
        self.name_key = identity.name_key(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    def __str__(self):
        return f"{self.name} <{self.email}>"


class TokenFamily(models.Model):
    """Every refresh token descending from one login (RFC 9700 refresh-token rotation).

    A family is revoked as soon as any of its tokens is in SimpleJWT's blacklist (logout, reuse
    detection, or tokens_revoke_all), see accounts.services.token_refresh.
    """

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Token family {self.pk} of {self.user_id}"


class TokenFamilyMember(models.Model):
    """One refresh token of a family and, once it was traded in, when."""

    token = models.OneToOneField(
        "token_blacklist.OutstandingToken",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="family_member",
    )
    family = models.ForeignKey(TokenFamily, on_delete=models.CASCADE, related_name="members")
    # The access token issued together with this refresh token: the answer repeated to the
    # parallel refreshes of its parent within the reuse grace.
    access = models.TextField(blank=True, default="")
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Token {self.token_id} of family {self.family_id}"
