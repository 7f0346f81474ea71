// Package dialtest gives tests an HTTP client that can reach this computer
// only: a dial to any other address fails the test, so a test proves that
// nothing was sent off loopback (and that an insecure URL was refused
// before any connection or DNS lookup, which is where a dial happens).
package dialtest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
)

// LoopbackClient returns a client whose connections go to 127.0.0.1 and
// [::1] only; a dial to anything else fails tb. Idle connections are
// closed when tb ends.
func LoopbackClient(tb testing.TB) *http.Client {
	d := &net.Dialer{}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if host != "127.0.0.1" && host != "::1" {
			tb.Errorf("dialled %s: only loopback may be dialled, and an insecure URL not at all", addr)
			return nil, errors.New("dial refused by the test")
		}
		return d.DialContext(ctx, network, addr)
	}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
