// The package contracts of docs/ARCHITECTURE.md ("Packages (one job
// each)"), checked against what the packages really import. This table is
// the authority: the document's table has one row per entry here (the test
// checks that too), and its "may import" column says the same in words.
package gocls_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/gocls/gocls/"

// contract is what the packages of one row may import. Standard-library
// packages are always allowed. Others are patterns: "internal/*" is any
// package under internal/, "X/..." is X and everything under it. gocls
// packages are written without the module path.
type contract struct {
	gocls    []string // gocls packages
	external []string // other modules ("*": any)
}

var (
	gomlx = "github.com/gomlx/..." // GoMLX and its compute backends (the vendored fork included)
	xla   = "github.com/gomlx/go-xla/..."
	// topLevel is every gocls package but the commands.
	topLevel = []string{"preprocess", "dataset", "evaluate", "models/resnet", "weights", "checkpoint", "train", "predict", "internal/*"}
)

// contracts maps each row of ARCHITECTURE.md's package table (its first
// column, without the trailing slash) to its rule.
var contracts = map[string]contract{
	"preprocess":    {external: []string{"golang.org/x/image/..."}},
	"dataset":       {gocls: []string{"internal/*", "preprocess"}, external: []string{"golang.org/x/image/...", "C"}},
	"models/resnet": {external: []string{gomlx}},
	"weights":       {gocls: []string{"internal/*", "models/resnet", "checkpoint", "preprocess"}, external: []string{gomlx, "github.com/nlpodyssey/gopickle/..."}},
	"checkpoint":    {gocls: []string{"internal/*", "preprocess"}, external: []string{gomlx}},
	"evaluate":      {gocls: []string{"internal/*"}, external: []string{"gonum.org/v1/plot/..."}},
	"train":         {gocls: without(topLevel, "train", "predict"), external: []string{"*"}},
	"predict":       {gocls: without(topLevel, "train", "predict"), external: []string{"*"}},
	"predict/predicttest": {gocls: []string{"internal/*", "models/resnet", "checkpoint", "preprocess"},
		external: []string{gomlx}},
	"internal/jpeg":        {},
	"internal/atomicfile":  {},
	"internal/safetensors": {},
	"internal/cfgfile":     {external: []string{"gopkg.in/yaml.v3"}},
	"internal/backend":     {external: []string{gomlx, xla, "C"}},
	"internal/devdata":     {},
	"internal/golden":      {external: []string{"github.com/stretchr/testify/..."}},
	"internal/synth":       {gocls: []string{"internal/*"}},
	"cmd/*":                {gocls: topLevel, external: []string{"*"}},
}

// pendingImports are known breaches waiting for a change on another branch:
// the package's test skips while the import is there and fails once it is
// gone, so that the entry is deleted with the breach.
var pendingImports = map[string]string{}

func without(list []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return slices.Contains(drop, s) })
}

// matches reports whether pkg is pattern: equal, under "X/...", or for
// "internal/*" any package below internal/.
func matches(pattern, pkg string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasSuffix(pattern, "/..."):
		base := strings.TrimSuffix(pattern, "/...")
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	case strings.HasSuffix(pattern, "/*"):
		return strings.HasPrefix(pkg, strings.TrimSuffix(pattern, "*"))
	}
	return pkg == pattern
}

// rowOf returns the row of contracts that governs pkg (a gocls package
// without the module path).
func rowOf(pkg string) (string, bool) {
	if _, ok := contracts[pkg]; ok {
		return pkg, true
	}
	for row := range contracts {
		if strings.HasSuffix(row, "/*") && matches(row, pkg) {
			return row, true
		}
	}
	return "", false
}

// isStdlib: standard-library import paths have no dot in their first element
// ("C" is cgo's and listed where allowed).
func isStdlib(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return imp != "C" && !strings.Contains(first, ".")
}

// optionalTags are the build tags that select optional files (cgo
// libjpeg-turbo; the ONNX Runtime convolution): the imports are listed
// without them and with all of them. platformTags are the tags a build
// sets by itself. TestBuildTagsKnown keeps the two lists complete.
var (
	optionalTags = []string{"libjpeg", "onnx"}
	platformTags = []string{"cgo", "amd64", "arm64", "linux", "darwin", "windows", "goexperiment.simd", "ignore"}
)

