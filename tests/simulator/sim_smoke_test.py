#!/usr/bin/env python3
"""Smoke test for ig-sim: response shapes, stream event sequences, errors, fault modes, stats.

usage: sim_smoke_test.py PATH/TO/ig-sim
Only the Python standard library is used.  Exits 0 when every check passes.
"""
import base64
import hashlib
import http.client
import json
import signal
import socket
import struct
import subprocess
import sys
import time

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


class Sim:
    def __init__(self, binary, *args):
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--quiet", *args],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ig-sim listening on 127.0.0.1:"):
            raise SystemExit("unexpected first line: %r" % line)
        self.port = int(line.rsplit(":", 1)[1])

    def conn(self, timeout=5):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, timeout=5):
        c = self.conn(timeout)
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        c.request(method, path, body=data, headers={"content-type": "application/json"})
        r = c.getresponse()
        raw = r.read()
        c.close()
        return r.status, r.getheader("content-type"), raw

    def json(self, method, path, body=None):
        status, _, raw = self.request(method, path, body)
        return status, json.loads(raw) if raw else None

    def stats(self):
        return self.json("GET", "/sim/stats")[1]

    def fault(self, **kw):
        status, body = self.json("POST", "/sim/fault", kw)
        assert status == 200, body
        return body

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(5)
        check(rc == 0, "exit status on SIGTERM is 0 (got %r)" % rc)


def wait_for(cond, timeout=5.0, refused_ok=False):
    """Polls cond() until it is true or the timeout passes; returns the last result."""
    deadline = time.time() + timeout
    while True:
        try:
            if cond():
                return True
        except ConnectionRefusedError:
            if not refused_ok:
                raise
        if time.time() >= deadline:
            return False
        time.sleep(0.05)


def sse_events(raw):
    text = raw.decode()
    check(text.endswith("\n\n"), "stream ends with a blank line")
    events = [e for e in text.split("\n\n") if e]
    for e in events:
        check(e.startswith("data: "), "every event is a data: line (%r)" % e[:40])
    return [e[len("data: "):] for e in events]


CHAT = {"model": "m", "messages": [{"role": "system", "content": "be brief"},
                                    {"role": "user", "content": [{"type": "text", "text": "hello  there\nworld"}]}]}


def test_basic(sim):
    status, ctype, raw = sim.request("GET", "/health")
    check(status == 200 and raw == b"", "/health is 200 with an empty body")

    status, models = sim.json("GET", "/v1/models")
    check(status == 200 and models["object"] == "list", "/v1/models list")
    ids = [m["id"] for m in models["data"]]
    check(ids == ["base", "alias", "sql"], "/v1/models ids %r" % ids)
    lora = models["data"][2]
    check(lora["parent"] == "base" and lora["root"] == "/adapters/sql", "LoRA card parent/root")
    card = models["data"][0]
    check(set(card) == {"id", "object", "created", "owned_by", "root", "parent", "max_model_len", "permission"},
          "model card keys")
    check(card["owned_by"] == "vllm" and card["max_model_len"] == 4096 and card["parent"] is None, "model card values")

    status, ctype, raw = sim.request("GET", "/metrics")
    text = raw.decode()
    for name in ("vllm:num_requests_running{model_name=\"base\"}", "vllm:num_requests_waiting{model_name=\"base\"}",
                 "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:gpu_cache_usage_perc"):
        check(name in text, "/metrics has " + name)

    status, _, raw = sim.request("GET", "/nope")
    check(status == 404 and json.loads(raw) == {"detail": "Not Found"}, "unknown path 404 detail")
    status, _, raw = sim.request("GET", "/v1/chat/completions")
    check(status == 405, "GET on a POST route is 405")


