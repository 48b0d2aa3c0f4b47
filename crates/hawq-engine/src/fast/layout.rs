//! How the fast engine stores a value: NHWC (or `[N, F]`) in the narrowest integer type of its
//! format, plus typed views over arena memory and the conversions to/from the reference's
//! NCHW `i32` tensors.

use crate::error::{EngineError, Result};
use crate::qmodel::QValue;
use crate::reference::QTensor;
use hawq_quant::ActFormat;

/// Runs `$body` with `$x` bound to the typed slice of a [`Src`].
macro_rules! with_src {
    ($src:expr, $x:ident => $body:expr) => {
        match $src {
            $crate::fast::layout::Src::U8($x) => $body,
            $crate::fast::layout::Src::I8($x) => $body,
            $crate::fast::layout::Src::I16($x) => $body,
            $crate::fast::layout::Src::I32($x) => $body,
        }
    };
}
/// Runs `$body` with `$x` bound to the typed slice of a [`Dst`].
macro_rules! with_dst {
    ($dst:expr, $x:ident => $body:expr) => {
        match $dst {
            $crate::fast::layout::Dst::U8($x) => $body,
            $crate::fast::layout::Dst::I8($x) => $body,
            $crate::fast::layout::Dst::I16($x) => $body,
            $crate::fast::layout::Dst::I32($x) => $body,
        }
    };
}
pub(crate) use {with_dst, with_src};

/// Element type of a stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// Unsigned 4- or 8-bit (4-bit values take one byte each).
    U8,
    /// Signed 4- or 8-bit (one byte each).
    I8,
    /// Signed 16-bit.
    I16,
    /// Signed 32-bit.
    I32,
}

impl Store {
    /// The storage of a format.
    pub fn of(fmt: ActFormat) -> Store {
        match (fmt.bits, fmt.signed) {
            (0..=8, false) => Store::U8,
            (0..=8, true) => Store::I8,
            (9..=16, _) => Store::I16,
            _ => Store::I32,
        }
    }
    /// Bytes per element.
    pub fn bytes(self) -> usize {
        match self {
            Store::U8 | Store::I8 => 1,
            Store::I16 => 2,
            Store::I32 => 4,
        }
    }
}

/// Per-item geometry of a value: a feature map stored `[H, W, C]`, or flat features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dims {
    /// NCHW value stored NHWC.
    Map {
        /// Height.
        h: usize,
        /// Width.
        w: usize,
        /// Channels.
        c: usize,
    },
    /// `[N, F]` value.
    Flat {
        /// Features.
        f: usize,
    },
}

impl Dims {
    /// Elements per batch item.
    pub fn per_item(self) -> usize {
        match self {
            Dims::Map { h, w, c } => h * w * c,
            Dims::Flat { f } => f,
        }
    }
    /// Channels (features for flat values): the innermost NHWC axis.
    pub fn channels(self) -> usize {
        match self {
            Dims::Map { c, .. } => c,
            Dims::Flat { f } => f,
        }
    }
    /// Pixels per item (1 for flat values).
    pub fn pixels(self) -> usize {
        match self {
            Dims::Map { h, w, .. } => h * w,
            Dims::Flat { .. } => 1,
        }
    }
}

/// Storage and geometry of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Element type.
    pub store: Store,
    /// Geometry.
    pub dims: Dims,
}

impl Layout {
    /// The layout of a validated value (rank 2 or 4, every non-batch dim known).
    pub fn of(v: &QValue) -> Result<Layout> {
        let d = |i: usize| {
            v.shape.fixed_dim(i).ok_or_else(|| EngineError::InvalidModel {
                node: v.name.clone(),
                detail: format!("dimension {i} of {} must be known", v.shape),
            })
        };
        let dims = match v.shape.rank() {
            2 => Dims::Flat { f: d(1)? },
            4 => Dims::Map { c: d(1)?, h: d(2)?, w: d(3)? },
            r => {
                return Err(EngineError::InvalidModel {
                    node: v.name.clone(),
                    detail: format!("the fast engine runs rank-2 and rank-4 values, not rank {r}"),
                });
            }
        };
        Ok(Layout { store: Store::of(v.format), dims })
    }

    /// The NCHW shape of `batch` items.
    pub fn nchw_shape(self, batch: usize) -> Vec<usize> {
        match self.dims {
            Dims::Map { h, w, c } => vec![batch, c, h, w],
            Dims::Flat { f } => vec![batch, f],
        }
    }

    /// Index permutation: NHWC position of the NCHW element `(c, p)` of an item is `p·C + c`.
    pub fn to_nchw(self, src: Src<'_>, batch: usize) -> QTensor {
        let (c, px) = (self.dims.channels(), self.dims.pixels());
        let mut data = vec![0i32; batch * c * px];
        with_src!(src, s => {
            for (item_out, item_in) in data.chunks_exact_mut(c * px).zip(s.chunks_exact(c * px)) {
                for (p, pixel) in item_in.chunks_exact(c).enumerate() {
                    for (ch, &v) in pixel.iter().enumerate() {
                        item_out[ch * px + p] = v.get();
                    }
                }
            }
        });
        QTensor { shape: self.nchw_shape(batch), data }
    }
}

/// An integer element type the engine stores.
pub trait Elem: Copy + Send + Sync + 'static {
    /// Widens to i32.
    fn get(self) -> i32;
    /// Narrows an i32 already clamped into the type's range.
    fn put(v: i32) -> Self;
}

macro_rules! elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            #[inline(always)]
            fn get(self) -> i32 { self as i32 }
            // Callers clamp into a range validated to fit the type, so the cast is exact.
            #[inline(always)]
            fn put(v: i32) -> Self { v as $t }
        }
    )*};
}
elem!(u8, i8, i16, i32);

/// A read view of a stored value.
#[derive(Debug, Clone, Copy)]
pub enum Src<'a> {
    /// u8 elements.
    U8(&'a [u8]),
    /// i8 elements.
    I8(&'a [i8]),
    /// i16 elements.
    I16(&'a [i16]),
    /// i32 elements.
    I32(&'a [i32]),
}

/// A write view of a stored value.
#[derive(Debug)]
pub enum Dst<'a> {
    /// u8 elements.
    U8(&'a mut [u8]),
    /// i8 elements.
    I8(&'a mut [i8]),
    /// i16 elements.
    I16(&'a mut [i16]),
    /// i32 elements.
    I32(&'a mut [i32]),
}

/// Typed views of `len` elements at the start of an arena slot (slots are `i32` words, so every
/// narrower type is aligned).
pub fn src_view(words: &[i32], store: Store, len: usize) -> Src<'_> {
    match store {
        Store::U8 => Src::U8(&bytemuck::cast_slice(words)[..len]),
        Store::I8 => Src::I8(&bytemuck::cast_slice(words)[..len]),
        Store::I16 => Src::I16(&bytemuck::cast_slice(words)[..len]),
        Store::I32 => Src::I32(&words[..len]),
    }
}

/// Mutable counterpart of [`src_view`].
pub fn dst_view(words: &mut [i32], store: Store, len: usize) -> Dst<'_> {
    match store {
        Store::U8 => Dst::U8(&mut bytemuck::cast_slice_mut(words)[..len]),
        Store::I8 => Dst::I8(&mut bytemuck::cast_slice_mut(words)[..len]),
        Store::I16 => Dst::I16(&mut bytemuck::cast_slice_mut(words)[..len]),
        Store::I32 => Dst::I32(&mut words[..len]),
    }
}

/// Words (i32) needed to hold `bytes` bytes.
pub fn words_for(bytes: usize) -> usize {
    bytes.div_ceil(4)
}
