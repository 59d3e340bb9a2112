/**
 * Each baseline loss trains: a 2-layer MLP encoder on seeded low-dimensional clustered data,
 * two noisy views per point, Adam for 80 steps. The loss on a fixed held-out batch (fixed
 * views) must drop clearly. SwAV runs through its method state as a trainer would: prototypes
 * re-normalised before each step, frozen for the first "epoch", queue filled after each step.
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { simclrLoss } from "../arb/losses/simclr.ts";
import { vicregLoss } from "../arb/losses/vicreg.ts";
import { wmseLoss } from "../arb/losses/wmse.ts";
import { swavLoss } from "../arb/losses/swav.ts";
import { swavState } from "../arb/losses/swav_state.ts";
import { assert } from "./assert.ts";

await tf.setBackend("cpu");

const [POINTS, IN, HIDDEN, OUT, BATCH, STEPS, STEPS_PER_EPOCH] = [512, 8, 32, 16, 64, 80, 10];
/** W-MSE whitens every embedding dimension: the toy data (8-d inputs, noise 0.2 against a
 * spread of 0.3) has only a few invariant directions, so its embedding is kept at 4. */
const OUT_WMSE = 4;

/** Seeded points around 6 cluster centres in R^8. */
function clusteredData(rng: Rng): Float32Array {
  const centres = Array.from({ length: 6 }, () => Array.from({ length: IN }, () => rng.normal()));
  const x = new Float32Array(POINTS * IN);
  for (let i = 0; i < POINTS; i++) {
    const c = centres[rng.int(centres.length)];
    for (let j = 0; j < IN; j++) x[i * IN + j] = c[j] + 0.3 * rng.normal();
  }
  return x;
}

/** Two noisy views of the given rows. */
function views(data: Float32Array, rows: number[], rng: Rng): [tf.Tensor2D, tf.Tensor2D] {
  const make = () => {
    const v = new Float32Array(rows.length * IN);
    rows.forEach((r, i) => {
      for (let j = 0; j < IN; j++) v[i * IN + j] = data[r * IN + j] + 0.2 * rng.normal();
    });
    return tf.tensor2d(v, [rows.length, IN]);
  };
  return [make(), make()];
}

function mlp(rng: Rng, out: number) {
  // tf.tidy frees each initial value; the variables survive it.
  const init = (fanIn: number, fanOut: number) =>
    tf.tidy(() =>
      tf.variable(tf.tensor2d(
        Array.from({ length: fanIn * fanOut }, () => rng.normal() * Math.sqrt(2 / fanIn)),
        [fanIn, fanOut],
      ))
    );
  const w1 = init(IN, HIDDEN);
  const b1 = tf.tidy(() => tf.variable(tf.zeros([HIDDEN])));
  const w2 = init(HIDDEN, out);
  const apply = (x: tf.Tensor2D) => tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2);
  return { variables: [w1, b1, w2], apply: apply as (x: tf.Tensor2D) => tf.Tensor2D };
}

type Options = (step: number) => Record<string, unknown>;

/** Trains and returns the held-out loss before and after. */
function train(
  loss: typeof simclrLoss,
  options: Options,
  evalOptions: Options,
  extra: {
    variables?: tf.Variable[];
    frozen?: (epoch: number) => boolean;
    after?: (epoch: number, z1: tf.Tensor2D, z2: tf.Tensor2D) => void;
    out?: number;
  } = {},
) {
  const rng = new Rng(42);
  const data = clusteredData(rng);
  const net = mlp(rng, extra.out ?? OUT);
  const evalRows = Array.from({ length: 128 }, (_, i) => i);
  const [e1, e2] = views(data, evalRows, rng);
  const evaluate = () =>
    tf.tidy(() => loss(net.apply(e1), net.apply(e2), evalOptions(0)).dataSync()[0]);
  const before = evaluate();
  const optimizer = tf.train.adam(0.01);
  for (let step = 0; step < STEPS; step++) {
    const epoch = Math.floor(step / STEPS_PER_EPOCH);
    const rows = Array.from({ length: BATCH }, () => 128 + rng.int(POINTS - 128));
    const [x1, x2] = views(data, rows, rng);
    const trainable = [
      ...net.variables,
      ...(extra.frozen?.(epoch) ? [] : extra.variables ?? []),
    ];
    const opts = options(step);
    optimizer.minimize(
      () => loss(net.apply(x1), net.apply(x2), opts),
      false,
      trainable,
    );
    if (extra.after) {
      const after = extra.after;
      tf.tidy(() => after(epoch, net.apply(x1), net.apply(x2)));
    }
    tf.dispose([x1, x2]);
  }
  const after = evaluate();
  optimizer.dispose();
  tf.dispose([e1, e2, ...net.variables]);
  return { before, after };
}

function assertDrops(name: string, r: { before: number; after: number }, factor: number) {
  assert(
    Number.isFinite(r.after) && r.after < factor * r.before,
    `${name}: held-out loss ${r.before.toFixed(4)} -> ${r.after.toFixed(4)}, ` +
      `expected below ${factor} x the start`,
  );
}

Deno.test("simclr trains: held-out NT-Xent drops", () => {
  const r = train(simclrLoss, () => ({ temperature: 0.1 }), () => ({ temperature: 0.1 }));
  assertDrops("simclr", r, 0.8);
});

Deno.test("vicreg trains: held-out loss drops", () => {
  const r = train(vicregLoss, () => ({}), () => ({}));
  assertDrops("vicreg", r, 0.3);
});

Deno.test("wmse trains: held-out loss drops (two sub-batches of 32 per view)", () => {
  const rng = new Rng(7);
  const r = train(wmseLoss, () => ({ w_size: 32, rng }), () => ({ w_size: 128 }), {
    out: OUT_WMSE,
  });
  assertDrops("wmse", r, 0.3);
});

Deno.test("swav trains through its method state: held-out loss drops, no tensors leak", () => {
  const before = tf.memory().numTensors;
  const params = { num_prototypes: 10, queue_length: 128, epoch_queue_starts: 3 };
  const state = swavState({
    projectorDim: OUT,
    rng: new Rng(3),
    params: { ...params, freeze_prototypes_epochs: 1 },
  });
  const options = (step: number) => ({
    ...params,
    ...state.lossOptions({ epoch: Math.floor(step / STEPS_PER_EPOCH), step }),
  });
  const evalOptions = () => ({ prototypes: state.prototypes });
  const r = train(swavLoss, options, evalOptions, {
    variables: state.variables,
    frozen: (epoch) => state.frozen({ epoch }),
    after: (epoch, z1, z2) => state.afterStep({ epoch, step: 0, z1, z2 }),
  });
  assert(state.lossOptions({ epoch: 8, step: 80 }).queue !== null, "queue in use by the end");
  assertDrops("swav", r, 0.6);
  state.dispose();
  assert(tf.memory().numTensors === before, `tensors leaked: ${tf.memory().numTensors - before}`);
});
