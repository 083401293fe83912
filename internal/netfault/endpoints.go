package netfault

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Blackhole returns a loopback address whose connections are never
// accepted: its listener's accept queue is full, so the kernel drops every
// new SYN and a dial there times out (a deterministic dial timeout, as
// from a server that is unreachable). Close releases it.
func Blackhole() (addr string, closeFn func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var conns []net.Conn
	closeFn = func() {
		for _, c := range conns {
			_ = c.Close()
		}
		_ = ln.Close()
	}
	if err := shrinkBacklog(ln); err != nil {
		closeFn()
		return "", nil, err
	}
	// Fill the accept queue until a dial gets no answer.
	for range 16 {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 300*time.Millisecond)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return ln.Addr().String(), closeFn, nil
			}
			closeFn()
			return "", nil, err
		}
		conns = append(conns, c)
	}
	closeFn()
	return "", nil, fmt.Errorf("netfault: the accept queue of %s never filled", ln.Addr())
}

// Silent returns a loopback address that accepts connections and reads
// what is sent but never answers: a server that hangs. Close releases it.
func Silent() (addr string, closeFn func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String(), func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}, nil
}
