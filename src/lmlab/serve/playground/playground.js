// lmlab serve playground (issue 23): plain JS, no build step, nothing loaded from elsewhere.
// Pick a model, type text, see fill-mask candidates, generated text, per-token surprisal,
// class probabilities, tags, a QA answer highlighted in its context, choice probabilities
// or vectors. Every text the server sends back is set with
// textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { models: [], model: null, endpoint: null, token: sessionStorage.getItem("lmlab-token") || "" };

const EXAMPLES = {
  "fill-mask": (m) => `the stock market ${m.mask_token || "[MASK]"} sharply`,
  score: () => "the company said its profit rose in the third quarter",
  generate: (m) => (m.kind === "seq2seq" || m.kind === "generator" ? "shares of the company fell sharply in trading" : "the company said"),
  classify: () => "a gripping , funny and moving film",
  tag: () => "EU rejects German call to boycott British lamb .",
  answer: () => "the company said its profit rose in the third quarter while shares of banks fell sharply on monday",
  choose: () => "the company said its profit rose in the third quarter while shares of banks fell sharply on monday",
  embed: (m) => (m.kind === "word-vectors" ? "market" : "the stock market fell sharply"),
};
const HINTS = {
  "fill-mask": (m) => `write ${m.mask_token || "[MASK]"} where a word is missing`,
  score: () => "colour = surprisal of each token (bits)",
  generate: (m) => (m.kind === "seq2seq" || m.kind === "generator" ? "the source text" : "the prompt to continue"),
  classify: () => "one text (a pair: fill in the second text)",
  tag: () => "words separated by spaces",
  answer: () => "the context; the question below",
  choose: () => "the passage (may be empty); the question and choices below",
  embed: (m) => (m.kind === "word-vectors" ? "one word" : "a sentence (mean-pooled)"),
};
// Per endpoint: [field, label, type, default, extra attributes].
const OPTIONS = {
  "fill-mask": [["top_k", "candidates", "number", 5, { min: 1, max: 50 }]],
  generate: [
    ["max_new_tokens", "max new tokens", "number", 20, { min: 1 }],
    ["do_sample", "sample", "checkbox", false],
    ["temperature", "temperature", "number", 1.0, { min: 0.05, step: 0.05 }],
    ["top_k", "top-k", "number", 0, { min: 0 }],
    ["top_p", "top-p", "number", 1.0, { min: 0.05, max: 1, step: 0.05 }],
    ["num_beams", "beams", "number", 1, { min: 1, max: 8 }],
    ["no_repeat_ngram_size", "no-repeat n", "number", 0, { min: 0 }],
    ["seed", "seed", "number", 0, {}],
  ],
  classify: [["text_pair", "second text", "text", "", {}]],
  answer: [["question", "question", "text", "what rose", { size: 40 }]],
  choose: [["question", "question", "text", "what rose", { size: 30 }],
    ["choices", "choices (a | b | …)", "text", "profit | shares | banks", { size: 30 }]],
  embed: [["neighbors", "neighbours", "number", 8, { min: 0, max: 50 }]],
};
// Endpoints whose body is not {text, options}: the text box is their context.
const BODIES = {
  answer: (body) => ({ model: body.model, question: body.question || "", context: body.text }),
  choose: (body) => ({
    model: body.model, question: body.question || "", context: body.text.trim() ? body.text : "",
    choices: (body.choices || "").split("|").map((choice) => choice.trim()).filter(Boolean),
  }),
};

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function api(path, body) {
  const headers = { "content-type": "application/json" };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const response = await fetch(path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
  let data = {};
  try { data = await response.json(); } catch (error) { data = { error: `${response.status} ${response.statusText}` }; }
  if (!response.ok) {
    const failure = new Error(data.error || `${response.status} ${response.statusText}`);
    failure.status = response.status;
    throw failure;
  }
  return data;
}

async function loadModels() {
  try {
    const data = await api("models");
    state.models = data.models;
    $("token-box").hidden = true;
  } catch (error) {
    if (error.status === 401) {
      $("token-box").hidden = false;
      setStatus("this server needs its token", true);
      return;
    }
    setStatus(error.message, true);
    return;
  }
  const select = $("model");
  select.replaceChildren(...state.models.map((m) => el("option", { value: m.name, text: `${m.name} (${m.kind})` })));
  setStatus(`${state.models.length} model${state.models.length === 1 ? "" : "s"}`);
  if (state.models.length) chooseModel(state.models[0].name);
}

function chooseModel(name) {
  state.model = state.models.find((m) => m.name === name);
  $("model").value = name;
  $("kind").textContent = [state.model.kind, state.model.objective || state.model.task || state.model.method]
    .filter(Boolean).join(" · ");
  $("endpoints").replaceChildren(...state.model.endpoints.map((endpoint) => {
    const button = el("button", { type: "button", role: "tab", "data-endpoint": endpoint, text: `/${endpoint}` });
    button.addEventListener("click", () => chooseEndpoint(endpoint));
    return button;
  }));
  chooseEndpoint(state.model.endpoints[0]);
}

function chooseEndpoint(endpoint) {
  const text = $("text");
  const previous = state.endpoint && EXAMPLES[state.endpoint] ? EXAMPLES[state.endpoint](state.model) : "";
  state.endpoint = endpoint;
  for (const button of $("endpoints").children) button.setAttribute("aria-selected", String(button.dataset.endpoint === endpoint));
  if (!text.value.trim() || text.value === previous || text.dataset.example === text.value) {
    text.value = EXAMPLES[endpoint](state.model);
    text.dataset.example = text.value;
  }
  $("hint").textContent = `(${HINTS[endpoint](state.model)})`;
  $("options").replaceChildren(...(OPTIONS[endpoint] || []).map(([field, label, type, value, extra]) => {
    if (field === "neighbors" && state.model.kind !== "word-vectors") return "";
    const input = el("input", { id: `option-${field}`, type, "data-field": field, ...(extra || {}) });
    if (type === "checkbox") input.checked = value; else input.value = value;
    return el("label", {}, `${label} `, input);
  }));
  $("output").replaceChildren();
}

function requestBody() {
  const body = { model: state.model.name, text: $("text").value };
  for (const input of $("options").querySelectorAll("input")) {
    const field = input.dataset.field;
    if (input.type === "checkbox") body[field] = input.checked;
    else if (input.type === "number") body[field] = Number(input.value);
    else if (input.value.trim()) body[field] = input.value;
  }
  return BODIES[state.endpoint] ? BODIES[state.endpoint](body) : body;
}

async function run() {
  if (!state.model) return;
  const button = $("run");
  const output = $("output");
  button.disabled = true;
  output.dataset.state = "running";
  const started = performance.now();
  try {
    const body = requestBody();
    const data = await api(state.endpoint, body);
    output.replaceChildren(el("h2", { text: `/${state.endpoint} · ${state.model.name}` }), RENDER[state.endpoint](data, body));
    setStatus(`answered in ${Math.round(performance.now() - started)} ms`);
    output.dataset.state = "done";
  } catch (error) {
    output.replaceChildren(el("div", { class: "error-box", text: error.message }));
    setStatus("request refused", true);
    output.dataset.state = "error";
  } finally {
    button.disabled = false;
  }
}

const probability = (p) => (p >= 0.001 ? p.toFixed(3) : p.toExponential(1));

function bars(rows, best, relative = false) {
  // rows: [label, value in [0, 1], shown number]; relative: widths scaled to the largest
  const grid = el("div", { class: "bars" });
  const top = relative ? Math.max(...rows.map((row) => row[1])) || 1 : 1;
  for (const [label, raw, shown] of rows) {
    const value = raw / top;
    const bar = el("div", { class: "bar" }, el("span", { style: `width:${(100 * Math.max(0, Math.min(1, value))).toFixed(1)}%` }));
    grid.append(el("span", { class: label === best ? "best" : "", text: label }), bar, el("span", { class: "num", text: shown }));
  }
  return grid;
}

function surprisalColour(bits) {
  const t = Math.max(0, Math.min(1, bits / 16)); // 0 bits green .. 16+ bits red
  return `hsl(${Math.round(120 * (1 - t))} 75% ${Math.round(82 - 6 * t)}%)`;
}

const RENDER = {
  "fill-mask": (data) => el("div", {}, ...data.masks.map((candidates, index) => el("div", {},
    el("div", { class: "hint", text: `mask #${index + 1} (bars relative to the most likely; numbers: probability)` }),
    bars(candidates.map((c) => [c.token, c.probability, probability(c.probability)]), candidates[0].token, true)))),
  generate: (data) => el("div", { class: "generated", text: data.generated_text }),
  score: (data) => {
    const tokens = el("div", { class: "tokens" });
    for (const token of data.tokens) {
      const bits = -token.logprob / Math.LN2;
      tokens.append(el("span", {
        class: "tok", style: `background:${surprisalColour(bits)}`, text: token.token,
        title: `${bits.toFixed(2)} bits · p = ${Math.exp(token.logprob).toPrecision(3)}${token.oov ? " · out of vocabulary" : ""}`,
      }), " ");
    }
    return el("div", {},
      el("div", { text: `perplexity ${data.perplexity.toFixed(2)} over ${data.tokens.length} tokens` }), tokens,
      el("div", { class: "legend" }, "0 bits", el("span", { class: "scale" }), "16+ bits (hover a token for its value)"));
  },
  classify: (data) => {
    if (data.value !== undefined) return el("div", { text: `value ${data.value.toFixed(4)}` });
    const rows = Object.entries(data.scores).sort((a, b) => b[1] - a[1]);
    return el("div", {}, el("div", { text: `label ${data.label}` }),
      bars(rows.map(([label, p]) => [label, p, probability(p)]), data.label));
  },
  tag: (data) => el("div", {}, ...data.words.map((w) => el("span", { class: "tagged" },
    el("span", { text: w.word }), el("span", { class: `tag${w.tag === "O" ? "" : " entity"}`, text: w.tag })))),
  answer: (data, body) => el("div", {},
    el("div", { text: data.answer ? `answer “${data.answer}” · p = ${probability(data.probability)} · score ${data.score.toFixed(2)} · ${data.windows} window${data.windows === 1 ? "" : "s"}` : "no answer span found" }),
    el("div", { class: "context" }, body.context.slice(0, data.start),
      el("mark", { text: body.context.slice(data.start, data.end) }), body.context.slice(data.end))),
  choose: (data, body) => el("div", {},
    el("div", { text: `choice ${data.label + 1}: ${data.choice}${data.context_truncated ? " (the passage was cut to fit the model)" : ""}` }),
    bars(body.choices.map((choice, index) => [choice, data.probabilities[index], probability(data.probabilities[index])]), data.choice)),
  embed: (data) => {
    const largest = Math.max(...data.vector.map(Math.abs)) || 1;
    const strip = el("div", { class: "vector", title: "each bar one dimension (orange: negative)" },
      ...data.vector.map((v) => el("span", { class: v < 0 ? "neg" : "", style: `height:${(100 * Math.abs(v) / largest).toFixed(1)}%` })));
    const norm = Math.sqrt(data.vector.reduce((sum, v) => sum + v * v, 0));
    const parts = [el("div", { text: `${data.word ? `“${data.word}”: ` : ""}${data.dimensions} dimensions, norm ${norm.toFixed(3)}` }), strip];
    if (data.neighbors) parts.push(el("div", { class: "hint", text: "nearest words (cosine)" }),
      bars(data.neighbors.map((n) => [n.word, n.cosine, n.cosine.toFixed(3)])));
    return el("div", {}, ...parts);
  },
};

// Opened as /?token=...: the server has set its cookie; keep the token out of the address bar.
if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", location.pathname);
$("model").addEventListener("change", (event) => chooseModel(event.target.value));
$("run").addEventListener("click", run);
$("text").addEventListener("keydown", (event) => { if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) run(); });
$("token-save").addEventListener("click", () => {
  state.token = $("token").value.trim();
  sessionStorage.setItem("lmlab-token", state.token);
  loadModels();
});
loadModels();
