package netfault

import (
	"errors"
	"io"
	"maps"
	"net"
	"sync"
	"time"
)

// Proxy is a loopback TCP proxy to a server (MySQL, PostgreSQL: anything
// over TCP) that injects connection faults. Decide is asked once per chunk
// the client sends; the fault it picks happens there:
//
//   - [Cut]: the chunk (a statement) is forwarded and the server's reply
//     read, then both connections are closed without passing the reply on:
//     the statement ran, and the client cannot tell whether it did (the
//     reply is lost, as when a connection dies at the worst moment);
//   - [Stall]: the chunk is held for StallFor, then forwarded;
//   - [Reset]: every open connection is closed at once, as in a failover.
//     With ReplyDone set, a connection whose statement the server has
//     received is closed once that statement's reply is whole (the reply
//     lost, as for a cut) and nothing more is forwarded on it: when its
//     client hears of the reset the statement has run, so no write lands
//     after its caller has moved on;
//   - [Refuse]: no chunk fault; while Refusing is set the proxy stops
//     listening, so new connections are refused by the kernel
//     (ECONNREFUSED, as from a server that is down) and nothing is sent.
type Proxy struct {
	// Target is the server's address.
	Target string
	// Decide picks the fault for one client chunk; "" forwards it. Nil
	// forwards everything.
	Decide func() Kind
	// DecideChunk, when set, is asked instead of Decide with the chunk's
	// bytes, so that a test can hit one statement by its text.
	DecideChunk func(chunk []byte) Kind
	// StallFor is how long a Stall holds a chunk (default 50ms).
	StallFor time.Duration
	// ReplyDone, when set, tells from the bytes of a statement's reply so
	// far whether the whole reply has arrived (for PostgreSQL: a
	// ReadyForQuery message), so that the statement has surely finished
	// before a cut or a reset closes its connection. Without it a cut waits
	// until the server has been quiet for QuietFor, and a reset closes
	// every connection at once.
	ReplyDone func(reply []byte) bool
	// AwaitsReply, when set, tells whether the server answers a client
	// chunk (a MySQL COM_STMT_CLOSE, for one, gets no answer), so that a
	// cut or a reset does not wait for a reply that never comes; nil means
	// every chunk is answered.
	AwaitsReply func(chunk []byte) bool
	// QuietFor is how long the server must stay quiet before a cut
	// statement's reply is taken as whole, without ReplyDone (default
	// 300ms).
	QuietFor time.Duration

	addr   string
	mu     sync.Mutex
	ln     net.Listener // nil while refusing
	conns  map[*link]bool
	counts map[Kind]int
	wg     sync.WaitGroup
}

// Start listens on a free loopback port and serves until Close.
func (p *Proxy) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p.ln, p.addr, p.conns, p.counts = ln, ln.Addr().String(), map[*link]bool{}, map[Kind]int{}
	p.wg.Add(1)
	go p.accept(ln)
	return nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.addr }

// Counts returns how many faults of each kind were injected.
func (p *Proxy) Counts() map[Kind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Refusing sets whether new connections are refused: on closes the
// listener (open connections stay), off listens on the same address again.
// Each switch to on counts one [Refuse].
func (p *Proxy) Refusing(on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && p.ln != nil:
		p.counts[Refuse]++
		err := p.ln.Close()
		p.ln = nil
		return err
	case !on && p.ln == nil:
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return err
		}
		p.ln = ln
		p.wg.Add(1)
		go p.accept(ln)
	}
	return nil
}

// ResetAll closes every open connection; with ReplyDone set, one whose
// statement is at the server once the statement's reply is whole (see
// [Reset]).
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	p.counts[Reset]++
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.mu.Lock()
		if l.cut {
			l.mu.Unlock()
			continue // cut already: closed once its reply is whole
		}
		if l.busy && p.ReplyDone != nil {
			// Lose the reply once it is whole; give up on one that does
			// not begin after a while.
			l.cut, l.reset = true, true
			_ = l.server.SetReadDeadline(time.Now().Add(replyWait))
			l.mu.Unlock()
			continue
		}
		l.mu.Unlock()
		l.close()
	}
}

// cutWait is how long a cut waits for the first bytes of the reply to its
// statement before it closes the connection anyway, when the proxy cannot
// tell whether the statement gets a reply (no AwaitsReply).
const cutWait = 500 * time.Millisecond

