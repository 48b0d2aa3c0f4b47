//! Losses against central differences, the SGD update rule, schedules and checkpoints.

use crate::common::{Builder, Rng, conv_cfg, rel_err};
use hawq_data::Dataset;
use hawq_ir::Activation;
use hawq_train::{
    BackwardOptions, LrSchedule, Mode, Network, Schedule, Sgd, SgdConfig, TrainConfig,
    cross_entropy, distillation, load_checkpoint, save_checkpoint, train,
};

#[test]
fn losses_match_central_differences() {
    let (b, c) = (3, 5);
    let mut rng = Rng(61);
    let s = rng.vec(b * c, -3.0, 3.0);
    let t = rng.vec(b * c, -3.0, 3.0);
    let labels = [4u32, 0, 2];
    type LossFn = Box<dyn Fn(&[f64]) -> hawq_train::LossOutput<f64>>;
    let losses: Vec<LossFn> = vec![
        Box::new(move |z| cross_entropy(z, &labels, c).unwrap()),
        Box::new({
            let t = t.clone();
            move |z| distillation(z, &t, &labels, c, 0.95, 6.0).unwrap()
        }),
        Box::new(move |z| distillation(z, &t, &labels, c, 0.3, 1.5).unwrap()),
    ];
    for f in &losses {
        let out = f(&s);
        for k in 0..s.len() {
            let mut z = s.clone();
            z[k] += 1e-6;
            let up = f(&z).loss;
            z[k] -= 2e-6;
            let fd = (up - f(&z).loss) / 2e-6;
            assert!(rel_err(out.dlogits[k], fd, 1e-6) < 1e-6, "{k}: {} vs {fd}", out.dlogits[k]);
        }
    }
    // Identical teacher and student: the KL term vanishes and only (1 − α)·CE remains.
    let ce = cross_entropy(&s, &labels, c).unwrap().loss;
    let kd = distillation(&s, &s, &labels, c, 0.25, 3.0).unwrap().loss;
    assert!((kd - 0.75 * ce).abs() < 1e-12);
    assert!(cross_entropy(&s, &[5, 0, 0], c).is_err());
}

#[test]
fn sgd_follows_the_pytorch_update_and_skips_bn_decay() {
    let mut bld = Builder::new(1, 4, 4, 71);
    let y = bld.conv(
        "input",
        conv_cfg(1, 2, [3, 3], [1, 1], [1; 4], [1, 1], 1, Activation::None),
        true,
    );
    let y = bld.bn(&y, 2);
    let g = bld.head(&y, 32, 3);
    let mut net = Network::<f64>::from_graph(&g).unwrap();
    let config = SgdConfig { momentum: 0.9, weight_decay: 0.01, decay_bn_and_bias: false };
    let mut sgd = Sgd::new(config, &net);
    let x = Rng(3).vec(2 * 16, -1.0, 1.0);
    let r = Rng(4).vec(2 * 3, -1.0, 1.0);
    let mut w = net.params().to_vec();
    let mut v: Vec<Vec<f64>> = w.iter().map(|p| vec![0.0; p.len()]).collect();
    for _ in 0..2 {
        let tape = net.forward(&x, 2, Mode::Train { dropout_seed: 0 }).unwrap();
        let grads = net.backward(&tape, &r, BackwardOptions::default()).unwrap();
        sgd.step(&mut net, &grads, 0.1).unwrap();
        for (i, info) in net.plan().params().iter().enumerate() {
            if !info.kind.trainable() {
                w[i] = net.params()[i].clone(); // running statistics move with the forward pass
                continue;
            }
            let wd = if info.name.ends_with(".weight") && !info.name.starts_with("bn") {
                0.01
            } else {
                0.0
            };
            for k in 0..w[i].len() {
                v[i][k] = 0.9 * v[i][k] + grads.params[i][k] + wd * w[i][k];
                w[i][k] -= 0.1 * v[i][k];
            }
            assert_eq!(net.params()[i], w[i], "{}", info.name);
        }
    }
}

