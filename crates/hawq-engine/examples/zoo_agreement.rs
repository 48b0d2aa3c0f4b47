//! Reports (does not assert) how closely the integer engine follows the float model on every
//! zoo architecture at its native input size, for uniform 8-bit, uniform 4-bit (first and last
//! layer at 8) and a mixed configuration (every other layer at 4 bits).
//!
//! `cargo run --release -p hawq-engine --example zoo_agreement -- [IMAGES] [MODEL…]`
//!
//! There are no pretrained ImageNet weights here, so the models carry hawq's seeded init with
//! randomised BatchNorm statistics, and the images are smooth random patterns plus noise. The
//! table therefore also prints how many distinct classes the float model predicts: agreement
//! on a model that puts every image in one class says little, and the relative logit error is
//! the more telling column. Random-init networks put most of each logit in an input-independent
//! offset, so the table also compares *centred* logits (each class's mean over the images
//! subtracted): their argmax and relative error show whether the integer model follows the part
//! of the output that depends on the image.

use hawq_engine::fast::Plan;
use hawq_engine::{LowerConfig, calibrate::calibrate, lower};
use hawq_ir::{Graph, Op, Tensor};
use hawq_kernels::{Isa, isa};
use std::collections::{BTreeSet, HashMap};
use std::error::Error;
use std::time::Instant;

/// A xorshift generator: deterministic inputs, nothing statistical rides on it.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// `n` images of `c×h×w`: per image and channel, three random plane waves plus 20% noise, so
/// images differ in structure and not only in noise.
fn images(rng: &mut Rng, n: usize, [c, h, w]: [usize; 3]) -> Tensor {
    let mut data = Vec::with_capacity(n * c * h * w);
    for _ in 0..n * c {
        let waves: Vec<[f32; 4]> = (0..3)
            .map(|_| [rng.uniform() * 0.3, rng.uniform() * 0.3, rng.uniform() * 3.0, rng.uniform()])
            .collect();
        for y in 0..h {
            for x in 0..w {
                let s: f32 = waves
                    .iter()
                    .map(|[fy, fx, ph, a]| a * (fy * y as f32 + fx * x as f32 + ph).sin())
                    .sum();
                data.push(s + 0.2 * rng.uniform());
            }
        }
    }
    Tensor::new(vec![n, c, h, w], data).expect("shape matches the data")
}

/// Weight names of conv/linear layers in execution order.
fn layer_names(g: &Graph) -> Result<Vec<String>, Box<dyn Error>> {
    Ok(g.topo_order()?
        .into_iter()
        .filter_map(|i| match &g.nodes[i].op {
            Op::Conv2d(c) => Some(c.weight.clone()),
            Op::Linear(l) => Some(l.weight.clone()),
            _ => None,
        })
        .collect())
}

fn configs(names: &[String]) -> Vec<(&'static str, LowerConfig)> {
    let ends = |bits: &mut HashMap<String, u32>| {
        bits.insert(names[0].clone(), 8);
        bits.insert(names[names.len() - 1].clone(), 8);
    };
    let mut b4 = HashMap::new();
    ends(&mut b4);
    let mut mixed: HashMap<String, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), if i % 2 == 1 { 4 } else { 8 }))
        .collect();
    ends(&mut mixed);
    vec![
        ("uniform-8", LowerConfig::default()),
        ("uniform-4", LowerConfig { bits: b4, default_bits: 4, ..LowerConfig::default() }),
        ("mixed", LowerConfig { bits: mixed, ..LowerConfig::default() }),
    ]
}

fn argmax_rows(t: &Tensor) -> Vec<usize> {
    let c = t.shape()[1];
    t.data()
        .chunks_exact(c)
        .map(|r| r.iter().enumerate().fold(0, |best, (i, &v)| if v > r[best] { i } else { best }))
        .collect()
}

