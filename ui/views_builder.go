package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/fhirpath"
	"tranche.dev/tranche/core/shape"
	"tranche.dev/tranche/core/tables"
	"tranche.dev/tranche/core/workbench"
)

// columnTypes are the types a column may declare (SQL on FHIR v2,
// ViewDefinition.select.column.type), the common ones first.
var columnTypes = []string{"string", "code", "decimal", "integer", "boolean", "date", "dateTime", "instant", "id", "uri"}

// constantTypes are the value[x] types the builder offers for constants.
var constantTypes = []string{"string", "code", "integer", "decimal", "boolean", "date", "dateTime"}

// builder edits one ViewDefinition by pointing: a resource type, columns
// from the paths in the catalogue or typed expressions, forEach, where
// filters and constants, with a live preview.
type builder struct {
	s       *viewsScreen
	content fyne.CanvasObject
	def     *viewDef

	library []workbench.ViewSummary
	sample  *workbench.PathSample
	paths   map[string]shape.Path
	kids    map[string][]string
	picked  string // the path selected in the tree
	// opened is the name of the saved view the builder holds, when it was
	// opened from the library or saved from here: saving under it again
	// needs no confirmation.
	opened string

	resource  *widget.Select
	startFrom *widget.Select
	name      *widget.Entry

	tree     *widget.Tree
	pathInfo *widget.Label
	addPath  *widget.Button
	each     *widget.Check // one row per repeat (forEach)
	orNull   *widget.Check // keep the resource's row when it has none

	exprName  *widget.Entry
	expr      *widget.Entry
	exprErr   *widget.Label
	exprType  *widget.Select
	exprEach  *widget.Entry
	exprAdd   *widget.Button
	whereEdit *widget.Entry
	whereErr  *widget.Label
	constName *widget.Entry
	constType *widget.Select
	constVal  *widget.Entry

	cols     *widget.List
	filters  *widget.List
	editTabs *container.AppTabs // Columns, Filters and constants

	preview      *widget.Table
	previewData  *workbench.Preview
	previewState *widget.Label
	previewErr   error
	previewBtn   *widget.Button
	previewSeq   int
	previewStop  context.CancelFunc
	format       *widget.Select
}

