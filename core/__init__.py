"""Shared code every app may import: errors, retries, SQL files, migration operations, admin and API helpers.

It imports no app and no project wiring (``versatools`` holds settings,
URLs, the API's assembly and the Celery app), so the layers stay one-way:
core <- accounts <- billing <- files <- history <- stats' read side <- demo.
"""
