"""The MYST job's parts without a daemon: blob URL readings, safe extraction, the submission schema, error
lines, the build plan, each export's fate, the shared cache, the typst command."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from workers.myst.archive import ArchiveError, Limits, extract, project_folder
from workers.myst.cache import TemplateCache
from workers.myst.errors import error_lines, summary
from workers.myst.mystmd import EXPORT_FLAGS, Resolved, manifests, pixi_tasks, plan_build, read_build_log
from workers.myst.outputs import judge, judge_site, match_requested, snapshot, stale_outputs
from workers.myst.processor import final_status
from workers.myst.schema import Export, Submission
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


def _link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16  # as GitHub's archives store a committed link
    return info


def test_devices_are_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("a/x")
    info.external_attr = (stat.S_IFIFO | 0o644) << 16
    with pytest.raises(ArchiveError, match="not a regular file"):
        _unpack(tmp_path, _zip([(info, b"")]))


def test_links_inside_the_archive_are_made_and_links_out_of_it_left_out(tmp_path: Path) -> None:
    """A repository with links (the SciPy proceedings hold some in one paper's folder) is not refused: links
    that stay inside are made, the others are left out and named."""
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip([
        ("r-main/shared/refs.bib", b"@book{x}"),
        (_link("r-main/paper/refs.bib"), b"../shared/refs.bib"),  # inside: made
        (_link("r-main/paper/figs"), b"../shared"),  # a folder inside: made
        (_link("r-main/paper/dangling.zarr"), b"../../../gone.zarr"),  # out of the archive's folder
        (_link("r-main/paper/passwd"), b"/etc/passwd"),  # absolute
        (_link("r-main/paper/up"), b"../../.."),  # out
        (_link("r-main/paper/hop"), b"up"),  # inside, dangling once 'up' is left out: harmless
        (_link("r-main/paper/out"), b"figs/../../.."),  # lexically the folder itself; through 'figs', outside
    ]))
    dest = tmp_path / "out"
    left_out = extract(archive, dest, LIMITS)
    assert (dest / "r-main/paper/refs.bib").read_bytes() == b"@book{x}"
    assert (dest / "r-main/paper/figs/refs.bib").is_file()
    assert sorted(left_out) == ["r-main/paper/dangling.zarr -> ../../../gone.zarr",
                                "r-main/paper/out -> figs/../../..", "r-main/paper/passwd -> /etc/passwd",
                                "r-main/paper/up -> ../../.."]
    assert not any(os.path.lexists(dest / "r-main/paper" / n) for n in ("dangling.zarr", "passwd", "up", "out"))
    assert (dest / "r-main/paper/hop").is_symlink() and not (dest / "r-main/paper/hop").exists()
    assert all(Path(os.path.realpath(p)).is_relative_to(dest.resolve()) for p in dest.rglob("*"))
    meca = tmp_path / "meca"
    assert len(extract(archive, meca, LIMITS, links=False)) == 7  # a MECA is files: every link left out
    assert not any(p.is_symlink() for p in meca.rglob("*"))


def test_no_file_is_written_through_a_link(tmp_path: Path) -> None:
    """Links are made after the files: an entry below a link's name makes a real folder there, so the file
    lands inside the archive's folder, and the link that would replace that folder refuses the archive."""
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip([(_link("r-main/l"), b"/tmp"), ("r-main/l/evil.txt", b"x")]))
    assert extract(archive, tmp_path / "out", LIMITS) == ["r-main/l -> /tmp"]
    assert (tmp_path / "out/r-main/l/evil.txt").is_file() and not Path("/tmp/evil.txt").exists()
    archive.write_bytes(_zip([(_link("r-main/l"), b"sub"), ("r-main/l/x.txt", b"x")]))
    with pytest.raises(ArchiveError, match="twice, or as both a link and a file or folder"):
        extract(archive, tmp_path / "out2", LIMITS)
    assert not (tmp_path / "out2").exists()


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


