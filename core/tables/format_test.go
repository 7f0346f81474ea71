package tables_test

import (
	"testing"

	"tranche.dev/tranche/core/tables"
)

func TestFormatOf(t *testing.T) {
	tests := []struct{ name, def, want string }{
		{"bp.parquet", "csv", "parquet"},
		{"BP.PARQUET", "csv", "parquet"},
		{"out/bp.csv", "ndjson", "csv"},
		{"bp.ndjson", "csv", "ndjson"},
		{"bp.jsonl", "csv", "ndjson"},
		{"bp.txt", "csv", "csv"},
		{"", "ndjson", "ndjson"},
	}
	for _, tt := range tests {
		if got := tables.FormatOf(tt.name, tt.def); got != tt.want {
			t.Errorf("FormatOf(%q, %q) = %q, want %q", tt.name, tt.def, got, tt.want)
		}
	}
	// Each format's extension names it again.
	for _, f := range []string{tables.FormatCSV, tables.FormatNDJSON, tables.FormatParquet} {
		if got := tables.FormatOf("x"+tables.Ext(f), ""); got != f {
			t.Errorf("FormatOf(x%s) = %q, want %q", tables.Ext(f), got, f)
		}
	}
	if got := tables.Ext("xml"); got != "" {
		t.Errorf(`Ext("xml") = %q, want ""`, got)
	}
}
