package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/registry"
)

// jwksInstructions tells a person what to do with the public JWKS.
const jwksInstructions = `Hand the public key set above to the data holder: send them the file from "Save JWKS…", ` +
	`or paste the text into their registration form. It holds only the public half of your key, so it is safe to email. ` +
	`They give you a client id in return: enter it above and save. If the server offers dynamic registration, ` +
	`"Register dynamically" does all of this for you.`

type registrationsScreen struct {
	u       *UI
	content fyne.CanvasObject

	regs     []*core.Registration
	list     *widget.List
	selected *core.Registration // nil while adding a new one
	disc     *registry.Discovery
	key      *registry.Key // the form's key (generated, imported or from the registration)

	title       *widget.Label
	name        *widget.Entry
	baseURL     *widget.Entry
	tokenURL    *widget.Entry
	supports    *widget.Label
	clientID    *widget.Entry
	scopes      *widget.Entry
	alg         *widget.Select
	keyStatus   *widget.Label
	jwks        *widget.Entry
	jwksURL     *widget.Entry
	sink        *widget.Entry
	headers     *widget.Entry
	maxParallel *widget.Entry
	pollMin     *widget.Entry
	pollMax     *widget.Entry
	results     *widget.Label

	discoverBtn, generateBtn, importBtn, copyBtn, saveJWKSBtn *widget.Button
	registerBtn, testBtn, saveBtn, deleteBtn                  *widget.Button
}

