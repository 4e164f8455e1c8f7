import contextlib
import re
import secrets
import unicodedata

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import BlacklistMixin, RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from common.errors import Conflict, Forbidden, Invalid, ServiceError
from common.events import publish, user_group
from learning.services import posts_list_changed
from tutoring.selectors import unfinished_session_ids_of
from tutoring.services import session_end

from . import identity, mail
from .models import TokenFamily, TokenFamilyMember, User

# Deleted accounts are renamed "Deleted user <id>"; nobody else may take such a name, so the
# anonymised name can never collide with a living user's (or block someone's rename later).
_DELETED_NAME = re.compile(r"^\s*deleted\s+user\s+\d", re.IGNORECASE)


def user_ensure_free(*, field: str, value: str, exclude_id: int | None = None) -> None:
    """Invalid if another user already has this email or name in any look-alike spelling
    (accounts.identity decides which spellings are the same)."""
    # Folded first, so fullwidth or other look-alike spellings of the reserved form are caught.
    if field == "name" and _DELETED_NAME.match(unicodedata.normalize("NFKC", value).casefold()):
        raise Invalid("This name is reserved.", field="name")
    if field == "email":
        taken = User.objects.filter(email=User.objects.normalize_email(value))
    else:
        taken = User.objects.filter(name_key=identity.name_key(value))
    if taken.exclude(pk=exclude_id).exists():
        raise Invalid(f"A user with this {field} already exists.", field=field)


def _checked(normalize, value: str, *, field: str) -> str:
    """The canonical spelling of an email or name; Invalid on that field if it can't be one."""
    try:
        if field == "name":
            identity.validate_name(value)
        return normalize(value)
    except identity.InvalidIdentity as exc:
        raise Invalid(str(exc), field=field) from exc


def user_signup(*, email: str, name: str, password: str) -> User:
    """Create a user and their ledger account with the signup grant, all or nothing.

    `create_user` opens the ledger account, so the grant is paid in the same transaction.
    The password is hashed first, outside it: hashing takes tens of milliseconds of CPU, and
    on SQLite a write transaction holds the one database lock that every writer waits for.
    """
    email = _checked(identity.normalize_email, email, field="email")
    name = _checked(identity.normalize_name, name, field="name")
    user_ensure_free(field="email", value=email)
    user_ensure_free(field="name", value=name)
    password_hash = make_password(password)
    try:
        # create_user is the one transaction (user, ledger account, grant).
        user = User.objects.create_user(email=email, name=name, password_hash=password_hash)
    except IntegrityError as exc:
        # Two signups racing past the checks above with the same email or name.
        raise Conflict("A user with this email or name already exists.") from exc
    return user


def user_update(*, user: User, name: str | None = None, availability: str | None = None) -> User:
    """Change the only two fields a user may change about themselves."""
    fields = []
    if name is not None:
        user.name = _checked(identity.normalize_name, name, field="name")
        user_ensure_free(field="name", value=user.name, exclude_id=user.pk)
        fields.append("name")
    if availability is not None:
        user.availability = availability
        fields.append("availability")
    if fields:
        try:
            with transaction.atomic():
                user.save(update_fields=fields)
                if "name" in fields:  # shown with each of the user's posts
                    posts_list_changed()
        except IntegrityError as exc:
            raise Conflict("A user with this name already exists.") from exc
    return user


# --- tokens ---------------------------------------------------------------------------------
#
# Every login starts a token family (RFC 9700 refresh-token rotation with reuse detection). A
# refresh trades the family's newest token for a new pair and marks the old one retired
# (`rotated_at`); parallel refreshes with that retired token within JWT_REFRESH_REUSE_GRACE get the
# family's newest pair again (a page reload refreshing several times at once), later it is a reuse:
# the whole family is blacklisted. A family is dead as soon as any of its tokens is in SimpleJWT's
# blacklist, whoever put it there (logout, reuse detection, or a service that blacklists every
# OutstandingToken of a user): so a token minted by a refresh racing such a revocation is dead too.


