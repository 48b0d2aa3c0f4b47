//! Turning a `--data` argument into a labelled dataset and float batches.

use crate::args::DataArgs;
use anyhow::{Context as _, Result, bail};
use hawq_data::{Dataset, Normalize, Split};
use hawq_ir::Tensor;
use std::path::Path;

/// Loads the `split` of the data named by `args`.
pub fn load(args: &DataArgs, split: Split) -> Result<Dataset> {
    let ds = match args.data.as_str() {
        "fmnist-subset" => hawq_data::load_fmnist_subset(split)?,
        "fmnist" => hawq_data::load_fmnist_full(None, split)?,
        spec if spec.contains(':') && spec.ends_with(".npy") => {
            let (x, y) = spec.split_once(':').expect("checked contains(':')");
            Dataset::from_npy(x, y, &Normalize::identity(1))
                .with_context(|| format!("loading {spec}"))?
        }
        dir if Path::new(dir).is_dir() => {
            let root = Path::new(dir);
            let sub = match split {
                Split::Train => root.join("train"),
                Split::Test => root.join("val"),
            };
            let root = if sub.is_dir() { sub } else { root.to_path_buf() };
            hawq_data::load_image_folder(&root, &hawq_data::ImageFolderConfig::imagenet())?
        }
        other => bail!(
            "--data '{other}': expected fmnist-subset, fmnist, an image folder, or IMAGES.npy:LABELS.npy"
        ),
    };
    if ds.is_empty() {
        bail!("--data '{}' holds no images", args.data);
    }
    Ok(ds)
}

/// The images `range` of a dataset as one NCHW tensor.
pub fn batch(ds: &Dataset, range: std::ops::Range<usize>) -> Tensor {
    let [c, h, w] = ds.shape;
    let per = ds.image_len();
    let data = ds.images[range.start * per..range.end * per].to_vec();
    Tensor::new(vec![range.len(), c, h, w], data).expect("dataset sizes were validated on load")
}

/// Consecutive batch ranges over the first `n` images.
pub fn ranges(n: usize, batch: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let b = batch.max(1);
    (0..n.div_ceil(b)).map(move |i| i * b..((i + 1) * b).min(n))
}
