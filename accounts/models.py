from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email) -> str:
        """The one spelling of an email we store and compare: trimmed, all lower case."""
        return (email or "").strip().lower()

    @staticmethod
    def normalize_name(name) -> str:
        return (name or "").strip()

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def create_user(self, email, name, password=None, *, password_hash: str | None = None, **extra):
        """Create a user together with their ledger account and signup grant.

        Every way of creating a user (signup, `createsuperuser`, the admin) goes through here, so
        no user can exist without an account to hold credits. `password_hash` (from
        make_password) instead of `password` lets a caller hash before opening a transaction.
        """
        # Imported here: ledger refers to the user model, so a module-level import would cycle.
        from ledger.services import account_open_with_signup_grant

        email, name = self.normalize_email(email), self.normalize_name(name)
        if not email:
            raise ValueError("Users need an email address.")
        if not name:
            raise ValueError("Users need a name.")
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
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, name, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A learner and teacher. Logs in by email; `name` is the public handle.

    Credits are not a field here: the user's ledger account holds them (see `ledger`).
    Whether a user is online is derived from their live connections (see `realtime`).
    """

    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=150)
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
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.UniqueConstraint(Lower("name"), name="user_name_ci_unique"),
        ]

    def save(self, *args, **kwargs):
        self.email = UserManager.normalize_email(self.email)
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