def test_chat(sim):
    body = dict(CHAT, model="alias", max_tokens=5)
    status, r = sim.json("POST", "/v1/chat/completions", body)
    check(status == 200, "chat 200")
    check(list(r) == ["id", "object", "created", "model", "choices", "usage", "prompt_logprobs"], "chat keys %r" % list(r))
    check(r["id"].startswith("chatcmpl-") and len(r["id"]) == 9 + 32, "chat id")
    check(r["object"] == "chat.completion" and r["model"] == "alias", "chat object/model echo")
    ch = r["choices"][0]
    check(ch["message"] == {"role": "assistant", "content": "tok1 tok2 tok3 tok4 tok5 ", "tool_calls": []}, "chat message")
    check(ch["finish_reason"] == "length" and ch["stop_reason"] is None and ch["logprobs"] is None, "chat finish")
    # prompt: 2 + 3 words, plus 4 per message
    check(r["usage"] == {"prompt_tokens": 13, "total_tokens": 18, "completion_tokens": 5, "prompt_tokens_details": None},
          "chat usage %r" % r["usage"])

    status, r = sim.json("POST", "/v1/chat/completions", dict(CHAT, model="base"))
    check(r["usage"]["completion_tokens"] == 7 and r["choices"][0]["finish_reason"] == "stop", "default tokens, stop")
    status, r = sim.json("POST", "/v1/chat/completions", dict(CHAT, model="sql", max_completion_tokens=2, max_tokens=9))
    check(r["usage"]["completion_tokens"] == 2, "max_completion_tokens wins")

    status, r = sim.json("POST", "/v1/completions", {"model": "base", "prompt": "one two three", "max_tokens": 3})
    check(status == 200 and r["object"] == "text_completion" and r["id"].startswith("cmpl-"), "completion object")
    check(r["choices"][0]["text"] == "tok1 tok2 tok3 " and r["choices"][0]["finish_reason"] == "length", "completion text")
    check(r["usage"]["prompt_tokens"] == 3, "completion prompt tokens")
    status, r = sim.json("POST", "/v1/completions", {"model": "base", "prompt": [[1, 2, 3, 4], [5]], "max_tokens": 1})
    check(status == 200 and r["usage"]["prompt_tokens"] == 5, "token-id prompts")


def test_streams(sim):
    # without include_usage
    status, ctype, raw = sim.request("POST", "/v1/chat/completions", dict(CHAT, model="base", max_tokens=3, stream=True))
    check(status == 200 and ctype.startswith("text/event-stream"), "stream content type")
    ev = sse_events(raw)
    check(len(ev) == 5 and ev[-1] == "[DONE]", "chat stream: role + 3 tokens + [DONE] (%d events)" % len(ev))
    chunks = [json.loads(e) for e in ev[:-1]]
    check(all("usage" not in c for c in chunks), "no usage key without include_usage")
    check(chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}, "first chunk carries the role")
    check([c["choices"][0]["delta"].get("content") for c in chunks[1:]] == ["tok1 ", "tok2 ", "tok3 "], "token deltas")
    check([c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, "length"], "finish on last chunk")
    check(len({c["id"] for c in chunks}) == 1 and all(c["object"] == "chat.completion.chunk" for c in chunks), "chunk ids")

    # with include_usage
    body = dict(CHAT, model="base", max_tokens=2, stream=True, stream_options={"include_usage": True})
    ev = sse_events(sim.request("POST", "/v1/chat/completions", body)[2])
    check(len(ev) == 5 and ev[-1] == "[DONE]", "include_usage: role + 2 tokens + usage + [DONE]")
    chunks = [json.loads(e) for e in ev[:-1]]
    check(all(c["usage"] is None for c in chunks[:-1]), "usage null on every other chunk")
    check(chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {"prompt_tokens": 13, "total_tokens": 15,
                                                                  "completion_tokens": 2}, "final usage chunk")

    # completions stream
    body = {"model": "base", "prompt": "a b", "max_tokens": 2, "stream": True, "stream_options": {"include_usage": True}}
    ev = sse_events(sim.request("POST", "/v1/completions", body)[2])
    chunks = [json.loads(e) for e in ev[:-1]]
    check([c["choices"][0]["text"] for c in chunks[:-1]] == ["tok1 ", "tok2 "], "completion stream texts")
    check(chunks[-1]["usage"]["prompt_tokens"] == 2 and ev[-1] == "[DONE]", "completion stream usage")

    # stream_options without stream is refused, as vLLM does
    status, _, _ = sim.request("POST", "/v1/chat/completions", dict(CHAT, stream_options={"include_usage": True}))
    check(status == 400, "stream_options without stream is 400")


