package core

import (
	"strings"
	"testing"
	"time"
)

func TestRegistrationValidate(t *testing.T) {
	ok := func() Registration {
		return Registration{Name: "County", FHIRBaseURL: "https://ehr.example/fhir", TokenURL: "https://ehr.example/token", Alg: "ES384"}
	}
	for _, tt := range []struct {
		name   string
		change func(r *Registration)
		want   string // "" for valid; else a part of the error
	}{
		{"valid", func(r *Registration) {}, ""},
		{"loopback http", func(r *Registration) {
			r.FHIRBaseURL, r.TokenURL = "http://127.0.0.1:9/fhir", "http://127.0.0.1:9/token"
		}, ""},
		{"no name", func(r *Registration) { r.Name = " " }, "needs a name"},
		{"no base", func(r *Registration) { r.FHIRBaseURL = "" }, "FHIR base URL"},
		{"plain http off loopback", func(r *Registration) { r.TokenURL = "http://192.0.2.1/token" }, "token URL"},
		{"algorithm", func(r *Registration) { r.Alg = "HS256" }, "RS384 or ES384"},
		{"parallel", func(r *Registration) { r.MaxParallel = 1000 }, "parallel downloads"},
		{"poll bounds", func(r *Registration) { r.PollMin, r.PollMax = time.Minute, time.Second }, "poll bounds"},
		{"header name", func(r *Registration) { r.Headers = map[string]string{"Bad Name": "x"} }, "not a header name"},
		{"authorization header", func(r *Registration) { r.Headers = map[string]string{"authorization": "Bearer x"} }, "Authorization"},
		{"sink", func(r *Registration) { r.Sink = "s3://lake/fhir/ehr" }, ""},
		{"sink not s3", func(r *Registration) { r.Sink = "https://lake.example/ehr" }, "want s3://BUCKET/PREFIX"},
		{"sink bucket", func(r *Registration) { r.Sink = "s3://Lake/ehr" }, "bucket name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ok()
			tt.change(&r)
			err := r.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error about %q", err, tt.want)
			}
		})
	}
}
