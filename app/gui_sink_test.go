package main

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/sink/sinktest"
)

// TestGUI_SinkViews exports from the desktop app with a registration that
// lands in object storage (versitygw), ticking a built-in view on the New
// export screen: the view's rows land beside the records, and the
// export's completion manifest lists its table.
func TestGUI_SinkViews(t *testing.T) {
	lake := openLake(t, t.TempDir(), "")
	for _, kv := range lake.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	d := newDemoGUI(t, 5)
	ctx := context.Background()
	reg, err := d.g.db.FindRegistrationByName(ctx, demo.RegistrationName)
	if err != nil {
		t.Fatal(err)
	}
	reg.Sink = "s3://lake/gui"
	if err := d.g.db.UpdateRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	root := d.win.Content()
	d.shortcut(t, fyne.KeyR) // Refresh: the registrations read again, with the sink
	d.shortcut(t, fyne.Key2) // New export
	views := find(t, root, func(c *widget.CheckGroup) bool {
		for _, o := range c.Options {
			if strings.HasSuffix(o, "(patient_demographics)") {
				return true
			}
		}
		return false
	})
	if views == nil || !views.Visible() {
		t.Fatal("no views offered for a registration that lands in object storage")
	}
	for _, o := range views.Options {
		if strings.HasSuffix(o, "(patient_demographics)") {
			views.SetSelected([]string{o})
		}
	}
	d.shortcut(t, fyne.KeyE) // runs to the end here

	exps, err := d.g.db.FindExports(ctx, 1)
	if err != nil || len(exps) != 1 || exps[0].State != core.StateComplete {
		t.Fatalf("exports = %+v, %v; want one complete", exps, err)
	}
	files, err := d.g.db.FindFiles(ctx, exps[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	comp := sinktest.Check(t, lake.c, "lake", "gui", exps[0].ID, files)
	if len(comp.Views) != 1 || comp.Views[0].View != "patient_demographics" || comp.Views[0].Rows != 5 {
		t.Errorf("views in the completion manifest = %+v, want patient_demographics with 5 rows", comp.Views)
	}
}
