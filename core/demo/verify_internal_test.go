package demo

import (
	"encoding/json"
	"testing"
	"time"

	samplejwks "tranche.dev/tranche/sample-jwks"
)

// TestVectors checks that the key-selection and verify path accepts the
// JWTs an independent implementation signed with the sample keys, and that
// their claims pass every check but expiry (they expired in 2015).
func TestVectors(t *testing.T) {
	raw, err := samplejwks.File("vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Claims  assertionClaims `json:"claims"`
		Vectors []struct {
			Alg        string `json:"alg"`
			PublicJWKS string `json:"public_jwks"`
			Kid        string `json:"kid"`
			JWT        string `json:"jwt"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Vectors) < 2 {
		t.Fatalf("%d vectors, want RS384 and ES384", len(v.Vectors))
	}
	for _, vec := range v.Vectors {
		t.Run(vec.Alg, func(t *testing.T) {
			name := vec.PublicJWKS
			jwks, err := samplejwks.File(name)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := parseJWKS(jwks, true)
			if err != nil {
				t.Fatalf("parseJWKS(%s) = %v", name, err)
			}
			h, payload, err := verifySignature(vec.JWT, keys)
			if err != nil {
				t.Fatalf("verifySignature = %v, want nil", err)
			}
			if h.Alg != vec.Alg || h.Kid != vec.Kid {
				t.Errorf("header alg %q kid %q, want %q %q", h.Alg, h.Kid, vec.Alg, vec.Kid)
			}
			var c assertionClaims
			if err := json.Unmarshal(payload, &c); err != nil {
				t.Fatal(err)
			}
			exp := time.Unix(int64(*c.Exp), 0)
			if err := checkClaims(c, "bili_monitor", "https://authorize.smarthealthit.org/token", exp.Add(-time.Minute)); err != nil {
				t.Errorf("checkClaims = %v, want nil", err)
			}
			if err := checkClaims(c, "bili_monitor", "https://authorize.smarthealthit.org/token", time.Now()); err == nil {
				t.Errorf("checkClaims(now) = nil, want expired")
			}
			// One flipped signature byte must fail.
			bad := []byte(vec.JWT)
			bad[len(bad)-10] ^= 1
			if _, _, err := verifySignature(string(bad), keys); err == nil {
				t.Errorf("tampered vector verified")
			}
		})
	}
}

func TestGrant(t *testing.T) {
	tests := []struct {
		requested, allowed, want string
	}{
		{"system/*.rs", "system/*.rs", "system/*.rs"},
		{"system/*.read", "system/*.rs", "system/*.read"},
		{"system/*.cruds", "system/*.rs", "system/*.rs"},
		{"system/*.write", "system/*.rs", ""},
		{"system/Observation.rs", "system/*.rs", "system/Observation.rs"},
		{"system/*.rs", "system/Patient.rs system/Observation.r", "system/Patient.rs system/Observation.r"},
		{"system/*.r", "system/*.rs", "system/*.r"},
		{"system/Patient.read", "system/Patient.r", ""},
	}
	for _, tt := range tests {
		req, _ := parseScopes(tt.requested)
		allowed, _ := parseScopes(tt.allowed)
		if got := grant(req, allowed).String(); got != tt.want {
			t.Errorf("grant(%q, %q) = %q, want %q", tt.requested, tt.allowed, got, tt.want)
		}
	}
}

func TestParseScope(t *testing.T) {
	for _, bad := range []string{"system/*.sr", "system/*.x", "patient/*.read", "system/Observation", "system/obs.rs", "system/*.rs?code=1", "launch"} {
		if _, ok := parseScope(bad); ok {
			t.Errorf("parseScope(%q) ok, want rejected", bad)
		}
	}
	s, _ := parseScopes("system/Observation.s system/Patient.read")
	if s.canRead("Observation") || !s.canRead("Patient") || s.canRead("Condition") {
		t.Errorf("canRead wrong for %v", s)
	}
}

func TestDateValue(t *testing.T) {
	res := func(s string) span {
		sp, err := parseSpan(s)
		if err != nil {
			t.Fatalf("parseSpan(%q) = %v", s, err)
		}
		return sp
	}
	tests := []struct {
		param, value string
		want         bool
	}{
		{"2020", "2020-05-01T10:00:00Z", true},
		{"eq2020-05", "2020-05-01", true},
		{"eq2020-05", "2020-06-01", false},
		{"gt2020", "2021-01-01T00:00:00Z", true},
		{"gt2020", "2020-12-31", false},
		{"ge2020", "2020-12-31", true},
		{"lt2020-01-01", "2019-12-31T23:59:59Z", true},
		{"lt2020-01-01", "2020-01-01T00:00:00Z", false},
		{"le2020-01-01", "2020-01-01T12:00:00Z", true},
		{"ne2020", "2021-03-03", true},
		{"sa2020", "2021-01-01", true},
		{"eb2020", "2019-12-31", true},
		{"ge2020-01-01T00:00:00+02:00", "2019-12-31T23:00:00Z", true},
	}
	for _, tt := range tests {
		d, err := parseDateValue(tt.param)
		if err != nil {
			t.Fatalf("parseDateValue(%q) = %v", tt.param, err)
		}
		if got := d.matches(res(tt.value)); got != tt.want {
			t.Errorf("%s matches %s = %v, want %v", tt.param, tt.value, got, tt.want)
		}
	}
	for _, bad := range []string{"ap2020", "2020-13", "yesterday", "2020-01-01T10"} {
		if _, err := parseDateValue(bad); err == nil {
			t.Errorf("parseDateValue(%q) = nil error", bad)
		}
	}
}

func TestParseInstant(t *testing.T) {
	for _, ok := range []string{"2020-01-02T03:04:05Z", "2020-01-02T03:04:05.123+02:00"} {
		if _, err := parseInstant(ok); err != nil {
			t.Errorf("parseInstant(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"2020-01-02", "2020-01-02T03:04:05", "2020-01-02T03:04Z", "2020-02-30T00:00:00Z", "x"} {
		if _, err := parseInstant(bad); err == nil {
			t.Errorf("parseInstant(%q) = nil error", bad)
		}
	}
}

func TestSubset(t *testing.T) {
	in := `{"resourceType":"Observation","id":"o1","meta":{"versionId":"1"},"status":"final","statusReason":{"text":"x"},"code":{"text":"c"},"valueQuantity":{"value":1},"_status":{"id":"e"},"note":[{"text":"n"}]}`
	keep := (&elements{any: []string{"value"}}).keep("Observation")
	out, err := subset([]byte(in), keep)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType":"Observation","id":"o1","meta":{"tag":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"subsetted"}],"versionId":"1"},"status":"final","code":{"text":"c"},"valueQuantity":{"value":1},"_status":{"id":"e"}}`
	if string(out) != want {
		t.Errorf("subset =\n%s\nwant\n%s", out, want)
	}
}
