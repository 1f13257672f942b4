// A real small model behind Ollama's HTTP API, for corral's slow test tier.
//
// No Ollama server can run here, so this serves the parts of Ollama's API that the `ollama` Python client uses
// (/api/version, /api/tags, /api/show, /api/chat with `format` as "json" or a JSON schema) from a GGUF model loaded
// with node-llama-cpp. Structured output is a grammar built from the schema, as Ollama does with llama.cpp.
// Requests are served one at a time, like an Ollama server with OLLAMA_NUM_PARALLEL=1.
//
// usage: node server.mjs --gguf PATH --port N [--name smollm2:135m ...] [--threads 2] [--context 4096]
import http from "node:http";
import { parseArgs } from "node:util";
import { statSync } from "node:fs";
import { getLlama, LlamaChatSession } from "node-llama-cpp";

const { values: args } = parseArgs({
  options: {
    gguf: { type: "string" },
    port: { type: "string", default: "0" },
    name: { type: "string", multiple: true, default: ["smollm2:135m"] },
    threads: { type: "string", default: "2" },
    context: { type: "string", default: "4096" },
  },
});
if (!args.gguf) {
  console.error("--gguf PATH is required");
  process.exit(2);
}

const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath: args.gguf });
const context = await model.createContext({ contextSize: Number(args.context), threads: Number(args.threads) });
const sequence = context.getSequence();
const modifiedAt = new Date(statSync(args.gguf).mtimeMs).toISOString();
const stats = { chats: 0, errors: 0 };

// Ollama takes pydantic-style schemas ($defs/$ref, anyOf for Optional, numeric bounds); node-llama-cpp's grammar
// takes oneOf and no bounds. Translate what differs, keep the rest.
function toGbnfSchema(schema) {
  if (Array.isArray(schema)) return schema.map(toGbnfSchema);
  if (schema === null || typeof schema !== "object") return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (["title", "description", "default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
      "additionalProperties", "required"].includes(key)) continue;
    if (key === "properties") {
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toGbnfSchema(v)]));
    } else if (key === "$defs") {
      out.$defs = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toGbnfSchema(v)]));
    } else if (key === "anyOf") {
      out.oneOf = toGbnfSchema(value);
    } else {
      out[key] = toGbnfSchema(value);
    }
  }
  return out;
}

async function grammarFor(format) {
  if (!format) return undefined;
  if (format === "json") return llama.getGrammarFor("json");
  return llama.createGrammarForJsonSchema(toGbnfSchema(format));
}

// Ollama's history of messages becomes node-llama-cpp's chat history; the last user message is the prompt.
function splitMessages(messages) {
  const history = [];
  for (const m of messages.slice(0, -1)) {
    if (m.role === "system") history.push({ type: "system", text: m.content });
    else if (m.role === "user") history.push({ type: "user", text: m.content });
    else history.push({ type: "model", response: [m.content] });
  }
  const last = messages.at(-1);
  if (!last || last.role !== "user") throw new Error("the last message must be the user's");
  return { history, prompt: last.content };
}

let queue = Promise.resolve();
function oneAtATime(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

async function chat(body) {
  const { history, prompt } = splitMessages(body.messages ?? []);
  const options = body.options ?? {};
  return oneAtATime(async () => {
    const started = process.hrtime.bigint();
    const session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
    try {
      session.setChatHistory([...history]);
      const content = await session.prompt(prompt, {
        grammar: await grammarFor(body.format),
        // Ollama's own sampling defaults, so a model behaves here as it would under Ollama.
        temperature: options.temperature ?? 0.8,
        topK: options.top_k ?? 40,
        topP: options.top_p ?? 0.9,
        repeatPenalty: { penalty: options.repeat_penalty ?? 1.1, lastTokens: options.repeat_last_n ?? 64 },
        maxTokens: options.num_predict ?? 1024,
        seed: options.seed,
      });
      return { content, ns: Number(process.hrtime.bigint() - started) };
    } finally {
      session.dispose({ disposeSequence: false });
      await sequence.clearHistory();
    }
  });
}

function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function modelInfo(name) {
  return {
    name, model: name, modified_at: modifiedAt, size: statSync(args.gguf).size, digest: "",
    details: { format: "gguf", family: "llama", parameter_size: "135M", quantization_level: "Q4_1" },
  };
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === "GET" && req.url === "/api/version") return send(res, 200, { version: "0.6.0" });
    if (req.method === "GET" && req.url === "/api/tags") return send(res, 200, { models: args.name.map(modelInfo) });
    if (req.method === "GET" && req.url === "/stats") return send(res, 200, stats);
    if (req.method !== "POST") return send(res, 404, { error: "not found" });
    const body = await readJson(req);
    if (!args.name.includes(body.model)) return send(res, 404, { error: `model '${body.model}' not found` });
    if (req.url === "/api/show") return send(res, 200, { ...modelInfo(body.model), modelfile: "", parameters: "" });
    if (req.url !== "/api/chat") return send(res, 404, { error: "not found" });
    stats.chats += 1;
    const { content, ns } = await chat(body);
    const done = {
      model: body.model, created_at: new Date().toISOString(), message: { role: "assistant", content },
      done: true, done_reason: "stop", total_duration: ns, eval_duration: ns,
    };
    if (body.stream === false) return send(res, 200, done);
    // Ollama streams by default: NDJSON, one chunk of content, then the closing chunk.
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    res.write(JSON.stringify({ ...done, done: false, done_reason: undefined }) + "\n");
    res.end(JSON.stringify({ ...done, message: { role: "assistant", content: "" } }) + "\n");
  } catch (e) {
    stats.errors += 1;
    send(res, 500, { error: String(e?.message ?? e) });
  }
});

server.listen(Number(args.port), "127.0.0.1", () => {
  // The parent reads this line to learn the port.
  console.log(JSON.stringify({ listening: server.address().port }));
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
