// BlazePose landmarks in the browser: loads model/model.json (a TF.js graph model exported by
// python -m launch.export --format=tfjs) and model/metadata.json, runs the model on an uploaded
// picture or webcam frames and draws the skeleton.
//
// Both export interfaces work: the float crop model (metadata input dtype float32: the page
// resizes the crop to 256x256 with half-pixel centres, as tf.image.resize does, scales to [0, 1]
// and decodes the raw outputs) and the --with_preprocessing model (input dtype uint8: the model
// resizes and decodes itself). The last result is published as window.blazeposeResult:
//   {landmarks: [[x, y, z, visibility, presence], ...] (x, y, z normalised to the crop,
//    probabilities), crop: {left, top, size} (source pixels), width, height, poseFlag,
//    milliseconds, backend}
'use strict';

const CROP_SIZE = 256;
const state = { model: null, metadata: null, busy: false, webcam: null };

function setStatus(text, kind) {
  const element = document.getElementById('status');
  element.textContent = text;
  element.dataset.state = kind;
}

function sigmoid(x) { return 1 / (1 + Math.exp(-x)); }

// The largest centred square of a width x height source.
function centreSquare(width, height) {
  const size = Math.min(width, height);
  return { left: Math.floor((width - size) / 2), top: Math.floor((height - size) / 2), size };
}

function outputsByName(model, outputs) {
  if (outputs instanceof tf.Tensor) return { [model.outputNodes[0]]: outputs };
  if (Array.isArray(outputs)) {
    return Object.fromEntries(outputs.map((t, i) => [model.outputNodes[i], t]));
  }
  return outputs;
}

// Runs the model on an image, video or canvas; returns the result object (see the header).
async function estimate(source) {
  const { model, metadata } = state;
  const imageInput = metadata.input.dtype === 'uint8';
  const started = performance.now();
  const pixels = tf.browser.fromPixels(source);  // int32 [H, W, 3]
  const [height, width] = pixels.shape;
  const crop = centreSquare(width, height);
  const named = tf.tidy(() => {
    const square = pixels.slice([crop.top, crop.left, 0], [crop.size, crop.size, 3]);
    const input = imageInput
      ? square.expandDims(0)
      : tf.image.resizeBilinear(square.toFloat(), [CROP_SIZE, CROP_SIZE], false, true)
        .div(255).expandDims(0);
    return outputsByName(model, model.execute(input));
  });
  pixels.dispose();
  const raw = await named.landmarks.array();
  const flag = await named.pose_flag.data();
  Object.values(named).forEach((t) => t.dispose());
  const landmarks = raw[0].map(([x, y, z, visibility, presence]) => (imageInput
    ? [x, y, z, visibility, presence]
    : [x / CROP_SIZE, y / CROP_SIZE, z / CROP_SIZE, sigmoid(visibility), sigmoid(presence)]));
  return {
    landmarks, crop, width, height, poseFlag: flag[0],
    milliseconds: performance.now() - started, backend: tf.getBackend(),
  };
}

function draw(source, result) {
  const canvas = document.getElementById('canvas');
  const scale = Math.min(1, 720 / Math.max(result.width, result.height));
  canvas.width = Math.round(result.width * scale);
  canvas.height = Math.round(result.height * scale);
  const context = canvas.getContext('2d');
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  const { left, top, size } = result.crop;
  const toCanvas = ([x, y]) => [(left + x * size) * scale, (top + y * size) * scale];
  context.strokeStyle = 'rgba(255, 255, 255, 0.6)';
  context.strokeRect(left * scale, top * scale, size * scale, size * scale);
  const count = state.metadata.keypoints.num_keypoints;
  context.lineWidth = 3;
  context.strokeStyle = 'white';
  for (const [a, b] of state.metadata.keypoints.edges) {
    if (a >= count || b >= count) continue;
    const [x0, y0] = toCanvas(result.landmarks[a]);
    const [x1, y1] = toCanvas(result.landmarks[b]);
    context.beginPath();
    context.moveTo(x0, y0);
    context.lineTo(x1, y1);
    context.stroke();
  }
  result.landmarks.slice(0, count).forEach((landmark) => {
    const [x, y] = toCanvas(landmark);
    context.fillStyle = landmark[3] >= 0.5 ? 'rgb(40, 220, 60)' : 'rgb(230, 50, 50)';
    context.beginPath();
    context.arc(x, y, 4, 0, 2 * Math.PI);
    context.fill();
  });
}

async function runOn(source) {
  if (state.busy || !state.model) return null;
  state.busy = true;
  try {
    const result = await estimate(source);
    draw(source, result);
    window.blazeposeResult = result;
    const names = state.metadata.keypoints.names;
    document.getElementById('result').textContent = JSON.stringify({
      backend: result.backend,
      milliseconds: Math.round(result.milliseconds),
      poseFlag: result.poseFlag,
      landmarks: Object.fromEntries(result.landmarks.slice(0, state.metadata.keypoints.num_keypoints)
        .map((l, i) => [names[i], l.map((v) => Number(v.toFixed(4)))])),
    }, null, 1);
    setStatus(`done in ${Math.round(result.milliseconds)} ms (${result.backend})`, 'done');
    return result;
  } catch (error) {
    setStatus(`error: ${error.message}`, 'error');
    throw error;
  } finally {
    state.busy = false;
  }
}

function onFile(event) {
  const file = event.target.files[0];
  if (!file) return;
  const image = new Image();
  image.onload = () => { runOn(image).finally(() => URL.revokeObjectURL(image.src)); };
  image.onerror = () => setStatus(`cannot read ${file.name} as an image`, 'error');
  setStatus('running…', 'running');
  image.src = URL.createObjectURL(file);
}

async function toggleWebcam() {
  const video = document.getElementById('video');
  const button = document.getElementById('webcam');
  if (state.webcam) {
    state.webcam.getTracks().forEach((track) => track.stop());
    state.webcam = null;
    button.textContent = 'Start webcam';
    return;
  }
  try {
    state.webcam = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (error) {
    setStatus(`webcam unavailable: ${error.message}`, 'error');
    return;
  }
  video.srcObject = state.webcam;
  await video.play();
  button.textContent = 'Stop webcam';
  const loop = async () => {
    if (!state.webcam) return;
    if (video.readyState >= 2) await runOn(video);
    requestAnimationFrame(loop);
  };
  loop();
}

async function main() {
  const backend = new URLSearchParams(window.location.search).get('backend');
  try {
    if (backend) await tf.setBackend(backend);
    await tf.ready();
    state.metadata = await (await fetch('model/metadata.json')).json();
    state.model = await tf.loadGraphModel('model/model.json');
    setStatus(`model loaded (${state.metadata.source.kind}, ${state.metadata.quantization}, ` +
      `${tf.getBackend()} backend): choose a picture or start the webcam`, 'ready');
  } catch (error) {
    setStatus(`cannot load the model: ${error.message}`, 'error');
    return;
  }
  document.getElementById('file').addEventListener('change', onFile);
  document.getElementById('webcam').addEventListener('click', toggleWebcam);
}

window.blazepose = { estimate, runOn, centreSquare };
main();
