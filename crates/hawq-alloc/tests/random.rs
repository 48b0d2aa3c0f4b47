//! The ILP against the exhaustive oracle on seeded random instances.

use hawq_alloc::{
    AllocError, Budget, BudgetKind, ExhaustiveSolver, IlpSolver, Model, allocate_with, pareto_with,
};
use rand::RngExt;

use crate::util::{assert_meets, budget_at, random_table, rel_close, rng};

/// Draws a non-empty random subset of budget kinds with random levels (some infeasible).
fn random_budgets(r: &mut rand::rngs::StdRng, model: &Model, latency: bool) -> Vec<Budget> {
    let kinds: Vec<BudgetKind> =
        BudgetKind::ALL.into_iter().filter(|&k| k != BudgetKind::Latency || latency).collect();
    loop {
        let mut chosen = Vec::new();
        for &k in &kinds {
            if r.random_bool(0.5) {
                let alpha = if r.random_bool(0.1) {
                    r.random_range(-0.3..0.0)
                } else {
                    r.random_range(0.0..=1.0)
                };
                chosen.push(budget_at(model, k, alpha, r.random_bool(0.3)));
            }
        }
        if !chosen.is_empty() {
            return chosen;
        }
    }
}

#[test]
fn ilp_matches_exhaustive_oracle_on_random_instances() {
    let mut r = rng(0x4a57);
    let (mut solved, mut infeasible) = (0, 0);
    for case in 0..400 {
        // One case in five offers three widths, to exercise more than the {4, 8} pair.
        let (widths, max_n): (&[u32], usize) =
            if case % 5 == 4 { (&[2, 4, 8], 12) } else { (&[4, 8], 20) };
        let n = r.random_range(1..=max_n);
        let latency = r.random_bool(0.7);
        let table = random_table(&mut r, n, widths, latency);
        let model = Model::new(&table).unwrap();
        let budgets = random_budgets(&mut r, &model, latency);
        let ilp = allocate_with(&table, &budgets, &IlpSolver::default());
        let oracle = allocate_with(&table, &budgets, &ExhaustiveSolver);
        match (ilp, oracle) {
            (Ok(a), Ok(b)) => {
                assert!(
                    rel_close(a.objective, b.objective, 1e-9),
                    "case {case}: ILP {} vs oracle {} ({budgets:?})",
                    a.objective,
                    b.objective
                );
                assert!(a.optimal && b.optimal, "case {case}: optimality not proven");
                assert_meets(&table, &model, &budgets, &a);
                assert_meets(&table, &model, &budgets, &b);
                assert_eq!(a.latency_ms.is_some(), latency);
                solved += 1;
            }
            (
                Err(AllocError::Infeasible { kind: ka, min_value: ma, limit_value: la, .. }),
                Err(AllocError::Infeasible { kind: kb, min_value: mb, limit_value: lb, .. }),
            ) => {
                assert_eq!(ka, kb, "case {case}");
                assert!(rel_close(ma, mb, 1e-9), "case {case}: minimum {ma} vs {mb}");
                assert!(ma > la && mb > lb, "case {case}: a minimum under its limit");
                infeasible += 1;
            }
            (a, b) => panic!("case {case}: ILP {a:?} but oracle {b:?} for {budgets:?}"),
        }
    }
    // The generator must exercise both outcomes.
    assert!(solved > 250 && infeasible > 20, "solved {solved}, infeasible {infeasible}");
}

#[test]
fn infeasible_minimum_is_the_smallest_reachable_value() {
    // Checked independently: with a size budget only, the minimum is the all-lowest total with
    // pins at their width; under a BOPs budget as well, the oracle minimises size over the
    // allocations meeting that BOPs budget.
    let mut r = rng(7);
    for _ in 0..40 {
        let table = random_table(&mut r, 10, &[4, 8], true);
        let model = Model::new(&table).unwrap();
        let forced = crate::util::forced_widths(&table);
        let lowest: f64 = table
            .layers
            .iter()
            .map(|l| l.size_bytes(forced.get(&l.name).copied().unwrap_or(4)))
            .sum();
        let below = Budget::absolute(BudgetKind::Size, lowest * 0.97);
        let err = allocate_with(&table, &[below], &IlpSolver::default()).unwrap_err();
        match err {
            AllocError::Infeasible { kind, min_value, given_other_budgets, .. } => {
                assert_eq!(kind, BudgetKind::Size);
                assert!(rel_close(min_value, lowest, 1e-12), "{min_value} vs {lowest}");
                assert!(!given_other_budgets);
            }
            e => panic!("{e}"),
        }
        // Size minimum subject to a BOPs budget: brute force over all assignments in the test.
        let bops = budget_at(&model, BudgetKind::Bops, 0.6, true);
        let size = Budget::absolute(BudgetKind::Size, lowest * 0.97);
        let expected = brute_min_size_under_bops(&table, &model, &bops);
        match allocate_with(&table, &[size, bops], &IlpSolver::default()) {
            Err(AllocError::Infeasible {
                kind: BudgetKind::Size,
                min_value,
                given_other_budgets,
                ..
            }) => {
                assert!(given_other_budgets);
                assert!(rel_close(min_value, expected, 1e-9), "{min_value} vs {expected}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Smallest size over every tie/pin-respecting assignment that meets `bops`.
fn brute_min_size_under_bops(table: &hawq_alloc::LayerTable, model: &Model, bops: &Budget) -> f64 {
    let groups = model.free_groups();
    let limit = model.resolve(bops).unwrap();
    let mut best = f64::INFINITY;
    for mask in 0u32..(1 << groups.len()) {
        let picks: Vec<usize> = (0..groups.len()).map(|g| (mask >> g & 1) as usize).collect();
        let bits = model.bits(&picks);
        let (_, size, b, _) = crate::util::recompute(table, &bits);
        if b <= limit * (1.0 + 1e-12) {
            best = best.min(size);
        }
    }
    best
}

#[test]
fn pareto_sweep_is_monotone_and_matches_oracle() {
    let mut r = rng(99);
    let mut table = random_table(&mut r, 14, &[4, 8], true);
    for l in &mut table.layers {
        l.pin = None;
    }
    let alphas = hawq_alloc::alpha_grid(11);
    for kind in BudgetKind::ALL {
        let ilp = pareto_with(&table, kind, &alphas, &[], &IlpSolver::default()).unwrap();
        let oracle = pareto_with(&table, kind, &alphas, &[], &ExhaustiveSolver).unwrap();
        assert_eq!(ilp.len(), 11);
        for (a, b) in ilp.iter().zip(&oracle) {
            assert_eq!(a.alpha, b.alpha);
            assert_eq!(a.budget, b.budget);
            assert!(rel_close(a.allocation.objective, b.allocation.objective, 1e-9));
        }
        // A looser budget never makes the optimum worse.
        for w in ilp.windows(2) {
            assert!(w[1].allocation.objective <= w[0].allocation.objective * (1.0 + 1e-9));
        }
    }
    let md = hawq_alloc::render_markdown(
        &pareto_with(&table, BudgetKind::Size, &[0.0, 1.0], &[], &IlpSolver::default()).unwrap(),
    );
    assert_eq!(md.lines().count(), 4, "{md}");
    assert!(md.contains("| 1.000 |") && md.contains("8b×14"), "{md}");
}
