//! Seeded shuffling, batching and augmentation.

use hawq_data::{
    Augment, DataError, Dataset, LoaderConfig, Normalize, epoch_batches, epoch_seed, seeded_rng,
    shuffled_indices,
};

/// `n` images of shape `shape` whose pixel values are unique (image index · 1000 + offset).
fn numbered(n: usize, shape: [usize; 3], classes: usize) -> Dataset {
    let len: usize = shape.iter().product();
    let images = (0..n * len).map(|i| ((i / len) * 1000 + i % len) as f32).collect();
    let labels = (0..n).map(|i| (i % classes) as u32).collect();
    Dataset::new(images, labels, shape, classes).unwrap()
}

fn collect(ds: &Dataset, config: &LoaderConfig, seed: u64) -> Vec<(Vec<f32>, Vec<u32>)> {
    epoch_batches(ds, config, seed).unwrap().collect()
}

#[test]
fn same_seed_same_batches_other_seed_other_order() {
    let ds = numbered(50, [1, 3, 3], 5);
    let config = LoaderConfig::train(8, Some(Augment::crop_flip(1, &Normalize::identity(1))));
    let a = collect(&ds, &config, epoch_seed(7, 0));
    assert_eq!(a, collect(&ds, &config, epoch_seed(7, 0)));
    let b = collect(&ds, &config, epoch_seed(7, 1));
    assert_ne!(
        a.iter().map(|x| &x.1).collect::<Vec<_>>(),
        b.iter().map(|x| &x.1).collect::<Vec<_>>()
    );

    // Each image is visited exactly once per epoch.
    let order = epoch_batches(&ds, &config, 3).unwrap().order().to_vec();
    assert_eq!(order, shuffled_indices(50, 3));
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    let labels: Vec<u32> = collect(&ds, &config, 3).into_iter().flat_map(|b| b.1).collect();
    assert_eq!(labels, order.iter().map(|&i| ds.labels[i]).collect::<Vec<_>>());
}

#[test]
fn batch_sizes_and_eval_order() {
    let ds = numbered(10, [1, 2, 2], 3);
    let eval = LoaderConfig::eval(4);
    let batches = epoch_batches(&ds, &eval, 0).unwrap();
    assert_eq!(batches.len(), 3);
    let got = batches.collect::<Vec<_>>();
    assert_eq!(got.iter().map(|b| b.1.len()).collect::<Vec<_>>(), vec![4, 4, 2]);
    assert!(got.iter().all(|(x, y)| x.len() == y.len() * 4));
    // No shuffle, no augmentation: the batches are the dataset itself, in order.
    assert_eq!(got.iter().flat_map(|b| b.0.clone()).collect::<Vec<_>>(), ds.images);
    let drop = LoaderConfig { drop_last: true, ..eval };
    assert_eq!(collect(&ds, &drop, 0).len(), 2);

    let zero = LoaderConfig::eval(0);
    assert!(matches!(epoch_batches(&ds, &zero, 0), Err(DataError::Invalid { .. })));
    let rgb_fill = LoaderConfig::train(2, Some(Augment::crop_flip(1, &Normalize::imagenet())));
    assert!(matches!(epoch_batches(&ds, &rgb_fill, 0), Err(DataError::Invalid { .. })));
}

#[test]
fn augmentation_keeps_shape_and_is_a_shifted_flipped_copy() {
    let (c, h, w, pad) = (2, 6, 5, 2);
    let ds = numbered(30, [c, h, w], 3);
    let fill = -7.0;
    let augment = Augment { pad, hflip: true, fill: vec![fill; c] };
    let config =
        LoaderConfig { batch_size: 30, shuffle: false, drop_last: false, augment: Some(augment) };
    let (images, labels) = collect(&ds, &config, 11).remove(0);
    assert_eq!((images.len(), labels), (ds.images.len(), ds.labels.clone()));
    assert_eq!(collect(&ds, &config, 11)[0].0, images, "same seed, same augmentation");
    assert_ne!(collect(&ds, &config, 12)[0].0, images);

    let (mut flips, mut shifts) = (0, std::collections::HashSet::new());
    for (i, out) in images.chunks_exact(c * h * w).enumerate() {
        let src = ds.image(i).unwrap();
        // Find the (flip, dy, dx) that explains the output; there must be exactly one.
        let candidates: Vec<(bool, usize, usize)> = (0..2)
            .flat_map(|f| {
                (0..=2 * pad).flat_map(move |dy| (0..=2 * pad).map(move |dx| (f == 1, dy, dx)))
            })
            .filter(|&(flip, dy, dx)| {
                (0..c).all(|ch| {
                    (0..h).all(|y| {
                        (0..w).all(|x| {
                            let ox = if flip { w - 1 - x } else { x };
                            let (sy, sx) = ((y + dy).checked_sub(pad), (ox + dx).checked_sub(pad));
                            let want = match (sy, sx) {
                                (Some(sy), Some(sx)) if sy < h && sx < w => {
                                    src[ch * h * w + sy * w + sx]
                                }
                                _ => fill,
                            };
                            out[ch * h * w + y * w + x] == want
                        })
                    })
                })
            })
            .collect();
        assert!(!candidates.is_empty(), "image {i} is not a crop/flip of its source");
        let (flip, dy, dx) = candidates[0];
        flips += usize::from(flip);
        shifts.insert((dy, dx));
    }
    // 30 draws: both flip outcomes and several offsets must occur.
    assert!((5..=25).contains(&flips), "{flips} flips out of 30");
    assert!(shifts.len() >= 5, "only offsets {shifts:?}");
}

#[test]
fn no_op_augmentation_is_the_identity() {
    let ds = numbered(4, [1, 3, 3], 2);
    let none = Augment { pad: 0, hflip: false, fill: vec![0.0] };
    let mut rng = seeded_rng(0, 0);
    let mut out = vec![0.0; 9];
    none.apply(ds.image(2).unwrap(), ds.shape, &mut rng, &mut out).unwrap();
    assert_eq!(out, ds.image(2).unwrap());
    let err = none.apply(ds.image(2).unwrap(), [1, 3, 4], &mut rng, &mut out).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }));
}

#[test]
fn fashion_mnist_augment_pads_with_black() {
    let a = Augment::fashion_mnist();
    assert_eq!(a.pad, 2);
    assert_eq!(a.fill, vec![-0.2860 / 0.3530]);
}

#[test]
fn dataset_invariants_are_checked() {
    assert!(Dataset::new(vec![0.0; 7], vec![0, 1], [1, 2, 2], 2).is_err());
    assert!(Dataset::new(vec![0.0; 8], vec![0, 2], [1, 2, 2], 2).is_err());
    assert!(Dataset::new(vec![], vec![], [0, 2, 2], 2).is_err());
    let ds = Dataset::new(vec![0.0; 8], vec![0, 1], [1, 2, 2], 2).unwrap();
    assert!(ds.clone().with_class_names(vec!["a".into()]).is_err());
    let sub = ds.subset(&[1, 1, 0]).unwrap();
    assert_eq!((sub.len(), sub.labels), (3, vec![1, 1, 0]));
    assert!(ds.subset(&[2]).is_err());
    // A dataset whose public fields were edited inconsistently is refused by the loader.
    let mut broken = ds.clone();
    broken.images.pop();
    assert!(epoch_batches(&broken, &LoaderConfig::eval(1), 0).is_err());
}
