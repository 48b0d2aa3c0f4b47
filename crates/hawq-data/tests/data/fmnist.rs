//! The committed Fashion-MNIST subset and the installed full dataset.

use hawq_data::{
    DataError, FMNIST_NUM_CLASSES, Split, default_subset_dir, fashion_mnist_class_names,
    load_fmnist_full, load_fmnist_subset,
};

use crate::temp_dir;

#[test]
fn committed_subset_is_balanced() {
    assert!(default_subset_dir().join("README.md").is_file());
    for (split, n, per_class) in [(Split::Train, 5_000, 500), (Split::Test, 1_000, 100)] {
        let ds = load_fmnist_subset(split).unwrap();
        assert_eq!((ds.len(), ds.shape, ds.num_classes), (n, [1, 28, 28], FMNIST_NUM_CLASSES));
        assert_eq!(ds.class_counts(), vec![per_class; 10]);
        assert_eq!(ds.class_names, Some(fashion_mnist_class_names()));
        // Fashion-MNIST's first train and first test image are both "Ankle boot".
        assert_eq!(ds.labels[0], 9);
        // Normalized u8 pixels: black maps to -mean/std, white to (1-mean)/std.
        let (lo, hi) =
            ds.images.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert_eq!((lo, hi), (-0.2860 / 0.3530, (1.0 - 0.2860) / 0.3530));
        let mean = ds.images.iter().map(|&x| f64::from(x)).sum::<f64>() / ds.images.len() as f64;
        assert!(mean.abs() < 0.1, "normalized mean {mean}");
    }
}

#[test]
fn missing_full_dataset_says_how_to_install_it() {
    let dir = temp_dir();
    let err = load_fmnist_full(Some(dir.path()), Split::Test).unwrap_err();
    assert!(matches!(err, DataError::MissingDataset { .. }));
    let message = err.to_string();
    assert!(message.contains("apt-get install dataset-fashion-mnist"), "{message}");
    assert!(message.contains("t10k-images-idx3-ubyte.gz"), "{message}");
}

/// Needs `apt-get install dataset-fashion-mnist`; run with `cargo test -p hawq-data -- --ignored`.
#[test]
#[ignore = "needs the dataset-fashion-mnist package"]
fn full_dataset_has_the_official_splits() {
    for (split, n) in [(Split::Train, 60_000), (Split::Test, 10_000)] {
        let ds = load_fmnist_full(None, split).unwrap();
        assert_eq!((ds.len(), ds.shape), (n, [1, 28, 28]));
        assert_eq!(ds.class_counts(), vec![n / 10; 10]);
    }
    // The subset is the first 100 test images of each class, in order.
    let full = load_fmnist_full(None, Split::Test).unwrap();
    let subset = load_fmnist_subset(Split::Test).unwrap();
    let mut taken = [0; 10];
    let picked: Vec<usize> = (0..full.len())
        .filter(|&i| {
            let c = full.labels[i] as usize;
            taken[c] += 1;
            taken[c] <= 100
        })
        .collect();
    assert_eq!(full.subset(&picked).unwrap(), subset);
}
