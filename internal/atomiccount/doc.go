// Command atomiccount counts the atomic instructions a Go program executed,
// per function, from a callgrind profile: the count that explains where a
// free-threaded build pays for sharing, which neither a CPU profile (it
// samples) nor callgrind's instruction totals (an atomic read-modify-write
// counts as one instruction, though it costs about as much as twenty) show.
//
// Usage:
//
//	GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 GOGC=off valgrind --tool=callgrind \
//		--dump-instr=yes --compress-pos=no --compress-strings=no \
//		--callgrind-out-file=cg.out ./nogil compare -threads 1 -modes ft \
//		-workloads shared-read -ops 200000 -repeat 1
//	go run ./internal/atomiccount -ops 200000 ./nogil cg.out
//
// It disassembles the binary with `go tool objdump`, takes the address of
// every instruction with a LOCK prefix and of every XCHG with a memory
// operand (implicitly locked on amd64: Go's atomic stores and swaps), and
// adds up the executions callgrind recorded at those addresses (the
// "self" cost lines; a call's inclusive cost is skipped). The report is the
// total, per op when -ops is given, and the functions that executed most.
//
// The profile must come from the same binary, with instruction-level
// positions (--dump-instr=yes) written out uncompressed, as above.
package main
