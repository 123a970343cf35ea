package report

import (
	"fmt"
	"html/template"
	"image/color"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
)

// quietZone is the light margin, in modules, that scanners need around a
// QR code (ISO/IEC 18004 asks for 4).
const quietZone = 4

// QR renders text as a QR code (error correction M, which survives a worn or
// creased card) with a 4-module quiet zone on a white background, so it
// scans even on a dark page.
//
// Dark modules are drawn as one <path>, with each horizontal run of dark
// modules merged into a single rectangle: a version-1 code comes to well
// under 2 KB. One viewBox unit is one module and shape-rendering is
// crispEdges, so modules do not blur or show hairline seams when scaled.
func QR(text string) (template.HTML, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("qr encode: %w", err)
	}
	dark := modules(code)
	n := len(dark)
	size := n + 2*quietZone

	var b strings.Builder
	b.Grow(400 + 12*n*n/4)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="QR `, size, size)
	escape(&b, text)
	b.WriteString(`" shape-rendering="crispEdges"><title>QR `)
	escape(&b, text)
	fmt.Fprintf(&b, `</title><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, size, size)
	for y := range n {
		for x := 0; x < n; {
			if !dark[y][x] {
				x++
				continue
			}
			start := x
			for x < n && dark[y][x] {
				x++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", start+quietZone, y+quietZone, x-start, x-start)
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

// modules returns the code's module matrix as dark[y][x], reading it through
// the image interface so it does not depend on the library's colour scheme.
func modules(code barcode.Barcode) [][]bool {
	r := code.Bounds()
	dark := make([][]bool, r.Dy())
	for y := range dark {
		dark[y] = make([]bool, r.Dx())
		for x := range dark[y] {
			g := color.GrayModel.Convert(code.At(r.Min.X+x, r.Min.Y+y)).(color.Gray)
			dark[y][x] = g.Y < 128
		}
	}
	return dark
}
