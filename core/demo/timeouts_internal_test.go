package demo

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// shortServer opens an open-mode server whose timeouts are t.
func shortServer(tb testing.TB, to timeouts, faults Faults) *Server {
	tb.Helper()
	s := NewServer(Config{Patients: 30, Seed: 1, Open: true, MinPoll: -1, FileLines: 300, Faults: faults,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.timeouts = to
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestTimeouts_SlowDownloadCompletes: a download that takes several times
// the read timeout and the write stall bound still completes, because it
// keeps making progress.
func TestTimeouts_SlowDownloadCompletes(t *testing.T) {
	to := timeouts{readHeader: 100 * time.Millisecond, read: 100 * time.Millisecond,
		writeStall: 150 * time.Millisecond, idle: 100 * time.Millisecond}
	plain := shortServer(t, defaultTimeouts, Faults{})
	// 256 KB/s: a file of 300 Observations takes about a second.
	slow := shortServer(t, to, Faults{SlowFiles: 256 << 10})
	var bodies [2][]byte
	for i, s := range []*Server{plain, slow} {
		fileURL := exportOneFile(t, s, "Observation")
		req, _ := http.NewRequest("GET", fileURL, nil)
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		bodies[i], err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("server %d: read file: %v", i, err)
		}
	}
	if len(bodies[0]) < 128<<10 {
		t.Fatalf("file has %d bytes; want over 128 KB so the slow download outlasts the timeouts", len(bodies[0]))
	}
	if string(bodies[0]) != string(bodies[1]) {
		t.Errorf("slow download has %d bytes, plain %d; want identical", len(bodies[1]), len(bodies[0]))
	}
}

// TestTimeouts_SilentConnectionsClosed: a connection that sends nothing,
// or half a request, or stays idle after a response, is closed by the
// server rather than held open.
func TestTimeouts_SilentConnectionsClosed(t *testing.T) {
	to := timeouts{readHeader: 50 * time.Millisecond, read: 100 * time.Millisecond,
		writeStall: time.Second, idle: 50 * time.Millisecond}
	s := shortServer(t, to, Faults{})
	addr := strings.TrimPrefix(s.root, "http://")
	for _, tt := range []struct {
		name, send string
	}{
		{"Nothing", ""},
		{"HalfHeaders", "GET /fhir/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
		{"SlowBody", "POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"},
		{"IdleKeepAlive", "GET /fhir/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tt.send); err != nil {
				t.Fatal(err)
			}
			// A safety net, not a measurement: the server closes within
			// its timeouts; only a server that never does hits this.
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err = io.Copy(io.Discard, bufio.NewReader(c))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("server kept the connection open: %v", err)
			}
		})
	}
}

// exportOneFile runs an open system export of typ and returns the URL of
// its first file.
func exportOneFile(tb testing.TB, s *Server, typ string) string {
	tb.Helper()
	req, _ := http.NewRequest("GET", s.URL()+"/$export?_type="+typ, nil)
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("Prefer", "respond-async")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	statusURL := resp.Header.Get("Content-Location")
	for {
		resp, err := http.Get(statusURL)
		if err != nil {
			tb.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusAccepted:
			continue
		case http.StatusOK:
			var m manifest
			if err := json.Unmarshal(b, &m); err != nil || len(m.Output) == 0 {
				tb.Fatalf("manifest %s: %v", b, err)
			}
			return m.Output[0].URL
		default:
			tb.Fatalf("status %d: %s", resp.StatusCode, b)
		}
	}
}

// FuzzLoopbackHost: the Host check never panics, and whatever it lets in
// names localhost or a loopback address, with at most a port after it.
func FuzzLoopbackHost(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "127.0.0.1:8080", "localhost", "LOCALHOST.:1", "[::1]", "[::1]:80",
		"::1", "evil.example", "127.0.0.1.nip.io", "[::ffff:127.0.0.1]:1", "", ":", "[", "[]:80", "localhost:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, hostport string) {
		if !loopbackHost(hostport) {
			return
		}
		host := hostport
		if h, _, err := net.SplitHostPort(hostport); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			t.Fatalf("loopbackHost(%q) = true, but %q is neither localhost nor a loopback address", hostport, host)
		}
	})
}