func newRegistrationsScreen(u *UI) *registrationsScreen {
	s := &registrationsScreen{u: u}
	s.list = widget.NewList(
		func() int { return len(s.regs) },
		func() fyne.CanvasObject { return widget.NewLabel("registration name") },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(s.regs[i].Name) },
	)
	s.list.OnSelected = func(i widget.ListItemID) { s.edit(s.regs[i]) }
	addBtn := widget.NewButtonWithIcon("Add registration", theme.ContentAddIcon(), s.add)

	s.title = widget.NewLabelWithStyle("New registration", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.name = widget.NewEntry()
	s.name.SetPlaceHolder("e.g. County Hospital")
	s.baseURL = widget.NewEntry()
	s.baseURL.SetPlaceHolder("https://ehr.example.org/fhir")
	s.baseURL.Validator = validateBaseURL
	s.tokenURL = widget.NewEntry()
	s.tokenURL.SetPlaceHolder("found by Discover")
	s.supports = widget.NewLabel("")
	s.supports.Wrapping = fyne.TextWrapWord
	s.clientID = widget.NewEntry()
	s.clientID.SetPlaceHolder("issued by the data holder")
	s.clientID.OnChanged = func(string) { s.updateButtons() }
	s.scopes = widget.NewEntry()
	s.alg = widget.NewSelect([]string{"RS384", "ES384"}, nil)
	s.keyStatus = widget.NewLabel("")
	s.jwks = widget.NewMultiLineEntry()
	s.jwks.SetMinRowsVisible(5)
	s.jwks.Wrapping = fyne.TextWrapBreak
	s.jwksURL = widget.NewEntry()
	s.jwksURL.SetPlaceHolder("optional: where the data holder fetches your public keys")
	s.sink = widget.NewEntry()
	s.sink.SetPlaceHolder("optional: s3://BUCKET/PREFIX")
	s.headers = widget.NewMultiLineEntry()
	s.headers.SetPlaceHolder("Name: value, one a line")
	s.headers.SetMinRowsVisible(2)
	s.maxParallel = intEntry(DefaultMaxParallel)
	s.pollMin = intEntry(int(DefaultPollMin / time.Second))
	s.pollMax = intEntry(int(DefaultPollMax / time.Second))
	s.results = widget.NewLabel("")
	s.results.Wrapping = fyne.TextWrapWord

	s.discoverBtn = widget.NewButtonWithIcon("Discover", theme.SearchIcon(), s.discover)
	s.generateBtn = widget.NewButtonWithIcon("Generate key", theme.ContentAddIcon(), s.generateKey)
	s.importBtn = widget.NewButtonWithIcon("Import key…", theme.FolderOpenIcon(), s.importKey)
	s.copyBtn = widget.NewButtonWithIcon("Copy JWKS", theme.ContentCopyIcon(), s.copyJWKS)
	s.saveJWKSBtn = widget.NewButtonWithIcon("Save JWKS…", theme.DocumentSaveIcon(), s.saveJWKS)
	s.registerBtn = widget.NewButtonWithIcon("Register dynamically", theme.UploadIcon(), s.register)
	s.testBtn = widget.NewButtonWithIcon("Test connection", theme.MediaPlayIcon(), s.test)
	s.saveBtn = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), s.save)
	s.saveBtn.Importance = widget.HighImportance
	s.deleteBtn = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), s.confirmDelete)
	s.deleteBtn.Importance = widget.DangerImportance

	instructions := widget.NewLabel(jwksInstructions)
	instructions.Wrapping = fyne.TextWrapWord
	form := widget.NewForm(
		widget.NewFormItem("Name", s.name),
		&widget.FormItem{Text: "FHIR base URL", Widget: container.NewBorder(nil, nil, nil, s.discoverBtn, s.baseURL),
			HintText: "Discover reads the server's SMART configuration and what it can export."},
		widget.NewFormItem("Token URL", s.tokenURL),
		widget.NewFormItem("Server supports", s.supports),
		widget.NewFormItem("Client id", s.clientID),
		&widget.FormItem{Text: "Scopes", Widget: s.scopes, HintText: "system/*.rs (SMART v2) or system/*.read (v1)"},
		widget.NewFormItem("Algorithm", s.alg),
		widget.NewFormItem("Key", container.NewVBox(s.keyStatus, container.NewHBox(s.generateBtn, s.importBtn))),
		widget.NewFormItem("Public JWKS", container.NewVBox(s.jwks, container.NewHBox(s.copyBtn, s.saveJWKSBtn), instructions)),
		widget.NewFormItem("JWKS URL", s.jwksURL),
	)
	advanced := widget.NewAccordion(widget.NewAccordionItem("Advanced", widget.NewForm(
		&widget.FormItem{Text: "Object storage", Widget: s.sink,
			HintText: "Its exports land there instead of the catalogue (AWS_* settings give the endpoint and keys)."},
		&widget.FormItem{Text: "Extra headers", Widget: s.headers, HintText: "Sent with every request to this server."},
		&widget.FormItem{Text: "Parallel downloads", Widget: s.maxParallel, HintText: "Files downloaded at once from this server."},
		&widget.FormItem{Text: "Shortest poll (s)", Widget: s.pollMin, HintText: "Lower clamp on the server's Retry-After."},
		&widget.FormItem{Text: "Longest poll (s)", Widget: s.pollMax, HintText: "Upper clamp on the server's Retry-After."},
	)))
	var top []fyne.CanvasObject
	if u.deps.DemoNote != "" {
		note := widget.NewLabel(u.deps.DemoNote)
		note.Wrapping = fyne.TextWrapWord
		note.Importance = widget.WarningImportance
		top = append(top, note)
	}
	top = append(top, s.title)
	right := container.NewVScroll(container.NewPadded(container.NewVBox(
		append(top, form, advanced,
			container.NewHBox(s.saveBtn, s.registerBtn, s.testBtn, s.deleteBtn),
			s.results)...)))
	left := container.NewBorder(addBtn, nil, nil, nil, s.list)
	split := container.NewHSplit(left, right)
	split.SetOffset(0.22)
	s.content = split
	s.add()
	return s
}

