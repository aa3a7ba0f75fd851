//go:build !linux

package runtime

import "time"

// hostSteal is not measured on this system.
func hostSteal() (time.Duration, bool) { return 0, false }
