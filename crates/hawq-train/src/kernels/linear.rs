//! Fully connected layer `y = act(x Wᵀ + b)` as one GEMM per chunk of batch rows.

use super::elementwise::{activate, mask_by_output};
use super::{ChunkGrad, LayerGrad, items_per_chunk, optional_chunks, sq_norm};
use crate::scalar::{Layout, Real};
use hawq_ir::Activation;
use rayon::prelude::*;

/// Shape and activation of a linear layer.
#[derive(Clone, Copy)]
pub(crate) struct LinearDims {
    pub inf: usize,
    pub outf: usize,
    pub act: Activation,
}

/// `y = act(x Wᵀ + b)` for `batch` rows.
pub(crate) fn forward<T: Real>(
    d: LinearDims,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    batch: usize,
    y: &mut [T],
) {
    let per = items_per_chunk(batch);
    y.par_chunks_mut(per * d.outf).zip(x.par_chunks(per * d.inf)).for_each(|(yc, xc)| {
        let rows = xc.len() / d.inf;
        T::gemm(yc, xc, Layout::Plain, w, Layout::Transposed, rows, d.outf, d.inf, false);
        if let Some(b) = b {
            for row in yc.chunks_mut(d.outf) {
                super::add_into(row, b);
            }
        }
        activate(d.act, yc);
    });
}

/// Backward of [`forward`]. Per-item norms use `‖dW_n‖² = ‖dpre_n‖² · ‖x_n‖²` (an outer
/// product), so they cost no extra GEMM.
#[allow(clippy::too_many_arguments)] // the operands of a linear backward
pub(crate) fn backward<T: Real>(
    d: LinearDims,
    x: &[T],
    w: &[T],
    y: &[T],
    dy: &[T],
    batch: usize,
    dx: Option<&mut [T]>,
    per_item_norms: bool,
) -> LayerGrad<T> {
    let per = items_per_chunk(batch);
    let n_chunks = batch.div_ceil(per);
    let dx_chunks = optional_chunks(dx, per * d.inf, n_chunks);
    let work: Vec<_> = x
        .chunks(per * d.inf)
        .zip(y.chunks(per * d.outf))
        .zip(dy.chunks(per * d.outf))
        .zip(dx_chunks)
        .collect();
    let parts: Vec<ChunkGrad<T>> = work
        .into_par_iter()
        .map(|(((xc, yc), dyc), dxc)| {
            let rows = xc.len() / d.inf;
            let mut dpre = dyc.to_vec();
            mask_by_output(d.act, yc, &mut dpre);
            let mut weight = vec![T::ZERO; w.len()];
            // dW (outf × inf) = dpreᵀ (outf × rows) · x (rows × inf)
            T::gemm(
                &mut weight,
                &dpre,
                Layout::Transposed,
                xc,
                Layout::Plain,
                d.outf,
                d.inf,
                rows,
                false,
            );
            let mut bias = vec![T::ZERO; d.outf];
            for row in dpre.chunks(d.outf) {
                super::add_into(&mut bias, row);
            }
            if let Some(dxc) = dxc {
                T::gemm(dxc, &dpre, Layout::Plain, w, Layout::Plain, rows, d.inf, d.outf, true);
            }
            let (mut weight_norms, mut bias_norms) = (Vec::new(), Vec::new());
            if per_item_norms {
                for (dp, xr) in dpre.chunks(d.outf).zip(xc.chunks(d.inf)) {
                    let g = sq_norm(dp);
                    weight_norms.push(g * sq_norm(xr));
                    bias_norms.push(g);
                }
            }
            ChunkGrad { weight, bias, weight_norms, bias_norms }
        })
        .collect();
    LayerGrad::reduce(parts, w.len(), d.outf)
}
