package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/lab"
)

// pbxKinds are the PBXs every portable scenario runs on. lab.FreeSWITCH
// joins once its simulator and driver are wired into the lab
// (internal/lab/rig.go): this is the one line to change.
var pbxKinds = []lab.PBXKind{lab.Asterisk, lab.FreeSWITCH}

// forEachPBX runs a scenario once per PBX kind, as a subtest named after
// the kind: a test names its scenario once and it runs on every driver.
// The scenario starts its lab on pbx and acts through the portable API
// only (Lab.PBX, Lab.Endpoint, Lab.Bridged, Redis, the engines).
func forEachPBX(t *testing.T, fn func(t *testing.T, pbx lab.PBXKind)) {
	t.Helper()
	for _, k := range pbxKinds {
		t.Run(string(k), func(t *testing.T) { fn(t, k) })
	}
}

// TestPortableScenariosStartOnTheirPBX: a lab started for a kind runs on
// it, and the portable API names that kind's endpoints.
func TestPortableScenariosStartOnTheirPBX(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabOn(t, pbx, 1, time.Second, nil)
		if l.Kind() != pbx || l.PBX == nil {
			t.Fatalf("lab on %q: kind %q, PBX %v", pbx, l.Kind(), l.PBX)
		}
		if got, want := l.Endpoint("1001"), pbx.Endpoint("1001"); got != want || !strings.HasSuffix(got, "/1001") {
			t.Fatalf("endpoint of 1001 on %s: %q, want %q", pbx, got, want)
		}
	})
}

// TestPortableScenariosUseOnlyThePortableAPI: a scenario that runs over
// every PBX (forEachPBX) reaches the PBX only through the portable API: no
// ARI simulator (Lab.Sim, Lab.ARIURL), no ARI driver (Replica.Driver), no
// ARI request helpers, and no technology spelled out in an endpoint
// (Lab.Endpoint names it). Otherwise it would fail, or test nothing, on
// the other kinds.
func TestPortableScenariosUseOnlyThePortableAPI(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]bool{"Sim": true, "ARIURL": true, "Driver": true}
	ariHelpers := map[string]bool{"deleteChannel": true, "createBridge": true, "endPlayback": true}
	portable := 0
	for _, f := range files {
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !callsForEachPBX(fn.Body) {
				continue
			}
			portable++
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					if forbidden[n.Sel.Name] {
						t.Errorf("%s: %s uses .%s, which only Asterisk has", fset.Position(n.Pos()), fn.Name.Name, n.Sel.Name)
					}
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok && ariHelpers[id.Name] {
						t.Errorf("%s: %s calls %s, an ARI request", fset.Position(n.Pos()), fn.Name.Name, id.Name)
					}
				case *ast.BasicLit:
					if n.Kind == token.STRING && strings.Contains(n.Value, "PJSIP/") {
						t.Errorf("%s: %s spells an Asterisk endpoint %s (use Lab.Endpoint)", fset.Position(n.Pos()), fn.Name.Name, n.Value)
					}
				}
				return true
			})
		}
	}
	if portable == 0 {
		t.Fatal("no test runs over every PBX: the check looked at nothing")
	}
}

// callsForEachPBX says whether body calls forEachPBX.
func callsForEachPBX(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "forEachPBX" {
				found = true
			}
		}
		return !found
	})
	return found
}
