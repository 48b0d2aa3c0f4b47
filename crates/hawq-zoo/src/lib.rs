//! # hawq-zoo
//!
//! Built-in CNNs as [`hawq_ir::Graph`]s with deterministic, seeded parameters: torchvision's
//! ResNet-18/34/50 (v1.5), MobileNetV2 and Inception-v3 (no auxiliary head), and He et al.'s
//! CIFAR ResNet-20/32/56.
//!
//! Conventions shared by every model:
//! - one input value `input` of shape `[N, c, h, w]` and one output value `logits`
//!   (`[N, num_classes]`);
//! - node names are torchvision module paths (`layer1.0.conv1`, `features.3.conv.1.0`,
//!   `Mixed_5b.branch1x1.conv`); functional pieces get unique names in the same style
//!   (`layer1.0.add`, `layer1.0.relu2`, `Mixed_5b.concat`); each node's output value carries
//!   the node's name, except the final classifier's, which is `logits`;
//! - parameter names are exactly torchvision's `state_dict` keys (`conv1.weight`,
//!   `bn1.running_var`, `fc.bias`), so pretrained weights load by name;
//! - every model uses torchvision's ResNet initialization: kaiming-normal (fan-out, ReLU gain)
//!   convs, identity BN, `nn.Linear`'s uniform ±1/√fan_in classifier (torchvision's own
//!   MobileNetV2/Inception classifier inits differ; untrained weights only serve tests);
//!   `randomize_bn` draws non-trivial BN statistics instead, so BN folding can be tested on
//!   untrained models.
//!
//! ```
//! let opts = hawq_zoo::ZooOptions::for_model("resnet20")?;
//! let graph = hawq_zoo::build("resnet20", &opts)?;
//! assert_eq!(graph.outputs, [hawq_zoo::OUTPUT]);
//! assert!(graph.params.contains_key("layer3.2.bn2.running_var"));
//! # Ok::<(), hawq_zoo::ZooError>(())
//! ```

pub mod checkpoint;
mod error;
mod inception;
mod init;
mod mobilenet;
mod net;
mod resnet;

pub use error::ZooError;
pub use net::{INPUT, OUTPUT};

use hawq_ir::Graph;
use resnet::Block;

/// Every model name [`build`] accepts.
const NAMES: [&str; 8] = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet20",
    "resnet32",
    "resnet56",
    "mobilenet_v2",
    "inception_v3",
];

/// Upper bounds on options; they keep parameter allocations to a few hundred MB at most.
const MAX_CHANNELS: usize = 4096;
const MAX_CLASSES: usize = 32_768;
const MAX_SIDE: usize = 8192;

/// The model names [`build`] accepts.
pub fn names() -> &'static [&'static str] {
    &NAMES
}

/// How to build a model: seed, input geometry, classes, BN statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZooOptions {
    /// Seed of every parameter initializer.
    pub seed: u64,
    /// Input channels.
    pub in_channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Classifier outputs.
    pub num_classes: usize,
    /// Draw non-trivial BN statistics (γ ~ U(0.5, 1.5), β ~ U(-0.2, 0.2),
    /// mean ~ U(-0.2, 0.2), var ~ U(0.5, 2)) instead of the identity ones.
    pub randomize_bn: bool,
}

impl ZooOptions {
    /// The model's usual setting (seed 0, identity BN): 3×224×224 with 1000 classes for the
    /// ImageNet models, 3×299×299 for Inception-v3, 3×32×32 with 10 classes for the CIFAR
    /// ResNets.
    pub fn for_model(name: &str) -> Result<ZooOptions, ZooError> {
        let (side, num_classes) = match Model::from_name(name)? {
            Model::Cifar(_) => (32, 10),
            Model::InceptionV3 => (299, 1000),
            Model::ImageNet(..) | Model::MobileNetV2 => (224, 1000),
        };
        Ok(ZooOptions {
            seed: 0,
            in_channels: 3,
            height: side,
            width: side,
            num_classes,
            randomize_bn: false,
        })
    }

    fn validate(&self, model: &str) -> Result<(), ZooError> {
        let checks: [(&'static str, usize, usize); 4] = [
            ("in_channels", self.in_channels, MAX_CHANNELS),
            ("height", self.height, MAX_SIDE),
            ("width", self.width, MAX_SIDE),
            ("num_classes", self.num_classes, MAX_CLASSES),
        ];
        match checks.into_iter().find(|&(_, value, max)| value == 0 || value > max) {
            Some((option, value, max)) => {
                Err(ZooError::InvalidOption { model: model.to_string(), option, value, max })
            }
            None => Ok(()),
        }
    }
}

/// The architectures behind the names.
#[derive(Debug, Clone, Copy)]
enum Model {
    ImageNet(Block, [usize; 4]),
    /// CIFAR ResNet with `n` blocks per stage (depth 6n + 2).
    Cifar(usize),
    MobileNetV2,
    InceptionV3,
}

impl Model {
    fn from_name(name: &str) -> Result<Model, ZooError> {
        Ok(match name {
            "resnet18" => Model::ImageNet(Block::Basic, [2, 2, 2, 2]),
            "resnet34" => Model::ImageNet(Block::Basic, [3, 4, 6, 3]),
            "resnet50" => Model::ImageNet(Block::Bottleneck, [3, 4, 6, 3]),
            "resnet20" => Model::Cifar(3),
            "resnet32" => Model::Cifar(5),
            "resnet56" => Model::Cifar(9),
            "mobilenet_v2" => Model::MobileNetV2,
            "inception_v3" => Model::InceptionV3,
            _ => {
                return Err(ZooError::UnknownModel {
                    name: name.to_string(),
                    valid: NAMES.join(", "),
                });
            }
        })
    }
}

/// Builds model `name` with `opts`. The graph is checked with shape inference before it is
/// returned, so an input the model cannot take (e.g. Inception-v3 below 75×75) is a
/// [`ZooError::Input`] naming the node where it fails.
pub fn build(name: &str, opts: &ZooOptions) -> Result<Graph, ZooError> {
    let model = Model::from_name(name)?;
    opts.validate(name)?;
    let graph = match model {
        Model::ImageNet(block, blocks) => resnet::imagenet(opts, block, blocks)?,
        Model::Cifar(n) => resnet::cifar(opts, n)?,
        Model::MobileNetV2 => mobilenet::mobilenet_v2(opts)?,
        Model::InceptionV3 => inception::inception_v3(opts)?,
    };
    graph.infer_shapes().map_err(|source| ZooError::Input {
        model: name.to_string(),
        channels: opts.in_channels,
        height: opts.height,
        width: opts.width,
        source: Box::new(source),
    })?;
    Ok(graph)
}
