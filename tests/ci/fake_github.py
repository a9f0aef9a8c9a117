"""A small fake GitHub REST API on 127.0.0.1 (http.server in a thread): issues, comments, paging."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_faketoken0123456789ABCDEFabcdef"


@dataclass
class State:
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # issue number -> comments
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000
    base: str = ""

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def add_comment(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        c = {"id": self.new_id(), "body": body, "user": {"login": user}}
        self.comments.setdefault(number, []).append(c)
        return c

    def add_issue(self, title: str, body: str, labels: list[str], state: str = "open") -> dict[str, Any]:
        number = len(self.issues) + 1
        issue = {
            "number": number,
            "title": title,
            "body": body,
            "state": state,
            "labels": [{"name": n} for n in labels],
        }
        self.issues[number] = issue
        return issue


def _page(handler: BaseHTTPRequestHandler, state: State, items: list[dict[str, Any]]) -> None:
    url = urlsplit(handler.path)
    q = parse_qs(url.query)
    per = int(q.get("per_page", ["30"])[0])
    per = min(per, 2)  # force paging even for small lists
    page = int(q.get("page", ["1"])[0])
    chunk = items[(page - 1) * per : page * per]
    headers = {}
    if page * per < len(items):
        q2 = {k: v[0] for k, v in q.items()} | {"page": str(page + 1)}
        query = "&".join(f"{k}={v}" for k, v in q2.items())
        headers["Link"] = f'<{state.base}{url.path}?{query}>; rel="next"'
    _send(handler, 200, chunk, headers)


def _send(
    handler: BaseHTTPRequestHandler, code: int, doc: object, headers: dict[str, str] | None = None
) -> None:
    raw = json.dumps(doc).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(raw)


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> dict[str, Any]:
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n)) if n else {}

        def _handle(self, method: str) -> None:
            path = urlsplit(self.path).path
            state.calls.append((method, self.path))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                _send(self, 401, {"message": "Bad credentials"})
                return
            m = re.fullmatch(r"/repos/o/r/issues/(\d+)/comments", path)
            if m and method == "GET":
                _page(self, state, state.comments.get(int(m.group(1)), []))
                return
            if m and method == "POST":
                _send(
                    self, 201, state.add_comment(int(m.group(1)), self._body()["body"], "github-actions[bot]")
                )
                return
            m = re.fullmatch(r"/repos/o/r/issues/comments/(\d+)", path)
            if m and method == "PATCH":
                for comments in state.comments.values():
                    for c in comments:
                        if c["id"] == int(m.group(1)):
                            c["body"] = self._body()["body"]
                            _send(self, 200, c)
                            return
                _send(self, 404, {"message": "Not Found"})
                return
            if path == "/repos/o/r/issues" and method == "GET":
                q = parse_qs(urlsplit(self.path).query)
                label = q.get("labels", [""])[0]
                items = [
                    i
                    for i in state.issues.values()
                    if i["state"] == q.get("state", ["open"])[0]
                    and (not label or label in [x["name"] for x in i["labels"]])
                ]
                _page(self, state, items)
                return
            if path == "/repos/o/r/issues" and method == "POST":
                body = self._body()
                _send(self, 201, state.add_issue(body["title"], body["body"], body.get("labels", [])))
                return
            m = re.fullmatch(r"/repos/o/r/issues/(\d+)", path)
            if m and method == "PATCH":
                issue = state.issues[int(m.group(1))]
                issue.update(self._body())
                _send(self, 200, issue)
                return
            _send(self, 404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@contextmanager
def fake_github() -> Iterator[State]:
    state = State()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
