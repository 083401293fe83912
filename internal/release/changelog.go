package release

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// section is one version heading of the changelog.
type section struct {
	line    int
	version [3]int
	pre     string
	raw     string
	date    time.Time
}

var (
	versionHeading = regexp.MustCompile(`^## \[([^\]]+)\](?: - (.*))?$`)
	semver         = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$`)
	linkRef        = regexp.MustCompile(`^\[([^\]]+)\]: \S+$`)
)

// parse returns the version sections of the changelog text, the link
// references it defines, and the problems of form it found.
func parse(text string) (sections []section, links map[string]bool, problems []string) {
	links = map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := linkRef.FindStringSubmatch(line); m != nil {
			links[m[1]] = true
		}
		m := versionHeading.FindStringSubmatch(line)
		if m == nil || m[1] == "Unreleased" {
			continue
		}
		s, err := parseSection(n, m[1], m[2])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		sections = append(sections, s)
	}
	return sections, links, problems
}

// parseSection parses the heading of line n: its version and its date.
func parseSection(n int, version, date string) (section, error) {
	v := semver.FindStringSubmatch(version)
	if v == nil {
		return section{}, fmt.Errorf("line %d: version %q is not semantic (X.Y.Z)", n, version)
	}
	s := section{line: n, raw: version, pre: v[4]}
	for i := range 3 {
		s.version[i], _ = strconv.Atoi(v[i+1])
	}
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return section{}, fmt.Errorf("line %d: version %s is not dated \"- YYYY-MM-DD\" (%q)", n, version, date)
	}
	s.date = d
	return s, nil
}

// newer reports whether a is a later version than b (a pre-release
// precedes its release; pre-releases compare as strings).
func newer(a, b section) bool {
	for i := range 3 {
		if a.version[i] != b.version[i] {
			return a.version[i] > b.version[i]
		}
	}
	switch {
	case a.pre == b.pre:
		return false
	case a.pre == "":
		return true
	case b.pre == "":
		return false
	}
	return a.pre > b.pre
}

// check returns every problem of form of the changelog text.
func check(text string) []string {
	sections, links, problems := parse(text)
	if len(sections) == 0 {
		return append(problems, "no version section (## [X.Y.Z] - YYYY-MM-DD)")
	}
	for i, s := range sections {
		if !links[s.raw] {
			problems = append(problems, fmt.Sprintf("line %d: version %s has no link reference [%s]: URL", s.line, s.raw, s.raw))
		}
		if i == 0 {
			continue
		}
		prev := sections[i-1]
		if !newer(prev, s) {
			problems = append(problems, fmt.Sprintf("line %d: version %s is not older than %s above it", s.line, s.raw, prev.raw))
		}
		if s.date.After(prev.date) {
			problems = append(problems, fmt.Sprintf("line %d: version %s is dated after %s above it", s.line, s.raw, prev.raw))
		}
	}
	return problems
}

// newest returns the newest version of the changelog text, "" if none.
func newest(text string) string {
	sections, _, _ := parse(text)
	if len(sections) == 0 {
		return ""
	}
	return sections[0].raw
}
