package cpython_test

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// TestStubMatchesModule: the stubs under bindings/stubs declare exactly
// each module's public names, and each class's public methods.
func TestStubMatchesModule(t *testing.T) {
	for _, c := range []struct{ module, file string }{
		{"subinterp", "subinterp/__init__.pyi"},
		{"subinterp.interpreters", "subinterp/interpreters/__init__.pyi"},
		{"subinterp.interpreters._queues", "subinterp/interpreters/_queues.pyi"},
		{"subinterp.interpreters.channels", "subinterp/interpreters/channels.pyi"},
	} {
		t.Run(c.module, func(t *testing.T) { checkStub(t, c.module, c.file) })
	}
}

func checkStub(t *testing.T, module, file string) {
	stub, err := os.ReadFile("../bindings/stubs/" + file)
	require.NoError(t, err)
	in := newInterp(t)
	err = in.Exec(bg, `
import ast, importlib, types
subinterp = importlib.import_module(module)
tree = ast.parse(stub)
declared = {}
for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        declared[node.name] = node
    elif isinstance(node, ast.AnnAssign):
        declared[node.target.id] = node
    elif isinstance(node, ast.ImportFrom) and node.level == 1 or (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("subinterp")):
        for a in node.names:
            if a.asname:
                declared[a.asname] = node
# Submodules and the modules the module itself imports are not its API.
names = getattr(subinterp, "__all__", None) or dir(subinterp)
public = {n for n in names if not n.startswith("_")
          and not isinstance(getattr(subinterp, n), types.ModuleType)}
stubbed = {n for n in declared if not n.startswith("_")}
missing, extra = sorted(public - stubbed), sorted(stubbed - public)
problems = []
if missing: problems.append(f"not in the stub: {missing}")
if extra: problems.append(f"in the stub only: {extra}")
for name in sorted(public & stubbed):
    node, obj = declared[name], getattr(subinterp, name)
    if isinstance(node, ast.ClassDef) and not issubclass(obj, BaseException):
        # What the class itself defines (inherited names are its bases').
        methods = {m.name for m in node.body if isinstance(m, ast.FunctionDef) and not m.name.startswith("_")}
        methods |= {m.target.id for m in node.body if isinstance(m, ast.AnnAssign) and not m.target.id.startswith("_")}
        real = {m for m in vars(obj) if not m.startswith("_")}
        if methods != real:
            problems.append(f"{name}: stub {sorted(methods)} != module {sorted(real)}")
assert not problems, "\n".join(problems)
`, cpython.WithGlobals(map[string]any{"stub": string(stub), "module": module}))
	var rf *cpython.RunFailedError
	if errors.As(err, &rf) {
		t.Fatal(rf.Message)
	}
	require.NoError(t, err)
}
