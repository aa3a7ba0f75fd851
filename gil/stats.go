package gil

import "time"

// Stats are the GIL's counters since New. They are kept under the GIL's
// internal mutex (every event they count already holds it), so a snapshot is
// consistent.
type Stats struct {
	// Acquisitions counts successful takes: every Acquire, and the
	// re-acquire inside a Yield that switched.
	Acquisitions uint64
	// Switches counts takes by a handle other than the previous holder (the
	// very first take is not a switch).
	Switches uint64
	// ForcedSwitches counts releases (Release or Yield) made while a drop
	// request was pending, which waited for another thread to take the GIL.
	// Each consumes one request: ForcedSwitches <= DropRequests.
	ForcedSwitches uint64
	// DropRequests counts drop requests: set by a waiter whose timed wait
	// expired with no switch, or by the holder's poll once that waiter's
	// interval had passed (a request made while one is pending does not
	// count again).
	DropRequests uint64
	// HolderDropRequests counts the DropRequests the holder's poll set
	// before the waiter's timer woke it up (DropRequested).
	HolderDropRequests uint64
	// TotalWait is the summed time Acquire (and Yield's re-acquire) spent
	// blocked waiting for the GIL. Uncontended takes add nothing.
	TotalWait time.Duration
	// LongestWait is the longest single such wait.
	LongestWait time.Duration
}
