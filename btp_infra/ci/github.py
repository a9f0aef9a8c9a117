"""A minimal GitHub REST client (stdlib only): token from ``GITHUB_TOKEN``, API from ``GITHUB_API_URL``."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any, Final, cast

__all__ = ["DEFAULT_API_URL", "GitHub", "GitHubError"]

DEFAULT_API_URL: Final = "https://api.github.com"
_NEXT: Final = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GitHubError(RuntimeError):
    """A GitHub API call failed (no token, HTTP error, unreachable)."""


class GitHub:
    """Calls the REST API of one repository (``owner/name``)."""

    def __init__(self, repo: str, *, token: str | None = None, api_url: str | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
            raise GitHubError(f"--repo must be OWNER/NAME, not {repo!r}")
        token = token if token is not None else os.environ.get("GITHUB_TOKEN")
        if not token:
            raise GitHubError("GITHUB_TOKEN is not set (the token is read from the environment only)")
        self.repo = repo
        self._token = token
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")

    def request(self, method: str, path: str, body: Mapping[str, object] | None = None) -> tuple[Any, str]:
        """``(decoded JSON, Link header)``; ``path`` is relative to the API URL or absolute."""
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http(s) only)
        req.add_header("Authorization", f"Bearer {self._token}")
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", "2022-11-28")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
                raw = resp.read()
                link = resp.headers.get("Link", "") or ""
        except urllib.error.HTTPError as err:
            detail = err.read()[:300].decode("utf-8", "replace").replace(self._token, "[secret]")
            raise GitHubError(f"{method} {path}: HTTP {err.code} {detail}") from None
        except (urllib.error.URLError, OSError) as err:
            raise GitHubError(f"{method} {path}: {err}") from None
        return (json.loads(raw) if raw.strip() else None), link

    def paged(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following ``Link: rel="next"``."""
        sep = "&" if "?" in path else "?"
        url: str | None = f"{path}{sep}per_page=100"
        while url:
            items, link = self.request("GET", url)
            yield from cast(list[dict[str, Any]], items or [])
            found = _NEXT.search(link)
            url = found.group(1) if found else None

    # Issues and their comments (a PR is an issue for comments).
    def issue_comments(self, number: int) -> Iterator[dict[str, Any]]:
        return self.paged(f"/repos/{self.repo}/issues/{number}/comments")

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        return cast(
            dict[str, Any],
            self.request("POST", f"/repos/{self.repo}/issues/{number}/comments", {"body": body})[0],
        )

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return cast(
            dict[str, Any],
            self.request("PATCH", f"/repos/{self.repo}/issues/comments/{comment_id}", {"body": body})[0],
        )

    def open_issues(self, label: str) -> Iterator[dict[str, Any]]:
        for item in self.paged(f"/repos/{self.repo}/issues?state=open&labels={label}"):
            if "pull_request" not in item:
                yield item

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        payload = {"title": title, "body": body, "labels": labels}
        return cast(dict[str, Any], self.request("POST", f"/repos/{self.repo}/issues", payload)[0])

    def update_issue(self, number: int, **fields: object) -> dict[str, Any]:
        return cast(dict[str, Any], self.request("PATCH", f"/repos/{self.repo}/issues/{number}", fields)[0])