def test_embeddings(sim):
    status, r = sim.json("POST", "/v1/embeddings", {"model": "base", "input": ["hello world", "x"]})
    check(status == 200 and r["object"] == "list" and len(r["data"]) == 2, "embeddings list")
    check(r["data"][1]["index"] == 1 and r["data"][0]["object"] == "embedding", "embedding items")
    check(all(len(d["embedding"]) == 4 for d in r["data"]), "embedding dim")
    check(r["usage"]["prompt_tokens"] == 3 and r["usage"]["total_tokens"] == 3, "embedding usage")
    again = sim.json("POST", "/v1/embeddings", {"model": "base", "input": "hello world"})[1]
    check(again["data"][0]["embedding"] == r["data"][0]["embedding"], "embeddings are deterministic")
    b64 = sim.json("POST", "/v1/embeddings", {"model": "base", "input": "hello world", "encoding_format": "base64"})[1]
    vec = struct.unpack("<4f", base64.b64decode(b64["data"][0]["embedding"]))
    check(all(abs(a - b) < 1e-6 for a, b in zip(vec, r["data"][0]["embedding"])), "base64 embeddings match floats")
    status, r = sim.json("POST", "/v1/embeddings", {"model": "base", "input": [1, 2, 3]})
    check(status == 200 and r["usage"]["prompt_tokens"] == 3, "token-id input")


def test_errors(sim):
    # vLLM >= 0.10.1's envelope (the default --error-format current)
    status, r = sim.json("POST", "/v1/chat/completions", dict(CHAT, model="gpt-4"))
    check(status == 404 and r == {"error": {"message": "The model `gpt-4` does not exist.",
                                            "type": "NotFoundError", "param": None, "code": 404}}, "unknown model 404 %r" % r)
    for body in (b"{", b"", b"[1]", b'{"model":"base"}', b'{"model":"base","messages":"x"}',
                 b'{"model":"base","messages":[{"role":"user","content":"x"}],"max_tokens":"many"}',
                 b'{"model":"base","messages":[{"role":"user","content":"x"}],"max_tokens":0}',
                 b'{"model":"base","messages":[{"role":"user","content":"x"}],"max_tokens":5000}',
                 b'{"model":"base","messages":[{"role":"user","content":"\\ud800 \\x"}]}'):
        status, _, raw = sim.request("POST", "/v1/chat/completions", body)
        r = json.loads(raw)["error"]
        check(status == 400 and r["type"] == "BadRequestError" and r["code"] == 400, "400 for %r" % body)
    status, _, _ = sim.request("POST", "/v1/embeddings", b'{"model":"base","input":[]}')
    check(status == 400, "empty embedding input is 400")


