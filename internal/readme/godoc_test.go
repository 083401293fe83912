package readme

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// outside matches what a package doc must not print: a raw diagram block,
// or a reference to a design text outside the repository.
var outside = regexp.MustCompile("(?i)mermaid|DESIGN\\.md|shared/|\\bthe design\\b")

// Every package's go doc reads on its own: no mermaid block (the diagrams
// live in the README and docs/), no reference to an outside design text.
func TestGoDocStandsAlone(t *testing.T) {
	out, err := exec.Command("go", "list", "github.com/statefold/statefold/...").Output()
	require.NoError(t, err)
	pkgs := strings.Fields(string(out))
	require.GreaterOrEqual(t, len(pkgs), 8, "every package is listed")
	for _, pkg := range pkgs {
		doc, err := exec.Command("go", "doc", "-all", pkg).CombinedOutput()
		if err != nil && strings.Contains(string(doc), "no buildable Go source files") {
			continue
		}
		require.NoError(t, err, "go doc %s:\n%s", pkg, doc)
		for i, line := range strings.Split(string(doc), "\n") {
			require.False(t, outside.MatchString(line), "go doc %s, line %d: %q", pkg, i+1, line)
		}
	}
}
