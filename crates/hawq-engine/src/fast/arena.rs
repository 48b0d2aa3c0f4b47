//! The activation arena: liveness over the op list decides which values can share a buffer.
//! Each value gets a slot; a slot is reused as soon as every reader of its previous value has
//! run. Slots are `i32` words so that any element type can be viewed in place.

use super::layout::words_for;

/// Slot assignment for a plan (independent of the batch size: slot sizes scale with it).
#[derive(Debug, Clone)]
pub struct SlotMap {
    /// Slot of each value (`None` for values never computed).
    pub slot_of: Vec<Option<usize>>,
    /// Largest bytes-per-item of the values sharing each slot.
    pub slot_bytes_per_item: Vec<usize>,
}

impl SlotMap {
    /// Assigns slots. `steps` lists each op's `(inputs, output)` in execution order; `input` is
    /// live from the start, `output` to the end; `bytes_per_item[v]` sizes value `v`.
    pub fn assign(
        n_values: usize,
        steps: &[(Vec<usize>, usize)],
        input: usize,
        output: usize,
        bytes_per_item: &[usize],
    ) -> SlotMap {
        let mut last_use = vec![None::<usize>; n_values];
        for (i, (ins, _)) in steps.iter().enumerate() {
            for &v in ins {
                last_use[v] = Some(i);
            }
        }
        let mut slot_of = vec![None; n_values];
        let mut sizes: Vec<usize> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let take = |bytes: usize, sizes: &mut Vec<usize>, free: &mut Vec<usize>| {
            // Best fit: the smallest free slot that is big enough, else grow the biggest one.
            let fit = free
                .iter()
                .enumerate()
                .filter(|&(_, &s)| sizes[s] >= bytes)
                .min_by_key(|&(_, &s)| sizes[s])
                .or_else(|| free.iter().enumerate().max_by_key(|&(_, &s)| sizes[s]))
                .map(|(i, _)| i);
            match fit {
                Some(i) => {
                    let s = free.swap_remove(i);
                    sizes[s] = sizes[s].max(bytes);
                    s
                }
                None => {
                    sizes.push(bytes);
                    sizes.len() - 1
                }
            }
        };
        slot_of[input] = Some(take(bytes_per_item[input], &mut sizes, &mut free));
        for (i, (ins, out)) in steps.iter().enumerate() {
            let s = take(bytes_per_item[*out], &mut sizes, &mut free);
            slot_of[*out] = Some(s);
            let mut dead: Vec<usize> =
                ins.iter().copied().filter(|&v| last_use[v] == Some(i) && v != output).collect();
            if last_use[*out].is_none() && *out != output {
                dead.push(*out);
            }
            dead.sort_unstable();
            dead.dedup();
            for v in dead {
                if let Some(s) = slot_of[v] {
                    free.push(s);
                }
            }
        }
        SlotMap { slot_of, slot_bytes_per_item: sizes }
    }

    /// Bytes of all slots for `batch` items (`None` if that overflows `usize`).
    pub fn bytes(&self, batch: usize) -> Option<usize> {
        self.slot_bytes_per_item.iter().try_fold(0usize, |acc, &b| {
            b.checked_mul(batch)?.checked_next_multiple_of(4)?.checked_add(acc)
        })
    }
}

/// The buffers of one run: one `i32`-word vector per slot, sized for `batch` items.
#[derive(Debug, Default)]
pub struct Arena {
    /// Batch the buffers are sized for (they also serve any smaller batch).
    pub batch: usize,
    /// Slot buffers.
    pub slots: Vec<Vec<i32>>,
}

impl Arena {
    /// Buffers sized for `batch` items of `map`'s slots (the caller checked
    /// [`SlotMap::bytes`] for overflow).
    pub fn new(map: &SlotMap, batch: usize) -> Arena {
        let slots =
            map.slot_bytes_per_item.iter().map(|&b| vec![0i32; words_for(b * batch)]).collect();
        Arena { batch, slots }
    }
}
