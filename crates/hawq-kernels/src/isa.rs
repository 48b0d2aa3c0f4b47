//! Instruction-set levels, runtime detection (once, cached) and the `HAWQ_ISA` override.
//!
//! `HAWQ_ISA=scalar|avx2|avx512vnni` forces a level. Asking for a level this CPU lacks is an
//! error ([`KernelError::IsaUnsupported`]) returned by [`isa`] and by every kernel entry point:
//! hawq never silently runs a different ISA than the one requested.

use crate::error::KernelError;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// An instruction-set level a kernel can run on. Every level gives bit-identical results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust, the reference: always available.
    Scalar,
    /// x86-64 AVX2 (`vpmaddwd` on sign/zero-extended 16-bit operands).
    Avx2,
    /// x86-64 AVX-512 F/BW/VL + VNNI (`vpdpbusd`).
    Avx512Vnni,
}

impl Isa {
    /// Every level, weakest first.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512Vnni];

    /// Whether this CPU can run the level.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The best level this CPU supports.
    pub fn best() -> Isa {
        Isa::ALL.into_iter().rev().find(|i| i.is_supported()).unwrap_or(Isa::Scalar)
    }

    /// `Ok(self)` if supported here, else the typed refusal.
    pub fn check(self) -> Result<Isa, KernelError> {
        if self.is_supported() {
            Ok(self)
        } else {
            Err(KernelError::IsaUnsupported { requested: self, best: Isa::best() })
        }
    }

    /// The name used by `HAWQ_ISA` and [`fmt::Display`].
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512Vnni => "avx512vnni",
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isa {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Isa, KernelError> {
        Isa::ALL
            .into_iter()
            .find(|i| i.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| KernelError::BadIsaName { value: s.to_string() })
    }
}

/// Resolves an optional `HAWQ_ISA` value: unset or empty → the best level; otherwise that level,
/// if this CPU has it.
pub fn resolve_isa(requested: Option<&str>) -> Result<Isa, KernelError> {
    match requested {
        None => Ok(Isa::best()),
        Some(s) if s.trim().is_empty() => Ok(Isa::best()),
        Some(s) => s.parse::<Isa>()?.check(),
    }
}

/// The process-wide ISA: `HAWQ_ISA` if set (and supported), else the best level. Detected once
/// and cached; an unusable `HAWQ_ISA` is reported on every call, never replaced by another ISA.
pub fn isa() -> Result<Isa, KernelError> {
    static CHOSEN: OnceLock<Result<Isa, KernelError>> = OnceLock::new();
    CHOSEN.get_or_init(|| resolve_isa(std::env::var("HAWQ_ISA").ok().as_deref())).clone()
}
