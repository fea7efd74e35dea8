from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        post_migrate.connect(_sync_operator_group, dispatch_uid="accounts.operator_group_sync")
        post_migrate.connect(_link_supabase_auth, dispatch_uid="accounts.supabase_auth_link")
        from allauth.socialaccount.signals import social_account_added

        from accounts.signals import verify_address_the_provider_vouched_for

        social_account_added.connect(verify_address_the_provider_vouched_for, dispatch_uid="accounts.verify_vouched")


def _link_supabase_auth(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # Once per migrate (the signal is sent per app): Supabase's auth server may
    # have created auth.users since this project's own migration ran.
    if sender.label != "accounts":
        return
    from accounts.services import supabase_auth_link

    supabase_auth_link(using=using)


def _sync_operator_group(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # Permissions are created per app in this same signal, apps in INSTALLED_APPS
    # order (only apps with models); syncing after the last one sees them all
    # (and runs after a test flush too).
    from django.apps import apps

    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if not with_models or sender is not with_models[-1]:
        return
    try:  # migrated back to zero (or before auth): no tables to sync, as create_permissions does
        state = kwargs.get("apps")
        if state is not None:
            state.get_model("auth", "Group")
            state.get_model("auth", "Permission")
    except LookupError:
        return
    from accounts.services import operator_group_sync

    operator_group_sync(using=using)
