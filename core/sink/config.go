// Package sink writes exports to S3-compatible object storage in a layout
// that Spark, Trino and DuckDB read directly (docs/sink-layout.md). Store
// wraps the export engine's store: the runner writes to it as to the
// catalogue, and it lands each file in the bucket before it lets the
// catalogue record the progress, so a resumed export carries on exactly
// where the bucket left off.
package sink

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"tranche.dev/tranche/core"
)

// Target is where a sink writes: s3://Bucket/Prefix.
type Target struct {
	Bucket string
	Prefix string // no leading or trailing slash; may be empty
}

func (t Target) String() string {
	if t.Prefix == "" {
		return "s3://" + t.Bucket
	}
	return "s3://" + t.Bucket + "/" + t.Prefix
}

// ParseURL reads s3://BUCKET[/PREFIX] by core.ParseSinkURL's rule.
func ParseURL(s string) (Target, error) {
	bucket, prefix, err := core.ParseSinkURL(s)
	return Target{Bucket: bucket, Prefix: prefix}, err
}

// Config is how to reach the storage. It never comes from a flag value:
// Environment reads the standard AWS variables and shared files.
type Config struct {
	Endpoint string // host[:port]
	Secure   bool   // https
	Region   string // "" lets the client discover it
	Creds    *credentials.Credentials
	// PartSize is the profile's s3 multipart_chunksize: the compressed
	// raw bytes per segment (Store.PartSize); 0 = DefaultPartSize.
	PartSize int64
	// Uploads is the profile's s3 max_concurrent_requests: requests a
	// segment's landing sends at once (Store.Uploads); 0 = DefaultUploads.
	Uploads int
}

// Environment builds a Config the way the AWS tools do: endpoint from
// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL or the profile's endpoint_url
// (default https://s3.amazonaws.com); region from AWS_REGION,
// AWS_DEFAULT_REGION or the profile's region; credentials from
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN] or the shared
// credentials file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials) for
// AWS_PROFILE. The profile is read from AWS_CONFIG_FILE or ~/.aws/config;
// its s3 section's multipart_chunksize and max_concurrent_requests (AWS
// CLI S3 Configuration) set the part size and the uploads at once.
// Plain http is refused unless the endpoint is a loopback address.
func Environment(getenv func(string) string) (Config, error) {
	profile := getenv("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	cfgFile := getenv("AWS_CONFIG_FILE")
	if cfgFile == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cfgFile = filepath.Join(home, ".aws", "config")
		}
	}
	prof := map[string]string{}
	if cfgFile != "" {
		f, err := os.Open(cfgFile)
		switch {
		case err == nil:
			prof, err = readProfile(f, profile)
			f.Close()
			if err != nil {
				return Config{}, fmt.Errorf("aws config %s: %w", cfgFile, err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return Config{}, fmt.Errorf("aws config: %w", err)
		}
	}
	first := func(vs ...string) string {
		for _, v := range vs {
			if v != "" {
				return v
			}
		}
		return ""
	}
	endpoint := first(getenv("AWS_ENDPOINT_URL_S3"), getenv("AWS_ENDPOINT_URL"), prof["endpoint_url"], "https://s3.amazonaws.com")
	host, secure, err := checkEndpoint(endpoint)
	if err != nil {
		return Config{}, err
	}
	var partSize int64
	if v := prof["s3.multipart_chunksize"]; v != "" {
		n, err := parseSize(v)
		if err != nil || n < MinPartSize || n > MaxPartSize {
			return Config{}, fmt.Errorf("aws config %s: s3 multipart_chunksize %q: want a size from 5MB to 5GB", cfgFile, v)
		}
		partSize = n
	}
	var uploads int
	if v := prof["s3.max_concurrent_requests"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxUploads {
			return Config{}, fmt.Errorf("aws config %s: s3 max_concurrent_requests %q: want 1 to %d", cfgFile, v, MaxUploads)
		}
		uploads = n
	}
	credFile := getenv("AWS_SHARED_CREDENTIALS_FILE")
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{Filename: credFile, Profile: profile},
	})
	return Config{
		Endpoint: host, Secure: secure, Creds: creds,
		Region:   first(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), prof["region"]),
		PartSize: partSize, Uploads: uploads,
	}, nil
}

// parseSize reads a size as the AWS CLI does: bytes, or a number with
// KB, MB, GB or TB (powers of 1024, as KiB, MiB, GiB, TiB).
func parseSize(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for i, u := range []string{"kb", "mb", "gb", "tb"} {
		unit := int64(1) << (10 * (i + 1))
		if v, ok := strings.CutSuffix(s, u); ok {
			s, mult = v, unit
			break
		}
		if v, ok := strings.CutSuffix(s, strings.Replace(u, "b", "ib", 1)); ok {
			s, mult = v, unit
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want bytes or a number with KB, MB or GB", s)
	}
	return n * mult, nil
}

// checkEndpoint accepts an https URL, or http to a loopback address only:
// credentials and health data do not cross a network in the clear.
func checkEndpoint(s string) (host string, secure bool, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("endpoint %q: want https://HOST[:PORT]", s)
	}
	switch u.Scheme {
	case "https":
		return u.Host, true, nil
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", false, fmt.Errorf("endpoint %q: plain http is allowed only on a loopback address; use https", s)
		}
		return u.Host, false, nil
	}
	return "", false, fmt.Errorf("endpoint %q: want https://HOST[:PORT]", s)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readProfile reads one profile's keys from an AWS shared config file
// (INI: "[default]" or "[profile NAME]" sections, "key = value" lines, '#'
// and ';' comments). A nested section ("s3 =" then indented "key = value"
// lines) gives keys "s3.key".
func readProfile(r io.Reader, profile string) (map[string]string, error) {
	want := "profile " + profile
	out := map[string]string{}
	in := false
	nested := "" // the key of the nested section the indented lines are in
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: unclosed section", n)
			}
			name := strings.Join(strings.Fields(line[1:len(line)-1]), " ")
			in = name == want || (profile == "default" && name == "default")
			nested = ""
			continue
		}
		if !in {
			continue
		}
		indented := raw[0] == ' ' || raw[0] == '\t'
		if indented && nested == "" {
			continue // continues a value, or a section outside the profile
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want key = value", n)
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch {
		case indented:
			out[nested+"."+k] = v
		case v == "":
			nested = k
		default:
			nested = ""
			out[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// NewClient connects to the storage described by cfg.
func NewClient(cfg Config) (*minio.Core, error) {
	c, err := minio.NewCore(cfg.Endpoint, &minio.Options{
		Creds: cfg.Creds, Secure: cfg.Secure, Region: cfg.Region,
		BucketLookup: minio.BucketLookupAuto,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client %s: %w", cfg.Endpoint, err)
	}
	return c, nil
}