def raw_exchange(port, body, path="/v1/chat/completions", timeout=3):
    """Sends one request on a fresh socket; returns (bytes received, how it ended)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    req = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
           % (path, len(body))).encode() + body
    s.sendall(req)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data, "eof"
            data += chunk
    except socket.timeout:
        return data, "timeout"
    except ConnectionResetError:
        return data, "reset"
    finally:
        s.close()


def test_faults(sim):
    body = json.dumps(dict(CHAT, model="base", max_tokens=8)).encode()
    sbody = json.dumps(dict(CHAT, model="base", max_tokens=8, stream=True)).encode()

    sim.fault(mode="500")
    status, _, raw = sim.request("POST", "/v1/chat/completions", body)
    check(status == 500 and json.loads(raw)["error"]["type"] == "InternalServerError", "fault 500")
    check(sim.request("GET", "/health")[0] == 200, "health not affected by fault 500")

    sim.fault(mode="500", every=2)
    codes = [sim.request("POST", "/v1/chat/completions", body)[0] for _ in range(4)]
    check(codes == [200, 500, 200, 500], "fault every 2: %r" % codes)

    sim.fault(mode="close")
    data, how = raw_exchange(sim.port, body)
    check(data == b"" and how in ("eof", "reset"), "fault close: no bytes, connection closed")

    sim.fault(mode="hang")
    data, how = raw_exchange(sim.port, body, timeout=0.5)
    check(data == b"" and how == "timeout", "fault hang: no answer")
    check(wait_for(lambda: sim.stats()["active_requests"] == 0), "hung request released after the client left")

    sim.fault(mode="die-mid-stream")
    data, how = raw_exchange(sim.port, sbody)
    text = data.decode(errors="replace")
    check(how in ("eof", "reset") and "tok4 " in text and "tok5 " not in text and "[DONE]" not in text,
          "die-mid-stream stream: cut after half the tokens")
    data, how = raw_exchange(sim.port, body)
    head, _, payload = data.partition(b"\r\n\r\n")
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
    check(how in ("eof", "reset") and 0 < len(payload) < length, "die-mid-stream non-stream: half the body")

    sim.fault(mode="refuse", duration_ms=600)
    try:
        socket.create_connection(("127.0.0.1", sim.port), timeout=1).close()
        check(False, "refuse: connection refused")
    except ConnectionRefusedError:
        pass
    check(wait_for(lambda: sim.json("GET", "/sim/fault")[1]["mode"] == "none", refused_ok=True),
          "refuse with duration_ms clears itself")
    check(sim.request("GET", "/health")[0] == 200, "listening again after refuse")
    check(sim.json("GET", "/sim/fault")[1]["mode"] == "none", "fault back to none")

    sim.fault(mode="none")


def test_cancel(binary):
    sim = Sim(binary, "--token-rate", "20")
    try:
        before = sim.stats()["streams_cancelled"]
        s = socket.create_connection(("127.0.0.1", sim.port), timeout=3)
        body = json.dumps({"prompt": "x", "max_tokens": 1000, "stream": True}).encode()
        s.sendall(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)).encode() + body)
        got = b""
        while got.count(b"data: ") < 2:
            got += s.recv(4096)
        check(sim.stats()["active_streams"] == 1, "stream active")
        s.close()
        wait_for(lambda: sim.stats()["streams_cancelled"] != before)
        st = sim.stats()
        check(st["streams_cancelled"] == before + 1 and st["active_streams"] == 0, "client disconnect cancels: %r" % st)
        # pacing: at 20 tokens/s the 6th token is due 250 ms after the first (only the lower bound
        # is checked: timings must not make the test flaky on a busy machine)
        t0 = time.time()
        sim.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 6, "stream": True})
        dt = time.time() - t0
        check(dt >= 0.24, "token pacing (6 tokens at 20/s took %.3fs)" % dt)
    finally:
        sim.stop()


def test_prefix_cache(binary):
    """--prefix-cache-blocks: cached_tokens, vLLM's counters, LRU eviction, TTFT shortened by hits."""
    sim = Sim(binary, "--workers", "2", "--prefix-cache-blocks", "8", "--block-size", "4", "--ttft-ms", "1000",
              "--lora-modules", "sql")
    try:
        def chat(messages, model="m", **kw):
            status, r = sim.json("POST", "/v1/chat/completions", dict(model=model, messages=messages, max_tokens=1, **kw))
            check(status == 200, "prefix cache: chat 200")
            return r["usage"]

        system = {"role": "system", "content": "you are a terse assistant"}  # 5 words + 4 = 9 tokens
        turn1 = [system, {"role": "user", "content": "name three rivers"}]   # + 3 + 4 = 16 tokens
        u = chat(turn1)
        check(u["prompt_tokens"] == 16 and u["prompt_tokens_details"] == {"cached_tokens": 0},
              "first prompt misses: %r" % u)
        # again: only the full blocks within prompt_tokens - 1 = 15 tokens count: 3 blocks of 4
        u = chat(turn1)
        check(u["prompt_tokens_details"] == {"cached_tokens": 12}, "same prompt hits 12 of 16: %r" % u)
        # the next turn extends the prompt: the first turn's 4 full blocks (16 tokens) are cached
        turn2 = turn1 + [{"role": "assistant", "content": "tok1"}, {"role": "user", "content": "and two more"}]
        u = chat(turn2)
        check(u["prompt_tokens"] == 16 + 5 + 7 and u["prompt_tokens_details"]["cached_tokens"] == 16,
              "second turn reuses the first turn's blocks: %r" % u)
        u = chat(turn2)
        check(u["prompt_tokens_details"]["cached_tokens"] == 24, "second turn cached as a whole: %r" % u)
        # escapes are decoded: the same text spelled differently is the same prefix
        status, _, raw = sim.request("POST", "/v1/chat/completions",
                                     '{"model":"m","max_tokens":1,"messages":[{"role":"system","content":'
                                     '"you are a terse assistant"},{"role":"user","content":"name three '
                                     'rivers"}]}'.replace("terse", "t\\u0065rse"))
        check(status == 200 and json.loads(raw)["usage"]["prompt_tokens_details"]["cached_tokens"] == 12,
              "escaped text hits the same blocks: %r" % raw[-120:])
        # another model (a LoRA adapter) has its own blocks
        u = chat(turn1, model="sql")
        check(u["prompt_tokens_details"]["cached_tokens"] == 0, "the adapter does not share the base model's blocks")
        # completions: words and token ids are tokens too
        status, r = sim.json("POST", "/v1/completions", {"model": "m", "prompt": list(range(9)), "max_tokens": 1})
        status, r = sim.json("POST", "/v1/completions", {"model": "m", "prompt": list(range(9)), "max_tokens": 1})
        check(r["usage"]["prompt_tokens_details"] == {"cached_tokens": 8}, "token-id prompt hits: %r" % r["usage"])

        st = sim.stats()
        check(st["prefix_cache_blocks"] == 8, "the LRU is full at 8 blocks: %r" % st)
        check(st["prefix_cache_hits"] == 12 + 16 + 24 + 12 + 8, "hits counted in tokens: %r" % st)
        check(st["prefix_cache_queries"] == st["prompt_tokens"], "every prompt token is queried: %r" % st)
        text = sim.request("GET", "/metrics")[2].decode()
        check('vllm:prefix_cache_hits_total{model_name="ig-sim-model"} %d.0' % st["prefix_cache_hits"] in text,
              "/metrics has vllm:prefix_cache_hits_total")
        check('vllm:prefix_cache_queries_total{model_name="ig-sim-model"} %d.0' % st["prefix_cache_queries"] in text,
              "/metrics has vllm:prefix_cache_queries_total")
        # LRU: 8 blocks hold two 4-block prompts; two new ones evict turn2's
        chat([{"role": "user", "content": "alpha " * 12}])
        chat([{"role": "user", "content": "beta " * 12}])
        u = chat(turn2)
        check(u["prompt_tokens_details"]["cached_tokens"] == 0, "least recently used blocks are evicted: %r" % u)

        # TTFT: --ttft-ms for a miss, scaled by the uncached share for a hit: the delays the simulator
        # scheduled are its prefill_ms counter (exact); wall clock is checked as lower bounds only
        sim.json("POST", "/sim/reset-prefix-cache")
        sim.json("POST", "/sim/reset-stats")
        check(sim.stats()["prefix_cache_blocks"] == 0, "reset-prefix-cache empties the cache")
        long = [{"role": "user", "content": " ".join("w%d" % i for i in range(24))}]  # 28 tokens, 7 blocks
        body = dict(model="m", messages=long, max_tokens=1, stream=True, stream_options={"include_usage": True})
        t0 = time.time()
        ev = sse_events(sim.request("POST", "/v1/chat/completions", body)[2])
        miss = time.time() - t0
        check(json.loads(ev[-2])["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}, "stream usage: miss")
        check(sim.stats()["prefill_ms"] == 1000, "a miss is scheduled --ttft-ms late")
        t0 = time.time()
        ev = sse_events(sim.request("POST", "/v1/chat/completions", body)[2])
        hit = time.time() - t0
        check(json.loads(ev[-2])["usage"]["prompt_tokens_details"] == {"cached_tokens": 24}, "stream usage: hit")
        check(miss >= 0.99, "a miss waits --ttft-ms (%.3fs)" % miss)
        check(sim.stats()["prefill_ms"] == 1000 + 143, "a hit of 24 of 28 tokens is scheduled a seventh of it late")
        check(hit >= 0.14, "a hit waits its share (%.3fs)" % hit)
    finally:
        sim.stop()


def stream_chunks(sim, body, path="/v1/chat/completions"):
    ev = sse_events(sim.request("POST", path, body)[2])
    check(ev[-1] == "[DONE]", "stream ends with [DONE]: %r" % ev[-2:])
    return [json.loads(e) for e in ev[:-1]]


def test_engine_modes(binary):
    """Today's engines: vLLM's error envelopes and mid-stream errors, merged deltas, continuous usage
    ignored, the bounded running queue, a stall; Ollama's older behaviours."""
    sbody = dict(CHAT, model="m", max_tokens=8, stream=True)
    sim = Sim(binary)
    try:
        check(sim.json("GET", "/version")[1] == {"version": "0.10.1"}, "current vLLM version")
        # error-mid-stream: half the tokens, vLLM's error event (json.dumps spacing), then [DONE]
        ev = sse_events(sim.request("POST", "/v1/chat/completions", dict(sbody, sim_fault="error-mid-stream"))[2])
        check(ev[-2:] == ['{"error": {"message": "ig-sim: injected fault (error-mid-stream)", "type": '
                          '"InternalServerError", "param": null, "code": 500}}', "[DONE]"], "error event %r" % ev[-2:])
        check([json.loads(e)["choices"][0]["delta"].get("content") for e in ev[:-2]] == ["", "tok1 ", "tok2 ", "tok3 ", "tok4 "],
              "tokens before the error %r" % ev)
        st = sim.stats()
        check(st["streams_failed"] == 1 and st["completion_tokens"] == 4 and st["streams_finished"] == 0, "failed %r" % st)
        status, _, raw = sim.request("POST", "/v1/chat/completions", dict(CHAT, model="m", sim_fault="error-mid-stream"))
        check(status == 500 and json.loads(raw)["error"]["type"] == "InternalServerError", "non-streamed: a 500")
        # stall-mid-stream: half the tokens, then nothing until the client leaves
        sim.json("POST", "/sim/reset-stats")
        data, how = raw_exchange(sim.port, json.dumps(dict(sbody, sim_fault="stall-mid-stream")).encode(), timeout=0.5)
        text = data.decode(errors="replace")
        check(how == "timeout" and "tok4 " in text and "tok5 " not in text, "stall: %s %r" % (how, text[-200:]))
        check(wait_for(lambda: sim.stats()["streams_cancelled"] == 1), "a stalled stream its client left is cancelled")
        check(sim.stats()["active_streams"] == 0, "and released")
    finally:
        sim.stop()

    sim = Sim(binary, "--error-format", "vllm-0.6")
    try:
        check(sim.json("GET", "/version")[1] == {"version": "0.6.6"}, "vLLM 0.6 version")
        status, r = sim.json("POST", "/v1/chat/completions", dict(CHAT, model=7))
        check(status == 400 and r["object"] == "error" and r["type"] == "BadRequestError" and r["code"] == 400,
              "vLLM 0.6 flat envelope %r" % r)
        ev = sse_events(sim.request("POST", "/v1/chat/completions", dict(sbody, sim_fault="error-mid-stream"))[2])
        check(ev[-2:] == ['{"error": {"object": "error", "message": "ig-sim: injected fault (error-mid-stream)", '
                          '"type": "BadRequestError", "param": null, "code": 400}}', "[DONE]"], "0.6 error event %r" % ev[-2:])
    finally:
        sim.stop()

    # merged deltas: 3 tokens a chunk; continuous usage counts tokens, not chunks
    sim = Sim(binary, "--tokens-per-chunk", "3")
    try:
        body = dict(CHAT, model="m", max_tokens=7, stream=True,
                    stream_options={"include_usage": True, "continuous_usage_stats": True})
        chunks = stream_chunks(sim, body)
        check([c["choices"][0]["delta"]["content"] for c in chunks[:-1]] == ["", "tok1 tok2 tok3 ", "tok4 tok5 tok6 ", "tok7 "],
              "merged chunks %r" % chunks)
        check([c["usage"]["completion_tokens"] for c in chunks] == [0, 3, 6, 7, 7], "usage so far in tokens")
        st = sim.stats()
        check(st["chunks"] == 3 and st["completion_tokens"] == 7, "chunks counted %r" % st)
    finally:
        sim.stop()
    sim = Sim(binary, "--merge-deltas", "--ignore-continuous-usage")
    try:
        body = {"model": "m", "prompt": "a b", "max_tokens": 5, "stream": True,
                "stream_options": {"include_usage": True, "continuous_usage_stats": True}}
        chunks = stream_chunks(sim, body, "/v1/completions")
        check(len(chunks) == 2 and chunks[0]["choices"][0]["text"] == "tok1 tok2 tok3 tok4 tok5 ", "unpaced: one merged delta")
        check(chunks[0]["usage"] is None and chunks[1]["usage"]["completion_tokens"] == 5, "continuous usage ignored")
    finally:
        sim.stop()

    # --max-num-seqs 1: the second stream waits until the first ends; /metrics says so
    sim = Sim(binary, "--max-num-seqs", "1", "--token-rate", "50", "--ttft-ms", "20")
    try:
        def metric(name):
            text = sim.request("GET", "/metrics")[2].decode()
            return float([l for l in text.split("\n") if l.startswith(name + "{")][0].split()[-1])
        a = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
        body = json.dumps({"model": "m", "prompt": "x", "max_tokens": 4000, "stream": True}).encode()
        a.sendall(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)).encode() + body)
        check(wait_for(lambda: sim.stats()["completion_tokens"] > 0), "the first stream runs")
        c = sim.conn(timeout=10)
        c.request("POST", "/v1/completions", body=json.dumps({"model": "m", "prompt": "y", "max_tokens": 2, "stream": True}))
        check(wait_for(lambda: sim.stats()["waiting"] == 1), "the second waits")
        check(metric("vllm:num_requests_waiting") == 1 and metric("vllm:num_requests_running") == 1, "/metrics queue")
        check(sim.stats()["queued"] == 1, "queued")
        a.close()  # the first leaves: the second runs
        r = c.getresponse()
        check(r.status == 200, "the waiter answers")
        ev = sse_events(r.read())
        check(ev[-1] == "[DONE]" and len(ev) == 3, "the waiter ran once the first left: %r" % ev)
        st = sim.stats()
        check(st["streams_cancelled"] == 1 and st["streams_finished"] == 1 and st["waiting"] == 0, "queue %r" % st)
        check(st["prefill_ms"] == 40, "each TTFT counted from the moment it ran")
    finally:
        sim.stop()

    # Ollama before 0.5.2 ignores stream_options; before ollama/ollama#5371 a cached prompt is uncounted
    sim = Sim(binary, "--api", "ollama", "--ignore-stream-options", "--cached-prompt-uncounted")
    try:
        body = {"model": "llama3", "messages": [{"role": "user", "content": "one two"}], "max_tokens": 2, "stream": True,
                "stream_options": {"include_usage": True}}
        chunks = stream_chunks(sim, body)
        check(all("usage" not in c for c in chunks) and len(chunks) == 3, "no usage chunk %r" % chunks)
        plain = dict(body, stream=False)
        u1 = sim.json("POST", "/v1/chat/completions", plain)[1]["usage"]
        u2 = sim.json("POST", "/v1/chat/completions", plain)[1]["usage"]
        check(u1["prompt_tokens"] == 0 and u2["prompt_tokens"] == 0, "a repeated prompt counts 0: %r %r" % (u1, u2))
        longer = dict(plain, messages=plain["messages"] + [{"role": "user", "content": "three"}])
        u3 = sim.json("POST", "/v1/chat/completions", longer)[1]["usage"]
        check(u3["prompt_tokens"] == 5, "only the uncached tokens are counted: %r" % u3)
        native = sim.json("POST", "/api/chat", dict(longer, stream=False))[1]
        check("prompt_eval_count" not in native and native["eval_count"] == 16, "native: prompt_eval_count omitted %r" % native)
        st = sim.stats()
        check(st["prompt_tokens"] == 6 * 3 + 11 * 2 and st["prefix_cache_hits"] == 6 * 2 + 6 + 11, "hits %r" % st)
    finally:
        sim.stop()