func newBuilder(s *viewsScreen) *builder {
	b := &builder{s: s, def: &viewDef{Name: "my_table", extra: map[string]json.RawMessage{}}}
	b.resource = widget.NewSelect(nil, func(t string) { b.onResource(t) })
	b.resource.PlaceHolder = "Resource type"
	b.startFrom = widget.NewSelect(nil, func(string) { b.onStartFrom() })
	b.startFrom.PlaceHolder = "Start from a built-in view…"
	b.name = widget.NewEntry()
	b.name.SetText(b.def.Name)
	b.name.OnChanged = func(n string) { b.def.Name = n; b.changed() }
	b.name.Validator = func(n string) error {
		if !columnNamePattern.MatchString(n) {
			return errors.New("a name of letters, digits and _ starting with a letter")
		}
		return nil
	}

	b.tree = widget.NewTree(
		func(id widget.TreeNodeID) []widget.TreeNodeID { return b.kids[id] },
		func(id widget.TreeNodeID) bool { return len(b.kids[id]) > 0 },
		func(bool) fyne.CanvasObject { return widget.NewLabel("valueQuantity.value 100% e.g. 120.5") },
		func(id widget.TreeNodeID, _ bool, o fyne.CanvasObject) { o.(*widget.Label).SetText(b.pathLine(id)) },
	)
	b.tree.OnSelected = func(id widget.TreeNodeID) { b.onPath(id) }
	b.pathInfo = widget.NewLabel("Pick a resource type to see the paths its resources hold.")
	b.pathInfo.Wrapping = fyne.TextWrapWord
	b.addPath = widget.NewButtonWithIcon("Add column", theme.ContentAddIcon(), b.addPicked)
	b.addPath.Disable()
	b.each = widget.NewCheck("One row per repeat (forEach)", nil)
	b.orNull = widget.NewCheck("Keep resources without it (forEachOrNull)", nil)
	b.orNull.SetChecked(true)

	b.exprName = widget.NewEntry()
	b.exprName.SetPlaceHolder("column name")
	b.expr = widget.NewEntry()
	b.expr.SetPlaceHolder("FHIRPath, e.g. code.text")
	b.exprErr = widget.NewLabel("")
	b.exprErr.Importance = widget.DangerImportance
	b.exprErr.Wrapping = fyne.TextWrapWord
	b.exprErr.Hide()
	b.expr.OnChanged = func(string) { b.checkExpr() }
	b.exprType = widget.NewSelect(columnTypes, nil)
	b.exprType.PlaceHolder = "type"
	b.exprEach = widget.NewEntry()
	b.exprEach.SetPlaceHolder("forEach (optional)")
	b.exprEach.OnChanged = func(string) { b.checkExpr() }
	b.exprAdd = widget.NewButtonWithIcon("Add", theme.ContentAddIcon(), b.addExpr)

	b.whereEdit = widget.NewEntry()
	b.whereEdit.SetPlaceHolder("where, e.g. status = 'final'")
	b.whereErr = widget.NewLabel("")
	b.whereErr.Importance = widget.DangerImportance
	b.whereErr.Wrapping = fyne.TextWrapWord
	b.whereErr.Hide()
	b.whereEdit.OnChanged = func(src string) { b.setWhereErr(exprProblem(src)) }
	whereAdd := widget.NewButtonWithIcon("Add filter", theme.ContentAddIcon(), b.addWhere)

	b.constName = widget.NewEntry()
	b.constName.SetPlaceHolder("name")
	b.constType = widget.NewSelect(constantTypes, nil)
	b.constType.SetSelected("string")
	b.constVal = widget.NewEntry()
	b.constVal.SetPlaceHolder("value")
	constAdd := widget.NewButtonWithIcon("Add constant", theme.ContentAddIcon(), b.addConstant)

	b.cols = widget.NewList(
		func() int { return len(b.def.columns()) },
		func() fyne.CanvasObject { return newColumnRow() },
		func(i widget.ListItemID, o fyne.CanvasObject) { b.showColumnRow(i, o.(*columnRow)) },
	)
	b.filters = widget.NewList(
		func() int { return len(b.def.Where) + len(b.def.Constants) },
		func() fyne.CanvasObject { return newFilterRow() },
		func(i widget.ListItemID, o fyne.CanvasObject) { b.showFilterRow(i, o.(*filterRow)) },
	)

	b.preview = widget.NewTable(
		func() (int, int) {
			if b.previewData == nil {
				return 0, 0
			}
			return len(b.previewData.Rows), len(b.previewData.Columns)
		},
		func() fyne.CanvasObject { return widget.NewLabel("2024-01-01T10:00:00Z") },
		func(id widget.TableCellID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(cellText(b.previewData.Rows[id.Row][id.Col]))
		},
	)
	b.preview.ShowHeaderRow = true
	b.preview.CreateHeader = func() fyne.CanvasObject { return widget.NewLabel("column_name") }
	b.preview.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		l := o.(*widget.Label)
		l.TextStyle.Bold = true
		if id.Col >= 0 && b.previewData != nil && id.Col < len(b.previewData.Columns) {
			l.SetText(b.previewData.Columns[id.Col].Name)
		} else {
			l.SetText("")
		}
	}
	b.preview.OnSelected = func(id widget.TableCellID) { b.s.prof.showPreviewColumn(id.Col) }
	b.previewState = widget.NewLabel("The preview shows the first 100 rows once the view has a column.")
	b.previewState.Wrapping = fyne.TextWrapWord
	b.previewBtn = widget.NewButton("Details", func() {
		if b.previewErr != nil {
			b.s.u.showError(viewError(b.previewErr), b.previewErr)
		}
	})
	b.previewBtn.Hide()

	b.format = widget.NewSelect([]string{"Parquet", "CSV", "NDJSON"}, nil)
	b.format.SetSelected("Parquet")
	toTable := widget.NewButtonWithIcon("Save as table", theme.StorageIcon(), func() { s.materialise(b.def.JSON()) })
	toFile := widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), func() {
		s.exportTo(b.def.JSON(), map[string]string{"Parquet": tables.FormatParquet, "CSV": tables.FormatCSV, "NDJSON": tables.FormatNDJSON}[b.format.Selected])
	})
	saveView := widget.NewButtonWithIcon("Save view", theme.DocumentSaveIcon(), func() { s.saveView(b.def.JSON()) })

	b.content = b.layout(saveView, whereAdd, constAdd, container.NewHBox(b.previewBtn, b.format, toFile, toTable))
	return b
}

