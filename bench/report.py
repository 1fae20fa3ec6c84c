#!/usr/bin/env python3
"""bench/report.py WORKDIR [README] — turns bench/run.sh's raw results into tables.

Prints the results as Markdown and, when README is given, replaces the text between
"<!-- results:begin -->" and "<!-- results:end -->" in it (appending the block when the
markers are missing). Medians over the interleaved rounds; "added" latency is computed per
round against the direct run of the same round, then the median of those differences.
"""
import json
import os
import platform
import re
import statistics
import subprocess
import sys

WORK = sys.argv[1]
README = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None

NAMES = {
    "a": "(a) direct to ig-sim",
    "b": "(b) nginx",
    "c": "(c) infergate, every plugin",
    "d": "(d) infergate, vllm + LeastLoad",
}

recs = [json.loads(l) for l in open(os.path.join(WORK, "results.jsonl")) if l.strip()]
meta = next((r for r in recs if r["kind"] == "meta"), {})
end = next((r for r in recs if r["kind"] == "end"), {})
c_run = bool(meta.get("c_plugins"))
variants = ["a", "b", "c", "d"] if c_run else ["a", "b", "d"]
proxies = [v for v in variants if v != "a"]
gw = "c" if c_run else "d"  # the gateway judged against the targets


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=0, unit=""):
    if x is None:
        return "—"
    if nd == 0:
        return f"{x:,.0f}{unit}"
    return f"{x:,.{nd}f}{unit}"


def ratio(x, y):
    if x is None or y in (None, 0):
        return None
    return x / y


def pct(x):
    return "—" if x is None else f"{100 * x:.0f}%"


def sel(kind, **kw):
    return [r for r in recs if r["kind"] == kind and all(r.get(k) == v for k, v in kw.items())]


def vname(v):
    return NAMES[v]


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""


out = []
P = out.append

# ---- machine --------------------------------------------------------------------------------
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
virt = sh("systemd-detect-virt 2>/dev/null") or sh("grep -qw hypervisor /proc/cpuinfo && echo 'virtual machine (hypervisor flag)'")
vers = {p: sh(f"dpkg-query -W -f='${{Version}}' {p} 2>/dev/null") for p in
        ["libh2o-dev", "libuv1", "nginx", "nghttp2-client", "gcc", "linux-perf", "valgrind"]}
P("#### Machine and software")
P("")
P(f"- CPU: {cpu or '?'} × {os.cpu_count()} (`nproc`), memory {mem}, {virt or 'bare metal or unknown'}")
P(f"- Kernel {platform.release()}, Debian {sh('cat /etc/debian_version')}; "
  + ", ".join(f"{k} {v}" for k, v in vers.items() if v))
P(f"- infergate: {meta.get('git', '?')}")
P(f"- Load average before / after the run: {' '.join(meta.get('loadavg_start', []))} / {end.get('loadavg_end', '?')}"
  f" (other jobs on the machine add noise; the rounds are interleaved so that noise falls on every variant alike)")
la = [float(x) for x in meta.get("loadavg_start", [])[:1]] + [float(x) for x in str(end.get("loadavg_end", "")).split()[:1]]
if la and max(la) > 2.5:
    P(f"- **The machine was busy with other jobs during this run** (load average up to {max(la):.1f} on "
      f"{os.cpu_count()} cores): absolute numbers and tail latencies are noisy; CPU seconds per request and memory "
      "are the steadier figures, and the spread across rounds below shows how much the rest moved")
P(f"- {meta.get('rounds')} interleaved rounds ({' → '.join(variants)}), {meta.get('duration')} s per run, "
  f"medians reported; whole run {end.get('seconds', '?')} s")
P(f"- Everything on 127.0.0.1, unpinned, sharing both cores: the load generator, the proxy "
  f"({meta.get('workers')} gateway worker threads / {meta.get('workers')} nginx worker processes, access logs off "
  f"in both) and ig-sim ({meta.get('workers')} workers)")
if not c_run:
    P("- **(c) = (d)**: no auth, rate-limit, billing or PrefixHash plugin exists in build/plugins yet, so (c) "
      "would load exactly what (d) loads; it is not run, and the targets are judged on (d)")
else:
    P(f"- (c) loads: vllm, leastload, {', '.join(meta['c_plugins'])}")
P("")

# ---- closed loop -----------------------------------------------------------------------------
P("#### Throughput: non-streamed chat, closed loop (h2load)")
P("")
P("1.5 KB request, ~400 B response. HTTP/1.1: 64 connections; h2c: 8 connections × 8 streams. "
  "CPU = user+system seconds of the proxy process(es) per 1,000 requests.")
