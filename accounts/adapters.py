"""allauth hooks: the parts of its flows that know our user model and our settings."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.http import Http404, HttpRequest

from accounts.models import User


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_app(self, request: HttpRequest, provider: str, client_id: str | None = None) -> Any:
        # Every provider app is installed, but only those with credentials in
        # the environment have a client (settings.SOCIALACCOUNT_PROVIDERS
        # "APPS"); the others' login URLs are not found, rather than a 500.
        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            raise Http404(f"Sign-in with {provider} is not configured.") from None

    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict[str, Any]) -> User:
        # allauth fills first_name/last_name, which our users do not have; one `name` instead.
        user: User = super().populate_user(request, sociallogin, data)
        if not user.name:
            user.name = (data.get("name") or "").strip()[: User._meta.get_field("name").max_length]
        return user