// validateBaseURL accepts what the transport rule (core.CheckURL) does:
// https, or http to this computer.
func validateBaseURL(s string) error {
	if core.CheckURL(s) != nil {
		return errors.New("enter the server's FHIR base URL, starting with https:// (http:// only on this computer)")
	}
	return nil
}

// reload fetches the registrations and keeps the selection (no stored
// registration has id 0, so reloadSelecting selects nothing new).
func (s *registrationsScreen) reload() { s.reloadSelecting(0) }

func sortRegistrations(regs []*core.Registration) {
	sort.Slice(regs, func(i, j int) bool { return regs[i].Name < regs[j].Name })
}

// add clears the form for a new registration.
func (s *registrationsScreen) add() {
	s.list.UnselectAll()
	s.selected = nil
	s.fill(&core.Registration{Scopes: "system/*.rs", Alg: "RS384", MaxParallel: s.u.settings.defaultMaxParallel()})
	s.title.SetText("New registration")
}

// edit shows one registration.
func (s *registrationsScreen) edit(r *core.Registration) {
	c := *r
	s.selected = &c
	s.fill(&c)
	s.title.SetText(r.Name)
}

func (s *registrationsScreen) fill(r *core.Registration) {
	s.disc = nil
	s.key = nil
	if r.KeyRef != "" {
		s.key = &registry.Key{Alg: r.Alg, KeyID: r.KeyID, KeyRef: r.KeyRef, PublicJWKS: r.PublicJWKS}
	}
	s.name.SetText(r.Name)
	s.baseURL.SetText(r.FHIRBaseURL)
	s.tokenURL.SetText(r.TokenURL)
	s.supports.SetText("Press Discover to see what the server supports.")
	s.clientID.SetText(r.ClientID)
	s.scopes.SetText(r.Scopes)
	s.alg.SetSelected(r.Alg)
	s.jwksURL.SetText(r.JWKSURL)
	s.sink.SetText(r.Sink)
	s.headers.SetText(formatHeaders(r.Headers))
	s.maxParallel.SetText(strconv.Itoa(orDefault(r.MaxParallel, s.u.settings.defaultMaxParallel())))
	pmin, pmax := s.u.settings.pollRange()
	s.pollMin.SetText(strconv.Itoa(int(orDuration(r.PollMin, pmin) / time.Second)))
	s.pollMax.SetText(strconv.Itoa(int(orDuration(r.PollMax, pmax) / time.Second)))
	s.results.SetText("")
	s.showKey()
	s.updateButtons()
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func orDuration(v, d time.Duration) time.Duration {
	if v == 0 {
		return d
	}
	return v
}

func (s *registrationsScreen) showKey() {
	if s.key == nil {
		s.keyStatus.SetText("No key yet: generate one, or import the key you already gave the data holder.")
		s.jwks.SetText("")
	} else if strings.HasPrefix(s.key.KeyRef, "sample:") {
		s.keyStatus.SetText(fmt.Sprintf("%s sample key %s from the Bulk Data IG: public knowledge, for the demo only", s.key.Alg, s.key.KeyID))
		s.jwks.SetText(s.key.PublicJWKS)
	} else {
		s.keyStatus.SetText(fmt.Sprintf("%s key %s, private half in the keychain", s.key.Alg, s.key.KeyID))
		s.jwks.SetText(s.key.PublicJWKS)
	}
}

func (s *registrationsScreen) updateButtons() {
	setEnabled(s.deleteBtn, s.selected != nil)
	setEnabled(s.copyBtn, s.key != nil)
	setEnabled(s.saveJWKSBtn, s.key != nil)
	setEnabled(s.registerBtn, s.key != nil && (s.disc == nil || s.disc.RegistrationURL != ""))
	setEnabled(s.testBtn, s.key != nil && s.clientID.Text != "")
}

func setEnabled(w fyne.Disableable, on bool) {
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}

// form returns the registration the form describes, or a sentence saying
// what is missing.
func (s *registrationsScreen) form() (*core.Registration, string) {
	r := &core.Registration{}
	if s.selected != nil {
		*r = *s.selected
	}
	r.Name = strings.TrimSpace(s.name.Text)
	r.FHIRBaseURL = strings.TrimRight(strings.TrimSpace(s.baseURL.Text), "/")
	r.TokenURL = strings.TrimSpace(s.tokenURL.Text)
	r.ClientID = strings.TrimSpace(s.clientID.Text)
	r.Scopes = strings.TrimSpace(s.scopes.Text)
	r.Alg = s.alg.Selected
	r.JWKSURL = strings.TrimSpace(s.jwksURL.Text)
	r.Sink = strings.TrimSpace(s.sink.Text)
	if s.key != nil {
		r.Alg, r.KeyID, r.KeyRef, r.PublicJWKS = s.key.Alg, s.key.KeyID, s.key.KeyRef, s.key.PublicJWKS
	}
	headers, err := parseHeaders(s.headers.Text)
	if err != nil {
		return nil, err.Error()
	}
	r.Headers = headers
	for _, e := range []*widget.Entry{s.maxParallel, s.pollMin, s.pollMax} {
		if e.Validate() != nil {
			return nil, "Parallel downloads and poll limits must be whole numbers of at least 1."
		}
	}
	r.MaxParallel, _ = strconv.Atoi(s.maxParallel.Text)
	pmin, _ := strconv.Atoi(s.pollMin.Text)
	pmax, _ := strconv.Atoi(s.pollMax.Text)
	r.PollMin, r.PollMax = time.Duration(pmin)*time.Second, time.Duration(pmax)*time.Second
	switch {
	case r.Name == "":
		return nil, "Give the registration a name."
	case validateBaseURL(r.FHIRBaseURL) != nil:
		return nil, "Enter the server's FHIR base URL, starting with https:// (http:// only for a server on this computer)."
	case r.PollMin > r.PollMax:
		return nil, "The shortest poll is longer than the longest."
	case r.Sink != "":
		if _, _, err := core.ParseSinkURL(r.Sink); err != nil {
			return nil, "Object storage: " + err.Error() + "."
		}
	}
	return r, ""
}

func formatHeaders(h map[string]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, h[k])
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func parseHeaders(text string) (map[string]string, error) {
	h := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("Extra header line %d should read \"Name: value\".", i+1)
		}
		h[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	if len(h) == 0 {
		return nil, nil
	}
	return h, nil
}

func (s *registrationsScreen) discover() {
	base := strings.TrimRight(strings.TrimSpace(s.baseURL.Text), "/")
	if err := validateBaseURL(base); err != nil {
		s.results.SetText("Enter the server's FHIR base URL first.")
		return
	}
	s.supports.SetText("Asking the server…")
	var d *registry.Discovery
	s.u.background("Could not read the server's SMART configuration.", func(ctx context.Context) (err error) {
		d, err = s.u.deps.Servers.Discover(ctx, base)
		return err
	}, func() {
		s.disc = d
		if d.TokenURL != "" {
			s.tokenURL.SetText(d.TokenURL)
		}
		// The server's defaults (registry.Discovery), as the CLI's
		// registrations add takes them: v1 scopes on a v1-only server, and
		// ES384 for a key not made yet on a server that lists only that.
		if sc := strings.TrimSpace(s.scopes.Text); sc == "" || sc == "system/*.rs" {
			s.scopes.SetText(d.DefaultScopes())
		}
		if s.key == nil {
			s.alg.SetSelected(d.DefaultAlg())
		}
		s.supports.SetText(describeDiscovery(d))
		s.u.newExport.setDiscovery(base, d)
		s.updateButtons()
	})
}

func describeDiscovery(d *registry.Discovery) string {
	var parts []string
	if len(d.Operations) > 0 {
		parts = append(parts, "Exports: "+strings.Join(d.Operations, ", ")+".")
	}
	if len(d.Types) > 0 {
		parts = append(parts, fmt.Sprintf("%d resource types.", len(d.Types)))
	}
	if len(d.Algorithms) > 0 {
		parts = append(parts, "Signing: "+strings.Join(d.Algorithms, ", ")+".")
	}
	if len(d.Scopes) > 0 {
		parts = append(parts, "Scopes: "+strings.Join(d.Scopes, " ")+".")
	}
	if d.RegistrationURL != "" {
		parts = append(parts, "Dynamic registration: yes.")
	} else {
		parts = append(parts, "Dynamic registration: no; send the JWKS to the data holder.")
	}
	return strings.Join(parts, " ")
}

func (s *registrationsScreen) generateKey() {
	name := strings.TrimSpace(s.name.Text)
	if name == "" {
		s.results.SetText("Give the registration a name first: the key is stored under it.")
		return
	}
	if s.nameTaken(name) {
		s.results.SetText("Another registration is called " + name + ": choose a different name first.")
		return
	}
	alg := s.alg.Selected
	var k *registry.Key
	s.u.background("Could not create a key.", func(ctx context.Context) (err error) {
		k, err = s.u.deps.Servers.GenerateKey(ctx, name, alg)
		return err
	}, func() { s.setKey(k) })
}

// nameTaken reports whether another registration than the one in the form
// has name: its key is stored under that name, so a new key would replace it.
func (s *registrationsScreen) nameTaken(name string) bool {
	for _, r := range s.regs {
		if r.Name == name && (s.selected == nil || r.ID != s.selected.ID) {
			return true
		}
	}
	return false
}

func (s *registrationsScreen) setKey(k *registry.Key) {
	s.key = k
	s.alg.SetSelected(k.Alg)
	s.showKey()
	s.updateButtons()
	s.results.SetText("New key ready. Save the registration to keep it.")
}

func (s *registrationsScreen) importKey() {
	name := strings.TrimSpace(s.name.Text)
	if name == "" {
		s.results.SetText("Give the registration a name first: the key is stored under it.")
		return
	}
	if s.nameTaken(name) {
		s.results.SetText("Another registration is called " + name + ": choose a different name first.")
		return
	}
	dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			s.u.showError("Could not open the key file.", err)
			return
		}
		if r == nil {
			return // cancelled
		}
		s.importFrom(name, r)
	}, s.u.Window)
}

