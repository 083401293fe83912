package main

import (
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// redacted stands in for a password wherever the command would print one.
const redacted = "xxxxx"

// minSecret is the shortest secret replaced in everything the command
// writes; shorter ones are still removed from every DSN it prints.
const minSecret = 4

// redactor replaces secrets in everything written through its writers.
type redactor struct {
	mu      sync.Mutex
	secrets []string
}

func newRedactor() *redactor { return &redactor{} }

// add registers a secret, with the escaped forms a driver may print.
func (r *redactor) add(secret string) {
	if len(secret) < minSecret {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), url.UserPassword("", secret).String()[1:]} {
		if len(s) >= minSecret && !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
	// Longest first, so that an escaped form is not half-replaced by a
	// shorter one it contains.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
}

func (r *redactor) redact(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// writer returns w with every secret replaced. Each Write is redacted on
// its own: the command writes each message, table and JSON value in one
// Write.
func (r *redactor) writer(w io.Writer) io.Writer { return redactingWriter{r, w} }

type redactingWriter struct {
	r *redactor
	w io.Writer
}

func (rw redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(rw.w, rw.r.redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// keyValuePassword matches password=... in a key/value connection string
// (PostgreSQL's "host=... password=secret" or password='a secret').
var keyValuePassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// dsnPassword returns the password a MySQL or PostgreSQL DSN holds, or "".
func dsnPassword(dsn string) string {
	switch {
	case dsn == "":
		return ""
	case strings.Contains(dsn, "://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return rawURLPassword(dsn)
		}
		if p, ok := u.User.Password(); ok {
			return p
		}
		return u.Query().Get("password")
	case keyValuePassword.MatchString(dsn):
		v := keyValuePassword.FindStringSubmatch(dsn)[2]
		if strings.HasPrefix(v, "'") {
			v = strings.ReplaceAll(strings.Trim(v, "'"), `\'`, `'`)
		}
		return v
	}
	// MySQL: [user[:password]@][net[(addr)]]/dbname[?params]; the driver
	// splits at the last '/' and the last '@' before it.
	slash := strings.LastIndex(dsn, "/")
	if slash < 0 {
		return ""
	}
	at := strings.LastIndex(dsn[:slash], "@")
	if at < 0 {
		return ""
	}
	if _, pass, ok := strings.Cut(dsn[:at], ":"); ok {
		return pass
	}
	return ""
}

// rawURLPassword finds the password of a URL that does not parse.
func rawURLPassword(dsn string) string {
	_, rest, _ := strings.Cut(dsn, "://")
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pass, _ := strings.Cut(rest[:at], ":")
	return pass
}

// redactDSN returns dsn with its password replaced by xxxxx.
func redactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	if strings.Contains(dsn, "://") {
		if u, err := url.Parse(dsn); err == nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), redacted)
			}
			if q := u.Query(); q.Has("password") {
				q.Set("password", redacted)
				u.RawQuery = q.Encode()
			}
			return u.String()
		}
	}
	dsn = keyValuePassword.ReplaceAllString(dsn, "${1}"+redacted)
	if p := dsnPassword(dsn); p != "" && p != redacted {
		dsn = strings.ReplaceAll(dsn, ":"+p+"@", ":"+redacted+"@")
	}
	return dsn
}
