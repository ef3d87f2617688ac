// Command plot draws the scale benchmark's results.json (written by hack/bench) as a PNG: converge seconds
// of the create and the update, and the operator's peak RSS, against the number of profiles, with issue
// 13's targets. It is a module of its own so that the operator's go.mod gains no plotting dependencies; it
// reads only the JSON fields it draws, by name.
//
//	cd hack/bench/plot && go run . -in ../../../docs/bench/results.json -out ../../../docs/bench/scale.png
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"os"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// run is what plot reads of one N's results.
type run struct {
	N      int `json:"n"`
	Create struct {
		ConvergeSeconds float64 `json:"convergeSeconds"`
	} `json:"create"`
	Update struct {
		ConvergeSeconds float64 `json:"convergeSeconds"`
	} `json:"update"`
	Idle struct {
		PeakRSSMiB float64 `json:"peakRSSMiB"`
	} `json:"idle"`
}

// The targets of issue 13, by number of profiles. 80 MB and 400 MB are 10^6-byte megabytes, in MiB.
var (
	createTarget = plotter.XYs{{X: 1000, Y: 13}, {X: 10000, Y: 150}}
	updateTarget = plotter.XYs{{X: 1000, Y: 6}}
	rssTarget    = plotter.XYs{{X: 1000, Y: 80e6 / (1 << 20)}, {X: 10000, Y: 400e6 / (1 << 20)}}
)

var (
	createColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	updateColor = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	rssColor    = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
)

func main() {
	in := flag.String("in", "docs/bench/results.json", "results of hack/bench")
	out := flag.String("out", "docs/bench/scale.png", "PNG to write")
	flag.Parse()
	if err := drawResults(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
}

func drawResults(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var runs []run
	if err := json.Unmarshal(b, &runs); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if len(runs) == 0 {
		return fmt.Errorf("%s holds no run", in)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].N < runs[j].N })
	var create, update, rss plotter.XYs
	for _, r := range runs {
		create = append(create, plotter.XY{X: float64(r.N), Y: r.Create.ConvergeSeconds})
		update = append(update, plotter.XY{X: float64(r.N), Y: r.Update.ConvergeSeconds})
		rss = append(rss, plotter.XY{X: float64(r.N), Y: r.Idle.PeakRSSMiB})
	}

	converge := plot.New()
	converge.Title.Text = "Time to converge"
	converge.X.Label.Text = "profiles (4 children each)"
	converge.Y.Label.Text = "seconds"
	converge.Y.Min = 0
	if err := addSeries(converge, "create", create, createColor); err != nil {
		return err
	}
	if err := addSeries(converge, "update", update, updateColor); err != nil {
		return err
	}
	if err := addTarget(converge, "create target: 13 s at 1,000, 150 s at 10,000", createTarget, createColor); err != nil {
		return err
	}
	if err := addTarget(converge, "update target: 6 s at 1,000", updateTarget, updateColor); err != nil {
		return err
	}

	memory := plot.New()
	memory.Title.Text = "Operator peak RSS (VmHWM)"
	memory.X.Label.Text = "profiles (4 children each)"
	memory.Y.Label.Text = "MiB"
	memory.Y.Min = 0
	if err := addSeries(memory, "peak RSS", rss, rssColor); err != nil {
		return err
	}
	if err := addTarget(memory, "target: 80 MB at 1,000, 400 MB at 10,000", rssTarget, rssColor); err != nil {
		return err
	}
	// A tick at each N measured and each N a target is stated for, not at round numbers between them.
	ticked := map[int]bool{1000: true, 10000: true}
	for _, r := range runs {
		ticked[r.N] = true
	}
	var ticks []plot.Tick
	for n := range ticked {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: fmt.Sprint(n)})
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Value < ticks[j].Value })
	for _, p := range []*plot.Plot{converge, memory} {
		// Top left, in headroom above every line, where nothing is drawn.
		p.Legend.Top, p.Legend.Left, p.Legend.XOffs = true, true, vg.Inch/8
		p.Y.Max *= 1.4
		p.Y.Tick.Marker = plainTicks{}
		p.X.Min = 0
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Add(plotter.NewGrid())
	}

	img := vgimg.New(12*vg.Inch, 5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	plots := [][]*plot.Plot{{converge, memory}}
	canvases := plot.Align(plots, tiles, dc)
	for j, p := range plots[0] {
		p.Draw(canvases[0][j])
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// addSeries draws the measured values as a line with a point at each N.
func addSeries(p *plot.Plot, name string, xys plotter.XYs, c color.Color) error {
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	line.Color, points.Color = c, c
	line.Width = vg.Points(2)
	points.Shape = draw.CircleGlyph{}
	p.Add(line, points)
	p.Legend.Add(name, line, points)
	return nil
}

// addTarget draws a target as crosses at the N it is stated for, joined by a dashed line: the issue states
// them at 1,000 and 10,000 profiles only.
func addTarget(p *plot.Plot, name string, xys plotter.XYs, c color.Color) error {
	points, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	points.Color, points.Shape, points.Radius = c, draw.CrossGlyph{}, vg.Points(5)
	p.Add(points)
	if len(xys) > 1 {
		line, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		line.Color, line.Dashes = c, []vg.Length{vg.Points(6), vg.Points(4)}
		p.Add(line)
		p.Legend.Add(name, line, points)
		return nil
	}
	p.Legend.Add(name, points)
	return nil
}

// plainTicks are the default ticks labelled 250, not 250.00.
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
		}
	}
	return ticks
}
