// Package ui is Tranche's desktop interface: one Fyne screen per tab
// (registrations, new export, exports, catalogue, demo server, settings) on
// narrow interfaces that app/gui.go fills with the core packages. It never
// imports fyne.io/fyne/v2/app, so its tests run without cgo or a display.
package ui

import (
	"context"
	"log/slog"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"

	"tranche.dev/tranche/core"
)

// Deps are the services the screens use. Demo may be nil: the Demo server
// tab then explains how to start one.
type Deps struct {
	Registrations Registrations
	Servers       Servers
	Exports       Exports
	Catalog       core.Browser
	Demo          Demo
	Views         Views // nil: the Views tab explains it needs a catalogue
	Logger        *slog.Logger
	Now           func() time.Time // defaults to time.Now
	// Async runs f off the UI goroutine; nil starts a goroutine. Tests
	// pass one that runs f at once, so a tap finishes its work before it
	// returns (tyde's runAsync seam).
	Async func(f func())
	// SaveFile asks where to save a file called name and calls done with
	// it (nil when the person cancels); nil shows Fyne's file dialog. Tests
	// pick a file in a temp dir.
	SaveFile func(name string, done func(fyne.URIWriteCloser, error))
	// DemoNote, when set, is shown on the Registrations and Demo screens
	// (e.g. that the demo key is public knowledge).
	DemoNote string
}

// Tab indexes, in the order of the tabs and of Ctrl+1…Ctrl+7.
const (
	TabRegistrations = iota
	TabNewExport
	TabExports
	TabCatalog
	TabViews
	TabDemo
	TabSettings
)

// UI is the main window's content and the state shared by its screens.
type UI struct {
	App    fyne.App
	Window fyne.Window
	deps   Deps
	logger *slog.Logger
	now    func() time.Time
	ctx    context.Context

	// runAsync runs f off the UI goroutine; tests make it synchronous
	// (tyde's seam). f must touch widgets only through fyne.Do.
	runAsync func(f func())

	tabs          *container.AppTabs
	registrations *registrationsScreen
	newExport     *newExportScreen
	exports       *exportsScreen
	catalog       *catalogScreen
	views         *viewsScreen
	demo          *demoScreen
	settings      *settingsScreen
}

// New builds the screens. ctx ends background work when the app stops.
func New(ctx context.Context, a fyne.App, w fyne.Window, deps Deps) *UI {
	u := &UI{
		App:      a,
		Window:   w,
		deps:     deps,
		logger:   deps.Logger,
		now:      deps.Now,
		ctx:      ctx,
		runAsync: func(f func()) { go f() },
	}
	if deps.Async != nil {
		u.runAsync = deps.Async
	}
	if u.logger == nil {
		u.logger = slog.Default().With("system", "ui")
	}
	if u.now == nil {
		u.now = time.Now
	}
	u.settings = newSettingsScreen(u)
	u.registrations = newRegistrationsScreen(u)
	u.newExport = newNewExportScreen(u)
	u.exports = newExportsScreen(u)
	u.catalog = newCatalogScreen(u)
	u.views = newViewsScreen(u)
	u.demo = newDemoScreen(u)

	u.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Registrations", theme.AccountIcon(), u.registrations.content),
		container.NewTabItemWithIcon("New export", theme.ContentAddIcon(), u.newExport.content),
		container.NewTabItemWithIcon("Exports", theme.DownloadIcon(), u.exports.content),
		container.NewTabItemWithIcon("Catalogue", theme.StorageIcon(), u.catalog.content),
		container.NewTabItemWithIcon("Views", theme.GridIcon(), u.views.content),
		container.NewTabItemWithIcon("Demo server", theme.ComputerIcon(), u.demo.content),
		container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), u.settings.content),
	)
	u.tabs.OnSelected = func(*container.TabItem) { u.onTabSelected(u.tabs.SelectedIndex()) }
	u.settings.applyTheme()
	return u
}

// Content is the window's content.
func (u *UI) Content() fyne.CanvasObject { return u.tabs }

// Start loads every screen's data and installs the menu and shortcuts.
// Call it once, after the window's content is set.
func (u *UI) Start() {
	u.installShortcuts()
	u.registrations.reload()
	u.exports.reload()
	u.demo.refresh()
}

// StartClock ticks the live export view once a second (elapsed, next
// poll) until ctx ends. Tests drive the screens without it.
func (u *UI) StartClock(ctx context.Context) {
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fyne.Do(u.exports.tick)
			}
		}
	}()
}

// SelectTab shows one of the tabs (TabRegistrations…TabSettings).
func (u *UI) SelectTab(i int) {
	u.tabs.SelectIndex(i)
}

func (u *UI) onTabSelected(i int) {
	switch i {
	case TabNewExport:
		u.newExport.refresh()
	case TabExports:
		u.exports.reload()
	case TabCatalog:
		u.catalog.reload()
	case TabViews:
		u.views.reload()
	case TabDemo:
		u.demo.refresh()
	}
}

// shortcut is one keyboard shortcut and what it does.
type shortcut struct {
	label string
	key   fyne.KeyName
	do    func()
}

func (u *UI) shortcuts() []shortcut {
	tab := func(i int) func() { return func() { u.SelectTab(i) } }
	return []shortcut{
		{"New export", fyne.KeyN, func() { u.SelectTab(TabNewExport) }},
		{"Start export", fyne.KeyE, func() { u.SelectTab(TabNewExport); u.newExport.start() }},
		{"Search the catalogue", fyne.KeyF, func() { u.SelectTab(TabCatalog); u.catalog.focusSearch() }},
		{"Refresh", fyne.KeyR, func() { u.onTabSelected(u.tabs.SelectedIndex()); u.registrations.reload() }},
		{"Registrations", fyne.Key1, tab(TabRegistrations)},
		{"New export", fyne.Key2, tab(TabNewExport)},
		{"Exports", fyne.Key3, tab(TabExports)},
		{"Catalogue", fyne.Key4, tab(TabCatalog)},
		{"Views", fyne.Key5, tab(TabViews)},
		{"Demo server", fyne.Key6, tab(TabDemo)},
		{"Settings", fyne.Key7, tab(TabSettings)},
		{"Make a table", fyne.KeyT, func() { u.SelectTab(TabViews); u.views.showBuilder() }},
	}
}

// installShortcuts puts every shortcut in the main menu, where the desktop
// driver finds it even when an entry has the focus, and on the canvas.
func (u *UI) installShortcuts() {
	var file, view []*fyne.MenuItem
	for i, s := range u.shortcuts() {
		sc := &desktop.CustomShortcut{KeyName: s.key, Modifier: fyne.KeyModifierShortcutDefault}
		do := s.do
		u.Window.Canvas().AddShortcut(sc, func(fyne.Shortcut) { do() })
		item := fyne.NewMenuItem(s.label, do)
		item.Shortcut = sc
		if i < 4 {
			file = append(file, item)
		} else {
			view = append(view, item)
		}
	}
	u.Window.SetMainMenu(fyne.NewMainMenu(
		fyne.NewMenu("File", file...),
		fyne.NewMenu("View", view...),
	))
}

// notify sends a desktop notification.
func (u *UI) notify(title, body string) {
	u.App.SendNotification(fyne.NewNotification(title, body))
}