def test_exports_are_read_as_mystmd_reads_them() -> None:
    """mystmd takes an export as a string (a format, an extension or an output) or as an object whose format
    is its output's extension: a myst.yml that mystmd builds is not refused for it."""
    exports = ["pdf", ".docx", "exports/paper.pdf", {"output": "exports/x.zip"}, {"template": "lapreprint-typst"},
               {"format": "typst", "output": "a.typ"}]
    s = Submission.model_validate(_body(parsedDocument={"project": {"exports": exports}}))
    assert [(e.format, e.output) for e in s.parsedDocument.project.exports] == [
        ("pdf", None), ("docx", None), ("pdf", "exports/paper.pdf"), ("meca", "exports/x.zip"), ("typst", "a.typ")]
    with pytest.raises(ValidationError, match="output"):
        Submission.model_validate(_body(parsedDocument={"project": {"exports": ["../x.pdf"]}}))


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


# -- what went wrong: the error lines of a build's output ----------------------------------------------------

FAILED_REQUEST = "failed, reason: getaddrinfo ENOTFOUND api.mystmd.org"
MYSTMD_OUTPUT = f"""building myst-cli session with API URL: https://api.mystmd.org
📬 Performing exports:
   myst.yml -> exports/paper.pdf
🔍 Querying template metadata from https://api.mystmd.org/templates/typst/myst/lapreprint-typst
Error: request to https://api.mystmd.org/templates/typst/myst/lapreprint-typst {FAILED_REQUEST}

To list valid templates, try the command "myst templates list"
Error: request to https://api.mystmd.org/templates/typst/myst/lapreprint-typst {FAILED_REQUEST}
⛔️ exports/meca.zip Error copying file to: _build/temp/mystDkvFsL
error: failed to download package (https://packages.typst.org/preview/tablex-0.0.9.tar.gz: Dns Failed: resolve dns name)
  ┌─ _build/temp/x/myst-imports.typ:1:8
1 │ #import "@preview/tablex:0.0.9": tablex

   ╭────────────────────────────────────────────╮
   │     Update available! v1.11.0 ≫ v1.8.3     │
   │   Run `pip install -U mystmd` to update.   │
   ╰────────────────────────────────────────────╯
""".splitlines()


def test_error_lines_name_each_failed_download_once_and_never_the_update_notice() -> None:
    assert error_lines(MYSTMD_OUTPUT) == [
        "could not download https://api.mystmd.org/templates/typst/myst/lapreprint-typst "
        "(getaddrinfo ENOTFOUND api.mystmd.org)",
        "could not download typst package https://packages.typst.org/preview/tablex-0.0.9.tar.gz "
        "(Dns Failed: resolve dns name)",
        "exports/meca.zip Error copying file to: _build/temp/mystDkvFsL",
    ]
    assert "Update available" not in summary(MYSTMD_OUTPUT)


def test_the_cause_is_named_before_a_large_site_s_content_errors() -> None:
    """As a 200-page site printed them (2i2c-org/team-compass, offline): its plugins, given by URL, could not
    be downloaded, many pages had errors, and the site theme could not be downloaded, last."""
    plugin = "https://github.com/myst-contrib/myst-listing/releases/latest/download/plugin.mjs"
    lines = [f'⛔️ {plugin} Unknown plugin "{plugin}", it must be an mjs file',
             *(f"⛔️ page{i}.md:29 unknown directive: listing" for i in range(20)),
             f"Error: request to https://api.mystmd.org/templates/site/myst/book-theme {FAILED_REQUEST}"]
    assert error_lines(lines)[:2] == [
        f"could not download plugin {plugin} (mystmd: not an mjs file it can load)",
        "could not download https://api.mystmd.org/templates/site/myst/book-theme "
        "(getaddrinfo ENOTFOUND api.mystmd.org)"]
    assert len(error_lines(lines)) == 8


def test_a_template_given_as_a_path_on_the_author_s_computer_is_named_so() -> None:
    """The SciPy 2024 proceedings name their typst template `/Users/rowan/git/typst/scipy`: mystmd asks the
    template server for it as if it were a name."""
    line = ('Error: Problem with template link "https://api.mystmd.org/templates//Users/rowan/git/typst/scipy": '
            "404 Not Found")
    [cleaned] = error_lines([line])
    assert cleaned.startswith("template /Users/rowan/git/typst/scipy is not in the repository (an absolute path")
    assert cleaned.endswith("404 Not Found")


def test_without_error_lines_the_last_lines_say_what_happened() -> None:
    lines = ["📖 Built index.md in 3 ms.", "🌎 Building MyST site", *MYSTMD_OUTPUT[-5:]]
    assert summary(lines) == "📖 Built index.md in 3 ms. | 🌎 Building MyST site"
    assert summary([]) == "no output"


