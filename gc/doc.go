// Package gc is nogil's stop-the-world generational cycle collector.
//
// The design essay is being written with the collector; see header.go and
// list.go for the intrusive header and lists the runtime embeds.
package gc
