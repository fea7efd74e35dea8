from django.apps import AppConfig
from django.db.backends.signals import connection_created


class VersatoolsConfig(AppConfig):
    """Project-wide pieces: the `migrate` override for DIRECT_URL, SQL helpers, checks, slow-query log."""

    name = "versatools"

    def ready(self) -> None:
        from versatools import checks  # noqa: F401  (registers the RLS system checks)
        from versatools.slow_queries import install

        connection_created.connect(install, dispatch_uid="versatools.slow_queries")