// Widths of the builder's fixed-width fields, in the theme's units.
const (
	nameFieldWidth = 190
	eachFieldWidth = 170
)

// fixedWidth gives o a fixed width at its own height.
func fixedWidth(w float32, o fyne.CanvasObject) fyne.CanvasObject {
	return container.NewGridWrap(fyne.NewSize(w, o.MinSize().Height), o)
}

// layout arranges the builder for a 1280x800 window: the resource, name
// and actions on top; the path tree on the left; on the right the
// columns and the filters and constants, each a list of editable rows with
// its own add row, as two tabs so that each has the height; the live
// preview below.
func (b *builder) layout(saveView, whereAdd, constAdd *widget.Button, runButtons fyne.CanvasObject) fyne.CanvasObject {
	top := container.NewBorder(nil, nil, nil,
		container.NewHBox(b.startFrom, saveView),
		container.NewGridWithColumns(2,
			widget.NewForm(widget.NewFormItem("Resource", b.resource)),
			widget.NewForm(widget.NewFormItem("Table name", b.name))))

	left := container.NewBorder(nil,
		container.NewVBox(b.pathInfo, b.each, b.orNull, b.addPath), nil, nil, b.tree)

	exprRow := container.NewBorder(nil, nil,
		fixedWidth(nameFieldWidth, b.exprName),
		container.NewHBox(fixedWidth(eachFieldWidth, b.exprEach), b.exprType, b.exprAdd),
		b.expr)
	columnsTab := container.NewBorder(nil,
		container.NewVBox(widget.NewSeparator(),
			widget.NewLabelWithStyle("Add a column by its FHIRPath expression", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			exprRow, b.exprErr),
		nil, nil, b.cols)

	whereRow := container.NewBorder(nil, nil, nil, whereAdd, b.whereEdit)
	constRow := container.NewBorder(nil, nil,
		fixedWidth(nameFieldWidth, b.constName),
		container.NewHBox(b.constType, constAdd),
		b.constVal)
	filtersTab := container.NewBorder(nil,
		container.NewVBox(widget.NewSeparator(), whereRow, b.whereErr, constRow),
		nil, nil, b.filters)

	b.editTabs = container.NewAppTabs(
		container.NewTabItem("Columns (0)", columnsTab),
		container.NewTabItem("Filters and constants (0)", filtersTab))
	editor := container.NewHSplit(left, b.editTabs)
	editor.Offset = 0.34

	previewBox := container.NewBorder(
		container.NewBorder(nil, nil, nil, runButtons, b.previewState),
		nil, nil, nil, b.preview)
	body := container.NewVSplit(editor, previewBox)
	body.Offset = 0.6
	return container.NewBorder(top, nil, nil, nil, body)
}

// cellText shows one preview value.
func cellText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		data, _ := json.Marshal(v)
		return string(data)
	}
	return fmt.Sprint(v)
}

