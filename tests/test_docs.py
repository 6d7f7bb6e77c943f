"""The docs stay true to the repository.

* Every relative link in the top-level ``*.md`` files and ``docs/**/*.md`` names a file or folder that exists,
  and a ``#fragment`` names a heading (GitHub's anchor for it) or an ``<a id=…>``/``<a name=…>`` in that file.
* Every module that ``docs/ARCHITECTURE.md`` names exists. Outside fenced code blocks, each word of a
  backticked span is read as a module name when it has one of these forms:

  1. a path ending in ``.py`` (``engine.py``, ``pipeline/layout.py``, ``emulator/openbg_emulator/engine.py``,
     ``tests/conftest.py``; a ``::test`` suffix is ignored): it must exist under the repository root or under
     one of the package folders (``emulator/openbg_emulator/``, ``wrapper/openbg/``, ``generated/removebg_api/``);
  2. a folder ending in ``/`` whose first part is a top-level folder of the repository (``tests/contract/``,
     ``generated/removebg_api/``), or any ``name/`` in the first cell of a table row (``migrations/``,
     ``web/``): it must exist the same way;
  3. a dotted name that starts with an import package, ``openbg_emulator.``, ``openbg.`` or ``removebg_api.``
     (``openbg_emulator.server_cli``, ``openbg.testing``, ``openbg_emulator.cli.remove_local``): its longest
     prefix that is a module or package must be followed by nothing or by a name that module defines at
     top level (function, class, assignment or import); entry-point groups of pyproject.toml
     (``openbg.commands``) are accepted too;
  4. ``module.name`` with a lower-case module (``engine.remove``, ``classify.explain``, ``models.prepare()``):
     ``module.py`` must exist in one of the package folders (any depth) and define ``name`` at top level.

  Names that end in a file extension other than ``.py`` (``openbg.db``, ``openapi.yaml``) are not modules.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted(REPO.glob("*.md")) + sorted((REPO / "docs").rglob("*.md"))
ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"
PACKAGES = {"openbg_emulator": REPO / "emulator" / "openbg_emulator", "openbg": REPO / "wrapper" / "openbg",
            "removebg_api": REPO / "generated" / "removebg_api"}
FILE_EXTENSIONS = {"db", "yaml", "yml", "json", "toml", "md", "txt", "csv", "onnx", "png", "jpg", "jpeg", "webp",
                   "zip", "cfg", "ini", "lock", "html", "js", "css", "sh", "log", "gz", "bin", "xml"}

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
HTML_ANCHOR = re.compile(r"<a\s+(?:[^>]*?\s)?(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    """The text without fenced code blocks (links and names inside code are examples, not references)."""
    return FENCE.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces → hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


@cache
def _anchors(path: Path) -> frozenset[str]:
    text = _prose(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    anchors = set(HTML_ANCHOR.findall(text))
    for _hashes, title in HEADING.findall(text):
        slug = _slug(title)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return frozenset(anchors)


def _links(path: Path) -> list[str]:
    text = INLINE_CODE.sub("", _prose(path.read_text(encoding="utf-8")))
    return INLINE_LINK.findall(text) + REFERENCE_LINK.findall(text)


def _broken_link(doc: Path, target: str) -> str | None:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, https:, mailto: …: not checked here
        return None
    path_part, _, fragment = target.partition("#")
    path_part = path_part.split("?", 1)[0]
    if path_part.startswith("/"):
        dest = REPO / path_part.lstrip("/")
    else:
        dest = (doc.parent / path_part) if path_part else doc
    if not dest.exists():
        return f"{target}: no such file or folder ({dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest})"
    if fragment and dest.is_file() and dest.suffix == ".md" and fragment not in _anchors(dest):
        return f"{target}: no heading or anchor #{fragment} in {dest.relative_to(REPO)}"
    return None


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = [msg for t in _links(doc) if (msg := _broken_link(doc, t))]
    assert not broken, f"{doc.relative_to(REPO)}: broken links:\n  " + "\n  ".join(broken)


def test_the_docs_are_found() -> None:
    names = {str(p.relative_to(REPO)) for p in DOCS}
    assert {"README.md", "docs/index.md", "docs/ARCHITECTURE.md"} <= names


# ---- ARCHITECTURE.md's module names -------------------------------------------------------------------------

TOP_LEVEL = {p.name for p in REPO.iterdir() if p.is_dir() and not p.name.startswith(".")}
ROOTS = [REPO, *PACKAGES.values()]


def _exists(rel: str) -> bool:
    return any((root / rel).exists() for root in ROOTS)


@cache
def _top_level_names(module: Path) -> frozenset[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                visit(getattr(node, "finalbody", []))

    visit(tree.body)
    return frozenset(names)


def _module_file(folder: Path, parts: list[str]) -> Path | None:
    """The file of module ``parts`` inside package ``folder`` (``x.py`` or ``x/__init__.py``)."""
    path = folder.joinpath(*parts)
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return folder / "__init__.py" if not parts and (folder / "__init__.py").is_file() else None


@cache
def _entry_point_groups() -> frozenset[str]:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    return frozenset(re.findall(r'^\[project\.entry-points\."([^"]+)"\]', text, flags=re.MULTILINE))


@cache
def _module_stems() -> dict[str, list[Path]]:
    stems: dict[str, list[Path]] = {}
    for folder in PACKAGES.values():
        for path in folder.rglob("*.py"):
            stems.setdefault(path.stem, []).append(path)
    return stems


def _check_dotted(word: str) -> str | None:
    """Forms 3 and 4; None when fine (or not a module name), else why not."""
    parts = word.split(".")
    if parts[0] in PACKAGES:
        if word in _entry_point_groups():
            return None
        folder = PACKAGES[parts[0]]
        for cut in range(len(parts), 0, -1):
            module = _module_file(folder, parts[1:cut])
            if module is None:
                continue
            rest = parts[cut:]
            if not rest or rest[0] in _top_level_names(module):
                return None
            if cut == len(parts) - 1 or cut > 1:
                return f"`{word}`: {module.relative_to(REPO)} defines no `{rest[0]}`"
        return f"`{word}`: no such module in {folder.relative_to(REPO)}"
    if len(parts) == 2 and re.fullmatch(r"[a-z_][a-z0-9_]*", parts[0]) and parts[1].isidentifier():
        files = _module_stems().get(parts[0])
        if not files:
            return f"`{word}`: no module {parts[0]}.py in {', '.join(str(p.relative_to(REPO)) for p in PACKAGES.values())}"
        if not any(parts[1] in _top_level_names(f) for f in files):
            return f"`{word}`: {', '.join(str(f.relative_to(REPO)) for f in files)} defines no `{parts[1]}`"
    return None


def architecture_names(text: str) -> list[tuple[str, str]]:
    """(form, name) for every module name in ARCHITECTURE.md's text, in the forms of the module docstring."""
    prose = _prose(text)
    found: list[tuple[str, str]] = []
    first_cells = set()
    for line in prose.splitlines():
        if line.lstrip().startswith("|"):
            cells = line.strip().strip("|").split("|")
            first_cells.update(m.group(2).strip() for m in INLINE_CODE.finditer(cells[0]))
    for match in INLINE_CODE.finditer(prose):
        span = match.group(2).strip()
        for raw in span.split():
            word = raw.strip(",;:'\"").split("::", 1)[0]
            word = re.sub(r"\(.*$", "", word)  # models.prepare() → models.prepare
            if not word or word.startswith((".", "$", "~", "<", "-")):
                continue
            if word.endswith(".py"):
                found.append(("path", word))
            elif word.endswith("/") and re.fullmatch(r"[A-Za-z0-9_./-]+", word):
                if word.split("/", 1)[0] in TOP_LEVEL or span in first_cells:
                    found.append(("folder", word))
            elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+", word):
                if word.rsplit(".", 1)[1].lower() in FILE_EXTENSIONS:
                    continue
                found.append(("dotted", word))
    return found