class NotAuthenticated(ServiceError):
    """Bad credentials or an unusable token; shown as 401."""

    status_code = 401
    default_message = "Authentication failed."


def _issue(*, user: User, family: TokenFamily) -> dict[str, str]:
    """A new pair in `family`; the refresh token is recorded (OutstandingToken) so it can be revoked."""
    # SimpleJWT's claims for the user (Token.for_user), without RefreshToken.for_user's own
    # OutstandingToken insert: we record it here, as it does, and keep the row, instead of
    # reading it back by jti (one query less per login) and encoding the token twice.
    refresh = super(BlacklistMixin, RefreshToken).for_user(user)
    pair = {"access": str(refresh.access_token), "refresh": str(refresh)}
    outstanding = OutstandingToken.objects.create(
        user=user,
        jti=refresh[jwt_settings.JTI_CLAIM],
        token=pair["refresh"],
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    TokenFamilyMember.objects.create(token=outstanding, family=family, access=pair["access"])
    return pair


def tokens_for(*, user: User) -> dict[str, str]:
    """A new access/refresh pair starting a new login (token family)."""
    with transaction.atomic():
        return _issue(user=user, family=TokenFamily.objects.create(user=user))


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


def _outstanding(claims: dict) -> OutstandingToken:
    token = OutstandingToken.objects.filter(jti=claims[jwt_settings.JTI_CLAIM]).first()
    if token is None or token.user_id is None:  # every refresh token we issue is recorded
        raise NotAuthenticated("Token is invalid or expired.")
    return token


def _user_locked(claims: dict) -> User | None:
    """The token's active user, with their row locked until the transaction ends.

    Taken first, as password changes, resets and account deletions take it before touching any
    token: refreshes of one user queue up behind each other and behind those, so a refresh racing
    "log out everywhere" either finishes before it (its new token is revoked with the others) or
    starts after it and finds its family revoked.
    """
    try:
        return (
            User.objects.select_for_update(no_key=True)
            .filter(pk=claims.get(jwt_settings.USER_ID_CLAIM), is_active=True)
            .first()
        )
    except (ValueError, TypeError):
        return None


def _member_of(outstanding: OutstandingToken, *, user: User) -> TokenFamilyMember:
    """The token's place in its family. Call under the user's row lock (_user_locked).

    A token issued without a family (before families existed, or by code that calls SimpleJWT
    directly) becomes the first member of a family of its own.
    """
    if outstanding.user_id != user.pk:
        raise NotAuthenticated("Token is invalid or expired.")
    member = TokenFamilyMember.objects.select_related("family").filter(token=outstanding).first()
    if member is None:
        family = TokenFamily.objects.create(user=user)
        member = TokenFamilyMember.objects.create(token=outstanding, family=family)
    return member


def _family_revoked(family: TokenFamily) -> bool:
    return BlacklistedToken.objects.filter(token__family_member__family=family).exists()


def _family_revoke(family: TokenFamily) -> None:
    """Blacklist every token of the family (one statement; tokens already blacklisted stay so)."""
    tokens = OutstandingToken.objects.filter(family_member__family=family).order_by("pk")
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=t) for t in tokens], ignore_conflicts=True)


