"""The app, plus the reference of bench/bench_http.py: a bare view at /bench/bare-upload (benchmarks only).

The bare view parses the multipart body with Django's own parser (the same
request object and upload handlers as the app) and answers 201: the floor of
what an upload request costs in this stack. It skips everything the app adds
on top: middleware, authentication, the plan lookup, the file's type sniff
and hash, storage, the start transaction and the queue. Never mounted by
versatools.urls; gunicorn loads this module only when the benchmark asks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.wsgi import WSGIRequest

from versatools.wsgi import application as app

BARE_PATH = "/bench/bare-upload"


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != BARE_PATH:
        return app(environ, start_response)
    request = WSGIRequest(environ)
    received = sum(upload.size for upload in request.FILES.getlist("file"))
    body = json.dumps({"received": received, "files": len(request.FILES.getlist("file"))}).encode()
    start_response("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
