package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/statefold/statefold/internal/netfault"
	"github.com/statefold/statefold/storage"
)

// proxied returns a store on f's tables whose connections go through a
// loopback TCP proxy deciding faults with decide.
func proxied(t *testing.T, f fixture, decide func() netfault.Kind) (*Store, *netfault.Proxy) {
	t.Helper()
	p := &netfault.Proxy{Decide: decide, StallFor: 20 * time.Millisecond}
	return proxiedBy(t, f, p, nil), p
}

// replyDone tells the proxy when the reply to one statement is whole, from
// the MySQL protocol's packets (3-byte length, sequence id, payload): an
// OK (0x00) or ERR (0xFF) packet first; or a result set — a column count,
// that many column definitions (none when MariaDB's metadata-follows flag
// after the count is 0), rows, and a terminating packet with a 0xFE
// header (the driver asks for CLIENT_DEPRECATE_EOF, so no EOF packet sits
// between the columns and the rows), or an ERR in place of a row.
func replyDone(reply []byte) bool {
	var packets [][]byte
	for len(reply) >= 4 {
		n := int(reply[0]) | int(reply[1])<<8 | int(reply[2])<<16
		if len(reply) < 4+n {
			break
		}
		packets, reply = append(packets, reply[4:4+n]), reply[4+n:]
	}
	if len(packets) == 0 || len(packets[0]) == 0 {
		return false
	}
	first := packets[0]
	switch first[0] {
	case 0x00, 0xFF:
		return true
	case 0xFB, 0xFC, 0xFD, 0xFE:
		return false // not a one-byte column count: left to the proxy's timeout
	}
	columns := int(first[0])
	if len(first) > 1 && first[1] == 0 {
		columns = 0 // MariaDB's cached metadata: no definitions follow
	}
	for _, p := range packets[1+min(columns, len(packets)-1):] {
		if len(p) > 0 && (p[0] == 0xFF || p[0] == 0xFE && len(p) < 0xFFFFFF) {
			return true
		}
	}
	return false
}

// awaitsReply tells the proxy whether the server answers a chunk of MySQL
// packets: every command but COM_QUIT, COM_STMT_SEND_LONG_DATA and
// COM_STMT_CLOSE is answered, and so is every packet of the handshake
// (sequence id past 0).
func awaitsReply(chunk []byte) bool {
	for len(chunk) >= 5 {
		n := int(chunk[0]) | int(chunk[1])<<8 | int(chunk[2])<<16
		if chunk[3] != 0 {
			return true
		}
		switch chunk[4] {
		case 0x01, 0x18, 0x19:
		default:
			return true
		}
		if len(chunk) < 4+n {
			break
		}
		chunk = chunk[4+n:]
	}
	return false
}

// proxiedBy returns a store on f's tables whose connections go through p
// (started here), with the driver's config tweaked by tweak.
func proxiedBy(t *testing.T, f fixture, p *netfault.Proxy, tweak func(*gomysql.Config)) *Store {
	t.Helper()
	s, err := New(proxiedDB(t, p, tweak), WithTablePrefix(f.prefix))
	require.NoError(t, err)
	return s
}

// proxiedDB returns a pool whose connections go through p (started here),
// with the driver's config tweaked by tweak (if any).
func proxiedDB(t *testing.T, p *netfault.Proxy, tweak ...func(*gomysql.Config)) *sql.DB {
	t.Helper()
	server.once.Do(resolveServer)
	p.Target, p.ReplyDone, p.AwaitsReply = server.cfg.Addr, replyDone, awaitsReply
	require.NoError(t, p.Start())
	t.Cleanup(func() { _ = p.Close() })
	// Timeouts, as a service sets them: a connection that hangs is an
	// error, not a stuck caller — reads and writes longer than any wait of
	// the proxy's, so that a caller hears of a cut or a reset only after
	// the statement it sent has run.
	return openDB(t, func(c *gomysql.Config) {
		c.Net, c.Addr = "tcp", p.Addr()
		c.Timeout, c.ReadTimeout, c.WriteTimeout = time.Second, 10*time.Second, 10*time.Second
		for _, tw := range tweak {
			if tw != nil {
				tw(c)
			}
		}
	})
}

