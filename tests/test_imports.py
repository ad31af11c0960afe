"""tfbert's modules import one another in one direction: no module imports, at its top level, one that imports it."""
import ast

from conftest import ROOT

PACKAGE = ROOT / "tfbert"


def module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def top_level_imports(name) -> set[str]:
    """The tfbert modules `name` imports when it is imported (imports inside functions run later, and are left out)."""
    found = set()
    for node in ast.walk(ast.Module(body=[n for n in ast.parse(MODULES[name].read_text()).body
                                          if not isinstance(n, (ast.FunctionDef, ast.ClassDef))], type_ignores=[])):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # from tfbert import runs
    imported = set()
    for target in found:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name:
            imported.add(target)
            imported |= {".".join(target.split(".")[:i]) for i in range(1, target.count(".") + 1)}  # its packages
    own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}  # being imported already
    return imported - {name} - own_packages


def test_no_module_of_tfbert_imports_itself_through_others():
    graph = {name: top_level_imports(name) for name in MODULES}
    assert graph["tfbert.distribute"] >= {"tfbert.devices", "tfbert.keras"}  # the reader sees real edges
    cycles, state = [], {}

    def visit(name, path):
        state[name] = "open"
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                cycles.append(" -> ".join(path[path.index(other):] + [other]))
            elif other not in state:
                visit(other, path + [other])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_the_notebook_helpers_are_imported_by_no_module_of_the_library():
    assert not [name for name in MODULES if "tfbert.notebook" in top_level_imports(name)]
