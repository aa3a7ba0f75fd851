package runtime

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Repr returns a Python-like representation of o. Containers that contain
// themselves show as [...], {...} and (...) where they recur. Containers
// nested to any depth take time linear in the result.
func (th *Thread) Repr(o *Object) string {
	th.enter(o)
	return th.repr(o)
}

// repr walks o's containers with an explicit stack (reprWalk) rather than
// Go recursion: nesting of any depth costs heap, never Go stack, whose
// overflow would kill the process.
func (th *Thread) repr(o *Object) string {
	w := reprWalk{th: th}
	defer w.dropAll()
	w.write(o)
	return w.run()
}

// run writes the open frames' items until every frame is closed, and
// returns the text.
func (w *reprWalk) run() string {
	for len(w.frames) > 0 {
		f := &w.frames[len(w.frames)-1]
		if f.next == f.end {
			w.close()
			continue
		}
		i := f.next
		f.next++
		w.separate(f, i)
		w.write(w.items[i]) // may push a frame: f is stale from here
	}
	return w.b.String()
}

// dropAll drops the references the snapshots still hold: none when the
// walk ended, the rest of every open frame's snapshot when it did not — a
// finalizer run by one of close's drops panicked (the snapshot's reference
// was the last when another thread emptied the container meanwhile), and
// the panic goes on once they are dropped.
func (w *reprWalk) dropAll() {
	for i, it := range w.items {
		if it != nil {
			w.items[i] = nil
			w.th.decref(it)
		}
	}
	w.items = w.items[:0]
}

// reprScanDepth is the path length up to which a scan of the frames is
// cheaper than a map for finding a recursion.
const reprScanDepth = 16

// reprWalk is the state of one repr, local to it: a finalizer that runs
// when the walk drops a reference may call Repr on the same thread.
type reprWalk struct {
	th *Thread
	b  strings.Builder
	// frames are the containers being written, outermost first: the
	// current path, on which a container met again is a recursion.
	frames []reprFrame
	// items holds the frames' snapshots end to end, each item with a
	// reference that close drops.
	items []*Object
	// depthOf maps each container opened since the path first grew past
	// reprScanDepth to the index of its frame; nil before. An entry is
	// current only while that frame still holds the container (isOnPath):
	// close leaves entries behind, as deleting them costs more, and open
	// rebuilds the map once they are twice as many as the frames.
	depthOf map[*Object]int
}

// reprFrame is a container being written: its snapshot is
// items[start:end], of which items[next:end] are still to write.
type reprFrame struct {
	o                *Object
	start, next, end int
}

// snapshot appends a container's references (each with a new reference)
// to items under its lock, so the repr never holds a lock while it writes
// them.
func (th *Thread) snapshot(o *Object, items []*Object) []*Object {
	start := len(items)
	th.lockObject(o)
	switch o.typ.kind {
	case kindList:
		items = append(items, asList(o).itemSlice()...)
	case kindDict:
		asDict(o).table.each(func(k, v *Object) { items = append(items, k, v) })
	case kindTuple:
		items = append(items, asTuple(o).items...)
	}
	for _, it := range items[start:] {
		th.incref(it)
	}
	th.unlockObject(o)
	return items
}

