/**
 * Where each downloadable dataset lives and what its files must hash to, with the origin of
 * every checksum.
 *
 * CIFAR (https://www.cs.toronto.edu/~kriz/cifar.html): the page publishes md5 sums of the
 * archives. It publishes no sha256; the sha256 values below are the ones other loaders pin
 * for the same files, and they agree with each other:
 * - JuliaML/MLDatasets.jl `src/datasets/vision/cifar10.jl` and `cifar100.jl` (DataDeps
 *   registrations of the binary archives),
 * - ankane/torchvision-ruby `lib/torchvision/datasets/cifar10.rb` and `cifar100.rb`.
 * The md5s are also the git-annex keys of the archives in datasets-mila/datasets--cifar100
 * (`MD5E-s170052171--c32a1d4a...` and `MD5E-s168513733--03b5dce0...`, with the byte sizes),
 * and its `md5sums` file. (torchvision's `cifar.py` lists md5s of the *python* archives, not
 * of these binary ones.) We check both md5 and sha256 of the canonical download, and write
 * the sha256 of what we read into meta.json.
 *
 * Fashion-MNIST (https://github.com/zalandoresearch/fashion-mnist, README "Get the Data"):
 * the README publishes the md5 of each `.gz` and the S3 download links. The sha256 of each
 * `.gz` is the value pinned by FluxML/Flux.jl `src/data/fashion-mnist.jl` (and by many other
 * loaders). Debian's `dataset-fashion-mnist` recompresses the files, so its `.gz` bytes
 * differ; the sha256 of the *decompressed* files (measured on Debian's package, issue 4) is
 * checked for every source, Debian's or upstream's.
 */
import type { Expect } from "./acquire.ts";

/** One file of a dataset. */
export interface CatalogFile {
  file: string;
  /** Checksums of the canonical bytes (those served at the canonical URLs). */
  canonical: Expect;
  /** sha256 of the gunzipped bytes, checked for every source when set. */
  contentSha256?: string;
}

/** A place that holds all of a dataset's files under their names. */
export interface CatalogBase {
  /** URL prefix or local folder, ending in "/". */
  base: string;
  /** True when it serves the canonical bytes (false: recompressed, check content only). */
  canonicalBytes: boolean;
}

/** A downloadable dataset. */
export interface CatalogEntry {
  files: CatalogFile[];
  bases: CatalogBase[];
}

/** Debian's `dataset-fashion-mnist` package puts the four files here. */
export const DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist/";

/** Fashion-MNIST's class names, from the README's label table. */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** The downloadable datasets by name. */
export const catalog: Record<"cifar10" | "cifar100" | "fashion-mnist", CatalogEntry> = {
  cifar10: {
    files: [{
      file: "cifar-10-binary.tar.gz",
      canonical: {
        md5: "c32a1d4ab5d03f1284b67883e8d87530",
        sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
      },
    }],
    bases: [{ base: "https://www.cs.toronto.edu/~kriz/", canonicalBytes: true }],
  },
  cifar100: {
    files: [{
      file: "cifar-100-binary.tar.gz",
      canonical: {
        md5: "03b5dce01913d631647c71ecec9e9cb8",
        sha256: "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
      },
    }],
    bases: [{ base: "https://www.cs.toronto.edu/~kriz/", canonicalBytes: true }],
  },
  "fashion-mnist": {
    files: [
      {
        file: "train-images-idx3-ubyte.gz",
        canonical: {
          md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
          sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        },
        contentSha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
      },
      {
        file: "train-labels-idx1-ubyte.gz",
        canonical: {
          md5: "25c81989df183df01b3e8a0aad5dffbe",
          sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        },
        contentSha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
      },
      {
        file: "t10k-images-idx3-ubyte.gz",
        canonical: {
          md5: "bef4ecab320f06d8554ea6380940ec79",
          sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        },
        contentSha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
      },
      {
        file: "t10k-labels-idx1-ubyte.gz",
        canonical: {
          md5: "bb300cfdad3c16e7a12a480ee83cd310",
          sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        contentSha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
      },
    ],
    bases: [
      { base: DEBIAN_FASHION_MNIST, canonicalBytes: false },
      { base: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", canonicalBytes: true },
      {
        base:
          "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        canonicalBytes: true,
      },
    ],
  },
};
