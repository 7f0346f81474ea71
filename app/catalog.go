package main

import (
	"errors"
	"io"
)

func runCatalog(args []string, stdout, stderr io.Writer) error {
	return errors.New("runCatalog: not built yet")
}
