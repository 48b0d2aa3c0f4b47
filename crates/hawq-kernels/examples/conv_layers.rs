//! Per-layer latency of `conv2d_nhwc` on the conv layers of ResNet18 / ResNet50 (224×224), with
//! 8-bit and 4-bit weights interleaved, one thread: the int4-vs-int8 table of
//! docs/BENCHMARKS.md and the share of the VNNI peak per layer.
//!
//! Usage: `cargo run --release -p hawq-kernels --example conv_layers [resnet18|resnet50|all]
//! [BATCH] [ROUNDS]`. Each round times every (layer, bits) once, interleaved, so machine load
//! hits both alike; reported: the fastest call (≈ a quiet machine) and the median call, in ms,
//! and GOP/s of the fastest. The "model" line sums each layer × its count in the network.
use hawq_kernels::*;
use std::time::Instant;

/// `(name, count in the model, in_hw, in_c, out_c, k, stride)`.
type Layer = (&'static str, usize, usize, usize, usize, usize, usize);

const RESNET18: &[Layer] = &[
    ("stem7x7", 1, 224, 3, 64, 7, 2),
    ("l1.3x3", 4, 56, 64, 64, 3, 1),
    ("l2.3x3s2", 1, 56, 64, 128, 3, 2),
    ("l2.1x1s2", 1, 56, 64, 128, 1, 2),
    ("l2.3x3", 3, 28, 128, 128, 3, 1),
    ("l3.3x3s2", 1, 28, 128, 256, 3, 2),
    ("l3.1x1s2", 1, 28, 128, 256, 1, 2),
    ("l3.3x3", 3, 14, 256, 256, 3, 1),
    ("l4.3x3s2", 1, 14, 256, 512, 3, 2),
    ("l4.1x1s2", 1, 14, 256, 512, 1, 2),
    ("l4.3x3", 3, 7, 512, 512, 3, 1),
];

const RESNET50: &[Layer] = &[
    ("stem7x7", 1, 224, 3, 64, 7, 2),
    ("l1.a1x1.first", 1, 56, 64, 64, 1, 1),
    ("l1.a1x1", 2, 56, 256, 64, 1, 1),
    ("l1.b3x3", 3, 56, 64, 64, 3, 1),
    ("l1.c1x1", 3, 56, 64, 256, 1, 1),
    ("l1.down", 1, 56, 64, 256, 1, 1),
    ("l2.a1x1.first", 1, 56, 256, 128, 1, 1),
    ("l2.b3x3s2", 1, 56, 128, 128, 3, 2),
    ("l2.down", 1, 56, 256, 512, 1, 2),
    ("l2.a1x1", 3, 28, 512, 128, 1, 1),
    ("l2.b3x3", 3, 28, 128, 128, 3, 1),
    ("l2.c1x1", 4, 28, 128, 512, 1, 1),
    ("l3.a1x1.first", 1, 28, 512, 256, 1, 1),
    ("l3.b3x3s2", 1, 28, 256, 256, 3, 2),
    ("l3.down", 1, 28, 512, 1024, 1, 2),
    ("l3.a1x1", 5, 14, 1024, 256, 1, 1),
    ("l3.b3x3", 5, 14, 256, 256, 3, 1),
    ("l3.c1x1", 6, 14, 256, 1024, 1, 1),
    ("l4.a1x1.first", 1, 14, 1024, 512, 1, 1),
    ("l4.b3x3s2", 1, 14, 512, 512, 3, 2),
    ("l4.down", 1, 14, 1024, 2048, 1, 2),
    ("l4.a1x1", 2, 7, 2048, 512, 1, 1),
    ("l4.b3x3", 2, 7, 512, 512, 3, 1),
    ("l4.c1x1", 3, 7, 512, 2048, 1, 1),
];

/// A layer ready to run: geometry, input, packed weights per bit width, epilogue operands.
struct Prepared {
    geom: ConvGeometry,
    x: Vec<u8>,
    packed: [PackedConv; 2],
    bias: Vec<i32>,
    mult: Vec<i32>,
    shift: Vec<i32>,
    out: Vec<u8>,
    macs: f64,
}

fn prepare(&(_, _, hw, cin, cout, k, s): &Layer, batch: usize) -> Prepared {
    let geom = ConvGeometry {
        batch,
        in_h: hw,
        in_w: hw,
        in_c: cin,
        out_c: cout,
        kernel: [k, k],
        stride: [s, s],
        pad: [k / 2; 4],
        dilation: [1, 1],
        groups: 1,
    };
    let (oh, ow) = geom.out_hw().expect("valid geometry");
    let x = (0..batch * hw * hw * cin).map(|i| (i * 31 % 251) as u8).collect();
    let w8: Vec<i8> =
        (0..cout * cin * k * k).map(|i| ((i * 17 % 255) as i32 - 127) as i8).collect();
    let w4: Vec<i8> = w8.iter().map(|&v| v >> 4).collect();
    let packed = [
        PackedConv::new(&w8, &geom, WeightBits::B8).expect("pack int8"),
        PackedConv::new(&w4, &geom, WeightBits::B4).expect("pack int4"),
    ];
    Prepared {
        geom,
        x,
        packed,
        bias: vec![7; cout],
        mult: vec![1_500_000_000; cout],
        shift: vec![40; cout],
        out: vec![0; batch * oh * ow * cout],
        macs: (batch * oh * ow * cout * cin * k * k) as f64,
    }
}

fn run(p: &mut Prepared, bits: usize) -> f64 {
    let epi = Epilogue {
        bias: &p.bias,
        requant: Some(Requant { mult: &p.mult, shift: &p.shift }),
        residual: None,
        lo: 0,
        hi: 255,
    };
    let t0 = Instant::now();
    conv2d_nhwc(
        Isa::best(),
        &p.geom,
        ActIn::U8(&p.x),
        &p.packed[bits],
        &epi,
        OutView { data: OutBuf::U8(&mut p.out), row_stride: p.geom.out_c },
    )
    .expect("conv");
    t0.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let batch: usize = std::env::args().nth(2).map_or(1, |b| b.parse().expect("batch"));
    let rounds: usize = std::env::args().nth(3).map_or(9, |r| r.parse().expect("rounds"));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    println!(
        "isa {}, batch {batch}, 1 thread, {rounds} rounds (ms: fastest / median)",
        Isa::best()
    );
    for (model, layers) in [("resnet18", RESNET18), ("resnet50", RESNET50)] {
        if which != "all" && which != model {
            continue;
        }
        let mut prep: Vec<Prepared> = layers.iter().map(|l| prepare(l, batch)).collect();
        let mut times = vec![[Vec::new(), Vec::new()]; layers.len()];
        pool.install(|| {
            for p in prep.iter_mut() {
                run(p, 0);
                run(p, 1);
            }
            for _ in 0..rounds {
                for (p, t) in prep.iter_mut().zip(times.iter_mut()) {
                    t[0].push(run(p, 0));
                    t[1].push(run(p, 1));
                }
            }
        });
        let (mut tot, mut macs) = ([0.0f64; 2], 0.0);
        println!(
            "{model:9} {:14} {:>16} {:>16} {:>7} {:>9}",
            "layer", "int8 ms", "int4 ms", "4/8", "int8 GOP/s"
        );
        for ((l, p), t) in layers.iter().zip(&prep).zip(times.iter_mut()) {
            let [(b8, m8), (b4, m4)] = [0usize, 1].map(|b| {
                t[b].sort_by(f64::total_cmp);
                (t[b][0], t[b][t[b].len() / 2])
            });
            println!(
                "{:9} {:14} {:7.3} / {:7.3} {:7.3} / {:7.3} {:7.2} {:9.1}",
                "",
                format!("{}×{}", l.0, l.1),
                b8,
                m8,
                b4,
                m4,
                b4 / b8,
                2.0 * p.macs / (b8 / 1e3) / 1e9
            );
            tot[0] += b8 * l.1 as f64;
            tot[1] += b4 * l.1 as f64;
            macs += p.macs * l.1 as f64;
        }
        println!(
            "{model:9} {:14} {:7.3}           {:7.3}           {:7.2} {:9.1}  ({:.0}% of 473)",
            "all convs",
            tot[0],
            tot[1],
            tot[1] / tot[0],
            2.0 * macs / (tot[0] / 1e3) / 1e9,
            100.0 * 2.0 * macs / (tot[0] / 1e3) / 473e9
        );
    }
}
