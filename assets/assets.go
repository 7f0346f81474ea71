// Package assets embeds Tranche's icons and other static files.
package assets

import _ "embed"

// Icon is the application icon (512×512 PNG).
//
//go:embed icon.png
var Icon []byte
