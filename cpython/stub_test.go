package cpython_test

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// TestStubMatchesModule: bindings/stubs/subinterp.pyi declares exactly the
// module's public names, and each class's public methods.
func TestStubMatchesModule(t *testing.T) {
	stub, err := os.ReadFile("../bindings/stubs/subinterp.pyi")
	require.NoError(t, err)
	in := newInterp(t)
	err = in.Exec(bg, `
import ast, subinterp
tree = ast.parse(stub)
declared = {}
for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        declared[node.name] = node
    elif isinstance(node, ast.AnnAssign):
        declared[node.target.id] = node
public = {n for n in dir(subinterp) if not n.startswith("_")}
stubbed = {n for n in declared if not n.startswith("_")}
missing, extra = sorted(public - stubbed), sorted(stubbed - public)
problems = []
if missing: problems.append(f"not in the stub: {missing}")
if extra: problems.append(f"in the stub only: {extra}")
for name in sorted(public & stubbed):
    node, obj = declared[name], getattr(subinterp, name)
    if isinstance(node, ast.ClassDef) and not issubclass(obj, BaseException):
        methods = {m.name for m in node.body if isinstance(m, ast.FunctionDef) and not m.name.startswith("_")}
        real = {m for m in dir(obj) if not m.startswith("_")}
        if methods != real:
            problems.append(f"{name}: stub {sorted(methods)} != module {sorted(real)}")
assert not problems, "\n".join(problems)
`, cpython.WithGlobals(map[string]any{"stub": string(stub)}))
	var rf *cpython.RunFailedError
	if errors.As(err, &rf) {
		t.Fatal(rf.Message)
	}
	require.NoError(t, err)
}
