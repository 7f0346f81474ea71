package core

import "testing"

func TestParseOutcome(t *testing.T) {
	for _, tt := range []struct {
		name, raw               string
		valid                   bool
		text, summary, severity string
		transient               bool
	}{
		{name: "diagnostics first", raw: `{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"processing","diagnostics":"bad line","details":{"text":"d"}},{"severity":"fatal","code":"transient","details":{"text":"later"}}]}`,
			valid: true, text: "bad line", summary: "bad line; later", severity: "fatal"},
		{name: "details then code", raw: `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"throttled"},{"severity":"information","code":"timeout","details":{"text":"slow"}}]}`,
			valid: true, text: "throttled", summary: "throttled; slow", severity: "error", transient: true},
		{name: "not an outcome", raw: `{"resourceType":"Patient","id":"1"}`},
		{name: "no issues", raw: `{"resourceType":"OperationOutcome","issue":[]}`},
		{name: "unknown severity", raw: `{"resourceType":"OperationOutcome","issue":[{"severity":"odd","code":"x"}]}`,
			valid: true, text: "x", summary: "x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOutcome([]byte(tt.raw))
			if err != nil {
				t.Fatalf("ParseOutcome: %v", err)
			}
			if got := o.Valid(); got != tt.valid {
				t.Errorf("Valid() = %v, want %v", got, tt.valid)
			}
			if got := o.Text(); got != tt.text {
				t.Errorf("Text() = %q, want %q", got, tt.text)
			}
			if got := o.Summary(); got != tt.summary {
				t.Errorf("Summary() = %q, want %q", got, tt.summary)
			}
			if got := o.Severity(); got != tt.severity {
				t.Errorf("Severity() = %q, want %q", got, tt.severity)
			}
			if got := o.Transient(); got != tt.transient {
				t.Errorf("Transient() = %v, want %v", got, tt.transient)
			}
		})
	}
	if _, err := ParseOutcome([]byte(`{"issue":`)); err == nil {
		t.Errorf("ParseOutcome of truncated JSON: no error, want one")
	}
}

func FuzzParseOutcome(f *testing.F) {
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"x","diagnostics":"d"}]}`))
	f.Add([]byte(`{"issue":[{}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := ParseOutcome(raw)
		if err != nil {
			return
		}
		if o.Valid() && o.Text() == "" && o.Issue[0].Code != "" {
			t.Errorf("valid outcome with a code has no text: %q", raw)
		}
		_ = o.Summary() + o.Severity()
		_ = o.Transient()
	})
}
