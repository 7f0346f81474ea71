package main

import (
	"errors"
	"io"
)

func runKeys(args []string, stdout, stderr io.Writer) error {
	return errors.New("runKeys: not built yet")
}

func runRegistrations(args []string, stdout, stderr io.Writer) error {
	return errors.New("runRegistrations: not built yet")
}
