"""From a GitHub blob URL of a `myst.yml` to the archives that may hold it.

`https://github.com/{owner}/{repo}/blob/{ref}/{path}/myst.yml`: owner and repository names may hold dots and
dashes, and a branch may hold slashes, so `blob/feature/x/docs/myst.yml` is either branch `feature` with
`x/docs/myst.yml` or branch `feature/x` with `docs/myst.yml`. Git cannot have both (a ref cannot be a file
and a folder at once), so each reading is a candidate, tried shortest branch first, and the first archive
that exists is the one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


class BadSourceUrl(ValueError):
    """The URL is not a GitHub blob URL of a myst.yml."""


@dataclass(frozen=True)
class RepoRef:
    owner: str
    repo: str
    ref: str  # branch, tag or commit
    path: str  # of myst.yml inside the repository, e.g. "myst.yml" or "papers/one/myst.yml"

    @property
    def folder(self) -> str:
        """The folder that holds myst.yml, relative to the repository root ("" for the root)."""
        return self.path.rpartition("/")[0]

    def archive_urls(self, github_base: str) -> list[str]:
        """The archive of the ref as a branch, then as a tag (a commit id: the commit's archive)."""
        base = f"{github_base.rstrip('/')}/{quote(self.owner)}/{quote(self.repo)}/archive"
        ref = quote(self.ref, safe="/")
        if _SHA.match(self.ref):
            return [f"{base}/{ref}.zip"]
        return [f"{base}/refs/heads/{ref}.zip", f"{base}/refs/tags/{ref}.zip"]

    def __str__(self) -> str:
        return f"{self.owner}/{self.repo}@{self.ref}:{self.path}"


def parse_blob_url(url: str, github_base: str = "https://github.com") -> list[RepoRef]:
    """Every reading of the URL, shortest branch first. Raises BadSourceUrl naming what is wrong."""
    base = urlsplit(github_base.rstrip("/"))
    u = urlsplit(url.strip())
    if u.scheme not in ("http", "https") or not u.netloc:
        raise BadSourceUrl(f"must be an http(s) URL, got {url[:200]!r}")
    if (u.scheme, u.netloc.lower()) != (base.scheme, base.netloc.lower()):
        raise BadSourceUrl(f"must be on {github_base} (a GitHub blob URL), got host {u.netloc!r}")
    if u.query or u.fragment:
        raise BadSourceUrl("must not have a query or a fragment")
    path = u.path
    if base.path and base.path != "/":
        if not path.startswith(base.path + "/"):
            raise BadSourceUrl(f"must start with {github_base}")
        path = path[len(base.path):]
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if len(parts) < 5 or parts[2] != "blob":
        raise BadSourceUrl("must look like https://github.com/OWNER/REPO/blob/BRANCH/.../myst.yml")
    for i, part in enumerate(parts):
        # Split first, decoded after: a '%2F' must not add a level, nor bring a '..' with it ("a%2F..%2F..").
        if any(c in part for c in "/\\") or not part.isprintable():
            what = ("owner", "repository")[i] if i < 2 else "branch or path"
            raise BadSourceUrl(f"{what} segment {part[:100]!r} holds a '/', a '\\' or a control character once "
                               "percent-decoded")
    owner, repo, rest = parts[0], parts[1], parts[3:]
    for what, name in (("owner", owner), ("repository", repo)):
        if not _NAME.match(name) or name in (".", ".."):
            raise BadSourceUrl(f"{what} name {name!r} is not a valid GitHub name")
    if rest[-1] != "myst.yml":
        raise BadSourceUrl(f"must point to a myst.yml file, not {rest[-1]!r}")
    if any(p in ("", ".", "..") for p in rest):
        raise BadSourceUrl("has an empty, '.' or '..' path segment")
    return [RepoRef(owner, repo, "/".join(rest[:k]), "/".join(rest[k:])) for k in range(1, len(rest))]
