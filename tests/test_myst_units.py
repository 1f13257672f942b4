"""The MYST job's pure parts: blob URL readings, safe extraction, the submission schema."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from workers.myst.archive import ArchiveError, Limits, extract, project_folder
from workers.myst.schema import Submission
from workers.myst.source import BadSourceUrl, RepoRef, parse_blob_url

GH = "https://github.com"
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")  # duplicates are what some tests write


def test_names_with_dots_and_dashes_and_a_branch_with_slashes() -> None:
    refs = parse_blob_url(f"{GH}/corral.dev/my-journal.articles/blob/feature/v1.2/papers/a-b/myst.yml")
    assert refs == [
        RepoRef("corral.dev", "my-journal.articles", "feature", "v1.2/papers/a-b/myst.yml"),
        RepoRef("corral.dev", "my-journal.articles", "feature/v1.2", "papers/a-b/myst.yml"),
        RepoRef("corral.dev", "my-journal.articles", "feature/v1.2/papers", "a-b/myst.yml"),
        RepoRef("corral.dev", "my-journal.articles", "feature/v1.2/papers/a-b", "myst.yml"),
    ]
    assert refs[1].folder == "papers/a-b" and refs[3].folder == ""
    assert refs[1].archive_urls(GH) == [
        f"{GH}/corral.dev/my-journal.articles/archive/refs/heads/feature/v1.2.zip",
        f"{GH}/corral.dev/my-journal.articles/archive/refs/tags/feature/v1.2.zip",
    ]


def test_root_myst_yml_and_commit_ids() -> None:
    [ref] = parse_blob_url(f"{GH}/o/r/blob/main/myst.yml")
    assert (ref.ref, ref.path, ref.folder) == ("main", "myst.yml", "")
    sha = "0123456789abcdef0123456789abcdef01234567"
    [ref] = parse_blob_url(f"{GH}/o/r/blob/{sha}/myst.yml")
    assert ref.archive_urls(GH) == [f"{GH}/o/r/archive/{sha}.zip"]


def test_configured_github_base_with_a_path_and_escaped_refs() -> None:
    base = "http://127.0.0.1:8080/github"
    [ref] = parse_blob_url(f"{base}/o/r/blob/f%23x/myst.yml", base)
    assert ref.ref == "f#x"
    assert ref.archive_urls(base)[0] == f"{base}/o/r/archive/refs/heads/f%23x.zip"


@pytest.mark.parametrize(("url", "says"), [
    ("ftp://github.com/o/r/blob/main/myst.yml", "http(s) URL"),
    ("https://gitlab.com/o/r/blob/main/myst.yml", "must be on https://github.com"),
    ("https://github.com/o/r/tree/main/myst.yml", "must look like"),
    ("https://github.com/o/r/blob/main/README.md", "must point to a myst.yml"),
    ("https://github.com/o/r/blob/main/../myst.yml", "'..' path segment"),
    ("https://github.com/o/r/blob/main//myst.yml", "empty"),
    ("https://github.com/o/r/blob/main/myst.yml?raw=1", "query"),
    ("https://github.com/o w/r/blob/main/myst.yml", "owner name"),
    ("https://github.com/o/../blob/main/myst.yml", "repository name"),
    ("https://github.com/o/r/blob/myst.yml", "must look like"),
])
def test_bad_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(BadSourceUrl, match=None) as e:
        parse_blob_url(url)
    assert says in str(e.value)


@given(st.text(max_size=300))
def test_any_text_is_a_reading_or_a_bad_url(url: str) -> None:
    try:
        refs = parse_blob_url(url)
    except BadSourceUrl:
        return
    assert refs and all(r.path.endswith("myst.yml") and ".." not in r.path.split("/") for r in refs)


# -- extraction ------------------------------------------------------------------------------------------

LIMITS = Limits(max_download_bytes=10_000_000, max_extract_bytes=1_000_000, max_entries=50)


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def _unpack(tmp: Path, data: bytes, limits: Limits = LIMITS) -> Path:
    archive = tmp / "a.zip"
    archive.write_bytes(data)
    dest = tmp / "out"
    extract(archive, dest, limits)
    return dest


def _files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_a_github_archive_unpacks_and_the_project_folder_is_found(tmp_path: Path) -> None:
    dest = _unpack(tmp_path, _zip([("r-main/", b""), ("r-main/docs/myst.yml", b"version: 1\n"),
                                   ("r-main/docs/index.md", b"# hi\n")]))
    assert _files_under(dest) == {"r-main/docs/myst.yml", "r-main/docs/index.md"}
    assert project_folder(dest, "docs") == (dest / "r-main" / "docs").resolve()
    with pytest.raises(ArchiveError, match="outside the repository"):
        project_folder(dest, "../..")


@pytest.mark.parametrize(("entries", "says"), [
    ([("a/../../x", b"x")], "zip slip"),
    ([("/abs/x", b"x")], "absolute path"),
    ([("C:/x", b"x")], "absolute path"),
    ([("a/x", b"1"), ("a/x", b"2")], "holds a/x twice"),
    ([("a", b"1"), ("a/a/a", b"2")], "as both a file and a folder"),  # found by the fuzz test below
    ([(f"a/{i}", b"") for i in range(51)], "over the limit of 50"),
    ([("a/big", b"\0" * 1_000_001)], "over the 1000000 byte limit"),
])
def test_refusals_leave_nothing_behind(tmp_path: Path, entries: list[tuple[str, bytes]], says: str) -> None:
    with pytest.raises(ArchiveError, match=None) as e:
        _unpack(tmp_path, _zip(entries))
    assert says in str(e.value)
    assert not (tmp_path / "out").exists() and not (tmp_path / "x").exists()


def test_entries_whose_declared_size_lies_are_stopped_at_the_limit(tmp_path: Path) -> None:
    data = bytearray(_zip([("a/bomb", b"\0" * 2_000_000)]))
    # Rewrite the declared size (local header and central directory) to 10 bytes: only real bytes count.
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(sig)
        data[at + off:at + off + 4] = (10).to_bytes(4, "little")
    with pytest.raises(ArchiveError):
        _unpack(tmp_path, bytes(data))
    assert not (tmp_path / "out").exists()


def test_symlinks_and_devices_are_refused(tmp_path: Path) -> None:
    for mode, says in ((stat.S_IFLNK | 0o777, "symbolic link"), (stat.S_IFIFO | 0o644, "not a regular file")):
        info = zipfile.ZipInfo("a/x")
        info.external_attr = mode << 16
        with pytest.raises(ArchiveError, match=says):
            _unpack(tmp_path, _zip([(info, b"/etc/passwd")]))


_segment = st.sampled_from(["a", "b", "..", ".", "", "/", "\\", "C:", "myst.yml", "é", "%2e%2e"])


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(_segment, min_size=1, max_size=5).map("/".join).filter(bool),
                          st.binary(max_size=20)),
                min_size=1, max_size=6))
def test_nothing_is_ever_written_outside_the_folder(tmp_path_factory: pytest.TempPathFactory,
                                                    entries: list[tuple[str, bytes]]) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    box = tmp / "box"
    box.mkdir()
    try:
        dest = _unpack(box, _zip(entries))
    except ArchiveError:
        assert not (box / "out").exists()
    else:
        assert all((dest / f).resolve().is_relative_to(dest.resolve()) for f in _files_under(dest))
    assert {p.name for p in tmp.iterdir()} == {"box"}
    assert {p.name for p in box.iterdir()} <= {"a.zip", "out"}


# -- the submission --------------------------------------------------------------------------------------


def _body(**over: object) -> dict[str, object]:
    return {"url": f"{GH}/o/r/blob/main/myst.yml", "jobId": "j-1", "uuid": "u-1",
            "parsedDocument": {"project": {"exports": [{"format": "pdf", "output": "exports/a.pdf"}]}}, **over}


def test_submission_accepts_the_documented_body() -> None:
    s = Submission.model_validate(_body())
    assert s.jobId == "j-1"


@pytest.mark.parametrize(("over", "field"), [
    ({"jobId": "a" * 129}, "jobId"),
    ({"jobId": "a/b"}, "jobId"),
    ({"uuid": ""}, "uuid"),
    ({"parsedDocument": {"project": {"exports": [{"format": "pdf", "output": "/etc/x"}]}}}, "output"),
])
def test_submission_refusals_name_the_field(over: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as e:
        Submission.model_validate(_body(**over))
    assert field in str(e.value)
