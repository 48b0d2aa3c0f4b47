//! Real training on the committed Fashion-MNIST subset, and determinism.

use crate::common::{Builder, conv_cfg};
use hawq_data::{Augment, Split, load_fmnist_subset};
use hawq_ir::{Activation, MaxPool, Op};
use hawq_train::{Progress, TrainConfig, train, train_with_progress};

/// conv(8)+BN+ReLU → max-pool → conv(16)+BN+ReLU → max-pool → linear(10).
fn small_cnn() -> hawq_ir::Graph {
    let mut b = Builder::new(1, 28, 28, 91);
    let pool = || {
        Op::MaxPool(MaxPool {
            kernel: [2, 2],
            stride: [2, 2],
            pads: [0; 4],
            dilation: [1, 1],
            ceil_mode: false,
        })
    };
    let y =
        b.conv("input", conv_cfg(1, 8, [3, 3], [1, 1], [1; 4], [1, 1], 1, Activation::None), false);
    let y = b.bn(&y, 8);
    let y = b.op(Op::Relu, &[&y]);
    let y = b.op(pool(), &[&y]);
    let y = b.conv(&y, conv_cfg(8, 16, [3, 3], [1, 1], [1; 4], [1, 1], 1, Activation::None), false);
    let y = b.bn(&y, 16);
    let y = b.op(Op::Relu, &[&y]);
    let y = b.op(pool(), &[&y]);
    b.head(&y, 16 * 7 * 7, 10)
}

#[test]
fn one_epoch_on_fashion_mnist_subset_beats_chance_by_far() {
    let train_set = load_fmnist_subset(Split::Train).unwrap();
    let test_set = load_fmnist_subset(Split::Test).unwrap();
    let mut graph = small_cnn();
    let mut cfg = TrainConfig::new(1, 0.05);
    cfg.batch_size = 32;
    cfg.threads = 2;
    let mut steps = 0;
    let mut epochs = 0;
    let report = train_with_progress(&mut graph, &train_set, &test_set, &cfg, &mut |p| match p {
        Progress::Step { .. } => steps += 1,
        Progress::Epoch(_) => epochs += 1,
    })
    .unwrap();
    assert_eq!((steps, epochs), (train_set.len().div_ceil(32), 1));
    eprintln!("1 epoch on {} images: test accuracy {:.3}", train_set.len(), report.test_accuracy);
    // Chance is 10%; this run reaches about 77% (no augmentation, 2 threads).
    assert!(report.test_accuracy >= 0.7, "test accuracy {}", report.test_accuracy);
    assert!(report.epochs[0].train_loss < 2.0);
    // The trained parameters (BN statistics included) went back into the graph.
    assert_ne!(graph.params, small_cnn().params);
}

#[test]
fn training_is_deterministic_for_a_thread_count() {
    let data = load_fmnist_subset(Split::Test).unwrap();
    let subset = data.subset(&(0..256).collect::<Vec<_>>()).unwrap();
    let mut cfg = TrainConfig::new(1, 0.05);
    cfg.batch_size = 64;
    cfg.threads = 2;
    cfg.augment = Some(Augment::fashion_mnist());
    let (mut a, mut b) = (small_cnn(), small_cnn());
    train(&mut a, &subset, &subset, &cfg).unwrap();
    train(&mut b, &subset, &subset, &cfg).unwrap();
    assert_eq!(a.params, b.params);
    cfg.threads = 0;
    assert!(train(&mut a, &subset, &subset, &cfg).is_err());
}
