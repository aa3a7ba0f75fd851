package main

import (
	"fmt"
	"io"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/nogil-lab/nogil/stress"
)

// writeSVG draws throughput against threads: one panel per workload, one
// line per mode.
func writeSVG(w io.Writer, c *stress.Comparison) error {
	n := len(c.Workloads)
	if n == 0 {
		return fmt.Errorf("nothing to plot")
	}
	cols := min(n, 3)
	rows := (n + cols - 1) / cols
	ticks := make([]plot.Tick, len(c.Threads))
	for i, t := range c.Threads {
		ticks[i] = plot.Tick{Value: float64(t), Label: strconv.Itoa(t)}
	}
	plots := make([][]*plot.Plot, rows)
	for j := range plots {
		plots[j] = make([]*plot.Plot, cols)
	}
	for k, wl := range c.Workloads {
		p := plot.New()
		p.Title.Text = wl
		p.X.Label.Text = "threads"
		p.Y.Label.Text = "Mops/s"
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Min = 0
		p.Legend.Top = true
		p.Legend.Left = true
		var lines []any
		for _, m := range c.Modes {
			var pts plotter.XYs
			for _, r := range c.Rows {
				if r.Workload == wl && r.Mode == m && r.Error == "" {
					pts = append(pts, plotter.XY{X: float64(r.Threads), Y: r.OpsPerSec / 1e6})
				}
			}
			if len(pts) > 0 {
				lines = append(lines, m, pts)
			}
		}
		if err := plotutil.AddLinePoints(p, lines...); err != nil {
			return err
		}
		if len(c.Threads) > 0 {
			p.X.Min = float64(c.Threads[0]) - 0.2
			p.X.Max = float64(c.Threads[len(c.Threads)-1]) + 0.2
		}
		plots[k/cols][k%cols] = p
	}
	const tileW, tileH = 4 * vg.Inch, 3 * vg.Inch
	img := vgsvg.New(tileW*vg.Length(cols), tileH*vg.Length(rows))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter, PadY: vg.Millimeter,
		PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: vg.Millimeter}
	canvases := plot.Align(plots, tiles, dc)
	for j := range plots {
		for i, p := range plots[j] {
			if p != nil {
				p.Draw(canvases[j][i])
			}
		}
	}
	_, err := img.WriteTo(w)
	return err
}
