package stress

import (
	"github.com/nogil-lab/nogil/runtime"
)

// producer-consumer: objects made on one thread and released on another.
//
// With n >= 2 threads the workers form a ring: worker i sends batches to
// channel i and receives from channel i-1. One op produces a batch of
// prodConsBatch tuples (int, float), sends it, receives the predecessor's
// batch, checks it and releases it. Channels are bounded; a worker that would
// block detaches first. The ring cannot deadlock: a worker blocked on a full
// channel has received as many batches as it sent, so not every channel can
// be full at once.
//
// With one thread the worker alternates between its own thread and a second
// runtime thread it keeps: it produces a batch on the first, detaches, and
// releases the batch on the second.

const (
	prodConsBatch = 16
	prodConsDepth = 4 // batches a channel holds
)

type batch struct {
	from int
	seq  int64 // the producer's sequence number of the first item
	objs []*runtime.Object
}

type producerConsumer struct {
	chans []chan batch
	loops []*prodConsLoop
}

func setupProducerConsumer(s *setupCtx) (state, error) {
	st := &producerConsumer{loops: make([]*prodConsLoop, s.threads)}
	if s.threads > 1 {
		st.chans = make([]chan batch, s.threads)
		for i := range st.chans {
			st.chans[i] = make(chan batch, prodConsDepth)
		}
	}
	return st, nil
}

func (s *producerConsumer) start(w *Worker) (loop, error) {
	l := &prodConsLoop{s: s}
	s.loops[w.ID] = l
	if len(s.chans) > 0 {
		l.out = s.chans[w.ID]
		l.in = s.chans[(w.ID+w.Threads-1)%w.Threads]
		l.from = (w.ID + w.Threads - 1) % w.Threads
		return l, nil
	}
	// One thread: a second runtime thread to release on. In GIL mode the
	// new thread takes the GIL, so the worker's own must let go first.
	w.Th.Detach()
	l.alt = w.Runtime().NewThread()
	l.alt.Detach()
	w.Th.Attach()
	return l, nil
}

// finish releases the batches still in the channels (the workers have all
// closed their threads: the setup thread is a third party) and checks that
// every object produced was consumed or is found here.
func (s *producerConsumer) finish(f *final) {
	th := f.th
	var produced, consumed, drained int64
	for _, l := range s.loops {
		if l != nil {
			produced += l.produced
			consumed += l.consumed
		}
	}
	for _, ch := range s.chans {
		for {
			select {
			case b := <-ch:
				drained += int64(len(b.objs))
				for _, o := range b.objs {
					th.DecRef(o)
				}
				continue
			default:
			}
			break
		}
	}
	if !f.failed && produced != consumed+drained {
		f.violationf("producer-consumer: %d objects produced, %d consumed, %d left in channels", produced, consumed, drained)
	}
}

type prodConsLoop struct {
	s       *producerConsumer
	out, in chan batch
	from    int             // the predecessor's worker index
	alt     *runtime.Thread // one thread: the consuming thread
	// altAttached says alt is attached and the worker's thread detached.
	altAttached bool
	seq         int64 // next sequence number to produce
	want        int64 // next sequence number expected from the predecessor
	produced    int64
	consumed    int64
}

func (l *prodConsLoop) produce(w *Worker) batch {
	th := w.Th
	b := batch{from: w.ID, seq: l.seq, objs: make([]*runtime.Object, prodConsBatch)}
	for i := range b.objs {
		n := th.NewInt(1_000_000 + l.seq)
		f := th.NewFloat(float64(l.seq))
		b.objs[i] = th.NewTuple(n, f)
		th.DecRef(n)
		th.DecRef(f)
		l.seq++
	}
	l.produced += prodConsBatch
	return b
}

// consume checks and releases a batch on th.
func (l *prodConsLoop) consume(w *Worker, th *runtime.Thread, b batch, from int) {
	if b.from != from || b.seq != l.want || len(b.objs) != prodConsBatch {
		w.Violationf("producer-consumer: got batch from %d seq %d (%d objects), want from %d seq %d",
			b.from, b.seq, len(b.objs), from, l.want)
	}
	for i, o := range b.objs {
		it, err := th.TupleGet(o, 0)
		if err != nil {
			w.Violationf("producer-consumer: %v", err)
		} else {
			if v, err := th.Int(it); err != nil || v != 1_000_000+b.seq+int64(i) {
				w.Violationf("producer-consumer: item is %d (%v), want %d", v, err, 1_000_000+b.seq+int64(i))
			}
			th.DecRef(it)
		}
		th.DecRef(o) // the producer's object, released here
	}
	l.want = b.seq + int64(len(b.objs))
	l.consumed += int64(len(b.objs))
}

func (l *prodConsLoop) step(w *Worker) error {
	b := l.produce(w)
	if l.alt != nil {
		w.Th.Detach()
		l.alt.Attach()
		l.altAttached = true
		l.consume(w, l.alt, b, w.ID)
		l.altAttached = false
		l.alt.Detach()
		w.Th.Attach()
		return nil
	}
	// Send, detaching if the channel is full.
	select {
	case l.out <- b:
	default:
		sent := false
		w.Blocking(func() {
			select {
			case l.out <- b:
				sent = true
			case <-w.Stopping():
			}
		})
		if !sent {
			l.release(w, b)
			return errStopped
		}
	}
	// Receive, detaching if the channel is empty.
	var in batch
	select {
	case in = <-l.in:
	default:
		got := false
		w.Blocking(func() {
			select {
			case in = <-l.in:
				got = true
			case <-w.Stopping():
			}
		})
		if !got {
			return errStopped
		}
	}
	l.consume(w, w.Th, in, l.from)
	return nil
}

// release drops a batch that was never sent.
func (l *prodConsLoop) release(w *Worker, b batch) {
	for _, o := range b.objs {
		w.Th.DecRef(o)
	}
	l.produced -= int64(len(b.objs))
}

func (l *prodConsLoop) stop(w *Worker) error {
	if l.alt != nil {
		w.Th.Detach()
		l.alt.Attach()
		l.alt.Close()
		l.alt = nil
		w.Th.Attach()
	}
	return nil
}

// abandon closes both threads after a failure, the attached one first (in
// GIL mode it holds the GIL the other needs to close).
func (l *prodConsLoop) abandon(w *Worker) {
	if l.alt == nil {
		return
	}
	alt := l.alt
	l.alt = nil
	if !l.altAttached {
		w.closeThread()
	}
	alt.Close()
}
