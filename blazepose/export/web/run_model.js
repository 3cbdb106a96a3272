// Runs an exported TF.js graph model in Node (pure-JS CPU backend of @tensorflow/tfjs).
//
//   NODE_PATH=<npm packages> node run_model.js MODEL_DIR INPUT.bin SHAPE DTYPE OUTPUT.json
//
// INPUT.bin holds the input tensor as raw little-endian float32 or int32 values, SHAPE is
// comma-separated (e.g. 2,256,256,3), DTYPE is float32 or int32 (uint8 images are fed as int32,
// as TF.js has no uint8 tensors). OUTPUT.json receives {backend, milliseconds, outputs: {name:
// {shape, data}}} with the outputs named as the SavedModel signature names them.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

// The model folder as a TF.js IOHandler (the pure-JS package has no file:// loader).
function folderHandler(modelDir) {
  return {
    load: async () => {
      const modelJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
      const buffers = [];
      const weightSpecs = [];
      for (const group of modelJson.weightsManifest) {
        for (const shard of group.paths) buffers.push(fs.readFileSync(path.join(modelDir, shard)));
        weightSpecs.push(...group.weights);
      }
      const weights = Buffer.concat(buffers);
      return {
        modelTopology: modelJson.modelTopology,
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy,
        signature: modelJson.signature,
        userDefinedMetadata: modelJson.userDefinedMetadata,
        modelInitializer: modelJson.modelInitializer,
        weightSpecs,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      };
    },
  };
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 5) {
    throw new Error('usage: run_model.js MODEL_DIR INPUT.bin SHAPE DTYPE OUTPUT.json');
  }
  const [modelDir, inputPath, shapeText, dtype, outputPath] = args;
  await tf.setBackend('cpu');
  await tf.ready();
  const model = await tf.loadGraphModel(folderHandler(modelDir));
  const raw = fs.readFileSync(inputPath);
  const shape = shapeText.split(',').map(Number);
  const Type = { float32: Float32Array, int32: Int32Array }[dtype];
  if (!Type) throw new Error(`unsupported dtype ${dtype}`);
  const values = new Type(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const input = tf.tensor(values, shape, dtype);
  const start = Date.now();
  let outputs = await model.executeAsync(input);
  const milliseconds = Date.now() - start;
  if (outputs instanceof tf.Tensor) outputs = [outputs];
  const named = Array.isArray(outputs)
    ? Object.fromEntries(outputs.map((t, i) => [model.outputNodes[i], t]))
    : outputs;
  const result = { backend: tf.getBackend(), milliseconds, outputs: {} };
  for (const [name, tensor] of Object.entries(named)) {
    result.outputs[name] = { shape: tensor.shape, data: Array.from(await tensor.data()) };
  }
  fs.writeFileSync(outputPath, JSON.stringify(result));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
