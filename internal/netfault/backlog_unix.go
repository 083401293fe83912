//go:build unix

package netfault

import (
	"net"
	"syscall"
)

// shrinkBacklog sets the accept queue of ln to its smallest length.
func shrinkBacklog(ln net.Listener) error {
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), 0) }); err != nil {
		return err
	}
	return lerr
}
