package acd

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func registryEngine() *Engine {
	return &Engine{legs: map[string]*call{}, calls: map[string]*call{}, callEnded: make(chan struct{}, 1)}
}

// TestForgetCallRemovesOnlyItsOwnKeys: a call's end removes the legs and
// ids it registered, keeps those rebound to another call since, and leaves
// other calls' keys alone; concurrent registrations keep the registry
// consistent (run with -race).
func TestForgetCallRemovesOnlyItsOwnKeys(t *testing.T) {
	e := registryEngine()
	a, b := &call{e: e, conn: "A"}, &call{e: e, conn: "B"}
	e.mu.Lock()
	e.bindLegLocked("a-caller", a)
	e.bindCallLocked("A", a)
	e.bindLegLocked("b-caller", b)
	e.bindCallLocked("B", b)
	e.mu.Unlock()
	e.registerLeg("a-agent", a)
	e.registerCall("consult-1", a)
	e.registerLeg("moved", a)
	e.registerLeg("moved", b) // the leg now belongs to b
	e.registerLeg("dropped", a)
	e.forgetLeg("dropped")

	e.forgetCall(a)

	for _, k := range []string{"a-caller", "a-agent", "dropped"} {
		if e.legs[k] != nil {
			t.Errorf("leg %s still registered after its call ended", k)
		}
	}
	if e.calls["A"] != nil || e.calls["consult-1"] != nil {
		t.Errorf("ids of the ended call still registered: %v", e.calls)
	}
	if e.legs["moved"] != b || e.legs["b-caller"] != b || e.calls["B"] != b {
		t.Errorf("the other call's keys were removed: legs %v calls %v", e.legs, e.calls)
	}
	if len(a.regLegs) != 0 || len(a.regIDs) != 0 {
		t.Errorf("ended call keeps its key lists: %v %v", a.regLegs, a.regIDs)
	}

	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &call{e: e, conn: fmt.Sprint("c", i)}
			for j := 0; j < 50; j++ {
				e.registerLeg(fmt.Sprint("c", i, "-", j), c)
				e.registerCall(fmt.Sprint("c", i, "/", j), c)
				if j%2 == 0 {
					e.forgetLeg(fmt.Sprint("c", i, "-", j))
				}
			}
			e.forgetCall(c)
		}()
	}
	wg.Wait()
	e.forgetCall(b)
	if len(e.legs) != 0 || len(e.calls) != 0 {
		t.Errorf("registry not empty after every call ended: %d legs, %d ids", len(e.legs), len(e.calls))
	}
}

// TestRegistryWritesGoThroughBind: forgetCall only finds keys recorded by
// bindLegLocked / bindCallLocked, so no other code may write Engine.legs
// or Engine.calls (a direct write would leak the entry after the call).
func TestRegistryWritesGoThroughBind(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if name == "registry.go" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok {
				return true
			}
			for _, lhs := range as.Lhs {
				ix, ok := lhs.(*ast.IndexExpr)
				if !ok {
					continue
				}
				if sel, ok := ix.X.(*ast.SelectorExpr); ok && (sel.Sel.Name == "legs" || sel.Sel.Name == "calls") {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == "e" {
						t.Errorf("%s: writes e.%s directly; use bindLegLocked/bindCallLocked", fset.Position(as.Pos()), sel.Sel.Name)
					}
				}
			}
			return true
		})
		for _, call := range collectDeletes(f) {
			t.Errorf("%s: deletes from e.%s directly; use unbindLegLocked/forgetCallLocked", fset.Position(call.Pos()), call.Args[0].(*ast.SelectorExpr).Sel.Name)
		}
	}
}

func collectDeletes(f *ast.File) []*ast.CallExpr {
	var out []*ast.CallExpr
	ast.Inspect(f, func(n ast.Node) bool {
		ce, ok := n.(*ast.CallExpr)
		if !ok || len(ce.Args) != 2 {
			return true
		}
		if fn, ok := ce.Fun.(*ast.Ident); !ok || fn.Name != "delete" {
			return true
		}
		if sel, ok := ce.Args[0].(*ast.SelectorExpr); ok && (sel.Sel.Name == "legs" || sel.Sel.Name == "calls") {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "e" {
				out = append(out, ce)
			}
		}
		return true
	})
	return out
}

// BenchmarkForgetCall: ending one call while the replica holds held others
// (3 keys each). Proportional to the call's own keys: ns/op stays flat from
// 1,000 to 100,000 held calls (it used to scan both maps: O(held)).
func BenchmarkForgetCall(b *testing.B) {
	for _, held := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprint("held=", held), func(b *testing.B) {
			e := registryEngine()
			e.mu.Lock()
			for i := 0; i < held; i++ {
				c := &call{e: e, conn: fmt.Sprint("h", i)}
				e.bindCallLocked(c.conn, c)
				e.bindLegLocked(c.conn+"-caller", c)
				e.bindLegLocked(c.conn+"-agent", c)
			}
			e.mu.Unlock()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := &call{e: e, conn: "x"}
				e.registerCall("x", c)
				e.registerLeg("x-caller", c)
				e.registerLeg("x-agent", c)
				e.forgetCall(c)
			}
		})
	}
}