// replyWait is how long a reset, or a cut of a statement known to get a
// reply, waits for the reply's first bytes before it closes the connection
// anyway.
const replyWait = 5 * time.Second

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	var err error
	p.mu.Lock()
	if p.ln != nil {
		err = p.ln.Close()
		p.ln = nil
	}
	for l := range p.conns {
		l.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// link is one proxied connection: the client's and the server's side.
type link struct {
	client, server net.Conn

	mu sync.Mutex
	// busy: a chunk was forwarded and its reply is not whole yet (known
	// only with ReplyDone); reply holds the reply so far.
	busy  bool
	reply []byte
	// cut: the reply to the chunk in flight is lost, and the connection
	// closed once it is whole; reset: a reset did it, and no further chunk
	// is forwarded.
	cut, reset bool
}

func (l *link) close() {
	_ = l.client.Close()
	_ = l.server.Close()
}

func (p *Proxy) track(l *link, on bool) {
	p.mu.Lock()
	if on {
		p.conns[l] = true
	} else {
		delete(p.conns, l)
	}
	p.mu.Unlock()
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.Target)
		if err != nil {
			_ = client.Close()
			continue
		}
		l := &link{client: client, server: server}
		p.track(l, true)
		p.wg.Add(2)
		go func() { // server → client
			defer p.wg.Done()
			p.replies(l)
			l.close()
			p.track(l, false)
		}()
		go func() { // client → server, chunk by chunk
			defer p.wg.Done()
			p.pump(l)
			l.mu.Lock()
			waiting := l.reset // closed by replies once the reply is whole
			l.mu.Unlock()
			if !waiting {
				_ = server.Close()
			}
		}()
	}
}

// replies forwards the server's replies to the client, noting when the
// reply to the chunk in flight is whole, and loses the reply to a cut one.
func (p *Proxy) replies(l *link) {
	buf := make([]byte, 64<<10)
	for {
		n, err := l.server.Read(buf)
		if n > 0 {
			l.mu.Lock()
			if l.cut {
				reply := append(l.reply, buf[:n]...)
				l.mu.Unlock()
				p.drain(l.server, reply, buf)
				return
			}
			if l.busy && p.ReplyDone != nil {
				l.reply = append(l.reply, buf[:n]...)
				if p.ReplyDone(l.reply) {
					l.busy, l.reply = false, nil
				}
			}
			l.mu.Unlock()
			if _, werr := l.client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// drain reads the rest of a cut statement's reply, which begins with
// reply, until it is whole (or, without ReplyDone, until the server has
// been quiet for a moment), and loses it.
func (p *Proxy) drain(server net.Conn, reply, buf []byte) {
	for p.ReplyDone == nil || !p.ReplyDone(reply) {
		wait := p.QuietFor
		if wait == 0 {
			wait = 300 * time.Millisecond
		}
		if p.ReplyDone != nil {
			wait = 10 * time.Second
		}
		_ = server.SetReadDeadline(time.Now().Add(wait))
		m, err := server.Read(buf)
		reply = append(reply, buf[:m]...)
		if err != nil {
			return
		}
	}
}

func (p *Proxy) pump(l *link) {
	buf := make([]byte, 64<<10)
	for {
		n, err := l.client.Read(buf)
		if n > 0 {
			kind := Kind("")
			switch {
			case p.DecideChunk != nil:
				kind = p.DecideChunk(buf[:n])
			case p.Decide != nil:
				kind = p.Decide()
			}
			switch kind {
			case Stall:
				p.bump(kind)
				d := p.StallFor
				if d == 0 {
					d = 50 * time.Millisecond
				}
				time.Sleep(d)
			case Reset:
				p.ResetAll()
				return
			}
			l.mu.Lock()
			if l.reset {
				// A reset waits for the statement at the server; nothing
				// more is sent.
				l.mu.Unlock()
				continue
			}
			if kind == Cut {
				p.bump(kind)
				l.cut = true // before the server can answer
			}
			awaited := p.AwaitsReply == nil || p.AwaitsReply(buf[:n])
			if kind == Cut || awaited {
				l.busy, l.reply = true, nil
			}
			l.mu.Unlock()
			if _, werr := l.server.Write(buf[:n]); werr != nil {
				return
			}
			if kind == Cut {
				// The reply is read and dropped, and the connection
				// closed. A message known to get no reply is cut at once;
				// without AwaitsReply, when no reply has begun after a
				// short while.
				wait := cutWait
				switch {
				case !awaited:
					wait = 0
				case p.AwaitsReply != nil:
					wait = replyWait
				}
				_ = l.server.SetReadDeadline(time.Now().Add(wait))
				_, _ = io.Copy(io.Discard, l.client)
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = l.server.Close()
			}
			return
		}
	}
}

func (p *Proxy) bump(k Kind) {
	p.mu.Lock()
	p.counts[k]++
	p.mu.Unlock()
}
