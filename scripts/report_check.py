#!/usr/bin/env python3
"""Checks a report.html in headless Chromium (offline, no DevTools client needed).

A copy of the page gets a script injected at the top of <head> that records console errors,
uncaught exceptions and failed resource loads from the start, and on `load` checks the page (a viewport meta element is present):
every expected figure is present (<figure data-figure="NAME">), has a non-zero size and draws
data (series points, scatter points or heat-map cells, told apart from axes, ticks and legend by
the data attributes of SVGPlot's figures), lies inside the
viewport horizontally, and its SVG text is at least 11 px at the displayed size; the page itself
does not scroll horizontally. The page is loaded in an <iframe> exactly as wide as the width
checked (headless Chromium's window is at least 500 px wide); the check posts its result as
JSON to the wrapper page, which writes it into its DOM, read back with
`chromium --headless --dump-dom`.

usage: report_check.py REPORT.html --expect NAME[,NAME…] [--widths 1300,400] [--chromium PATH]
exit status 0 when every check passes at every width, 1 otherwise (the failures are printed).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

MIN_TEXT_PX = 11.0

CHECK_SCRIPT = r"""
<script>
(function () {
  var problems = [];
  var origError = console.error;
  console.error = function () {
    problems.push("console error: " + Array.prototype.map.call(arguments, String).join(" "));
    return origError.apply(console, arguments);
  };
  window.addEventListener("error", function (e) {
    if (e.target && e.target !== window && (e.target.src || e.target.href)) {
      problems.push("failed to load " + (e.target.src || e.target.href));
    } else {
      problems.push("uncaught error: " + (e.message || e));
    }
  }, true);
  window.addEventListener("unhandledrejection", function (e) { problems.push("unhandled rejection: " + e.reason); });
  window.addEventListener("load", function () {
    var expected = __EXPECTED__, minText = __MIN_TEXT__;
    var vw = window.innerWidth, result = {width: vw, figures: {}, problems: problems};
    var doc = document.documentElement;
    if (doc.scrollWidth > vw + 1) problems.push("the page scrolls horizontally: content " + doc.scrollWidth + " px wide in a " + vw + " px viewport");
    var figures = document.querySelectorAll("figure[data-figure]");
    var seen = {};
    figures.forEach(function (fig) {
      var name = fig.getAttribute("data-figure");
      seen[name] = true;
      var r = fig.getBoundingClientRect();
      var info = {width: Math.round(r.width), height: Math.round(r.height)};
      result.figures[name] = info;
      if (r.left < -1 || r.right > vw + 1) problems.push(name + ": overflows the viewport (" + Math.round(r.left) + "…" + Math.round(r.right) + " px of " + vw + ")");
      var svg = fig.querySelector("svg");
      if (!svg) { problems.push(name + ": no <svg>"); return; }
      var s = svg.getBoundingClientRect();
      info.svgWidth = Math.round(s.width); info.svgHeight = Math.round(s.height);
      if (s.width < 1 || s.height < 1) problems.push(name + ": the figure has zero size (" + s.width + "×" + s.height + ")");
      // Data marks, by the attributes SVGPlot gives the data (axes, ticks, legend and background
      // carry none): the points of each line (polyline[data-series] of at least 2 points), the
      // circles of scatter, ring and error-bar series (g[data-series]; reference lines, which
      // carry data-style, are not data), and the heat map's cells with a finite value (the rects
      // of g[data-series="grid"] less its data-missing).
      var marks = 0;
      svg.querySelectorAll("polyline[data-series]").forEach(function (p) {
        var n = (p.getAttribute("points") || "").trim().split(/\s+/).filter(Boolean).length;
        if (n >= 2) marks += n;
      });
      marks += svg.querySelectorAll('g[data-series]:not([data-style]):not([data-series="grid"]) circle').length;
      svg.querySelectorAll('g[data-series="grid"]').forEach(function (g) {
        marks += Math.max(0, g.querySelectorAll("rect").length - (parseInt(g.getAttribute("data-missing"), 10) || 0));
      });
      info.marks = marks;
      if (marks < 1) problems.push(name + ": empty (no data drawn: no series points, scatter points or heat-map cells)");
      var vb = svg.viewBox && svg.viewBox.baseVal;
      var scale = vb && vb.width > 0 ? s.width / vb.width : 1;
      var smallest = Infinity;
      svg.querySelectorAll("text").forEach(function (t) {
        if (!t.textContent.trim()) return;
        var px = parseFloat(getComputedStyle(t).fontSize) * scale;
        if (px < smallest) smallest = px;
      });
      info.smallestText = smallest === Infinity ? null : Math.round(smallest * 10) / 10;
      if (smallest === Infinity) problems.push(name + ": no text (title, axes, legend)");
      else if (smallest < minText - 0.05) problems.push(name + ": text " + smallest.toFixed(1) + " px at the displayed size (below " + minText + " px)");
    });
    expected.forEach(function (name) { if (!seen[name]) problems.push(name + ": missing from the page"); });
    document.querySelectorAll("img").forEach(function (img) {
      if (!img.complete || img.naturalWidth === 0) problems.push("image " + img.getAttribute("src") + " did not load");
    });
    document.querySelectorAll(".table-wrap").forEach(function (w, k) {
      var r = w.getBoundingClientRect();
      if (r.right > vw + 1) problems.push("table " + (k + 1) + ": its box overflows the viewport");
    });
    if (!document.querySelector('meta[name="viewport"]')) problems.push("the page has no viewport meta element");
    if (window.parent !== window) window.parent.postMessage(JSON.stringify(result), "*");
  });
})();
</script>
"""


def find_chromium(given):
    for name in ([given] if given else []) + ["chromium", "chromium-browser", "google-chrome", "chrome"]:
        path = shutil.which(name) if name else None
        if path:
            return path
    sys.exit("report_check: no Chromium found (install the Debian package 'chromium'; scripts/setup.sh does)")


def check(page, expected, widths, chromium):
    """The failures of `page` at each width (an empty list when it passes)."""
    with open(page, encoding="utf-8") as f:
        html = f.read()
    script = CHECK_SCRIPT.replace("__EXPECTED__", json.dumps(expected)).replace("__MIN_TEXT__", str(MIN_TEXT_PX))
    if "<head>" not in html:
        return ["the page has no <head>"]
    html = html.replace("<head>", "<head>" + script, 1)
    failures = []
    # The copy sits beside the original so relative links resolve alike.
    fd, copy = tempfile.mkstemp(prefix=".report-check-", suffix=".html", dir=os.path.dirname(os.path.abspath(page)))
    profile = tempfile.mkdtemp(prefix="report-check-profile-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        for width in widths:
            wrapper = os.path.join(profile, "wrapper-%d.html" % width)
            with open(wrapper, "w", encoding="utf-8") as f:
                f.write('<!DOCTYPE html><html><body style="margin:0"><script>window.addEventListener("message", function (e) {'
                        ' var pre = document.createElement("pre"); pre.id = "report-check-result"; pre.textContent = e.data;'
                        ' document.body.appendChild(pre); });</script>'
                        '<iframe src="file://%s" style="width:%dpx;height:900px;border:0;display:block"></iframe></body></html>'
                        % (os.path.abspath(copy), width))
            cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                   "--disable-extensions", "--disable-background-networking", "--allow-file-access-from-files",
                   "--user-data-dir=" + profile, "--window-size=%d,1000" % (max(width, 500) + 40),
                   "--virtual-time-budget=5000", "--dump-dom", "file://" + wrapper]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            m = re.search(r'<pre id="report-check-result">(.*?)</pre>', out.stdout, re.S)
            if not m:
                failures.append("%d px: the check did not run (chromium exit %d): %s" % (width, out.returncode, out.stderr.strip()[-600:]))
                continue
            text = m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
            result = json.loads(text)
            if result["width"] != width:
                failures.append("%d px: the viewport is %d px wide" % (width, result["width"]))
            failures += ["%d px: %s" % (width, p) for p in result["problems"]]
            sizes = ", ".join("%s %dx%d (text ≥ %s px, %s data marks)" % (n, i["svgWidth"], i["svgHeight"], i["smallestText"], i.get("marks"))
                              for n, i in sorted(result["figures"].items()) if "svgWidth" in i)
            print("  %d px: %d figures: %s" % (width, len(result["figures"]), sizes if len(sizes) < 400 else sizes[:400] + "…"))
    finally:
        os.remove(copy)
        shutil.rmtree(profile, ignore_errors=True)
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("page")
    ap.add_argument("--expect", default="", help="comma-separated figure names (data-figure) that must be on the page")
    ap.add_argument("--widths", default="1300,400")
    ap.add_argument("--chromium")
    args = ap.parse_args()
    expected = [e for e in args.expect.split(",") if e]
    widths = [int(w) for w in args.widths.split(",")]
    failures = check(args.page, expected, widths, find_chromium(args.chromium))
    for f in failures:
        print("FAIL " + args.page + ": " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