// armed returns a Decide that injects kind into the next chunk once armed.
func armed(kind netfault.Kind) (func() netfault.Kind, *atomic.Bool) {
	var on atomic.Bool
	return func() netfault.Kind {
		if on.Swap(false) {
			return kind
		}
		return ""
	}, &on
}

// A connection cut after the statement was forwarded, before its reply:
// the write may have run, so the error matches ErrAmbiguous (and
// ErrUnavailable), never a conflict or a success; the next call works on a
// new connection.
func TestCutAfterAStatementIsAmbiguous(t *testing.T) {
	t.Parallel()
	decide, on := armed(netfault.Cut)
	s, p := proxied(t, newFixture(t), decide)
	netfault.CutUpdate(t, s, p, func() { on.Store(true) }, false)
}

// A compare-and-swap whose UPDATE changed nothing and whose read-back
// (conflict or missing?) lost its connection: the write surely did not
// land, so the error matches ErrUnavailable, neither ErrAmbiguous nor
// ErrConflict.
func TestCutReadBackIsUnavailable(t *testing.T) {
	t.Parallel()
	decide, on := netfault.CutStatement("SELECT version, state FROM")
	p := &netfault.Proxy{DecideChunk: decide}
	// Statements go as text, so the proxy can tell the read-back.
	s := proxiedBy(t, newFixture(t), p, func(c *gomysql.Config) { c.InterpolateParams = true })
	netfault.CutUpdate(t, s, p, func() { on.Store(true) }, true)
}

// Every connection reset at once (a failover) is survived by the next
// call; refused connections make reads and writes ErrUnavailable, a write
// whose dial was refused not ambiguous (nothing was sent), and nothing is
// written.
func TestRefusedAndResetConnections(t *testing.T) {
	t.Parallel()
	s, p := proxied(t, newFixture(t), nil)
	netfault.RefusedAndReset(t, s, p)
}

// A reset (every connection closed at once) that finds a statement at the
// server lets it finish before its client hears of the reset: when the
// caller gets its error the statement has run, as after a cut, so no write
// lands after its caller has moved on (the explorer's steps stay atomic).
func TestResetLetsAReceivedStatementFinish(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.store.CreateBatch(ctx, storage.Batch{Queue: "q", ID: "b", State: "queued"})
	require.NoError(t, err)
	p := &netfault.Proxy{}
	db := proxiedDB(t, p)
	done := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "UPDATE "+f.table("batches")+
			" SET state = 'running', version = version + 1 WHERE queue = 'q' AND id = 'b' AND SLEEP(0.3) = 0")
		done <- err
	}()
	require.Eventually(t, func() bool { // the statement is running at the server
		var n int
		err := f.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SLEEP(0.3) = 0'").Scan(&n)
		return err == nil && n > 0
	}, 10*time.Second, time.Millisecond)
	p.ResetAll()
	err = <-done
	netfault.Ambiguous(t, callErr(ctx, "update", true, err), "the reply was lost")
	got, err := f.store.GetBatch(ctx, "q", "b")
	require.NoError(t, err)
	require.Equal(t, "running", got.State, "the statement had run when its caller got the error")
	require.Equal(t, int64(2), got.Version)
}

// A write whose context ends while the proxy holds its statement may
// still be sent and land: its error matches ErrAmbiguous (and the
// context's), not a plain context error.
func TestCanceledWriteIsAmbiguous(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	decide, on := netfault.StallStatement("UPDATE")
	p := &netfault.Proxy{DecideChunk: decide, StallFor: 300 * time.Millisecond}
	s := proxiedBy(t, f, p, func(c *gomysql.Config) { c.InterpolateParams = true })
	landed := netfault.CanceledWrite(t, s, f.store, func() { on.Store(true) }, p.StallFor)
	t.Logf("the held UPDATE landed after its caller gave up: %v", landed)
}

