/**
 * Data benchmark (`deno task bench data`): Fashion-MNIST fetched from Debian's package into a
 * dataset folder, that folder read back (target: well under a second), and the seeded loader's
 * throughput at batch 256 on the tfjs `cpu` backend. Timings are wall-clock on whatever machine
 * runs it; on a shared machine, read them as rough.
 */
import { join } from "node:path";
import { DEBIAN_FASHION_MNIST } from "../arb/data/catalog.ts";
import { fetchDataset } from "../arb/data/fetch.ts";
import { createLoader } from "../arb/data/loader.ts";
import { FetchParams } from "../arb/data/params.ts";
import { readDataset } from "../arb/data/reader.ts";
import { tf } from "../arb/tf.ts";
import { median } from "./lib/timing.ts";

/** Runs the data benchmark and prints one line per figure. */
export async function benchData(): Promise<Record<string, number>> {
  if (!(await Deno.stat(DEBIAN_FASHION_MNIST).catch(() => null))) {
    console.log(
      `bench data: skipped, ${DEBIAN_FASHION_MNIST} is absent (apt install dataset-fashion-mnist)`,
    );
    return {};
  }
  const tmp = await Deno.makeTempDir({ prefix: "arb-bench-data-" });
  try {
    const out = join(tmp, "fmnist");
    let t = performance.now();
    await fetchDataset(FetchParams.parse({ dataset: "fashion-mnist" }), {
      cacheDir: tmp,
      outDir: out,
    });
    const fetchS = (performance.now() - t) / 1000;

    const reads: number[] = [];
    let ds = await readDataset(out);
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      ds = await readDataset(out);
      reads.push((performance.now() - t) / 1000);
    }
    const readS = median(reads);

    await tf.setBackend("cpu");
    const loader = createLoader({
      data: ds.split("train"),
      batchSize: 256,
      seed: 0,
      dropLast: true,
    });
    t = performance.now();
    let batches = 0;
    for await (const b of loader.epoch(0)) {
      b.images.dispose();
      b.labels.dispose();
      batches++;
    }
    const loaderS = (performance.now() - t) / 1000;
    const figures = {
      fetch_fashion_mnist_debian_s: fetchS,
      read_fashion_mnist_folder_s: readS,
      loader_batches_per_s: batches / loaderS,
      loader_images_per_s: (batches * 256) / loaderS,
    };
    console.log(`fetch fashion-mnist (Debian files -> dataset folder): ${fetchS.toFixed(2)} s`);
    console.log(
      `readDataset (60000 + 10000 images, median of 5):      ${(readS * 1000).toFixed(1)} ms`,
    );
    console.log(
      `loader, batch 256, cpu backend, one epoch (${batches} batches): ` +
        `${figures.loader_batches_per_s.toFixed(0)} batches/s (${
          figures.loader_images_per_s.toFixed(0)
        } img/s)`,
    );
    if (readS >= 1) {
      console.log("WARNING: reading the folder took a second or more (target: well under 1 s)");
    }
    return figures;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) await benchData();
