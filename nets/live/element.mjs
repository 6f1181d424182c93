// nets.live's element: a chapter's trained network, exported to ONNX by the book build, run in the
// reader's browser with onnxruntime-web (single-threaded WebAssembly: a static site cannot send the
// cross-origin-isolation headers that threads need). The runtime and the models load only when the
// reader presses Start; the runtime is served from ./onnxruntime-web/ beside this file, never a CDN.
//
// Each <div class="nets-live" data-config="..."> carries its configuration (nets/live/__init__.py):
// models (url, bytes, params, outputs, taps), classes, size, eval_crop, gray, samples, reference.
// After every run the element sets data-state="ready" and data-result='{"runs", "picture", "models":
// [{"first": [...], "ms"}]}' (the first output, what the reference holds), which the browser test reads.

const HERE = new URL(".", import.meta.url);
const RUNTIME = new URL("onnxruntime-web/", HERE);
const MAPS_SHOWN = 16; // feature maps drawn per tapped layer
let runtime = null;

function loadRuntime() {
  if (!runtime) {
    runtime = import(new URL("ort.wasm.min.mjs", RUNTIME).href).then((ort) => {
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmPaths = RUNTIME.href;
      return ort;
    });
  }
  return runtime;
}

function make(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

const STYLE = `
.nets-live { border: 1px solid var(--pst-color-border, #bbb); border-radius: .5rem; padding: .75rem 1rem; margin: 1rem 0; }
.nets-live fieldset { border: 0; padding: 0; margin: .5rem 0; display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.nets-live legend { font-weight: 600; font-size: 1em; margin-bottom: .25rem; }
.nets-live label.nets-live-sample { display: inline-flex; flex-direction: column; align-items: center; font-size: .8em; max-width: 7rem; text-align: center; }
.nets-live img, .nets-live canvas { image-rendering: pixelated; }
.nets-live img { background: #fff; }
.nets-live canvas { background: #000; }
.nets-live .nets-live-sample img { width: 56px; height: 56px; }
.nets-live .nets-live-draw { width: 112px; height: 112px; touch-action: none; cursor: crosshair; }
.nets-live .nets-live-seen { width: 112px; height: 112px; }
.nets-live .nets-live-models { display: flex; flex-wrap: wrap; gap: 1.5rem; }
.nets-live .nets-live-model { flex: 1 1 16rem; min-width: 0; }
.nets-live .nets-live-seen-figure { flex: 0 0 auto; margin: 0; font-size: .8em; }
.nets-live .nets-live-maps { display: flex; flex-wrap: wrap; gap: 3px; }
.nets-live .nets-live-maps canvas { width: 48px; height: 48px; }
.nets-live .nets-live-bar { display: block; height: .4rem; background: var(--pst-color-primary, #1f77b4); }
.nets-live figcaption, .nets-live legend, .nets-live label { color: inherit; }
.nets-live button { margin: .25rem .5rem .25rem 0; padding: .25rem .75rem; border-radius: .25rem;
  border: 1px solid var(--pst-color-primary, #1f77b4); background: transparent; color: inherit; }
.nets-live button:disabled { opacity: .6; }
.nets-live ol { margin: .25rem 0; padding-left: 1.5rem; }
`;

function addStyle() {
  if (document.getElementById("nets-live-style")) return;
  document.head.append(make("style", { id: "nets-live-style", text: STYLE }));
}

// The picture as the network's input: a [1, 3, size, size] array of floats in [0, 1]. A picture of
// exactly that size is taken as it is (the samples: the same pixels as the reference); any other is
// centre-cropped like the evaluation (eval_crop of its shorter side) and resized by the browser.
function pixels(source, config) {
  const size = config.size;
  const canvas = make("canvas", { width: size, height: size });
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const width = source.naturalWidth || source.width;
  const height = source.naturalHeight || source.height;
  if (width === size && height === size) {
    context.drawImage(source, 0, 0);
  } else {
    const side = Math.min(width, height) * config.eval_crop;
    context.imageSmoothingQuality = "high";
    context.drawImage(source, (width - side) / 2, (height - side) / 2, side, side, 0, 0, size, size);
  }
  const rgba = context.getImageData(0, 0, size, size).data;
  const plane = size * size;
  const input = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    let [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
    if (config.gray) r = g = b = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    input[i] = r / 255;
    input[plane + i] = g / 255;
    input[2 * plane + i] = b / 255;
  }
  return { input, canvas };
}

function softmax(logits) {
  const top = Math.max(...logits);
  const exps = logits.map((v) => Math.exp(v - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

function drawMaps(box, tap, data) {
  const [channels, height, width] = tap.shape;
  const shown = Math.min(channels, MAPS_SHOWN);
  const grid = make("div", { class: "nets-live-maps" });
  for (let c = 0; c < shown; c++) {
    const map = data.subarray(c * height * width, (c + 1) * height * width);
    let low = Infinity;
    let high = -Infinity;
    for (const v of map) { low = Math.min(low, v); high = Math.max(high, v); }
    const canvas = make("canvas", { width, height, role: "img",
      "aria-label": `${tap.name}, map ${c + 1} of ${channels}: ${width}×${height}, values ${low.toFixed(2)} to ${high.toFixed(2)}` });
    const context = canvas.getContext("2d");
    const image = context.createImageData(width, height);
    for (let i = 0; i < map.length; i++) {
      const v = high > low ? Math.round((255 * (map[i] - low)) / (high - low)) : 0;
      image.data.set([v, v, v, 255], 4 * i);
    }
    context.putImageData(image, 0, 0);
    grid.append(canvas);
  }
  box.append(make("p", { text: `${tap.name}: the first ${shown} of ${channels} feature maps (${width}×${height}), each scaled from its own lowest (black) to highest (white) value` }), grid);
}

function setUp(root) {
  const config = JSON.parse(root.dataset.config);
  addStyle();
  const status = root.querySelector(".nets-live-status");
  status.setAttribute("role", "status");
  if (typeof WebAssembly !== "object") {
    root.dataset.state = "no-wasm";
    status.textContent = "This browser has WebAssembly turned off, so the live model cannot run here; the figures on this page show the same network.";
    return;
  }
  const id = `nets-live-${Math.random().toString(36).slice(2, 8)}`;
  let source = null; // what the network sees next: an <img> or a <canvas>
  let sessions = null;
  let runs = 0;
  let pictureName = "sample 1";

  const start = make("button", { type: "button", class: "nets-live-start", text: `Start the live model${config.models.length > 1 ? "s" : ""}` });
  const seen = make("canvas", { class: "nets-live-seen", width: config.size, height: config.size, role: "img",
    "aria-label": `What the network sees: the chosen picture at ${config.size}×${config.size} pixels` });
  const results = make("div", { class: "nets-live-models", "aria-live": "polite" });

  const samples = make("fieldset", {}, make("legend", { text: "Pick a picture" }));
  config.samples.forEach((sample, i) => {
    const image = make("img", { src: sample.src, alt: sample.caption, width: config.size, height: config.size });
    const radio = make("input", { type: "radio", name: id, value: String(i) });
    if (i === 0) { radio.checked = true; source = image; }
    radio.addEventListener("change", () => { source = image; pictureName = `sample ${i + 1}`; run(); });
    samples.append(make("label", { class: "nets-live-sample" }, radio, image, sample.caption.split(" (")[0]));
  });

  const upload = make("input", { type: "file", accept: "image/*", id: `${id}-upload` });
  upload.addEventListener("change", () => {
    const file = upload.files[0];
    if (!file) return;
    const image = new Image();
    image.onload = () => { source = image; pictureName = file.name; run(); };
    image.onerror = () => { status.textContent = `${file.name} is not a picture this browser can read: try a PNG or a JPEG.`; };
    image.src = URL.createObjectURL(file);
  });
  const own = make("fieldset", {}, make("legend", { text: "Or use your own" }),
    make("label", { for: `${id}-upload`, text: "Upload a picture: " }), upload);

  if (config.gray) { // Fashion-MNIST: white on black, drawn with a mouse or a finger
    const pad = make("canvas", { class: "nets-live-draw", width: 168, height: 168, role: "img",
      "aria-label": "Drawing area: draw a garment in white on black with a mouse or a finger, then press Use my drawing" });
    const context = pad.getContext("2d");
    const clear = () => { context.fillStyle = "#000"; context.fillRect(0, 0, pad.width, pad.height); };
    clear();
    let drawing = false;
    const at = (event) => { const box = pad.getBoundingClientRect();
      return [(event.clientX - box.left) * pad.width / box.width, (event.clientY - box.top) * pad.height / box.height]; };
    pad.addEventListener("pointerdown", (event) => { drawing = true; pad.setPointerCapture(event.pointerId);
      context.beginPath(); context.moveTo(...at(event)); });
    pad.addEventListener("pointermove", (event) => { if (!drawing) return;
      context.lineTo(...at(event)); context.strokeStyle = "#fff"; context.lineWidth = 14; context.lineCap = "round"; context.stroke(); });
    pad.addEventListener("pointerup", () => { drawing = false; });
    const use = make("button", { type: "button", text: "Use my drawing" });
    use.addEventListener("click", () => { source = pad; pictureName = "your drawing"; run(); });
    const wipe = make("button", { type: "button", text: "Clear the drawing" });
    wipe.addEventListener("click", clear);
    own.append(make("span", { text: "or draw one:" }), pad, make("span", {}, use, wipe));
  }

  async function open() {
    start.disabled = true;
    root.dataset.state = "loading";
    status.textContent = "Loading the runtime and the model…";
    try {
      const ort = await loadRuntime();
      const began = performance.now();
      sessions = [];
      for (const model of config.models) {
        sessions.push(await ort.InferenceSession.create(new URL(model.url, document.baseURI).href,
          { executionProviders: ["wasm"], graphOptimizationLevel: "all" }));
      }
      status.textContent = `Loaded in ${((performance.now() - began) / 1000).toFixed(1)} s. Pick another picture, upload one${config.gray ? " or draw one" : ""}: it runs again.`;
      start.textContent = "Running live";
      await run();
    } catch (error) {
      root.dataset.state = "error";
      start.disabled = false;
      status.textContent = `The live model could not start: ${error.message || error}`;
    }
  }
  start.addEventListener("click", open);

  async function run() {
    if (!sessions || !source) return;
    const ort = await loadRuntime();
    const { input, canvas } = pixels(source, config);
    seen.getContext("2d").drawImage(canvas, 0, 0);
    const tensor = new ort.Tensor("float32", input, [1, 3, config.size, config.size]);
    const panels = [];
    const result = { runs: runs + 1, picture: pictureName, models: [] };
    for (const [i, session] of sessions.entries()) {
      const model = config.models[i];
      const began = performance.now();
      const outputs = await session.run({ image: tensor });
      const ms = performance.now() - began;
      const first = outputs[model.outputs[0]].data;
      result.models.push({ first: Array.from(first.slice(0, 1000)), ms });
      const panel = make("section", { class: "nets-live-model", "aria-label": model.label },
        make("p", {}, make("strong", { text: model.label }),
          ` (${model.params.toLocaleString("en")} parameters): ${ms.toFixed(0)} ms in this browser`));
      if (config.classify) {
        const probs = softmax(Array.from(outputs.logits.data));
        const order = probs.map((p, k) => [p, k]).sort((a, b) => b[0] - a[0]).slice(0, 3);
        const list = make("ol", { "aria-label": `${model.label}: the three most likely classes` });
        for (const [p, k] of order) {
          list.append(make("li", {}, `${config.classes[k]}: ${(100 * p).toFixed(1)} %`,
            make("span", { class: "nets-live-bar", style: `width: ${(100 * p).toFixed(1)}%`, "aria-hidden": "true" })));
        }
        panel.append(list);
      }
      model.taps.forEach((tap, t) => drawMaps(panel, tap, outputs[model.outputs[config.classify ? t + 1 : t]].data));
      panels.push(panel);
    }
    results.replaceChildren(seenFigure, ...panels);
    runs += 1;
    root.dataset.result = JSON.stringify(result);
    root.dataset.state = "ready";
  }

  const seenFigure = make("figure", { class: "nets-live-seen-figure" }, seen,
    make("figcaption", { text: `What the network sees (${config.size}×${config.size})` }));
  results.append(seenFigure);
  status.after(make("div", {}, start));
  root.append(samples, own, results);
  root.dataset.state = "idle";
}

for (const root of document.querySelectorAll(".nets-live:not([data-state])")) setUp(root);