def token_refresh(*, refresh: str, now=None) -> dict[str, str]:
    """Trade a refresh token for a new pair (token families: see the comment above).

    With JWT_ROTATE_REFRESH_TOKENS=False the answer carries the same refresh token back, with a
    new access token. Refused (NotAuthenticated): a bad, expired or revoked token, a deactivated
    user, and a reuse after the grace period, which revokes the whole family first.
    """
    claims = _refresh_claims(refresh)
    now = now or timezone.now()
    with transaction.atomic():
        user = _user_locked(claims)
        if user is None:
            raise NotAuthenticated("No active account found for the given token.")
        member = _member_of(_outstanding(claims), user=user)
        family = member.family
        if _family_revoked(family):
            raise NotAuthenticated("Token is blacklisted.")
        if member.rotated_at is None:
            if not settings.SIMPLE_JWT.get("ROTATE_REFRESH_TOKENS", True):
                return {"access": str(RefreshToken(refresh).access_token), "refresh": refresh}
            member.rotated_at = now
            member.save(update_fields=["rotated_at"])
            return _issue(user=user, family=family)
        if now - member.rotated_at <= settings.JWT_REFRESH_REUSE_GRACE:
            newest = family.members.select_related("token").filter(rotated_at__isnull=True).first()
            if newest is not None:
                return {"access": newest.access, "refresh": newest.token.token}
        # A retired token presented after the grace: it may have been stolen, so nobody holding
        # a token of this login may go on. Committed before the refusal is raised.
        _family_revoke(family)
    raise NotAuthenticated("Token was already used; every token of this login is revoked.")