#[test]
fn schedules_follow_their_formulas() {
    let cos = LrSchedule { base: 0.1, schedule: Schedule::Cosine, epochs: 4, warmup_epochs: 0 };
    let want = [0.1, 0.1 * (0.5 + 0.5 * std::f64::consts::FRAC_1_SQRT_2), 0.05];
    for (e, w) in want.iter().enumerate() {
        assert!((cos.rate(e, 3, 10) - w).abs() < 1e-15);
    }
    let step = LrSchedule {
        base: 1.0,
        schedule: Schedule::Step { every: 2, gamma: 0.1 },
        epochs: 9,
        warmup_epochs: 0,
    };
    let rates: Vec<f64> = (0..5).map(|e| step.rate(e, 0, 1)).collect();
    assert_eq!(rates, [1.0, 1.0, 0.1, 0.1, 0.1f64.powi(2)]);
    let warm = LrSchedule { base: 1.0, schedule: Schedule::Constant, epochs: 3, warmup_epochs: 1 };
    assert_eq!([warm.rate(0, 0, 4), warm.rate(0, 3, 4), warm.rate(2, 0, 4)], [0.25, 1.0, 1.0]);
    assert!(LrSchedule { base: 0.0, ..warm }.validate().is_err());
}

fn tiny_task(seed: u64) -> (hawq_ir::Graph, Dataset) {
    let mut b = Builder::new(1, 6, 6, seed);
    let y =
        b.conv("input", conv_cfg(1, 4, [3, 3], [1, 1], [1; 4], [1, 1], 1, Activation::None), false);
    let y = b.bn(&y, 4);
    let y = b.op(hawq_ir::Op::Relu, &[&y]);
    let g = b.head(&y, 4 * 36, 3);
    let mut rng = Rng(seed + 1);
    let labels: Vec<u32> = (0..40).map(|i| i % 3).collect();
    let images: Vec<f32> = labels
        .iter()
        .flat_map(|&l| {
            (0..36)
                .map(|p| {
                    (if p % 3 == l as usize { 1.0 } else { 0.0 }) + 0.3 * rng.uniform(-1.0, 1.0)
                })
                .collect::<Vec<_>>()
        })
        .map(|v| v as f32)
        .collect();
    (g, Dataset::new(images, labels, [1, 6, 6], 3).unwrap())
}

#[test]
fn resuming_from_a_checkpoint_equals_an_uninterrupted_run() {
    let (graph, data) = tiny_task(81);
    let dir = std::env::temp_dir().join(format!("hawq-train-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.safetensors");
    let mut cfg = TrainConfig::new(2, 0.05);
    cfg.batch_size = 8;
    cfg.threads = 2;
    let mut straight = graph.clone();
    train(&mut straight, &data, &data, &cfg).unwrap();

    let mut resumed = graph.clone();
    cfg.checkpoint = Some(path.clone());
    cfg.resume = true;
    let first = TrainConfig { epochs: 1, ..cfg.clone() };
    train(&mut resumed, &data, &data, &first).unwrap();
    let report = train(&mut resumed, &data, &data, &cfg).unwrap();
    assert_eq!(report.epochs.len(), 1, "only the second epoch runs after resuming");
    assert_eq!(resumed.params, straight.params);

    // The checkpoint round-trips network and optimiser state exactly.
    let mut net = Network::<f32>::from_graph(&graph).unwrap();
    let mut sgd = Sgd::new(SgdConfig::default(), &net);
    assert_eq!(load_checkpoint(&path, &mut net, &mut sgd).unwrap(), 2);
    let again = dir.join("again.safetensors");
    save_checkpoint(&again, &net, &sgd, 2).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
    // A checkpoint of another network is refused and leaves the network unchanged.
    let resnet =
        hawq_zoo::build("resnet20", &hawq_zoo::ZooOptions::for_model("resnet20").unwrap()).unwrap();
    let mut other_net = Network::<f32>::from_graph(&resnet).unwrap();
    let mut other_sgd = Sgd::new(SgdConfig::default(), &other_net);
    let before = other_net.clone();
    assert!(load_checkpoint(&path, &mut other_net, &mut other_sgd).is_err());
    assert_eq!(before, other_net);
    std::fs::remove_dir_all(&dir).unwrap();
}
