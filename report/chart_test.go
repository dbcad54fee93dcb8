package report_test

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/soc/mcasbot/report"
	"github.com/soc/mcasbot/report/reporttest"
)

func TestChartIsAPNGOfTheExpectedSize(t *testing.T) {
	from, to, cur, prev := reporttest.Week()
	b, err := report.Chart(report.Compute(from, to, cur, prev))
	if err != nil {
		t.Fatal(err)
	}
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil || format != "png" {
		t.Fatalf("decode: %v %q", err, format)
	}
	if img.Bounds().Dx() != report.ChartWidth || img.Bounds().Dy() != report.ChartHeight {
		t.Fatalf("size %v", img.Bounds())
	}
	// The bars are drawn: Monday's two high alerts make red pixels.
	if !hasColor(img, 0xd6, 0x27, 0x28) || !hasColor(img, 0x1f, 0x4e, 0x79) {
		t.Fatal("no high-severity bar or issue line in the chart")
	}
	// The README shows this chart.
	if *update {
		if err := os.WriteFile(filepath.Join("..", "docs", "report-chart.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestChartOfAnEmptyMonth(t *testing.T) {
	from, to := report.Window(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), 30*24*time.Hour)
	b, err := report.Chart(report.Compute(from, to, reporttest.Empty(), reporttest.Empty()))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != report.ChartWidth || cfg.Height != report.ChartHeight {
		t.Fatalf("%+v %v", cfg, err)
	}
}

func hasColor(img image.Image, r, g, b uint8) bool {
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 2 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if uint8(cr>>8) == r && uint8(cg>>8) == g && uint8(cb>>8) == b {
				return true
			}
		}
	}
	return false
}

func BenchmarkChart30Days(b *testing.B) {
	_, to, cur, prev := reporttest.Week()
	s := report.Compute(to.AddDate(0, 0, -30), to, cur, prev)
	var size int
	for b.Loop() {
		png, err := report.Chart(s)
		if err != nil {
			b.Fatal(err)
		}
		size = len(png)
	}
	b.ReportMetric(float64(size)/1024, "KB")
}

// A chart by hand: today's bar is drawn (Sunday's medium and low alerts
// at 08:00, before now), for a week and for a month.
func TestChartOfAPeriodSoFar(t *testing.T) {
	now := reporttest.From.AddDate(0, 0, 6).Add(15 * time.Hour) // Sun 22 Nov 15:00
	for _, period := range []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour} {
		from, to := report.UpToNow(now, period)
		pfrom, pto := report.Previous(from, to)
		s := report.Compute(from, to, reporttest.Recorded(from, to, now), reporttest.Recorded(pfrom, pto, now))
		if last := s.Days[len(s.Days)-1]; last.Alerts != (report.BySeverity{Medium: 1, Low: 1}) || s.DayLabels()[len(s.Days)-1] != "22 Nov, so far" {
			t.Fatalf("today %+v, labels %q", last, s.DayLabels())
		}
		b, err := report.Chart(s)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() != report.ChartWidth || !hasColor(img, 0xf2, 0xc9, 0x4c) {
			t.Fatalf("chart %v: no low-severity bar", err)
		}
	}
}
