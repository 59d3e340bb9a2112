/**
 * `fetch_dataset`: gets a dataset verified (checksums, shared download cache) and writes the
 * normalised dataset folder (`docs/contracts.md`, "Dataset folder") as the stage output.
 *
 * ```yaml
 * data:
 *   uses: fetch_dataset
 *   with: { dataset: cifar10 }            # or cifar100, fashion-mnist, image-folder
 * ```
 */
import type { StageKind } from "../pipeline/types.ts";
import { FetchParams } from "../arb/data/params.ts";

/** The `fetch_dataset` stage kind. */
export const fetchDatasetKind: StageKind<typeof FetchParams> = {
  name: "fetch_dataset",
  version: "1",
  description: "fetch and verify a dataset (CIFAR-10/100, Fashion-MNIST, image folder) " +
    "and write it as a normalised dataset folder",
  schema: FetchParams,
  async run(ctx) {
    const { fetchDataset } = await import("../arb/data/fetch.ts");
    await fetchDataset(ctx.params, {
      cacheDir: ctx.cacheDir,
      outDir: ctx.outDir,
      progress: (p) => ctx.progress(p),
      log: (m) => ctx.log(m),
      signal: ctx.signal,
    });
  },
};

export default fetchDatasetKind;
