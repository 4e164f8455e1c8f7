"""Admin forms for the email-based user model."""

from django import forms
from django.contrib.auth import forms as auth_forms

from common.errors import Invalid

from .models import User
from .services import user_ensure_free


class _UniqueCaseInsensitive:
    def _clean_unique(self, field: str, value: str) -> str:
        try:
            user_ensure_free(field=field, value=value, exclude_id=self.instance.pk)
        except Invalid as exc:
            raise forms.ValidationError(exc.message) from exc
        return value

    def clean_email(self):
        # The model field's validator has already refused a domain IDNA can't take.
        return self._clean_unique("email", User.objects.normalize_email(self.cleaned_data["email"]))

    def clean_name(self):
        return self._clean_unique("name", User.objects.normalize_name(self.cleaned_data["name"]))


class UserCreationForm(_UniqueCaseInsensitive, auth_forms.BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")

    def save(self, commit=True):
        # Through the manager, so an admin-created user gets a ledger account and the grant too;
        # that needs the user row, so it is written even when the admin asks for commit=False.
        self.instance = User.objects.create_user(
            email=self.cleaned_data["email"],
            name=self.cleaned_data["name"],
            password=self.cleaned_data["password1"],
        )
        if not commit:
            self.save_m2m = self._save_m2m
        return self.instance


class UserChangeForm(_UniqueCaseInsensitive, auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = ("email", "name", "availability", "is_active", "is_staff", "is_superuser")
