from django.apps import AppConfig


class VersatoolsConfig(AppConfig):
    """Project-wide pieces: the `migrate` override for DIRECT_URL, shared migration helpers, RLS checks."""

    name = "versatools"

    def ready(self) -> None:
        from versatools import checks  # noqa: F401  (registers the row level security check)