// exprProblem says what is wrong with a FHIRPath expression, with its
// position; "" when it parses (or is empty).
func exprProblem(src string) string {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	if _, err := fhirpath.Parse(src); err != nil {
		var fe *fhirpath.Error
		if errors.As(err, &fe) {
			return fmt.Sprintf("%s (at character %d)", fe.Msg, fe.Pos)
		}
		return err.Error()
	}
	return ""
}

func (b *builder) checkExpr() {
	msg := exprProblem(b.expr.Text)
	if m := exprProblem(b.exprEach.Text); m != "" && msg == "" {
		msg = "forEach: " + m
	}
	b.setExprErr(msg)
	if msg != "" {
		b.exprAdd.Disable()
	} else {
		b.exprAdd.Enable()
	}
}

func (b *builder) setLibrary(lib []workbench.ViewSummary) {
	b.library = nil
	var opts []string
	for _, v := range lib {
		if v.BuiltIn {
			b.library = append(b.library, v)
			opts = append(opts, cmpOr(v.Title, v.Name))
		}
	}
	b.startFrom.SetOptions(opts)
}

func (b *builder) reloadTypes() {
	var counts []core.TypeCount
	b.s.u.background("Could not read the catalogue's resource types.", func(ctx context.Context) error {
		if b.s.u.deps.Catalog == nil {
			return nil
		}
		var err error
		counts, err = b.s.u.deps.Catalog.Counts(ctx, 0)
		return err
	}, func() {
		var types []string
		for _, c := range counts {
			types = append(types, c.Type)
		}
		b.resource.SetOptions(types)
	})
}

func (b *builder) onStartFrom() {
	i := b.startFrom.SelectedIndex()
	if i < 0 || i >= len(b.library) {
		return
	}
	b.startFrom.ClearSelected()
	b.startFrom.PlaceHolder = "Start from a built-in view…"
	b.startFrom.Refresh()
	b.startFrom.OnChanged = nil
	defer func() { b.startFrom.OnChanged = func(string) { b.onStartFrom() } }()
	b.loadDef(b.library[i].JSON)
}

// loadDef replaces the view being built by data; false when data is not a
// ViewDefinition the builder can read.
func (b *builder) loadDef(data []byte) bool {
	d, err := parseViewDef(data)
	if err != nil {
		b.s.u.showError("This file is not a ViewDefinition the builder can read.", err)
		return false
	}
	b.def = d
	b.opened = ""
	b.name.SetText(d.Name)
	if b.resource.Selected != d.Resource {
		b.resource.SetSelected(d.Resource) // samples the paths and refreshes
	}
	b.cols.Refresh()
	b.filters.Refresh()
	b.changed()
	return true
}

func (b *builder) onResource(t string) {
	if b.def.Resource != t {
		b.def.Resource = t
		b.changed()
	}
	b.pathInfo.SetText("Reading a sample of " + t + " resources…")
	var sample *workbench.PathSample
	b.s.u.background("Could not sample the catalogue's "+t+" resources.", func(ctx context.Context) error {
		var err error
		sample, err = b.s.u.deps.Views.Paths(ctx, t)
		return err
	}, func() {
		if b.resource.Selected != t {
			return // superseded
		}
		b.setSample(sample)
	})
}

func (b *builder) setSample(ps *workbench.PathSample) {
	b.sample = ps
	b.paths = map[string]shape.Path{}
	b.kids = map[string][]string{}
	for _, p := range ps.Paths {
		b.paths[p.Path] = p
		b.kids[p.Parent] = append(b.kids[p.Parent], p.Path)
	}
	b.picked = ""
	b.addPath.Disable()
	b.tree.UnselectAll()
	b.tree.Refresh()
	b.pathInfo.SetText(fmt.Sprintf("Paths in a sample of %s %s resources. Pick one to add it as a column.",
		thousands(int64(ps.Resources)), ps.Resource))
}

// pathLine is one line of the path tree: the step, its share, an example.
func (b *builder) pathLine(id string) string {
	p, ok := b.paths[id]
	if !ok {
		return id
	}
	line := fmt.Sprintf("%s  %s", p.Name, share(p.Share))
	if len(p.Examples) > 0 {
		line += "  e.g. " + p.Examples[0]
	}
	return line
}

