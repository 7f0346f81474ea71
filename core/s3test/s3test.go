// Package s3test starts a real S3 server for tests: versitygw (Apache-2.0)
// with its posix backend, on a free loopback port, with a temporary root
// directory and throwaway credentials. `make deps-test` installs the
// binary (go install github.com/versity/versitygw/cmd/versitygw@Version).
package s3test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Version is the versitygw release the tests run against.
const Version = "v1.8.0"

// Test credentials: valid only for the server Start launches.
const (
	AccessKey = "tranche-test"
	SecretKey = "tranche-test-secret-key"
	Region    = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	Endpoint string // host:port on 127.0.0.1
	Root     string // the posix backend's directory: one sub-directory per bucket
	cmd      *exec.Cmd
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.Endpoint }

// Binary finds the versitygw executable: on PATH, then in GOBIN or
// GOPATH/bin, where `go install` puts it.
func Binary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
			dirs = append(dirs, strings.TrimSpace(lines[0]))
		}
		if len(lines) > 1 {
			for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw not found on PATH or in %v; install it with `make deps-test` "+
		"(go install github.com/versity/versitygw/cmd/versitygw@%s)", dirs, Version)
}

// Start runs versitygw on a free 127.0.0.1 port with an empty root
// directory and the test credentials, waits until it answers, and stops it
// when tb ends. A missing binary fails the test: CI installs it.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		tb.Fatal(err)
	}
	root := tb.TempDir()
	// The port is picked by binding :0 and released for versitygw; another
	// process may take it in between, so a failed start tries again.
	var lastErr error
	for range 5 {
		s, err := start(tb, bin, root)
		if err == nil {
			return s
		}
		lastErr = err
	}
	tb.Fatalf("start versitygw: %v", lastErr)
	return nil
}

func start(tb testing.TB, bin, root string) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()

	cmd := exec.Command(bin, "--port", addr, "--access", AccessKey, "--secret", SecretKey,
		"--region", Region, "--quiet", "posix", root)
	cmd.Env = append(os.Environ(), "VGW_LOG_LEVEL=silent")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	exited := make(chan struct{})
	var tail strings.Builder
	go func() {
		// Keep the last lines for the error message; drain the rest.
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if tail.Len() < 4096 {
				tail.WriteString(sc.Text() + "\n")
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(exited)
	}()
	s := &Server{Endpoint: addr, Root: root, cmd: cmd}
	if err := waitReady(exited, s.URL()); err != nil {
		cmd.Process.Kill()
		<-exited
		return nil, fmt.Errorf("%w\n%s", err, tail.String())
	}
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	return s, nil
}

// waitReady polls the server until it answers any HTTP request (an
// unsigned request gets 403), or the process exits, or a minute passes.
func waitReady(exited <-chan struct{}, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("versitygw exited before it answered")
		case <-ctx.Done():
			return errors.New("versitygw did not answer within a minute")
		case <-tick.C:
		}
	}
}

// MakeBucket creates a bucket: with the posix backend, a directory under
// Root. It is created through the S3 API by the caller's client where that
// matters; this is the quick way for fixtures.
func (s *Server) MakeBucket(tb testing.TB, name string) {
	tb.Helper()
	if err := os.Mkdir(filepath.Join(s.Root, name), 0o755); err != nil {
		tb.Fatal(err)
	}
}
