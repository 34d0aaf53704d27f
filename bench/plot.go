package bench

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// ErrNothingToPlot is returned by WritePlot for a report none of whose
// figures a panel could show.
var ErrNothingToPlot = errors.New("bench: nothing to plot: the report has no successful speedup, start-up, round-trip or memory figure")

// The figure is laid out in points; a PNG is rendered at plotDPI, which
// makes it 1600×1800 pixels with text large enough to survive being scaled
// down to the width of a documentation page.
const (
	figWidth  = vg.Length(800)
	figHeight = vg.Length(900)
	plotDPI   = 144
)

// PlotFormat returns the image format WritePlot writes for path, "png" or
// "svg", chosen by its extension. Its error wraps ErrUsage, so a command
// can reject a bad file name before it spends minutes measuring.
func PlotFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		return "png", nil
	case ".svg":
		return "svg", nil
	default:
		if ext == "" {
			ext = "none"
		} else {
			ext = strconv.Quote(ext)
		}
		return "", fmt.Errorf("%w: plot file %q: extension %s is not supported (use .png or .svg)", ErrUsage, path, ext)
	}
}

// WritePlot draws r into one image at path, PNG or SVG by its extension:
// a speedup-against-workers panel per CPU-bound workload, then bar charts
// of worker start-up, small-message round trip and memory per worker, with
// one colour per mode throughout. It returns ErrNothingToPlot when r has no
// figure to draw, and writes nothing then.
func WritePlot(path string, r *Report) (err error) {
	format, err := PlotFormat(path)
	if err != nil {
		return err
	}
	if r == nil {
		return errNilReport
	}
	// gonum/plot reports bad input (a NaN range, a non-positive value on a
	// log axis) by panicking; the caller has minutes of measurements it
	// still wants to print, so that must not take the process down.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bench: drawing %s: %v", path, p)
		}
	}()
	fig := buildFigure(r)
	if len(fig.panels) == 0 {
		return ErrNothingToPlot
	}

	var buf bytes.Buffer
	switch format {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(figWidth, figHeight), vgimg.UseDPI(plotDPI))
		fig.draw(draw.New(c))
		_, err = vgimg.PngCanvas{Canvas: c}.WriteTo(&buf)
	case "svg":
		// Embedded fonts keep the text the width the layout measured;
		// without them a viewer substitutes its own and labels collide.
		c := vgsvg.NewWith(vgsvg.UseWH(figWidth, figHeight), vgsvg.EmbedFonts(true))
		fig.draw(draw.New(c))
		_, err = c.WriteTo(&buf)
	}
	if err != nil {
		return fmt.Errorf("bench: encoding %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// benchFigure is everything WritePlot draws, gathered before drawing so that
// an empty report is known before a file is made.
type benchFigure struct {
	title string
	// subtitles say the same with less detail each; draw uses the first
	// that fits, since a build's prefix can be a long path.
	subtitles []string
	panels    []*plot.Plot
	// modes are the modes some panel shows, for the shared legend.
	modes []string
	// ideal is true when a scaling panel shows the ideal line.
	ideal bool
}

func buildFigure(r *Report) *benchFigure {
	f := &benchFigure{title: "subinterp bench: Python " + orUnknown(r.Python)}
	if r.CPUs > 0 {
		f.title += fmt.Sprintf(" on %d CPU%s", r.CPUs, pluralS(r.CPUs))
	}
	var sub []string
	if r.CPUModel != "" {
		sub = append(sub, oneLine(r.CPUModel))
	}
	run := "full run"
	if r.Quick {
		run = "quick run"
	}
	if r.Repeat > 0 {
		run += fmt.Sprintf(", repeat %d", r.Repeat)
	}
	sub = append(sub, run)
	if !r.Started.IsZero() {
		sub = append(sub, r.Started.UTC().Format("2006-01-02"))
	}
	if r.PythonBuild != "" {
		f.subtitles = append(f.subtitles, strings.Join(append([]string{oneLine(r.PythonBuild)}, sub...), " · "))
	}
	f.subtitles = append(f.subtitles, strings.Join(sub, " · "))

	seen := map[string]bool{}
	add := func(p *plot.Plot, modes []string) {
		if p == nil {
			return
		}
		f.panels = append(f.panels, p)
		for _, m := range modes {
			seen[m] = true
		}
	}
	for _, wl := range scalingWorkloads(r) {
		p, modes := scalingPanel(r, wl)
		if p != nil {
			f.ideal = true
		}
		add(p, modes)
	}
	add(barPanel("Worker start-up (ms per worker)", "ms, from asking for the pool to the first task done", startupBars(r)))
	if payload, bars := roundtripBars(r); len(bars) > 0 {
		add(barPanel("Round trip, "+fmtBytes(payload)+" payload (µs)", "µs, there and back to a warm worker", bars))
	}
	if n, bars := rssBars(r); len(bars) > 0 {
		add(barPanel("Memory per worker (RSS MiB)", fmt.Sprintf("MiB, at the largest pool, mean of %d workload%s", n, pluralS(n)), bars))
	}
	for m := range seen {
		f.modes = append(f.modes, m)
	}
	slices.SortFunc(f.modes, compareModes)
	return f
}

// scalingWorkloads are the workloads whose speedup is worth a panel: the
// CPU-bound kernels, and json and regex, which are library-heavy but still
// bound by the interpreter rather than by I/O or transfers.
func scalingWorkloads(r *Report) []string {
	var names []string
	for _, w := range r.Workloads {
		if (w.CPUBound || w.Name == "json" || w.Name == "regex" || w.Name == "shared_graph" || w.Name == "private_state") && !slices.Contains(names, w.Name) {
			names = append(names, w.Name)
		}
	}
	return names
}

// scalingPanel plots speedup against workers for each mode of workload,
// with the ideal line y = min(x, CPUs). It returns nil when no mode but
// the sequential baseline has a speedup to show.
func scalingPanel(r *Report, workload string) (*plot.Plot, []string) {
	var modes []string
	points := map[string]plotter.XYs{}
	var workers []int
	for _, res := range resultsFor(r, workload) {
		if res.Error != "" || !finitePositive(res.Speedup) || res.Workers <= 0 {
			continue
		}
		if _, ok := points[res.Mode]; !ok {
			modes = append(modes, res.Mode)
		}
		points[res.Mode] = append(points[res.Mode], plotter.XY{X: float64(res.Workers), Y: res.Speedup})
		if !slices.Contains(workers, res.Workers) {
			workers = append(workers, res.Workers)
		}
	}
	if len(modes) == 0 || (len(modes) == 1 && modes[0] == ModeSequential) {
		return nil, nil
	}
	slices.Sort(workers)

	p := newPlot(workload+": speedup over sequential (×)", "workers", "speedup (×)")
	lo, hi := float64(workers[0]), float64(workers[len(workers)-1])
	ticks := make(plot.ConstantTicks, len(workers))
	for i, w := range workers {
		ticks[i] = plot.Tick{Value: float64(w), Label: strconv.Itoa(w)}
	}
	p.X.Tick.Marker = ticks
	var xMin, xMax float64
	logLog := hi/lo >= 8
	if logLog {
		// Pool sizes double, so a log axis spaces them evenly; speedup
		// then goes on a log axis too, where the ideal is a straight
		// diagonal and a doubling looks the same at 2 workers as at 32.
		p.X.Scale = plot.LogScale{}
		xMin, xMax = lo/1.2, hi*1.2
	} else {
		pad := max((hi-lo)*0.06, 0.3)
		xMin, xMax = lo-pad, hi+pad
	}

	ideal := func(x float64) float64 {
		if r.CPUs > 0 {
			return math.Min(x, float64(r.CPUs))
		}
		return x
	}
	top, bottom := ideal(hi), ideal(xMin)
	for _, xys := range points {
		for _, xy := range xys {
			top, bottom = math.Max(top, xy.Y), math.Min(bottom, xy.Y)
		}
	}

	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	grid.Horizontal.Color = color.Gray{Y: 0xe4}
	p.Add(grid)

	// Sampled geometrically, so the line is straight on either x scale,
	// plus the knee at CPUs, so the corner is sharp.
	var line plotter.XYs
	for i := range 65 {
		x := xMin * math.Pow(xMax/xMin, float64(i)/64)
		line = append(line, plotter.XY{X: x, Y: ideal(x)})
	}
	if c := float64(r.CPUs); c > xMin && c < xMax {
		line = append(line, plotter.XY{X: c, Y: c})
		slices.SortFunc(line, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	}
	if l, err := plotter.NewLine(line); err == nil {
		l.LineStyle = idealLineStyle()
		p.Add(l)
	}

	// In reverse, so that ours, first in Modes, are drawn last and stay
	// visible where lines coincide.
	for _, m := range slices.Backward(modes) {
		xys := points[m]
		if len(xys) > 1 {
			if l, err := plotter.NewLine(xys); err == nil {
				l.LineStyle = draw.LineStyle{Color: modeColor(m), Width: vg.Points(1.6)}
				p.Add(l)
			}
		}
		if s, err := plotter.NewScatter(xys); err == nil {
			s.GlyphStyle = modeGlyph(m)
			p.Add(s)
		}
	}
	// Add widened the axes to the data; these ranges leave room around it.
	p.X.Min, p.X.Max = xMin, xMax
	if logLog {
		p.Y.Scale = plot.LogScale{}
		p.Y.Min, p.Y.Max = bottom/1.25, top*1.25
		p.Y.Tick.Marker = powerOfTwoTicks{}
	} else {
		p.Y.Min, p.Y.Max = 0, top*1.12
	}
	return p, modes
}

// powerOfTwoTicks marks the speedups 1, 2, 4, ... (and ½, ¼, ... below
// one) on a log axis, matching pool sizes that double.
type powerOfTwoTicks struct{}

func (powerOfTwoTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Ceil(math.Log2(lo)); math.Pow(2, e) <= hi; e++ {
		v := math.Pow(2, e)
		ticks = append(ticks, plot.Tick{Value: v, Label: tickLabel(v)})
	}
	return ticks
}

// modeBar is one mode's value in a bar panel.
type modeBar struct {
	mode  string
	value float64
}

func startupBars(r *Report) []modeBar {
	var bars []modeBar
	for _, s := range r.Startup {
		if s.Error == "" && finitePositive(s.MsPerWorker) {
			bars = append(bars, modeBar{s.Mode, s.MsPerWorker})
		}
	}
	return bars
}

// roundtripBars returns the smallest payload's round trips: the latency a
// small message pays, which is what the modes differ in most.
func roundtripBars(r *Report) (int, []modeBar) {
	payload := -1
	for _, rt := range r.Roundtrip {
		if rt.Error == "" && finitePositive(rt.Microseconds) && (payload < 0 || rt.PayloadBytes < payload) {
			payload = rt.PayloadBytes
		}
	}
	var bars []modeBar
	for _, rt := range r.Roundtrip {
		if rt.Error == "" && finitePositive(rt.Microseconds) && rt.PayloadBytes == payload {
			bars = append(bars, modeBar{rt.Mode, rt.Microseconds})
		}
	}
	return payload, bars
}

// rssBars returns each mode's memory per worker, as the memory goal
// counts it (rssPerWorker), and over how many workloads the mean is taken.
func rssBars(r *Report) (int, []modeBar) {
	var bars []modeBar
	workloads := 0
	for _, m := range Modes {
		if m == ModeSequential {
			continue // no workers: its memory is not measured
		}
		if v, n := rssPerWorker(r, m); n > 0 {
			bars = append(bars, modeBar{m, v})
			workloads = max(workloads, n)
		}
	}
	return workloads, bars
}

// barPanel draws one horizontal bar per mode, in mode order from the top,
// with the value at the end of each bar. Horizontal bars keep the long
// mode names level and readable. The value axis turns logarithmic when
// the values span more than 30×, since start-up and round trips of
// threads and processes differ by orders of magnitude.
func barPanel(title, axis string, bars []modeBar) (*plot.Plot, []string) {
	bars = slices.DeleteFunc(slices.Clone(bars), func(b modeBar) bool { return math.IsNaN(b.value) || math.IsInf(b.value, 0) || b.value < 0 })
	slices.SortStableFunc(bars, func(a, b modeBar) int { return compareModes(a.mode, b.mode) })
	lo, hi := math.Inf(1), 0.0
	for _, b := range bars {
		if b.value > 0 {
			lo, hi = math.Min(lo, b.value), math.Max(hi, b.value)
		}
	}
	if hi <= 0 {
		return nil, nil
	}

	p := newPlot(title, axis, "")
	n := len(bars)
	modes := make([]string, n)
	ticks := make(plot.ConstantTicks, n)
	for i, b := range bars {
		modes[i] = b.mode
		ticks[i] = plot.Tick{Value: float64(n - 1 - i), Label: b.mode}
	}
	p.Y.Tick.Marker = ticks
	p.Y.Tick.Length = 0
	p.Y.Padding = 0

	grid := plotter.NewGrid()
	grid.Horizontal.Color = nil
	grid.Vertical.Color = color.Gray{Y: 0xe4}
	p.Add(grid, hbars(bars))

	// Leave the right fifth of the axis for the value labels.
	const room = 0.22
	if hi/lo > 30 {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
		p.X.Min = math.Pow(10, math.Floor(math.Log10(lo)))
		if p.X.Min == lo {
			p.X.Min /= 2
		}
		p.X.Max = math.Exp(math.Log(p.X.Min) + (math.Log(hi)-math.Log(p.X.Min))/(1-room))
	} else {
		p.X.Min, p.X.Max = 0, hi/(1-room)
		p.X.Tick.Marker = linearTicks{}
	}
	p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
	return p, modes
}

// hbars is a plot.Plotter of horizontal bars. gonum's BarChart grows bars
// from zero, which a log axis cannot show, and takes one colour per chart.
type hbars []modeBar

func (h hbars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	base := math.Max(p.X.Min, 0)
	if _, isLog := p.X.Scale.(plot.LogScale); isLog {
		base = p.X.Min
	}
	// A few bars in a tall panel would otherwise be slabs.
	half := min((trY(1)-trY(0))*0.34, vg.Points(8))
	label := sansStyle(9, false)
	label.Color = color.Gray{Y: 0x30}
	label.YAlign = draw.YCenter
	for i, b := range h {
		y := trY(float64(len(h) - 1 - i))
		x0 := trX(base)
		x1 := x0
		if b.value > base {
			x1 = trX(b.value)
		}
		if x1 > x0 {
			rect := []vg.Point{{X: x0, Y: y - half}, {X: x1, Y: y - half}, {X: x1, Y: y + half}, {X: x0, Y: y + half}}
			c.FillPolygon(modeColor(b.mode), c.ClipPolygonXY(rect))
		}
		// Nudged up: YCenter centres the whole line box, descent included,
		// which reads as sitting low next to a bar.
		c.FillText(label, vg.Point{X: x1 + vg.Points(4), Y: y + vg.Points(1)}, fmtSig3(b.value))
	}
}

// linearTicks are gonum's default ticks labelled like the tables.
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = tickLabel(ticks[i].Value)
		}
	}
	return ticks
}

