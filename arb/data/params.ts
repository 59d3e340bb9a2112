/**
 * Parameters of the `fetch_dataset` stage (its YAML `with:`), validated once at the edge.
 * Light on purpose (zod only): the stage module imports it at the top level.
 */
import { z } from "zod";

/** Dataset names `fetch_dataset` knows. */
export const datasetNames = ["cifar10", "cifar100", "fashion-mnist", "image-folder"] as const;

/** Schema of `with:` for `uses: fetch_dataset`. */
export const FetchParams = z.object({
  /** Which dataset. */
  dataset: z.enum(datasetNames),
  /**
   * Replaces the canonical list of places to get the files from, tried in order: URLs or local
   * paths; for a dataset of several files (Fashion-MNIST), folders or URLs ending in "/".
   */
  sources: z.array(z.string().min(1)).min(1).optional(),
  /** Expected sha256 of a custom single-file source whose bytes differ from the published file. */
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits")
    .transform((s) => s.toLowerCase()).optional(),
  /** image-folder: the folder holding `train/<class>/*` and `val/<class>/*` (or `test/`). */
  root: z.string().min(1).optional(),
  /** Keep a seeded subset of the train and/or test split. */
  subset: z.object({
    /** Train images to keep. */
    train: z.number().int().positive().optional(),
    /** Test images to keep (for smoke runs: test accuracy on a subset is not comparable). */
    test: z.number().int().positive().optional(),
    /** Seed of the draw (default 0). */
    seed: z.number().int().default(0),
    /** Equal share per class (default false). */
    balanced: z.boolean().default(false),
  }).strict().optional(),
  /** image-folder: side of the square images after the resize (shorter side) and center crop. */
  size: z.number().int().min(8).max(1024).optional(),
}).strict().superRefine((p, ctx) => {
  const bad = (path: string, message: string) =>
    ctx.addIssue({ code: "custom", path: [path], message });
  if (p.dataset === "image-folder") {
    if (!p.root) {
      bad("root", "image-folder needs `root`: the folder with train/ and val/ (or test/)");
    }
    if (!p.size) {
      bad("size", "image-folder needs `size`: the side of the stored square images, e.g. 64");
    }
    if (p.sources) {
      bad("sources", "image-folder reads `root`; `sources` is for downloaded datasets");
    }
    if (p.sha256) bad("sha256", "image-folder reads `root`; `sha256` is for downloaded datasets");
  } else {
    if (p.root) {
      bad("root", `${p.dataset} is downloaded: give a mirror or local copy in \`sources\``);
    }
    if (p.size) bad("size", `${p.dataset} has a fixed image size; \`size\` is for image-folder`);
  }
  if (p.subset && p.subset.train === undefined && p.subset.test === undefined) {
    bad("subset", "subset needs `train` and/or `test`: the number of images to keep");
  }
  if (p.dataset === "image-folder" && p.subset?.test !== undefined) {
    bad(
      "subset",
      "image-folder keeps its whole val split; `subset.test` is for downloaded datasets",
    );
  }
  if (p.sha256 && !p.sources) {
    bad("sha256", "`sha256` states the hash of a custom source: give `sources` too");
  }
  if (p.sha256 && p.dataset === "fashion-mnist") {
    bad("sha256", "fashion-mnist has four files, each checked by its content hash; drop `sha256`");
  }
});

/** Validated `fetch_dataset` parameters. */
export type FetchParams = z.output<typeof FetchParams>;