func (s *registrationsScreen) importFrom(name string, r io.ReadCloser) {
	var k *registry.Key
	s.u.background("Could not import the key. Tranche reads private keys as JWK, JWKS or PEM.", func(ctx context.Context) error {
		defer r.Close()
		data, err := io.ReadAll(io.LimitReader(r, 1<<20))
		if err != nil {
			return err
		}
		k, err = s.u.deps.Servers.ImportKey(ctx, name, data)
		return err
	}, func() { s.setKey(k) })
}

func (s *registrationsScreen) copyJWKS() {
	if s.key == nil {
		return
	}
	s.u.App.Clipboard().SetContent(s.key.PublicJWKS)
	s.results.SetText("Public JWKS copied to the clipboard.")
}

func (s *registrationsScreen) saveJWKS() {
	if s.key == nil {
		return
	}
	jwks := s.key.PublicJWKS
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			s.u.showError("Could not save the JWKS.", err)
			return
		}
		if w == nil {
			return
		}
		s.u.background("Could not save the JWKS.", func(context.Context) error {
			_, err := io.WriteString(w, jwks)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return err
		}, func() { s.results.SetText("Public JWKS saved to " + w.URI().Path()) })
	}, s.u.Window)
	d.SetFileName(safeFileName(s.name.Text) + ".jwks.json")
	d.Show()
}

func safeFileName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r < ' ' {
			return '-'
		}
		return r
	}, strings.TrimSpace(name))
	if name == "" {
		return "tranche"
	}
	return name
}