// write writes o whole if it is not a container; a container that is not
// on the path is opened (a frame pushed) for the walk to fill in.
func (w *reprWalk) write(o *Object) {
	th, b := w.th, &w.b
	switch o.typ.kind {
	case kindNone:
		b.WriteString("None")
	case kindBool:
		if asInt(o).v != 0 {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case kindInt:
		b.WriteString(strconv.FormatInt(asInt(o).v, 10))
	case kindFloat:
		b.WriteString(formatFloat(asFloat(o).v))
	case kindStr:
		b.WriteString(quoteStr(asStr(o).s))
	case kindList, kindDict, kindTuple:
		if w.isOnPath(o) {
			br := reprBrackets(o.typ.kind)
			b.WriteString(br[:1])
			b.WriteString("...")
			b.WriteString(br[1:])
			return
		}
		w.open(o)
	case kindInstance:
		fmt.Fprintf(b, "<%s object at %#x>", o.typ.name, addressOf(o))
	case kindWeakref:
		if target, _ := th.WeakRefGet(o); target != nil {
			fmt.Fprintf(b, "<weakref at %#x; to '%s' at %#x>", addressOf(o), target.typ.name, addressOf(target))
			th.decref(target)
		} else {
			fmt.Fprintf(b, "<weakref at %#x; dead>", addressOf(o))
		}
	default:
		fmt.Fprintf(b, "<%s object at %#x>", o.typ.name, addressOf(o))
	}
}

// open pushes a frame for container o with a snapshot of its items and
// writes its opening bracket.
func (w *reprWalk) open(o *Object) {
	start := len(w.items)
	w.items = w.th.snapshot(o, w.items)
	w.frames = append(w.frames, reprFrame{o: o, start: start, next: start, end: len(w.items)})
	switch {
	case w.depthOf == nil && len(w.frames) <= reprScanDepth:
	case w.depthOf == nil || len(w.depthOf) >= 2*len(w.frames)+reprScanDepth:
		// Rebuilding costs one insertion per frame, paid for by the
		// insertions since the last build.
		w.depthOf = make(map[*Object]int, 2*len(w.frames))
		for i := range w.frames {
			w.depthOf[w.frames[i].o] = i
		}
	default:
		w.depthOf[o] = len(w.frames) - 1
	}
	w.b.WriteString(reprBrackets(o.typ.kind)[:1])
}

// separate writes what goes before item i of frame f: ", " between items
// and, in a dict (whose snapshot alternates keys and values), ": " between
// a key and its value.
func (w *reprWalk) separate(f *reprFrame, i int) {
	k := i - f.start
	switch {
	case f.o.typ.kind == kindDict && k%2 == 1:
		w.b.WriteString(": ")
	case k > 0:
		w.b.WriteString(", ")
	}
}

// close ends the innermost frame, whose items are all written: it writes
// the closing bracket (after the comma of a one-item tuple), pops the
// frame and drops the snapshot's references, under no lock.
func (w *reprWalk) close() {
	f := w.frames[len(w.frames)-1]
	w.frames = w.frames[:len(w.frames)-1]
	kind := f.o.typ.kind
	if kind == kindTuple && f.end-f.start == 1 {
		w.b.WriteString(",")
	}
	w.b.WriteString(reprBrackets(kind)[1:])
	// Each item leaves the snapshot before its drop, and the snapshot is
	// cut only after the last: a drop that panics leaves the rest to
	// dropAll.
	items := w.items[f.start:f.end]
	for i, it := range items {
		items[i] = nil
		w.th.decref(it)
	}
	w.items = w.items[:f.start]
}

// isOnPath reports whether o is one of the containers being written.
func (w *reprWalk) isOnPath(o *Object) bool {
	if w.depthOf != nil {
		// A container on the path has one frame, and its entry was
		// written when that frame was pushed.
		i, ok := w.depthOf[o]
		return ok && i < len(w.frames) && w.frames[i].o == o
	}
	for i := range w.frames {
		if w.frames[i].o == o {
			return true
		}
	}
	return false
}

// reprBrackets returns a container kind's opening and closing brackets.
func reprBrackets(k kind) string {
	switch k {
	case kindDict:
		return "{}"
	case kindTuple:
		return "()"
	}
	return "[]"
}

// quoteStr quotes s like Python's repr(str).
func quoteStr(s string) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		case r >= 0x80 && !unicode.IsPrint(r):
			switch {
			case r <= 0xff:
				fmt.Fprintf(&b, "\\x%02x", r)
			case r <= 0xffff:
				fmt.Fprintf(&b, "\\u%04x", r)
			default:
				fmt.Fprintf(&b, "\\U%08x", r)
			}
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte(quote)
	return b.String()
}
