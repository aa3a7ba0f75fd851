//go:build ignore

// Command nogil will run the workloads of package stress in both modes and
// compare them (`nogil compare`), and run the race-detector stress harness
// (`nogil stress`). The build tag keeps this folder out of the build until
// the command exists.
package main
