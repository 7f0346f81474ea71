// Package outfile writes the files a person asks for (a table, a
// selection of records, a report) so that a failed or cancelled write
// never leaves a half-written file, nor destroys the file it was to
// replace.
package outfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write calls write with a new file beside path and, once write has
// succeeded and the file is on disk, renames it over path with mode perm.
// On any error the new file is removed and path is left as it was. It
// returns what write returned.
func Write[T any](path string, perm os.FileMode, write func(io.Writer) (T, error)) (res T, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return res, fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if res, err = write(f); err != nil {
		return res, err
	}
	if err = f.Chmod(perm); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return res, fmt.Errorf("write %s: %w", path, err)
	}
	return res, nil
}
