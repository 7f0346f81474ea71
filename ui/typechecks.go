package ui

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// typeChecklist is a checklist of resource types laid out in columns, so a
// server with forty types does not make the window forty checkboxes wide
// (widget.CheckGroup only lays out in one row or one column).
type typeChecklist struct {
	options []string
	checks  []*widget.Check
	content *fyne.Container
}

func newTypeChecklist(options []string) *typeChecklist {
	c := &typeChecklist{content: container.NewGridWithColumns(4)}
	c.setOptions(options)
	return c
}

// setOptions replaces the types, keeping the ticks of those that remain.
func (c *typeChecklist) setOptions(options []string) {
	keep := c.selected()
	c.options = options
	c.checks = c.checks[:0]
	c.content.RemoveAll()
	for _, o := range options {
		ch := widget.NewCheck(o, nil)
		ch.Checked = slices.Contains(keep, o)
		c.checks = append(c.checks, ch)
		c.content.Add(ch)
	}
}

// setSelected ticks exactly the types in sel.
func (c *typeChecklist) setSelected(sel []string) {
	for i, ch := range c.checks {
		ch.SetChecked(slices.Contains(sel, c.options[i]))
	}
}

// selected returns the ticked types in option order.
func (c *typeChecklist) selected() []string {
	var out []string
	for i, ch := range c.checks {
		if ch.Checked {
			out = append(out, c.options[i])
		}
	}
	return out
}