# -- which build: the repository's pixi task, mystmd directly, or the operator's command -------------------


def test_the_build_plan_is_a_function_of_the_repository_and_the_tools() -> None:
    myst = ["/venv/bin/myst"]
    plan = plan_build("", "build-meca", {"build-meca"}, "/usr/bin/pixi", myst)
    assert (plan.kind, plan.commands) == ("pixi", [["/usr/bin/pixi", "run", "build-meca"]])
    plan = plan_build("", "build-meca", {"build-meca"}, None, myst)
    assert plan.kind == "mystmd" and plan.why == "mystmd directly: pixi is not installed (the repository has a " \
        "'build-meca' task)"
    assert plan.commands == [[*myst, "build", *EXPORT_FLAGS], [*myst, "build", "--site"]]
    assert plan_build("", "build-meca", {"start"}, "/usr/bin/pixi", myst).kind == "mystmd"
    plan = plan_build("make paper", "build-meca", {"build-meca"}, "/usr/bin/pixi", myst)
    assert (plan.kind, plan.commands) == ("command", ["make paper"])


def test_pixi_tasks_are_read_from_pixi_toml_and_pyproject(tmp_path: Path) -> None:
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "pixi.toml").write_text('[tasks]\nbuild-meca = "myst build --meca"\n'
                                                  '[feature.docs.tasks]\nstart = "myst start"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.pixi.tasks]\ntest = "pytest"\n')
    found = manifests(tmp_path / "paper", tmp_path)
    assert found == [tmp_path / "paper" / "pixi.toml", tmp_path / "pyproject.toml"]
    assert pixi_tasks(found[0]) == {"build-meca", "start"} and pixi_tasks(found[1]) == {"test"}
    (tmp_path / "pyproject.toml").write_text("not [toml")
    assert pixi_tasks(tmp_path / "pyproject.toml") == set()


def test_mystmd_build_log_gives_outputs_relative_to_the_project(tmp_path: Path) -> None:
    (tmp_path / "_build" / "logs").mkdir(parents=True)
    (tmp_path / "_build" / "logs" / "myst.build.json").write_text(json.dumps({"exports": [
        {"format": "meca", "output": f"{tmp_path}/_build/exports/myst.zip", "$file": f"{tmp_path}/myst.yml"},
        {"format": "typst", "output": f"{tmp_path}/../elsewhere.pdf", "$file": f"{tmp_path}/paper.md"},
        {"format": "pdf"},  # no output: not an export mystmd resolved
    ]}))
    assert read_build_log(tmp_path) == [Resolved("meca", "myst.yml", "_build/exports/myst.zip"),
                                        Resolved("typst", "paper.md", "../elsewhere.pdf")]
    (tmp_path / "_build" / "logs" / "myst.build.json").write_text("{not json")
    assert read_build_log(tmp_path) is None


# -- each export's fate ----------------------------------------------------------------------------------