P("")
P("| variant | h1 req/s | h1 rounds min–max | h1 vs nginx | h1 CPU s/1k req | CPU vs nginx | h2c req/s | h2c vs nginx | h2c CPU s/1k req | CPU vs nginx | failed |")
P("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
agg = {}
for v in variants:
    for proto in ("h1", "h2c"):
        rs = sel("h2load", variant=v, proto=proto)
        agg[(v, proto)] = (med([r["rps"] for r in rs]), med([r["cpu_per_1k"] for r in rs]),
                           sum(max(r["failed"], 0) + max(r.get("non2xx", 0), 0) for r in rs))
        agg[(v, proto, "range")] = (min([r["rps"] for r in rs], default=None), max([r["rps"] for r in rs], default=None))
for v in variants:
    h1, h1c, f1 = agg[(v, "h1")]
    h2, h2cpu, f2 = agg[(v, "h2c")]
    nb1, nb1c, _ = agg[("b", "h1")]
    nb2, nb2c, _ = agg[("b", "h2c")]
    lo, hi = agg[(v, "h1", "range")]
    cpu_vs = lambda x, y: pct(ratio(x, y)) if v not in ("a", "b") else ("100%" if v == "b" else "—")
    P(f"| {vname(v)} | {fmt(h1)} | {fmt(lo)}–{fmt(hi)} | {pct(ratio(h1, nb1)) if v != 'b' else '100%'} | {fmt(h1c, 3)} | "
      f"{cpu_vs(h1c, nb1c)} | {fmt(h2)} | {pct(ratio(h2, nb2)) if v != 'b' else '100%'} | {fmt(h2cpu, 3)} | "
      f"{cpu_vs(h2cpu, nb2c)} | {f1 + f2} |")
if not c_run:
    P(f"| {vname('c')} | = (d) until auth/ratelimit/billing exist | | | | | | | | | |")
P("")

# ---- open loop -----------------------------------------------------------------------------
def open_stats(load):
    res = {}
    for v in variants:
        rs = sel("open", variant=v, load=load)
        res[v] = rs
    return res


def added(load, v, key, field="latency_us"):
    diffs = []
    for r in sel("open", variant=v, load=load):
        base = sel("open", variant="a", load=load, round=r["round"])
        if base and r["result"].get(field) and base[0]["result"].get(field):
            diffs.append(r["result"][field][key] - base[0]["result"][field][key])
    return med(diffs)


PK = ["p50", "p90", "p99", "p999"]
for load, title in (("rate2000", "2,000 req/s"), ("rate5000", "5,000 req/s")):
    P(f"#### Latency: open loop at {title} (bench/openloop, HTTP/1.1, 64 connections)")
    P("")
    P("Latency from each request's due time to the end of its response (µs), so queueing is counted. "
      "Added = this variant minus direct, per round, median over rounds.")
    P("")
    P("| variant | p50 | p90 | p99 | p99.9 | added p50 | added p90 | added p99 | added p99.9 | CPU s/1k req | errors |")
    P("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for v in variants:
        rs = sel("open", variant=v, load=load)
        lat = {k: med([r["result"].get("latency_us", {}).get(k) for r in rs]) for k in PK}
        errs = sum(r["result"].get("errors", 0) + r["result"].get("bad_status", 0) + r["result"].get("unanswered", 0)
                   for r in rs)
        ad = {k: (added(load, v, k) if v != "a" else None) for k in PK}
        P(f"| {vname(v)} | " + " | ".join(fmt(lat[k], 0) for k in PK) + " | "
          + " | ".join(fmt(ad[k], 0) for k in PK)
          + f" | {fmt(med([r['cpu_per_1k'] for r in rs]), 3)} | {errs} |")
    P("")

P("#### Parsing cost: 100 KB prompt body, open loop at 100 req/s")
P("")
P("| variant | p50 µs | p90 µs | p99 µs | added p50 | added p90 | added p99 | errors |")
P("|---|---:|---:|---:|---:|---:|---:|---:|")
for v in variants:
    rs = sel("open", variant=v, load="body100k")
    lat = {k: med([r["result"].get("latency_us", {}).get(k) for r in rs]) for k in PK}
    errs = sum(r["result"].get("errors", 0) + r["result"].get("bad_status", 0) + r["result"].get("unanswered", 0)
               for r in rs)
    P(f"| {vname(v)} | {fmt(lat['p50'])} | {fmt(lat['p90'])} | {fmt(lat['p99'])} | "
      + " | ".join(fmt(added('body100k', v, k) if v != 'a' else None) for k in ("p50", "p90", "p99"))
      + f" | {errs} |")
P("")

# ---- memory --------------------------------------------------------------------------------
P("#### Memory")
P("")
P("Idle RSS: after start and one request. Peak RSS: VmHWM after the round's loads. nginx: master + workers summed.")
P("")
P("| variant | idle RSS MB | vs nginx | peak RSS MB | vs nginx |")
P("|---|---:|---:|---:|---:|")
mem_agg = {}
for v in proxies:
    idle = med([r["rss_kb"] for r in sel("idle", variant=v)])
    peak = med([r["hwm_kb"] for r in sel("peak", variant=v)])
    mem_agg[v] = (idle, peak)
for v in proxies:
    idle, peak = mem_agg[v]
    P(f"| {vname(v)} | {fmt(idle / 1024 if idle else None, 1)} | {pct(ratio(idle, mem_agg['b'][0]))} | "
      f"{fmt(peak / 1024 if peak else None, 1)} | {pct(ratio(peak, mem_agg['b'][1]))} |")
P("")

# ---- streams --------------------------------------------------------------------------------
P(f"#### Many long streams: {meta.get('streams')} concurrent streamed chats, {meta.get('stream_tokens')} tokens "
  f"each at {meta.get('token_rate'):g} tokens/s")
P("")
P("Each stream on its own connection, started evenly over the ramp, all open at once for several seconds. "
  "Memory per stream = (peak RSS − idle RSS) / peak open streams. CPU per 1k tokens = proxy CPU seconds / "
  "(tokens the simulator sent / 1000). TTFT = from writing the request to the first body byte (the first "
  "token); \"from due\" also counts the wait to connect, which grows when the machine is short of CPU.")
P("")
P("| variant | streams ok | peak open | idle RSS MB | peak RSS MB | KB / stream | vs nginx | CPU s / 1k tokens | vs nginx | TTFT p50 ms | TTFT p99 ms | added TTFT p50 ms | added p99 ms | TTFT from due p50 ms |")
P("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
st = {r["variant"]: r for r in sel("streams")}
per_stream, cpu_tok = {}, {}
for v in variants:
    r = st.get(v)
    if not r:
        continue
    res = r["result"]
    mo = res.get("max_open") or 0
    if v != "a" and mo:
        per_stream[v] = (r["peak_kb"] - r["idle_kb"]) / mo
        cpu_tok[v] = r["cpu_s"] / (r["tokens"] / 1000) if r["tokens"] else None
    t = res.get("ttfb_sent_us", {})
    ta = st.get("a", {}).get("result", {}).get("ttfb_sent_us", {})
    tdue = res.get("ttfb_us", {})
    add50 = (t.get("p50") - ta.get("p50")) / 1000 if v != "a" and t.get("p50") is not None and ta.get("p50") is not None else None
    add99 = (t.get("p99") - ta.get("p99")) / 1000 if v != "a" and t.get("p99") is not None and ta.get("p99") is not None else None
    P(f"| {vname(v)} | {res.get('ok', 0)}/{res.get('streams', 0)} | {mo} | "
      f"{fmt(r['idle_kb'] / 1024, 1) if v != 'a' else '—'} | {fmt(r['peak_kb'] / 1024, 1) if v != 'a' else '—'} | "
      f"{fmt(per_stream.get(v), 1)} | {pct(ratio(per_stream.get(v), per_stream.get('b'))) if v not in ('a', 'b') else '—'} | "
      f"{fmt(cpu_tok.get(v), 4)} | {pct(ratio(cpu_tok.get(v), cpu_tok.get('b'))) if v not in ('a', 'b') else '—'} | "
      f"{fmt(t.get('p50', 0) / 1000, 2)} | {fmt(t.get('p99', 0) / 1000, 2)} | {fmt(add50, 2)} | {fmt(add99, 2)} | "
      f"{fmt(tdue.get('p50', 0) / 1000, 2)} |")
P("")

# ---- targets --------------------------------------------------------------------------------
P(f"#### Targets (judged on {vname(gw)})")
P("")
P("| target | measured | verdict |")
P("|---|---|---|")


def verdict(ok, miss):
    if ok is None:
        return "not measured"
    return "met" if ok else f"**missed** ({miss})"


r_h1 = ratio(agg[(gw, "h1")][0], agg[("b", "h1")][0])
r_h2 = ratio(agg[(gw, "h2c")][0], agg[("b", "h2c")][0])
c_h1 = ratio(agg[("b", "h1")][1], agg[(gw, "h1")][1])
c_h2 = ratio(agg[("b", "h2c")][1], agg[(gw, "h2c")][1])
P(f"| req/s ≥ 90% of nginx (h1; h2c shown too) | h1 {pct(r_h1)}, h2c {pct(r_h2)} (by CPU per request, steadier on "
  f"a busy machine: h1 {pct(c_h1)}, h2c {pct(c_h2)}) | "
  f"{verdict(None if r_h1 is None else r_h1 >= 0.9, f'{100 * (0.9 - (r_h1 or 0)):.0f} points short on h1')} |")
a50, a99 = added("rate5000", gw, "p50"), added("rate5000", gw, "p99")
P(f"| added latency at 5,000 req/s: p50 ≤ 100 µs | {fmt(a50)} µs | "
  f"{verdict(None if a50 is None else a50 <= 100, f'{(a50 or 0) - 100:.0f} µs over')} |")
P(f"| added latency at 5,000 req/s: p99 ≤ 500 µs | {fmt(a99)} µs | "
  f"{verdict(None if a99 is None else a99 <= 500, f'{(a99 or 0) - 500:.0f} µs over')} |")
idle = mem_agg.get(gw, (None, None))[0]
P(f"| idle memory ≤ 20 MB | {fmt(idle / 1024 if idle else None, 1)} MB | "
  f"{verdict(None if idle is None else idle <= 20 * 1024, f'{(idle or 0) / 1024 - 20:.1f} MB over')} |")
ps = per_stream.get(gw)
P(f"| ≤ 16 KB per open stream | {fmt(ps, 1)} KB | {verdict(None if ps is None else ps <= 16, f'{(ps or 0) - 16:.1f} KB over')} |")
b50 = added("body100k", gw, "p50")
P(f"| 100 KB body adds ≤ 200 µs (p50) | {fmt(b50)} µs | {verdict(None if b50 is None else b50 <= 200, f'{(b50 or 0) - 200:.0f} µs over')} |")
dp99 = [r["result"].get("latency_us", {}).get("p99") for r in sel("open", variant="a", load="rate5000")]
dp50 = [r["result"].get("latency_us", {}).get("p50") for r in sel("open", variant="a", load="rate5000")]
dp99 = [x for x in dp99 if x]
dp50 = [x for x in dp50 if x]
if dp99:
    P("")
    P(f"How much to trust the latency verdicts: in this run the *direct* path alone had a p50 of "
      f"{fmt(min(dp50))}–{fmt(max(dp50))} µs and a p99 of {fmt(min(dp99))}–{fmt(max(dp99))} µs across the rounds at "
      "5,000 req/s. An added latency smaller than that spread is within the noise of this machine.")
P("")

# ---- profile ----------------------------------------------------------------------------------
prof = os.path.join(WORK, "profile")


def readf(name):
    p = os.path.join(prof, name)
    return open(p).read() if os.path.exists(p) else ""


P("#### Profile (latest run)")
P("")
dso, syms = readf("perf-dso.txt"), readf("perf-symbols.txt")
if dso:
    P(f"`perf record -e cpu-clock` on {vname(gw)} under h2load (HTTP/1.1, 64 connections); "
      "share of the gateway's CPU samples (no hardware counters in this VM, so cpu-clock sampling):")
    P("")
    P("```")
    P(dso.rstrip())
    P("")
    P("\n".join(re.sub(r"(\s+-)+\s*$", "", l) for l in syms.rstrip().splitlines()[:30]))
    P("```")
    P("")


def requests_in(name):
    m = re.search(r"status codes: (\d+) 2xx", readf(name))
    return int(m.group(1)) if m else 0


sc = {}
for v in ("b", gw):
    txt = readf(f"strace-{v}.txt")
    n = requests_in(f"h2load-strace-{v}.txt")
    if not txt or not n:
        continue
    rows = {}
    for line in txt.splitlines():
        f = line.split()
        if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[-1] != "total":
            calls = int(f[3])
            errors = int(f[4]) if len(f) == 6 else 0
            rows[f[-1]] = (calls, errors)
    sc[v] = (n, rows)
if sc:
    P("System calls per request (strace -c -f over 20,000 HTTP/1.1 requests; errors in brackets):")
    P("")
    names = sorted({k for _, rows in sc.values() for k, (c, e) in rows.items() if c / max(1, _) >= 0.05},
                   key=lambda k: -max(sc[v][1].get(k, (0, 0))[0] / sc[v][0] for v in sc))
    P("| syscall | " + " | ".join(vname(v) for v in sc) + " |")
    P("|---|" + "---:|" * len(sc))
    for k in names:
        cells = []
        for v in sc:
            n, rows = sc[v]
            c, e = rows.get(k, (0, 0))
            cells.append(f"{c / n:.2f}" + (f" ({e / n:.2f})" if e else ""))
        P(f"| {k} | " + " | ".join(cells) + " |")
    P("| **total** | " + " | ".join(f"**{sum(c for c, _ in rows.values()) / n:.2f}**" for n, rows in sc.values()) + " |")
    P("")

cg_self, cg_callers = readf("callgrind-self.txt"), readf("callgrind-callers.txt")
ncg = requests_in("h2load-callgrind.txt")
if cg_self and ncg:
    m = re.search(r"([\d,]+) \([\d.]+%\)\s+PROGRAM TOTALS", cg_self)
    total = int(m.group(1).replace(",", "")) if m else 0
    P(f"callgrind (user space only, {ncg} requests over HTTP/1.1): **{total / ncg:,.0f} instructions per request**. "
      "Top functions by own instructions:")
    P("")
    P("| instructions / request | share | function |")
    P("|---:|---:|---|")
    shown = 0
    for line in cg_self.splitlines():
        mm = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.+)$", line)
        if not mm or "PROGRAM TOTALS" in line:
            continue
        ir = int(mm.group(1).replace(",", ""))
        if total and ir >= 0.98 * total:
            continue  # frames on the stack when counting started (thread start, worker_main)
        fn = mm.group(3)
        fn = re.sub(r"^\S*?:(?=[^:]+ \[)", "", fn)  # drop source paths
        fn = re.sub(r"\[/(?:usr/lib/x86_64-linux-gnu|work/main/build)/?", "[", fn)
        P(f"| {ir / ncg:,.0f} | {float(mm.group(2)):.1f}% | `{fn}` |")
        shown += 1
        if shown == 20:
            break
    P("")
    # calls of the allocator per request, by caller
    blocks = cg_callers.split("\n\n")
    alloc = []
    for b in blocks:
        lines = b.strip().splitlines()
        star = [l for l in lines if re.search(r"\*\s+\S*malloc\.c:(malloc|free|realloc|calloc) ", l)]
        if not star:
            continue
        fn = re.search(r"malloc\.c:(\w+)", star[0]).group(1)
        for l in lines:
            mm = re.search(r"<\s+(\S+) \(([\d,]+)x\)", l)
            if mm:
                caller = mm.group(1).split(":")[-1]
                if caller in ("malloc", "free", "realloc", "calloc"):
                    continue  # realloc(NULL, n) calling malloc: counted once, as realloc
                alloc.append((fn, caller, int(mm.group(2).replace(",", "")) / ncg))
    if alloc:
        P("Allocator calls per request (callgrind call counts, callers with ≥ 0.5 per request):")
        P("")
        P("| call | caller | per request |")
        P("|---|---|---:|")
        for fn, caller, n in sorted(alloc, key=lambda x: -x[2]):
            if n >= 0.5:
                P(f"| {fn} | `{caller}` | {n:.2f} |")
        P("")

# ---- commands and configs ----------------------------------------------------------------------
P("#### Exact commands")
P("")
P("`bash bench/run.sh` ran these (ports are free ones picked at run time; WORK is a temporary directory):")
P("")
P("```sh")
for line in open(os.path.join(WORK, "commands.txt")):
    P(line.rstrip().replace(WORK, "WORK"))
P("```")
P("")
for name, title in (("gateway-d.yaml", "(d) gateway configuration"), ("gateway-c.yaml", "(c) gateway configuration"),
                    ("nginx.conf", "(b) nginx configuration")):
    p = os.path.join(WORK, name)
    if os.path.exists(p):
        P(f"<details><summary>{title}</summary>")
        P("")
        P("```")
        P(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", re.sub(r"localhost:\d+", "localhost:PORT", open(p).read().replace(WORK, "WORK"))).rstrip())
        P("```")
        P("")
        P("</details>")
        P("")

text = "\n".join(out)
print(text)

if README:
    begin, endm = "<!-- results:begin -->", "<!-- results:end -->"
    body = open(README).read() if os.path.exists(README) else "# Benchmarks\n\n"
    block = f"{begin}\n<!-- written by bench/run.sh; do not edit by hand -->\n\n{text}\n{endm}"
    if begin in body and endm in body:
        body = body[:body.index(begin)] + block + body[body.index(endm) + len(endm):]
    else:
        body = body.rstrip() + "\n\n### Latest results\n\n" + block + "\n"
    open(README, "w").write(body)
    print(f"\n[bench] results written into {README}", file=sys.stderr)
