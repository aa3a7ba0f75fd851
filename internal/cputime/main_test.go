package cputime

import (
	"testing"

	"github.com/nogil-lab/nogil/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }
