package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The chart's size in pixels.
const (
	ChartWidth  = 1200
	ChartHeight = 600
)

// dpi is vgimg's default: lengths in points become pixels at 96/72.
const dpi = 96

// severityColors are the bar colors, alike in the chart and the legend.
var severityColors = map[string]color.Color{
	"high":          color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	"medium":        color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	"low":           color.RGBA{R: 0xf2, G: 0xc9, B: 0x4c, A: 0xff},
	"informational": color.RGBA{R: 0xa0, G: 0xa0, B: 0xa0, A: 0xff},
}

var lineColor = color.RGBA{R: 0x1f, G: 0x4e, B: 0x79, A: 0xff}

// Chart draws alerts per day per severity as stacked bars and Jira issues
// filed per day as a line, as a ChartWidth × ChartHeight PNG.
func Chart(s Stats) ([]byte, error) {
	p := plot.New()
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		f.Variant = "Sans"
	}
	p.Title.Text = "MCAS alerts per day, " + s.Title()
	p.Title.TextStyle.Font.Size = vg.Points(15)
	p.Title.Padding = vg.Points(8)
	p.Y.Label.Text = "alerts, issues"
	p.Y.Min = 0
	p.Y.Tick.Marker = integerTicks{}
	p.X.Tick.Label.Font.Size = vg.Points(11)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(10), -vg.Points(6)
	p.Legend.Padding = vg.Points(3)
	p.Legend.TextStyle.Font.Size = vg.Points(11)
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)

	n := len(s.Days)
	if n == 0 {
		return nil, fmt.Errorf("report: no days to chart")
	}
	width := vg.Length(float64(ChartWidth*72/dpi) * 0.8 / float64(n) * 0.65)
	var below *plotter.BarChart
	peak := 0
	for _, sev := range Severities {
		vals := make(plotter.Values, n)
		for i, d := range s.Days {
			vals[i] = float64(d.Alerts.Get(sev))
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, fmt.Errorf("report chart: %w", err)
		}
		bars.Color = severityColors[sev]
		bars.LineStyle.Width = 0
		if below != nil {
			bars.StackOn(below)
		}
		below = bars
		p.Add(bars)
		p.Legend.Add(sev, bars)
	}
	filed := make(plotter.XYs, n)
	for i, d := range s.Days {
		filed[i] = plotter.XY{X: float64(i), Y: float64(d.Filed)}
		peak = max(peak, d.Alerts.Total(), d.Filed)
	}
	line, points, err := plotter.NewLinePoints(filed)
	if err != nil {
		return nil, fmt.Errorf("report chart: %w", err)
	}
	line.Color, line.Width = lineColor, vg.Points(2.5)
	points.Shape, points.Color, points.Radius = draw.CircleGlyph{}, lineColor, vg.Points(3.5)
	p.Add(line, points)
	p.Legend.Add("Jira issues filed", line, points)
	// Headroom for the legend above the tallest bar.
	p.Y.Max = math.Max(5, math.Ceil(float64(peak)*1.6))
	p.NominalX(chartLabels(s)...)
	p.X.Min, p.X.Max = -0.6, float64(n)-0.4

	c := vgimg.NewWith(vgimg.UseWH(vg.Length(ChartWidth*72/dpi), vg.Length(ChartHeight*72/dpi)), vgimg.UseDPI(dpi),
		vgimg.UseBackgroundColor(color.White))
	// A margin around the whole picture.
	p.Draw(draw.Crop(draw.New(c), vg.Points(6), -vg.Points(12), vg.Points(4), -vg.Points(8)))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("report chart: %w", err)
	}
	return buf.Bytes(), nil
}

// DayLabels names each day of the chart: "Mon 16" for a week or two; for
// longer periods a date on every few days, so labels never overlap.
// Today in a report by hand is "6 Dec, so far".
func (s Stats) DayLabels() []string {
	out := make([]string, len(s.Days))
	if len(s.Days) <= 14 {
		for i, d := range s.Days {
			out[i] = d.Date.Format("Mon 2")
		}
	} else {
		every := (len(s.Days) + 14) / 15
		for i, d := range s.Days {
			if i%every == 0 {
				out[i] = d.Date.Format("2 Jan")
			}
		}
		if s.Partial() {
			// Today's longer label needs room: none on the days next to it.
			for i := max(0, len(out)-every); i < len(out); i++ {
				out[i] = ""
			}
		}
	}
	if s.Partial() {
		out[len(out)-1] = s.SoFar()
	}
	return out
}

// chartLabels are DayLabels as drawn: beyond a week, today's label on two
// lines to fit its narrower slot.
func chartLabels(s Stats) []string {
	out := s.DayLabels()
	if s.Partial() && len(out) > 7 {
		out[len(out)-1] = strings.Replace(out[len(out)-1], ", ", ",\n", 1)
	}
	return out
}

// integerTicks labels whole numbers only, about six of them: the chart
// counts alerts.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000} {
		step = s
		if (hi-lo)/s <= 6 {
			break
		}
	}
	var out []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		out = append(out, plot.Tick{Value: v, Label: fmt.Sprint(v)})
	}
	return out
}
