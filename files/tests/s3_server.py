"""A real S3-compatible HTTP server on loopback for tests and benchmarks.

moto's S3 in server mode (what ``moto_server`` runs), served by werkzeug on
127.0.0.1, with a request log in front: every request is counted, and for
each DeleteObjects request the keys asked for and which of them still existed
(so a test can tell "deleted" from "asked to delete what was already gone").
The server can be stopped abruptly (listening socket and open connections
closed, as a crashed server would) and started again on the same port with
its objects intact, because moto keeps them in this process.

Run as a script it serves on a port and answers ``GET /_log`` (the counts) and
``POST /_seed`` (objects put straight into the bucket, for big benchmarks):

    python -m files.tests.s3_server --port 9000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.s3.models import s3_backends
from werkzeug.serving import BaseWSGIServer, make_server

# One line per request from werkzeug would drown test output.
logging.getLogger("werkzeug").setLevel(logging.WARNING)
_KEY = re.compile(rb"<Key>(.*?)</Key>", re.S)


def _unescape(raw: bytes) -> str:
    text = raw.decode("utf-8")
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&")):
        text = text.replace(entity, char)
    return text


def moto_bucket(name: str) -> Any:
    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(name)


def bucket_keys(name: str) -> set[str]:
    return set(moto_bucket(name).keys.keys())


@dataclass
class RequestLog:
    requests: Counter[str] = field(default_factory=Counter)
    # key -> number of DeleteObjects requests that found it present (should end at 1).
    deleted: Counter[str] = field(default_factory=Counter)
    # key -> number of times it was asked for while already absent.
    absent: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "total": self.total,
                "deleted_keys": len(self.deleted),
                "deleted_twice": sum(1 for n in self.deleted.values() if n > 1),
                "absent_asks": sum(self.absent.values()),
            }

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.deleted.clear()
            self.absent.clear()


class RecordingApp:
    """WSGI middleware: log, optionally call hooks around DeleteObjects, then hand to moto."""

    def __init__(self, server: S3Server) -> None:
        self.server = server
        self.moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        if path == "/_log":
            return self._json(start_response, self.server.log.as_dict())
        if path == "/_seed" and method == "POST":
            return self._seed(environ, start_response)
        query = environ.get("QUERY_STRING", "")
        fault = self.server.hooks.fault
        if fault is not None and fault(method, path):
            return self._unavailable(start_response)
        if method == "POST" and re.search(r"(^|&)delete(=|&|$)", query):
            return self._delete_objects(environ, start_response, path)
        kind = {"GET": "list" if "list-type" in query else "get"}.get(method, method.lower())
        with self.server.log.lock:
            self.server.log.requests[kind] += 1
        return self.moto(environ, start_response)

    def _delete_objects(self, environ: dict[str, Any], start_response: Callable[..., Any], path: str) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        keys = [_unescape(raw) for raw in _KEY.findall(body)]
        bucket_name = path.strip("/").split("/")[0]
        hooks = self.server.hooks
        if hooks.before_delete is not None and hooks.before_delete(keys):
            raise ConnectionAbortedError("dropped before processing")
        with self.server.log.lock:
            present = bucket_keys(bucket_name)
            self.server.log.requests["delete_objects"] += 1
            for key in keys:
                if key in present:
                    self.server.log.deleted[key] += 1
                else:
                    self.server.log.absent[key] += 1
            # Under the lock, so that the log and the bucket move together.
            response = list(self.moto(environ, start_response))
        if hooks.after_delete is not None and hooks.after_delete(keys):
            raise ConnectionAbortedError("dropped after processing, before answering")
        return response

    def _seed(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        payload = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        body = payload.get("body", "x").encode()
        for key in payload["keys"]:
            backend.put_object(payload["bucket"], key, body)
        return self._json(start_response, {"seeded": len(payload["keys"])})

    @staticmethod
    def _unavailable(start_response: Callable[..., Any]) -> list[bytes]:
        # What S3 answers when it sheds load; botocore sees a retryable server error.
        body = b"<Error><Code>ServiceUnavailable</Code><Message>injected fault</Message></Error>"
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        start_response("503 Service Unavailable", headers)
        return [body]

    @staticmethod
    def _json(start_response: Callable[..., Any], data: Any) -> list[bytes]:
        body = json.dumps(data).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


@dataclass
class Hooks:
    """Called with the keys of each DeleteObjects request; returning True drops the connection.

    ``fault`` is called with the method and path of every request; returning
    True answers it 503 without touching the bucket (an injected outage of one request).
    """

    before_delete: Callable[[list[str]], bool] | None = None
    after_delete: Callable[[list[str]], bool] | None = None
    fault: Callable[[str, str], bool] | None = None


class _TrackingHandler(MotoRequestHandler):
    """Remembers its connection so that stop() can cut it, as a dying server would."""

    def setup(self) -> None:
        super().setup()
        owner: S3Server = self.server.owner  # type: ignore[attr-defined]
        with owner.connections_lock:
            owner.connections.add(self.connection)

    def finish(self) -> None:
        owner: S3Server = self.server.owner  # type: ignore[attr-defined]
        with owner.connections_lock:
            owner.connections.discard(self.connection)
        with contextlib.suppress(OSError):  # the connection was cut by stop()
            super().finish()


class S3Server:
    def __init__(self, port: int = 0) -> None:
        self.port = port or _free_port()
        self.log = RequestLog()
        self.hooks = Hooks()
        self.app = RecordingApp(self)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        server = make_server("127.0.0.1", self.port, self.app, threaded=True, request_handler=_TrackingHandler)
        server.owner = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop abruptly: no new connections, open ones cut mid-request."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()

    def stop_soon(self) -> None:
        """Stop from inside a request handler (hooks): in another thread, now."""
        threading.Thread(target=self.stop, daemon=True).start()

    def create_bucket(self, name: str) -> None:
        s3_backends[DEFAULT_ACCOUNT_ID]["aws"].create_bucket(name, "us-east-1")

    def put(self, bucket: str, key: str, body: bytes) -> None:
        s3_backends[DEFAULT_ACCOUNT_ID]["aws"].put_object(bucket, key, body)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bucket", action="append", default=[])
    args = parser.parse_args()
    server = S3Server(args.port)
    for bucket in args.bucket:
        server.create_bucket(bucket)
    server.start()
    print(f"ready {server.endpoint}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
