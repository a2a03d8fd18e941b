"""A module keeps to its own state (GUIDE.md, "Style"): no code a household runs (firmware/, cloud/,
web/) writes another object's private attribute. A write is an assignment, an augmented assignment,
a deletion or a loop/with target of `x._name` (or of something inside it, `x._name[i]`, `x._name.y`)
where x is not `self` or `cls`, and setattr/delattr with a `_`-prefixed literal name on such an x.
Reading is not checked: the standard library's public API has underscore names (`os._exit`)."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PRODUCT = ("firmware", "cloud", "web")
OWN = ("self", "cls")


def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own(node):
    return isinstance(node, ast.Name) and node.id in OWN


def _written(target):
    """The private attributes of other objects that an assignment to target writes into."""
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _written(element)
        return
    if isinstance(target, ast.Starred):
        yield from _written(target.value)
        return
    node = target
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute) and _private(node.attr) and not _own(node.value):
            yield node
        node = node.value


def _targets(node):
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.comprehension)):
        return [node.target]
    if isinstance(node, ast.Delete):
        return node.targets
    if isinstance(node, ast.withitem) and node.optional_vars is not None:
        return [node.optional_vars]
    return []


def _sets_by_name(node):
    """setattr(x, "_name", v), delattr(x, "_name"), object.__setattr__(x, "_name", v) with x not self/cls."""
    if not isinstance(node, ast.Call) or len(node.args) < 2:
        return False
    func = node.func
    named = (isinstance(func, ast.Name) and func.id in ("setattr", "delattr")) or (
        isinstance(func, ast.Attribute) and func.attr in ("__setattr__", "__delattr__"))
    name = node.args[1]
    return (named and isinstance(name, ast.Constant) and isinstance(name.value, str)
            and _private(name.value) and not _own(node.args[0]))


def violations(source, filename="<source>"):
    """["file:line: code"] of every write into another object's private attribute in source."""
    tree = ast.parse(source, filename)
    lines = source.splitlines()
    hits = []
    for node in ast.walk(tree):
        hits += [hit for target in _targets(node) for hit in _written(target)]
        if _sets_by_name(node):
            hits.append(node)
    return ["%s:%d: %s" % (filename, line, lines[line - 1].strip())
            for line in sorted(hit.lineno for hit in hits)]


def product_files(folder):
    return sorted(path for path in (ROOT / folder).rglob("*.py") if ".venv" not in path.parts)


def check(folder):
    found = []
    for path in product_files(folder):
        found += violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    return found


def test_the_check_finds_each_kind_of_write():
    source = "\n".join([
        "box._seqs = []",
        "box._count += 1",
        "del box._cache",
        "box._busy[3] = 1",
        "box._state.mark = 2",
        "a, box._kept = 1, 2",
        "setattr(box, '_path', 'x')",
        "delattr(box, '_path')",
        "object.__setattr__(box, '_frozen', 1)",
        "self.other._x = 1",
        "for box._i in range(3): pass",
    ])
    assert [line.split(": ", 1)[1] for line in violations(source)] == source.splitlines()


def test_the_check_allows_own_state_public_fields_and_reads():
    source = "\n".join([
        "self._seqs = []",
        "cls._instances += 1",
        "self._busy[3] = 1",
        "self._state.mark = 2",
        "box.dropped = 3",
        "box.__doc__ = 'x'",
        "setattr(self, '_path', 'x')",
        "setattr(box, 'path', 'x')",
        "x = box._seqs[0]",
        "os._exit(1)",
    ])
    assert violations(source) == []


def test_firmware_keeps_to_its_own_state():
    assert check("firmware") == []


def test_cloud_keeps_to_its_own_state():
    assert check("cloud") == []


def test_web_keeps_to_its_own_state():
    assert check("web") == []
