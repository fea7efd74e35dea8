from django.apps import AppConfig


class VersatoolsConfig(AppConfig):
    """Project-wide pieces: the `migrate` override for DIRECT_URL, shared migration helpers."""

    name = "versatools"
