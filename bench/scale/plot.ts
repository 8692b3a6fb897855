/**
 * A small SVG writer for the scale benchmark: CPU (% of one core) and peak
 * RSS (MB) against the number of servers (log scale), one line per series.
 */
export interface PlotRow {
  servers: number;
  cpuPct: number;
  rssPeakMb: number;
  rssEndMb: number;
}

export interface Series {
  label: string;
  rows: PlotRow[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function panel(x0: number, title: string, yLabel: string, series: Series[], pick: (r: PlotRow) => number, targets: Array<{ n: number; v: number; label: string }>): string {
  const w = 420;
  const h = 300;
  const left = 60;
  const top = 40;
  const pw = w - left - 20;
  const ph = h - top - 50;
  const all = series.flatMap((s) => s.rows);
  const ns = [...new Set(all.map((r) => r.servers))].sort((a, b) => a - b);
  const minN = Math.min(...ns);
  const maxN = Math.max(...ns);
  const maxY = Math.max(1, ...all.map(pick), ...targets.map((t) => t.v)) * 1.1;
  const step = niceStep(maxY / 5);
  const lx = (n: number): number => x0 + left + (maxN === minN ? pw / 2 : ((Math.log10(n) - Math.log10(minN)) / (Math.log10(maxN) - Math.log10(minN))) * pw);
  const ly = (v: number): number => top + ph - (v / maxY) * ph;
  const out: string[] = [];
  out.push(`<text x="${x0 + w / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<line x1="${x0 + left}" y1="${top + ph}" x2="${x0 + left + pw}" y2="${top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${x0 + left}" y1="${top}" x2="${x0 + left}" y2="${top + ph}" stroke="#333"/>`);
  for (let v = 0; v <= maxY; v += step) {
    out.push(`<line x1="${x0 + left}" y1="${ly(v)}" x2="${x0 + left + pw}" y2="${ly(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + left - 6}" y="${ly(v) + 4}" text-anchor="end" font-size="11">${Math.round(v)}</text>`);
  }
  for (const n of ns) out.push(`<text x="${lx(n)}" y="${top + ph + 16}" text-anchor="middle" font-size="11">${n.toLocaleString('en-US')}</text>`);
  out.push(`<text x="${x0 + left + pw / 2}" y="${top + ph + 36}" text-anchor="middle" font-size="12">servers (log scale)</text>`);
  out.push(`<text x="${x0 + 14}" y="${top + ph / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 + 14} ${top + ph / 2})">${esc(yLabel)}</text>`);
  for (const t of targets) {
    out.push(`<line x1="${lx(t.n) - 10}" y1="${ly(t.v)}" x2="${lx(t.n) + 10}" y2="${ly(t.v)}" stroke="#888" stroke-width="2" stroke-dasharray="3,2"/>`);
    out.push(`<text x="${lx(t.n) - 12}" y="${ly(t.v) + 4}" text-anchor="end" font-size="10" fill="#666">${esc(t.label)}</text>`);
  }
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const pts = [...s.rows].sort((a, b) => a.servers - b.servers).map((r) => `${lx(r.servers).toFixed(1)},${ly(pick(r)).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const r of s.rows) out.push(`<circle cx="${lx(r.servers).toFixed(1)}" cy="${ly(pick(r)).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${s.label}: ${r.servers} servers: ${pick(r)}`)}</title></circle>`);
  });
  return out.join('\n');
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** The whole SVG: CPU on the left, peak RSS on the right, a legend below. */
export function plotScale(series: Series[], title: string): string {
  const W = 860;
  const H = 360;
  const body = [
    panel(0, 'CPU of the manager', '% of one core', series, (r) => r.cpuPct, [{ n: 1000, v: 25, label: 'target' }, { n: 3000, v: 75, label: 'target' }].filter((t) => series.some((s) => s.rows.some((r) => Math.abs(r.servers - t.n) < t.n * 0.01)))),
    panel(430, 'Peak RSS of the manager', 'MB', series, (r) => r.rssPeakMb, [{ n: 1000, v: 300, label: 'target' }].filter((t) => series.some((s) => s.rows.some((r) => Math.abs(r.servers - t.n) < t.n * 0.01)))),
  ];
  const legend = series.map((s, i) => `<rect x="${80 + i * 260}" y="${H - 18}" width="14" height="4" fill="${COLORS[i % COLORS.length]!}"/><text x="${100 + i * 260}" y="${H - 13}" font-size="12">${esc(s.label)}</text>`).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 20}" viewBox="0 0 ${W} ${H + 20}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="${H + 12}" text-anchor="middle" font-size="11" fill="#555">${esc(title)}; dashed marks: targets</text>
${body.join('\n')}
${legend}
</svg>
`;
}
