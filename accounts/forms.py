"""Admin forms for the email-based user model."""

from django import forms
from django.contrib.auth import forms as auth_forms

from .models import User


class _UniqueCaseInsensitive:
    def _clean_unique(self, field: str) -> str:
        value = self.cleaned_data[field].strip()
        if field == "email":
            value = value.lower()
        taken = User.objects.filter(**{f"{field}__iexact": value})
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"A user with this {field} already exists.")
        return value

    def clean_email(self):
        return self._clean_unique("email")

    def clean_name(self):
        return self._clean_unique("name")


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
