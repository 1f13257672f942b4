"""The shared download cache of MyST builds: export templates, site themes and typst packages.

mystmd keeps the templates it downloads in the project's `_build/templates/<kind>/<org>/<name>` (or
`<kind>/<sha256 of the URL>` for a template given by URL) and downloads again when that folder has no
`template.yml`; a job's folder is deleted afterwards, so without this cache every job downloaded them again.

- Before a build, every cached template is linked into the project's `_build/templates` (hard links: no copy,
  and a build that rewrote a file would replace its own link, not the cached file), after removing any
  `_build/templates` the repository committed.
- After the build, each template folder that the build downloaded (it has a `template.yml` and was not linked
  in) is copied into `incoming/`, then renamed into place: a rename is atomic, so a concurrent build sees a
  template whole or not at all, and the first of two builds that downloaded the same one wins.
- typst packages (`@preview/...`) are cached by typst itself in `typst-packages/` (TYPST_PACKAGE_CACHE_PATH).
- The cache is bounded: past `max_bytes`, the oldest entries (by the time they were added) are removed.
  An exclusive lock (flock on `.lock`) covers adding and removing; linking into a job takes it shared, so an
  entry is never removed while it is being linked.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPLATE_YML = "template.yml"
SKIP = ("template.zip",)  # mystmd keeps the downloaded zip beside what it unpacked: not needed again


class TemplateCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.templates = root / "templates"
        self.typst_packages = root / "typst-packages"
        self.max_bytes = max_bytes

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def keys(self) -> list[str]:
        return template_keys(self.templates)

    def seed(self, build_templates: Path) -> set[str]:
        """Put every cached template in the project's `_build/templates`; returns their keys."""
        # The repository's own `_build/templates` (a folder, or a link to one) is never taken into the cache.
        for folder in (build_templates.parent, build_templates):
            if folder.is_symlink():
                folder.unlink()
        shutil.rmtree(build_templates, ignore_errors=True)
        with self._locked(exclusive=False):
            keys = set(self.keys())
            for key in keys:
                _link_tree(self.templates / key, build_templates / key)
        return keys

    def keep(self, build_templates: Path, seeded: set[str]) -> list[str]:
        """Add the templates this build downloaded; returns their keys."""
        new = [k for k in template_keys(build_templates) if k not in seeded]
        added = []
        for key in new:
            staging = self.root / "incoming" / uuid.uuid4().hex
            shutil.copytree(build_templates / key, staging, ignore=shutil.ignore_patterns(*SKIP), symlinks=True)
            with self._locked(exclusive=True):
                final = self.templates / key
                if final.exists():
                    shutil.rmtree(staging, ignore_errors=True)
                    continue
                final.parent.mkdir(parents=True, exist_ok=True)
                staging.rename(final)
                os.utime(final)  # its age for eviction: when it was added
                added.append(key)
        if added:
            self.evict()
        return added

    def entries(self) -> list[Path]:
        """What eviction removes one by one: template folders and typst package versions."""
        packages = [p for p in self.typst_packages.glob("*/*/*") if p.is_dir()] if self.typst_packages.is_dir() else []
        return [self.templates / k for k in self.keys()] + packages

    def size(self) -> int:
        return sum(_tree_size(p) for p in self.entries())

    def evict(self) -> list[Path]:
        """Remove the oldest entries until the cache fits in max_bytes; returns what was removed."""
        removed = []
        with self._locked(exclusive=True):
            entries = sorted(((p.stat().st_mtime, p, _tree_size(p)) for p in self.entries()), key=lambda e: e[0])
            total = sum(size for _, _, size in entries)
            for _, path, size in entries:
                if total <= self.max_bytes:
                    break
                trash = self.root / "incoming" / f"evicted-{uuid.uuid4().hex}"
                trash.parent.mkdir(parents=True, exist_ok=True)
                path.rename(trash)  # gone from view at once; deleted after
                shutil.rmtree(trash, ignore_errors=True)
                total -= size
                removed.append(path)
            _sweep_incoming(self.root / "incoming")
        return removed


def template_keys(folder: Path) -> list[str]:
    """`kind/org/name` or `kind/hash` of every template folder (one with a template.yml) under `folder`."""
    if not folder.is_dir():
        return []
    keys = []
    for yml in folder.glob("*/*/template.yml"):
        keys.append(yml.parent.relative_to(folder).as_posix())
    for yml in folder.glob("*/*/*/template.yml"):
        keys.append(yml.parent.relative_to(folder).as_posix())
    return sorted(k for k in keys if not any(k.startswith(other + "/") for other in keys if other != k))


def _link_tree(src: Path, dst: Path) -> None:
    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError as e:  # another filesystem, or no hard links there: a copy
            if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link, symlinks=True, dirs_exist_ok=True)


def _tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(dirpath) / name).lstat().st_size
            except FileNotFoundError:
                pass
    return total


def _sweep_incoming(folder: Path, older_than: float = 3600.0) -> None:
    """Staging folders left by a worker killed mid-copy."""
    if not folder.is_dir():
        return
    cutoff = time.time() - older_than
    for p in folder.iterdir():
        try:
            if p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)
        except FileNotFoundError:
            pass
