package sink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
		err  string
	}{
		{in: "s3://lake", want: Target{Bucket: "lake"}},
		{in: "s3://lake/", want: Target{Bucket: "lake"}},
		{in: "s3://my.lake-1/fhir/state/", want: Target{Bucket: "my.lake-1", Prefix: "fhir/state"}},
		{in: "https://lake/x", err: "want s3://"},
		{in: "s3://LAKE/x", err: "lower-case"},
		{in: "s3://ab", err: "3 to 63"},
		{in: "s3://-lake", err: "lower-case"},
		{in: "s3://lake/a//b", err: "empty"},
		{in: "s3://lake/a/../b", err: ".."},
		{in: "s3://lake/a\nb", err: "control"},
	} {
		got, err := ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURL(%q) error = %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"s3://lake", "s3://lake/a/b/", "s3://a..b/..", "s3://lake/\x00", "s3:///x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseURL(s)
		if err != nil {
			return
		}
		// What parses names a bucket and a prefix that round-trip and
		// cannot climb out of the prefix.
		again, err := ParseURL(tg.String())
		if err != nil || again != tg {
			t.Fatalf("ParseURL(%q) = %+v; its String %q parses as %+v, %v", s, tg, tg.String(), again, err)
		}
		for _, seg := range strings.Split(tg.Prefix, "/") {
			if seg == ".." {
				t.Fatalf("ParseURL(%q) kept a .. segment", s)
			}
		}
	})
}

func TestEnvironment(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	os.WriteFile(cfgFile, []byte("[default]\nregion = eu-west-1\n[profile lake]\nregion=us-west-2\nendpoint_url = http://127.0.0.1:9000\ns3 =\n  addressing_style = path\n"+
		"  multipart_chunksize = 8MB\n  max_concurrent_requests = 2\nregion_after = x\n"+
		"[profile big]\ns3 =\n  multipart_chunksize = 5368709120\n"+
		"[profile small]\ns3 =\n  multipart_chunksize = 4MB\n"+
		"[profile busy]\ns3 =\n  max_concurrent_requests = 0\n"), 0o600)
	for _, tc := range []struct {
		name        string
		env         map[string]string
		endpoint    string
		secure      bool
		region, err string
		partSize    int64
		uploads     int
	}{
		{name: "Default", env: map[string]string{}, endpoint: "s3.amazonaws.com", secure: true, region: "eu-west-1"},
		{name: "Profile", env: map[string]string{"AWS_PROFILE": "lake"}, endpoint: "127.0.0.1:9000", region: "us-west-2",
			partSize: 8 << 20, uploads: 2},
		{name: "PartSizeInBytes", env: map[string]string{"AWS_PROFILE": "big"}, endpoint: "s3.amazonaws.com", secure: true, partSize: 5 << 30},
		{name: "PartSizeUnderS3Minimum", env: map[string]string{"AWS_PROFILE": "small"}, err: "multipart_chunksize"},
		{name: "NoUploads", env: map[string]string{"AWS_PROFILE": "busy"}, err: "max_concurrent_requests"},
		{name: "EnvWins", env: map[string]string{"AWS_PROFILE": "lake", "AWS_REGION": "ap-south-1", "AWS_ENDPOINT_URL_S3": "https://objects.example:8443"},
			endpoint: "objects.example:8443", secure: true, region: "ap-south-1", partSize: 8 << 20, uploads: 2},
		{name: "PlainHTTPRemote", env: map[string]string{"AWS_ENDPOINT_URL": "http://10.0.0.5:9000"}, err: "loopback"},
		{name: "PlainHTTPLoopbackV6", env: map[string]string{"AWS_ENDPOINT_URL": "http://[::1]:9000"}, endpoint: "[::1]:9000", region: "eu-west-1"},
		{name: "EndpointWithPath", env: map[string]string{"AWS_ENDPOINT_URL": "https://h/bucket"}, err: "want https://HOST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["AWS_CONFIG_FILE"] = cfgFile
			cfg, err := Environment(func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Endpoint != tc.endpoint || cfg.Secure != tc.secure || cfg.Region != tc.region {
				t.Errorf("got %s secure=%v region=%q, want %s secure=%v region=%q", cfg.Endpoint, cfg.Secure, cfg.Region, tc.endpoint, tc.secure, tc.region)
			}
			if cfg.PartSize != tc.partSize || cfg.Uploads != tc.uploads {
				t.Errorf("got part size %d, %d uploads; want %d, %d", cfg.PartSize, cfg.Uploads, tc.partSize, tc.uploads)
			}
		})
	}
}

func TestReadProfileNested(t *testing.T) {
	text := "[default]\nregion = a\ns3 =\n  multipart_chunksize = 8MB\n  Max_Concurrent_Requests = 2\nafter = b\n  stray = 1\n"
	got, err := readProfile(strings.NewReader(text), "default")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"region": "a", "s3.multipart_chunksize": "8MB", "s3.max_concurrent_requests": "2", "after": "b"}
	if len(got) != len(want) {
		t.Errorf("readProfile = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("readProfile[%q] = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{in: "5242880", want: 5 << 20},
		{in: "5MB", want: 5 << 20},
		{in: "8 mib", want: 8 << 20},
		{in: "1GB", want: 1 << 30},
		{in: "64KB", want: 64 << 10},
		{in: "2TiB", want: 2 << 40},
		{in: "", err: true},
		{in: "MB", err: true},
		{in: "-1MB", err: true},
		{in: "1.5MB", err: true},
		{in: "9999999999TB", err: true},
	} {
		got, err := parseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzReadProfile(f *testing.F) {
	f.Add("[default]\nregion = x\n", "default")
	f.Add("[profile a]\n  nested = 1\nk=v\n[b", "a")
	f.Add("; c\n# c\n[ profile   a ]\nx", "a")
	f.Add("[default]\ns3 =\n  multipart_chunksize = 8MB\n\tmax_concurrent_requests=2\nk = v\n  stray = 1\n", "default")
	f.Fuzz(func(t *testing.T, text, profile string) {
		m, err := readProfile(strings.NewReader(text), profile)
		if err != nil {
			return
		}
		for k := range m {
			if k != strings.ToLower(strings.TrimSpace(k)) {
				t.Fatalf("key %q not normalised", k)
			}
		}
	})
}
