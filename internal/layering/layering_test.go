package layering

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tandem-cc/tandem"

// core are the packages of the contact-center core (with any package
// below them); their dependencies, direct or not, are checked.
var core = []string{module + "/acd", module + "/agents", module + "/callbacks", module + "/cad"}

// forbidden are the import paths (and everything below them) the core
// must not depend on: the configuration (it translates into the core's
// settings, not the other way round) and its libraries, the PBX drivers
// and PBX client libraries, the simulator, and the layers above the core.
var forbidden = []string{
	module + "/config",
	"github.com/spf13/viper",
	"github.com/spf13/pflag",
	module + "/ari",
	module + "/esl",
	module + "/pbxmux",
	module + "/pbxsim",
	"github.com/CyCoreSystems/ari",
	"github.com/percipia/eslgo",
	"github.com/fiorix/go-eventsocket",
	module + "/api",
	module + "/cmd",
}

// deps runs `go list` and returns, for each package matched by patterns,
// the packages it depends on (its non-test build, direct or not).
func deps(t *testing.T, patterns ...string) map[string][]string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	args := append([]string{"list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}"}, patterns...)
	var stderr bytes.Buffer
	cmd := exec.Command(goTool, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	m := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			m[fields[0]] = fields[1:]
		}
	}
	return m
}

// offending returns the entries of forbidden that ds reaches (a package
// or one below it).
func offending(ds []string) []string {
	var bad []string
	for _, f := range forbidden {
		for _, d := range ds {
			if d == f || strings.HasPrefix(d, f+"/") {
				bad = append(bad, f)
				break
			}
		}
	}
	return bad
}

func TestCoreImportsNoConfigNorPBXLibrary(t *testing.T) {
	patterns := make([]string, len(core))
	for i, p := range core {
		patterns[i] = p + "/..."
	}
	all := deps(t, patterns...)
	for _, p := range core {
		if _, ok := all[p]; !ok {
			t.Fatalf("go list did not report %s (got %d packages)", p, len(all))
		}
	}
	for pkg, ds := range all {
		if bad := offending(ds); len(bad) > 0 {
			t.Errorf("%s depends on %s", pkg, strings.Join(bad, ", "))
		}
	}
}

// The check sees what it forbids: config depends on viper, the ARI driver
// on the ARI client library.
func TestForbiddenDependenciesAreSeen(t *testing.T) {
	all := deps(t, module+"/config", module+"/ari")
	for pkg, want := range map[string]string{
		module + "/config": "github.com/spf13/viper",
		module + "/ari":    "github.com/CyCoreSystems/ari",
	} {
		if bad := offending(all[pkg]); !slices.Contains(bad, want) {
			t.Errorf("%s: forbidden dependencies found %v, want %s among them", pkg, bad, want)
		}
	}
}
