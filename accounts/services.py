from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from common.errors import Conflict, Forbidden, Invalid, ServiceError

from .models import User


def user_ensure_free(*, field: str, value: str, exclude_id: int | None = None) -> None:
    """Invalid if another user already has this email or name, in any case."""
    taken = User.objects.filter(**{f"{field}__iexact": value}).exclude(pk=exclude_id)
    if taken.exists():
        raise Invalid(f"A user with this {field} already exists.", field=field)


def user_signup(*, email: str, name: str, password: str) -> User:
    """Create a user and their ledger account with the signup grant, all or nothing.

    `create_user` opens the ledger account, so the grant is paid in the same transaction.
    """
    email, name = User.objects.normalize_email(email), User.objects.normalize_name(name)
    user_ensure_free(field="email", value=email)
    user_ensure_free(field="name", value=name)
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, name=name, password=password)
    except IntegrityError as exc:
        # Two signups racing past the checks above with the same email or name.
        raise Conflict("A user with this email or name already exists.") from exc
    return user


def user_update(*, user: User, name: str | None = None, availability: str | None = None) -> User:
    """Change the only two fields a user may change about themselves."""
    fields = []
    if name is not None:
        user.name = User.objects.normalize_name(name)
        user_ensure_free(field="name", value=user.name, exclude_id=user.pk)
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


# --- tokens ---------------------------------------------------------------------------------


class NotAuthenticated(ServiceError):
    """Bad credentials or an unusable token; shown as 401."""

    status_code = 401
    default_message = "Authentication failed."


def tokens_for(*, user: User) -> dict[str, str]:
    """A new access/refresh pair; the refresh token is recorded so it can be revoked."""
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def user_authenticate(*, email: str, password: str, request=None) -> User:
    """The active user with this email (any case) and password, or NotAuthenticated."""
    # Django's backend hashes the password even for unknown emails, so response time does not
    # tell which emails are registered; it also refuses inactive users.
    user = authenticate(request, email=email.strip(), password=password)
    if user is None:
        raise NotAuthenticated("No active account found with the given email and password.")
    return user


def _refresh_claims(raw: str) -> dict:
    try:
        claims = token_backend.decode(raw, verify=True)
    except TokenBackendError as exc:
        raise NotAuthenticated("Token is invalid or expired.") from exc
    if claims.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh" or not claims.get(jwt_settings.JTI_CLAIM):
        raise NotAuthenticated("Token is not a refresh token.")
    return claims


def _revoke(*, claims: dict) -> bool:
    """Blacklist the refresh token; False if it already was. Call inside a transaction."""
    # The row lock makes two concurrent uses of one token queue up: only the first revokes it.
    # (The model orders by user through a nullable join, which FOR UPDATE refuses: clear it.)
    try:
        outstanding = (
            OutstandingToken.objects.select_for_update().order_by().get(jti=claims[jwt_settings.JTI_CLAIM])
        )
    except OutstandingToken.DoesNotExist as exc:  # every refresh token we issue is recorded
        raise NotAuthenticated("Token is invalid or expired.") from exc
    _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    return created


@transaction.atomic
def token_refresh(*, refresh: str) -> dict[str, str]:
    """Trade a refresh token for a new pair. The used token is revoked, exactly once: a second
    use (a replay, or the same request sent twice at once) gets NotAuthenticated."""
    claims = _refresh_claims(refresh)
    if not _revoke(claims=claims):
        raise NotAuthenticated("Token is blacklisted.")
    user = User.objects.filter(pk=claims.get(jwt_settings.USER_ID_CLAIM), is_active=True).first()
    if user is None:
        raise NotAuthenticated("No active account found for the given token.")
    return tokens_for(user=user)


@transaction.atomic
def user_logout(*, user: User, refresh: str) -> None:
    """Revoke the caller's refresh token. Logging out twice with one token is harmless."""
    claims = _refresh_claims(refresh)
    if str(claims.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
        raise Forbidden("This refresh token belongs to another user.")
    _revoke(claims=claims)
