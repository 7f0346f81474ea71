// Package samplejwks embeds the sample RS384 and ES384 key sets from the Bulk
// Data IG. They serve the offline demo and the tests only: the private halves
// are public knowledge and must never protect real data.
package samplejwks

import "embed"

// FS holds RS384.{public,private}.json, ES384.{public,private}.json and
// vectors.json (JWTs signed by an independent implementation).
//
//go:embed *.json
var FS embed.FS

// File returns one embedded file, such as "RS384.public.json".
func File(name string) ([]byte, error) { return FS.ReadFile(name) }