// share is a fraction as a whole percentage, "<1%" for a small non-zero.
func share(f float64) string {
	if f > 0 && f < 0.01 {
		return "<1%"
	}
	return fmt.Sprintf("%.0f%%", f*100)
}

func (b *builder) onPath(id string) {
	p, ok := b.paths[id]
	if !ok {
		return
	}
	b.picked = id
	var info strings.Builder
	fmt.Fprintf(&info, "%s: in %s of the sampled resources", p.Path, share(p.Share))
	if p.Leaf {
		fmt.Fprintf(&info, "; %s", p.Type)
	}
	if len(p.Examples) > 0 {
		fmt.Fprintf(&info, "; e.g. %s", strings.Join(p.Examples, ", "))
	}
	if p.Repeats {
		fmt.Fprintf(&info, ". It repeats (under %s): with forEach, one row per repeat; without, the column holds the first.", p.Each)
	}
	b.pathInfo.SetText(info.String())
	b.each.SetChecked(p.Repeats)
	if !p.Leaf {
		info.WriteString(". Open it to pick one of its values.")
		b.pathInfo.SetText(info.String())
		b.addPath.Disable()
		return
	}
	b.addPath.Enable()
}

// addPicked adds the picked path as a column: under a forEach of its
// repeating parent when asked, else as the first value.
func (b *builder) addPicked() {
	p, ok := b.paths[b.picked]
	if !ok || !p.Leaf {
		return
	}
	path, each := p.Path, ""
	switch {
	case p.Repeats && b.each.Checked:
		each = p.Each
		path = strings.TrimPrefix(strings.TrimPrefix(p.Path, p.Each), ".")
		if path == "" {
			path = "$this"
		}
		if p.Nested {
			path += ".first()"
		}
	case p.Repeats:
		path += ".first()"
	}
	c := viewColumn{Name: b.def.columnName(p.Path), Path: path, Type: p.Type}
	b.def.addColumn(c, each, b.orNull.Checked)
	b.cols.Refresh()
	b.changed()
}

func (b *builder) addExpr() {
	if msg := exprProblem(b.expr.Text); msg != "" || strings.TrimSpace(b.expr.Text) == "" {
		if msg == "" {
			msg = "Type an expression first."
		}
		b.setExprErr(msg)
		return
	}
	name := strings.TrimSpace(b.exprName.Text)
	if name == "" {
		name = b.def.columnName(b.expr.Text)
	}
	b.def.addColumn(viewColumn{Name: name, Path: b.expr.Text, Type: b.exprType.Selected},
		strings.TrimSpace(b.exprEach.Text), b.orNull.Checked)
	b.expr.SetText("")
	b.exprName.SetText("")
	b.exprEach.SetText("")
	b.cols.Refresh()
	b.changed()
}

func (b *builder) addWhere() {
	src := strings.TrimSpace(b.whereEdit.Text)
	if src == "" {
		return
	}
	if msg := exprProblem(src); msg != "" {
		b.setWhereErr(msg)
		return
	}
	b.def.Where = append(b.def.Where, src)
	b.whereEdit.SetText("")
	b.filters.Refresh()
	b.changed()
}

func (b *builder) addConstant() {
	name := strings.TrimSpace(b.constName.Text)
	if name == "" {
		return
	}
	raw, err := constantValue(b.constType.Selected, b.constVal.Text)
	if err != nil {
		b.setWhereErr("The constant's value is not a " + b.constType.Selected + ".")
		return
	}
	b.def.Constants = append(b.def.Constants, viewConstant{Name: name, Type: b.constType.Selected, Value: raw})
	b.constName.SetText("")
	b.constVal.SetText("")
	b.filters.Refresh()
	b.changed()
}

// setExprErr shows what is wrong with the typed expression, under it;
// nothing when msg is "".
func (b *builder) setExprErr(msg string) { showProblem(b.exprErr, msg) }

