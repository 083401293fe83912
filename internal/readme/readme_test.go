package readme

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestREADMECodeBlocksCompile type-checks every ```go block of the README:
// complete programs as main packages, test files as tests.
func TestREADMECodeBlocksCompile(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	blocks := goBlock.FindAllStringSubmatch(string(readme), -1)
	require.GreaterOrEqual(t, len(blocks), 3, "the README has a quick start per package and the suite snippet")
	for i, m := range blocks {
		src := m[1]
		require.True(t, strings.HasPrefix(src, "package "), "block %d must be a complete file:\n%s", i, src)
		dir, err := os.MkdirTemp(".", "block")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		name := "main.go"
		if strings.Contains(src, "func Test") {
			name = "block_test.go"
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
		out, err := exec.Command("go", "vet", "./"+filepath.Base(dir)).CombinedOutput()
		require.NoError(t, err, "README block %d does not compile:\n%s\n%s", i, out, src)
		if name == "main.go" {
			out, err := exec.Command("go", "run", "./"+filepath.Base(dir)).CombinedOutput()
			require.NoError(t, err, "README block %d does not run:\n%s", i, out)
			want := expectedOutput(src)
			require.NotEmpty(t, want, "block %d: the Println line must say what it prints in a trailing comment", i)
			require.Equal(t, want, strings.TrimSpace(string(out)), "README block %d prints something else", i)
		}
	}
}

// expectedOutput is the text of the "// x y: why" comment on the block's
// Println line, up to the colon.
func expectedOutput(src string) string {
	for _, line := range strings.Split(src, "\n") {
		if !strings.Contains(line, "fmt.Println(") {
			continue
		}
		_, c, ok := strings.Cut(line, "// ")
		if !ok {
			return ""
		}
		c, _, _ = strings.Cut(c, ":")
		return strings.TrimSpace(c)
	}
	return ""
}
