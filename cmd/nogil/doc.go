// Command nogil will run the workloads of package stress in both modes and
// compare them (`nogil compare`), and run the race-detector stress harness
// (`nogil stress`).
package main

func main() {}
