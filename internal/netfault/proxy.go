package netfault

import (
	"errors"
	"io"
	"maps"
	"net"
	"sync"
	"sync/atomic"
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
//   - [Reset]: every open connection is closed at once, as in a failover;
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
	// ReplyDone, when set, tells from the bytes of a cut statement's reply
	// so far whether the whole reply has arrived (for PostgreSQL: a
	// ReadyForQuery message), so that the statement has surely finished
	// before the connection is cut. Without it the proxy waits until the
	// server has been quiet for QuietFor.
	ReplyDone func(reply []byte) bool
	// QuietFor is how long the server must stay quiet before a cut
	// statement's reply is taken as whole, without ReplyDone (default
	// 300ms).
	QuietFor time.Duration

	addr   string
	mu     sync.Mutex
	ln     net.Listener // nil while refusing
	conns  map[net.Conn]bool
	counts map[Kind]int
	wg     sync.WaitGroup
}

// Start listens on a free loopback port and serves until Close.
func (p *Proxy) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p.ln, p.addr, p.conns, p.counts = ln, ln.Addr().String(), map[net.Conn]bool{}, map[Kind]int{}
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

// ResetAll closes every open connection.
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	p.counts[Reset]++
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	var err error
	p.mu.Lock()
	if p.ln != nil {
		err = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
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
		p.track(client, true)
		p.track(server, true)
		cut := &atomic.Bool{}
		p.wg.Add(2)
		go func() { // server → client
			defer p.wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := server.Read(buf)
				if n > 0 {
					if cut.Load() {
						// The reply to a cut statement: drain it until the
						// server has been quiet for a moment (the whole
						// reply, whatever the protocol), then lose it.
						reply := append([]byte(nil), buf[:n]...)
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
								break
							}
						}
						_ = client.Close()
						_ = server.Close()
						break
					}
					if _, werr := client.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			_ = client.Close()
			p.track(server, false)
		}()
		go func() { // client → server, chunk by chunk
			defer p.wg.Done()
			p.pump(client, server, cut)
			_ = server.Close()
			p.track(client, false)
		}()
	}
}

func (p *Proxy) pump(client, server net.Conn, cut *atomic.Bool) {
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
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
			if kind == Cut {
				p.bump(kind)
				cut.Store(true) // before the server can answer
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
			if kind == Cut {
				// Wait for the reply to be read and dropped (a message
				// with no reply is cut after a short while).
				t := time.AfterFunc(500*time.Millisecond, func() { _ = client.Close(); _ = server.Close() })
				_, _ = io.Copy(io.Discard, client)
				t.Stop()
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = server.Close()
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
