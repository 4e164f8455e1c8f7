"""Shapes of the accounts API. Input serializers check shape (lengths, required fields, passwords);
whether an email or name is free is the services' rule. Output serializers only render."""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from common.fields import StrictCharField

from . import identity
from .models import User

NAME_MAX = 150
AVAILABILITY_MAX = 255


# --- output ---------------------------------------------------------------------------------


class PublicUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    is_online = serializers.BooleanField(read_only=True)
    availability = serializers.CharField(read_only=True)
    # A JSON number rounded to two places (4.67), or null before the first review.
    average_rating = serializers.DecimalField(
        max_digits=3, decimal_places=2, coerce_to_string=False, read_only=True, allow_null=True
    )
    total_reviews = serializers.IntegerField(read_only=True)


class MeSerializer(PublicUserSerializer):
    email = serializers.EmailField(read_only=True)
    credits = serializers.DecimalField(
        source="ledger_account.balance",
        max_digits=14,
        decimal_places=2,
        coerce_to_string=True,
        read_only=True,
    )
    date_joined = serializers.DateTimeField(read_only=True)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)


class AuthResultSerializer(serializers.Serializer):
    user = MeSerializer(read_only=True)
    tokens = TokenPairSerializer(read_only=True)


class TokensResultSerializer(serializers.Serializer):
    tokens = TokenPairSerializer(read_only=True)


# --- input ----------------------------------------------------------------------------------


class IdentityEmailField(serializers.EmailField):
    """An email in its canonical spelling (accounts.identity); length and format are checked on
    that spelling, which is the one stored."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return identity.normalize_email(super().to_internal_value(data))
        except identity.InvalidIdentity:
            self.fail("invalid")


class NameField(StrictCharField):
    """A name in its stored spelling; invisible and direction-control characters are refused."""

    def __init__(self, **kwargs):
        super().__init__(max_length=NAME_MAX, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            identity.validate_name(value)
        except identity.InvalidIdentity as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from exc
        return identity.normalize_name(value)


class SignupSerializer(serializers.Serializer):
    email = IdentityEmailField(max_length=254)
    name = NameField()
    password = StrictCharField(write_only=True, trim_whitespace=False, max_length=4096)
    password_confirm = StrictCharField(write_only=True, trim_whitespace=False, max_length=4096)

    def validate(self, attrs):
        if attrs["password"] != attrs["password_confirm"]:
            raise serializers.ValidationError({"password_confirm": ["Passwords do not match."]})
        # The would-be user lets the similarity validator reject passwords like the email.
        validate_new_password(attrs["password"], user=User(email=attrs["email"], name=attrs["name"]))
        return attrs


def validate_new_password(password: str, *, user, field: str = "password") -> None:
    """Django's password validators, their messages shown on `field`."""
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({field: list(exc.messages)}) from exc


def _password_field():
    return serializers.CharField(write_only=True, trim_whitespace=False, max_length=4096)


class NewPasswordSerializer(serializers.Serializer):
    new_password = _password_field()
    new_password_confirm = _password_field()

    def validate(self, attrs):
        if attrs["new_password"] != attrs["new_password_confirm"]:
            raise serializers.ValidationError({"new_password_confirm": ["Passwords do not match."]})
        return attrs


class PasswordChangeSerializer(NewPasswordSerializer):
    """Needs `context={"user": ...}`: the similarity validator compares with their email/name."""

    old_password = _password_field()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        validate_new_password(attrs["new_password"], user=self.context["user"], field="new_password")
        return attrs


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(NewPasswordSerializer):
    """Shape only: the new password is validated once the token says whose it is."""

    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)


class PasswordSerializer(serializers.Serializer):
    password = _password_field()


class LoginSerializer(serializers.Serializer):
    # Any spelling: the lookup folds it (User.objects.get_by_natural_key).
    email = StrictCharField(max_length=254)
    password = StrictCharField(write_only=True, trim_whitespace=False, max_length=4096)


class RefreshSerializer(serializers.Serializer):
    refresh = StrictCharField(max_length=4096)


class MeUpdateSerializer(serializers.Serializer):
    """Only these two fields exist here, so any other key in the body is dropped unread."""

    name = NameField(required=False)
    availability = StrictCharField(max_length=AVAILABILITY_MAX, required=False, allow_blank=True)


class UserSearchQuerySerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=150,
        help_text="Part of a name, any case; blank or missing finds nobody.",
    )


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)
