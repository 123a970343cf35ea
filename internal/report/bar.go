package report

import (
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
)

// MinCell is the smallest count published as a number on public pages
// (DESIGN: "public figures never show a cell smaller than 5 people"). A
// suppressed bar is labelled "<MinCell".
const MinCell = 5

// Suppressed is the Value that Suppress gives to a cell too small to show.
const Suppressed = -1

// Bar is one row of a bar chart.
type Bar struct {
	Label string
	Value int
}

// Chart geometry, in viewBox units. Each row puts the label on its own line
// above the bar, so long category names get the full width of a narrow
// phone instead of being cut to a left-hand column.
const (
	chartWidth = 320
	valueSpace = 48 // room right of the longest bar for its number
	barMax     = chartWidth - valueSpace
	rowHeight  = 34
	labelY     = 12 // baseline of the label within a row
	barY       = 16 // top of the bar within a row
	barHeight  = 14
	valueY     = 27 // baseline of the value text, centred on the bar
	pad        = 4
	fontSize   = 12

	barFill        = "#2f5f98" // well above the 3:1 non-text contrast WCAG asks for on white
	suppressedFill = "#bbb"
	suppressedLine = "#666"
)

// Suppress returns a copy of bars in which every value from 1 to min-1 is
// replaced by Suppressed (-1), so small groups cannot be singled out. Zero
// stays zero: "nobody" reveals no one. Other values, including values that
// are already negative, are unchanged. bars itself is not modified.
func Suppress(bars []Bar, min int) []Bar {
	out := slices.Clone(bars)
	for i := range out {
		if v := out[i].Value; v >= 1 && v < min {
			out[i].Value = Suppressed
		}
	}
	return out
}

// BarChart renders a horizontal bar chart with one row per bar: the label,
// a bar whose length is proportional to the value (the largest value spans
// the full width), and the value as text. A Suppressed value is drawn as a
// grey, dashed bar labelled "<5" (see MinCell), the width of a MinCell
// value, so it neither hides that there is something nor shows how much.
// Other negative values are drawn as empty bars with their number.
//
// title becomes the <title> and aria-label; a <desc> repeats the data as
// text ("label: value; ...") so screen readers get the figures, not only
// the picture.
func BarChart(title string, bars []Bar) template.HTML {
	maxVal := 0
	for _, b := range bars {
		maxVal = max(maxVal, b.Value)
	}
	if maxVal == 0 {
		// Nothing positive to scale by: size suppressed bars as if the
		// largest value were MinCell so they are still visible.
		maxVal = MinCell
	}
	suppressedText := fmt.Sprintf("<%d", MinCell)
	valueText := func(v int) string {
		if v == Suppressed {
			return suppressedText
		}
		return strconv.Itoa(v)
	}

	height := len(bars)*rowHeight + pad
	if len(bars) == 0 {
		height = rowHeight
	}

	var b strings.Builder
	b.Grow(300 + 170*len(bars))
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="`, chartWidth, height)
	escape(&b, title)
	fmt.Fprintf(&b, `" font-family="sans-serif" font-size="%d"><title>`, fontSize)
	escape(&b, title)
	b.WriteString(`</title>`)

	if len(bars) == 0 {
		// An empty chart still says so visibly; a dash needs no translation.
		fmt.Fprintf(&b, `<text x="0" y="%d">—</text></svg>`, rowHeight/2+fontSize/2)
		return template.HTML(b.String())
	}

	b.WriteString(`<desc>`)
	for i, bar := range bars {
		if i > 0 {
			b.WriteString("; ")
		}
		escape(&b, bar.Label)
		b.WriteString(": ")
		escape(&b, valueText(bar.Value))
	}
	b.WriteString(`</desc>`)

	for i, bar := range bars {
		y := i * rowHeight
		v := bar.Value
		if v == Suppressed {
			v = MinCell
		}
		w := 0.0
		if v > 0 {
			w = min(float64(barMax), float64(barMax)*float64(v)/float64(maxVal))
		}
		fmt.Fprintf(&b, `<text x="0" y="%d">`, y+labelY)
		escape(&b, bar.Label)
		fmt.Fprintf(&b, `</text><rect x="0" y="%d" width="%s" height="%d" `, y+barY, num(w), barHeight)
		if bar.Value == Suppressed {
			fmt.Fprintf(&b, `fill="%s" stroke="%s" stroke-dasharray="3 2"/>`, suppressedFill, suppressedLine)
		} else {
			fmt.Fprintf(&b, `fill="%s"/>`, barFill)
		}
		fmt.Fprintf(&b, `<text x="%s" y="%d">`, num(w+pad), y+valueY)
		escape(&b, valueText(bar.Value))
		b.WriteString(`</text>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
