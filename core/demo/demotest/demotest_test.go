package demotest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
)

func TestStartAndClock(t *testing.T) {
	srv := demotest.Start(t, demo.Config{Patients: 1, Open: true})
	resp, err := http.Get(srv.URL() + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET metadata = %s, want 200", resp.Status)
	}

	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := demotest.NewClock(t0)
	if err := c.Sleep(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if got, want := c.Now(), t0.Add(61*time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil {
		t.Errorf("Sleep(cancelled) = nil, want the context's error")
	}
}