// logTicks labels 1, 2 and 5 of each decade when the axis spans at most
// two decades, and only the powers of ten when more would crowd a panel
// half the figure wide.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	crowded := math.Log10(hi/lo) > 2
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		decade := math.Pow(10, e)
		for m := 1.0; m < 10; m++ {
			v := m * decade
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || (!crowded && (m == 2 || m == 5)) {
				t.Label = tickLabel(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// tickLabel is fmtSig3 without trailing zeros: an axis reads 0.1, 1, 10
// rather than 0.100, 1.00, 10.0.
func tickLabel(v float64) string {
	s := fmtSig3(v)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// newPlot returns a plot with the figure's fonts: gonum defaults to a
// serif face and to sizes meant for a plot on its own page.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(12, true)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(10, false)
		a.Tick.Label.Font = sans(9.5, false)
		a.Label.Padding = vg.Points(3)
	}
	return p
}

func sans(size vg.Length, bold bool) font.Font {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return f
}

func sansStyle(size vg.Length, bold bool) text.Style {
	return text.Style{Color: color.Black, Font: sans(size, bold), Handler: plot.DefaultTextHandler}
}

// modeColors gives every mode one colour in every panel. Ours are red and
// pink so they are found first; the baseline and the reference are grey.
var modeColors = map[string]color.RGBA{
	ModeOwnGIL:                 {0xd6, 0x27, 0x28, 0xff},
	ModeSharedGIL:              {0xe3, 0x77, 0xc2, 0xff},
	ModeThreads:                {0x8c, 0x56, 0x4b, 0xff},
	ModeFork:                   {0x2c, 0xa0, 0x2c, 0xff},
	ModeForkserver:             {0x17, 0xbe, 0xcf, 0xff},
	ModeSpawn:                  {0x1f, 0x77, 0xb4, 0xff},
	ModeProcessPoolExecutor:    {0x94, 0x67, 0xbd, 0xff},
	ModeSubinterpInterpreters:  {0xff, 0xbb, 0x78, 0xff},
	ModeCPythonInterpreters:    {0xff, 0x7f, 0x0e, 0xff},
	ModeSequential:             {0x8a, 0x8a, 0x8a, 0xff},
	ModeThreadsFreeThreaded:    {0xbc, 0xbd, 0x22, 0xff},
	ModeSequentialFreeThreaded: {0x6b, 0x6e, 0x00, 0xff},
	ModeMultiprocessingPipe:    {0x40, 0x40, 0x40, 0xff},
}

// modeGlyphs vary the marker shape too, for readers who cannot tell the
// colours apart.
var modeGlyphs = map[string]draw.GlyphDrawer{
	ModeOwnGIL:                 draw.CircleGlyph{},
	ModeSharedGIL:              draw.RingGlyph{},
	ModeThreads:                draw.SquareGlyph{},
	ModeFork:                   draw.TriangleGlyph{},
	ModeForkserver:             draw.PyramidGlyph{},
	ModeSpawn:                  draw.BoxGlyph{},
	ModeProcessPoolExecutor:    draw.CrossGlyph{},
	ModeSubinterpInterpreters:  draw.PyramidGlyph{},
	ModeCPythonInterpreters:    draw.PlusGlyph{},
	ModeSequential:             draw.CircleGlyph{},
	ModeThreadsFreeThreaded:    draw.SquareGlyph{},
	ModeSequentialFreeThreaded: draw.RingGlyph{},
	ModeMultiprocessingPipe:    draw.SquareGlyph{},
}

func modeColor(m string) color.Color {
	if c, ok := modeColors[m]; ok {
		return c
	}
	return color.Gray{Y: 0x99}
}

func modeGlyph(m string) draw.GlyphStyle {
	shape, ok := modeGlyphs[m]
	if !ok {
		shape = draw.CircleGlyph{}
	}
	return draw.GlyphStyle{Color: modeColor(m), Radius: vg.Points(3.5), Shape: shape}
}

func idealLineStyle() draw.LineStyle {
	return draw.LineStyle{Color: color.Gray{Y: 0x60}, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
}

// draw lays out the title, the shared legend and the panels in two
// columns on c.
func (f *benchFigure) draw(c draw.Canvas) {
	c.FillPolygon(color.White, []vg.Point{c.Min, {X: c.Max.X, Y: c.Min.Y}, c.Max, {X: c.Min.X, Y: c.Max.Y}})
	y := c.Max.Y - vg.Points(12)

	title := sansStyle(16, true)
	title.XAlign, title.YAlign = draw.XCenter, draw.YTop
	c.FillText(title, vg.Point{X: c.Center().X, Y: y}, f.title)
	y -= title.Height(f.title) + vg.Points(4)
	sub := sansStyle(10, false)
	sub.Color = color.Gray{Y: 0x40}
	sub.XAlign, sub.YAlign = draw.XCenter, draw.YTop
	subtitle := f.subtitles[len(f.subtitles)-1]
	for _, s := range f.subtitles {
		if sub.Width(s) <= c.Max.X-c.Min.X-vg.Points(40) {
			subtitle = s
			break
		}
	}
	c.FillText(sub, vg.Point{X: c.Center().X, Y: y}, subtitle)
	y -= sub.Height(subtitle) + vg.Points(10)

	y = f.drawLegend(c, y)

	area := draw.Crop(c, 0, 0, 0, y-c.Max.Y-vg.Points(14))
	cols := min(2, len(f.panels))
	rows := (len(f.panels) + cols - 1) / cols
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadLeft: vg.Points(8), PadRight: vg.Points(14), PadBottom: vg.Points(8), PadX: vg.Points(24), PadY: vg.Points(16)}
	for i, p := range f.panels {
		p.Draw(tiles.At(area, i%cols, i/cols))
	}
}

// drawLegend draws one entry per mode, and one for the ideal line, in as
// many columns as fit, centred below the titles, and returns the y below
// it. A shared legend keeps the panels' data uncovered.
func (f *benchFigure) drawLegend(c draw.Canvas, top vg.Length) vg.Length {
	type entry struct {
		label string
		draw  func(c draw.Canvas, x0, x1, y vg.Length)
	}
	var entries []entry
	for _, m := range f.modes {
		entries = append(entries, entry{m, func(c draw.Canvas, x0, x1, y vg.Length) {
			c.StrokeLine2(draw.LineStyle{Color: modeColor(m), Width: vg.Points(2)}, x0, y, x1, y)
			c.DrawGlyph(modeGlyph(m), vg.Point{X: (x0 + x1) / 2, Y: y})
		}})
	}
	if f.ideal {
		entries = append(entries, entry{"ideal: min(workers, CPUs)", func(c draw.Canvas, x0, x1, y vg.Length) {
			c.StrokeLine2(idealLineStyle(), x0, y, x1, y)
		}})
	}
	if len(entries) == 0 {
		return top
	}
	label := sansStyle(10, false)
	label.YAlign = draw.YCenter
	const swatch, gap, spacing = vg.Length(22), vg.Length(5), vg.Length(18)
	var widest vg.Length
	for _, e := range entries {
		widest = max(widest, label.Width(e.label))
	}
	colW := swatch + gap + widest + spacing
	avail := c.Max.X - c.Min.X - vg.Points(40)
	cols := max(1, min(len(entries), int(avail/colW)))
	rows := (len(entries) + cols - 1) / cols
	lineH := label.Height("Mg") + vg.Points(5)
	left := c.Center().X - (vg.Length(cols)*colW-spacing)/2
	for i, e := range entries {
		x := left + vg.Length(i%cols)*colW
		y := top - lineH*vg.Length(i/cols) - lineH/2
		e.draw(c, x, x+swatch, y)
		c.FillText(label, vg.Point{X: x + swatch + gap, Y: y}, e.label)
	}
	return top - lineH*vg.Length(rows)
}

func finitePositive(x float64) bool {
	return x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x)
}
