// Package report draws the small server-side SVG pieces (bar charts, QR
// codes) that html/template pages embed.
//
// Pages must work with JavaScript off, fit a 2G phone (under 50 KB gzip)
// and pass a strict Content-Security-Policy, so the SVG here is hand-built:
// no scripts, no style attributes (CSP blocks inline styles; presentation
// attributes such as fill and font-size are not styles and are allowed),
// no ids (several charts on one page must not clash), a viewBox with
// width="100%" so it scales to the screen, role="img" with a <title> for
// screen readers, and every piece of caller text XML-escaped.
package report

import (
	"encoding/xml"
	"strconv"
	"strings"
)

// escape writes s as XML character data or attribute content. Beyond
// <, >, &, ' and ", encoding/xml replaces bytes that are not valid UTF-8 and
// characters XML forbids (most control characters) with U+FFFD, so any
// string a user typed still yields well-formed XML.
func escape(b *strings.Builder, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a strings.Builder never fails
}

// num formats a coordinate with at most one decimal: enough precision for
// a screen, and short, because every byte counts on 2G.
func num(f float64) string {
	return strconv.FormatFloat(float64(int64(f*10+0.5))/10, 'f', -1, 64)
}
