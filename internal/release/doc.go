// Package release checks the form of the repository's CHANGELOG.md: every
// version heading is "## [X.Y.Z] - YYYY-MM-DD" with a semantic version,
// the newest first, each dated no later than the one above it and linked
// at the bottom of the file. Its test runs in make test; whether the newest
// version has its git tag is make release-check's question, never a test's
// (CI must not depend on tags).
package release
