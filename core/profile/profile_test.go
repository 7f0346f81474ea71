package profile_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core/profile"
)

func num(s string) json.Number { return json.Number(s) }

func TestProfiler(t *testing.T) {
	tests := []struct {
		name   string
		typ    string
		values []any
		want   profile.Profile
	}{
		{
			name:   "NoValues",
			values: nil,
			want:   profile.Profile{},
		},
		{
			name:   "AllEmpty",
			values: []any{nil, "", []any{}, nil},
			want:   profile.Profile{Count: 4, Empty: 4},
		},
		{
			name:   "OneValue",
			values: []any{int64(7)},
			want: profile.Profile{Kind: profile.Number, Count: 1, Distinct: 1,
				Top: []profile.ValueCount{{"7", 1}}, Min: "7", Median: "7", Max: "7",
				Bins: []profile.Bin{{Lo: "7", Hi: "7", Count: 1}}},
		},
		{
			name:   "TextTopValuesTiesByValue",
			typ:    "code",
			values: []any{"male", "female", "male", nil, "unknown", "female", "male"},
			want: profile.Profile{Kind: profile.Text, Count: 7, Empty: 1, Distinct: 3,
				Top: []profile.ValueCount{{"male", 3}, {"female", 2}, {"unknown", 1}}},
		},
		{
			name:   "DecimalsKeptExact",
			typ:    "decimal",
			values: []any{num("0.10"), num("120.50"), num("80.25"), nil, num("0.10")},
			want: profile.Profile{Kind: profile.Number, Count: 5, Empty: 1, Distinct: 3,
				Top: []profile.ValueCount{{"0.10", 2}, {"120.50", 1}, {"80.25", 1}},
				// The median of 0.10 0.10 80.25 120.50 is (0.10+80.25)/2, exactly.
				Min: "0.10", Median: "40.175", Max: "120.50",
				Bins: []profile.Bin{
					{"0", "20", 2}, {"20", "40", 0}, {"40", "60", 0}, {"60", "80", 0},
					{"80", "100", 1}, {"100", "120", 0}, {"120", "140", 1},
				}},
		},
		{
			name:   "IntegersBinWidthAtLeastOne",
			typ:    "integer",
			values: []any{int64(1), int64(2), int64(2), int64(3)},
			want: profile.Profile{Kind: profile.Number, Count: 4, Distinct: 3,
				Top: []profile.ValueCount{{"2", 2}, {"1", 1}, {"3", 1}},
				Min: "1", Median: "2", Max: "3",
				Bins: []profile.Bin{{"1", "2", 1}, {"2", "3", 3}}},
		},
		{
			name:   "PartialDates",
			typ:    "date",
			values: []any{"2019", "2019-06", "2019-06-15", "2020-02-01", nil},
			want: profile.Profile{Kind: profile.Date, Count: 5, Empty: 1, Distinct: 4,
				Top: []profile.ValueCount{{"2019", 1}, {"2019-06", 1}, {"2019-06-15", 1}, {"2020-02-01", 1}},
				// Sorted: 2019 (Jan 1), 2019-06, 2019-06-15, 2020-02-01; the
				// lower middle keeps its own precision.
				Min: "2019", Median: "2019-06", Max: "2020-02-01",
				Bins: []profile.Bin{
					// 14 months in bins of three.
					{"2019-01", "2019-04", 1}, {"2019-04", "2019-07", 2}, {"2019-07", "2019-10", 0},
					{"2019-10", "2020-01", 0}, {"2020-01", "2020-04", 1},
				}},
		},
		{
			name:   "UndeclaredDateTimesInferred",
			values: []any{"2020-01-01T10:00:00Z", "2022-05-01T00:00:00+02:00", "2021-07-07"},
			want: profile.Profile{Kind: profile.Date, Count: 3, Distinct: 3,
				Top: []profile.ValueCount{{"2020-01-01T10:00:00Z", 1}, {"2021-07-07", 1}, {"2022-05-01T00:00:00+02:00", 1}},
				Min: "2020-01-01T10:00:00Z", Median: "2021-07-07", Max: "2022-05-01T00:00:00+02:00",
				Bins: []profile.Bin{{"2020", "2021", 1}, {"2021", "2022", 1}, {"2022", "2023", 1}}},
		},
		{
			name:   "MixedIsText",
			values: []any{int64(1), "two", true},
			want: profile.Profile{Kind: profile.Text, Count: 3, Distinct: 3,
				Top: []profile.ValueCount{{"1", 1}, {"true", 1}, {"two", 1}}},
		},
		{
			name:   "StringTypedNumbersStayText",
			typ:    "string",
			values: []any{"10", "9"},
			want: profile.Profile{Kind: profile.Text, Count: 2, Distinct: 2,
				Top: []profile.ValueCount{{"10", 1}, {"9", 1}}},
		},
		{
			name:   "CollectionsAsOneValue",
			values: []any{[]any{"a", "b"}, []any{}, []any{"a", "b"}},
			want: profile.Profile{Kind: profile.Text, Count: 3, Empty: 1, Distinct: 1,
				Top: []profile.ValueCount{{`["a","b"]`, 2}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := profile.Profiler{Type: tt.typ, Bins: 6}
			for _, v := range tt.values {
				p.Add(v)
			}
			got := p.Profile()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Profile() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProfiler_Bounded(t *testing.T) {
	p := profile.Profiler{Type: "integer", MaxDistinct: 10, MaxSample: 100, TopN: 3}
	for i := range 1000 {
		p.Add(int64(i % 50))
	}
	got := p.Profile()
	if !got.DistinctCapped || got.Distinct != 10 {
		t.Errorf("Distinct = %d capped %v, want 10 capped true", got.Distinct, got.DistinctCapped)
	}
	if diff := cmp.Diff([]profile.ValueCount{{"0", 20}, {"1", 20}, {"2", 20}}, got.Top); diff != "" {
		t.Errorf("Top (-want +got):\n%s", diff)
	}
	if got.Min != "0" || got.Max != "49" {
		t.Errorf("Min, Max = %s, %s, want 0, 49 (exact past the sample cap)", got.Min, got.Max)
	}
	if !got.Sampled {
		t.Errorf("Sampled = false, want true past MaxSample")
	}
	var n int64
	for _, b := range got.Bins {
		n += b.Count
	}
	if n != 100 {
		t.Errorf("histogram holds %d values, want the sample's 100", n)
	}
}

func TestProfile_EmptyShare(t *testing.T) {
	for _, tt := range []struct {
		p    profile.Profile
		want float64
	}{
		{profile.Profile{}, 0},
		{profile.Profile{Count: 4, Empty: 1}, 0.25},
		{profile.Profile{Count: 2, Empty: 2}, 1},
	} {
		if got := tt.p.EmptyShare(); got != tt.want {
			t.Errorf("EmptyShare(%d of %d) = %v, want %v", tt.p.Empty, tt.p.Count, got, tt.want)
		}
	}
}

// FuzzProfiler feeds arbitrary text values under each kind of declared
// type and checks the profile's invariants.
func FuzzProfiler(f *testing.F) {
	for _, s := range []string{"2019", "2019-06-15", "2020-01-01T10:00:00Z", "0.10", "-3e5", "", "male", "9999-12-31T23:59:59.999+14:00"} {
		f.Add(s, s+"1", "decimal")
		f.Add(s, "2019", "date")
		f.Add(s, "x", "")
	}
	f.Fuzz(func(t *testing.T, a, b, typ string) {
		p := profile.Profiler{Type: typ, MaxSample: 3}
		for _, v := range []any{a, b, json.Number(a), nil, a} {
			p.Add(v)
		}
		got := p.Profile()
		if got.Count != 5 || got.Empty < 1 || got.Distinct > got.Count-got.Empty {
			t.Fatalf("Count %d Empty %d Distinct %d: inconsistent", got.Count, got.Empty, got.Distinct)
		}
		var n int64
		for _, b := range got.Bins {
			n += b.Count
		}
		if got.Kind != profile.Text && (n == 0 || n > 3 || got.Min == "" || got.Max == "") {
			t.Fatalf("%v column: bins hold %d values, min %q max %q", got.Kind, n, got.Min, got.Max)
		}
	})
}
