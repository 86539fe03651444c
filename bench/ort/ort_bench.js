// Times ONNX Runtime (CPU execution provider) on one ONNX model, as
// bench/run_models.py compares it with spruce in the same run.
//
//   node bench/ort/ort_bench.js MODEL.onnx --batch B --threads T --time S
//        [--seq L]
//
// Inputs are random with the model's declared shapes, symbolic dimensions
// named like a batch set to B and like a sequence set to L (default 128);
// int64 inputs (token ids, masks) are filled with small valid values.
// Prints one JSON line: {"p50_ms", "mean_ms", "runs", "threads", "batch"}.
'use strict';
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const args = {batch: 1, threads: 1, time: 5, seq: 128, model: null};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const key = a.slice(2);
      if (!(key in args) || i + 1 >= argv.length) throw new Error(`unknown option ${a}`);
      args[key] = Number(argv[++i]);
    } else {
      args.model = a;
    }
  }
  if (!args.model) throw new Error('usage: ort_bench.js MODEL.onnx [--batch B] [--threads T] [--time S]');
  return args;
}

function dimValue(dim, args) {
  if (typeof dim === 'number' && dim > 0) return dim;
  const name = String(dim).toLowerCase();
  if (name.includes('seq') || name.includes('len')) return args.seq;
  return args.batch;
}

function makeInput(meta, args) {
  const shape = meta.shape.map((d) => dimValue(d, args));
  const size = shape.reduce((a, b) => a * b, 1);
  if (meta.type === 'int64') {
    const data = new BigInt64Array(size);
    for (let i = 0; i < size; ++i) data[i] = BigInt((i * 7919) % 100 + 1);
    if (meta.name.includes('mask')) data.fill(1n);
    return new ort.Tensor('int64', data, shape);
  }
  if (meta.type !== 'float32') throw new Error(`input ${meta.name}: type ${meta.type} not supported`);
  const data = new Float32Array(size);
  let s = 12345;
  for (let i = 0; i < size; ++i) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s / 4294967296) * 2 - 1;
  }
  return new ort.Tensor('float32', data, shape);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const feeds = {};
  for (const meta of session.inputMetadata) feeds[meta.name] = makeInput(meta, args);
  for (let i = 0; i < 3; ++i) await session.run(feeds);
  const times = [];
  const end = performance.now() + args.time * 1000;
  while (performance.now() < end || times.length < 5) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(JSON.stringify({p50_ms: times[Math.floor(times.length / 2)], mean_ms: mean,
                              runs: times.length, threads: args.threads, batch: args.batch}));
}

main().catch((e) => {
  console.error(`ort_bench: ${e.message}`);
  process.exit(1);
});
