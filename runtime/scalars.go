package runtime

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nogil-lab/nogil/mimallocish"
)

const (
	smallIntMin = -5
	smallIntMax = 256
)

// NewInt returns an int; -5..256 are immortal and shared (CPython's small
// ints).
func (th *Thread) NewInt(v int64) *Object {
	th.mustBeAttached()
	if v >= smallIntMin && v <= smallIntMax {
		return th.rt.smallInts[v-smallIntMin]
	}
	// a free list's int (freelist.go), or the alloc function written out
	// (see alloc.go)
	var o *intObject
	if f, ok := th.freeLists.lists[kindInt].pop(); ok {
		o = freedInt(f)
	} else {
		var id mimallocish.SlotID
		if p := th.pools; p != nil {
			if o, id = p.ints.AllocFast(); o == nil {
				o, id = p.ints.Alloc()
			}
		} else if o, id = th.heaps.ints.AllocFast(); o == nil {
			o, id = th.heaps.ints.Alloc()
		}
		o.slot = id
	}
	o.v = v
	th.bornBuiltin(&o.Object, th.rt.t.integer, tiInt)
	return &o.Object
}

// NewFloat returns a float.
func (th *Thread) NewFloat(v float64) *Object {
	th.mustBeAttached()
	// a free list's float (freelist.go), or the alloc function written
	// out (see alloc.go)
	var o *floatObject
	if f, ok := th.freeLists.lists[kindFloat].pop(); ok {
		o = freedFloat(f)
	} else {
		var id mimallocish.SlotID
		if p := th.pools; p != nil {
			if o, id = p.floats.AllocFast(); o == nil {
				o, id = p.floats.Alloc()
			}
		} else if o, id = th.heaps.floats.AllocFast(); o == nil {
			o, id = th.heaps.floats.Alloc()
		}
		o.slot = id
	}
	o.v = v
	th.bornBuiltin(&o.Object, th.rt.t.float, tiFloat)
	return &o.Object
}

// NewStr returns a str.
func (th *Thread) NewStr(s string) *Object {
	th.mustBeAttached()
	// the alloc function, written out (see alloc.go)
	var o *strObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		if o, id = p.strs.AllocFast(); o == nil {
			o, id = p.strs.Alloc()
		}
	} else if o, id = th.heaps.strs.AllocFast(); o == nil {
		o, id = th.heaps.strs.Alloc()
	}
	o.slot = id
	o.s = s
	th.bornBuiltin(&o.Object, th.rt.t.str, tiStr)
	return &o.Object
}

// Intern returns the immortal str for s, one per distinct string.
func (th *Thread) Intern(s string) *Object {
	th.mustBeAttached()
	rt := th.rt
	rt.internMu.Lock()
	defer rt.internMu.Unlock()
	if o, ok := rt.interned[s]; ok {
		return o
	}
	o := &strObject{s: s}
	o.typ = rt.t.str
	o.rc.InitImmortal()
	rt.interned[s] = &o.Object
	return &o.Object
}

// Int converts o like Python's int(): ints and bools give their value,
// floats are truncated, strs are parsed.
func (th *Thread) Int(o *Object) (int64, error) {
	th.enter(o)
	switch o.typ.kind {
	case kindInt, kindBool:
		return asInt(o).v, nil
	case kindFloat:
		f := asFloat(o).v
		switch {
		case math.IsNaN(f):
			return 0, errorf(ErrValue, "cannot convert float NaN to integer")
		case math.IsInf(f, 0):
			return 0, errorf(ErrValue, "cannot convert float infinity to integer")
		case f >= 9.223372036854775807e18 || f < -9.223372036854775808e18:
			return 0, errorf(ErrValue, "float %s does not fit in a 64-bit int", formatFloat(f))
		}
		return int64(f), nil
	case kindStr:
		s := asStr(o).s
		digits, ok := stripDigitUnderscores(decimalToASCII(strings.TrimSpace(s)))
		v, err := strconv.ParseInt(digits, 10, 64)
		if ne, isNum := err.(*strconv.NumError); ok && isNum && ne.Err == strconv.ErrRange {
			// A valid literal (Python would make a big int) that an
			// int64 cannot hold: not an "invalid literal".
			return 0, errorf(ErrValue, "int() literal too large for a 64-bit int: %s", quoteStr(s))
		}
		if !ok || err != nil || strings.TrimSpace(s) == "" {
			return 0, errorf(ErrValue, "invalid literal for int() with base 10: %s", quoteStr(s))
		}
		return v, nil
	}
	return 0, typeError("int() argument must be a string, a bytes-like object or a real number, not '%s'", o.typ.name)
}