def wav_bytes(seconds, rate=16000):
    data = b"\x01\x00" * int(seconds * rate)
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + fmt + b"data" + struct.pack("<I", len(data)) + data


def post_form(sim, path, fields, boundary="smokeB0undary"):
    body = b""
    for name, value in fields:
        if isinstance(value, tuple):  # (filename, bytes)
            body += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                     "Content-Type: audio/wav\r\n\r\n" % (boundary, name, value[0])).encode() + value[1] + b"\r\n"
        else:
            body += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, name, value)).encode()
    body += ("--%s--\r\n" % boundary).encode()
    c = sim.conn()
    c.request("POST", path, body=body, headers={"content-type": "multipart/form-data; boundary=%s" % boundary})
    r = c.getresponse()
    raw = r.read()
    c.close()
    return r.status, r.getheader("content-type"), raw


def test_whisper(binary):
    """--api fasterwhisper: faster-whisper-server's shapes; vLLM mode's audio endpoints."""
    audio = wav_bytes(5)  # 3 segments of 2 s, 10 words
    sim = Sim(binary, "--api", "fasterwhisper", "--served-model-name", "Systran/faster-whisper-small")
    try:
        status, ctype, raw = sim.request("GET", "/health")
        check(status == 200 and raw == b"OK", "fasterwhisper /health is OK")
        status, models = sim.json("GET", "/v1/models")
        check(models["object"] == "list" and set(models["data"][0]) == {"id", "created", "object", "owned_by", "language"},
              "fasterwhisper /v1/models card %r" % models)
        path = "/v1/audio/transcriptions"
        f = ("file", ("a.wav", audio))
        status, ctype, raw = post_form(sim, path, [f])
        check(status == 200 and json.loads(raw) == {"text": " ".join("word%d" % k for k in range(1, 11))}, "json %r" % raw)
        status, ctype, raw = post_form(sim, path, [f, ("response_format", "verbose_json"), ("timestamp_granularities[]", "word")])
        v = json.loads(raw)
        check(set(v) == {"task", "language", "duration", "text", "words", "segments"} and v["duration"] == 5
              and len(v["segments"]) == 3 and len(v["words"]) == 10 and v["segments"][2]["end"] == 5, "verbose_json %r" % v)
        status, ctype, raw = post_form(sim, path, [f, ("response_format", "srt")])
        check(ctype.startswith("text/plain") and raw.startswith(b"1\n00:00:00,000 --> 00:00:02,000\n word1 word2 word3 word4\n\n2\n"),
              "srt %r" % raw[:80])
        status, ctype, raw = post_form(sim, path, [f, ("response_format", "vtt")])
        check(ctype.startswith("text/vtt") and raw.startswith(b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n"), "vtt %r" % raw[:60])
        status, ctype, raw = post_form(sim, "/v1/audio/translations", [f, ("response_format", "text")])
        check(ctype.startswith("text/plain") and raw.startswith(b"translated1 translated2"), "translation text %r" % raw[:40])
        status, ctype, raw = post_form(sim, path, [f, ("stream", "true")])
        events = [json.loads(e) for e in sse_events(raw)]
        check(ctype.startswith("text/event-stream") and [e["text"] for e in events] ==
              [" word1 word2 word3 word4", " word5 word6 word7 word8", " word9 word10"], "stream %r" % events)
        status, _, raw = post_form(sim, path, [("model", "Systran/faster-whisper-small")])
        check(status == 422 and json.loads(raw)["detail"][0]["loc"] == ["body", "file"], "missing file 422 %r" % raw)
        status, _, raw = post_form(sim, path, [f, ("response_format", "mp3")])
        check(status == 422, "unknown response_format 422")
        status, audio_log = sim.json("GET", "/sim/audio")
        check(audio_log["last"]["bytes"] == len(audio) and
              audio_log["last"]["sha256"] == hashlib.sha256(audio).hexdigest(), "/sim/audio %r" % audio_log)
        check(sim.stats()["audio_ms"] == 5000 * 6, "audio_ms counted for the 6 accepted requests")
    finally:
        sim.stop()
    sim = Sim(binary, "--served-model-name", "openai/whisper-small")
    try:
        status, _, raw = post_form(sim, "/v1/audio/transcriptions", [("file", ("a.wav", wav_bytes(1.5)))])
        check(json.loads(raw) == {"text": "word1 word2 word3", "usage": {"type": "duration", "seconds": 2}}, "vLLM json %r" % raw)
        status, _, raw = post_form(sim, "/v1/audio/transcriptions", [("file", ("a.wav", wav_bytes(3))), ("stream", "true"),
                                                                      ("stream_include_usage", "true")])
        ev = sse_events(raw)
        chunks = [json.loads(e) for e in ev[:-1]]
        check(ev[-1] == "[DONE]" and chunks[0]["object"] == "transcription.chunk" and chunks[-1]["choices"] == []
              and chunks[-1]["usage"]["completion_tokens"] == 6, "vLLM stream %r" % ev)
        status, _, raw = post_form(sim, "/v1/audio/transcriptions", [("file", ("a.wav", wav_bytes(1))), ("model", "nope")])
        check(status == 404 and json.loads(raw)["error"]["type"] == "NotFoundError", "vLLM unknown model 404")
    finally:
        sim.stop()


def main():
    binary = sys.argv[1]
    sim = Sim(binary, "--workers", "2", "--served-model-name", "base,alias", "--lora-modules", "sql=/adapters/sql",
              "--default-tokens", "7", "--embedding-dim", "4")
    try:
        sim.json("POST", "/sim/reset-stats")
        test_basic(sim)
        test_chat(sim)
        test_streams(sim)
        test_embeddings(sim)
        test_errors(sim)
        test_faults(sim)
        st = sim.stats()
        check(st["streams_started"] >= 3 and st["streams_finished"] >= 3 and st["active_streams"] == 0, "stats %r" % st)
    finally:
        sim.stop()
    test_cancel(binary)
    test_engine_modes(binary)
    test_prefix_cache(binary)
    test_whisper(binary)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