// The explorer's scenarios with the actors' statements going through the
// proxy, which cuts connections after a statement, stalls and resets them
// at random. Setup and checks read the tables directly. The invariants
// hold; the test logs one line for make test.
func TestNetworkFaults(t *testing.T) {
	f := newFixture(t)
	s, p := proxied(t, f, netfault.Random(5, 9,
		netfault.Odds{Kind: netfault.Cut, Chance: 0.04}, netfault.Odds{Kind: netfault.Stall, Chance: 0.03},
		netfault.Odds{Kind: netfault.Reset, Chance: 0.005}))
	counts := netfault.Explore(t, "mysql", f.store, s, p.Counts, 45*time.Second)
	require.Positive(t, counts[netfault.Cut], "connections were cut after a statement")
}

// A history of concurrent calls through the proxy's cuts, stalls and
// resets (a request dropped before it reached the server, every
// connection closed) is linearizable; the test logs one line for make
// test.
func TestLinearizable(t *testing.T) {
	f := newFixture(t)
	s, p := proxied(t, f, netfault.Random(13, 17,
		netfault.Odds{Kind: netfault.Cut, Chance: 0.05}, netfault.Odds{Kind: netfault.Stall, Chance: 0.03},
		netfault.Odds{Kind: netfault.Reset, Chance: 0.01}))
	netfault.Linearizable(t, "mysql", s, p.Counts)
}

// The proxy's reply parser: whole replies are told from partial ones.
func TestReplyDone(t *testing.T) {
	t.Parallel()
	packet := func(seq byte, payload ...byte) []byte {
		return append([]byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}, payload...)
	}
	ok := packet(1, 0x00, 1, 0, 2, 0, 0, 0)
	column := packet(2, append([]byte{3}, []byte("def")...)...)
	row := packet(4, 1, '7')
	end := packet(5, 0xFE, 0, 0, 2, 0, 0, 0)
	resultSet := func(parts ...[]byte) []byte { return bytes.Join(append([][]byte{packet(1, 2)}, parts...), nil) }
	for name, c := range map[string]struct {
		reply []byte
		done  bool
	}{
		"ok":                {ok, true},
		"ok, partial":       {ok[:6], false},
		"error":             {packet(1, 0xFF, 0x15, 0x04), true},
		"columns only":      {resultSet(column, column), false},
		"rows, no end":      {resultSet(column, column, row), false},
		"whole result set":  {resultSet(column, column, row, row, end), true},
		"empty result set":  {resultSet(column, column, end), true},
		"error in the rows": {resultSet(column, column, row, packet(5, 0xFF, 1, 2)), true},
		"header only":       {[]byte{7, 0}, false},
		"end split in two":  {resultSet(column, column, row, end[:5]), false},
		// MariaDB leaves the column definitions out when the client
		// cached them (the flag after the count is 0).
		"cached metadata, whole":    {bytes.Join([][]byte{packet(1, 2, 0), row, row, end}, nil), true},
		"cached metadata, no end":   {bytes.Join([][]byte{packet(1, 2, 0), row, row}, nil), false},
		"metadata follows, whole":   {bytes.Join([][]byte{packet(1, 2, 1), column, column, row, end}, nil), true},
		"metadata follows, partial": {bytes.Join([][]byte{packet(1, 2, 1), column, column, row}, nil), false},
	} {
		require.Equal(t, c.done, replyDone(c.reply), name)
	}
}

// The proxy's command parser: a reset waits only for commands that get a
// reply.
func TestAwaitsReply(t *testing.T) {
	t.Parallel()
	packet := func(seq byte, payload ...byte) []byte {
		return append([]byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}, payload...)
	}
	stmtClose := packet(0, 0x19, 1, 0, 0, 0)
	prepare := packet(0, append([]byte{0x16}, "SELECT 1"...)...)
	for name, c := range map[string]struct {
		chunk []byte
		waits bool
	}{
		"statement close":           {stmtClose, false},
		"quit":                      {packet(0, 0x01), false},
		"prepare":                   {prepare, true},
		"execute":                   {packet(0, 0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0), true},
		"close, then prepare":       {append(append([]byte(nil), stmtClose...), prepare...), true},
		"handshake response":        {packet(1, 0x8d, 0xa6, 0x0f, 0), true},
		"empty":                     {nil, false},
		"close, then a partial one": {append(append([]byte(nil), stmtClose...), 9, 0, 0, 0), false},
	} {
		require.Equal(t, c.waits, awaitsReply(c.chunk), name)
	}
}
