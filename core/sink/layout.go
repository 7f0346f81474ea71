package sink

import (
	"fmt"
	"strings"

	"tranche.dev/tranche/core"
)

// The object layout, documented in docs/sink-layout.md. Key names are
// deterministic per export, file and segment, so an upload repeated after
// a crash overwrites instead of adding.
const (
	rawDir       = "raw"       // raw/export=N/{manifest.json,KIND/FILE-TYPE.ndjson.gz}
	resourcesDir = "resources" // resources/type=T/export=N/FILE-LINE.parquet
	viewsDir     = "views"     // views/NAME/export=N/FILE-LINE.parquet
	exportsDir   = "exports"   // exports/export=N.json, the completion manifest
	latestKey    = "latest.json"
	stateDir     = "_tranche/state" // _tranche/state/export=N/file-FILE.json
	// LayoutVersion changes when a reader would need to change.
	LayoutVersion = 1
)

func (t Target) key(parts ...string) string {
	k := strings.Join(parts, "/")
	if t.Prefix == "" {
		return k
	}
	return t.Prefix + "/" + k
}

func exportPart(id int64) string { return fmt.Sprintf("export=%d", id) }

func (t Target) manifestKey(exportID int64) string {
	return t.key(rawDir, exportPart(exportID), "manifest.json")
}

func (t Target) rawKey(exportID int64, f *core.ExportFile) string {
	return t.key(rawDir, exportPart(exportID), string(f.Kind), fmt.Sprintf("%06d-%s.ndjson.gz", f.ID, partitionValue(f.Type)))
}

func (t Target) tableKey(exportID int64, typ string, fileID, firstLine int64) string {
	return t.key(resourcesDir, "type="+partitionValue(typ), exportPart(exportID), fmt.Sprintf("%06d-%09d.parquet", fileID, firstLine))
}

func (t Target) viewKey(view string, exportID, fileID, firstLine int64) string {
	return t.key(viewsDir, view, exportPart(exportID), fmt.Sprintf("%06d-%09d.parquet", fileID, firstLine))
}

// ValidViewName reports whether a view's name can name its directory:
// lower-case letters, digits and '_', starting with a letter, as the SQL
// on FHIR v2 ViewDefinition.name invariant asks (a database-friendly name).
func ValidViewName(name string) bool {
	if name == "" || len(name) > 64 || !(name[0] >= 'a' && name[0] <= 'z') {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func (t Target) exportKey(exportID int64) string {
	return t.key(exportsDir, exportPart(exportID)+".json")
}

func (t Target) latestKey() string { return t.key(latestKey) }

func (t Target) stateKey(exportID, fileID int64) string {
	return t.key(stateDir, exportPart(exportID), fmt.Sprintf("file-%06d.json", fileID))
}

func (t Target) stateExportPrefix(exportID int64) string {
	return t.key(stateDir, exportPart(exportID)) + "/"
}

// partitionValue is a resource type as a Hive partition value: FHIR type
// names are ASCII letters (FHIR R4, Resource: "Resource Types"); anything
// else, or nothing, is "_unknown", so no name can escape its directory.
func partitionValue(typ string) string {
	if typ == "" || len(typ) > 64 {
		return "_unknown"
	}
	for _, r := range typ {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return "_unknown"
		}
	}
	return typ
}
