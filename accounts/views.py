"""The account page: plan and subscription, password, sign out, data export and account deletion.

Password change, addresses and sign-out are django-allauth's own views
(linked from here); export and delete are these, each a thin edge over
each app's export selector and ``accounts.services.account_delete``.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.auth import SignedInRequest
from accounts.selectors import account_profile_export
from accounts.services import account_delete
from billing.models import Subscription
from billing.selectors import billing_export, subscription_charged_by_provider
from core.errors import ServiceError
from files.selectors import files_export
from history.catalog import caller_limits
from history.selectors import runs_export
from stats.selectors import usage_export


class AccountDeleteForm(forms.Form):
    """Deleting is for good: the person confirms with their password, or their address if they have none."""

    confirmation = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if user.has_usable_password():
            self.fields["confirmation"].label = "Your password"
        else:
            self.fields["confirmation"].label = "Your email address"
            self.fields["confirmation"].widget = forms.EmailInput(attrs={"autocomplete": "email"})

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and "confirmation" in self.errors:
            # The error is read with the field, not only seen beside it.
            self.fields["confirmation"].widget.attrs.update(
                {"aria-invalid": "true", "aria-describedby": "delete-error"}
            )

    def clean_confirmation(self) -> str:
        value: str = self.cleaned_data["confirmation"]
        if self.user.has_usable_password():
            if not self.user.check_password(value):
                raise forms.ValidationError("That is not your password; nothing was deleted.")
        elif value.strip().lower() != self.user.email.lower():
            raise forms.ValidationError("That is not your address; nothing was deleted.")
        return value


# Wrong passwords allowed per person per 15 minutes: the confirmation must not be a password oracle
# for someone holding a stolen session.
DELETE_CONFIRMATION_ATTEMPTS = 5
DELETE_CONFIRMATION_WINDOW = 15 * 60


def _confirmation_attempts(user_id: Any) -> int:
    return int(cache.get(f"account-delete-attempts:{user_id}", 0))


def _confirmation_failed(user_id: Any) -> None:
    key = f"account-delete-attempts:{user_id}"
    if not cache.add(key, 1, DELETE_CONFIRMATION_WINDOW):
        cache.incr(key)


def _account_context(request: SignedInRequest, form: AccountDeleteForm) -> dict[str, Any]:
    limits = caller_limits(user_id=request.user.pk)
    subscription = Subscription.objects.select_related("plan", "scheduled_plan").filter(user_id=request.user.pk).first()
    return {"limits": limits, "subscription": subscription, "delete_form": form}


@require_GET
@login_required
def account_page(request: SignedInRequest) -> HttpResponse:
    return render(request, "hub/account.html", _account_context(request, AccountDeleteForm(user=request.user)))


@require_GET
@login_required
def account_export_download(request: SignedInRequest) -> HttpResponse:
    """The person's data as one JSON file (runs, files, ledger, subscription), read as them under RLS."""
    user_id = request.user.pk
    data = {
        "exported_at": timezone.now(),
        **account_profile_export(user_id=user_id),
        **billing_export(user_id=user_id),
        "runs": runs_export(user_id=user_id),
        "files": files_export(user_id=user_id),
        **usage_export(user_id=user_id),
    }
    body = json.dumps(data, cls=DjangoJSONEncoder, indent=2)
    response = HttpResponse(body, content_type="application/json")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="versatools-export-{stamp}.json"'
    return response


@require_http_methods(["POST"])
@login_required
def account_delete_confirm(request: SignedInRequest) -> HttpResponse:
    if _confirmation_attempts(request.user.pk) >= DELETE_CONFIRMATION_ATTEMPTS:
        context = _account_context(request, AccountDeleteForm(user=request.user))
        context["delete_refused"] = "Too many wrong confirmations; nothing was deleted. Try again in 15 minutes."
        return render(request, "hub/account.html", context, status=429)
    form = AccountDeleteForm(request.POST, user=request.user)
    if not form.is_valid():
        _confirmation_failed(request.user.pk)
        return render(request, "hub/account.html", _account_context(request, form), status=400)
    if subscription_charged_by_provider(user_id=request.user.pk):
        form.add_error(None, "Cancel your paid subscription first; then the account can be deleted.")
        return render(request, "hub/account.html", _account_context(request, form), status=409)
    try:
        account_delete(user_id=request.user.pk)
    except ServiceError as error:
        form.add_error(None, error.message)
        return render(request, "hub/account.html", _account_context(request, form), status=error.http_status)
    logout(request)
    messages.success(request, "Your account and all its files are deleted.")
    return redirect("home")
