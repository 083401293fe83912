//go:build !unix

package netfault

import (
	"errors"
	"net"
)

// shrinkBacklog is not available here: Blackhole fails.
func shrinkBacklog(net.Listener) error {
	return errors.New("netfault: no deterministic dial timeout on this system")
}
