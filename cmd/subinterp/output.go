package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Report files. Commands check every output path before they start work
// that may take minutes, and write each report through a temporary file,
// so that a failed run never leaves an existing report truncated or half
// written.

// checkWritable checks, before any work, that path can be written: its
// directory exists and a file can be created there. An existing file is
// left as it is until the report replaces it.
func checkWritable(path string) error {
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		return f.Close()
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".subinterp-check-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// writeFile writes path through a temporary file in the same directory, so
// a failed write never leaves half a report behind.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".subinterp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