def _meca(path: Path, with_jats: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [("manifest.xml", b"<manifest/>"), ("bundle/myst.yml", b"version: 1\n")]
    path.write_bytes(_zip(entries + ([("article.xml", b"<article/>")] if with_jats else [])))


def test_only_files_this_build_wrote_are_delivered(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "exports").mkdir(parents=True)
    (project / "exports" / "paper.pdf").write_bytes(b"%PDF committed")
    (project / "exports" / "old.pdf").write_bytes(b"%PDF committed too")
    before = snapshot(project)
    _meca(project / "_build" / "exports" / "myst.zip")  # built, at mystmd's default path
    (project / "exports" / "old.pdf").write_bytes(b"%PDF rebuilt")  # rewritten by the build: built
    resolved = [Resolved("meca", "myst.yml", "_build/exports/myst.zip"),
                Resolved("pdf", "myst.yml", "exports/paper.pdf"),
                Resolved("typst", "myst.yml", "exports/old.pdf"),
                Resolved("xml", "myst.yml", "_build/exports/myst.xml"),
                Resolved("typst", "myst.yml", "../outside.pdf")]
    errors = ["could not download https://api.mystmd.org/templates/tex/myst/plain_latex (ENOTFOUND)",
              "could not download https://api.mystmd.org/templates/typst/myst/x (ENOTFOUND)"]
    fates = judge(project, resolved, [], before, errors, tmp_path / "unpacked", LIMITS)
    assert [(f.format, f.status) for f in fates] == [("meca", "delivered"), ("pdf", "failed"), ("typst", "delivered"),
                                                     ("xml", "skipped"), ("typst", "failed")]
    assert [u.name for u in fates[0].files] == ["_build/exports/myst/article.xml",
                                                "_build/exports/myst/bundle/myst.yml",
                                                "_build/exports/myst/manifest.xml"]
    # the PDF's reason is the LaTeX template's download, not the typst one's
    assert fates[1].reason == ("not built (the repository's own copy was not sent): could not download "
                               "https://api.mystmd.org/templates/tex/myst/plain_latex (ENOTFOUND)")
    assert fates[4].reason == "its output is outside the project folder"


def test_a_meca_without_its_jats_article_is_not_delivered(tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    _meca(tmp_path / "exports" / "a.meca.zip", with_jats=False)
    [fate] = judge(tmp_path, [Resolved("meca", "myst.yml", "exports/a.meca.zip")], [], before, [],
                   tmp_path / "u", LIMITS)
    assert fate.status == "failed" and "no JATS article" in fate.reason and fate.files == []


def test_a_meca_that_bundles_the_repository_s_own_pdf_is_not_delivered(tmp_path: Path) -> None:
    """mystmd puts whatever is at an export's output into the MECA as its manuscript: a committed PDF whose
    build failed (the SciPy proceedings' full_text.pdf) goes in as if built. The default build makes the MECA
    again without it; a MECA that still holds it (a pixi task, a command) is not delivered."""
    (tmp_path / "full_text.pdf").write_bytes(b"%PDF the author's")
    before = snapshot(tmp_path)
    meca = tmp_path / "meca.zip"
    meca.write_bytes(_zip([("manifest.xml", b"<manifest/>"), ("jats.xml", b"<article/>"),
                           ("full_text.pdf", b"%PDF the author's")]))
    resolved = [Resolved("typst", "myst.yml", "full_text.pdf", "/Users/rowan/git/typst/scipy"),
                Resolved("meca", "myst.yml", "meca.zip")]
    assert stale_outputs(tmp_path, resolved, before) == ["full_text.pdf"]
    errors = ["jats.xml unknown citation ref-11",
              "template /Users/rowan/git/typst/scipy is not in the repository (an absolute path, ...): 404"]
    pdf, fate = judge(tmp_path, resolved, [], before, errors, tmp_path / "u", LIMITS)
    assert fate.status == "failed" and fate.files == []
    assert fate.reason == "the MECA bundles the repository's own full_text.pdf (exports this build did not make) " \
                          "as if built"
    # the PDF's reason is its template's line (by the template's name), not the citation warning
    assert pdf.reason == "not built (the repository's own copy was not sent): " + errors[1]
    meca.write_bytes(_zip([("manifest.xml", b"<manifest/>"), ("jats.xml", b"<article/>")]))  # made again
    assert judge(tmp_path, resolved, [], before, errors, tmp_path / "u2", LIMITS)[1].status == "delivered"


def test_submission_exports_are_matched_to_what_mystmd_resolved(tmp_path: Path) -> None:
    resolved = [Resolved("meca", "myst.yml", "_build/exports/myst.zip"),
                Resolved("typst", "myst.yml", "_build/exports/myst_typst/myst.pdf")]
    wanted = [Export(format="meca"), Export(format="typst"), Export(format="pdf", output="exports/x.pdf"),
              Export(format="docx"), Export(format="pdf")]
    missing = match_requested(resolved, wanted)
    assert [(m.format, m.output) for m in missing] == [("pdf", "exports/x.pdf"), ("docx", None), ("pdf", None)]
    fates = judge(tmp_path, resolved, wanted, snapshot(tmp_path), ["⛔️ bad export"], tmp_path / "u", LIMITS)
    assert [(f.format, f.source, f.status) for f in fates[2:]] == [
        ("pdf", "submission", "failed"), ("docx", "submission", "skipped"), ("pdf", "submission", "failed")]
    assert fates[4].reason == "requested, but mystmd resolved no such export from the project: ⛔️ bad export"


def test_the_site_is_its_config_every_page_and_the_assets_they_reference(tmp_path: Path) -> None:
    site = tmp_path / "_build" / "site"
    (site / "content").mkdir(parents=True)
    (site / "public").mkdir()
    (site / "content" / "stale.json").write_text("{}")  # committed by the repository
    before = snapshot(tmp_path)
    (site / "config.json").write_text(json.dumps({"projects": [{"exports": [{"url": "/paper-1a2b.pdf"}]}]}))
    (site / "content" / "index.json").write_text(json.dumps({"mdast": {"url": "/fig-3c4d.png"}}))
    (site / "content" / "methods.json").write_text("{}")
    for name in ("paper-1a2b.pdf", "fig-3c4d.png", "unused-5e6f.png"):
        (site / "public" / name).write_bytes(b"x")
    fate = judge_site(tmp_path, before, [])
    assert fate.status == "delivered"
    assert [u.name for u in fate.files] == [
        "_build/site/config.json", "_build/site/content/index.json", "_build/site/content/methods.json",
        "_build/site/public/fig-3c4d.png", "_build/site/public/paper-1a2b.pdf"]
    plugin = "could not download plugin https://x/plugin.mjs (mystmd: not an mjs file it can load)"
    fate = judge_site(tmp_path, before, [plugin])  # written, but its build reported errors: delivered, saying so
    assert fate.status == "delivered" and fate.reason == f"built with errors: {plugin}"
    fate = judge_site(tmp_path, snapshot(tmp_path), ["could not download https://x/templates/site/myst/book-theme"])
    assert fate.status == "failed" and "book-theme" in fate.reason


def test_final_status_is_completed_only_when_nothing_failed() -> None:
    done = {"format": "meca", "output": "a.zip", "status": "delivered", "reason": ""}
    skipped = {"format": "xml", "output": "a.xml", "status": "skipped", "reason": "inside the MECA"}
    failed = {"format": "pdf", "output": "a.pdf", "status": "failed", "reason": "could not download T"}
    assert final_status([done, skipped]) == ("COMPLETED", "Files exported successfully (delivered: meca a.zip)")
    assert final_status([done, skipped, failed]) == (
        "FAILED", "Partial import: 1 of 2 exports delivered (meca a.zip); failed: pdf a.pdf: could not download T")
    site = {"format": "site", "output": "_build/site", "status": "delivered",
            "reason": "built with errors: could not download plugin P"}
    assert final_status([done, site]) == (
        "COMPLETED", "Files exported successfully (delivered: meca a.zip, site _build/site); delivered with "
                     "errors: site _build/site: could not download plugin P")


# -- the shared cache ------------------------------------------------------------------------------------


def _template(folder: Path, text: str = "x") -> None:
    folder.mkdir(parents=True)
    (folder / "template.yml").write_text("myst: v1\n")
    (folder / "template.typ").write_text(text)
    (folder / "template.zip").write_bytes(b"the download itself")


def test_cache_keeps_what_a_build_downloaded_and_gives_it_to_the_next(tmp_path: Path) -> None:
    cache = TemplateCache(tmp_path / "cache", max_bytes=10_000)
    first = tmp_path / "job1" / "_build" / "templates"
    _template(first / "site" / "myst" / "book-theme")  # the repository's own copy: dropped, never cached
    assert cache.seed(first) == set() and not first.exists()
    _template(first / "typst" / "myst" / "lapreprint-typst", "downloaded")
    _template(first / "typst" / ("0f" * 32))  # a template named by URL: mystmd keys it by the URL's sha256
    (first / "tex" / "myst" / "broken").mkdir(parents=True)  # a failed download: no template.yml
    assert cache.keep(first, set()) == ["typst/" + "0f" * 32, "typst/myst/lapreprint-typst"]
    assert not (cache.templates / "typst/myst/lapreprint-typst" / "template.zip").exists()

    second = tmp_path / "job2" / "_build" / "templates"
    seeded = cache.seed(second)
    assert seeded == {"typst/myst/lapreprint-typst", "typst/" + "0f" * 32}
    assert (second / "typst/myst/lapreprint-typst/template.typ").read_text() == "downloaded"
    assert cache.keep(second, seeded) == []


def test_a_repository_s_build_templates_linked_elsewhere_never_enter_the_cache(tmp_path: Path) -> None:
    """Links are extracted now: a repository whose `_build` (or `_build/templates`) is a link to its own
    planted template must not have it taken into the shared cache as if downloaded."""
    cache = TemplateCache(tmp_path / "cache", max_bytes=10_000)
    project = tmp_path / "job" / "repo"
    _template(project / "planted" / "templates" / "site" / "myst" / "book-theme", "evil")
    (project / "_build").symlink_to("planted")
    assert cache.seed(project / "_build" / "templates") == set()
    assert not (project / "_build").is_symlink() and (project / "planted" / "templates").is_dir()
    assert cache.keep(project / "_build" / "templates", set()) == [] and cache.keys() == []
    (project / "_build").mkdir(exist_ok=True)
    (project / "_build" / "templates").symlink_to("../planted/templates")
    cache.seed(project / "_build" / "templates")
    assert cache.keep(project / "_build" / "templates", set()) == [] and cache.keys() == []


def test_cache_stays_within_its_bound_removing_the_oldest(tmp_path: Path) -> None:
    cache = TemplateCache(tmp_path / "cache", max_bytes=2_500)
    for i in range(4):
        job = tmp_path / f"job{i}" / "_build" / "templates"
        _template(job / "typst" / "myst" / f"t{i}", "y" * 1000)
        cache.keep(job, set())
        os.utime(cache.templates / "typst" / "myst" / f"t{i}", (1000 + i, 1000 + i))
    cache.evict()
    assert cache.keys() == ["typst/myst/t2", "typst/myst/t3"] and cache.size() <= 2_500


def test_concurrent_builds_adding_the_same_template_leave_one_whole_copy(tmp_path: Path) -> None:
    cache = TemplateCache(tmp_path / "cache", max_bytes=10_000_000)
    jobs = []
    for i in range(8):
        job = tmp_path / f"job{i}" / "_build" / "templates"
        _template(job / "site" / "myst" / "book-theme", f"copy {i}")
        jobs.append(job)
    with ThreadPoolExecutor(8) as pool:
        added = list(pool.map(lambda job: cache.keep(job, set()), jobs))
    assert sum(len(a) for a in added) == 1  # the first wins; the others find it there
    assert cache.keys() == ["site/myst/book-theme"]
    assert (cache.templates / "site/myst/book-theme/template.typ").read_text().startswith("copy ")
    assert list((tmp_path / "cache" / "incoming").iterdir()) == []


# -- typst, for mystmd, from the typst Python package ----------------------------------------------------


def test_the_typst_command_compiles_a_pdf_and_says_what_is_wrong(tmp_path: Path) -> None:
    shim = Path(__file__).resolve().parent.parent / "workers" / "myst" / "shim" / "typst"
    env = {**os.environ, "CORRAL_PYTHON": sys.executable, "TYPST_PACKAGE_CACHE_PATH": str(tmp_path / "pkgs")}
    version = subprocess.run([shim, "--version"], env=env, capture_output=True, text=True, check=True)
    assert version.stdout.startswith("typst 0.15.0")
    (tmp_path / "a.typ").write_text("= Title\n\nSome text and $x^2$.\n")
    subprocess.run([shim, "compile", str(tmp_path / "a.typ")], env=env, check=True, timeout=60)
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF-")
    (tmp_path / "b.typ").write_text("#undefined-function()\n")
    bad = subprocess.run([shim, "compile", str(tmp_path / "b.typ")], env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1 and "unknown variable: undefined-function" in bad.stderr


def test_a_missing_latex_says_what_to_do() -> None:
    [line] = error_lines(["🖨  Rendering PDF (tpl) to _build/temp/x/l.pdf", "/bin/sh: 1: latexmk: not found"])
    assert line.startswith("/bin/sh: 1: latexmk: not found (LaTeX PDF exports need latexmk and TeX Live")


def test_a_link_out_of_the_project_is_never_delivered(tmp_path: Path) -> None:
    project, secret_dir = tmp_path / "p", tmp_path / "elsewhere"
    project.mkdir()
    secret_dir.mkdir()
    before = snapshot(project)
    (secret_dir / "paper.pdf").write_bytes(b"%PDF not the project's")
    (project / "exports").symlink_to(secret_dir)  # a build that links its output folder out of the project
    [fate] = judge(project, [Resolved("pdf", "myst.yml", "exports/paper.pdf")], [], before, [], tmp_path / "u",
                   LIMITS)
    assert fate.status == "failed" and fate.files == []
