// charts.js — the charts of the console and the portal, on Chart.js (window.Chart, loaded by the
// page from /…/vendor/chart.js/dist/chart.umd.min.js, which the build copies from npm).
//
// Every chart is a <figure> with a canvas (role=img, labelled) and, under it, the same numbers as a
// table in a <details>, for screen readers and for copying. Chart.getChart(canvas).data is what
// the browser tests read.

import { h, table, num } from './ui.js';

const PALETTE = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#ca8a04', '#dc2626', '#4b5563', '#db2777', '#65a30d'];
export const color = (i) => PALETTE[i % PALETTE.length];

/**
 * A chart in a figure. kind: 'bar' | 'line'. labels: x values. series: [{label, data: numbers}].
 * opts: stacked, yLabel, format (a value → text, for the table and tooltips).
 * Returns the figure; figure.chart is the Chart (null when Chart.js did not load).
 */
export function chart(id, title, kind, labels, series, { stacked = false, yLabel = '', format = num } = {}) {
  const canvas = h('canvas', { role: 'img', 'aria-label': `${title} (chart; the numbers are in the table below it)` });
  const rows = labels.map((l, i) => ({ l, v: series.map((s) => s.data[i]) }));
  const tbl = table(
    [{ label: '', get: (r) => r.l }, ...series.map((s, j) => ({ label: s.label, num: true, get: (r) => format(r.v[j]) }))],
    rows,
    { empty: 'No data.' },
  );
  const fig = h(
    'figure.chart',
    { id },
    h('figcaption', title),
    h('div.chart-box', canvas),
    h('details', h('summary', 'Show as a table'), tbl),
  );
  fig.chart = null;
  if (typeof window.Chart !== 'function') {
    fig.append(h('p.notice.error', 'The chart library did not load: the numbers are in the table.'));
    return fig;
  }
  fig.chart = new window.Chart(canvas, {
    type: kind,
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: s.label,
        data: s.data,
        backgroundColor: color(i),
        borderColor: color(i),
        tension: 0.2,
        pointRadius: kind === 'line' ? 2 : undefined,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false, // a poll redraws; a screenshot shows the final bars
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { stacked },
        y: { stacked, beginAtZero: true, title: { display: !!yLabel, text: yLabel } },
      },
      plugins: {
        legend: { display: series.length > 1 },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${format(c.raw)}` } },
      },
    },
  });
  return fig;
}

/** Destroys the charts inside el (before its contents are replaced), freeing their canvases. */
export function destroyCharts(el) {
  if (typeof window.Chart !== 'function') return;
  for (const c of el.querySelectorAll('canvas')) window.Chart.getChart(c)?.destroy();
}