def test_architecture_names_modules_that_exist() -> None:
    names = architecture_names(ARCHITECTURE.read_text(encoding="utf-8"))
    problems = []
    for form, name in names:
        if form in ("path", "folder"):
            if not _exists(name):
                problems.append(f"`{name}`: not found under {', '.join(str(r.relative_to(REPO)) or '.' for r in ROOTS)}")
        elif (why := _check_dotted(name)) is not None:
            problems.append(why)
    assert not problems, "docs/ARCHITECTURE.md names modules that do not exist:\n  " + "\n  ".join(problems)
    assert sum(form == "path" for form, _ in names) >= 10, "the module list was not recognised"


def test_the_architecture_check_can_fail() -> None:
    """The parser sees each form, and a missing module, folder or name is reported."""
    text = ("| `pipeline/nowhere.py` | x |\n| `nothing_here/` | y |\n"
            "`openbg_emulator.no_such_module`, `engine.no_such_function`, `no_such_stem.x`, `tests/none/`, "
            "`openbg.db`\n```\n`ignored.py`\n```\n")
    names = architecture_names(text)
    assert names == [("path", "pipeline/nowhere.py"), ("folder", "nothing_here/"),
                     ("dotted", "openbg_emulator.no_such_module"), ("dotted", "engine.no_such_function"),
                     ("dotted", "no_such_stem.x"), ("folder", "tests/none/")]
    assert not _exists("pipeline/nowhere.py") and not _exists("nothing_here/")
    assert all(_check_dotted(n) for f, n in names if f == "dotted")
    assert _exists("pipeline/layout.py") and _check_dotted("openbg_emulator.cli.remove_local") is None
    assert _check_dotted("openbg.commands") is None and _check_dotted("openbg.testing") is None


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    doc = REPO / "docs" / "index.md"
    assert _broken_link(doc, "deploy.md#metrics-and-logs") is None
    assert _broken_link(doc, "deploy.md#no-such-heading") is not None
    assert _broken_link(doc, "no-such-file.md") is not None
    assert _broken_link(doc, "https://example.com/x") is None
    assert _slug("Admin console (`/admin`)") == "admin-console-admin"
    assert _slug("image_url / bg_image_url") == "image_url--bg_image_url"
