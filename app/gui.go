package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"tranche.dev/tranche/assets"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/core/workbench"
	"tranche.dev/tranche/ui"
)

// windowSize fits a 1366×768 laptop screen with room for a panel.
var windowSize = fyne.NewSize(1280, 760)

// runGUI opens the desktop app on the user's catalogue.
func runGUI(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("data-dir", "", "data `directory` (default: $TRANCHE_HOME, the Settings choice, or your config directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a := fyneapp.NewWithID(appID)
	if *dir == "" && os.Getenv("TRANCHE_HOME") == "" {
		*dir = a.Preferences().String(ui.PrefDataDir)
	}
	if *dir == "" {
		var err error
		if *dir, err = dataDir(); err != nil {
			return err
		}
	} else if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g, err := openGUI(*dir, logger, false)
	if err != nil {
		return err
	}
	defer g.Close()
	g.show(a, nil, "")
	return nil
}

// runDemo opens the desktop app with the loopback demo server running and a
// ready "Demo server" registration, on a throwaway catalogue: export, then
// browse, with no setup and no network.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 0, "demo server port on 127.0.0.1 (0: any free port)")
	patients := fs.Int("patients", 100, "synthetic patients")
	seed := fs.Int64("seed", 1, "seed of the synthetic population")
	dir := fs.String("data-dir", "", "data `directory` (default: a temporary one, removed on exit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "tranche-demo-")
		if err != nil {
			return fmt.Errorf("create demo data directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g, err := openGUI(*dir, logger, true)
	if err != nil {
		return err
	}
	defer g.Close()
	d := &demo.Training{Registrations: g.db, Seed: *seed, Logger: logger}
	defer d.Stop()
	info, err := d.Start(demo.TrainingConfig{Port: *port, Patients: *patients}, nil)
	if err != nil {
		return fmt.Errorf("start the demo server: %w", err)
	}
	fmt.Fprintf(stdout, "Demo server: %s (data in %s)\n", info.URL, *dir)
	note := "Demo mode: a throwaway catalogue in " + *dir + ". The \"Demo server\" registration signs with the " +
		"sample RS384 key from the Bulk Data IG, which is public knowledge: fine for this loopback demo, never for real data."
	g.show(fyneapp.NewWithID(appID), d, note)
	return nil
}

// gui is what a window of the app runs on.
type gui struct {
	db       *catalog.DB
	services *guiServices
	catalog  *catalog.Browser
	logger   *slog.Logger
}

// openGUI opens the catalogue in dir and the key stores. sampleKeys lets
// registrations use the embedded sample keys (the demo only).
func openGUI(dir string, logger *slog.Logger, sampleKeys bool) (*gui, error) {
	db := catalog.NewDB(filepath.Join(dir, "tranche.db"))
	if err := db.Open(); err != nil {
		return nil, fmt.Errorf("open catalogue: %w", err)
	}
	// The GUI never prompts on a terminal; the passphrase comes from the
	// environment, as for the CLI's --key-file-fallback, and is judged by
	// the same rule when a key file is to be written.
	env := newKeyEnv(db, dir, nil, logger, func(create bool) ([]byte, error) {
		pass := os.Getenv("TRANCHE_KEY_PASSPHRASE")
		if pass == "" {
			return nil, errors.New("this key is in the encrypted key file: start Tranche with TRANCHE_KEY_PASSPHRASE set")
		}
		return readPassphrase(pass, nil, io.Discard, create)
	})
	// Only the demo's registration may use the embedded sample keys.
	env.Reg.SampleKeys = sampleKeys
	eng := &engine.Engine{Store: db, LoadKey: env.Reg.LoadKey, HTTPClient: env.HTTPClient, Dial: env.Dial,
		Logger: logger.With("system", "bulk"), Logs: &bulk.LogDir{Dir: exportLogDir(dir)}}
	return &gui{
		db:       db,
		services: &guiServices{env: env, eng: eng, index: &catalog.Indexer{DB: db, Logger: logger}},
		catalog:  &catalog.Browser{DB: db},
		logger:   logger,
	}, nil
}

func (g *gui) Close() error {
	g.services.index.Close()
	g.services.eng.Logs.Close()
	return g.db.Close()
}

// deps are the screens' services; d may be nil (no demo server).
func (g *gui) deps(d *demo.Training, note string) ui.Deps {
	deps := ui.Deps{Registrations: g.services.env.Reg, Servers: g.services.env.Reg, Exports: g.services, Catalog: g.catalog,
		Views: &workbench.Workbench{DB: g.db}, Logger: g.logger.With("system", "ui"), DemoNote: note}
	if d != nil {
		deps.Demo = d
	}
	return deps
}

// show opens the main window and runs the app until it is closed.
func (g *gui) show(a fyne.App, d *demo.Training, note string) {
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.Lifecycle().SetOnStopped(cancel)
	w := a.NewWindow("Tranche")
	u := ui.New(ctx, a, w, g.deps(d, note))
	if d != nil {
		d.SetOnRequest(u.OnDemoRequest)
	}
	w.SetContent(u.Content())
	w.Resize(windowSize)
	w.SetMaster()
	u.Start()
	u.StartClock(ctx)
	if d != nil {
		u.SelectTab(ui.TabNewExport)
	} else {
		u.SelectTab(ui.TabExports)
	}
	w.ShowAndRun()
}