// Float converts o like Python's float().
func (th *Thread) Float(o *Object) (float64, error) {
	th.enter(o)
	switch o.typ.kind {
	case kindInt, kindBool:
		return float64(asInt(o).v), nil
	case kindFloat:
		return asFloat(o).v, nil
	case kindStr:
		s := strings.TrimSpace(asStr(o).s)
		switch strings.ToLower(s) {
		case "inf", "+inf", "infinity", "+infinity":
			return math.Inf(1), nil
		case "-inf", "-infinity":
			return math.Inf(-1), nil
		case "nan", "+nan", "-nan":
			return math.NaN(), nil
		}
		digits, ok := stripDigitUnderscores(decimalToASCII(s))
		v, err := strconv.ParseFloat(digits, 64)
		if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange {
			err = nil // like Python: overflow gives ±inf, underflow ±0
		}
		// Go also parses hexadecimal floats ("0x1p-2"); Python's float() does not.
		if !ok || err != nil || strings.ContainsAny(s, "xX") {
			return 0, errorf(ErrValue, "could not convert string to float: %s", quoteStr(asStr(o).s))
		}
		return v, nil
	}
	return 0, typeError("float() argument must be a string or a real number, not '%s'", o.typ.name)
}

// Str converts o like Python's str(): a str gives its text, anything else
// its repr.
func (th *Thread) Str(o *Object) (string, error) {
	th.enter(o)
	if o.typ.kind == kindStr {
		return asStr(o).s, nil
	}
	return th.repr(o), nil
}

// formatFloat formats like Python's repr(float): the shortest string that
// round-trips, in fixed notation for exponents -4..15, scientific
// otherwise, always with a decimal point or exponent.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp < -4 || exp >= 16 {
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		return mant + "e" + sign + twoDigits(exp)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// stripDigitUnderscores removes the underscores of a numeric literal and
// reports whether each one stood between two digits, as Python requires
// ("1_000" is valid; "1__000", "_1" and "1_" are not).
func stripDigitUnderscores(s string) (string, bool) {
	if strings.IndexByte(s, '_') < 0 {
		return s, true
	}
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && (i == 0 || i == len(s)-1 || !isDigit(s[i-1]) || !isDigit(s[i+1])) {
			return s, false
		}
	}
	return strings.ReplaceAll(s, "_", ""), true
}

// decimalToASCII replaces the Unicode decimal digits of s (general
// category Nd) by ASCII ones: Python's int() and float() accept any of
// them ("The numeric literals accepted include the digits 0 to 9 or any
// Unicode equivalent (code points with the Nd property)", library
// reference, Numeric Types; int('١٢') == 12). Everything else is kept.
func decimalToASCII(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for j := i; j < len(s); {
		r, size := utf8.DecodeRuneInString(s[j:])
		if d, ok := decimalValue(r); ok && r >= utf8.RuneSelf {
			b.WriteByte(byte('0' + d))
		} else {
			b.WriteString(s[j : j+size]) // invalid bytes stay as they are
		}
		j += size
	}
	return b.String()
}

// decimalValue returns the value of a decimal digit (category Nd). The
// Unicode standard encodes every set of decimal digits as ten contiguous
// code points from 0 to 9 (§4.6), and unicode.Nd's ranges each begin with
// a set's zero, so the value is the distance from the range's start, mod 10.
func decimalValue(r rune) (int, bool) {
	for _, g := range unicode.Nd.R16 {
		if rune(g.Lo) <= r && r <= rune(g.Hi) {
			return int(r-rune(g.Lo)) % 10, true
		}
	}
	for _, g := range unicode.Nd.R32 {
		if rune(g.Lo) <= r && r <= rune(g.Hi) {
			return int(r-rune(g.Lo)) % 10, true
		}
	}
	return 0, false
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
