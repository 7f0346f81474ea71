package main

import (
	"errors"
	"io"
)

func runGUI(args []string, stdout, stderr io.Writer) error {
	return errors.New("runGUI: not built yet")
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	return errors.New("runDemo: not built yet")
}
