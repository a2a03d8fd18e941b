"""Docs point at the code, so what they name must exist: every file path, `make` target and
`python -m` module that README.md, a folder's README.md or docs/*.md names in code (`...` or a fenced
block). A path is looked up from the repository root, then from the document's folder; a bare source
name (`ledger.py`) must be some tracked file's or folder's name. Not checked: placeholders (<thing>,
*, $), what git ignores (generated: .pki/, .hub/, cloud/.out/), paths outside this repository (on
the board's flash, in MicroPython's source: their first folder is none of the repository's) and
the board's own files (FOREIGN)."""

import importlib.util
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRACKED = subprocess.run(
    ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
).stdout.split()
DOCS = sorted(p for p in TRACKED if p.endswith("README.md") or re.fullmatch(r"docs/[^/]+\.md", p))
SUFFIXES = ("py", "md", "sh", "json", "txt", "ini", "toml", "template", "js", "html", "css", "svg", "png")
PATH = re.compile(r"[\w.-]*[\w-](?:/[\w.-]+)*(?:\.(?:%s)|/)" % "|".join(SUFFIXES))
FOREIGN = {"_boot.py"}  # MicroPython's boot file on the board's flash
TARGET = re.compile(r"^([A-Za-z][\w-]*)\s*:(?!=)", re.M)


def code_spans(text):
    """The text of each `inline` span and each line of a fenced block."""
    spans, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            spans.append(line)
        else:
            spans += re.findall(r"`([^`]+)`", line)
    return spans


def references(text):
    """(kind, name) for each file path, make target and python -m module named in code."""
    found = set()
    for span in code_spans(text):
        found.update(("make", m) for m in re.findall(r"(?:^|[\s;(&|])make ((?:[a-z][\w-]*))", span))
        found.update(("module", m) for m in re.findall(r"python3? -m ([\w.]+)", span))
        for word in re.split(r"[\s,;()=\[\]|'\"]+", span):
            word = word.rstrip(".:")
            if re.search(r"[<>*$%{}]", word) or "://" in word or word.startswith(("-", "~", "/")):
                continue
            if PATH.fullmatch(word) and not re.fullmatch(r"[\d.]+", word):
                found.add(("path", word))
    return found


TOP = {pathlib.PurePath(p).parts[0] for p in TRACKED}
NAMES = {part for p in TRACKED for part in pathlib.PurePath(p).parts}


def ignored(path):
    # A folder's pattern (`cloud/.out/`) matches what is inside it whether or not the folder exists.
    return subprocess.run(["git", "check-ignore", "-q", path / "_"], cwd=ROOT).returncode == 0


def exists(kind, name, doc):
    if kind == "make":
        return name in set(TARGET.findall((ROOT / "Makefile").read_text()))
    if kind == "module":
        if name.split(".")[0] not in TOP:
            return importlib.util.find_spec(name.split(".")[0]) is not None
        base = ROOT / name.replace(".", "/")
        return base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()
    folder = (ROOT / doc).parent
    candidates = [ROOT / name, folder / name]
    if any(path.exists() or ignored(path) for path in candidates):
        return True
    parts = pathlib.PurePath(name).parts
    if len(parts) == 1:
        return name in FOREIGN or not name.endswith((".py", ".sh", ".md")) or name.rstrip("/") in NAMES
    return parts[0] not in TOP and not (folder / parts[0]).exists()


def test_the_scan_finds_paths_targets_and_modules():
    text = "Run `make demo` or `python -m cloud.hub run`; see `cloud/hub/ledger.py` and `<thing>.json`.\n"
    text += "```\nmake press EVENT=SINGLE\n```\n"
    assert references(text) == {
        ("make", "demo"), ("make", "press"), ("module", "cloud.hub"), ("path", "cloud/hub/ledger.py")
    }
    assert not exists("path", "cloud/nowhere.py", "README.md") and not exists("make", "nowhere", "README.md")
    assert not exists("module", "cloud.nowhere", "README.md") and not exists("path", "gone.py", "README.md")
    assert exists("path", "ledger.py", "README.md") and exists("path", "hub/", "cloud/README.md")


@pytest.mark.parametrize("doc", DOCS)
def test_every_name_in_a_doc_exists(doc):
    missing = sorted(
        "%s %s" % (kind, name)
        for kind, name in references((ROOT / doc).read_text())
        if not exists(kind, name, doc)
    )
    assert missing == []


def makefile_variables():
    """{target: the variables its recipe and its prerequisites' recipes read} from the Makefile."""
    recipes, prerequisites, target = {}, {}, None
    for line in (ROOT / "Makefile").read_text().splitlines():
        rule = re.match(r"^([a-z][\w-]*)\s*:(?!=)([^#]*)", line)
        if rule:
            target = rule.group(1)
            recipes.setdefault(target, set())
            prerequisites[target] = rule.group(2).split()
        elif line.startswith("\t") and target:
            recipes[target].update(re.findall(r"\$\(([A-Z_]+)\)", line))
        elif not line.startswith("\t"):
            target = None if line.strip() else target

    def reads(name, seen=()):
        found = set(recipes.get(name, ()))
        for prerequisite in prerequisites.get(name, ()):
            if prerequisite not in seen:
                found |= reads(prerequisite, seen + (name,))
        return found

    return {name: reads(name) for name in recipes}


# Read by a program or script a target runs, not by the recipe itself.
ENVIRONMENT = {"FEEDER_WEB_TOKEN", "MQTT_AS_DIR", "BOARD_PORT", "BOARD_HUB", "TEST_JOBS", "MPY_JOBS",
               "CONFIRM"}


def test_the_makefile_scan_reads_each_targets_variables():
    variables = makefile_variables()
    assert {"HOUSEHOLD", "HUB_ARGS"} <= variables["hub"] and "HOUSEHOLD" not in variables["demo"]
    assert "PY" in variables["demo"]  # through its recipe; and "setup"'s prerequisites' recipes too



@pytest.mark.parametrize("doc", DOCS)
def test_every_make_variable_a_doc_passes_is_one_the_target_reads(doc):
    """`make hub HOUSEHOLD=x` must not be quietly ignored: each VARIABLE= a doc gives `make TARGET` is
    one that target's recipe (or a prerequisite's) reads."""
    variables = makefile_variables()
    ignored_here = []
    for span in code_spans((ROOT / doc).read_text()):
        given_as = r"((?:\s+[A-Z_]+=(?:\"[^\"]*\"|'[^']*'|\S*))*)"
        for match in re.finditer(r"make ([a-z][\w-]*)" + given_as, span):
            given = re.findall(r"(?:^|\s)([A-Z_]+)=", match.group(2))
            target = match.group(1)
            ignored_here += ["make %s %s=" % (target, name) for name in given
                             if target in variables and name not in variables[target] | ENVIRONMENT]
    assert ignored_here == []
