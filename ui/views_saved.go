package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core/workbench"
)

// saveView saves the view being built in the catalogue, without running
// it, and shows it in the library. Saving over another saved view of the
// same name asks first.
func (s *viewsScreen) saveView(def []byte) {
	if err := validate(def); err != nil {
		s.u.showError("This view cannot be saved yet: fix what the builder flags.", err)
		return
	}
	name := viewName(def)
	for _, v := range s.library {
		if v.Saved && strings.EqualFold(v.Name, name) && !strings.EqualFold(s.b.opened, name) {
			dialog.ShowConfirm("Replace saved view",
				fmt.Sprintf("You have a saved view called %s already. Replace it with this one?", v.Name),
				func(ok bool) {
					if ok {
						s.store(def, name)
					}
				}, s.u.Window)
			return
		}
	}
	s.store(def, name)
}

// store saves def in the catalogue as the view called name.
func (s *viewsScreen) store(def []byte, name string) {
	var created bool
	s.u.background("Could not save the view "+name+".", func(ctx context.Context) (err error) {
		created, err = s.u.deps.Views.SaveView(ctx, def)
		return err
	}, func() {
		s.b.opened = name
		if created {
			s.runInfo.SetText(fmt.Sprintf("Saved view %s in the catalogue: it is in the Library.", name))
		} else {
			s.runInfo.SetText(fmt.Sprintf("Saved the new version of view %s.", name))
		}
		s.reload()
	})
}

// selectedSaved is the library's selected view when the person saved it.
func (s *viewsScreen) selectedSaved() (workbench.ViewSummary, bool) {
	if s.libSel < 0 || s.libSel >= len(s.library) || !s.library[s.libSel].Saved {
		return workbench.ViewSummary{}, false
	}
	return s.library[s.libSel], true
}

func (s *viewsScreen) confirmRename() {
	v, ok := s.selectedSaved()
	if !ok {
		return
	}
	e := widget.NewEntry()
	e.SetText(v.Name)
	e.Validator = func(n string) error {
		if !columnNamePattern.MatchString(n) {
			return errors.New("a name of letters, digits and _ starting with a letter")
		}
		return nil
	}
	dialog.ShowForm("Rename view "+v.Name, "Rename", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("New name", e)},
		func(ok bool) {
			if ok && e.Text != v.Name {
				s.rename(v.Name, strings.TrimSpace(e.Text))
			}
		}, s.u.Window)
}

// rename renames a saved view; its table keeps its name.
func (s *viewsScreen) rename(old, name string) {
	s.u.background("Could not rename the view "+old+".", func(ctx context.Context) error {
		return s.u.deps.Views.RenameView(ctx, old, name)
	}, func() {
		s.runInfo.SetText(fmt.Sprintf("Renamed view %s to %s.", old, name))
		if strings.EqualFold(s.b.opened, old) {
			s.b.opened = name
		}
		// Keep it selected under its new name.
		if s.libSel >= 0 && s.libSel < len(s.library) && s.library[s.libSel].Name == old {
			s.library[s.libSel].Name = name
		}
		s.reload()
	})
}

func (s *viewsScreen) confirmDelete() {
	v, ok := s.selectedSaved()
	if !ok {
		return
	}
	msg := fmt.Sprintf("Delete your view %s from the catalogue?", v.Name)
	if v.Table != nil {
		msg += fmt.Sprintf(" Its table %s stays (the Catalogue lists it).", v.Table.Name)
	}
	dialog.ShowConfirm("Delete view", msg, func(ok bool) {
		if ok {
			s.deleteView(v.Name)
		}
	}, s.u.Window)
}

// deleteView deletes a saved view; its table, if any, stays.
func (s *viewsScreen) deleteView(name string) {
	s.u.background("Could not delete the view "+name+".", func(ctx context.Context) error {
		return s.u.deps.Views.DeleteView(ctx, name)
	}, func() {
		s.runInfo.SetText(fmt.Sprintf("Deleted view %s.", name))
		if strings.EqualFold(s.b.opened, name) {
			s.b.opened = ""
		}
		s.reload()
	})
}
