from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "files"
    verbose_name = "Stored files"

    def ready(self) -> None:
        from files import signals  # noqa: F401  (connects the post_delete receiver)