def user_logout(*, user: User, refresh: str) -> None:
    """Revoke the caller's refresh token, and with it its login (every token of its family).
    Logging out twice with one token is harmless."""
    claims = _refresh_claims(refresh)
    if str(claims.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
        raise Forbidden("This refresh token belongs to another user.")
    BlacklistedToken.objects.get_or_create(token=_outstanding(claims))


def tokens_revoke_all(*, user) -> int:
    """Blacklist every refresh token ever issued to `user`; returns how many were still live.

    The one way to log a user out everywhere (password change and reset, account deletion).
    Access tokens are stateless and die with their expiry (at most JWT_ACCESS_MINUTES).
    """
    live = OutstandingToken.objects.filter(user_id=user.pk, blacklistedtoken__isnull=True)
    revoked = [BlacklistedToken(token_id=pk) for pk in live.values_list("pk", flat=True)]
    # ignore_conflicts: a token revoked by a concurrent refresh or logout meanwhile is fine.
    BlacklistedToken.objects.bulk_create(revoked, ignore_conflicts=True)
    return len(revoked)


# --- passwords ------------------------------------------------------------------------------


def user_password_check(*, user: User, password: str, field: str) -> None:
    """Invalid on `field` unless `password` is the user's current password."""
    # check_password hashes: callers run it outside any transaction, so no write lock waits on it.
    if not password or not user.check_password(password):
        raise Invalid("The password is not correct.", field=field)


def _password_set(*, user: User, encoded: str, expected: str, new_tokens: bool) -> dict[str, str] | None:
    """Store an already hashed password and log out every device; returns a fresh token pair
    when `new_tokens`, else {}. None (and nothing stored) when the password is no longer
    `expected`, the hash the caller's check was made against: a concurrent change or reset won.
    """
    with transaction.atomic():
        locked = User.objects.select_for_update(no_key=True).filter(pk=user.pk, is_active=True).first()
        if locked is None or locked.password != expected:
            return None
        locked.password = encoded
        locked.save(update_fields=["password"])
        tokens_revoke_all(user=locked)
        # Issued after the revocation, in the same transaction: the new pair is the only one.
        return tokens_for(user=locked) if new_tokens else {}


def password_change(*, user: User, old_password: str, new_password: str) -> dict[str, str]:
    """Replace the password after checking the current one; every refresh token issued before,
    the caller's own included, is revoked. Returns the new token pair.

    `new_password` has passed Django's validators (the serializer's job, as at signup).
    """
    user_password_check(user=user, password=old_password, field="old_password")
    encoded = make_password(new_password)  # the slow hash, outside the transaction
    tokens = _password_set(user=user, encoded=encoded, expected=user.password, new_tokens=True)
    if tokens is None:
        raise Invalid("The password was changed meanwhile; sign in again.", field="old_password")
    return tokens


def password_reset_request(*, email: str) -> None:
    """Mail a reset token to the active account with this email, if there is one.

    Known and unknown addresses cost the same here (one query); the mail is rendered and sent
    in the background (accounts.mail), so neither the answer nor its timing tells them apart.
    """
    user = User.objects.filter(email=User.objects.normalize_email(email), is_active=True).first()
    if user is None:
        return
    mail.send_password_reset(
        user=user, uid=password_reset_uid(user), token=default_token_generator.make_token(user)
    )


def password_reset_uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


_BAD_RESET_LINK = "This password reset link is invalid or has expired."


def password_reset_user(*, uid: str, token: str) -> User:
    """The user a (uid, token) pair was made for, or Invalid on `token`.

    Django's token generator binds the token to the password hash and the last login, so it
    stops working once the password changed (single use) and after PASSWORD_RESET_TIMEOUT.
    """
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        user_id = None
    in_range = user_id is not None and 0 < user_id < 2**63  # else PostgreSQL refuses the query
    user = User.objects.filter(pk=user_id, is_active=True).first() if in_range else None
    if user is None or not default_token_generator.check_token(user, token):
        raise Invalid(_BAD_RESET_LINK, field="token")
    return user


def password_reset_confirm(*, user: User, token: str, new_password: str) -> None:
    """Set the new password of the user password_reset_user found; every refresh token is
    revoked. Under the row lock the password must still be the one the token was made for: two
    confirmations with one token at the same instant set the password once, the other gets
    Invalid."""
    encoded = make_password(new_password)  # the slow hash, outside the transaction
    if not default_token_generator.check_token(user, token) or (
        _password_set(user=user, encoded=encoded, expected=user.password, new_tokens=False) is None
    ):
        raise Invalid(_BAD_RESET_LINK, field="token")


# --- deleting an account --------------------------------------------------------------------


def _deleted_name(user_id: int) -> str:
    name = f"Deleted user {user_id}"
    # Such names are reserved (user_ensure_free), but a user may have taken one before that.
    if User.objects.filter(name_key=identity.name_key(name)).exclude(pk=user_id).exists():
        name = f"{name} {secrets.token_hex(4)}"
    return name


def account_delete(*, user, now=None) -> bool:
    """Delete an account as SPEC section 2 says; False when it already was deleted.

    One transaction, holding the user's row lock throughout, so a second deletion (a double
    click, the admin at the same time) waits and then does nothing:
    1. every unfinished session is ended through tutoring's session_end, exactly as `end/`
       (pending ones called off, active ones settled once, their running timer stopped). A
       session the other participant ends at the same instant is settled by whichever comes
       first; the other gets the Conflict we skip here.
    2. every refresh token is revoked (before the row is rewritten: see docs/accounts.md);
    3. the row is kept (the ledger and reviews refer to it) but anonymised: email and name are
       freed, availability cleared, the password unusable, the account inactive. Inactive users
       leave profiles, search, presence and every post list; their access tokens stop working.
    4. after commit, every socket of the user, on every server process, is closed (4001).
    The ledger is not touched: the balance stays where it is, in the totals.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # NO KEY UPDATE: rows referring to the user (a chat message, attendance) can still be
        # written meanwhile, so a participant's request holding a session lock never waits here.
        locked = User.objects.select_for_update(no_key=True).filter(pk=user.pk).first()
        if locked is None or locked.deleted_at is not None:
            return False
        for session_id in unfinished_session_ids_of(locked):
            # Conflict: the other participant ended it since we listed it.
            with contextlib.suppress(Conflict):
                session_end(session_id=session_id, user=locked, now=now)
        tokens_revoke_all(user=locked)
        locked.email = f"deleted-{locked.pk}@invalid"  # no signup can use it: it has no dot
        locked.name = _deleted_name(locked.pk)
        locked.availability = ""
        locked.is_active = False
        locked.deleted_at = now
        locked.set_unusable_password()
        locked.save(update_fields=["email", "name", "availability", "is_active", "deleted_at", "password"])
        posts_list_changed()  # the user's posts leave the lists
        publish(user_group(locked.pk), "account_closed", {})
    return True
