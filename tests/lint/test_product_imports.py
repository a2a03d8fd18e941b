"""What a household runs (firmware/, cloud/, web/) does not depend on the development side (GUIDE.md,
"What a household runs"): no module there imports tools, tests, rigs or bench, at any depth of the
file (a function-local import counts too)."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PRODUCT = ("firmware", "cloud", "web")
DEVELOPMENT = ("tools", "tests", "rigs", "bench")


def development_imports(source):
    """(line, module) of each import of a development package in source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in DEVELOPMENT]
    return found


def test_the_scan_finds_each_kind_of_import():
    source = "import tools.pki\nfrom tests.x import y\ndef f():\n    from rigs import device\nimport cloud\n"
    assert development_imports(source) == [(1, "tools.pki"), (2, "tests.x"), (4, "rigs")]


@pytest.mark.parametrize("package", PRODUCT)
def test_no_product_module_imports_a_development_package(package):
    offending = [
        "%s:%d imports %s" % (path.relative_to(ROOT), line, name)
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in development_imports(path.read_text())
    ]
    assert offending == []
