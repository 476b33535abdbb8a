"""The report's CSS: a readable column on screen and A4 portrait on paper, with every table
inside its column (headers wrap, long paths break, numbers stay on one line) and page breaks
that keep a heading with what follows it."""

CSS = """
:root { --ink: #1f1f1f; --muted: #555; --rule: #d0d0d0; --band: #f4f6f8; --accent: #0072B2; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { font-family: "Segoe UI", "Helvetica Neue", Helvetica, Arial, "DejaVu Sans", sans-serif;
       color: var(--ink); margin: 0; line-height: 1.42; font-size: 15px; }
main { margin: 0 auto; max-width: 60rem; padding: 1rem 1.5rem 4rem; }
h1 { font-size: 1.45rem; margin: 0 0 .2rem; line-height: 1.2; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; padding-top: .5rem;
     border-top: 3px solid var(--accent); }
#summary h2 { margin-top: .6rem; }
h3 { font-size: 1.05rem; margin: 1.3rem 0 .4rem; }
h4 { font-size: .95rem; margin: 1rem 0 .3rem; }
p { margin: .4rem 0 .6rem; }
p.lede { color: var(--muted); margin: 0 0 .3rem; font-size: .9rem; }
table { border-collapse: collapse; width: 100%; max-width: 100%; margin: .5rem 0 .9rem;
        font-size: .84rem; }
caption { caption-side: top; text-align: left; font-size: .8rem; color: var(--muted);
          padding-bottom: .2rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .28rem .4rem; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
thead th { background: var(--band); font-weight: 600; vertical-align: bottom;
           overflow-wrap: normal; hyphens: auto; }
tbody th { font-weight: normal; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; overflow-wrap: normal; }
tr.total td, tr.total th { font-weight: 600; border-top: 2px solid #999; }
table.summary { font-size: .84rem; }
table.summary tbody td:first-child { font-weight: 600; }
table.summary td.num { font-weight: 600; }
table.measures tbody th { width: 40%; }
table.assumptions td:first-child { min-width: 9rem; }
ul.findings { margin: .3rem 0 .6rem; padding-left: 1.2rem; font-size: .92rem; }
ul.findings li { margin: .15rem 0; }
figure { margin: .9rem 0 1.4rem; }
figure img { display: block; width: 100%; max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .84rem; color: var(--muted); margin-top: .3rem; }
.note { font-size: .84rem; color: var(--muted); }
.amount { white-space: nowrap; }
code { font-size: .84em; background: var(--band); padding: 0 .2em; overflow-wrap: anywhere; }
.small { font-size: .78rem; }
@page { size: A4 portrait; margin: 14mm 13mm 16mm; }
@media print {
  body { font-size: 9.5pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; margin-top: 1.2rem; }
  h3, h4, caption { break-after: avoid; page-break-after: avoid; }
  h2 + p, h3 + p { break-before: avoid; }
  table { font-size: 8pt; }
  /* header cells start on one line on paper, so a PDF's text (what a reader copies or a
     screen reader reads) gives a table's headers in order before its rows */
  thead th { vertical-align: top; }
  thead { display: table-header-group; }
  tr, figure, img { break-inside: avoid; page-break-inside: avoid; }
  /* charts a little under the text width, so a chart and its caption fit the space left on a
     page more often (fewer half-empty pages) */
  figure { margin: .4rem 0 .8rem; }
  figure img { width: 86%; max-width: 86%; max-height: 230mm; margin: 0 auto; border: 0; }
  .small { font-size: 7.2pt; }
  a { color: inherit; text-decoration: none; }
}
"""
