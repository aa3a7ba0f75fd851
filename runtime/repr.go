package runtime

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Repr returns a Python-like representation of o. Containers that contain
// themselves show as [...], {...} and (...) where they recur.
func (th *Thread) Repr(o *Object) string {
	th.mustBeAttached()
	th.check(o)
	return th.repr(o)
}

func (th *Thread) repr(o *Object) string {
	var b strings.Builder
	th.writeRepr(&b, o, nil)
	return b.String()
}

// snapshot copies a container's references (each with a new reference)
// under its lock, so the repr never holds a lock while it recurses.
func (th *Thread) snapshot(o *Object) []*Object {
	var items []*Object
	th.lockObject(o)
	switch o.typ.kind {
	case kindList:
		items = append(items, asList(o).itemSlice()...)
	case kindDict:
		asDict(o).table.each(func(k, v *Object) { items = append(items, k, v) })
	case kindTuple:
		items = append(items, asTuple(o).items...)
	}
	for _, it := range items {
		th.incref(it)
	}
	th.unlockObject(o)
	return items
}

func (th *Thread) writeRepr(b *strings.Builder, o *Object, inProgress []*Object) {
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
		open, close, recur := "[", "]", "[...]"
		switch o.typ.kind {
		case kindDict:
			open, close, recur = "{", "}", "{...}"
		case kindTuple:
			open, close, recur = "(", ")", "(...)"
		}
		for _, p := range inProgress {
			if p == o {
				b.WriteString(recur)
				return
			}
		}
		inProgress = append(inProgress, o)
		items := th.snapshot(o)
		b.WriteString(open)
		if o.typ.kind == kindDict {
			for i := 0; i < len(items); i += 2 {
				if i > 0 {
					b.WriteString(", ")
				}
				th.writeRepr(b, items[i], inProgress)
				b.WriteString(": ")
				th.writeRepr(b, items[i+1], inProgress)
			}
		} else {
			for i, it := range items {
				if i > 0 {
					b.WriteString(", ")
				}
				th.writeRepr(b, it, inProgress)
			}
			if o.typ.kind == kindTuple && len(items) == 1 {
				b.WriteString(",")
			}
		}
		b.WriteString(close)
		for _, it := range items {
			th.decref(it)
		}
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
