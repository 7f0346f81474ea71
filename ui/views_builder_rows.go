package ui

import (
	"encoding/json"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// columnRow is one row of the columns list: the column's name, its
// FHIRPath, what it iterates, its type, and a remove button.
type columnRow struct {
	widget.BaseWidget
	name    *widget.Entry
	path    *widget.Entry
	each    *widget.Label
	eachBox fyne.CanvasObject // each at a fixed width; hidden when the column does not iterate
	typ     *widget.Select
	remove  *widget.Button
}

func newColumnRow() *columnRow {
	r := &columnRow{name: widget.NewEntry(), path: widget.NewEntry(), each: widget.NewLabel(""),
		typ: widget.NewSelect(columnTypes, nil), remove: widget.NewButtonWithIcon("", theme.DeleteIcon(), nil)}
	r.name.SetPlaceHolder("name")
	r.path.SetPlaceHolder("expression")
	r.typ.PlaceHolder = "any type"
	r.each.TextStyle.Italic = true
	r.each.Truncation = fyne.TextTruncateEllipsis
	r.eachBox = fixedWidth(eachFieldWidth, r.each)
	r.eachBox.Hide()
	r.ExtendBaseWidget(r)
	return r
}

func (r *columnRow) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil,
		fixedWidth(nameFieldWidth, r.name),
		container.NewHBox(r.eachBox, r.typ, r.remove),
		r.path))
}

// showColumnRow binds row r to column i: edits change the view and its
// preview.
func (b *builder) showColumnRow(i int, r *columnRow) {
	c, each := b.def.columnAt(i)
	if c == nil {
		return
	}
	r.name.OnChanged, r.path.OnChanged, r.typ.OnChanged = nil, nil, nil
	if r.name.Text != c.Name {
		r.name.SetText(c.Name)
	}
	if r.path.Text != c.Path {
		r.path.SetText(c.Path)
	}
	r.path.Validator = func(src string) error {
		if msg := exprProblem(src); msg != "" {
			return errors.New(msg)
		}
		return nil
	}
	r.path.Validate()
	r.each.SetText("each " + each)
	if each != "" {
		r.eachBox.Show()
	} else {
		r.eachBox.Hide()
	}
	if c.Type == "" {
		r.typ.ClearSelected()
	} else if r.typ.Selected != c.Type {
		r.typ.SetSelected(c.Type)
	}
	r.name.OnChanged = func(n string) {
		if c, _ := b.def.columnAt(i); c != nil {
			c.Name = n
			b.changed()
		}
	}
	r.path.OnChanged = func(p string) {
		if c, _ := b.def.columnAt(i); c != nil {
			c.Path = p
			b.changed()
		}
	}
	r.typ.OnChanged = func(t string) {
		if c, _ := b.def.columnAt(i); c != nil && c.Type != t {
			c.Type = t
			b.changed()
		}
	}
	r.remove.OnTapped = func() { b.removeColumn(i) }
}

// filterRow is one row of the filters list: a where expression, or a
// constant's name, type and value; and a remove button.
type filterRow struct {
	widget.BaseWidget
	where     *widget.Entry
	constName *widget.Label
	constType *widget.Label
	constVal  *widget.Entry
	remove    *widget.Button
	whereBox  fyne.CanvasObject
	constBox  fyne.CanvasObject
}

func newFilterRow() *filterRow {
	r := &filterRow{where: widget.NewEntry(), constName: widget.NewLabel(""), constType: widget.NewLabel(""),
		constVal: widget.NewEntry(), remove: widget.NewButtonWithIcon("", theme.DeleteIcon(), nil)}
	r.constName.TextStyle.Monospace = true
	r.whereBox = container.NewBorder(nil, nil, widget.NewLabel("where"), nil, r.where)
	r.constBox = container.NewBorder(nil, nil, fixedWidth(nameFieldWidth, r.constName), r.constType, r.constVal)
	r.ExtendBaseWidget(r)
	return r
}

func (r *filterRow) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, nil, r.remove,
		container.NewStack(r.whereBox, r.constBox)))
}

// showFilterRow binds row r to the i-th where filter, or after them to a
// constant: edits change the view and its preview.
func (b *builder) showFilterRow(i int, r *filterRow) {
	r.where.OnChanged, r.constVal.OnChanged = nil, nil
	r.remove.OnTapped = func() { b.removeFilter(i) }
	if i < len(b.def.Where) {
		r.constBox.Hide()
		r.whereBox.Show()
		if r.where.Text != b.def.Where[i] {
			r.where.SetText(b.def.Where[i])
		}
		r.where.Validator = func(src string) error {
			if msg := exprProblem(src); msg != "" {
				return errors.New(msg)
			}
			return nil
		}
		r.where.Validate()
		r.where.OnChanged = func(src string) {
			if i < len(b.def.Where) {
				b.def.Where[i] = src
				b.changed()
			}
		}
		return
	}
	j := i - len(b.def.Where)
	if j >= len(b.def.Constants) {
		return
	}
	c := b.def.Constants[j]
	r.whereBox.Hide()
	r.constBox.Show()
	r.constName.SetText("%" + c.Name)
	r.constType.SetText(cmpOr(c.Type, "string"))
	if v := constantText(c.Value); r.constVal.Text != v {
		r.constVal.SetText(v)
	}
	r.constVal.OnChanged = func(v string) {
		if j < len(b.def.Constants) {
			if raw, err := constantValue(b.def.Constants[j].Type, v); err == nil {
				b.def.Constants[j].Value = raw
				b.changed()
			}
		}
	}
}

// constantText is a constant's value as the person typed it: a string
// without its quotes, anything else as its JSON.
func constantText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// constantValue is the JSON of a constant's value typed as text.
func constantValue(typ, text string) (json.RawMessage, error) {
	var val any = text
	switch typ {
	case "integer", "decimal":
		val = json.Number(strings.TrimSpace(text))
	case "boolean":
		val = strings.TrimSpace(text) == "true"
	}
	return json.Marshal(val)
}
