// prometheus.mjs — a parser for Prometheus's text exposition format (0.0.4), strict enough to fail a
// test on malformed output: every sample must belong to a family declared by # TYPE before it,
// families are contiguous, label values are unescaped (\\, \", \n), histogram buckets are
// cumulative and end with le="+Inf" equal to _count.

/** Parses text into {families: Map(name → {type, help, samples: [{name, labels, value}]})}. Throws on errors. */
export function parsePrometheus(text) {
  const families = new Map();
  let current = null;
  const closed = new Set();
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('exposition does not end with a newline');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (!m) throw new Error(`bad comment, ${where}`);
      const [, kind, name, rest] = m;
      if (current && current.name !== name) closed.add(current.name);
      if (closed.has(name)) throw new Error(`family ${name} declared again after other families, ${where}`);
      if (!families.has(name)) families.set(name, { name, type: 'untyped', help: '', samples: [] });
      current = families.get(name);
      if (kind === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type, ${where}`);
        if (current.samples.length) throw new Error(`TYPE after samples, ${where}`);
        current.type = rest;
      } else {
        current.help = rest;
      }
      return;
    }
    if (line.startsWith('#') || line === '') return;
    const s = parseSample(line, where);
    const base = current && (s.name === current.name || (current.type === 'histogram' &&
      [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`].includes(s.name)));
    if (!base) throw new Error(`sample outside its family (declare # TYPE first), ${where}`);
    current.samples.push(s);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function parseSample(line, where) {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{)?/.exec(line);
  if (!m) throw new Error(`bad metric name, ${where}`);
  let i = m[0].length;
  const labels = {};
  if (m[2]) {
    for (;;) {
      if (line[i] === '}') { i++; break; }
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (!lm) throw new Error(`bad label at ${i}, ${where}`);
      i += lm[0].length;
      let v = '';
      for (;;) {
        const c = line[i++];
        if (c === undefined) throw new Error(`unterminated label value, ${where}`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          if (e === 'n') v += '\n';
          else if (e === '\\' || e === '"') v += e;
          else throw new Error(`bad escape \\${e}, ${where}`);
        } else v += c;
      }
      if (lm[1] in labels) throw new Error(`duplicate label ${lm[1]}, ${where}`);
      labels[lm[1]] = v;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } at ${i}, ${where}`);
    }
  }
  if (line[i] !== ' ') throw new Error(`expected a space before the value, ${where}`);
  const parts = line.slice(i + 1).split(' ');
  if (parts.length < 1 || parts.length > 2) throw new Error(`bad value, ${where}`);
  const raw = parts[0];
  const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
  if (!/^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+|Inf|NaN)$/.test(raw) || (Number.isNaN(value) && raw !== 'NaN')) {
    throw new Error(`bad value "${raw}", ${where}`);
  }
  return { name: m[1], labels, value };
}

const keyOf = (labels, skip = []) => JSON.stringify(Object.entries(labels).filter(([k]) => !skip.includes(k)).sort());

function checkHistogram(f) {
  const groups = new Map();
  for (const s of f.samples) {
    const k = keyOf(s.labels, ['le']);
    if (!groups.has(k)) groups.set(k, { buckets: [], count: undefined, sum: undefined });
    const g = groups.get(k);
    if (s.name.endsWith('_bucket')) {
      if (!('le' in s.labels)) throw new Error(`${f.name}: bucket without le`);
      g.buckets.push([s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value]);
    } else if (s.name.endsWith('_count')) g.count = s.value;
    else g.sum = s.value;
  }
  for (const [k, g] of groups) {
    const b = g.buckets;
    if (!b.length || b[b.length - 1][0] !== Infinity) throw new Error(`${f.name}${k}: no +Inf bucket`);
    for (let i = 1; i < b.length; i++) {
      if (!(b[i][0] > b[i - 1][0]) || b[i][1] < b[i - 1][1]) throw new Error(`${f.name}${k}: buckets not cumulative`);
    }
    if (g.count !== b[b.length - 1][1]) throw new Error(`${f.name}${k}: _count ${g.count} != +Inf bucket`);
    if (g.sum === undefined) throw new Error(`${f.name}${k}: no _sum`);
  }
}

/** The value of the one sample of `name` whose labels equal `labels` exactly; undefined when absent. */
export function value(families, name, labels = {}) {
  const fam = families.get(name) || families.get(name.replace(/_(bucket|sum|count)$/, ''));
  if (!fam) return undefined;
  const want = keyOf(labels);
  const hits = fam.samples.filter((s) => s.name === name && keyOf(s.labels) === want);
  if (hits.length > 1) throw new Error(`${name}${want}: ${hits.length} samples with the same labels`);
  return hits[0]?.value;
}

/** Sum of every sample of `name` whose labels include `match`. */
export function sum(families, name, match = {}) {
  const fam = families.get(name) || families.get(name.replace(/_(bucket|sum|count)$/, ''));
  if (!fam) return 0;
  return fam.samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
