from django.apps import AppConfig
from django.db.models.signals import post_save


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing: credits, plans and quotas"

    def ready(self) -> None:
        from accounts.models import User
        from billing.signals import open_account_of_new_user

        # One rule for every new user: the default plan and its credits (billing.services.account_open).
        post_save.connect(open_account_of_new_user, sender=User, dispatch_uid="billing.open_account_of_new_user")
