package release

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The repository's changelog is well formed: every version semver,
// descending, dated and linked.
func TestChangelogForm(t *testing.T) {
	b, err := os.ReadFile("../../CHANGELOG.md")
	require.NoError(t, err)
	require.Empty(t, check(string(b)))
	require.NotEmpty(t, newest(string(b)))
}

func TestCheckFinds(t *testing.T) {
	const links = "[1.1.0]: u\n[1.0.0]: u\n[0.9.0]: u\n"
	for name, tc := range map[string]struct{ text, want string }{
		"undated newest": {"## [Unreleased]\n## [1.1.0]\n## [1.0.0] - 2026-01-02\n" + links, "not dated"},
		"bad date":       {"## [1.1.0] - 2026-13-01\n" + links, "not dated"},
		"not semver":     {"## [1.1] - 2026-01-01\n" + links, "not semantic"},
		"ascending":      {"## [1.0.0] - 2026-01-01\n## [1.1.0] - 2026-01-01\n" + links, "not older than"},
		"repeated":       {"## [1.0.0] - 2026-01-01\n## [1.0.0] - 2026-01-01\n" + links, "not older than"},
		"dates rise":     {"## [1.1.0] - 2026-01-01\n## [1.0.0] - 2026-02-01\n" + links, "dated after"},
		"no link":        {"## [1.1.0] - 2026-01-01\n## [0.8.0] - 2025-01-01\n" + links, "no link reference [0.8.0]"},
		"no version":     {"# Changelog\n## [Unreleased]\n", "no version section"},
	} {
		got := strings.Join(check(tc.text), "\n")
		require.Contains(t, got, tc.want, name)
	}
	ok := "## [Unreleased]\n## [1.1.0] - 2026-02-01\n## [1.1.0-rc.1] - 2026-01-20\n## [1.0.0] - 2026-01-01\n" + links + "[1.1.0-rc.1]: u\n"
	require.Empty(t, check(ok))
	require.Equal(t, "1.1.0", newest(ok))
}
