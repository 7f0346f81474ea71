package core

import (
	"fmt"
	"strings"
)

// ParseSinkURL reads an object-storage sink's URL, s3://BUCKET[/PREFIX]
// (docs/sink-layout.md): the rule for a registration's sink and an
// export's alike. Bucket names follow the S3 rules (3-63 characters of
// lower-case letters, digits, '.' and '-'); the prefix, returned without
// a trailing slash, may not hold empty, "." or ".." segments, control
// characters or backslashes, nor be longer than 512 bytes.
func ParseSinkURL(s string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("sink %q: want s3://BUCKET/PREFIX", s)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := checkBucket(bucket); err != nil {
		return "", "", fmt.Errorf("sink %q: %w", s, err)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return bucket, "", nil
	}
	for _, seg := range strings.Split(prefix, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", "", fmt.Errorf("sink %q: empty, . or .. segment in the prefix", s)
		}
	}
	for _, r := range prefix {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "", "", fmt.Errorf("sink %q: control character or backslash in the prefix", s)
		}
	}
	if len(prefix) > 512 {
		return "", "", fmt.Errorf("sink %q: prefix longer than 512 bytes", s)
	}
	return bucket, prefix, nil
}

func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q: want 3 to 63 characters", b)
	}
	for i, r := range b {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '.' || r == '-') && i > 0 && i < len(b)-1
		if !ok {
			return fmt.Errorf("bucket name %q: want lower-case letters, digits, '.' and '-'", b)
		}
	}
	return nil
}
