package main

import (
	"errors"
	"io"
)

func runExport(args []string, stdout, stderr io.Writer) error {
	return errors.New("runExport: not built yet")
}

func runBench(args []string, stdout, stderr io.Writer) error {
	return errors.New("runBench: not built yet")
}
