//! The allocation-table parser and the budget parser on arbitrary text: the first line is a
//! budget (parsed as every kind), the rest a layer table (parsed, then validated into a model,
//! then the budgets resolved against it).
#![no_main]

use hawq_alloc::{BudgetKind, LayerTable, Model, parse_budget, resolve_budgets};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (budget_text, table_text) = text.split_once('\n').unwrap_or((text, ""));
    let budgets: Vec<_> =
        BudgetKind::ALL.iter().filter_map(|&k| parse_budget(k, budget_text).ok()).collect();
    let Ok(table) = LayerTable::from_json(table_text) else { return };
    let Ok(model) = Model::new(&table) else { return };
    for budget in &budgets {
        let _ = resolve_budgets(&model, std::slice::from_ref(budget));
    }
});