/// The logits with each class's mean over the batch subtracted.
fn centred(t: &Tensor) -> Tensor {
    let (n, c) = (t.shape()[0], t.shape()[1]);
    let mut mean = vec![0f32; c];
    for row in t.data().chunks_exact(c) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v / n as f32);
    }
    let data = t
        .data()
        .chunks_exact(c)
        .flat_map(|row| row.iter().zip(&mean).map(|(v, m)| v - m))
        .collect();
    Tensor::new(vec![n, c], data).expect("same shape")
}

fn agreement(a: &[usize], b: &[usize]) -> String {
    let agree = a.iter().zip(b).filter(|(p, q)| p == q).count();
    format!("{agree}/{} ({:.1}%)", a.len(), 100.0 * agree as f64 / a.len() as f64)
}

/// ‖a − b‖ / ‖b‖ over the whole batch.
fn relative_error(a: &Tensor, b: &Tensor) -> f64 {
    let (mut num, mut den) = (0f64, 0f64);
    for (&p, &q) in a.data().iter().zip(b.data()) {
        num += f64::from(p - q).powi(2);
        den += f64::from(q).powi(2);
    }
    (num / den.max(f64::MIN_POSITIVE)).sqrt()
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map(|s| s.parse()).transpose()?.unwrap_or(32);
    let all = [
        ("resnet20", [1, 28, 28]),
        ("resnet18", [3, 224, 224]),
        ("resnet50", [3, 224, 224]),
        ("mobilenet_v2", [3, 224, 224]),
        ("inception_v3", [3, 299, 299]),
    ];
    let chosen: Vec<_> =
        all.iter().filter(|(m, _)| args.len() < 2 || args[1..].iter().any(|a| a == m)).collect();
    let isa: Isa = isa()?;
    println!("ISA {isa:?}, {n} images per model, calibration on 8 other images");
    println!();
    println!(
        "| model | input | config | float classes | top-1 agreement | rel. logit error | \
         centred classes | centred top-1 agreement | centred rel. error | integer s/img |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &&(name, [c, h, w]) in &chosen {
        let mut opts = hawq_zoo::ZooOptions::for_model(name)?;
        (opts.in_channels, opts.height, opts.width) = (c, h, w);
        opts.randomize_bn = true;
        let mut g = hawq_zoo::build(name, &opts)?;
        hawq_ir::passes::simplify(&mut g)?;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let calib = images(&mut rng, 8, [c, h, w]);
        let ranges = calibrate(&g, [&calib])?;
        let x = images(&mut rng, n, [c, h, w]);
        // The float model, one image at a time to bound the interpreter's memory.
        let mut float_rows = Vec::new();
        for i in 0..n {
            let one = Tensor::new(
                vec![1, c, h, w],
                x.data()[i * c * h * w..(i + 1) * c * h * w].to_vec(),
            )?;
            float_rows.extend_from_slice(hawq_ir::interp::run(&g, &[one])?[0].data());
        }
        let classes = float_rows.len() / n;
        let float = Tensor::new(vec![n, classes], float_rows)?;
        let float_top1 = argmax_rows(&float);
        let distinct: BTreeSet<_> = float_top1.iter().collect();
        let float_c = centred(&float);
        let float_c_top1 = argmax_rows(&float_c);
        let distinct_c: BTreeSet<_> = float_c_top1.iter().collect();
        for (cfg_name, cfg) in configs(&layer_names(&g)?) {
            let model = lower(&g, &ranges, &cfg)?;
            let plan = Plan::new(&model, isa)?;
            let start = Instant::now();
            let out = plan.run(&x, 2)?;
            let per_image = start.elapsed().as_secs_f64() / n as f64;
            let int_c = centred(&out.logits);
            println!(
                "| {name} | {c}×{h}×{w} | {cfg_name} | {} | {} | {:.4} | {} | {} | {:.4} | {per_image:.4} |",
                distinct.len(),
                agreement(&argmax_rows(&out.logits), &float_top1),
                relative_error(&out.logits, &float),
                distinct_c.len(),
                agreement(&argmax_rows(&int_c), &float_c_top1),
                relative_error(&int_c, &float_c),
            );
        }
    }
    Ok(())
}