// setWhereErr shows what is wrong with the typed filter or constant.
func (b *builder) setWhereErr(msg string) { showProblem(b.whereErr, msg) }

func showProblem(l *widget.Label, msg string) {
	l.SetText(msg)
	if msg == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

func (b *builder) removeColumn(i int) {
	c, _ := b.def.columnAt(i)
	if c == nil {
		return
	}
	b.def.removeColumn(c.Name)
	b.cols.UnselectAll()
	b.cols.Refresh()
	b.changed()
}

// removeFilter removes the i-th where filter, or after them a constant.
func (b *builder) removeFilter(i int) {
	switch {
	case i < 0:
		return
	case i < len(b.def.Where):
		b.def.Where = append(b.def.Where[:i], b.def.Where[i+1:]...)
	case i-len(b.def.Where) < len(b.def.Constants):
		j := i - len(b.def.Where)
		b.def.Constants = append(b.def.Constants[:j], b.def.Constants[j+1:]...)
	default:
		return
	}
	b.filters.UnselectAll()
	b.filters.Refresh()
	b.changed()
}

// changed recomputes the preview in the background, cancelling the one
// before, so that an edit never waits for a run.
func (b *builder) changed() {
	if b.previewStop != nil {
		b.previewStop()
		b.previewStop = nil
	}
	b.previewSeq++
	seq := b.previewSeq
	def := b.def.JSON()
	b.editTabs.Items[0].Text = fmt.Sprintf("Columns (%d)", len(b.def.columns()))
	b.editTabs.Items[1].Text = fmt.Sprintf("Filters and constants (%d)", len(b.def.Where)+len(b.def.Constants))
	b.editTabs.Refresh()
	if len(b.def.columns()) == 0 || b.def.Resource == "" {
		b.previewData = nil
		b.preview.Refresh()
		b.setPreviewState("Pick a resource type and add a column to see rows.", nil)
		return
	}
	if err := validate(def); err != nil {
		b.setPreviewState(viewError(err), err)
		return
	}
	ctx, cancel := context.WithCancel(b.s.u.ctx)
	b.previewStop = cancel
	b.previewState.SetText("Computing the preview…")
	b.s.u.runAsync(func() {
		p, err := b.s.u.deps.Views.Preview(ctx, def, previewRows)
		fyne.Do(func() {
			if seq != b.previewSeq {
				return // a newer edit has its own preview coming
			}
			cancel()
			b.previewStop = nil
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return
				}
				b.setPreviewState("The preview could not be computed.", err)
				return
			}
			b.previewData = p
			b.preview.Refresh()
			for i, c := range p.Columns {
				b.preview.SetColumnWidth(i, previewWidth(c.Name, c.Type))
			}
			state := fmt.Sprintf("First %s of %s rows from %s resources; %s problems.",
				thousands(int64(len(p.Rows))), thousands(p.Total), thousands(p.Resources), thousands(p.Problems))
			if p.Problems > 0 && p.Example != "" {
				b.setPreviewState(state, errors.New(p.Example))
			} else {
				b.setPreviewState(state, nil)
			}
			b.s.prof.setPreviewColumns(p.Columns)
		})
	})
}

// setPreviewState shows a sentence over the preview, with the error's
// detail one click away.
func (b *builder) setPreviewState(text string, err error) {
	b.previewState.SetText(text)
	b.previewErr = err
	if err != nil {
		b.previewBtn.Show()
	} else {
		b.previewBtn.Hide()
	}
}

// readBounded reads at most limit bytes of r, and says so when there is more.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// previewWidth fits a preview column's heading and its usual values.
func previewWidth(name, typ string) float32 {
	w := float32(len(name))*9 + 30
	switch typ {
	case "dateTime", "instant":
		w = max(w, 240)
	case "date":
		w = max(w, 120)
	case "string", "uri", "":
		w = max(w, 160)
	}
	return max(w, 90)
}
