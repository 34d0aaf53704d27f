// Package readme holds the test that compiles every ```go block of the
// repository's README.md, so that what a new user copies from it builds
// (make test runs it with the rest). It has no code of its own.
package readme
