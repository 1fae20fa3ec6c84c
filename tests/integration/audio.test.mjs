// Audio transcriptions and translations (multipart/form-data) through the real gateway to ig-sim
// speaking faster-whisper-server (--api fasterwhisper) and vLLM: the official OpenAI SDK for every
// response_format, curl for the multipart edge cases, a raw socket for a boundary split across
// reads, byte-identical forwarding of a large upload (SHA-256 seen by the simulator), streams over
// h2c, and the audio seconds billed (the gateway's /metrics).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import OpenAI, { toFile } from 'openai';
import { startSim, startGateway, curl, assertOpenAIError, parseSSE, http, sleep, waitFor, wav, PLUGINS_DIR } from './harness.mjs';

const FW = 'whisper-small'; // FasterWhisper, served as the hf:// repo
const FW_REPO = 'Systran/faster-whisper-small';
const VL = 'whisper-vllm'; // vLLM, servedModelName below
const VL_SERVED = 'openai/whisper-small';
const CHAT = 'chat-model';
const MAX_BODY = 4 * 1024 * 1024;

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

/** A multipart/form-data body built by hand, so the edge cases are exact. */
function form(fields, boundary = 'igBoundary7MA4YWxkTrZu0gW') {
  const parts = [];
  for (const [name, v] of fields) {
    if (v && typeof v === 'object' && v.data) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${v.filename}"\r\n` +
        `Content-Type: audio/wav\r\n\r\n`), v.data, Buffer.from('\r\n'));
    } else {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${v}\r\n`));
    }
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('audio: transcriptions and translations', () => {
  let fwSim, vlSim, gw, client;
  const WAV = wav(1.5); // 3 words in one segment: "word1 word2 word3"

  const fwAudio = async () => (await fetch(`${fwSim.url}/sim/audio`)).json();
  const vlAudio = async () => (await fetch(`${vlSim.url}/sim/audio`)).json();
  /** infergate_audio_seconds_total for a model, summed over customers (0 when absent). */
  // Audio seconds billed to model so far. A request is accounted when h2o disposes of it, which can
  // come after the client read the whole answer: wait until none of the model's requests is in
  // flight, then read.
  async function billedSeconds(model) {
    let text = '';
    await waitFor(async () => {
      const r = await http(`${gw.url}/metrics`);
      assert.equal(r.status, 200, 'GET /metrics');
      text = r.text;
      return !text.split('\n').some((l) => l.startsWith('infergate_requests_in_flight{') && l.includes(`model="${model}"`) &&
        Number(l.split(' ').pop()) !== 0);
    }, { what: `no ${model} request in flight` });
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith('infergate_audio_seconds_total{') && line.includes(`model="${model}"`)) sum += Number(line.split(' ').pop());
    }
    return sum;
  }

  before(async () => {
    fwSim = await startSim({ models: [FW_REPO], args: ['--api', 'fasterwhisper'], name: 'ig-sim-fw' });
    vlSim = await startSim({ models: [VL_SERVED, CHAT], name: 'ig-sim-vllm' });
    gw = await startGateway({
      server: { maxBodySize: MAX_BODY },
      plugins: { dir: PLUGINS_DIR, load: ['vllm', 'fasterwhisper', 'leastload'] },
      models: [
        { name: FW, engine: 'FasterWhisper', url: `hf://${FW_REPO}`, features: ['SpeechToText'], endpoints: [fwSim.url] },
        { name: VL, engine: 'VLLM', servedModelName: VL_SERVED, features: ['SpeechToText'], endpoints: [vlSim.url] },
        { name: CHAT, engine: 'VLLM', features: ['TextGeneration'], endpoints: [vlSim.url] },
      ],
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-anything', maxRetries: 0, timeout: 30000 });
  });

  it('SDK transcription, json: the text, the served model name upstream, the audio forwarded intact', async () => {
    const r = await client.audio.transcriptions.create({ file: await toFile(WAV, 'hello.wav'), model: FW });
    assert.equal(r.text, 'word1 word2 word3');
    const a = await fwAudio();
    assert.equal(a.last.model, FW_REPO, 'the model part carries the repo faster-whisper-server loads');
    assert.equal(a.last.sha256, sha256(WAV), 'the engine received the exact bytes');
    assert.equal(a.last.filename, 'hello.wav');
    assert.equal(a.last.duration, 1.5);
  });

  it('SDK transcription, text / srt / vtt pass through with their content types', async () => {
    const text = await client.audio.transcriptions.create({ file: await toFile(WAV, 'a.wav'), model: FW, response_format: 'text' });
    assert.equal(String(text).trim(), 'word1 word2 word3');
    const srt = await client.audio.transcriptions.create({ file: await toFile(WAV, 'a.wav'), model: FW, response_format: 'srt' });
    assert.equal(String(srt), '1\n00:00:00,000 --> 00:00:01,500\n word1 word2 word3\n\n');
    const vtt = await client.audio.transcriptions.create({ file: await toFile(WAV, 'a.wav'), model: FW, response_format: 'vtt' });
    assert.equal(String(vtt), 'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n word1 word2 word3\n\n');
    const { body, contentType } = form([['file', { filename: 'a.wav', data: WAV }], ['model', FW], ['response_format', 'vtt']]);
    const r = await curl(`${gw.url}/v1/audio/transcriptions`, { body, headers: { 'content-type': contentType } });
    assert.equal(r.status, 200);
    assert.match(r.contentType, /^text\/vtt/);
  });

  it('SDK transcription, verbose_json: segments and duration; usage billed in audio seconds', async () => {
    const before = await billedSeconds(FW);
    const long = wav(5);
    const r = await client.audio.transcriptions.create({
      file: await toFile(long, 'long.wav'), model: FW, response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'],
    });
    assert.equal(r.task, 'transcribe');
    assert.equal(r.duration, 5);
    assert.equal(r.segments.length, 3, '2 s segments');
    assert.equal(r.segments[2].end, 5);
    assert.equal(r.words.length, 10, 'two words a second, word timestamps asked for');
    assert.equal(r.text.split(' ').length, 10);
    assert.equal((await fwAudio()).last.response_format, 'verbose_json');
    assert.equal(await billedSeconds(FW), before + 5, 'verbose_json duration billed');
  });

  it('SDK translation', async () => {
    const r = await client.audio.translations.create({ file: await toFile(WAV, 'fr.wav'), model: FW });
    assert.equal(r.text, 'translated1 translated2 translated3');
    const v = await client.audio.translations.create({ file: await toFile(WAV, 'fr.wav'), model: FW, response_format: 'verbose_json' });
    assert.equal(v.task, 'translate');
  });

  it('json and text answers are billed from the WAV header (1.5 s each)', async () => {
    const before = await billedSeconds(FW);
    await client.audio.transcriptions.create({ file: await toFile(WAV, 'a.wav'), model: FW });
    await client.audio.transcriptions.create({ file: await toFile(WAV, 'a.wav'), model: FW, response_format: 'text' });
    assert.equal(await billedSeconds(FW), before + 3);
  });

  it('vLLM Whisper: json with usage in whole seconds (what vLLM reports wins over the header)', async () => {
    const before = await billedSeconds(VL);
    const r = await client.audio.transcriptions.create({ file: await toFile(WAV, 'a.wav'), model: VL });
    assert.equal(r.text, 'word1 word2 word3');
    assert.deepEqual(r.usage, { type: 'duration', seconds: 2 });
    assert.equal((await vlAudio()).last.model, VL_SERVED);
    assert.equal(await billedSeconds(VL), before + 2);
    // the access log (JSON lines on stdout) carries the billed seconds too
    const logged = () => gw.stdout.split('\n').filter((l) => l.includes('"audio_seconds"')).map((l) => JSON.parse(l))
      .filter((r) => r.model === VL && r.path === '/v1/audio/transcriptions');
    const [rec] = await waitFor(() => (logged().length ? logged() : null), { what: 'an access-log record with audio_seconds' });
    assert.equal(rec.audio_seconds, 2);
    assert.equal(rec.status, 200);
    const t = await client.audio.translations.create({ file: await toFile(WAV, 'a.wav'), model: VL });
    assert.equal(t.text, 'translated1 translated2 translated3');
  });

  it('vLLM Whisper stream: transcription.chunk events with the client model name, [DONE]', async () => {
    const { body, contentType } = form([['file', { filename: 'a.wav', data: wav(3) }], ['model', VL], ['stream', 'true']]);
    const r = await curl(`${gw.url}/v1/audio/transcriptions`, { body, headers: { 'content-type': contentType } });
    assert.equal(r.status, 200, r.text);
    const s = parseSSE(r.text);
    assert.ok(s.done, 'ends with [DONE]');
    assert.equal(s.chunks.length, 2, 'one chunk per segment');
    for (const c of s.chunks) assert.equal(c.model, VL, 'model name given back');
    assert.equal(s.chunks.map((c) => c.choices[0].delta.content).join(''), ' word1 word2 word3 word4 word5 word6');
  });

  it('faster-whisper stream over h2c: one SSE event per segment, billed from the header', async () => {
    const before = await billedSeconds(FW);
    const { body, contentType } = form([['file', { filename: 'a.wav', data: wav(5) }], ['model', FW], ['stream', 'true']]);
    const r = await curl(`${gw.url}/v1/audio/transcriptions`, { mode: 'h2c', body, headers: { 'content-type': contentType } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.httpVersion, '2');
    assert.match(r.contentType, /^text\/event-stream/);
    const s = parseSSE(r.text);
    assert.deepEqual(s.chunks.map((c) => c.text), [' word1 word2 word3 word4', ' word5 word6 word7 word8', ' word9 word10']);
    assert.equal(await billedSeconds(FW), before + 5);
  });

  it('not a WAV: a streamed verbose_json is billed to its last segment end, a json answer is not billed', async () => {
    const raw = Buffer.alloc(96000, 7); // ig-sim reads a non-WAV file as 16 kHz 16-bit PCM: 3 s
    let before = await billedSeconds(FW);
    let { body, contentType } = form([['file', { filename: 'a.mp3', data: raw }], ['model', FW], ['stream', 'true'],
      ['response_format', 'verbose_json']]);
    let r = await curl(`${gw.url}/v1/audio/transcriptions`, { body, headers: { 'content-type': contentType } });
    assert.equal(r.status, 200, r.text);
    const s = parseSSE(r.text);
    assert.deepEqual(s.chunks.map((c) => c.segments[0].end), [2, 3]);
    assert.equal(await billedSeconds(FW), before + 3);
    before = await billedSeconds(FW);
    ({ body, contentType } = form([['file', { filename: 'a.mp3', data: raw }], ['model', FW]]));
    r = await curl(`${gw.url}/v1/audio/transcriptions`, { body, headers: { 'content-type': contentType } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.text, 'word1 word2 word3 word4 word5 word6');
    assert.equal(await billedSeconds(FW), before, 'duration unknown: nothing billed (documented in plugins/fasterwhisper/README.md)');
  });

  it('a large upload is forwarded byte-identical (h1 and h2c)', async () => {
    const big = wav(90, { noise: true }); // about 2.9 MB of random samples
    for (const mode of ['h1', 'h2c']) {
      const { body, contentType } = form([['model', FW], ['file', { filename: 'big.wav', data: big }], ['response_format', 'json']]);
      const r = await curl(`${gw.url}/v1/audio/transcriptions`, { mode, body, headers: { 'content-type': contentType } });
      assert.equal(r.status, 200, `${mode}: ${r.text.slice(0, 300)}`);
      const a = await fwAudio();
      assert.equal(a.last.bytes, big.length, mode);
      assert.equal(a.last.sha256, sha256(big), `${mode}: same bytes`);
    }
  });

  it('a boundary split across reads', async () => {
    const { body, contentType } = form([['file', { filename: 'a.wav', data: WAV }], ['model', FW], ['response_format', 'text']]);
    const cut = body.indexOf('--igBoundary', 100) + 7; // inside the second delimiter
    const head = `POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const answer = await new Promise((resolve, reject) => {
      const s = net.connect(gw.port, '127.0.0.1');
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('end', () => resolve(out));
      s.on('error', reject);
      s.write(Buffer.concat([Buffer.from(head), body.subarray(0, cut)]));
      sleep(100).then(() => s.write(body.subarray(cut)));
    });
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.match(answer, /word1 word2 word3/);
  });

  it('bad input: OpenAI-shaped 400s naming what is wrong', async () => {
    const url = `${gw.url}/v1/audio/transcriptions`;
    const send = (f, extra = {}) => {
      const { body, contentType } = form(f, extra.boundary);
      return curl(url, { body: extra.body ?? body, headers: { 'content-type': extra.contentType ?? contentType } });
    };
    let e = assertOpenAIError(await send([['model', FW]]), 400, { type: 'invalid_request_error', param: 'file' });
    assert.match(e.message, /file/);
    assertOpenAIError(await send([['file', { filename: 'a.wav', data: WAV }]]), 400, { param: 'model' });
    e = assertOpenAIError(await send([['file', { filename: 'a.wav', data: WAV }], ['model', FW], ['response_format', 'mp3']]), 400,
      { param: 'response_format' });
    assert.match(e.message, /json, text, srt, verbose_json, vtt/);
    e = assertOpenAIError(await curl(url, { body: { model: FW, file: 'x' } }), 400, { type: 'invalid_request_error' });
    assert.match(e.message, /multipart\/form-data/);
    e = assertOpenAIError(await send([['file', { filename: 'a.wav', data: WAV }], ['model', FW]], { contentType: 'multipart/form-data' }), 400);
    assert.match(e.message, /boundary/);
    const { body } = form([['file', { filename: 'a.wav', data: WAV }], ['model', FW]]);
    e = assertOpenAIError(await send([], { body: body.subarray(0, body.length - 40) }), 400);
    assert.match(e.message, /malformed multipart/);
    assertOpenAIError(await send([['file', 'not a file'], ['model', FW]]), 400, { param: 'file' });
    assertOpenAIError(await send([['file', { filename: 'a.wav', data: WAV }], ['model', FW], ['model', VL]]), 400, { param: 'model' });
    assertOpenAIError(await send([['file', { filename: 'a.wav', data: WAV }], ['model', FW], ['stream', 'maybe']]), 400, { param: 'stream' });
    assertOpenAIError(await send([['file', { filename: 'a.wav', data: WAV }], ['model', 'nope']]), 404, { code: 'model_not_found' });
    assertOpenAIError(await send([['file', { filename: 'a.wav', data: WAV }], ['model', CHAT]]), 400, { code: 'model_not_supported' });
  });

  it('engine failures: an injected 500 is a 502, a stream cut mid-way ends with an error event', async () => {
    await fwSim.fault('500');
    try {
      await assert.rejects(client.audio.transcriptions.create({ file: await toFile(WAV, 'a.wav'), model: FW }), (e) => {
        assert.equal(e.status, 502);
        return true;
      });
      await fwSim.fault('die-mid-stream');
      const { body, contentType } = form([['file', { filename: 'a.wav', data: wav(8) }], ['model', FW], ['stream', 'true']]);
      const r = await curl(`${gw.url}/v1/audio/transcriptions`, { body, headers: { 'content-type': contentType } });
      const s = parseSSE(r.text);
      assert.equal(s.chunks.length, 3, `two segments of four, then the gateway's error event: ${r.text}`);
      assert.equal(s.chunks[2].error.code, 'upstream_error');
    } finally {
      await fwSim.fault('none');
    }
  });

  it('a file over server.maxBodySize: 413', async () => {
    const { body, contentType } = form([['model', FW], ['file', { filename: 'huge.wav', data: Buffer.alloc(MAX_BODY + 1024) }]]);
    const r = await curl(`${gw.url}/v1/audio/transcriptions`, { body, headers: { 'content-type': contentType } });
    assertOpenAIError(r, 413, { type: 'invalid_request_error' });
  });

  it('the gateway is still running and exits cleanly', async () => {
    await gw.checkAliveAndStop();
  });
});
