// Package gil is the global interpreter lock of nogil's GIL mode, modelled on
// CPython's default build (Python/ceval_gil.c).
//
// In GIL mode every runtime thread must hold the GIL to touch objects: the
// plain reference counts, the global pools and the containers are all
// protected by it alone. The GIL is therefore what makes plain (non-atomic)
// reference counts race-free, and every hand-over below is a real
// happens-before edge for Go's memory model and race detector: the GIL
// changes hands only under an internal sync.Mutex, and a thread that sleeps
// is woken through a channel.
//
// # What it models
//
// GIL is CPython's struct _gil_runtime_state: the "locked" flag and
// last_holder (here holder and lastHolder), switch_number, the interval, the
// mutex and condition variable that waiters sleep on, and the switch_mutex
// and switch_cond used by forced switching (here one mutex, mu, and one wake
// channel per Handle). Acquire is take_gil, Release is drop_gil, and the drop
// request is the gil_drop_request bit of the interpreter's eval_breaker,
// which the eval loop polls between bytecodes. DropRequested is that poll;
// Yield is what the eval loop does when the bit is set
// (_Py_HandlePending: drop_gil, then take_gil). A Handle stands for a
// PyThreadState: thread identity is passed explicitly, never inferred from
// the goroutine.
//
// # The mechanism
//
//  1. Acquire. A thread takes mu. If the GIL is free it takes it at once
//     (newcomers may barge ahead of sleeping waiters; the GIL is not fair).
//     Taking sets holder; if the taker is not lastHolder, switchNumber is
//     incremented and lastHolder updated; any pending drop request is
//     cleared, because the taker is serving it.
//
//  2. Timed wait. Otherwise the thread joins the wait queue and sleeps,
//     mu released, until it is woken or one switch interval passes. The
//     interval measures how long the GIL has stayed with one holder: the
//     waiter remembers switchNumber when it starts. A wake-up that does not
//     find the GIL free (a spurious one, or a barging thread won) keeps the
//     deadline; a switch restarts it, so a new holder gets a full interval.
//
//  3. Drop request. If the interval expires while the GIL is still held and
//     switchNumber has not moved, the waiter sets dropRequest and starts
//     another interval (it will not set the request again while it is
//     pending). The request is a single flag on its own cache line.
//
//  4. Safe-point poll. The holder calls DropRequested at its safe points
//     (the runtime's Checkpoint: between operations, in loops). With nobody
//     waiting it is two atomic loads of a line that is written only when
//     the waiters change or the GIL changes hands, so in the common case it
//     hits the holder's own cache. When it reports true the holder calls
//     Yield. Each queued waiter also publishes when its timer would make
//     the request (its deadline; the earliest is GIL.deadline): at a
//     switch every waiter's deadline moves one interval on, since a waiter
//     notices the switch when its timer fires and only then starts another
//     interval. With someone waiting the poll reads the clock (at one poll
//     in clockPollEvery: a read costs tens of nanoseconds), and once the
//     deadline has passed it makes the request itself (step 3 on the
//     waiter's behalf, counted in HolderDropRequests). That is not a
//     change of protocol, only of who notices first: Go wakes an idle
//     thread for its timer through epoll_wait, whose timeout has
//     millisecond resolution (golang/go#53824), so the waiter's own timer
//     fires up to about 1 ms late, while the holder is running anyway.
//
//  5. Release and forced switching. Release clears holder and wakes the
//     head of the wait queue. If a drop request is pending, the releasing
//     thread must not take the GIL back before someone else has had it: it
//     registers in switchWaiters and sleeps until a take by another thread
//     moves switchNumber (that taker wakes every switch waiter). On a
//     multi-core machine a releasing thread that kept running would
//     otherwise usually win the race against the thread it just woke, and
//     the waiter would wait interval after interval. Yield is release with
//     forced switching followed by an ordinary Acquire; like CPython's
//     drop_gil, a plain Release also does forced switching when a request is
//     pending, so a thread that releases and immediately re-acquires cannot
//     starve the thread that asked.
//
// The latency from a waiter starting to wait until it holds the GIL is thus
// one interval, plus the time until the holder's next safe point, plus one
// goroutine wake-up (benchmark B9 in DESIGN.md: at most interval + 1 ms).
// The waiter's timer does not add its lateness (step 4): the hand-over
// takes 1.01 ms at a 1 ms interval (median), where the waiter's timer alone
// made it 1.2-2 ms. A holder that does not reach a safe point still gives
// the GIL up only when its timer-driven request arrives. With GOMAXPROCS=1
// a holder that never blocks delays every timer until the Go scheduler
// preempts it (about 10 ms), and polls only at its safe points.
//
// # Invariants
//
//   - At most one handle holds the GIL: holder changes only with mu held,
//     from nil to a handle (take) and back (release).
//   - A pending drop request implies a queued waiter: requests are set only
//     while the GIL is held and someone is queued (by that waiter, or by the
//     holder's poll on its behalf, both with mu held), waiters leave the
//     queue only by taking the GIL, and every take clears the request. So a forced
//     switch always ends: when the releaser looks (with mu held) the request
//     is still pending, the queue head has a wake token, and whoever takes
//     the GIL next is another thread.
//   - A handle's wake channel is empty whenever the handle is idle: tokens
//     are sent only with mu held, only to a queued handle or a switch waiter,
//     and a handle leaving the queue drains a token that arrived late.
//     Sends therefore never block, and nobody blocks while holding mu.
//   - ForcedSwitches <= DropRequests: each forced switch consumes the one
//     pending request, which is then cleared by the take it waited for.
//   - Nothing here starts a goroutine. Timers are created per wait and
//     stopped when the wait ends (Go 1.23+ timer semantics: no stale ticks).
//
// # Lock order and protection
//
// There is one lock, mu, and it is a leaf: it is held for a few
// instructions, never while sleeping, never while calling out. The GIL
// itself is not a Go lock and may be held for arbitrarily long; a thread may
// hold other locks of its own while it acquires the GIL only if no holder
// ever waits for them.
//
// Field by field (also commented at each declaration):
//
//   - dropRequest: atomic; written only with mu held (set by a timed-out
//     waiter or the holder's poll, cleared by a take); read without mu by
//     the holder's poll.
//   - deadline: atomic; written only with mu held, whenever a queued
//     waiter's Handle.deadline changes (which mu protects); read without mu
//     by the holder's poll.
//   - holder: atomic; written only with mu held; read without mu by
//     HeldBy, Yield's fast path and the misuse checks. A thread reading its
//     own handle there knows the answer cannot change under it.
//   - lastHolder, switchNumber, the wait queue (waitHead, waitTail and
//     Handle.prev/next/state), switchWaiters and stats: protected by mu.
//   - interval: atomic; SetInterval may run on any thread; waiters read it
//     whenever they (re)start a timed wait.
//   - Handle.wake: the channel is immutable; tokens are sent with mu held.
//
// # Cost
//
// Uncontended Acquire+Release is two short mutex sections; DropRequested is
// two loads with nobody waiting (and a clock read every 16th call when
// someone waits); Yield
// without a request is three loads. No allocation happens on
// any path except the timer of a wait that actually sleeps.
//
// # Misuse
//
// Acquiring twice with one handle, releasing or yielding with a handle that
// does not hold the GIL, acquiring with a handle that is already blocked in
// Acquire (one handle used by two goroutines), acquiring with a handle of
// another GIL, and bad intervals (negative for New, non-positive for
// SetInterval) panic with a message that starts with "gil: " and names the
// misuse. The GIL stays usable after such a panic.
package gil