// imports returns each gocls package's imports (not its tests'), as `go
// list` reports them for the default build and with every optional build
// tag, so that tagged files are checked too.
func imports(t *testing.T) map[string][]string {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot list the packages' imports")
	}
	out := map[string][]string{}
	for _, tags := range []string{"", strings.Join(optionalTags, ",")} {
		cmd := exec.Command(goCmd, "list", "-e", "-tags", tags, "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		require.NoError(t, err, "go list: %s", stderr.String())
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			fields := strings.Fields(line)
			pkg, ok := strings.CutPrefix(fields[0], module)
			if !ok {
				continue
			}
			for _, imp := range fields[1:] {
				if !slices.Contains(out[pkg], imp) {
					out[pkg] = append(out[pkg], imp)
				}
			}
			if _, seen := out[pkg]; !seen {
				out[pkg] = nil
			}
		}
	}
	return out
}

// breaches returns the imports of pkg that its row does not allow.
func breaches(c contract, imps []string) []string {
	var bad []string
	for _, imp := range imps {
		if isStdlib(imp) {
			continue
		}
		allowed := c.external
		name := imp
		if local, ok := strings.CutPrefix(imp, module); ok {
			allowed, name = c.gocls, local
		}
		if !slices.ContainsFunc(allowed, func(p string) bool { return matches(p, name) }) {
			bad = append(bad, imp)
		}
	}
	return bad
}

func TestPackageContracts(t *testing.T) {
	all := imports(t)
	require.Contains(t, all, "train", "go list found the module's packages")
	pkgs := make([]string, 0, len(all))
	for pkg := range all {
		pkgs = append(pkgs, pkg)
	}
	slices.Sort(pkgs)
	for _, pkg := range pkgs {
		t.Run(pkg, func(t *testing.T) {
			row, ok := rowOf(pkg)
			require.True(t, ok, "package %s has no row in docs/ARCHITECTURE.md's package table and contracts_test.go", pkg)
			bad := breaches(contracts[row], all[pkg])
			if want, ok := pendingImports[pkg]; ok {
				if slices.Equal(bad, []string{module + want}) {
					t.Skipf("%s still imports %s: pending on another branch (see pendingImports)", pkg, want)
				}
				require.NotContains(t, bad, module+want, "pending breach")
				t.Errorf("%s no longer imports %s: delete its pendingImports entry", pkg, want)
			}
			require.Empty(t, bad, "%s (row %q of docs/ARCHITECTURE.md) imports what its contract does not allow", pkg, row)
		})
	}
}

// TestContractsTableMatchesDoc: the rows of ARCHITECTURE.md's package table
// are the rows of contracts (third_party is its own module, not listed by
// go list ./...).
func TestContractsTableMatchesDoc(t *testing.T) {
	doc, err := os.ReadFile("docs/ARCHITECTURE.md")
	require.NoError(t, err)
	section := string(doc)
	start := strings.Index(section, "## Packages")
	require.GreaterOrEqual(t, start, 0, "ARCHITECTURE.md has a Packages section")
	section = section[start:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	var rows []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(section, -1) {
		row := strings.TrimSuffix(m[1], "/")
		if !strings.HasPrefix(row, "third_party") {
			rows = append(rows, path.Clean(row))
		}
	}
	var want []string
	for row := range contracts {
		want = append(want, row)
	}
	require.ElementsMatch(t, want, rows, "one contract per row of docs/ARCHITECTURE.md's package table")
}

func TestContractRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    contract
		imps []string
		want []string
	}{
		{"stdlib always", contract{}, []string{"fmt", "image/color"}, nil},
		{"cgo only when listed", contract{}, []string{"C"}, []string{"C"}},
		{"module prefix", contract{external: []string{gomlx}}, []string{"github.com/gomlx/gomlx/core/graph", "github.com/gomlxx/y"},
			[]string{"github.com/gomlxx/y"}},
		{"internal star", contract{gocls: []string{"internal/*"}}, []string{module + "internal/jpeg", module + "dataset"},
			[]string{module + "dataset"}},
		{"exact gocls", contract{gocls: []string{"models/resnet"}, external: []string{"*"}},
			[]string{module + "models/resnet", module + "models/resnetx", "gonum.org/v1/plot"}, []string{module + "models/resnetx"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, breaches(tc.c, tc.imps))
		})
	}
	row, ok := rowOf("cmd/train")
	require.True(t, ok)
	require.Equal(t, "cmd/*", row)
	_, ok = rowOf("newpkg")
	require.False(t, ok)
}

// TestBuildTagsKnown: every build tag of the module's files (third_party is
// its own module) is optional or set by the platform, so that imports checks
// every file.
func TestBuildTagsKnown(t *testing.T) {
	tag := regexp.MustCompile(`[A-Za-z0-9_.]+`)
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "third_party" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			expr, ok := strings.CutPrefix(line, "//go:build ")
			if !ok {
				continue
			}
			for _, name := range tag.FindAllString(expr, -1) {
				if !slices.Contains(optionalTags, name) && !slices.Contains(platformTags, name) {
					t.Errorf("%s: build tag %q is in neither optionalTags nor platformTags", p, name)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
}
