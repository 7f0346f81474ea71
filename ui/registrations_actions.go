package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/registry"
	"tranche.dev/tranche/core/smart"
)

// save creates or updates the registration in the form.
func (s *registrationsScreen) save() {
	r, problem := s.form()
	if problem != "" {
		s.results.SetText(problem)
		return
	}
	s.store(r, "Saved.")
}

func (s *registrationsScreen) store(r *core.Registration, done string) {
	creating := r.ID == 0
	s.u.background("Could not save the registration.", func(ctx context.Context) error {
		if creating {
			return s.u.deps.Registrations.CreateRegistration(ctx, r)
		}
		return s.u.deps.Registrations.UpdateRegistration(ctx, r)
	}, func() {
		c := *r
		s.selected = &c
		s.title.SetText(r.Name)
		s.results.SetText(done)
		s.updateButtons()
		s.reloadSelecting(r.ID)
	})
}

// reloadSelecting reloads the list and selects the registration with id.
func (s *registrationsScreen) reloadSelecting(id int64) {
	var regs []*core.Registration
	s.u.background("Could not read the registrations.", func(ctx context.Context) (err error) {
		regs, err = s.u.deps.Registrations.FindRegistrations(ctx)
		return err
	}, func() {
		sortRegistrations(regs)
		s.regs = regs
		s.list.Refresh()
		s.u.newExport.setRegistrations(regs)
		for i, r := range regs {
			if r.ID == id {
				// Select without re-filling the form: it already shows r.
				onSel := s.list.OnSelected
				s.list.OnSelected = nil
				s.list.Select(i)
				s.list.OnSelected = onSel
			}
		}
	})
}

func (s *registrationsScreen) confirmDelete() {
	if s.selected == nil {
		return
	}
	r := s.selected
	dialog.ShowConfirm("Delete registration",
		fmt.Sprintf("Delete %q and its private key? Exports already in the catalogue stay.", r.Name),
		func(ok bool) {
			if ok {
				s.delete(r.ID)
			}
		}, s.u.Window)
}

func (s *registrationsScreen) delete(id int64) {
	s.u.background("Could not delete the registration.", func(ctx context.Context) error {
		return s.u.deps.Registrations.DeleteRegistration(ctx, id)
	}, func() {
		s.add()
		s.results.SetText("Deleted.")
		s.reload()
	})
}

// register registers the key with the server (RFC 7591), stores the client
// id it returns and saves the registration.
func (s *registrationsScreen) register() {
	r, problem := s.form()
	if problem != "" {
		s.results.SetText(problem)
		return
	}
	if s.key == nil {
		s.results.SetText("Generate or import a key first.")
		return
	}
	disc := s.disc
	s.results.SetText("Registering with the server…")
	s.u.runAsync(func() {
		d, err := s.u.deps.Servers.Register(s.u.ctx, r, disc, "")
		fyne.Do(func() {
			if d != nil {
				s.disc = d
			}
			switch {
			case errors.Is(err, registry.ErrNoRegistrationEndpoint), errors.Is(err, smart.ErrNotRFC7591):
				// Not an error to show in a dialog: the usual way with
				// many data holders.
				s.results.SetText("This server does not register clients automatically. Copy the public JWKS " +
					"and give it to the data holder; when they send the client id, enter it here and Save.")
				return
			case err != nil:
				s.u.showError("The server did not accept the registration.", err)
				s.results.SetText("")
				return
			}
			s.clientID.SetText(r.ClientID)
			s.tokenURL.SetText(r.TokenURL)
			s.store(r, "Registered: the server issued client id "+r.ClientID+". Saved.")
		})
	})
}

// test runs "Test connection" and lists each step's result.
func (s *registrationsScreen) test() {
	r, problem := s.form()
	if problem != "" {
		s.results.SetText(problem)
		return
	}
	s.results.SetText("Testing the connection…")
	var checks []registry.Check
	s.u.background("Could not test the connection.", func(ctx context.Context) (err error) {
		checks, err = s.u.deps.Servers.TestConnection(ctx, r)
		return err
	}, func() { s.results.SetText(describeChecks(checks)) })
}

// describeChecks turns test steps into a short report: a verdict line,
// then one line per step.
func describeChecks(checks []registry.Check) string {
	ok := len(checks) > 0
	var b strings.Builder
	for _, c := range checks {
		mark := "✓"
		if !c.OK {
			mark, ok = "✗", false
		}
		fmt.Fprintf(&b, "\n%s %s", mark, c.Name)
		if c.Detail != "" {
			fmt.Fprintf(&b, ": %s", c.Detail)
		}
	}
	verdict := "Connection works: Tranche can get a token and read from this server."
	if !ok {
		verdict = "Connection does not work yet. The first ✗ below says why."
	}
	return verdict + b.String()
}
